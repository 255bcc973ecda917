//! The sandbox behaves like the service, and every answer it gives in these
//! tests matches openapi.yaml's schema for that operation and status.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use topcalls_sandbox::Sandbox;

mod common;
use common::{Api, call_body, curl, manual, manual_with_balance};

#[tokio::test]
async fn a_call_runs_through_its_lifecycle_and_is_billed() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let created = api
        .post("/v1/calls", key, Some(call_body("+15551234567")))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["status"], "queued");
    let id = created.body["call_id"].as_str().unwrap().to_string();
    let balance = api.get("/v1/balance", key).await.body;
    assert_eq!(balance["reserved_minutes"], 10.0);

    sandbox.advance(Duration::from_secs(5));
    let call = api.get(&format!("/v1/calls/{id}"), key).await.body;
    assert_eq!(
        (call["status"].as_str(), call["call_status"].as_str()),
        (Some("in_progress"), Some("in-progress"))
    );

    sandbox.advance(Duration::from_secs(120));
    let call = api.get(&format!("/v1/calls/{id}"), key).await.body;
    assert_eq!(call["status"], "completed");
    assert_eq!(call["answered_by"], "human");
    assert_eq!(call["completed"], true);
    assert_eq!(call["duration"], 1.5);
    assert!(call["transcript"].as_array().unwrap().len() >= 3);
    assert!(
        call["transcript"][2]["text"]
            .as_str()
            .unwrap()
            .contains("Confirm tomorrow's appointment")
    );
    assert!(call["call_summary"].as_str().unwrap().contains("Sam"));
    assert!(call["recording_url"].is_string());
    let balance = api.get("/v1/balance", key).await.body;
    assert_eq!(balance["reserved_minutes"], 0.0);
    assert_eq!(balance["used_minutes"], 1.5);
    assert_eq!(balance["remaining_minutes"], 498.5);
}

#[tokio::test]
async fn reserved_numbers_give_their_outcomes() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let cases = [
        ("+15550000001", "failed", "busy"),
        ("+15550000002", "failed", "no-answer"),
        ("+15550000003", "failed", "failed"),
        ("+15550000004", "failed", "rejected"),
        ("+15550000005", "completed", "completed"),
        ("+15550000006", "failed", "dispatch_timeout"),
    ];
    let mut ids = Vec::new();
    for (number, _, _) in cases {
        ids.push(
            api.post("/v1/calls", key, Some(call_body(number)))
                .await
                .body["call_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    sandbox.advance(Duration::from_secs(600));
    for ((number, status, telephony), id) in cases.iter().zip(&ids) {
        let call = api.get(&format!("/v1/calls/{id}"), key).await.body;
        assert_eq!(call["status"], *status, "{number}");
        assert_eq!(call["call_status"], *telephony, "{number}");
    }
    let voicemail = api.get(&format!("/v1/calls/{}", ids[4]), key).await.body;
    assert_eq!(voicemail["answered_by"], "voicemail");
    let busy = api.get("/v1/calls?status=busy", key).await.body;
    assert_eq!(busy["data"].as_array().unwrap().len(), 1);
    let undialable = api
        .post("/v1/calls", key, Some(call_body("+9991234567")))
        .await;
    assert_eq!(undialable.status, 400);
    assert_eq!(undialable.body["errors"][0]["path"], "phone_number");
}

#[tokio::test]
async fn keys_scopes_and_accounts_are_enforced() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    assert_eq!(
        api.send(Method::GET, "/v1/calls", None, None, &[])
            .await
            .status,
        401
    );
    assert_eq!(api.get("/v1/calls", "tc_test_not_a_key").await.status, 401);
    let forbidden = api
        .post(
            "/v1/calls",
            sandbox.read_only_key(),
            Some(call_body("+15551234567")),
        )
        .await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        api.get("/v1/balance", sandbox.read_only_key()).await.status,
        200
    );
    let id = api
        .post(
            "/v1/calls",
            sandbox.api_key(),
            Some(call_body("+15551234567")),
        )
        .await
        .body["call_id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = api
        .get(&format!("/v1/calls/{id}"), sandbox.other_account_key())
        .await;
    assert_eq!(
        other.status, 404,
        "another account's call is not found, not forbidden"
    );
    assert!(!other.body.to_string().contains(&id[..8]) || other.body["detail"] == "call not found");
}

#[tokio::test]
async fn idempotency_keys_replay_and_never_take_effect_twice() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let headers = [("idempotency-key", "order-4711-reminder")];
    let first = api.create_call(key, "+15551234567", &headers).await;
    let again = api.create_call(key, "+15551234567", &headers).await;
    assert_eq!(first.status, 201);
    assert_eq!(again.status, 201);
    assert_eq!(first.body, again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert!(!first.headers.contains_key("idempotent-replayed"));
    assert_eq!(sandbox.calls_count(), 1);

    let other_body = api.create_call(key, "+15557777777", &headers).await;
    assert_eq!(other_body.status, 409);
    assert!(
        other_body.body["type"]
            .as_str()
            .unwrap()
            .ends_with("idempotency_key_reused")
    );

    // The same key from another account is another key.
    let elsewhere = api
        .create_call(sandbox.other_account_key(), "+15551234567", &headers)
        .await;
    assert_eq!(elsewhere.status, 201);

    // Many concurrent requests with one key: exactly one call.
    let before = sandbox.calls_count();
    let attempts = futures::future::join_all((0..20).map(|_| {
        api.create_call(
            key,
            "+15551234567",
            &[("idempotency-key", "concurrent-key-1")],
        )
    }))
    .await;
    assert_eq!(sandbox.calls_count(), before + 1);
    assert!(
        attempts.iter().all(|a| a.status == 201 || a.status == 409),
        "{:?}",
        attempts.iter().map(|a| a.status).collect::<Vec<_>>()
    );

    let bad = api
        .create_call(key, "+15551234567", &[("idempotency-key", "bad key")])
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn pagination_is_newest_first_and_stable_under_inserts() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(
            api.post("/v1/calls", key, Some(call_body("+15551234567")))
                .await
                .body["call_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let first = api.get("/v1/calls?limit=3", key).await.body;
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    // A call placed between pages shows up on the first page, not later ones.
    api.post("/v1/calls", key, Some(call_body("+15551234567")))
        .await;
    let second = api
        .get(&format!("/v1/calls?limit=3&cursor={cursor}"), key)
        .await
        .body;
    let third = api
        .get(
            &format!(
                "/v1/calls?limit=3&cursor={}",
                second["next_cursor"].as_str().unwrap()
            ),
            key,
        )
        .await
        .body;
    assert!(third["next_cursor"].is_null());
    let seen: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|page| {
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string())
        })
        .collect();
    created.reverse();
    assert_eq!(seen, created);
    for bad in ["limit=0", "limit=201", "limit=ten", "cursor=garbage"] {
        let answer = api.get(&format!("/v1/calls?{bad}"), key).await;
        assert_eq!(answer.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn invalid_input_of_any_shape_is_a_problem_naming_the_field() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let cases = [
        (
            json!({"task": "Confirm tomorrow's appointment."}),
            "phone_number",
        ),
        (
            json!({"phone_number": "555-1234", "task": "Confirm tomorrow's appointment."}),
            "phone_number",
        ),
        (
            json!({"phone_number": 15551234567u64, "task": "Confirm tomorrow's appointment."}),
            "phone_number",
        ),
        (
            json!({"phone_number": "+15551234567", "task": "short"}),
            "task",
        ),
        (json!({"phone_number": "+15551234567"}), "task"),
        (
            json!({"phone_number": "+15551234567", "task": "Confirm tomorrow's appointment.", "temperature": 9}),
            "temperature",
        ),
        (
            json!({"phone_number": "+15551234567", "task": "Confirm tomorrow's appointment.", "max_duration": 0}),
            "max_duration",
        ),
        (
            json!({"phone_number": "+15551234567", "task": "Confirm tomorrow's appointment.", "mode": "psychic"}),
            "mode",
        ),
        (json!([1, 2, 3]), "body"),
    ];
    for (body, field) in cases {
        let answer = api.post("/v1/calls", key, Some(body.clone())).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(
            answer.body["errors"][0]["path"], field,
            "{body}: {}",
            answer.body
        );
    }
    let raw = api
        .http
        .post(format!("{}/v1/calls", api.base))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(raw.headers()["content-type"], "application/problem+json");
    assert_eq!(api.get("/v1/nothing-here", key).await.status, 404);
    assert_eq!(
        api.send(Method::PUT, "/v1/calls", Some(key), None, &[])
            .await
            .status,
        405
    );
    assert_eq!(api.get("/v1/calls/does-not-exist", key).await.status, 404);
}

#[tokio::test]
async fn stop_cancel_and_campaigns_follow_their_state_rules() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let id = api
        .post("/v1/calls", key, Some(call_body("+15551234567")))
        .await
        .body["call_id"]
        .as_str()
        .unwrap()
        .to_string();
    sandbox.advance(Duration::from_secs(5));
    assert_eq!(
        api.post(&format!("/v1/calls/{id}/cancel"), key, None)
            .await
            .status,
        409,
        "an in-progress call cannot be cancelled"
    );
    let stopped = api.post(&format!("/v1/calls/{id}/stop"), key, None).await;
    assert_eq!(
        (stopped.status, stopped.body["status"].as_str()),
        (200, Some("cancelled"))
    );
    assert_eq!(
        api.post(&format!("/v1/calls/{id}/stop"), key, None)
            .await
            .status,
        409
    );
    let queued = api
        .post("/v1/calls", key, Some(call_body("+15551234567")))
        .await
        .body["call_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        api.post(&format!("/v1/calls/{queued}/cancel"), key, None)
            .await
            .status,
        200
    );

    let campaigns = api.get("/v1/campaigns", key).await.body;
    let draft = campaigns["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "draft")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let completed = campaigns["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "completed")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        api.post(&format!("/v1/campaigns/{draft}/pause"), key, None)
            .await
            .status,
        409
    );
    assert_eq!(
        api.post(&format!("/v1/campaigns/{completed}/start"), key, None)
            .await
            .status,
        409
    );
    assert_eq!(
        api.post(&format!("/v1/campaigns/{draft}/start"), key, None)
            .await
            .status,
        200
    );
    let running = api.get(&format!("/v1/campaigns/{draft}"), key).await.body;
    assert_eq!(running["status"], "running");
    assert_eq!(
        running["stats"]["calls_made"], 2,
        "max_concurrent_calls = 2 calls at a time"
    );
    for _ in 0..20 {
        sandbox.advance(Duration::from_secs(60));
    }
    let done = api.get(&format!("/v1/campaigns/{draft}"), key).await.body;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["stats"]["calls_made"], 6);
    assert_eq!(done["stats"]["conversions"], 6);
    let calls = api
        .get(&format!("/v1/calls?campaign_id={draft}&limit=200"), key)
        .await
        .body;
    assert_eq!(calls["data"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn numbers_carriers_catalog_and_quota() {
    let sandbox = manual_with_balance(12.0).await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let added = api
        .post(
            "/v1/phone-numbers",
            key,
            Some(json!({"number": "+15558675309", "label": "Support"})),
        )
        .await;
    assert_eq!(added.status, 201);
    assert_eq!(
        api.post(
            "/v1/phone-numbers",
            key,
            Some(json!({"number": "+15558675309"}))
        )
        .await
        .status,
        409
    );
    assert_eq!(
        api.post(
            "/v1/phone-numbers",
            key,
            Some(json!({"number": "+99912345"}))
        )
        .await
        .status,
        400
    );
    let id = added.body["id"].as_str().unwrap();
    assert_eq!(
        api.get(&format!("/v1/phone-numbers/{id}"), key)
            .await
            .status,
        200
    );
    assert_eq!(
        api.delete(&format!("/v1/phone-numbers/{id}"), key)
            .await
            .status,
        204
    );
    assert_eq!(
        api.get(&format!("/v1/phone-numbers/{id}"), key)
            .await
            .status,
        404
    );
    let listed = api.get("/v1/phone-numbers", key).await.body;
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["id"] != id)
    );

    let carrier = json!({"carrier_name": "Acme SIP", "sip_gateway": {"ipv4": "203.0.113.7", "port": 5060, "inbound": true, "outbound": true},
                         "trunk_type": "reg", "registration": {"username": "u", "password": "secret-pass"}});
    let created = api
        .post("/v1/phone-numbers/carriers", key, Some(carrier))
        .await;
    assert_eq!(created.status, 201);
    assert!(
        !created.body.to_string().contains("secret-pass"),
        "passwords are never echoed"
    );
    // A hostname is refused for an inbound gateway only (the docs' rule).
    for (gateway, path) in [
        (
            json!({"ipv4": "sip.myprovider.com", "port": 5060, "inbound": true, "outbound": true}),
            "sip_gateway.ipv4",
        ),
        (
            json!({"ipv4": "203.0.113.999", "outbound": true}),
            "sip_gateway.ipv4",
        ),
        (
            json!({"ipv4": "sip..example.com", "outbound": true}),
            "sip_gateway.ipv4",
        ),
        (json!({"ipv4": "", "outbound": true}), "sip_gateway.ipv4"),
        (
            json!({"ipv4": "203.0.113.7", "port": 70000}),
            "sip_gateway.port",
        ),
    ] {
        let rejected = api
            .post(
                "/v1/phone-numbers/carriers",
                key,
                Some(json!({"carrier_name": "Acme", "sip_gateway": gateway})),
            )
            .await;
        assert_eq!(
            (rejected.status, rejected.body["errors"][0]["path"].as_str()),
            (400, Some(path)),
            "{gateway}: {}",
            rejected.body
        );
    }
    let outbound = api
        .post(
            "/v1/phone-numbers/carriers",
            key,
            Some(json!({"carrier_name": "My VoIP Provider", "trunk_type": "static_ip",
                        "sip_gateway": {"ipv4": "sip.myprovider.com", "inbound": false, "outbound": true}})),
        )
        .await;
    assert_eq!(outbound.status, 201, "{}", outbound.body);
    let listed = api.get("/v1/phone-numbers/carriers", key).await.body;
    let gateway = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == outbound.body["id"])
        .unwrap()["sip_gateway"]
        .clone();
    assert_eq!(
        gateway,
        json!({"ipv4": "sip.myprovider.com", "port": 5060, "inbound": false, "outbound": true})
    );
    let carrier_id = created.body["id"].as_str().unwrap();
    assert_eq!(
        api.delete(&format!("/v1/phone-numbers/carriers/{carrier_id}"), key)
            .await
            .status,
        204
    );
    assert_eq!(
        api.get("/v1/phone-numbers/carriers", key).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "the seeded carrier and the outbound one"
    );

    assert!(
        !api.get("/v1/models", key).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let realtime = api
        .get("/v1/voices/builtin?mode=realtime&gender=female", key)
        .await
        .body;
    assert!(
        realtime["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["mode"] == "realtime" && v["gender"] == "female")
    );
    assert!(
        api.get("/v1/voices", key).await.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["type"] == "cloned")
    );
    let sub = api.post("/v1/webhooks", key, Some(json!({"event": "call.completed", "url": "http://127.0.0.1:9/hook", "filters": {"phone_number": "+1555%"}}))).await;
    assert_eq!(sub.status, 201);

    // 12 minutes: one 10-minute reservation fits, the second does not.
    assert_eq!(
        api.post("/v1/calls", key, Some(call_body("+15551234567")))
            .await
            .status,
        201
    );
    let refused = api
        .post("/v1/calls", key, Some(call_body("+15551234567")))
        .await;
    assert_eq!(refused.status, 402);
    assert_eq!(
        refused.body["detail"],
        "You need 10 minutes but have 2 remaining"
    );
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let sandbox = Sandbox::builder().rate_limit(3).start().await.unwrap();
    let api = Api::new(&sandbox);
    for _ in 0..3 {
        assert_eq!(api.get("/v1/models", sandbox.api_key()).await.status, 200);
    }
    let limited = api.get("/v1/models", sandbox.api_key()).await;
    assert_eq!(limited.status, 429);
    assert!(
        limited.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(
        api.get("/v1/models", sandbox.read_only_key()).await.status,
        200,
        "limits are per key"
    );
}

#[tokio::test]
async fn the_documented_quick_start_works_with_plain_curl() {
    let sandbox = Sandbox::start().await.unwrap();
    let auth = format!("Authorization: Bearer {}", sandbox.api_key());
    let base = sandbox.base_url();
    let created = curl(vec![
        "-X".into(), "POST".into(), format!("{base}/v1/calls"),
        "-H".into(), auth.clone(),
        "-H".into(), "Content-Type: application/json".into(),
        "-d".into(), r#"{"phone_number": "+15551234567", "task": "Call and confirm the dentist appointment for tomorrow at 10am", "voice": "alloy"}"#.into(),
    ])
    .await;
    let id = created["call_id"].as_str().unwrap().to_string();
    let call = curl(vec![
        format!("{base}/v1/calls/{id}"),
        "-H".into(),
        auth.clone(),
    ])
    .await;
    assert_eq!(call["id"], id.as_str());
    let list = curl(vec![format!("{base}/v1/calls"), "-H".into(), auth]).await;
    assert_eq!(list["data"][0]["id"], id.as_str());
}
