//! End to end: the sandbox delivers signed webhooks to a receiver on
//! 127.0.0.1, the SDK verifies them, and retries follow the schedule.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;
use topcalls_api::webhooks::{Deduplicator, Verifier, WebhookError, WebhookEvent, WebhookSecret};
use topcalls_api::{Client, NewCall, NewWebhookSubscription};
use topcalls_sandbox::{ClockMode, Sandbox};

#[derive(Clone, Default)]
struct Receiver {
    /// (path, headers, body) of every request.
    seen: Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>>,
    /// How many requests to `/flaky` still answer 500.
    failures_left: Arc<AtomicUsize>,
}

async fn hook(
    State(receiver): State<Receiver>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    receiver
        .seen
        .lock()
        .unwrap()
        .push((name.clone(), headers, body));
    if name == "flaky" && receiver.failures_left.load(Ordering::SeqCst) > 0 {
        receiver.failures_left.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

async fn start_receiver(receiver: Receiver) -> String {
    let app = axum::Router::new()
        .route("/hooks/{name}", axum::routing::post(hook))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

impl Receiver {
    fn requests(&self, name: &str) -> Vec<(HeaderMap, Bytes)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, h, b)| (h.clone(), b.clone()))
            .collect()
    }
}

/// A sandbox on a manual clock, and a receiver serving `{url}/hooks/{name}`.
async fn setup() -> (Sandbox, Receiver, String) {
    let sandbox = Sandbox::builder()
        .clock(ClockMode::Manual)
        .start()
        .await
        .unwrap();
    let receiver = Receiver::default();
    let url = start_receiver(receiver.clone()).await;
    (sandbox, receiver, url)
}

fn client(sandbox: &Sandbox) -> Client {
    Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_delivers_signed_events_in_order_and_bad_deliveries_are_rejected() {
    let (sandbox, receiver, url) = setup().await;
    let client = client(&sandbox);
    client
        .calls()
        .create(
            NewCall::to("+15551234567")
                .task("Confirm the appointment for tomorrow.")
                .webhook(format!("{url}/hooks/call"), []),
        )
        .await
        .unwrap();
    sandbox.settle().await;
    assert_eq!(receiver.requests("call").len(), 1, "call.queued");
    sandbox.advance(Duration::from_secs(5));
    sandbox.settle().await;
    assert_eq!(receiver.requests("call").len(), 2, "call.started");
    sandbox.advance(Duration::from_secs(120));
    sandbox.settle().await;
    assert_eq!(receiver.requests("call").len(), 3, "call.completed");

    let verifier = Verifier::new(WebhookSecret::new(sandbox.webhook_secret()).unwrap());
    let dedup = Deduplicator::new(100);
    let mut names = Vec::new();
    for (headers, body) in receiver.requests("call") {
        let delivery = verifier.verify_and_parse(&headers, &body).unwrap();
        assert!(dedup.first_seen(&delivery.id));
        names.push(delivery.event.name().to_string());
        if let WebhookEvent::CallCompleted(event) = &delivery.event {
            assert!(event.transcript.as_ref().is_some_and(|t| !t.is_empty()));
            assert!(event.call_summary.is_some());
        }
    }
    assert_eq!(names, ["call.queued", "call.started", "call.completed"]);

    let (headers, body) = receiver.requests("call").pop().unwrap();
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    assert!(matches!(
        verifier.verify(&headers, &tampered),
        Err(WebhookError::BadSignature)
    ));
    let stranger = Verifier::new(WebhookSecret::generate());
    assert!(matches!(
        stranger.verify(&headers, &body),
        Err(WebhookError::BadSignature)
    ));
    let sent_at: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(matches!(
        verifier
            .clone()
            .clock(move || UNIX_EPOCH + Duration::from_secs((sent_at + 3600).unsigned_abs()))
            .verify(&headers, &body),
        Err(WebhookError::TimestampTooOld)
    ));
    let replayed = verifier.verify(&headers, &body).unwrap();
    assert!(
        !dedup.first_seen(&replayed.id),
        "a replayed id is recognised"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_the_retry_schedule_then_succeeds() {
    let (sandbox, receiver, url) = setup().await;
    receiver.failures_left.store(2, Ordering::SeqCst);
    client(&sandbox)
        .calls()
        .create(
            NewCall::to("+15551234567")
                .task("Confirm the appointment for tomorrow.")
                .webhook(
                    format!("{url}/hooks/flaky"),
                    [topcalls_api::types::CallWebhookEvent::CallQueued],
                ),
        )
        .await
        .unwrap();
    let flaky_attempts = || -> Vec<Vec<Option<u16>>> {
        sandbox
            .deliveries()
            .iter()
            .filter(|d| d.url.ends_with("/flaky"))
            .map(|d| d.attempts.clone())
            .collect()
    };
    sandbox.settle().await;
    assert_eq!(flaky_attempts(), [vec![Some(500)]]);
    // Not a second before the first retry is due (1 minute after the attempt)...
    sandbox.advance(Duration::from_secs(59));
    sandbox.settle().await;
    assert_eq!(flaky_attempts(), [vec![Some(500)]]);
    // ...then it comes.
    sandbox.advance(Duration::from_secs(1));
    sandbox.settle().await;
    assert_eq!(flaky_attempts(), [vec![Some(500), Some(500)]]);
    sandbox.advance(Duration::from_secs(5 * 60 - 1));
    sandbox.settle().await;
    assert_eq!(receiver.requests("flaky").len(), 2);
    sandbox.advance(Duration::from_secs(1));
    sandbox.settle().await;
    assert_eq!(receiver.requests("flaky").len(), 3);
    let deliveries = sandbox.deliveries();
    let flaky: Vec<_> = deliveries
        .iter()
        .filter(|d| d.url.ends_with("/flaky"))
        .collect();
    assert_eq!(flaky.len(), 1, "only the selected event is delivered");
    assert_eq!(flaky[0].attempts, [Some(500), Some(500), Some(200)]);
    assert!(flaky[0].delivered);
    let ids: Vec<String> = receiver
        .requests("flaky")
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_string())
        .collect();
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "retries carry the same webhook-id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_deliver_only_matching_events() {
    let (sandbox, receiver, url) = setup().await;
    let client = client(&sandbox);
    let subscribe = |name: &str, event: &str, key: &str, value: serde_json::Value| {
        NewWebhookSubscription::new(event, format!("{url}/hooks/{name}")).filter(key, value)
    };
    for sub in [
        subscribe(
            "exact",
            "call.completed",
            "phone_number",
            json!("+15551112222"),
        ),
        subscribe(
            "anyof",
            "call.completed",
            "answered_by",
            json!(["voicemail", "ivr"]),
        ),
        subscribe("like", "call.completed", "phone_number", json!("+1555111%")),
        subscribe("conversion", "call.completed", "is_conversion", json!(true)),
        subscribe(
            "disposition",
            "call.completed.confirmed",
            "phone_number",
            json!("+1555%"),
        ),
    ] {
        client.webhook_subscriptions().create(sub).await.unwrap();
    }
    for to in ["+15551112222", "+15551113333", "+15550000005"] {
        client
            .calls()
            .create(NewCall::to(to).task("Confirm the appointment for tomorrow."))
            .await
            .unwrap();
    }
    let draft = client
        .campaigns()
        .list()
        .page()
        .await
        .unwrap()
        .data
        .into_iter()
        .find(|c| c.status == topcalls_api::types::CampaignStatus::Draft)
        .unwrap();
    client.campaigns().start(&draft.id).await.unwrap();
    for _ in 0..30 {
        sandbox.advance(Duration::from_secs(60));
    }
    sandbox.settle().await;
    assert!(sandbox.deliveries().iter().all(|d| d.delivered));
    let phones = |name: &str| -> Vec<String> {
        let mut phones: Vec<String> = receiver
            .requests(name)
            .iter()
            .map(|(_, body)| {
                serde_json::from_slice::<serde_json::Value>(body).unwrap()["phone_number"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        phones.sort();
        phones
    };
    assert_eq!(phones("exact"), ["+15551112222"]);
    assert_eq!(phones("anyof"), ["+15550000005"], "the voicemail call");
    assert_eq!(phones("like"), ["+15551112222", "+15551113333"]);
    assert_eq!(
        receiver.requests("conversion").len(),
        6,
        "the campaign's six confirmed leads"
    );
    let dispositions = receiver.requests("disposition");
    assert_eq!(
        dispositions.len(),
        2 + 6,
        "confirmed calls only: two direct, six from the campaign"
    );
    let body: serde_json::Value = serde_json::from_slice(&dispositions[0].1).unwrap();
    assert_eq!(body["event"], "call.completed.confirmed");
}

#[tokio::test]
async fn the_axum_extractor_answers_401_for_bad_signatures_and_400_for_malformed_deliveries() {
    use topcalls_api::webhooks::{VerifiedWebhook, sign_headers};

    async fn handler(VerifiedWebhook(delivery): VerifiedWebhook) -> String {
        delivery.event.name().to_string()
    }
    let secret = WebhookSecret::generate();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(handler))
        .with_state(Verifier::new(secret.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let body = br#"{"event":"call.queued","call_id":"c_1"}"#.to_vec();
    let send = |headers: HeaderMap, body: Vec<u8>| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let response = http
                .post(url)
                .headers(headers)
                .body(body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };

    assert_eq!(
        send(sign_headers(&secret, "msg_1", now, &body), body.clone()).await,
        (200, "call.queued".to_string())
    );
    let (status, reason) = send(
        sign_headers(&WebhookSecret::generate(), "msg_1", now, &body),
        body.clone(),
    )
    .await;
    assert_eq!((status, reason.as_str()), (401, "no signature matches"));
    assert_eq!(
        send(
            sign_headers(&secret, "msg_1", now - 3600, &body),
            body.clone()
        )
        .await
        .0,
        401
    );
    let (status, reason) = send(HeaderMap::new(), body.clone()).await;
    assert_eq!(
        (status, reason.as_str()),
        (400, "missing `webhook-id` header")
    );
    let junk = b"not json".to_vec();
    assert_eq!(
        send(sign_headers(&secret, "msg_2", now, &junk), junk)
            .await
            .0,
        400
    );
}
