//! The `schemars` feature: every type derives `schemars::JsonSchema`.
//! `cargo test -p topcalls-types --features schemars` (CI runs it).
#![cfg(feature = "schemars")]

use serde_json::{Value, json};
use topcalls_types::{Call, CallGatewayStatus, CreateCallRequest};

fn schema<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).expect("a schema serializes")
}

#[test]
fn structs_describe_their_fields_and_what_is_required() {
    let call = schema::<Call>();
    assert_eq!(call["title"], "Call");
    assert_eq!(call["properties"]["created_at"]["format"], "date-time");
    let required = call["required"]
        .as_array()
        .expect("Call has required fields");
    for name in ["id", "status", "created_at"] {
        assert!(
            required.contains(&json!(name)),
            "{name} not required: {call:#}"
        );
    }
    assert!(!required.contains(&json!("recording_url")), "{call:#}");

    let request = schema::<CreateCallRequest>();
    assert_eq!(request["required"], json!(["phone_number"]), "{request:#}");
}

#[test]
fn a_received_enum_admits_values_this_version_does_not_know() {
    // `UnknownValue(String)` is untagged: the schema lists the known values
    // and also any string, which is what the type decodes.
    let status = schema::<CallGatewayStatus>();
    let text = status.to_string();
    assert!(text.contains("\"queued\""), "{status:#}");
    assert!(text.contains("\"cancelled\""), "{status:#}");
    let branches = status["anyOf"]
        .as_array()
        .expect("known values or any string");
    let any_string = branches
        .iter()
        .any(|b| b["type"] == "string" && b.get("enum").is_none() && b.get("const").is_none());
    assert!(any_string, "{status:#}");
}
