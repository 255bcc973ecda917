//! Retries, idempotency keys, timeouts and deadlines, against a scripted
//! server on 127.0.0.1. No test bounds a duration from above: a wait is
//! checked by the wait the client announces (its DEBUG `retrying` event) and
//! by a lower bound, which a busy machine can only make longer.
#![allow(clippy::unwrap_used)]

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use topcalls_api::{Client, Error, NewCall, RequestOptions, RetryPolicy};
use topcalls_contract_tests::logs;
use topcalls_contract_tests::server::{Action, ScriptedServer};

fn created() -> Action {
    Action::json(
        201,
        json!({"call_id": "call_1", "provider_call_id": "p_1", "status": "queued"}),
    )
}

fn problem(status: u16, code: &str) -> serde_json::Value {
    json!({"type": format!("https://api.topcalls.ai/errors/{code}"), "title": code, "status": status, "detail": code})
}

/// A client with fast backoff so tests stay quick.
fn client(server: &ScriptedServer, retries: u32) -> Client {
    Client::builder()
        .api_key("tc_test_reliability")
        .base_url(server.url())
        .retry(
            RetryPolicy::default()
                .max_retries(retries)
                .base_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(50)),
        )
        .build()
        .unwrap()
}

/// Runs `operation` and returns its output with the waits (ms) the client
/// announced before each retry, from its DEBUG `retrying` events.
async fn announced_waits<T>(operation: impl std::future::Future<Output = T>) -> (T, Vec<u64>) {
    let (captured, guard) = logs::capture(tracing::Level::DEBUG);
    let output = operation.await;
    drop(guard);
    let waits = captured
        .text()
        .lines()
        .filter(|line| line.contains("retrying"))
        .filter_map(|line| {
            line.split("wait_ms=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    (output, waits)
}

fn new_call() -> NewCall {
    NewCall::to("+15551234567").task("Confirm the appointment for tomorrow.")
}

fn keys(server: &ScriptedServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn a_post_is_retried_with_the_same_idempotency_key() {
    let server = ScriptedServer::script(vec![
        Action::Close,
        Action::json(503, problem(503, "unavailable")),
        Action::json(500, problem(500, "internal")),
        created(),
    ])
    .await;
    let placed = client(&server, 3).calls().create(new_call()).await.unwrap();
    assert_eq!(placed.call_id, "call_1");
    let keys = keys(&server);
    assert_eq!(keys.len(), 4);
    assert!(keys[0].len() >= 8, "{keys:?}");
    assert!(
        keys.iter().all(|k| k == &keys[0]),
        "one key for every attempt: {keys:?}"
    );
}

#[tokio::test]
async fn each_logical_request_gets_its_own_key_and_a_callers_key_is_used_verbatim() {
    let server = ScriptedServer::script(vec![created()]).await;
    let client = client(&server, 0);
    client.calls().create(new_call()).await.unwrap();
    client.calls().create(new_call()).await.unwrap();
    client
        .calls()
        .create(new_call())
        .options(RequestOptions::new().idempotency_key("order-4711-reminder"))
        .await
        .unwrap();
    let keys = keys(&server);
    assert_ne!(keys[0], keys[1]);
    assert_eq!(keys[2], "order-4711-reminder");

    let error = client
        .calls()
        .create(new_call())
        .options(RequestOptions::new().idempotency_key("bad key!"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
    assert_eq!(
        server.requests().len(),
        3,
        "an invalid key is refused before sending"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn retry_after_seconds_is_waited() {
    let server = ScriptedServer::script(vec![
        Action::json_with(429, &[("retry-after", "1")], problem(429, "rate_limited")),
        created(),
    ])
    .await;
    let started = Instant::now();
    let (placed, waits) =
        announced_waits(client(&server, 2).calls().create(new_call()).into_future()).await;
    placed.unwrap();
    assert_eq!(waits, [1000], "Retry-After: 1 is the wait, not the backoff");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "and it is slept"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn retry_after_ms_is_waited() {
    let server = ScriptedServer::script(vec![
        Action::json_with(
            503,
            &[("retry-after-ms", "300")],
            problem(503, "unavailable"),
        ),
        Action::json(200, json!({"remaining_minutes": 12.5})),
    ])
    .await;
    let started = Instant::now();
    let (balance, waits) = announced_waits(client(&server, 2).balance().into_future()).await;
    assert_eq!(balance.unwrap().remaining_minutes, 12.5);
    assert_eq!(waits, [300]);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test(flavor = "current_thread")]
async fn a_retry_after_beyond_the_cap_returns_the_error_with_the_wait() {
    let server = ScriptedServer::script(vec![
        Action::json_with(429, &[("retry-after", "120")], problem(429, "rate_limited")),
        created(),
    ])
    .await;
    let (result, waits) =
        announced_waits(client(&server, 2).calls().create(new_call()).into_future()).await;
    let error = result.unwrap_err();
    assert!(waits.is_empty(), "no wait at all: {waits:?}");
    assert!(error.is_rate_limited(), "{error:?}");
    assert_eq!(
        error.as_api().unwrap().retry_after(),
        Some(Duration::from_secs(120))
    );
    assert!(error.idempotency_key().is_some());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn non_retryable_statuses_are_tried_once() {
    for (status, code) in [
        (400, "invalid_request"),
        (401, "unauthorized"),
        (402, "insufficient_quota"),
        (403, "forbidden"),
        (404, "not_found"),
        (409, "idempotency_key_reused"),
        (409, "invalid_state"),
        (422, "unprocessable"),
    ] {
        let server =
            ScriptedServer::script(vec![Action::json(status, problem(status, code)), created()])
                .await;
        let error = client(&server, 3)
            .calls()
            .create(new_call())
            .await
            .unwrap_err();
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status), "{code}");
        assert_eq!(
            server.requests().len(),
            1,
            "{status} {code} must not be retried"
        );
    }
}

#[tokio::test]
async fn retryable_statuses_are_retried() {
    for (status, code) in [
        (408, "timeout"),
        (429, "rate_limited"),
        (500, "internal"),
        (502, "bad_gateway"),
        (503, "unavailable"),
        (504, "gateway_timeout"),
        (409, "idempotency_key_in_use"),
    ] {
        let server =
            ScriptedServer::script(vec![Action::json(status, problem(status, code)), created()])
                .await;
        client(&server, 1)
            .calls()
            .create(new_call())
            .await
            .unwrap_or_else(|e| panic!("{status} {code}: {e:?}"));
        let keys = keys(&server);
        assert_eq!(keys.len(), 2, "{status} {code}");
        assert_eq!(keys[0], keys[1]);
    }
}

#[tokio::test]
async fn retries_stop_at_the_budget() {
    let server = ScriptedServer::script(vec![Action::json(503, problem(503, "unavailable"))]).await;
    let error = client(&server, 3).calls().get("call_1").await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(server.requests().len(), 4, "1 attempt + 3 retries");

    let server = ScriptedServer::script(vec![Action::json(503, problem(503, "unavailable"))]).await;
    client(&server, 0).calls().get("call_1").await.unwrap_err();
    assert_eq!(server.requests().len(), 1, "0 retries disables retrying");
}

#[tokio::test]
async fn a_lost_answer_says_the_call_may_have_been_placed_and_gives_the_key() {
    let server = ScriptedServer::script(vec![Action::Close, created()]).await;
    let client = client(&server, 0);
    let error = client.calls().create(new_call()).await.unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert!(error.may_have_taken_effect());
    let key = error.idempotency_key().unwrap().to_string();
    assert_eq!(keys(&server)[0], key);

    // Repeating the operation with that key is safe: the server deduplicates.
    let placed = client
        .calls()
        .create(new_call())
        .options(error.retry_options().unwrap())
        .await
        .unwrap();
    assert_eq!(placed.call_id, "call_1");
    assert_eq!(keys(&server)[1], key);
}

#[tokio::test]
async fn nothing_sent_means_nothing_taken_effect() {
    // A port with no listener: the connection is refused before sending.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = Client::builder()
        .api_key("tc_test_k")
        .base_url(url)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let error = client.calls().create(new_call()).await.unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert!(!error.may_have_taken_effect(), "{error:?}");
}

#[tokio::test]
async fn the_deadline_holds_across_attempts() {
    let server = ScriptedServer::script(vec![Action::Hang]).await;
    let client = Client::builder()
        .api_key("tc_test_k")
        .base_url(server.url())
        .request_timeout(Duration::from_secs(30))
        .deadline(Duration::from_millis(400))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.calls().create(new_call()).await.unwrap_err();
    // The server never answers and the attempt timeout is 30 s: only the
    // deadline can have ended it, and not before its time.
    assert!(matches!(error, Error::Deadline(_)), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(error.may_have_taken_effect());
    assert!(error.idempotency_key().is_some());
}

#[tokio::test]
async fn a_server_that_never_answers_cannot_hang_the_client() {
    let server = ScriptedServer::script(vec![Action::Hang]).await;
    let client = Client::builder()
        .api_key("tc_test_k")
        .base_url(server.url())
        .request_timeout(Duration::from_millis(200))
        .retry(
            RetryPolicy::default()
                .max_retries(1)
                .base_delay(Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    // Both attempts end by their own timeout: the server holds them forever.
    let error = client.balance().await.unwrap_err();
    match &error {
        Error::Transport(t) => {
            assert!(t.is_timeout(), "{error:?}");
            assert_eq!(t.attempts(), 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn pagination_yields_every_call_once_in_order_and_take_stops_early() {
    const TOTAL: usize = 10_000;
    let server = ScriptedServer::start(|_, request| {
        let limit: usize = request.query("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
        let start: usize = request.query("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
        let end = (start + limit).min(TOTAL);
        let data: Vec<_> = (start..end)
            .map(|i| json!({"id": format!("call_{i:05}"), "status": "completed", "created_at": "2025-12-22T10:30:00Z"}))
            .collect();
        let next = (end < TOTAL).then(|| end.to_string());
        Action::json(200, json!({"data": data, "next_cursor": next}))
    })
    .await;
    let client = client(&server, 0);
    let mut expected = 0;
    let mut stream = Box::pin(client.calls().list().limit(200).stream());
    while let Some(call) = stream.next().await {
        assert_eq!(call.unwrap().id, format!("call_{expected:05}"));
        expected += 1;
    }
    assert_eq!(expected, TOTAL);
    assert_eq!(server.requests().len(), TOTAL / 200);

    let before = server.requests().len();
    let five: Vec<_> = client.calls().list().stream().take(5).collect().await;
    assert_eq!(five.len(), 5);
    assert_eq!(
        server.requests().len() - before,
        1,
        ".take(5) makes one request"
    );
}

#[tokio::test]
async fn a_page_error_ends_the_stream_as_an_item() {
    let server = ScriptedServer::script(vec![
        Action::json(200, json!({"data": [{"id": "a", "status": "completed", "created_at": "2025-12-22T10:30:00Z"}], "next_cursor": "x"})),
        Action::json(404, problem(404, "not_found")),
    ])
    .await;
    let items: Vec<_> = client(&server, 0).calls().list().stream().collect().await;
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert!(items[1].as_ref().unwrap_err().is_not_found());
}

#[tokio::test]
async fn invalid_input_is_refused_before_sending() {
    let server = ScriptedServer::script(vec![created()]).await;
    let client = client(&server, 0);
    let both = NewCall::to("+15551234567")
        .task("Confirm the appointment.")
        .instructions("You are a receptionist.");
    for (request, needle) in [
        (
            NewCall::to("555-1234").task("Confirm the appointment."),
            "phone_number",
        ),
        (NewCall::to("+15551234567"), "exactly one of"),
        (both, "not both"),
        (NewCall::to("+15551234567").task("short"), "task"),
        (new_call().temperature(3.0), "temperature"),
        (new_call().max_duration_minutes(0.0), "max_duration"),
        (new_call().from_number("+0123"), "from_number"),
    ] {
        let error = client.calls().create(request).await.unwrap_err();
        assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
        assert!(error.to_string().contains(needle), "{needle}: {error}");
    }
    for id in ["", " call_1"] {
        assert!(matches!(
            client.calls().get(id).await.unwrap_err(),
            Error::InvalidRequest(_)
        ));
    }
    assert!(matches!(
        client.calls().list().limit(0).page().await.unwrap_err(),
        Error::InvalidRequest(_)
    ));
    assert!(matches!(
        client.calls().list().limit(201).page().await.unwrap_err(),
        Error::InvalidRequest(_)
    ));
    assert!(
        server.requests().is_empty(),
        "nothing may be sent for invalid input"
    );
}

#[tokio::test]
async fn error_bodies_that_are_not_problem_json_keep_status_and_text() {
    let server = ScriptedServer::script(vec![Action::Respond(
        502,
        vec![("content-type", "text/html".to_string())],
        "<html>Bad Gateway</html>".to_string(),
    )])
    .await;
    let error = client(&server, 0).calls().get("call_1").await.unwrap_err();
    let api = error.as_api().unwrap_or_else(|| panic!("{error:?}"));
    assert_eq!(api.status().as_u16(), 502);
    assert_eq!(api.body_text(), "<html>Bad Gateway</html>");
    assert!(api.problem().is_none());
    assert_eq!(api.request_id(), Some("req_0"));

    // A declared status with a problem that has extra members keeps them.
    let server = ScriptedServer::script(vec![Action::json(
        402,
        json!({"type": "https://api.topcalls.ai/errors/insufficient_quota", "title": "Insufficient quota", "status": 402,
               "detail": "You need 5 minutes but have 3.5 remaining", "details": "upgrade your plan"}),
    )])
    .await;
    let error = client(&server, 0)
        .calls()
        .create(new_call())
        .await
        .unwrap_err();
    assert!(error.is_insufficient_quota());
    let api = error.as_api().unwrap();
    assert_eq!(api.code(), Some("insufficient_quota"));
    assert_eq!(
        api.extra().get("details"),
        Some(&json!("upgrade your plan"))
    );
    assert_eq!(
        error.to_string(),
        "TopCalls API error 402 Payment Required: You need 5 minutes but have 3.5 remaining"
    );
}

#[tokio::test]
async fn a_success_body_that_does_not_decode_is_a_decode_error() {
    let server =
        ScriptedServer::script(vec![Action::json(200, json!({"data": "not a list"}))]).await;
    let error = client(&server, 0).models().await.unwrap_err();
    match &error {
        Error::Decode(decode) => {
            assert!(String::from_utf8_lossy(decode.body()).contains("not a list"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(error.request_id(), Some("req_0"));
    assert_eq!(error.status().map(|s| s.as_u16()), Some(200));
}

#[tokio::test]
async fn every_response_reports_its_request_id_to_observers() {
    let server = ScriptedServer::script(vec![
        Action::json(503, problem(503, "unavailable")),
        created(),
        Action::json(404, problem(404, "not_found")),
    ])
    .await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let client = Client::builder()
        .api_key("tc_test_k")
        .base_url(server.url())
        .retry(RetryPolicy::default().base_delay(Duration::from_millis(5)))
        .on_response(move |info| sink.lock().unwrap().push(info.clone()))
        .build()
        .unwrap();
    client.calls().create(new_call()).await.unwrap();
    client.calls().get("call_1").await.unwrap_err();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].operation, seen[0].status, seen[0].attempts),
        ("create_call", Some(201), 2)
    );
    assert_eq!(
        seen[0].request_id.as_deref(),
        Some("req_1"),
        "the successful attempt's id"
    );
    assert_eq!(
        seen[0].idempotency_key.as_deref(),
        Some(keys(&server)[0].as_str())
    );
    assert_eq!(
        (
            seen[1].operation,
            seen[1].status,
            seen[1].request_id.as_deref()
        ),
        ("get_call", Some(404), Some("req_2"))
    );
}

#[tokio::test]
async fn generated_builders_send_what_the_client_sends_with_the_same_keys_and_retries() {
    let server = ScriptedServer::script(vec![
        created(),
        Action::Close,
        Action::json(503, problem(503, "unavailable")),
        created(),
    ])
    .await;
    let client = client(&server, 3);
    let body = topcalls_api::types::CreateCallRequest::try_from(new_call()).unwrap();
    client.calls().create(new_call()).await.unwrap();
    let placed = client
        .send(client.raw().create_call().body(body))
        .await
        .unwrap();
    assert_eq!(placed.call_id, "call_1");

    let requests = server.requests();
    assert_eq!(requests.len(), 4, "one by the client, three by the builder");
    let (ours, theirs) = (&requests[0], &requests[1..]);
    for request in theirs {
        assert_eq!(
            (&request.method, &request.target, &request.body),
            (&ours.method, &ours.target, &ours.body),
            "the same request, built by the same generated code"
        );
        for header in ["authorization", "user-agent", "accept", "api-version"] {
            assert_eq!(request.header(header), ours.header(header), "{header}");
        }
    }
    let keys = keys(&server);
    assert!(
        keys[1].len() >= 8,
        "the builder's send() adds a key: {keys:?}"
    );
    assert_ne!(keys[1], keys[0], "a new logical request, a new key");
    assert!(
        keys[1..].iter().all(|k| k == &keys[1]),
        "one key for every retry of the builder's send(): {keys:?}"
    );
}
