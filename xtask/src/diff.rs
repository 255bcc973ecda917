//! `cargo xtask diff`: what an edit of `openapi.yaml` means for users of this
//! SDK.
//!
//! Both documents are flattened into *nodes*: one per operation, parameter,
//! request body, response and schema (component or inline, nested members
//! included), each with the facts the generator turns into Rust (type and
//! format or `$ref` target, required members, `nullable`, enum values,
//! bounds). Comparing the two node maps gives [`Change`]s; each change says
//! which way its data travels ([`Dir`]): sent by users (request bodies,
//! parameters) or received (responses, webhook payloads). A component schema
//! reached both ways yields one change per direction. The rules in
//! [`rules`] then classify every change.

mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode};

use serde_json::Value;

use crate::spec;

pub(crate) use rules::{Class, classify};

const USAGE: &str = "usage: cargo xtask diff [--base GIT-REV] [--head FILE] [--fail-on breaking]";

/// Which way the data of a change travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Dir {
    /// Built by users and sent: request bodies and parameters.
    Sent,
    /// Decoded by the SDK: response bodies and webhook payloads.
    Received,
}

/// What changed, with the facts the rules match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    OperationAdded,
    OperationRemoved,
    /// Same `operationId`, other method or path.
    OperationMoved,
    ParameterAdded {
        required: bool,
    },
    ParameterRemoved,
    ParameterMadeRequired,
    ParameterMadeOptional,
    BodyAdded {
        required: bool,
    },
    BodyRemoved,
    BodyMadeRequired,
    BodyMadeOptional,
    /// A 2xx response; `same_type` when its body has the type the
    /// operation's other success responses have.
    SuccessStatusAdded {
        same_type: bool,
    },
    SuccessStatusRemoved,
    ErrorStatusAdded,
    ErrorStatusRemoved,
    SchemaAdded,
    SchemaRemoved,
    MemberAdded {
        required: bool,
    },
    MemberRemoved,
    /// An optional member became required; `nullable` when it is nullable
    /// (after the change), so its Rust type stays `Option<T>`.
    MemberMadeRequired {
        nullable: bool,
    },
    MemberMadeOptional {
        nullable: bool,
    },
    /// `nullable: true` added; `required` when the member is required, so
    /// its Rust type changes from `T` to `Option<T>`.
    NullableAdded {
        required: bool,
    },
    NullableRemoved {
        required: bool,
    },
    /// Type, format, `$ref` target or combinator changed.
    TypeChanged,
    EnumValueAdded,
    EnumValueRemoved,
    /// A bound that lets fewer values through (`minimum` raised, `maxLength`
    /// lowered or added, `pattern` changed…). `decoded` when the generated
    /// type checks it on decoding too (lengths and `pattern` of a string
    /// without a format); integer bounds and the rest are not checked. A
    /// bound that changes the Rust type is also a [`Kind::TypeChanged`].
    ConstraintNarrowed {
        decoded: bool,
    },
    ConstraintWidened,
}

/// One difference between the two documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) dir: Dir,
    pub(crate) kind: Kind,
    /// Where: `CallResponse.status`, `create_call request body`, …
    pub(crate) location: String,
    /// What, in words: "added value `x`", "`string` → `integer`".
    pub(crate) detail: String,
}

/// A change with the rule that classified it.
#[derive(Debug, Clone)]
pub(crate) struct Classified {
    pub(crate) change: Change,
    pub(crate) rule: &'static rules::Rule,
}

/// The whole comparison.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) changes: Vec<Classified>,
}

impl Report {
    pub(crate) fn compare(old: &Value, new: &Value) -> Report {
        let mut changes: Vec<Classified> = diff(old, new)
            .into_iter()
            .map(|change| Classified {
                rule: classify(&change),
                change,
            })
            .collect();
        changes.sort_by(|a, b| {
            (a.rule.class, &a.change.location, &a.change.detail).cmp(&(
                b.rule.class,
                &b.change.location,
                &b.change.detail,
            ))
        });
        changes.dedup_by(|a, b| {
            a.rule.class == b.rule.class
                && a.change.location == b.change.location
                && a.change.detail == b.change.detail
        });
        Report { changes }
    }

    pub(crate) fn breaking(&self) -> bool {
        self.changes.iter().any(|c| c.rule.class != Class::Safe)
    }

    fn of(&self, class: Class) -> impl Iterator<Item = &Classified> {
        self.changes.iter().filter(move |c| c.rule.class == class)
    }

    /// The version that follows `current` (0.x: breaking bumps the minor,
    /// anything else the patch; 1.x and later: breaking bumps the major,
    /// additions the minor).
    pub(crate) fn next_version(&self, current: &str) -> Option<(String, &'static str)> {
        if self.changes.is_empty() {
            return None;
        }
        let mut parts = current
            .split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .chain(std::iter::repeat(0));
        let (major, minor, patch) = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        let additions = self.of(Class::Safe).any(|c| {
            matches!(
                c.change.kind,
                Kind::OperationAdded
                    | Kind::SchemaAdded
                    | Kind::MemberAdded { .. }
                    | Kind::ParameterAdded { .. }
                    | Kind::EnumValueAdded
            )
        });
        Some(match (major, self.breaking(), additions) {
            (0, true, _) => (format!("0.{}.0", minor + 1), "minor: breaking changes"),
            (0, false, _) => (
                format!("0.{minor}.{}", patch + 1),
                "patch: no breaking change",
            ),
            (_, true, _) => (format!("{}.0.0", major + 1), "major: breaking changes"),
            (_, false, true) => (format!("{major}.{}.0", minor + 1), "minor: additions"),
            (_, false, false) => (format!("{major}.{minor}.{}", patch + 1), "patch: fixes"),
        })
    }

    /// The human report: changes grouped by class, the version bump, and a
    /// `CHANGELOG.md` fragment.
    pub(crate) fn render(&self, base: &str, head: &str, version: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "openapi.yaml: {base} → {head}");
        if self.changes.is_empty() {
            let _ = writeln!(
                out,
                "\nno change to the API: no release needed for the generated crates"
            );
            return out;
        }
        for class in [
            Class::BreakingSenders,
            Class::BreakingReceivers,
            Class::Safe,
        ] {
            let group: Vec<_> = self.of(class).collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{} ({} changes):", class.title(), group.len());
            for line in grouped(&group) {
                let _ = writeln!(
                    out,
                    "  - {}: {}  [{}]",
                    line.location, line.detail, line.rule
                );
            }
        }
        let mut used: Vec<&rules::Rule> = self.changes.iter().map(|c| c.rule).collect();
        used.sort_by_key(|r| r.id);
        used.dedup_by_key(|r| r.id);
        let _ = writeln!(out, "\nrules:");
        for rule in used {
            let _ = writeln!(out, "  [{}] {}", rule.id, rule.description);
        }
        if let Some((next, why)) = self.next_version(version) {
            let _ = writeln!(out, "\nsemver ({why}):");
            for krate in ["topcalls-types", "topcalls-api"] {
                let _ = writeln!(out, "  {krate} {version} → {next}");
            }
        }
        let _ = writeln!(out, "\nCHANGELOG.md fragment:\n");
        out.push_str(&self.changelog());
        out
    }

    /// Keep-a-Changelog sections for `## [Unreleased]`.
    pub(crate) fn changelog(&self) -> String {
        let breaking: Vec<&Classified> = self
            .changes
            .iter()
            .filter(|c| c.rule.class != Class::Safe)
            .collect();
        let (added, changed): (Vec<&Classified>, Vec<&Classified>) =
            self.of(Class::Safe).partition(|c| {
                matches!(
                    c.change.kind,
                    Kind::OperationAdded
                        | Kind::SchemaAdded
                        | Kind::MemberAdded { .. }
                        | Kind::ParameterAdded { .. }
                        | Kind::BodyAdded { .. }
                        | Kind::EnumValueAdded
                        | Kind::SuccessStatusAdded { .. }
                        | Kind::ErrorStatusAdded
                )
            });
        let mut out = String::new();
        let sections = [
            ("### Changed (breaking, from openapi.yaml)", breaking),
            ("### Added (from openapi.yaml)", added),
            ("### Changed (from openapi.yaml)", changed),
        ];
        for (title, group) in sections {
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{title}");
            for line in grouped(&group) {
                let who = match line.class {
                    Class::BreakingSenders => " (breaks code that sends it)",
                    Class::BreakingReceivers => " (breaks code that reads it)",
                    Class::Safe => "",
                };
                let _ = writeln!(out, "- {}: {}{who}.", line.location_md, line.detail);
            }
            out.push('\n');
        }
        out
    }
}

/// One line of a report: changes of one rule with the same detail at the
/// same place of several operations (`… response 503`) share a line.
struct Line {
    location: String,
    location_md: String,
    detail: String,
    rule: &'static str,
    class: Class,
}

fn grouped(changes: &[&Classified]) -> Vec<Line> {
    let mut lines: Vec<(Vec<String>, Option<String>, &Classified)> = Vec::new();
    for c in changes {
        let (head, rest) = match c.change.location.split_once(' ') {
            Some((operation, rest)) => (operation.to_string(), Some(rest.to_string())),
            None => (c.change.location.clone(), None),
        };
        let same = lines.iter_mut().find(|(_, r, other)| {
            rest.is_some()
                && *r == rest
                && other.rule.id == c.rule.id
                && other.change.detail == c.change.detail
        });
        match same {
            Some((heads, _, _)) => heads.push(head),
            None => lines.push((vec![head], rest, c)),
        }
    }
    lines
        .into_iter()
        .map(|(heads, rest, c)| {
            let rest = rest.map(|r| format!(" {r}")).unwrap_or_default();
            let md: Vec<String> = heads.iter().map(|h| format!("`{h}`")).collect();
            Line {
                location: format!("{}{rest}", heads.join(", ")),
                location_md: format!("{}{rest}", md.join(", ")),
                detail: c.change.detail.clone(),
                rule: c.rule.id,
                class: c.rule.class,
            }
        })
        .collect()
}

/// `cargo xtask diff …`
pub(crate) fn run(root: &Path, args: &[String]) -> Result<ExitCode, String> {
    let mut base = None;
    let mut head = root.join("openapi.yaml");
    let mut fail_on_breaking = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = || {
            rest.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--base" => base = Some(value()?.clone()),
            "--head" => head = value()?.into(),
            "--fail-on" => match value()?.as_str() {
                "breaking" => fail_on_breaking = true,
                other => return Err(format!("--fail-on takes `breaking`, not `{other}`")),
            },
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let base = match base {
        Some(rev) => rev,
        None => default_base(root)?,
    };
    let old = spec_at(root, &base)?;
    let new = spec::load(&head)?;
    // Both must be documents the generator reads (OpenAPI 3.0.x).
    spec::prepare_for_generator(&old).map_err(|e| format!("openapi.yaml at {base}: {e}"))?;
    spec::prepare_for_generator(&new).map_err(|e| format!("{}: {e}", head.display()))?;
    let report = Report::compare(&old, &new);
    print!(
        "{}",
        report.render(
            &base,
            &head.display().to_string(),
            &workspace_version(root)?
        )
    );
    if fail_on_breaking && report.breaking() {
        eprintln!("xtask diff: breaking changes against {base} (--fail-on breaking)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The last release tag (`v*`), else the merge base with `main`.
pub(crate) fn default_base(root: &Path) -> Result<String, String> {
    if let Ok(tag) = git(root, &["describe", "--tags", "--abbrev=0", "--match", "v*"]) {
        return Ok(tag);
    }
    // A fresh clone knows `main` as `origin/main` only.
    git(root, &["merge-base", "HEAD", "main"])
        .or_else(|_| git(root, &["merge-base", "HEAD", "origin/main"]))
        .map_err(|e| format!("no release tag (v*) and no merge base with main: {e}; pass --base"))
}

/// `openapi.yaml` as it was at `rev`.
pub(crate) fn spec_at(root: &Path, rev: &str) -> Result<Value, String> {
    let text = git(root, &["show", &format!("{rev}:openapi.yaml")])?;
    serde_yaml_ng::from_str(&text)
        .map_err(|e| format!("openapi.yaml at {rev} is not valid YAML: {e}"))
}

pub(crate) fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string())
}

/// `[workspace.package] version` of the working copy.
pub(crate) fn workspace_version(root: &Path) -> Result<String, String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("cannot read Cargo.toml: {e}"))?;
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package
            && let Some(value) = line.strip_prefix("version")
            && let Some(value) = value.trim_start().strip_prefix('=')
        {
            return Ok(value.trim().trim_matches('"').to_string());
        }
    }
    Err("Cargo.toml has no [workspace.package] version".to_string())
}

// ---------------------------------------------------------------- the model

/// The facts of one schema node that the generator turns into Rust.
#[derive(Debug, Clone, Default, PartialEq)]
struct Shape {
    /// `string`, `string/date-time`, `integer/int64`, `object`, `array`,
    /// `$ref Name`, `oneOf`, `any`.
    ty: String,
    nullable: bool,
    enum_values: Option<Vec<String>>,
    properties: BTreeSet<String>,
    required: BTreeSet<String>,
    /// `minimum`, `maxLength`, `pattern`, presence rules… as written.
    constraints: BTreeMap<String, Value>,
}

/// Everything compared, by location.
#[derive(Debug, Default)]
struct Model {
    /// `operationId` → `METHOD /path`.
    operations: BTreeMap<String, String>,
    /// `op parameter in:name` → required.
    parameters: BTreeMap<String, bool>,
    /// `op` → body required.
    bodies: BTreeMap<String, bool>,
    /// `op` → status → body type (`$ref Name`, `none`, …).
    responses: BTreeMap<String, BTreeMap<String, String>>,
    /// Schema nodes by location, with the directions they are reached in.
    nodes: BTreeMap<String, (Shape, BTreeSet<Dir>)>,
    /// Component schemas → directions they are reached in.
    components: BTreeMap<String, BTreeSet<Dir>>,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl Model {
    fn of(spec: &Value) -> Model {
        let mut model = Model::default();
        let received = spec::received_schemas(spec);
        let sent = spec::sent_schemas(spec);
        if let Some(schemas) = spec
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in schemas {
                let mut dirs = BTreeSet::new();
                if sent.contains(name) {
                    dirs.insert(Dir::Sent);
                }
                if received.contains(name) {
                    dirs.insert(Dir::Received);
                }
                model.components.insert(name.clone(), dirs.clone());
                model.walk(spec, schema, name.clone(), &dirs);
            }
        }
        for (path, method, operation) in operations(spec) {
            let Some(id) = operation.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            model
                .operations
                .insert(id.to_string(), format!("{} {path}", method.to_uppercase()));
            let sent: BTreeSet<Dir> = [Dir::Sent].into();
            let received: BTreeSet<Dir> = [Dir::Received].into();
            let path_item = spec.pointer(&format!("/paths/{}", escape(path)));
            let parameters = path_item
                .and_then(|p| p.get("parameters"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .chain(
                    operation
                        .get("parameters")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten(),
                );
            for parameter in parameters {
                let parameter = resolve(spec, parameter);
                let name = parameter.get("name").and_then(Value::as_str).unwrap_or("?");
                let place = parameter.get("in").and_then(Value::as_str).unwrap_or("?");
                let location = format!("{id} parameter {place}:{name}");
                let required = parameter.get("required") == Some(&Value::Bool(true));
                model.parameters.insert(location.clone(), required);
                if let Some(schema) = parameter.get("schema") {
                    model.walk(spec, schema, location, &sent);
                }
            }
            if let Some(body) = operation.get("requestBody") {
                let body = resolve(spec, body);
                model.bodies.insert(
                    id.to_string(),
                    body.get("required") == Some(&Value::Bool(true)),
                );
                if let Some(schema) = json_schema(body) {
                    model.walk(spec, schema, format!("{id} request body"), &sent);
                }
            }
            let mut statuses = BTreeMap::new();
            for (status, response) in operation
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let response = resolve(spec, response);
                let ty = match json_schema(response) {
                    Some(schema) => {
                        let location = format!("{id} response {status}");
                        let ty = shape(spec, schema).ty;
                        model.walk(spec, schema, location, &received);
                        ty
                    }
                    None => "none".to_string(),
                };
                statuses.insert(status.clone(), ty);
            }
            model.responses.insert(id.to_string(), statuses);
            // A callback's request body is what a webhook receiver decodes.
            for (name, callback) in operation
                .get("callbacks")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                for (_, item) in callback.as_object().into_iter().flatten() {
                    for method in METHODS {
                        if let Some(schema) = item
                            .pointer(&format!("/{method}/requestBody"))
                            .map(|b| resolve(spec, b))
                            .and_then(json_schema)
                        {
                            let location = format!("{id} callback {name} payload");
                            model.walk(spec, schema, location, &received);
                        }
                    }
                }
            }
        }
        model
    }

    /// Records `schema` at `location` and its inline members below it
    /// (`location.member`, `location[]` for items). A `$ref` is recorded as
    /// its target's name: the component is compared on its own.
    fn walk(&mut self, spec: &Value, schema: &Value, location: String, dirs: &BTreeSet<Dir>) {
        let node = shape(spec, schema);
        if schema.get("$ref").is_none() {
            for (name, member) in schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                self.walk(spec, member, format!("{location}.{name}"), dirs);
            }
            if let Some(items) = schema.get("items") {
                self.walk(spec, items, format!("{location}[]"), dirs);
            }
            if let Some(Value::Object(_)) = schema.get("additionalProperties") {
                let inner = &schema["additionalProperties"];
                self.walk(spec, inner, format!("{location}{{}}"), dirs);
            }
            for combinator in ["allOf", "oneOf", "anyOf"] {
                if node.constraints.contains_key(combinator) {
                    continue; // a presence rule, compared as a whole
                }
                for (i, branch) in schema
                    .get(combinator)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    self.walk(spec, branch, format!("{location}<{combinator} {i}>"), dirs);
                }
            }
        }
        self.nodes.insert(location, (node, dirs.clone()));
    }
}

/// The changes a parameter or a request body can go through: added (with
/// whether it is required), made required or optional, removed.
struct Presence {
    added: fn(bool) -> Kind,
    made_required: Kind,
    made_optional: Kind,
    removed: Kind,
    added_detail: fn(bool) -> String,
    removed_detail: &'static str,
    /// Where a change is reported, from the parameter's location or the
    /// operation's id.
    location: fn(&str) -> String,
}

/// `(path, method, operation)` for every operation of the document.
fn operations(spec: &Value) -> Vec<(&str, &'static str, &Value)> {
    let mut out = Vec::new();
    for (path, item) in spec
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                out.push((path.as_str(), method, operation));
            }
        }
    }
    out
}

/// JSON pointer escaping of one path segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Follows `$ref`s to parameters, bodies and responses (a few hops at most).
fn resolve<'a>(spec: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..8 {
        match value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| spec.pointer(pointer))
        {
            Some(target) => value = target,
            None => break,
        }
    }
    value
}

/// The schema of a body's JSON media type (`application/json`, or any
/// `+json` type such as `application/problem+json`).
fn json_schema(body: &Value) -> Option<&Value> {
    let content = body.get("content")?.as_object()?;
    content
        .iter()
        .find(|(media, _)| media.as_str() == "application/json")
        .or_else(|| content.iter().find(|(media, _)| media.ends_with("+json")))
        .and_then(|(_, media)| media.get("schema"))
}

const CONSTRAINTS: [&str; 11] = [
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "multipleOf",
    "uniqueItems",
];

/// The `ty` of a string with a length or pattern and no format the
/// generator maps: a newtype that checks them.
const CONSTRAINED_STRING: &str = "string (checked newtype)";

/// What the generator (typify 0.8) makes of a schema's type, in words:
/// string formats it maps to their own Rust types, a checked newtype for a
/// string with bounds, the integer type its format and bounds pick.
fn rust_type(schema: &Value) -> String {
    let format = schema.get("format").and_then(Value::as_str);
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => match format {
            Some(f @ ("uuid" | "date" | "date-time" | "ip" | "ipv4" | "ipv6")) => {
                format!("string/{f}")
            }
            _ if schema.get("enum").is_some() => "string enum".to_string(),
            _ if ["pattern", "minLength", "maxLength"]
                .iter()
                .any(|k| schema.get(*k).is_some()) =>
            {
                CONSTRAINED_STRING.to_string()
            }
            _ => "string".to_string(),
        },
        Some("integer") => format!("integer ({})", integer_type(schema, format)),
        Some("number") => match format {
            Some("float") => "number (f32)".to_string(),
            _ => "number (f64)".to_string(),
        },
        Some(other) => other.to_string(),
        None if schema.get("properties").is_some() => "object".to_string(),
        None => ["allOf", "oneOf", "anyOf"]
            .into_iter()
            .find(|c| schema.get(*c).is_some())
            .unwrap_or("any")
            .to_string(),
    }
}

/// typify 0.8's choice of integer type (`convert_integer`): the format's
/// type when the bounds fit it (`NonZero…` for `minimum: 1`), else the type
/// whose range the bounds name exactly, else `i64`.
fn integer_type(schema: &Value, format: Option<&str>) -> &'static str {
    const FORMATS: [(&str, &str, &str, f64, f64); 10] = [
        ("int8", "i8", "NonZeroU8", i8::MIN as f64, i8::MAX as f64),
        ("uint8", "u8", "NonZeroU8", u8::MIN as f64, u8::MAX as f64),
        (
            "int16",
            "i16",
            "NonZeroU16",
            i16::MIN as f64,
            i16::MAX as f64,
        ),
        (
            "uint16",
            "u16",
            "NonZeroU16",
            u16::MIN as f64,
            u16::MAX as f64,
        ),
        ("int", "i32", "NonZeroU32", i32::MIN as f64, i32::MAX as f64),
        (
            "int32",
            "i32",
            "NonZeroU32",
            i32::MIN as f64,
            i32::MAX as f64,
        ),
        (
            "uint",
            "u32",
            "NonZeroU32",
            u32::MIN as f64,
            u32::MAX as f64,
        ),
        (
            "uint32",
            "u32",
            "NonZeroU32",
            u32::MIN as f64,
            u32::MAX as f64,
        ),
        (
            "int64",
            "i64",
            "NonZeroU64",
            i64::MIN as f64,
            i64::MAX as f64,
        ),
        (
            "uint64",
            "u64",
            "NonZeroU64",
            u64::MIN as f64,
            u64::MAX as f64,
        ),
    ];
    let mut min = schema.get("minimum").and_then(Value::as_f64);
    let mut max = schema.get("maximum").and_then(Value::as_f64);
    let multiple = schema.get("multipleOf");
    if let Some((_, ty, nonzero, lo, hi)) = FORMATS.iter().find(|f| Some(f.0) == format) {
        let fits = min.is_none_or(|m| m >= *lo) && max.is_none_or(|m| m <= *hi);
        if multiple.is_none() && fits {
            return if min == Some(1.0) { nonzero } else { ty };
        }
        min = min.or(Some(*lo));
        max = max.or(Some(*hi));
    }
    let exact = |a: f64, b: f64| (a - b).abs() <= f64::EPSILON;
    let found = match (min, max) {
        (None, Some(max)) => FORMATS.iter().rev().find(|f| exact(f.4, max)).map(|f| f.1),
        (Some(min), None) => FORMATS.iter().rev().find_map(|f| {
            if min == 1.0 {
                Some(f.2)
            } else {
                exact(f.3, min).then_some(f.1)
            }
        }),
        (Some(min), Some(max)) => FORMATS.iter().rev().find_map(|f| {
            if min == 1.0 {
                Some(f.2)
            } else {
                (exact(f.4, max) && exact(f.3, min)).then_some(f.1)
            }
        }),
        (None, None) => None,
    };
    found.unwrap_or("i64")
}

fn shape(spec: &Value, schema: &Value) -> Shape {
    let mut node = Shape::default();
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        node.ty = format!("$ref {name}");
        // A `$ref` to a nullable schema is nullable where it is used.
        node.nullable = resolve(spec, schema).get("nullable") == Some(&Value::Bool(true));
        return node;
    }
    node.ty = rust_type(schema);
    node.nullable = schema.get("nullable") == Some(&Value::Bool(true));
    node.enum_values = schema.get("enum").and_then(Value::as_array).map(|values| {
        values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect()
    });
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        node.properties = properties.keys().cloned().collect();
        // Presence rules (which members are required together) are one
        // constraint each; the generator never sees them (spec.rs).
        for combinator in ["oneOf", "anyOf"] {
            if let Some(rule) = schema.get(combinator) {
                let mut probe = serde_json::json!({"properties": properties, combinator: rule});
                spec::drop_presence_rules(&mut probe);
                if probe.get(combinator).is_none() {
                    node.constraints
                        .insert(combinator.to_string(), rule.clone());
                }
            }
        }
    }
    node.required = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    for key in CONSTRAINTS {
        if let Some(value) = schema.get(key) {
            node.constraints.insert(key.to_string(), value.clone());
        }
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        node.constraints
            .insert("additionalProperties".to_string(), Value::Bool(false));
    }
    node
}

// ---------------------------------------------------------------- the diff

/// Every change from `old` to `new`.
pub(crate) fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let old = Model::of(&spec::generator_view(old));
    let new = Model::of(&spec::generator_view(new));
    let mut out = Vec::new();
    let both = |location: &str, kind: Kind, detail: String, dir: Dir, out: &mut Vec<Change>| {
        out.push(Change {
            dir,
            kind,
            location: location.to_string(),
            detail,
        });
    };

    // Operations.
    for (id, route) in &new.operations {
        match old.operations.get(id) {
            None => both(
                id,
                Kind::OperationAdded,
                format!("new operation ({route})"),
                Dir::Sent,
                &mut out,
            ),
            Some(before) if before != route => both(
                id,
                Kind::OperationMoved,
                format!("moved from `{before}` to `{route}`"),
                Dir::Sent,
                &mut out,
            ),
            Some(_) => {}
        }
    }
    for (id, route) in &old.operations {
        if !new.operations.contains_key(id) {
            both(
                id,
                Kind::OperationRemoved,
                format!("operation removed ({route})"),
                Dir::Sent,
                &mut out,
            );
        }
    }
    let kept = |location: &str| {
        let id = location.split(' ').next().unwrap_or(location);
        old.operations.contains_key(id) && new.operations.contains_key(id)
    };

    // Parameters and bodies of operations in both.
    let parameters = Presence {
        added: |required| Kind::ParameterAdded { required },
        made_required: Kind::ParameterMadeRequired,
        made_optional: Kind::ParameterMadeOptional,
        removed: Kind::ParameterRemoved,
        added_detail: |required| {
            format!(
                "new {} parameter",
                if required { "required" } else { "optional" }
            )
        },
        removed_detail: "parameter removed",
        location: str::to_string,
    };
    let bodies = Presence {
        added: |required| Kind::BodyAdded { required },
        made_required: Kind::BodyMadeRequired,
        made_optional: Kind::BodyMadeOptional,
        removed: Kind::BodyRemoved,
        added_detail: |_| "new request body".into(),
        removed_detail: "request body removed",
        location: |id| format!("{id} request body"),
    };
    for (presence, old, new) in [
        (&parameters, &old.parameters, &new.parameters),
        (&bodies, &old.bodies, &new.bodies),
    ] {
        for (key, required) in new {
            if !kept(key) {
                continue;
            }
            let (kind, detail) = match old.get(key) {
                None => (
                    (presence.added)(*required),
                    (presence.added_detail)(*required),
                ),
                Some(false) if *required => {
                    (presence.made_required.clone(), "made required".into())
                }
                Some(true) if !*required => {
                    (presence.made_optional.clone(), "made optional".into())
                }
                Some(_) => continue,
            };
            both(&(presence.location)(key), kind, detail, Dir::Sent, &mut out);
        }
        for key in old.keys() {
            if kept(key) && !new.contains_key(key) {
                both(
                    &(presence.location)(key),
                    presence.removed.clone(),
                    presence.removed_detail.into(),
                    Dir::Sent,
                    &mut out,
                );
            }
        }
    }

    // Responses.
    let empty = BTreeMap::new();
    for (id, statuses) in &new.responses {
        if !kept(id) {
            continue;
        }
        let before = old.responses.get(id).unwrap_or(&empty);
        let success_types: BTreeSet<&String> = before
            .iter()
            .filter(|(status, _)| status.starts_with('2'))
            .map(|(_, ty)| ty)
            .collect();
        for (status, ty) in statuses {
            if before.contains_key(status) {
                continue;
            }
            let location = format!("{id} response {status}");
            let kind = if status.starts_with('2') {
                Kind::SuccessStatusAdded {
                    same_type: success_types.iter().all(|t| *t == ty),
                }
            } else {
                Kind::ErrorStatusAdded
            };
            both(
                &location,
                kind,
                "new response status".into(),
                Dir::Received,
                &mut out,
            );
        }
        for status in before.keys() {
            if !statuses.contains_key(status) {
                let kind = if status.starts_with('2') {
                    Kind::SuccessStatusRemoved
                } else {
                    Kind::ErrorStatusRemoved
                };
                both(
                    &format!("{id} response {status}"),
                    kind,
                    "response status removed".into(),
                    Dir::Received,
                    &mut out,
                );
            }
        }
    }

    // Component schemas.
    for name in new.components.keys() {
        if !old.components.contains_key(name) {
            both(
                name,
                Kind::SchemaAdded,
                "new type".into(),
                Dir::Sent,
                &mut out,
            );
        }
    }
    for (name, dirs) in &old.components {
        if !new.components.contains_key(name) {
            for dir in directions(dirs) {
                both(
                    name,
                    Kind::SchemaRemoved,
                    "type removed".into(),
                    dir,
                    &mut out,
                );
            }
        }
    }

    // Schema nodes present in both documents. Nodes below an added or
    // removed member are reported by that member alone.
    for (location, (after, new_dirs)) in &new.nodes {
        let Some((before, old_dirs)) = old.nodes.get(location) else {
            continue;
        };
        if location.contains(' ') && !kept(location) {
            continue;
        }
        let dirs: BTreeSet<Dir> = old_dirs.union(new_dirs).copied().collect();
        for dir in directions(&dirs) {
            compare_nodes(location, before, after, dir, &mut out);
            if before.ty != after.ty {
                continue;
            }
            for name in before.properties.intersection(&after.properties) {
                let member = format!("{location}.{name}");
                let nullable = |model: &Model| {
                    model
                        .nodes
                        .get(&member)
                        .is_some_and(|(shape, _)| shape.nullable)
                };
                let (old_null, new_null) = (nullable(&old), nullable(&new));
                let (old_req, new_req) = (
                    before.required.contains(name),
                    after.required.contains(name),
                );
                if !old_req && new_req {
                    let kind = Kind::MemberMadeRequired { nullable: new_null };
                    both(&member, kind, "made required".into(), dir, &mut out);
                } else if old_req && !new_req {
                    let kind = Kind::MemberMadeOptional { nullable: old_null };
                    both(&member, kind, "made optional".into(), dir, &mut out);
                }
                if !old_null && new_null {
                    let kind = Kind::NullableAdded { required: new_req };
                    both(&member, kind, "made nullable".into(), dir, &mut out);
                } else if old_null && !new_null {
                    let kind = Kind::NullableRemoved { required: new_req };
                    both(&member, kind, "no longer nullable".into(), dir, &mut out);
                }
            }
        }
    }
    out
}

/// The directions to report a schema change in; a schema reached neither
/// way (unused) is public all the same and is reported for both.
fn directions(dirs: &BTreeSet<Dir>) -> Vec<Dir> {
    if dirs.is_empty() {
        vec![Dir::Sent, Dir::Received]
    } else {
        dirs.iter().copied().collect()
    }
}

fn compare_nodes(location: &str, before: &Shape, after: &Shape, dir: Dir, out: &mut Vec<Change>) {
    let mut push = |location: String, kind: Kind, detail: String| {
        out.push(Change {
            dir,
            kind,
            location,
            detail,
        });
    };
    if before.ty != after.ty {
        push(
            location.to_string(),
            Kind::TypeChanged,
            format!("type `{}` → `{}`", before.ty, after.ty),
        );
        return;
    }
    // Members: nullability of a member lives on its own node, so a member's
    // change is reported with the facts of both nodes.
    for name in after.properties.difference(&before.properties) {
        let required = after.required.contains(name);
        push(
            format!("{location}.{name}"),
            Kind::MemberAdded { required },
            format!(
                "new {} member",
                if required { "required" } else { "optional" }
            ),
        );
    }
    for name in before.properties.difference(&after.properties) {
        push(
            format!("{location}.{name}"),
            Kind::MemberRemoved,
            "member removed".into(),
        );
    }
    let decoded = |key: &str| {
        after.ty == CONSTRAINED_STRING && ["pattern", "minLength", "maxLength"].contains(&key)
    };
    for (key, value) in &after.constraints {
        match before.constraints.get(key) {
            None => push(
                location.to_string(),
                Kind::ConstraintNarrowed {
                    decoded: decoded(key),
                },
                format!("`{key}: {}` added", short(value)),
            ),
            Some(old) if old != value => {
                let kind = if widened(key, old, value) {
                    Kind::ConstraintWidened
                } else {
                    Kind::ConstraintNarrowed {
                        decoded: decoded(key),
                    }
                };
                push(
                    location.to_string(),
                    kind,
                    format!("`{key}`: `{}` → `{}`", short(old), short(value)),
                );
            }
            Some(_) => {}
        }
    }
    for (key, value) in &before.constraints {
        if !after.constraints.contains_key(key) {
            push(
                location.to_string(),
                Kind::ConstraintWidened,
                format!("`{key}: {}` removed", short(value)),
            );
        }
    }
    if let (Some(old), Some(new)) = (&before.enum_values, &after.enum_values) {
        for value in new.iter().filter(|v| !old.contains(v)) {
            push(
                location.to_string(),
                Kind::EnumValueAdded,
                format!("new value `{value}`"),
            );
        }
        for value in old.iter().filter(|v| !new.contains(v)) {
            push(
                location.to_string(),
                Kind::EnumValueRemoved,
                format!("value `{value}` removed"),
            );
        }
    } else if before.enum_values != after.enum_values {
        push(
            location.to_string(),
            Kind::TypeChanged,
            if after.enum_values.is_some() {
                "now an enum".to_string()
            } else {
                "no longer an enum".to_string()
            },
        );
    }
}

/// Whether changing `key` from `old` to `new` lets more values through.
fn widened(key: &str, old: &Value, new: &Value) -> bool {
    let (Some(old), Some(new)) = (old.as_f64(), new.as_f64()) else {
        // `pattern`, presence rules, `uniqueItems`: any change may narrow.
        return key == "uniqueItems" && new == &Value::Bool(false);
    };
    match key {
        "minimum" | "minLength" | "minItems" => new < old,
        "maximum" | "maxLength" | "maxItems" => new > old,
        "exclusiveMinimum" | "exclusiveMaximum" => false,
        "multipleOf" => old != 0.0 && (old / new).fract() == 0.0,
        _ => false,
    }
}

fn short(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(statuses: &[&str], note_required: bool) -> Value {
        let responses: serde_json::Map<String, Value> = std::iter::once((
            "200".to_string(),
            json!({"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}),
        ))
        .chain(
            statuses
                .iter()
                .map(|s| (s.to_string(), json!({"description": "error"}))),
        )
        .collect();
        let required = if note_required {
            json!(["id", "note"])
        } else {
            json!(["id"])
        };
        json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/a": {"get": {"operationId": "get_a", "responses": responses.clone()}},
                "/b": {"get": {"operationId": "get_b", "responses": responses}},
            },
            "components": {"schemas": {"Thing": {
                "type": "object",
                "required": required,
                "properties": {"id": {"type": "string"}, "note": {"type": "string"}},
            }}},
        })
    }

    #[test]
    fn versions_follow_semver_for_0x_and_later() {
        let safe = Report::compare(&doc(&[], false), &doc(&["503"], false));
        let breaking = Report::compare(&doc(&[], true), &doc(&[], false));
        let none = Report::compare(&doc(&[], false), &doc(&[], false));
        assert!(!safe.breaking() && breaking.breaking());
        assert_eq!(safe.next_version("0.1.0").unwrap().0, "0.1.1");
        assert_eq!(breaking.next_version("0.1.3").unwrap().0, "0.2.0");
        assert_eq!(breaking.next_version("1.4.2").unwrap().0, "2.0.0");
        assert_eq!(safe.next_version("1.4.2").unwrap().0, "1.4.3");
        assert_eq!(none.next_version("0.1.0"), None);
    }

    #[test]
    fn the_changelog_groups_one_change_made_to_many_operations() {
        let report = Report::compare(&doc(&[], true), &doc(&["503"], false));
        assert_eq!(
            report.changelog(),
            "### Changed (breaking, from openapi.yaml)\n\
             - `Thing.note`: made optional (breaks code that reads it).\n\
             \n\
             ### Added (from openapi.yaml)\n\
             - `get_a`, `get_b` response 503: new response status.\n\n"
        );
        let text = report.render("v0.1.0", "openapi.yaml", "0.1.0");
        assert!(text.contains("topcalls-api 0.1.0 → 0.2.0"), "{text}");
        assert!(text.contains("[received-member-made-optional]"), "{text}");
    }
}
