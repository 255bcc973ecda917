//! What the SDK logs: spans per operation and attempt with status and
//! request id; never the API key; request bodies only at TRACE.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use topcalls_api::{Client, NewCall, RetryPolicy};
use topcalls_contract_tests::server::{Action, ScriptedServer};
use tracing_subscriber::fmt::MakeWriter;

const KEY: &str = "tc_live_TracingSecretKey42";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn logs_at(level: tracing::Level) -> String {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(level)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
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
    String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
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
