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
/// Rewrite: `application/problem+json` becomes `application/json`.
/// Progenitor treats any media type other than `application/json` as raw
/// bytes, so error bodies would reach users undecoded. The server really
/// sends `application/problem+json`; decoding ignores the response content
/// type, so the rewrite only changes what the generated code decodes into
/// (`Error<types::Problem>`), not what it accepts.
pub(crate) fn prepare_for_generator(spec: &Value) -> Result<openapiv3::OpenAPI, String> {
    let mut spec = spec.clone();
    rewrite_problem_media_type(&mut spec);
    serde_json::from_value(spec).map_err(|e| format!("openapi.yaml is not OpenAPI 3.0.x: {e}"))
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
    let mut roots = Vec::new();
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for item in paths.values() {
            let Some(item) = item.as_object() else {
                continue;
            };
            for operation in item.values() {
                if let Some(responses) = operation.get("responses") {
                    collect_refs(responses, &mut roots);
                }
                // A callback's request body is what a webhook receiver gets.
                if let Some(callbacks) = operation.get("callbacks") {
                    collect_refs(callbacks, &mut roots);
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
    use super::*;

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
}
