//! The sandbox answers in the shapes the TopCalls docs show: explicit nulls,
//! timestamp cursors for calls, documented phone number sources and scope
//! names, hostname gateways, the 402 of deleting a carrier, webhook bodies
//! without `event`, and the documented flows typed by hand at the binary's
//! defaults.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use topcalls_api::webhooks::{Verifier, WebhookEvent, WebhookSecret};
use topcalls_sandbox::{ClockMode, Sandbox, WebhookPayloads};

mod common;
use common::{Api, call_body, curl, manual, manual_with_balance};

fn id_of(answer: &common::Answer, key: &str) -> String {
    answer.body[key].as_str().unwrap().to_string()
}

fn timestamp(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn documented_nullable_members_are_sent_as_null() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let call_id = id_of(
        &api.post("/v1/calls", key, Some(call_body("+15551234567")))
            .await,
        "call_id",
    );
    let call = api.get(&format!("/v1/calls/{call_id}"), key).await.body;
    for member in [
        "campaign_id",
        "lead_id",
        "error_message",
        "call_status",
        "duration",
        "recording_url",
        "call_summary",
        "answered_by",
        "started_at",
        "end_at",
    ] {
        assert_eq!(call.get(member), Some(&Value::Null), "{member}: {call}");
    }
    let listed = api.get("/v1/calls", key).await.body;
    assert_eq!(listed["data"][0]["campaign_id"], Value::Null);
    assert!(
        listed["data"][0]
            .as_object()
            .unwrap()
            .contains_key("lead_id")
    );

    let number = api
        .post(
            "/v1/phone-numbers",
            key,
            Some(json!({"number": "+15558675309"})),
        )
        .await
        .body;
    assert_eq!(
        number["source"], "topcalls",
        "the documented source, not `manual`"
    );
    for member in [
        "voip_carrier_sid",
        "carrier_name",
        "label",
        "error_message",
        "created_by_user_id",
    ] {
        assert_eq!(number.get(member), Some(&Value::Null), "{member}: {number}");
    }
    let subscription = api
        .post(
            "/v1/webhooks",
            key,
            Some(json!({"event": "call.completed", "url": "http://127.0.0.1:9/hook"})),
        )
        .await
        .body;
    assert_eq!(subscription.get("deleted_at"), Some(&Value::Null));
}

#[tokio::test]
async fn the_calls_cursor_is_a_timestamp_that_pages_without_repeats_or_gaps() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let mut created = Vec::new();
    let mut place = async |n: usize| {
        for _ in 0..n {
            let answer = api
                .post("/v1/calls", key, Some(call_body("+15551234567")))
                .await;
            created.push(id_of(&answer, "call_id"));
        }
    };
    // Seven calls in one instant, five 300 ms apart (within a second of each
    // other), then four more in one instant ten seconds later.
    place(7).await;
    for _ in 0..5 {
        sandbox.advance(Duration::from_millis(300));
        place(1).await;
    }
    sandbox.advance(Duration::from_secs(10));
    place(4).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/calls?limit=3&cursor={}", urlencode(c)),
            None => "/v1/calls?limit=3".to_string(),
        };
        let page = api.get(&path, key).await.body;
        pages += 1;
        let data = page["data"].as_array().unwrap();
        seen.extend(data.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        if pages == 1 {
            // A call placed between pages is newer than every cursor: it
            // shows on a first page, never on a later one.
            api.post("/v1/calls", key, Some(call_body("+15551234567")))
                .await;
        }
        match page["next_cursor"].as_str() {
            Some(next) => {
                // The cursor is the last call's `created_at`, an RFC 3339 timestamp.
                assert_eq!(next, data.last().unwrap()["created_at"].as_str().unwrap());
                assert!(DateTime::parse_from_rfc3339(next).is_ok(), "{next}");
                cursor = Some(next.to_string());
            }
            None => break,
        }
    }
    assert_eq!(pages, 6, "16 calls, 3 a page");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no call twice: {seen:?}");
    created.reverse();
    assert_eq!(seen, created, "every call, newest first");

    // No two calls of the account share a creation time.
    let all = api.get("/v1/calls?limit=200", key).await.body;
    let times: Vec<DateTime<Utc>> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| timestamp(&c["created_at"]))
        .collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "{times:?}");

    // The docs' plain timestamp means "calls created before it": here, the
    // twelve calls of the first second and a half, and not the four later ones.
    let first = *times.last().unwrap();
    let between = (first + chrono::Duration::seconds(5)).format("%Y-%m-%dT%H:%M:%SZ");
    let older = api
        .get(&format!("/v1/calls?limit=200&cursor={between}"), key)
        .await
        .body;
    assert_eq!(older["data"].as_array().unwrap().len(), 12);
    assert_eq!(older["next_cursor"], Value::Null);
    // Any RFC 3339 form is read, an offset (its `+` encoded) included.
    let offset = (first + chrono::Duration::seconds(5))
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339();
    let same = api
        .get(
            &format!("/v1/calls?limit=200&cursor={}", urlencode(&offset)),
            key,
        )
        .await
        .body;
    assert_eq!(same["data"], older["data"]);
    for bad in ["garbage", "cur_3", "2025-12-22", "1766400000", ""] {
        let answer = api.get(&format!("/v1/calls?cursor={bad}"), key).await;
        assert_eq!(answer.status, 400, "{bad}");
        assert_eq!(answer.body["errors"][0]["path"], "cursor");
    }
    // Campaigns and phone numbers keep their opaque cursors.
    let campaigns = api.get("/v1/campaigns?limit=1", key).await.body;
    assert!(
        campaigns["next_cursor"]
            .as_str()
            .unwrap()
            .starts_with("cur_")
    );
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn a_missing_scope_is_named_as_the_docs_spell_it() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let forbidden = api
        .post(
            "/v1/calls",
            sandbox.read_only_key(),
            Some(call_body("+15551234567")),
        )
        .await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        forbidden.body["detail"],
        "This API key does not have the calls:write scope."
    );
    let forbidden = api
        .delete("/v1/phone-numbers/carriers/any", sandbox.read_only_key())
        .await;
    assert!(
        forbidden.body["detail"]
            .as_str()
            .unwrap()
            .contains("phone_numbers:write")
    );
}

#[tokio::test]
async fn deleting_a_carrier_without_call_minutes_is_a_402_with_details() {
    let sandbox = manual_with_balance(0.0).await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let carriers = api.get("/v1/phone-numbers/carriers", key).await.body;
    let id = carriers["data"][0]["id"].as_str().unwrap().to_string();
    let refused = api
        .delete(&format!("/v1/phone-numbers/carriers/{id}"), key)
        .await;
    assert_eq!(refused.status, 402);
    assert_eq!(
        refused.body["type"],
        "https://api.topcalls.ai/errors/insufficient_quota"
    );
    assert!(
        refused.body["details"]
            .as_str()
            .unwrap()
            .contains("minutes")
    );
    // Nothing was deleted.
    let carriers = api.get("/v1/phone-numbers/carriers", key).await.body;
    assert_eq!(carriers["data"][0]["id"], id.as_str());

    // With minutes, the same request deletes.
    let funded = manual().await;
    let api = Api::new(&funded);
    let carriers = api
        .get("/v1/phone-numbers/carriers", funded.api_key())
        .await
        .body;
    let id = carriers["data"][0]["id"].as_str().unwrap();
    let deleted = api
        .delete(
            &format!("/v1/phone-numbers/carriers/{id}"),
            funded.api_key(),
        )
        .await;
    assert_eq!(deleted.status, 204);
}

#[tokio::test]
async fn the_documented_flows_work_while_a_call_is_queued() {
    // The binary's defaults in sandbox time: a call waits 60 s in the queue.
    let sandbox = Sandbox::builder()
        .clock(ClockMode::Manual)
        .queue_time(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let cancel_me = id_of(
        &api.post("/v1/calls", key, Some(call_body("+15551234567")))
            .await,
        "call_id",
    );
    let stop_me = id_of(
        &api.post("/v1/calls", key, Some(call_body("+15551234567")))
            .await,
        "call_id",
    );
    sandbox.advance(Duration::from_secs(59));
    let call = api.get(&format!("/v1/calls/{cancel_me}"), key).await.body;
    assert_eq!(call["status"], "queued");
    let cancelled = api
        .post(&format!("/v1/calls/{cancel_me}/cancel"), key, None)
        .await;
    assert_eq!(
        (cancelled.status, &cancelled.body),
        (200, &json!({"ok": true}))
    );
    let stopped = api
        .post(&format!("/v1/calls/{stop_me}/stop"), key, None)
        .await;
    assert_eq!(
        (stopped.status, &stopped.body),
        (200, &json!({"ok": true, "status": "cancelled"}))
    );
    // After the queue, a call rings and talks as before.
    let later = id_of(
        &api.post("/v1/calls", key, Some(call_body("+15551234567")))
            .await,
        "call_id",
    );
    sandbox.advance(Duration::from_secs(61));
    let call = api.get(&format!("/v1/calls/{later}"), key).await.body;
    assert_eq!(call["status"], "in_progress");
    assert_eq!(
        timestamp(&call["started_at"]) - timestamp(&call["created_at"]),
        chrono::Duration::seconds(60)
    );
}

/// The binary at its defaults, with curl, as a person following the docs
/// types it: create → get → cancel, and create → stop. Its clock is real
/// time, so this relies on what a person typing relies on: the requests come
/// within the 60-second queue (they take milliseconds; nothing here waits).
#[tokio::test]
async fn the_binary_at_its_defaults_lets_the_documented_flows_be_typed_by_hand() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_topcalls-sandbox"))
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut base, mut key) = (None, None);
    while base.is_none() || key.is_none() {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the binary prints its URL and key");
        if let Some(url) = line.strip_prefix("TOPCALLS_BASE_URL=") {
            base = Some(url.to_string());
        }
        if let Some(k) = line.strip_prefix("TOPCALLS_API_KEY=") {
            key = Some(k.to_string());
        }
    }
    let (base, auth) = (
        base.unwrap(),
        format!("Authorization: Bearer {}", key.unwrap()),
    );
    let create = || {
        vec![
            "-X".into(), "POST".into(), format!("{base}/v1/calls"),
            "-H".into(), auth.clone(),
            "-H".into(), "Content-Type: application/json".into(),
            "-d".into(), r#"{"phone_number": "+14155551234", "task": "Call to confirm John's appointment tomorrow at 3 PM"}"#.into(),
        ]
    };
    let post = |path: String| {
        vec![
            "-X".into(),
            "POST".into(),
            format!("{base}{path}"),
            "-H".into(),
            auth.clone(),
        ]
    };

    let created = curl(create()).await;
    assert_eq!(created["status"], "queued");
    let id = created["call_id"].as_str().unwrap().to_string();
    let call = curl(vec![
        format!("{base}/v1/calls/{id}"),
        "-H".into(),
        auth.clone(),
    ])
    .await;
    assert_eq!(call["status"], "queued");
    assert_eq!(
        curl(post(format!("/v1/calls/{id}/cancel"))).await,
        json!({"ok": true})
    );

    let id = curl(create()).await["call_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        curl(post(format!("/v1/calls/{id}/stop"))).await,
        json!({"ok": true, "status": "cancelled"})
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn documented_webhook_payloads_carry_no_event_and_still_parse() {
    let sandbox = Sandbox::builder()
        .clock(ClockMode::Manual)
        .webhook_payloads(WebhookPayloads::Documented)
        .start()
        .await
        .unwrap();
    let (tx, mut bodies) = mpsc::unbounded_channel::<(HeaderMap, Bytes)>();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send((headers, body));
                    StatusCode::OK
                }
            }),
        )
        .into_make_service();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let sub = api
        .post(
            "/v1/webhooks",
            key,
            Some(json!({"event": "call.completed.confirmed", "url": url})),
        )
        .await;
    assert_eq!(sub.status, 201);
    let call_id = id_of(
        &api.post("/v1/calls", key, Some(call_body("+15551234567")))
            .await,
        "call_id",
    );
    sandbox.advance(Duration::from_secs(120));

    sandbox.settle().await;
    let (headers, body) = bodies.try_recv().expect("the completed call is delivered");
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert!(json.get("event").is_none(), "{json}");
    assert_eq!(json["call_id"], call_id.as_str());
    assert_eq!(json["disposition"], "confirmed");
    assert_eq!(json["campaign_id"], Value::Null, "nulls are sent");
    let spec = &api.spec;
    let schema = json!({"$ref": "#/components/schemas/CallCompletedEvent"});
    let errors: Vec<String> = spec
        .validator(&schema)
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(spec.absent_nullable_members(&schema, &json).is_empty());

    let verifier = Verifier::new(WebhookSecret::new(sandbox.webhook_secret()).unwrap());
    let delivery = verifier.verify_and_parse(&headers, &body).unwrap();
    assert!(matches!(delivery.event, WebhookEvent::CallCompleted(_)));
    assert_eq!(delivery.event.name(), "call.completed.confirmed");
    assert_eq!(sandbox.deliveries()[0].event, "call.completed.confirmed");
}
