//! `cargo xtask api-check`: the public API the generator produces, compared
//! with the base revision, against what `cargo xtask diff` declared.
//!
//! The API is read from rustdoc's JSON output (`--output-format json`, made
//! available on the stable toolchain with `RUSTC_BOOTSTRAP=1`): every public
//! item of `topcalls-types` and `topcalls-api` defined in a `generated.rs`
//! file, as one line per item (structs, fields, enums, variants, inherent
//! methods, trait impls, functions, constants), keyed by path, with its
//! signature rendered from rustdoc's types. Hand-written items are left out:
//! what they break is recorded by hand in `CHANGELOG.md`.
//!
//! A removed item, or an item whose signature changed, breaks code that used
//! it; an added item breaks nothing this SDK promises (request types are
//! built through their builders, response types decoded, not built). The
//! check fails when the listing breaks and `cargo xtask diff` declared no
//! breaking change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::Value;

use crate::diff::{self, Report};

const USAGE: &str = "usage: cargo xtask api-check [--base GIT-REV]";

/// The crates whose generated API is compared, as (package, crate name).
const CRATES: [(&str, &str); 2] = [
    ("topcalls-types", "topcalls_types"),
    ("topcalls-api", "topcalls_api"),
];

/// Files the generator owns (generate.rs writes them).
pub(crate) const GENERATED: [&str; 2] = [
    "topcalls-types/src/generated.rs",
    "topcalls-api/src/generated.rs",
];

/// Item path → rendered signature.
pub(crate) type Listing = BTreeMap<String, String>;

/// How one listing differs from another.
#[derive(Debug, Default)]
pub(crate) struct ApiDiff {
    pub(crate) removed: Vec<String>,
    pub(crate) changed: Vec<(String, String, String)>,
    pub(crate) added: Vec<String>,
}

impl ApiDiff {
    pub(crate) fn compare(old: &Listing, new: &Listing) -> ApiDiff {
        let mut out = ApiDiff::default();
        for (path, before) in old {
            match new.get(path) {
                None => out.removed.push(path.clone()),
                Some(after) if after != before => {
                    out.changed
                        .push((path.clone(), before.clone(), after.clone()));
                }
                Some(_) => {}
            }
        }
        out.added = new
            .keys()
            .filter(|path| !old.contains_key(*path))
            .cloned()
            .collect();
        out
    }

    pub(crate) fn breaks(&self) -> bool {
        !self.removed.is_empty() || !self.changed.is_empty()
    }

    pub(crate) fn render(&self, limit: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "public API of the generated code: {} removed, {} changed, {} added",
            self.removed.len(),
            self.changed.len(),
            self.added.len()
        );
        for path in self.removed.iter().take(limit) {
            let _ = writeln!(out, "  - removed {path}");
        }
        for (path, before, after) in self.changed.iter().take(limit) {
            let _ = writeln!(
                out,
                "  ~ changed {path}\n      was {before}\n      now {after}"
            );
        }
        for path in self.added.iter().take(limit) {
            let _ = writeln!(out, "  + added {path}");
        }
        let shown = [&self.removed.len(), &self.changed.len(), &self.added.len()]
            .iter()
            .map(|n| (**n).min(limit))
            .sum::<usize>();
        let total = self.removed.len() + self.changed.len() + self.added.len();
        if total > shown {
            let _ = writeln!(out, "  … and {} more", total - shown);
        }
        out
    }
}

/// The verdict: `Err` when the code breaks more than the spec diff declared.
pub(crate) fn verdict(report: &Report, api: &ApiDiff) -> Result<(), String> {
    if api.breaks() && !report.breaking() {
        return Err(format!(
            "`cargo xtask diff` declares no breaking change, yet the generated public API \
             removed {} and changed {} items: add a rule to xtask/src/diff/rules.rs that \
             classifies this edit, or change the edit",
            api.removed.len(),
            api.changed.len()
        ));
    }
    Ok(())
}

/// `cargo xtask api-check …`
pub(crate) fn run(root: &Path, args: &[String]) -> Result<ExitCode, String> {
    let mut base = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--base" => {
                base = Some(
                    rest.next()
                        .ok_or_else(|| format!("--base needs a value\n{USAGE}"))?
                        .clone(),
                );
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let base = match base {
        Some(rev) => rev,
        None => diff::default_base(root)?,
    };
    let report = Report::compare(
        &diff::spec_at(root, &base)?,
        &crate::spec::load(&root.join("openapi.yaml"))?,
    );
    let unchanged = GENERATED.iter().all(|path| {
        let before = diff::git(root, &["show", &format!("{base}:{path}")]).ok();
        let now = std::fs::read_to_string(root.join(path)).ok();
        before.is_some()
            && before.as_deref().map(str::trim_end) == now.as_deref().map(str::trim_end)
    });
    if unchanged {
        println!("generated code is the same as at {base}: its public API is unchanged");
        return Ok(ExitCode::SUCCESS);
    }
    let scratch = Scratch::new("api-check")?;
    let base_tree = scratch.path.join("base");
    export(root, &base, &base_tree)?;
    let target = target_dir(root);
    let old = listing(&base_tree, &target)?;
    let new = listing(root, &target)?;
    let api = ApiDiff::compare(&old, &new);
    print!("{}", api.render(40));
    println!(
        "openapi.yaml {base} → working copy: {}",
        if report.breaking() {
            "breaking changes declared"
        } else {
            "no breaking change declared"
        }
    );
    match verdict(&report, &api) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(message) => {
            eprintln!("xtask api-check: {message}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The target directory builds share: `CARGO_TARGET_DIR`, else the
/// workspace's `target/`.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// A temporary directory, removed on drop.
pub(crate) struct Scratch {
    pub(crate) path: PathBuf,
}

impl Scratch {
    pub(crate) fn new(name: &str) -> Result<Scratch, String> {
        let path =
            std::env::temp_dir().join(format!("topcalls-xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The tree of `rev` in `dest` (`git archive`, no `.git`).
fn export(root: &Path, rev: &str, dest: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let archive = Command::new("git")
        .args(["archive", "--format=tar", rev])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run git archive: {e}"))?;
    if !archive.status.success() {
        return Err(format!(
            "git archive {rev}: {}",
            String::from_utf8_lossy(&archive.stderr).trim()
        ));
    }
    let mut tar = Command::new("tar")
        .args(["-x", "-C"])
        .arg(dest)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    {
        use std::io::Write as _;
        let mut stdin = tar.stdin.take().ok_or("tar has no stdin")?;
        stdin
            .write_all(&archive.stdout)
            .map_err(|e| format!("cannot write to tar: {e}"))?;
    }
    let status = tar.wait().map_err(|e| format!("tar: {e}"))?;
    if !status.success() {
        return Err(format!("tar failed ({status}) extracting {rev}"));
    }
    Ok(())
}

/// The generated public API of the workspace at `workspace`, built into
/// `target`.
pub(crate) fn listing(workspace: &Path, target: &Path) -> Result<Listing, String> {
    let mut out = Listing::new();
    for (package, krate) in CRATES {
        let started = std::time::Instant::now();
        let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["rustdoc", "--quiet", "--locked", "--lib", "-p", package])
            .arg("--manifest-path")
            .arg(workspace.join("Cargo.toml"))
            .args(["--", "-Z", "unstable-options", "--output-format", "json"])
            .env("CARGO_TARGET_DIR", target)
            // rustdoc's JSON output is unstable; this opts in on stable.
            .env("RUSTC_BOOTSTRAP", "1")
            .env_remove("RUSTDOCFLAGS")
            .status()
            .map_err(|e| format!("cannot run cargo rustdoc: {e}"))?;
        if !status.success() {
            return Err(format!(
                "cargo rustdoc -p {package} failed in {}",
                workspace.display()
            ));
        }
        eprintln!(
            "  rustdoc JSON of {package} in {} ({:.0} s)",
            workspace.display(),
            started.elapsed().as_secs_f64()
        );
        let path = target.join("doc").join(format!("{krate}.json"));
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        out.extend(list_crate(&doc)?);
    }
    Ok(out)
}

/// The listing of one crate's rustdoc JSON: public items defined in a file
/// named `generated.rs`.
pub(crate) fn list_crate(doc: &Value) -> Result<Listing, String> {
    let root = doc
        .get("root")
        .ok_or("rustdoc JSON without a root")?
        .to_string();
    let name = doc
        .pointer(&format!("/index/{root}/name"))
        .and_then(Value::as_str)
        .ok_or("rustdoc JSON without a crate name")?;
    let mut lister = Lister {
        doc,
        out: Listing::new(),
        seen: BTreeSet::new(),
    };
    lister.module(&root, name);
    Ok(lister.out)
}

struct Lister<'a> {
    doc: &'a Value,
    out: Listing,
    seen: BTreeSet<String>,
}

impl Lister<'_> {
    fn item(&self, id: &str) -> Option<&Value> {
        self.doc.pointer(&format!("/index/{id}"))
    }

    fn generated(item: &Value) -> bool {
        item.pointer("/span/filename")
            .and_then(Value::as_str)
            .is_some_and(|f| f.ends_with("generated.rs"))
    }

    fn public(item: &Value) -> bool {
        item.get("visibility").and_then(Value::as_str) == Some("public")
    }

    fn module(&mut self, id: &str, path: &str) {
        if !self.seen.insert(format!("{id}@{path}")) {
            return;
        }
        let Some(items) = self
            .item(id)
            .and_then(|m| m.pointer("/inner/module/items"))
            .and_then(Value::as_array)
        else {
            return;
        };
        for child in items.clone() {
            let child = child.to_string();
            let Some(item) = self.item(&child).cloned() else {
                continue;
            };
            if !Self::public(&item) {
                continue;
            }
            if let Some(import) = item.pointer("/inner/use") {
                let Some(target) = import.get("id").filter(|t| !t.is_null()) else {
                    continue;
                };
                let target = target.to_string();
                if import.get("is_glob") == Some(&Value::Bool(true)) {
                    self.module(&target, path);
                } else if let Some(name) = import.get("name").and_then(Value::as_str) {
                    self.named(&target, &format!("{path}::{name}"));
                }
                continue;
            }
            let Some(name) = item.get("name").and_then(Value::as_str) else {
                continue;
            };
            self.named(&child, &format!("{path}::{name}"));
        }
    }

    /// One item reachable at `path`.
    fn named(&mut self, id: &str, path: &str) {
        let Some(item) = self.item(id).cloned() else {
            return;
        };
        let Some((kind, inner)) = item
            .get("inner")
            .and_then(Value::as_object)
            .and_then(|m| m.iter().next())
        else {
            return;
        };
        if kind == "module" {
            self.module(id, path);
            return;
        }
        if !Self::generated(&item) {
            return;
        }
        let attrs = attributes(&item);
        match kind.as_str() {
            "struct" => {
                let generics = self.generics(&inner["generics"]);
                let shape = match inner.pointer("/kind") {
                    Some(Value::Object(k)) if k.contains_key("plain") => {
                        let stripped = inner.pointer("/kind/plain/has_stripped_fields")
                            == Some(&Value::Bool(true));
                        for field in ids(&inner["kind"]["plain"]["fields"]) {
                            self.field(&field, path);
                        }
                        if stripped { "{ .. }" } else { "{}" }
                    }
                    Some(Value::Object(k)) if k.contains_key("tuple") => {
                        let fields = inner["kind"]["tuple"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default();
                        for (i, field) in fields.iter().enumerate() {
                            if let Some(field) =
                                field.as_u64().and_then(|f| self.item(&f.to_string()))
                            {
                                let ty = self.ty(field
                                    .pointer("/inner/struct_field")
                                    .unwrap_or(&Value::Null));
                                self.out
                                    .insert(format!("{path}.{i}"), format!("field {ty}"));
                            }
                        }
                        "(..)"
                    }
                    _ => "",
                };
                self.out
                    .insert(path.to_string(), format!("{attrs}struct{generics} {shape}"));
                self.impls(&inner["impls"], path);
            }
            "enum" => {
                let generics = self.generics(&inner["generics"]);
                for variant in ids(&inner["variants"]) {
                    self.variant(&variant, path);
                }
                self.out
                    .insert(path.to_string(), format!("{attrs}enum{generics}"));
                self.impls(&inner["impls"], path);
            }
            "function" => {
                let sig = self.function(inner);
                self.out.insert(path.to_string(), sig);
            }
            "constant" => {
                let ty = self.ty(&inner["type"]);
                let value = inner.pointer("/const/expr").map(short).unwrap_or_default();
                self.out
                    .insert(path.to_string(), format!("const: {ty} = {value}"));
            }
            "type_alias" => {
                let ty = self.ty(&inner["type"]);
                self.out.insert(path.to_string(), format!("type = {ty}"));
            }
            other => {
                self.out.insert(
                    path.to_string(),
                    format!("{attrs}{other} {}", normalized(inner)),
                );
            }
        }
    }

    fn field(&mut self, id: &str, path: &str) {
        let Some(field) = self.item(id).cloned() else {
            return;
        };
        if !Self::public(&field) {
            return;
        }
        let name = field.get("name").and_then(Value::as_str).unwrap_or("?");
        let ty = self.ty(field.pointer("/inner/struct_field").unwrap_or(&Value::Null));
        self.out.insert(
            format!("{path}.{name}"),
            format!("{}field {ty}", attributes(&field)),
        );
    }

    fn variant(&mut self, id: &str, path: &str) {
        let Some(variant) = self.item(id).cloned() else {
            return;
        };
        let name = variant.get("name").and_then(Value::as_str).unwrap_or("?");
        let kind = variant
            .pointer("/inner/variant/kind")
            .cloned()
            .unwrap_or(Value::Null);
        let shape = match &kind {
            Value::String(plain) => plain.clone(),
            Value::Object(k) if k.contains_key("tuple") => {
                let fields: Vec<String> = k["tuple"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| {
                        f.as_u64()
                            .and_then(|f| self.item(&f.to_string()))
                            .map_or_else(
                                || "_".to_string(),
                                |f| {
                                    self.ty(f
                                        .pointer("/inner/struct_field")
                                        .unwrap_or(&Value::Null))
                                },
                            )
                    })
                    .collect();
                format!("({})", fields.join(", "))
            }
            Value::Object(k) if k.contains_key("struct") => {
                let fields: Vec<String> = ids(&k["struct"]["fields"])
                    .iter()
                    .filter_map(|f| self.item(f))
                    .map(|f| {
                        format!(
                            "{}: {}",
                            f.get("name").and_then(Value::as_str).unwrap_or("?"),
                            self.ty(f.pointer("/inner/struct_field").unwrap_or(&Value::Null))
                        )
                    })
                    .collect();
                format!("{{ {} }}", fields.join(", "))
            }
            other => normalized(other),
        };
        self.out.insert(
            format!("{path}::{name}"),
            format!("{}variant {shape}", attributes(&variant)),
        );
    }

    fn impls(&mut self, impls: &Value, path: &str) {
        for id in ids(impls) {
            let Some(imp) = self.item(&id).cloned() else {
                continue;
            };
            let Some(inner) = imp.pointer("/inner/impl") else {
                continue;
            };
            if !inner["blanket_impl"].is_null() {
                continue;
            }
            let generics = self.generics(&inner["generics"]);
            match inner.get("trait").filter(|t| !t.is_null()) {
                Some(t) => {
                    let negative = if inner["is_negative"] == Value::Bool(true) {
                        "!"
                    } else {
                        ""
                    };
                    let name = self.path_of(t);
                    self.out.insert(
                        format!("{path} impl {negative}{name}"),
                        format!("impl{generics} {negative}{name}"),
                    );
                }
                None => {
                    for item in ids(&inner["items"]) {
                        let Some(method) = self.item(&item).cloned() else {
                            continue;
                        };
                        if !Self::public(&method) {
                            continue;
                        }
                        let name = method.get("name").and_then(Value::as_str).unwrap_or("?");
                        let sig = match method.pointer("/inner/function") {
                            Some(f) => self.function(f),
                            None => normalized(&method["inner"]),
                        };
                        self.out.insert(format!("{path}::{name}"), sig);
                    }
                }
            }
        }
    }

    fn function(&self, f: &Value) -> String {
        let inputs: Vec<String> = f
            .pointer("/sig/inputs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|input| {
                let name = input[0].as_str().unwrap_or("_");
                format!("{name}: {}", self.ty(&input[1]))
            })
            .collect();
        let output = match f.pointer("/sig/output") {
            Some(Value::Null) | None => String::new(),
            Some(ty) => format!(" -> {}", self.ty(ty)),
        };
        let header = f.get("header").cloned().unwrap_or(Value::Null);
        let mut prefix = String::new();
        for (flag, word) in [
            ("is_const", "const "),
            ("is_async", "async "),
            ("is_unsafe", "unsafe "),
        ] {
            if header[flag] == Value::Bool(true) {
                prefix.push_str(word);
            }
        }
        format!(
            "{prefix}fn{}({}){output}{}",
            self.generics(&f["generics"]),
            inputs.join(", "),
            self.where_clause(&f["generics"])
        )
    }

    fn generics(&self, generics: &Value) -> String {
        let params: Vec<String> = generics
            .get("params")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|p| {
                // `impl Trait` arguments show in the signature already.
                p.pointer("/kind/type/is_synthetic") != Some(&Value::Bool(true))
            })
            .map(|p| {
                let name = p.get("name").and_then(Value::as_str).unwrap_or("?");
                match p.pointer("/kind/type/bounds").and_then(Value::as_array) {
                    Some(bounds) if !bounds.is_empty() => {
                        format!("{name}: {}", self.bounds(bounds))
                    }
                    _ => name.to_string(),
                }
            })
            .collect();
        if params.is_empty() {
            String::new()
        } else {
            format!("<{}>", params.join(", "))
        }
    }

    fn where_clause(&self, generics: &Value) -> String {
        let predicates: Vec<String> = generics
            .get("where_predicates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| match p.get("bound_predicate") {
                Some(b) => format!(
                    "{}: {}",
                    self.ty(&b["type"]),
                    self.bounds(b["bounds"].as_array().map_or(&[][..], Vec::as_slice))
                ),
                None => normalized(p),
            })
            .collect();
        if predicates.is_empty() {
            String::new()
        } else {
            format!(" where {}", predicates.join(", "))
        }
    }

    fn bounds(&self, bounds: &[Value]) -> String {
        bounds
            .iter()
            .map(|b| match (b.get("trait_bound"), b.get("outlives")) {
                (Some(t), _) => {
                    let modifier = if t["modifier"] == Value::String("maybe".into()) {
                        "?"
                    } else {
                        ""
                    };
                    format!("{modifier}{}", self.path_of(&t["trait"]))
                }
                (_, Some(Value::String(lifetime))) => lifetime.clone(),
                _ => normalized(b),
            })
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// A path with its generic arguments; the canonical path from
    /// `paths` when rustdoc knows the item.
    fn path_of(&self, p: &Value) -> String {
        let canonical = p
            .get("id")
            .filter(|id| !id.is_null())
            .and_then(|id| self.doc.pointer(&format!("/paths/{id}/path")))
            .and_then(Value::as_array)
            .map(|segments| {
                segments
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("::")
            });
        let written = p.get("path").and_then(Value::as_str).unwrap_or("?");
        let name = canonical.unwrap_or_else(|| written.trim_start_matches("::").to_string());
        format!("{name}{}", self.args(p.get("args").unwrap_or(&Value::Null)))
    }

    fn args(&self, args: &Value) -> String {
        if let Some(angle) = args.get("angle_bracketed") {
            let mut parts: Vec<String> = angle["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| match (a.get("type"), a.get("lifetime")) {
                    (Some(t), _) => self.ty(t),
                    (_, Some(Value::String(l))) => l.clone(),
                    _ => normalized(a),
                })
                .collect();
            for c in angle["constraints"].as_array().into_iter().flatten() {
                let name = c["name"].as_str().unwrap_or("?");
                match c.pointer("/binding/equality/type") {
                    Some(t) => parts.push(format!("{name} = {}", self.ty(t))),
                    None => parts.push(format!("{name}: {}", normalized(&c["binding"]))),
                }
            }
            if parts.is_empty() {
                String::new()
            } else {
                format!("<{}>", parts.join(", "))
            }
        } else if let Some(paren) = args.get("parenthesized") {
            let inputs: Vec<String> = paren["inputs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| self.ty(t))
                .collect();
            let output = match &paren["output"] {
                Value::Null => String::new(),
                t => format!(" -> {}", self.ty(t)),
            };
            format!("({}){output}", inputs.join(", "))
        } else {
            String::new()
        }
    }

    fn ty(&self, t: &Value) -> String {
        let Some((kind, inner)) = t.as_object().and_then(|m| m.iter().next()) else {
            return normalized(t);
        };
        match kind.as_str() {
            "resolved_path" => self.path_of(inner),
            "primitive" | "generic" => inner.as_str().unwrap_or("?").to_string(),
            "borrowed_ref" => {
                let lifetime = inner["lifetime"]
                    .as_str()
                    .map(|l| format!("{l} "))
                    .unwrap_or_default();
                let mutable = if inner["is_mutable"] == Value::Bool(true) {
                    "mut "
                } else {
                    ""
                };
                format!("&{lifetime}{mutable}{}", self.ty(&inner["type"]))
            }
            "tuple" => {
                let parts: Vec<String> = inner
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| self.ty(t))
                    .collect();
                format!("({})", parts.join(", "))
            }
            "slice" => format!("[{}]", self.ty(inner)),
            "array" => format!(
                "[{}; {}]",
                self.ty(&inner["type"]),
                inner["len"].as_str().unwrap_or("?")
            ),
            "impl_trait" => format!(
                "impl {}",
                self.bounds(inner.as_array().map_or(&[][..], Vec::as_slice))
            ),
            "qualified_path" => format!(
                "<{} as {}>::{}",
                self.ty(&inner["self_type"]),
                if inner["trait"].is_null() {
                    "_".to_string()
                } else {
                    self.path_of(&inner["trait"])
                },
                inner["name"].as_str().unwrap_or("?")
            ),
            _ => normalized(t),
        }
    }
}

/// The ids in a JSON array of ids.
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|id| !id.is_null())
        .map(Value::to_string)
        .collect()
}

/// Attributes that are part of the API (`#[non_exhaustive]`,
/// `#[repr]`, `#[must_use]`), as a prefix.
fn attributes(item: &Value) -> String {
    let mut out = String::new();
    for attr in item
        .get("attrs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = match attr {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if ["non_exhaustive", "repr", "must_use"]
            .iter()
            .any(|a| text.contains(a))
        {
            let _ = write!(
                out,
                "#[{}] ",
                text.trim_matches(|c| c == '#' || c == '[' || c == ']')
            );
        }
    }
    out
}

/// A JSON value without ids, spans and docs, in one line: for shapes the
/// renderer does not know.
fn normalized(value: &Value) -> String {
    fn strip(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "id" | "span" | "docs" | "links"))
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    strip(value).to_string()
}

fn short(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
