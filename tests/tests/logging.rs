//! What the SDK logs: spans per operation and attempt with status and
//! request id; never the API key; request bodies only at TRACE.
#![allow(clippy::unwrap_used)]

use serde_json::json;
use topcalls_api::{Client, NewCall, RetryPolicy};
use topcalls_contract_tests::logs;
use topcalls_contract_tests::server::{Action, ScriptedServer};

const KEY: &str = "tc_live_TracingSecretKey42";

async fn logs_at(level: tracing::Level) -> String {
    let (captured, _guard) = logs::capture(level);
    let server = ScriptedServer::script(vec![
        Action::json(503, json!({"title": "unavailable", "status": 503})),
        Action::json(201, json!({"call_id": "call_1", "status": "queued"})),
    ])
    .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.url())
        .retry(RetryPolicy::default().base_delay(std::time::Duration::from_millis(5)))
        .build()
        .unwrap();
    client
        .calls()
        .create(NewCall::to("+15551234567").task("A very private task: call the clinic."))
        .await
        .unwrap();
    captured.text()
}

#[tokio::test(flavor = "current_thread")]
async fn logs_name_the_operation_and_never_the_key() {
    let trace = logs_at(tracing::Level::TRACE).await;
    assert!(trace.contains("topcalls.operation"), "{trace}");
    assert!(trace.contains("create_call"), "{trace}");
    assert!(trace.contains("attempt=2"), "the retry is visible: {trace}");
    assert!(trace.contains("request_id=\"req_1\""), "{trace}");
    assert!(trace.contains("status=503"), "{trace}");
    assert!(
        trace.contains("A very private task"),
        "bodies appear at TRACE: {trace}"
    );
    assert!(
        !trace.contains(KEY) && !trace.contains("TracingSecret"),
        "the key leaked: {trace}"
    );

    let info = logs_at(tracing::Level::INFO).await;
    assert!(
        !info.contains("A very private task"),
        "no bodies at INFO: {info}"
    );
    assert!(!info.contains(KEY), "{info}");
}
