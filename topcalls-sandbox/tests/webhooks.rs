//! Webhook deliveries seen from the handle: signed with the handle's secret,
//! retried on the documented schedule of the sandbox clock, then failed.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;
use tokio::sync::Semaphore;
use topcalls_api::webhooks::{Verifier, WebhookSecret};
use topcalls_sandbox::Sandbox;

mod common;
use common::{Api, call_body, manual};

/// Every request a receiver got, answered with one fixed status.
type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receiver(status: StatusCode) -> (String, Seen) {
    gated_receiver(status, Arc::new(Semaphore::new(Semaphore::MAX_PERMITS))).await
}

/// A receiver that answers `status` once `gate` lets it (a permit per
/// request), and redirects `/moved` to `/hook`.
async fn gated_receiver(status: StatusCode, gate: Arc<Semaphore>) -> (String, Seen) {
    async fn hook(
        State((seen, status, gate)): State<(Seen, StatusCode, Arc<Semaphore>)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        seen.lock().unwrap().push((headers, body));
        gate.acquire().await.unwrap().forget();
        status
    }
    let seen = Seen::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .route(
            "/moved",
            axum::routing::post(|| async {
                (StatusCode::TEMPORARY_REDIRECT, [("location", "/hook")])
            }),
        )
        .with_state((seen.clone(), status, gate));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// Places a call whose webhook gets only `call.queued`, delivered at once.
async fn call_with_webhook(sandbox: &Sandbox, url: &str) {
    call_to_with_webhook(sandbox, "+15551234567", url).await;
}

async fn call_to_with_webhook(sandbox: &Sandbox, to: &str, url: &str) {
    let mut body = call_body(to);
    body["webhook_url"] = json!(url);
    body["webhook_events"] = json!(["call.queued"]);
    let created = Api::new(sandbox)
        .post("/v1/calls", sandbox.api_key(), Some(body))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
}

fn attempts(sandbox: &Sandbox) -> usize {
    sandbox.deliveries()[0].attempts.len()
}

#[tokio::test]
async fn a_failing_receiver_is_retried_after_1_5_15_and_60_minutes_then_given_up() {
    let sandbox = manual().await;
    let (url, seen) = receiver(StatusCode::SERVICE_UNAVAILABLE).await;
    call_with_webhook(&sandbox, &url).await;
    sandbox.settle().await;
    assert_eq!(attempts(&sandbox), 1);

    for (wait, count) in [(60, 2), (5 * 60, 3), (15 * 60, 4), (60 * 60, 5)] {
        // Not a second early...
        sandbox.advance(Duration::from_secs(wait - 1));
        sandbox.settle().await;
        assert_eq!(attempts(&sandbox), count - 1, "before the {wait} s retry");
        // ...and then it comes.
        sandbox.advance(Duration::from_secs(1));
        sandbox.settle().await;
        assert_eq!(attempts(&sandbox), count, "the {wait} s retry");
    }
    sandbox.advance(Duration::from_secs(3 * 60 * 60));
    sandbox.settle().await;
    let delivery = &sandbox.deliveries()[0];
    assert_eq!(delivery.attempts, [Some(503); 5]);
    assert!(delivery.failed && !delivery.delivered);
    assert_eq!(delivery.event, "call.queued");
    assert_eq!(delivery.url, url);

    // Every attempt is signed with the handle's secret, with the same id, and a
    // timestamp of the wall clock although the sandbox clock is 4.5 hours ahead.
    let verifier = Verifier::new(WebhookSecret::new(sandbox.webhook_secret()).unwrap());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 5);
    for (headers, body) in seen.iter() {
        let meta = verifier.verify(headers, body).unwrap();
        assert_eq!(meta.id, delivery.id);
        let event: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["event"], "call.queued");
    }
}

#[tokio::test]
async fn an_unreachable_receiver_counts_as_a_failed_attempt() {
    let sandbox = manual().await;
    // A port that was free a moment ago: nothing answers there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    call_with_webhook(&sandbox, &url).await;
    sandbox.settle().await;
    let delivery = &sandbox.deliveries()[0];
    assert_eq!(delivery.attempts, [None]);
    assert!(
        !delivery.delivered && !delivery.failed,
        "it will be retried"
    );
}

#[tokio::test]
async fn a_pathological_like_filter_does_not_stall_the_sandbox() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let (url, _) = receiver(StatusCode::OK).await;
    let pattern = format!("{}x", "%_".repeat(40));
    let subscribed = api
        .post(
            "/v1/webhooks",
            sandbox.api_key(),
            Some(json!({"event": "call.completed", "url": url,
                        "filters": {"call_summary": pattern, "phone_number": pattern}})),
        )
        .await;
    assert_eq!(subscribed.status, 201);
    api.post(
        "/v1/calls",
        sandbox.api_key(),
        Some(call_body("+15551234567")),
    )
    .await;
    // The matcher's cost is bounded by the unit tests of `like`; here the
    // filter is evaluated against a real event and the sandbox carries on.
    sandbox.advance(Duration::from_secs(600));
    let answer = api.get("/v1/calls", sandbox.api_key()).await;
    assert_eq!(answer.body["data"][0]["status"], "completed");
    sandbox.settle().await;
    assert!(
        sandbox.deliveries().is_empty(),
        "the filter matches nothing"
    );
}

#[tokio::test]
async fn a_slow_receiver_holds_up_no_other() {
    // Attempts wait for the slow receiver as long as it takes.
    let sandbox = Sandbox::builder()
        .clock(topcalls_sandbox::ClockMode::Manual)
        .webhook_timeout(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let (slow, slow_seen) = gated_receiver(StatusCode::OK, gate.clone()).await;
    let (fast, _) = receiver(StatusCode::OK).await;
    call_to_with_webhook(&sandbox, "+15551110001", &slow).await;
    call_to_with_webhook(&sandbox, "+15551110002", &fast).await;
    let attempts_to = |url: &str| -> Vec<Option<u16>> {
        sandbox
            .deliveries()
            .iter()
            .find(|d| d.url == url)
            .unwrap()
            .attempts
            .clone()
    };
    // The slow receiver holds its answer until the gate opens, so settling
    // now would wait for it: wait for the fast one's outcome instead.
    sandbox
        .wait_for_deliveries(|all| all.iter().any(|d| d.url == fast && !d.attempts.is_empty()))
        .await;
    assert_eq!(attempts_to(&fast), [Some(200)]);
    assert_eq!(
        slow_seen.lock().unwrap().len(),
        1,
        "the slow one was called"
    );
    assert!(attempts_to(&slow).is_empty(), "and has not answered yet");
    gate.add_permits(1);
    sandbox.settle().await;
    assert_eq!(attempts_to(&slow), [Some(200)]);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let sandbox = manual().await;
    let (url, seen) = receiver(StatusCode::OK).await;
    let moved = url.replace("/hook", "/moved");
    call_with_webhook(&sandbox, &moved).await;
    sandbox.settle().await;
    assert_eq!(sandbox.deliveries()[0].attempts, [Some(307)]);
    assert!(
        seen.lock().unwrap().is_empty(),
        "only the URL given is called"
    );
}

#[tokio::test]
async fn a_call_cancelled_while_queued_sends_its_last_event_on_the_next_tick() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let (url, _seen) = receiver(StatusCode::OK).await;
    let mut body = call_body("+15551234567");
    body["webhook_url"] = json!(url);
    body["webhook_events"] = json!(["call.failed"]);
    let created = api.post("/v1/calls", sandbox.api_key(), Some(body)).await;
    let id = created.body["call_id"].as_str().unwrap().to_string();
    // A tick sees the queued call (it is next due when it rings, at 3 s).
    sandbox.advance(Duration::from_millis(500));
    let cancelled = api
        .post(&format!("/v1/calls/{id}/cancel"), sandbox.api_key(), None)
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    // Half a second more: well before the call would have rung.
    sandbox.advance(Duration::from_millis(500));
    sandbox.settle().await;
    let deliveries = sandbox.deliveries();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].event, "call.failed");
    assert!(deliveries[0].delivered);
}
