//! Edges: input that axum would answer in plain text, reservations on
//! refused calls, and idempotency across the 24-hour window and replays.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

mod common;
use common::{Api, call_body, manual};

#[tokio::test]
async fn unreadable_paths_and_bodies_are_problems_too() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    // Percent-encoding that is not UTF-8 names no call.
    let undecodable = api.get("/v1/calls/%FF%FE", key).await;
    assert_eq!(undecodable.status, 404);

    let huge = "x".repeat(2 << 20);
    for headers in [vec![], vec![("idempotency-key", "huge-body-0001")]] {
        let mut request = api
            .http
            .post(format!("{}/v1/calls", api.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(huge.clone());
        for (k, v) in &headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let response_headers = response.headers().clone();
        let body: serde_json::Value = response.json().await.unwrap();
        api.check(&Method::POST, "/v1/calls", status, &response_headers, &body);
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["errors"][0]["path"], "body");
    }
    assert_eq!(sandbox.calls_count(), 0);
}

#[tokio::test]
async fn a_refused_call_reserves_nothing() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let mut body = call_body("+15551234567");
    body["webhook_url"] = json!("not a url");
    let refused = api.post("/v1/calls", key, Some(body)).await;
    assert_eq!(
        (refused.status, refused.body["errors"][0]["path"].as_str()),
        (400, Some("webhook_url"))
    );
    let balance = api.get("/v1/balance", key).await.body;
    assert_eq!(balance["reserved_minutes"], 0.0);
    assert_eq!(sandbox.calls_count(), 0);
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let auth = format!("bearer {}", sandbox.api_key());
    let answer = api
        .send(
            Method::GET,
            "/v1/balance",
            None,
            None,
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(answer.status, 200);
    let wrong_scheme = format!("Basic {}", sandbox.api_key());
    let answer = api
        .send(
            Method::GET,
            "/v1/balance",
            None,
            None,
            &[("authorization", &wrong_scheme)],
        )
        .await;
    assert_eq!(answer.status, 401);
}

#[tokio::test]
async fn an_idempotency_key_is_kept_for_24_hours_of_sandbox_time() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let create = || {
        api.create_call(
            sandbox.api_key(),
            "+15551234567",
            &[("idempotency-key", "daily-reminder-0001")],
        )
    };
    let first = create().await;
    sandbox.advance(Duration::from_secs(23 * 3600 + 3599));
    let replayed = create().await;
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(replayed.body, first.body);
    assert_eq!(sandbox.calls_count(), 1);

    sandbox.advance(Duration::from_secs(1));
    let fresh = create().await;
    assert_eq!(fresh.status, 201);
    assert!(!fresh.headers.contains_key("idempotent-replayed"));
    assert_ne!(fresh.body["call_id"], first.body["call_id"]);
    assert_eq!(sandbox.calls_count(), 2, "after 24 h the key is new again");
}

#[tokio::test]
async fn a_replayed_problem_keeps_its_request_id() {
    let sandbox = topcalls_sandbox::Sandbox::builder()
        .clock(topcalls_sandbox::ClockMode::Manual)
        .balance_minutes(5.0)
        .start()
        .await
        .unwrap();
    let api = Api::new(&sandbox);
    let create = || {
        api.create_call(
            sandbox.api_key(),
            "+15551234567",
            &[("idempotency-key", "too-expensive-0001")],
        )
    };
    // `Api::send` checks that `instance` equals `X-Request-Id` on every problem.
    let first = create().await;
    assert_eq!(first.status, 402);
    let again = create().await;
    assert_eq!(again.status, 402);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.headers["x-request-id"], first.headers["x-request-id"]);
}

#[tokio::test]
async fn the_quota_problem_gives_minutes_people_can_read() {
    let sandbox = topcalls_sandbox::Sandbox::builder()
        .clock(topcalls_sandbox::ClockMode::Manual)
        .balance_minutes(20.0)
        .start()
        .await
        .unwrap();
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let id = api
        .post("/v1/calls", key, Some(call_body("+15551234567")))
        .await
        .body["call_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Connected after 3 s, stopped 37 s later: 0.6166… minutes used.
    sandbox.advance(Duration::from_secs(40));
    let stopped = api.post(&format!("/v1/calls/{id}/stop"), key, None).await;
    assert_eq!(stopped.status, 200);
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
    // 20 − 0.6166… used − 10 reserved.
    assert_eq!(
        refused.body["detail"],
        "You need 10 minutes but have 9.38 remaining"
    );
}
