//! Reading `openapi.yaml` and the in-memory rewrites the generator needs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use serde_json::Value;

/// The spec as a JSON value, exactly as written.
pub(crate) fn load(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_yaml_ng::from_str(&text).map_err(|e| format!("{} is not valid YAML: {e}", path.display()))
}

/// The one place where the spec is rewritten for progenitor; `openapi.yaml`
/// itself stays truthful.
///
/// 1. `application/problem+json` becomes `application/json`. Progenitor
///    treats any media type other than `application/json` as raw bytes, so
///    error bodies would reach users undecoded. The server really sends
///    `application/problem+json`; decoding ignores the response content type,
///    so the rewrite only changes what the generated code decodes into
///    (`Error<types::Problem>`), not what it accepts.
/// 2. Schemas lose their `default`s. A `default` says what the server does
///    with an omitted member; typify would instead make the member mandatory
///    and send the default on every request (a legacy-mode call would carry
///    the realtime voice `alloy`). Without it the member stays optional and
///    is sent only when the caller sets it.
/// 3. Cursors lose their `format`. The calls cursor is documented as a
///    timestamp, but the SDK passes every cursor back as it came (API.md
///    B.4): an opaque string, never a parsed date that a server-side change
///    of format would break.
/// 4. Presence rules are dropped. A `oneOf` or `anyOf` on an object schema
///    whose branches only say which of the object's own properties are
///    required (and which enum values one of them takes) states a rule across
///    members, such as "exactly one of `task` and `instructions`". Progenitor
///    would turn the object into an enum with one struct per branch; the
///    request types stay structs, and the SDK checks those rules by hand
///    (topcalls-api `validate.rs`), as the server does.
pub(crate) fn prepare_for_generator(spec: &Value) -> Result<openapiv3::OpenAPI, String> {
    let mut spec = generator_view(spec);
    drop_presence_rules(&mut spec);
    serde_json::from_value(spec).map_err(|e| format!("openapi.yaml is not OpenAPI 3.0.x: {e}"))
}

/// Rewrites 1 to 3 of [`prepare_for_generator`]: the document as the
/// generator reads it, presence rules still in (`cargo xtask diff` compares
/// them as rules; the generator never sees them).
pub(crate) fn generator_view(spec: &Value) -> Value {
    let mut spec = spec.clone();
    rewrite_problem_media_type(&mut spec);
    if let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for schema in schemas.values_mut() {
            strip_defaults(schema);
            if let Some(cursor) = schema.pointer_mut("/properties/next_cursor") {
                remove_key(cursor, "format");
            }
        }
    }
    if let Some(parameters) = spec
        .pointer_mut("/components/parameters")
        .and_then(Value::as_object_mut)
    {
        for parameter in parameters.values_mut() {
            if parameter.get("name").and_then(Value::as_str) == Some("cursor")
                && let Some(schema) = parameter.get_mut("schema")
            {
                remove_key(schema, "format");
            }
        }
    }
    spec
}

fn remove_key(value: &mut Value, key: &str) {
    if let Some(map) = value.as_object_mut() {
        map.remove(key);
    }
}

/// Removes `default` from `schema` and every schema nested in it (not from
/// a property that happens to be named `default`).
fn strip_defaults(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    map.remove("default");
    if let Some(properties) = map.get_mut("properties").and_then(Value::as_object_mut) {
        properties.values_mut().for_each(strip_defaults);
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(inner) = map.get_mut(key) {
            strip_defaults(inner);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(Value::Array(list)) = map.get_mut(key) {
            list.iter_mut().for_each(strip_defaults);
        }
    }
}

/// For every component schema, the names of its `nullable: true` properties.
pub(crate) fn nullable_members(spec: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let Some(schemas) = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return out;
    };
    for (name, schema) in schemas {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            continue;
        };
        let nullable: BTreeSet<String> = properties
            .iter()
            .filter(|(_, p)| p.get("nullable") == Some(&Value::Bool(true)))
            .map(|(property, _)| property.clone())
            .collect();
        if !nullable.is_empty() {
            out.insert(name.clone(), nullable);
        }
    }
    out
}

pub(crate) fn drop_presence_rules(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for combinator in ["oneOf", "anyOf"] {
                let properties = map.get("properties").and_then(Value::as_object);
                let is_presence_rule = match (properties, map.get(combinator)) {
                    (Some(properties), Some(Value::Array(branches))) => branches
                        .iter()
                        .all(|branch| is_presence_branch(branch, properties)),
                    _ => false,
                };
                if is_presence_rule {
                    map.remove(combinator);
                }
            }
            map.values_mut().for_each(drop_presence_rules);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_presence_rules),
        _ => {}
    }
}

/// A branch that names only properties the object declares: which are
/// required, and enum values they take.
fn is_presence_branch(branch: &Value, declared: &serde_json::Map<String, Value>) -> bool {
    let Some(branch) = branch.as_object() else {
        return false;
    };
    let names_declared = |names: &Value| {
        names.as_array().is_some_and(|names| {
            names
                .iter()
                .all(|name| name.as_str().is_some_and(|n| declared.contains_key(n)))
        })
    };
    branch.iter().all(|(key, inner)| match key.as_str() {
        "title" | "description" => true,
        "required" => names_declared(inner),
        "properties" => inner.as_object().is_some_and(|properties| {
            properties.iter().all(|(name, schema)| {
                declared.contains_key(name)
                    && schema
                        .as_object()
                        .is_some_and(|s| s.keys().all(|k| k == "enum" || k == "description"))
            })
        }),
        _ => false,
    })
}

fn rewrite_problem_media_type(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(problem) = map.remove("application/problem+json") {
                map.insert("application/json".to_string(), problem);
            }
            map.values_mut().for_each(rewrite_problem_media_type);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_problem_media_type),
        _ => {}
    }
}

/// Names of the component schemas that the client receives: everything
/// reachable from a response body or a webhook (callback) payload.
///
/// These are decoded leniently (API.md B.13): their enums get a fallback for
/// values this SDK does not know yet.
pub(crate) fn received_schemas(spec: &Value) -> BTreeSet<String> {
    // A callback's request body is what a webhook receiver gets.
    reachable_schemas(spec, &["responses", "callbacks"])
}

/// The component schemas the client *sends*: reachable from an operation's
/// request body or parameters, or a path's parameters (callbacks excluded:
/// the client receives those).
pub(crate) fn sent_schemas(spec: &Value) -> BTreeSet<String> {
    reachable_schemas(spec, &["requestBody", "parameters"])
}

/// The component schemas reachable from the `members` of every operation.
fn reachable_schemas(spec: &Value, members: &[&str]) -> BTreeSet<String> {
    let mut roots = Vec::new();
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for item in paths.values() {
            let Some(item) = item.as_object() else {
                continue;
            };
            if members.contains(&"parameters")
                && let Some(parameters) = item.get("parameters")
            {
                collect_refs(parameters, &mut roots);
            }
            for operation in item.values() {
                for member in members {
                    if let Some(value) = operation.get(member) {
                        collect_refs(value, &mut roots);
                    }
                }
            }
        }
    }
    let components = spec.get("components");
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<String> = roots.into();
    while let Some(reference) = queue.pop_front() {
        let mut refs = Vec::new();
        if let Some(name) = reference.strip_prefix("#/components/schemas/") {
            if !seen.insert(name.to_string()) {
                continue;
            }
            if let Some(schema) = components.and_then(|c| c.pointer(&format!("/schemas/{name}"))) {
                collect_refs(schema, &mut refs);
            }
        } else if let Some(rest) = reference.strip_prefix("#/components/") {
            // Shared responses, headers and parameters lead on to schemas.
            if let Some(target) = components.and_then(|c| c.pointer(&format!("/{rest}"))) {
                collect_refs(target, &mut refs);
            }
        }
        queue.extend(refs);
    }
    seen
}

/// The secrets of the spec: for each component schema, its properties with
/// `format: password` (OpenAPI's mark for a value to hide), inline or through
/// a `$ref` to a schema with that format.
///
/// Generated types keep these out of `Debug` (see `postprocess`).
pub(crate) fn secret_properties(spec: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let schemas = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object);
    let is_password = |schema: &Value| {
        let target = match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => reference
                .strip_prefix("#/components/schemas/")
                .and_then(|name| schemas?.get(name)),
            None => Some(schema),
        };
        target.and_then(|s| s.get("format")).and_then(Value::as_str) == Some("password")
    };
    let mut secrets = BTreeMap::new();
    for (name, schema) in schemas.into_iter().flatten() {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            continue;
        };
        let secret: BTreeSet<String> = properties
            .iter()
            .filter(|(_, property)| is_password(property))
            .map(|(property, _)| property.clone())
            .collect();
        if !secret.is_empty() {
            secrets.insert(name.clone(), secret);
        }
    }
    secrets
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(reference)) => out.push(reference.clone()),
                    _ => collect_refs(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(components: Value) -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "components": components,
        })
    }

    #[test]
    fn defaults_and_cursor_formats_are_not_given_to_the_generator() {
        let raw = spec(json!({
            "parameters": {
                "CallsCursor": {"name": "cursor", "in": "query",
                                "schema": {"type": "string", "format": "date-time"}},
                "Since": {"name": "since", "in": "query",
                          "schema": {"type": "string", "format": "date-time"}},
            },
            "schemas": {
                "Mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                "Request": {"type": "object", "properties": {
                    "voice": {"type": "string", "default": "alloy"},
                    "gateway": {"type": "object", "properties": {
                        "port": {"type": "integer", "default": 5060}}},
                    "default": {"type": "string", "description": "a member named default"},
                }},
                "Page": {"type": "object", "properties": {
                    "next_cursor": {"type": "string", "format": "date-time", "nullable": true},
                    "created_at": {"type": "string", "format": "date-time"},
                }},
            },
        }));
        let prepared = serde_json::to_value(prepare_for_generator(&raw).unwrap()).unwrap();
        let schemas = &prepared["components"]["schemas"];
        assert!(schemas["Mode"].get("default").is_none());
        assert!(
            schemas["Request"]["properties"]["voice"]
                .get("default")
                .is_none()
        );
        assert!(
            schemas["Request"]["properties"]["gateway"]["properties"]["port"]
                .get("default")
                .is_none()
        );
        assert!(schemas["Request"]["properties"].get("default").is_some());
        assert!(
            schemas["Page"]["properties"]["next_cursor"]
                .get("format")
                .is_none()
        );
        assert_eq!(
            schemas["Page"]["properties"]["created_at"]["format"],
            "date-time"
        );
        let parameters = &prepared["components"]["parameters"];
        assert!(parameters["CallsCursor"]["schema"].get("format").is_none());
        assert_eq!(parameters["Since"]["schema"]["format"], "date-time");
        // The document itself keeps what it says.
        assert_eq!(raw["components"]["schemas"]["Mode"]["default"], "a");

        let nullable = nullable_members(&raw);
        assert_eq!(nullable.len(), 1);
        assert!(nullable["Page"].contains("next_cursor"));
    }

    #[test]
    fn password_properties_are_secrets_inline_or_by_reference() {
        let spec: Value = serde_yaml_ng::from_str(
            r#"
components:
  schemas:
    Secret: {type: string, format: password}
    Login:
      type: object
      properties:
        password: {type: string, format: password, minLength: 1}
        pin: {$ref: '#/components/schemas/Secret'}
        user: {type: string}
    Plain:
      type: object
      properties:
        when: {type: string, format: date-time}
"#,
        )
        .unwrap();
        let secrets = secret_properties(&spec);
        assert_eq!(secrets.len(), 1, "{secrets:?}");
        let login: Vec<&str> = secrets["Login"].iter().map(String::as_str).collect();
        assert_eq!(login, ["password", "pin"]);
    }

    #[test]
    fn presence_rules_are_dropped_and_other_combinators_kept() {
        let mut spec = json!({
            "CreateCallRequest": {
                "type": "object",
                "properties": {"task": {"type": "string"}, "instructions": {"type": "string"}},
                "oneOf": [
                    {"title": "Simple", "required": ["task"]},
                    {"required": ["instructions"]},
                ],
            },
            "CreateCarrierRequest": {
                "type": "object",
                "properties": {"trunk_type": {"type": "string"}, "registration": {"type": "object"}},
                "anyOf": [
                    {"properties": {"trunk_type": {"enum": ["static_ip"]}}},
                    {"required": ["trunk_type", "registration"], "properties": {"trunk_type": {"enum": ["reg"]}}},
                ],
            },
            // A branch naming a member the object does not declare is a real alternative.
            "Undeclared": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
            },
            // So is a branch that constrains a member beyond its values.
            "Typed": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "anyOf": [{"properties": {"a": {"minLength": 3}}}],
            },
            // And a union of schemas, the common use of `oneOf`.
            "Union": {"oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]},
        });
        drop_presence_rules(&mut spec);
        assert!(spec["CreateCallRequest"].get("oneOf").is_none());
        assert!(spec["CreateCarrierRequest"].get("anyOf").is_none());
        assert!(spec["Undeclared"].get("oneOf").is_some());
        assert!(spec["Typed"].get("anyOf").is_some());
        assert!(spec["Union"].get("oneOf").is_some());
        assert_eq!(
            spec["CreateCallRequest"]["properties"]["task"],
            json!({"type": "string"})
        );
    }

    #[test]
    fn the_spec_states_its_presence_rules_and_the_generator_never_sees_them() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
        let raw = load(&path).unwrap();
        let schemas = &raw["components"]["schemas"];
        assert!(schemas["CreateCallRequest"].get("oneOf").is_some());
        assert!(schemas["CreateCarrierRequest"].get("anyOf").is_some());
        let prepared = serde_json::to_value(prepare_for_generator(&raw).unwrap()).unwrap();
        let schemas = &prepared["components"]["schemas"];
        assert!(schemas["CreateCallRequest"].get("oneOf").is_none());
        assert!(schemas["CreateCarrierRequest"].get("anyOf").is_none());
    }
}
