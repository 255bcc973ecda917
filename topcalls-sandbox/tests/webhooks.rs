//! Webhook deliveries seen from the handle: signed with the handle's secret,
//! retried on the documented schedule of the sandbox clock, then failed.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;
use topcalls_api::webhooks::{Verifier, WebhookSecret};
use topcalls_sandbox::Sandbox;

mod common;
use common::{Api, call_body, manual};

/// Every request a receiver got, answered with one fixed status.
type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receiver(status: StatusCode) -> (String, Seen) {
    slow_receiver(status, Duration::ZERO).await
}

/// A receiver that answers `status` after `delay`, and redirects `/moved` to `/hook`.
async fn slow_receiver(status: StatusCode, delay: Duration) -> (String, Seen) {
    async fn hook(
        State((seen, status, delay)): State<(Seen, StatusCode, Duration)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        seen.lock().unwrap().push((headers, body));
        tokio::time::sleep(delay).await;
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
        .with_state((seen.clone(), status, delay));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// Waits (real time, at most 3 s) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
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
    eventually("the first attempt", || attempts(&sandbox) == 1).await;

    for (wait, count) in [(60, 2), (5 * 60, 3), (15 * 60, 4), (60 * 60, 5)] {
        // Not a second early...
        sandbox.advance(Duration::from_secs(wait - 1));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(attempts(&sandbox), count - 1, "before the {wait} s retry");
        // ...and then it comes.
        sandbox.advance(Duration::from_secs(1));
        eventually("the retry", || attempts(&sandbox) == count).await;
    }
    sandbox.advance(Duration::from_secs(3 * 60 * 60));
    tokio::time::sleep(Duration::from_millis(60)).await;
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
    eventually("the first attempt", || attempts(&sandbox) == 1).await;
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
    let started = std::time::Instant::now();
    sandbox.advance(Duration::from_secs(600));
    let answer = api.get("/v1/calls", sandbox.api_key()).await;
    assert_eq!(answer.body["data"][0]["status"], "completed");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        sandbox.deliveries().is_empty(),
        "the filter matches nothing"
    );
}

#[tokio::test]
async fn a_slow_receiver_holds_up_no_other() {
    let sandbox = manual().await;
    let (slow, _) = slow_receiver(StatusCode::OK, Duration::from_secs(2)).await;
    let (fast, _) = receiver(StatusCode::OK).await;
    call_to_with_webhook(&sandbox, "+15551110001", &slow).await;
    call_to_with_webhook(&sandbox, "+15551110002", &fast).await;
    let delivered = |url: &str| {
        sandbox
            .deliveries()
            .iter()
            .any(|d| d.url == url && d.delivered)
    };
    // Well before the slow receiver answers.
    eventually("the fast receiver", || delivered(&fast)).await;
    assert!(!delivered(&slow));
    for _ in 0..300 {
        if delivered(&slow) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the slow receiver was never served");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let sandbox = manual().await;
    let (url, seen) = receiver(StatusCode::OK).await;
    let moved = url.replace("/hook", "/moved");
    call_with_webhook(&sandbox, &moved).await;
    eventually("the first attempt", || attempts(&sandbox) == 1).await;
    assert_eq!(sandbox.deliveries()[0].attempts, [Some(307)]);
    assert!(
        seen.lock().unwrap().is_empty(),
        "only the URL given is called"
    );
}
