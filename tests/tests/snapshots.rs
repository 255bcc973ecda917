//! Textual output held to checked-in expectations: a request body as sent,
//! and how every error renders.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;
use topcalls_api::types::{CallWebhookEvent, CreateCallRequest};
use topcalls_api::{Client, Error, NewCall, NewCarrier, RetryPolicy, WaitOptions};
use topcalls_contract_tests::server::{Action, ScriptedServer};

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

/// One rendering of every variant of `Error`, each provoked for real: by
/// the builder, by the checks made before sending, or by a scripted server
/// on 127.0.0.1. The wording is reviewed here, in
/// `snapshots/errors.txt`.
#[tokio::test]
async fn every_error_variant_renders_as_the_snapshot() {
    let client = |server: &ScriptedServer| {
        Client::builder()
            .api_key("tc_test_snapshots")
            .base_url(server.url())
            .retry(RetryPolicy::none())
            .build()
            .unwrap()
    };
    let one = |action: Action| ScriptedServer::script(vec![action]);
    let mut rendered: Vec<(&str, Error)> = Vec::new();

    // Config.
    rendered.push((
        "Config: no key",
        Client::builder().env_with(|_| None).build().unwrap_err(),
    ));
    rendered.push((
        "Config: plain http",
        Client::builder()
            .api_key("k")
            .base_url("http://api.topcalls.ai")
            .build()
            .unwrap_err(),
    ));

    // InvalidRequest: nothing is sent, and the prefix appears once.
    let server = one(Action::Hang).await;
    let offline = client(&server);
    rendered.push((
        "InvalidRequest: a generated type's check",
        CreateCallRequest::try_from(NewCall::to("555-1234").task("Say hello politely."))
            .unwrap_err(),
    ));
    rendered.push((
        "InvalidRequest: through the client",
        offline
            .calls()
            .create(NewCall::to("555-1234").task("Say hello politely."))
            .await
            .unwrap_err(),
    ));
    rendered.push((
        "InvalidRequest: a rule the schema cannot state",
        offline
            .calls()
            .create(NewCall::to("+15551234567"))
            .await
            .unwrap_err(),
    ));
    rendered.push((
        "InvalidRequest: an idempotency key",
        offline
            .campaigns()
            .start("camp_1")
            .idempotency_key("bad key!")
            .await
            .unwrap_err(),
    ));
    rendered.push((
        "InvalidRequest: a carrier on port 0",
        offline
            .phone_numbers()
            .carriers()
            .create(NewCarrier::new("Acme SIP", "203.0.113.10").port(0))
            .await
            .unwrap_err(),
    ));
    assert!(server.requests().is_empty(), "nothing was sent");

    // Transport.
    let server = one(Action::Close).await;
    rendered.push(("Transport", client(&server).balance().await.unwrap_err()));

    // Api.
    let server = one(Action::json(
        404,
        json!({"type": "https://api.topcalls.ai/errors/not_found", "title": "Not Found", "status": 404, "detail": "No call with id call_404."}),
    ))
    .await;
    rendered.push((
        "Api",
        client(&server).calls().get("call_404").await.unwrap_err(),
    ));

    // Decode.
    let server = one(Action::json(200, json!({"unit": 5}))).await;
    rendered.push(("Decode", client(&server).balance().await.unwrap_err()));

    // Deadline.
    let server = one(Action::Hang).await;
    rendered.push((
        "Deadline",
        client(&server)
            .balance()
            .deadline(Duration::from_millis(100))
            .await
            .unwrap_err(),
    ));

    // ResponseTooLarge.
    let server = one(Action::json(200, json!({"data": "x".repeat(100)}))).await;
    let limited = Client::builder()
        .api_key("tc_test_snapshots")
        .base_url(server.url())
        .max_response_bytes(64)
        .build()
        .unwrap();
    rendered.push(("ResponseTooLarge", limited.models().await.unwrap_err()));

    // Redirect.
    let server = one(Action::Respond(
        307,
        vec![(
            "location",
            "https://elsewhere.example/v1/balance".to_string(),
        )],
        String::new(),
    ))
    .await;
    rendered.push(("Redirect", client(&server).balance().await.unwrap_err()));

    // WaitTimeout: one poll answers `in_progress`; the next would come an
    // hour later, so the deadline ends the wait after exactly one poll.
    let server = one(Action::json(
        200,
        json!({"id": "call_1", "status": "in_progress", "created_at": "2025-12-22T10:30:00Z"}),
    ))
    .await;
    rendered.push((
        "WaitTimeout",
        client(&server)
            .calls()
            .wait_until_finished("call_1")
            .options(WaitOptions::default().interval(Duration::from_secs(3600)))
            .deadline(Duration::from_secs(2))
            .await
            .unwrap_err(),
    ));

    // Every variant is here (a new one fails to compile until it is added).
    for (_, error) in &rendered {
        match error {
            Error::Config(_)
            | Error::InvalidRequest(_)
            | Error::Transport(_)
            | Error::Api(_)
            | Error::Decode(_)
            | Error::Deadline(_)
            | Error::ResponseTooLarge(_)
            | Error::Redirect(_)
            | Error::WaitTimeout(_) => {}
            _ => panic!("a variant without a snapshot: {error:?}"),
        }
    }
    let text: String = rendered
        .iter()
        .map(|(what, error)| format!("{what}\n    {error}\n"))
        .collect();
    assert_eq!(text, include_str!("snapshots/errors.txt"));
}
