//! Reading `openapi.yaml` in tests: operations, their examples, and JSON
//! Schema validators for request and response bodies.
//!
//! OpenAPI 3.0 schemas are a dialect of JSON Schema draft 4; the one
//! difference that matters here, `nullable: true`, is translated into a
//! `null` type (and a `null` enum member).

pub mod logs;
pub mod server;

use std::path::PathBuf;

use serde_json::{Map, Value};

/// The spec, parsed.
#[derive(Debug, Clone)]
pub struct Spec {
    doc: Value,
}

/// One operation of the spec.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `operationId`.
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template, e.g. `/v1/calls/{call_id}`.
    pub path: String,
    /// The JSON request body's schema, when the operation takes one.
    pub request_schema: Option<Value>,
    /// Every example of the request body (`example` and each of `examples`).
    pub request_examples: Vec<Value>,
    /// Declared responses, in spec order.
    pub responses: Vec<Response>,
}

/// One declared response of an operation.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The media type (`application/json`, `application/problem+json`), if any body.
    pub media_type: Option<String>,
    /// The body schema, if any.
    pub schema: Option<Value>,
    /// Every example of the body (`example` and each of `examples`).
    pub examples: Vec<Value>,
    /// Declared header names, lower-case.
    pub headers: Vec<String>,
}

impl Spec {
    /// Loads the workspace's `openapi.yaml`.
    pub fn load() -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        Self::parse(&text)
    }

    /// Parses a spec from YAML text.
    pub fn parse(text: &str) -> Self {
        let doc: Value =
            serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("openapi.yaml: {e}"));
        Self { doc }
    }

    /// The raw document.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// Follows a local `$ref` (`#/components/...`), repeatedly.
    pub fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            let pointer = reference.trim_start_matches('#');
            value = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
        }
        value
    }

    /// Every operation, in path order.
    /// Every example of a media type object: `example` and each of `examples`.
    fn examples(&self, media: &Value) -> Vec<Value> {
        let mut examples: Vec<Value> = media.get("example").cloned().into_iter().collect();
        if let Some(named) = media.get("examples").and_then(Value::as_object) {
            examples.extend(named.values().map(|e| self.resolve(e)["value"].clone()));
        }
        examples
    }

    pub fn operations(&self) -> Vec<Operation> {
        let mut out = Vec::new();
        let paths = self.doc["paths"].as_object().expect("paths");
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("path item") {
                if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    continue;
                }
                let request_media = op
                    .get("requestBody")
                    .map(|body| self.resolve(body))
                    .and_then(|body| body.pointer("/content/application~1json"));
                let request_schema = request_media.and_then(|m| m.get("schema")).cloned();
                let request_examples = request_media.map(|m| self.examples(m)).unwrap_or_default();
                let mut responses = Vec::new();
                for (status, response) in op["responses"].as_object().expect("responses") {
                    let response = self.resolve(response);
                    let status: u16 = status.parse().unwrap_or_else(|_| panic!("status {status}"));
                    let headers = response
                        .get("headers")
                        .and_then(Value::as_object)
                        .map(|h| h.keys().map(|k| k.to_ascii_lowercase()).collect())
                        .unwrap_or_default();
                    let (media_type, schema, examples) =
                        match response.get("content").and_then(Value::as_object) {
                            Some(content) => {
                                let (media, body) = content.iter().next().expect("one media type");
                                let examples = self.examples(body);
                                (Some(media.clone()), body.get("schema").cloned(), examples)
                            }
                            None => (None, None, Vec::new()),
                        };
                    responses.push(Response {
                        status,
                        media_type,
                        schema,
                        examples,
                        headers,
                    });
                }
                out.push(Operation {
                    id: op["operationId"].as_str().expect("operationId").to_string(),
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    request_schema,
                    request_examples,
                    responses,
                });
            }
        }
        out
    }

    /// The operation with this `operationId`.
    pub fn operation(&self, id: &str) -> Operation {
        self.operations()
            .into_iter()
            .find(|op| op.id == id)
            .unwrap_or_else(|| panic!("no operation `{id}` in openapi.yaml"))
    }

    /// A JSON Schema (draft 4) validator for `schema`, with the spec's
    /// components embedded so `$ref`s resolve.
    pub fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let mut root = match nullable_to_json_schema(schema.clone()) {
            Value::Object(map) => map,
            other => {
                let mut map = Map::new();
                map.insert("allOf".into(), Value::Array(vec![other]));
                map
            }
        };
        root.insert(
            "components".into(),
            nullable_to_json_schema(self.doc["components"].clone()),
        );
        jsonschema::draft4::new(&Value::Object(root))
            .unwrap_or_else(|e| panic!("schema does not compile: {e}"))
    }

    /// Names of the component schemas reachable from any response or callback.
    pub fn received_schemas(&self) -> Vec<String> {
        let mut stack = Vec::new();
        for item in self.doc["paths"].as_object().expect("paths").values() {
            for op in item.as_object().expect("item").values() {
                for key in ["responses", "callbacks"] {
                    if let Some(v) = op.get(key) {
                        refs(v, &mut stack);
                    }
                }
            }
        }
        let mut seen: Vec<String> = Vec::new();
        while let Some(reference) = stack.pop() {
            let pointer = reference.trim_start_matches('#').to_string();
            if let Some(name) = reference.strip_prefix("#/components/schemas/") {
                if seen.iter().any(|s| s == name) {
                    continue;
                }
                seen.push(name.to_string());
            }
            if let Some(target) = self.doc.pointer(&pointer) {
                refs(target, &mut stack);
            }
        }
        seen.sort();
        seen
    }

    /// Names of the string-enum component schemas among [`Spec::received_schemas`].
    pub fn received_enums(&self) -> Vec<String> {
        self.received_schemas()
            .into_iter()
            .filter(|name| {
                self.doc["components"]["schemas"][name]
                    .get("enum")
                    .is_some()
            })
            .collect()
    }
}

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

/// Rewrites OpenAPI 3.0 `nullable: true` into JSON Schema.
fn nullable_to_json_schema(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut map: Map<String, Value> = map
                .into_iter()
                .map(|(k, v)| (k, nullable_to_json_schema(v)))
                .collect();
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert(
                        "type".into(),
                        Value::Array(vec![Value::String(t), Value::String("null".into())]),
                    );
                }
                if let Some(Value::Array(values)) = map.get_mut("enum") {
                    values.push(Value::Null);
                }
                if map.contains_key("$ref") || map.contains_key("allOf") {
                    let inner = Value::Object(std::mem::take(&mut map));
                    map.insert(
                        "anyOf".into(),
                        Value::Array(vec![inner, serde_json::json!({"type": "null"})]),
                    );
                }
            }
            Value::Object(map)
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(nullable_to_json_schema).collect())
        }
        other => other,
    }
}

/// Removes `null` members and empty arrays/objects and reads every number as
/// a float, recursively: what re-serializing a decoded value legitimately changes.
pub fn normalize(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalize(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        // `3` and `3.0` are the same JSON number to a decoder.
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| value.clone(), |f| serde_json::json!(f)),
        other => other.clone(),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Adds an unknown member to every object in `value`, recursively.
pub fn with_extra_fields(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut map: Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), with_extra_fields(v)))
                .collect();
            map.insert(
                "zz_added_in_a_later_version".into(),
                serde_json::json!({"nested": [1, "two", null]}),
            );
            Value::Object(map)
        }
        Value::Array(items) => Value::Array(items.iter().map(with_extra_fields).collect()),
        other => other.clone(),
    }
}

impl Spec {
    /// Paths (`/data/0/campaign_id`) of the members `schema` marks nullable
    /// that `value` leaves out, recursively. A server that answers in the
    /// documented shape sends them all, `null` included.
    pub fn absent_nullable_members(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut absent = Vec::new();
        self.collect_absent_nullable(schema, value, "", &mut absent);
        absent
    }

    fn collect_absent_nullable(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        absent: &mut Vec<String>,
    ) {
        let schema = self.resolve(schema);
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.collect_absent_nullable(part, value, path, absent);
        }
        match value {
            Value::Object(map) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                for (name, property) in properties.into_iter().flatten() {
                    let inner_path = format!("{path}/{name}");
                    match map.get(name) {
                        Some(inner) => {
                            self.collect_absent_nullable(property, inner, &inner_path, absent);
                        }
                        None if property.get("nullable") == Some(&Value::Bool(true)) => {
                            absent.push(inner_path);
                        }
                        None => {}
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.collect_absent_nullable(
                            item_schema,
                            item,
                            &format!("{path}/{i}"),
                            absent,
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// `value` with every property its schema does not require removed,
    /// recursively: the smallest body a server may send.
    pub fn only_required(&self, schema: &Value, value: &Value) -> Value {
        let schema = self.resolve(schema);
        match value {
            Value::Object(map) => {
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let properties = schema.get("properties");
                Value::Object(
                    map.iter()
                        .filter(|(k, _)| required.contains(&k.as_str()))
                        .map(|(k, v)| {
                            let inner = properties
                                .and_then(|p| p.get(k))
                                .cloned()
                                .unwrap_or(Value::Null);
                            (k.clone(), self.only_required(&inner, v))
                        })
                        .collect(),
                )
            }
            Value::Array(items) => {
                let item_schema = schema.get("items").cloned().unwrap_or(Value::Null);
                Value::Array(
                    items
                        .iter()
                        .map(|v| self.only_required(&item_schema, v))
                        .collect(),
                )
            }
            other => other.clone(),
        }
    }
}
