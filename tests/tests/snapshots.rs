//! Textual output held to checked-in expectations: a request body as sent,
//! and how errors render.
#![allow(clippy::unwrap_used)]

use topcalls_api::types::{CallWebhookEvent, CreateCallRequest};
use topcalls_api::{Client, NewCall};

#[test]
fn a_create_call_body_serializes_as_the_snapshot() {
    let body = CreateCallRequest::try_from(
        NewCall::to("+15551234567")
            .task("Confirm tomorrow's 10:00 dentist appointment with Sam.")
            .voice("alloy")
            .max_duration_minutes(5.0)
            .variable("patient", "Sam")
            .webhook(
                "https://example.com/hooks",
                [CallWebhookEvent::CallCompleted],
            ),
    )
    .unwrap();
    let rendered = serde_json::to_string_pretty(&body).unwrap();
    assert_eq!(
        format!("{rendered}\n"),
        include_str!("snapshots/create_call_body.json")
    );
}

#[test]
fn errors_render_as_the_snapshot() {
    let rendered = [
        Client::builder()
            .env_with(|_| None)
            .build()
            .unwrap_err()
            .to_string(),
        Client::builder()
            .api_key("k")
            .base_url("http://api.topcalls.ai")
            .build()
            .unwrap_err()
            .to_string(),
        CreateCallRequest::try_from(NewCall::to("555-1234").task("Say hello politely."))
            .unwrap_err()
            .to_string(),
    ]
    .join("\n");
    assert_eq!(
        format!("{rendered}\n"),
        include_str!("snapshots/errors.txt")
    );
}
