//! The sandbox refuses what the spec refuses, in the documented order, and a
//! misbehaving client cannot hold a connection or get another key's answer:
//! authorization before idempotency replays, whole-body JSON, no `null`
//! members, 415 for bodies that are not JSON, keep-alive connections that
//! survive early answers, bounded header and body read times, `401`
//! challenges, per-operation scopes and per-account webhook secrets.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use topcalls_api::webhooks::{Verifier, WebhookSecret};
use topcalls_sandbox::{ClockMode, Sandbox};

mod common;
use common::{Answer, Api, call_body, concrete, manual};

/// The scopes of `Sandbox::read_only_key`.
const READ_ONLY_SCOPES: [&str; 3] = ["calls:read", "campaigns:read", "phone_numbers:read"];

// ---- helpers ----------------------------------------------------------------

/// A POST with a raw body and content type, checked against the spec.
async fn post_raw(
    api: &Api,
    path: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = api.http.post(format!("{}{path}", api.base)).body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    api.answer(&Method::POST, path, request).await
}

/// The path of the first field error.
fn error_path(answer: &Answer) -> &str {
    answer.body["errors"][0]["path"]
        .as_str()
        .unwrap_or_default()
}

/// The operations that take a JSON body, with a body the sandbox accepts
/// (the spec's example, with references that exist in this sandbox and no
/// address outside this machine): `(path, body)`.
async fn bodies(api: &Api, sandbox: &Sandbox) -> Vec<(String, Value)> {
    let carriers = api
        .get("/v1/phone-numbers/carriers", sandbox.api_key())
        .await;
    let carrier_sid = carriers.body["data"][0]["voip_carrier_sid"].clone();
    let mut out = Vec::new();
    for op in api.spec.operations() {
        if op.request_schema.is_none() {
            continue;
        }
        // The example with the most members, so that every member is exercised.
        let mut body = op
            .request_examples
            .iter()
            .max_by_key(|e| e.as_object().map_or(0, serde_json::Map::len))
            .cloned()
            .unwrap();
        match op.id.as_str() {
            // No delivery leaves the machine: port 9 (discard) refuses.
            "create_call" => body["webhook_url"] = json!("http://127.0.0.1:9/hook"),
            "create_phone_number" => body["voip_carrier_sid"] = carrier_sid.clone(),
            "create_webhook_subscription" => body["url"] = json!("http://127.0.0.1:9/hook"),
            _ => {}
        }
        out.push((op.path.clone(), body));
    }
    assert_eq!(out.len(), 4, "the operations with a body");
    out
}

/// Gives a phone number a fresh value, so that adding it is not a duplicate.
fn fresh(body: &mut Value, n: u32) {
    if body.get("number").is_some() {
        body["number"] = json!(format!("+1555300{n:04}"));
    }
}

/// One HTTP/1.1 connection, spoken by hand.
struct Conn {
    stream: TcpStream,
    buffered: Vec<u8>,
}

/// A response read off a [`Conn`].
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Conn {
    async fn open(sandbox: &Sandbox) -> Self {
        let address = sandbox.base_url().trim_start_matches("http://");
        Self {
            stream: TcpStream::connect(address).await.unwrap(),
            buffered: Vec::new(),
        }
    }

    /// Sends `head` (request line and headers, without the blank line) and
    /// `body`, in separate writes with the body in pieces, as a slow network
    /// would deliver them.
    async fn send(&mut self, head: &str, body: &[u8]) {
        let head = format!(
            "{head}\r\nhost: sandbox\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        self.stream.write_all(head.as_bytes()).await.unwrap();
        self.stream.flush().await.unwrap();
        for piece in body.chunks(16 * 1024) {
            self.stream.write_all(piece).await.unwrap();
            self.stream.flush().await.unwrap();
        }
    }

    /// Reads more bytes; false at end of stream (or when the peer reset it).
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buffered.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next response, or `None` when the server closed the connection first.
    async fn response(&mut self) -> Option<Raw> {
        let end = loop {
            if let Some(end) = self.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8(self.buffered[..end].to_vec()).unwrap();
        self.buffered.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.trim().to_ascii_lowercase(), value.trim().to_string())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        while self.buffered.len() < length {
            assert!(self.fill().await, "the body was cut short");
        }
        let body = self.buffered.drain(..length).collect();
        Some(Raw {
            status: status.parse().unwrap(),
            headers,
            body,
        })
    }

    /// Waits until the server closes the connection; true if it sent nothing before.
    async fn closed_silently(&mut self) -> bool {
        while self.fill().await {}
        self.buffered.is_empty()
    }
}

// ---- 6: authorization before idempotency -------------------------------------

#[tokio::test]
async fn refused_requests_store_nothing_and_every_replay_is_authorized_first() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let body = call_body("+15551234567");
    let key = [("idempotency-key", "reminder-4711-once")];
    let (full, read_only) = (sandbox.api_key(), sandbox.read_only_key());
    let post = async |api_key: Option<&str>, body: Value| {
        api.send(Method::POST, "/v1/calls", api_key, Some(body), &key)
            .await
    };

    // Refused before they ran, or invalid: none of these keeps the key.
    assert_eq!(post(None, body.clone()).await.status, 401);
    assert_eq!(post(Some(read_only), body.clone()).await.status, 403);
    let text = post_raw(
        &api,
        "/v1/calls",
        Some(full),
        Some("text/plain"),
        body.to_string(),
        &key,
    )
    .await;
    assert_eq!(text.status, 415);
    let mut invalid = body.clone();
    invalid["task"] = json!("too short");
    let invalid = post(Some(full), invalid).await;
    assert_eq!((invalid.status, error_path(&invalid)), (400, "task"));
    assert_eq!(sandbox.calls_count(), 0);

    // So the first request that runs is the full key's, with a new answer.
    let created = post(Some(full), body.clone()).await;
    assert_eq!(created.status, 201);
    assert!(!created.headers.contains_key("idempotent-replayed"));
    assert_eq!(sandbox.calls_count(), 1);

    // The answer is replayed only to a key that may create calls.
    let again = post(Some(read_only), body.clone()).await;
    assert_eq!(again.status, 403, "{}", again.body);
    assert!(!again.headers.contains_key("idempotent-replayed"));
    assert_eq!(post(None, body.clone()).await.status, 401);
    let replayed = post(Some(full), body.clone()).await;
    assert_eq!(replayed.status, 201);
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(replayed.body, created.body);
    assert_eq!(sandbox.calls_count(), 1);
}

#[tokio::test]
async fn a_forbidden_request_cannot_read_a_replay_of_another_operation_either() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = [("idempotency-key", "carrier-plus-call-1")];
    let created = api
        .create_call(sandbox.api_key(), "+15551234567", &key)
        .await;
    assert_eq!(created.status, 201);
    // The read-only key sends the very same request: refused, nothing replayed.
    for (path, body) in [
        ("/v1/calls", Some(call_body("+15551234567"))),
        ("/v1/phone-numbers", Some(json!({"number": "+15557654329"}))),
    ] {
        let refused = api
            .send(
                Method::POST,
                path,
                Some(sandbox.read_only_key()),
                body,
                &key,
            )
            .await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
        assert!(!refused.body.to_string().contains("call_id"));
    }
}

// ---- 7: the body is one JSON object, nothing after it -------------------------

#[tokio::test]
async fn trailing_data_after_the_json_object_is_refused_on_every_operation() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    for (n, (path, mut body)) in bodies(&api, &sandbox).await.into_iter().enumerate() {
        fresh(&mut body, 2 * n as u32);
        let json = body.to_string();
        for bad in [
            format!("{json}xyz"),
            format!("{json}{json}"),
            format!("{json} {{}}"),
            format!("{json}]"),
            format!("{json}\u{0}"),
        ] {
            let refused =
                post_raw(&api, &path, Some(key), Some("application/json"), bad, &[]).await;
            assert_eq!(
                (refused.status, error_path(&refused)),
                (400, "body"),
                "{path}: {}",
                refused.body
            );
            assert!(
                refused.body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("trailing characters"),
                "{}",
                refused.body
            );
        }
        // Whitespace after the object is not data.
        let accepted = post_raw(
            &api,
            &path,
            Some(key),
            Some("application/json"),
            format!("{json} \r\n\t"),
            &[],
        )
        .await;
        assert_eq!(accepted.status, 201, "{path}: {}", accepted.body);
    }
    assert_eq!(sandbox.calls_count(), 1, "only the accepted call");
}

// ---- 8: no member is nullable ---------------------------------------------------

/// The members a request schema declares, by path (`sip_gateway.port`),
/// descending into declared objects that `example` has.
fn member_paths(api: &Api, schema: &Value, example: &Value, prefix: &str, out: &mut Vec<String>) {
    let schema = api.spec.resolve(schema);
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        out.push(path.clone());
        if let Some(inner) = example.get(name).filter(|v| v.is_object()) {
            member_paths(api, property, inner, &path, out);
        }
    }
}

fn set_path(body: &mut Value, path: &str, value: Value) {
    let mut target = body;
    let mut names = path.split('.').peekable();
    while let Some(name) = names.next() {
        if names.peek().is_none() {
            target[name] = value;
            return;
        }
        target = &mut target[name];
    }
}

#[tokio::test]
async fn null_is_refused_for_every_member_the_request_schemas_declare() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let mut tested = Vec::new();
    for (n, (path, mut body)) in bodies(&api, &sandbox).await.into_iter().enumerate() {
        let op = api
            .spec
            .operations()
            .into_iter()
            .find(|op| op.method == "POST" && op.path == path)
            .unwrap();
        let mut members = Vec::new();
        member_paths(
            &api,
            op.request_schema.as_ref().unwrap(),
            &body,
            "",
            &mut members,
        );
        for member in members {
            let mut with_null = body.clone();
            set_path(&mut with_null, &member, Value::Null);
            let refused = api.post(&path, key, Some(with_null)).await;
            assert_eq!(
                (refused.status, error_path(&refused)),
                (400, member.as_str()),
                "{path} with {member}: null: {}",
                refused.body
            );
            tested.push(member);
        }
        fresh(&mut body, 2 * n as u32 + 1);
        let accepted = api.post(&path, key, Some(body)).await;
        assert_eq!(accepted.status, 201, "{path}: {}", accepted.body);
    }
    for named in [
        "voip_carrier_sid",
        "label",
        "mode",
        "temperature",
        "webhook_url",
        "voice",
        "task",
        "instructions",
        "trunk_type",
        "sip_gateway.port",
        "inbound_auth.password",
        "filters",
        "request_data",
    ] {
        assert!(tested.iter().any(|t| t == named), "{named} was not tested");
    }

    // A registration's members too (the example uses digest auth instead).
    let mut reg = json!({
        "carrier_name": "Reg SIP",
        "sip_gateway": {"ipv4": "203.0.113.20"},
        "trunk_type": "reg",
        "registration": {"username": "u", "password": "p", "realm": null},
    });
    let refused = api
        .post("/v1/phone-numbers/carriers", key, Some(reg.clone()))
        .await;
    assert_eq!(
        (refused.status, error_path(&refused)),
        (400, "registration.realm")
    );
    reg["registration"]["realm"] = json!("sip.example.net");
    let accepted = api.post("/v1/phone-numbers/carriers", key, Some(reg)).await;
    assert_eq!(accepted.status, 201, "{}", accepted.body);
}

#[tokio::test]
async fn free_form_objects_and_unknown_members_may_hold_null() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let mut call = call_body("+15551234567");
    call["request_data"] = json!({"patient": null, "visit": {"room": null}});
    call["not_in_the_spec"] = Value::Null;
    let created = api.post("/v1/calls", key, Some(call)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["call_id"].as_str().unwrap();
    let fetched = api.get(&format!("/v1/calls/{id}"), key).await;
    assert_eq!(
        fetched.body["metadata"],
        json!({"patient": null, "visit": {"room": null}}),
        "request_data is kept as sent"
    );
    let subscription = api
        .post(
            "/v1/webhooks",
            key,
            Some(json!({
                "event": "call.completed",
                "url": "http://127.0.0.1:9/hook",
                "filters": {"campaign_id": null},
            })),
        )
        .await;
    assert_eq!(subscription.status, 201, "{}", subscription.body);
}

// ---- 9: 415 for bodies that are not JSON ------------------------------------------

#[tokio::test]
async fn bodies_that_are_not_application_json_are_415_on_every_operation() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let key = sandbox.api_key();
    let refused_types = [
        None,
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=xyz"),
        Some("application/merge-patch+json"),
        Some("application/json; charset=iso-8859-1"),
        Some("application/jsonx"),
        Some("application/json garbage"),
    ];
    let accepted_types = [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;Charset=\"UTF-8\"",
    ];
    let mut n = 0;
    for (path, mut body) in bodies(&api, &sandbox).await {
        for content_type in refused_types {
            let refused =
                post_raw(&api, &path, Some(key), content_type, body.to_string(), &[]).await;
            assert_eq!(refused.status, 415, "{path} as {content_type:?}");
            assert_eq!(
                refused.body["type"],
                "https://api.topcalls.ai/errors/unsupported_media_type"
            );
        }
        for content_type in accepted_types {
            fresh(&mut body, n);
            n += 1;
            let accepted = post_raw(
                &api,
                &path,
                Some(key),
                Some(content_type),
                body.to_string(),
                &[],
            )
            .await;
            assert_eq!(
                accepted.status, 201,
                "{path} as {content_type}: {}",
                accepted.body
            );
        }
    }
    assert_eq!(sandbox.calls_count(), accepted_types.len());

    // The key and its scope come first: no key is 401, a read-only key is 403.
    let form = "phone_number=%2B15551234567";
    let form_type = Some("application/x-www-form-urlencoded");
    let unauthenticated = post_raw(&api, "/v1/calls", None, form_type, form, &[]).await;
    assert_eq!(unauthenticated.status, 401);
    let forbidden = post_raw(
        &api,
        "/v1/calls",
        Some(sandbox.read_only_key()),
        form_type,
        form,
        &[],
    )
    .await;
    assert_eq!(forbidden.status, 403);
    // Operations without a body ignore what is sent.
    let stop = post_raw(
        &api,
        "/v1/calls/unknown/stop",
        Some(key),
        Some("text/plain"),
        "please",
        &[],
    )
    .await;
    assert_eq!(stop.status, 404);
}

// ---- 10: keep-alive survives early answers ----------------------------------------

#[tokio::test]
async fn a_keep_alive_connection_survives_every_early_answer() {
    let sandbox = manual().await;
    let full = format!("authorization: Bearer {}", sandbox.api_key());
    let read_only = format!("authorization: Bearer {}", sandbox.read_only_key());
    // A body big enough to arrive in several pieces.
    let mut call = call_body("+15551234567");
    call["request_data"] = json!({"notes": "x".repeat(64 * 1024)});
    let call = call.to_string();
    let cases: Vec<(String, &[u8], u16)> = vec![
        ("POST /v1/calls HTTP/1.1".into(), call.as_bytes(), 401),
        (
            format!("POST /v1/calls HTTP/1.1\r\n{read_only}\r\ncontent-type: application/json"),
            call.as_bytes(),
            403,
        ),
        (
            format!("POST /v1/calls HTTP/1.1\r\n{full}\r\ncontent-type: text/plain"),
            call.as_bytes(),
            415,
        ),
        (
            format!("POST /v1/calls HTTP/1.1\r\n{full}\r\ncontent-type: application/json"),
            b"{\"phone_number\": oops",
            400,
        ),
        (
            format!(
                "POST /v1/calls HTTP/1.1\r\n{full}\r\ncontent-type: application/json\r\nidempotency-key: no"
            ),
            call.as_bytes(),
            400,
        ),
        (
            format!("POST /v1/nowhere HTTP/1.1\r\n{full}"),
            call.as_bytes(),
            404,
        ),
        (
            format!("PUT /v1/calls HTTP/1.1\r\n{full}"),
            call.as_bytes(),
            405,
        ),
        (
            format!("POST /v1/calls/unknown/cancel HTTP/1.1\r\n{full}"),
            call.as_bytes(),
            404,
        ),
        (
            format!("POST /v1/calls HTTP/1.1\r\n{full}\r\ncontent-type: application/json"),
            call.as_bytes(),
            201,
        ),
        (format!("GET /v1/balance HTTP/1.1\r\n{full}"), b"", 200),
    ];
    let mut conn = Conn::open(&sandbox).await;
    for (head, body, status) in cases {
        conn.send(&head, body).await;
        let answer = conn
            .response()
            .await
            .unwrap_or_else(|| panic!("{head}: the connection was closed"));
        assert_eq!(answer.status, status, "{head}");
        assert_eq!(answer.header("connection"), None, "{head}");
        assert!(answer.header("x-request-id").is_some());
    }
    assert_eq!(sandbox.calls_count(), 1);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_and_its_connection_closed() {
    let sandbox = manual().await;
    let full = format!("authorization: Bearer {}", sandbox.api_key());
    // Declared too large: answered at once (after the key is checked), nothing read.
    for (auth, status) in [("", 401), (full.as_str(), 400)] {
        let mut conn = Conn::open(&sandbox).await;
        let head = format!(
            "POST /v1/calls HTTP/1.1\r\nhost: sandbox\r\n{auth}{}content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            if auth.is_empty() { "" } else { "\r\n" },
            (2 << 20)
        );
        conn.stream.write_all(head.as_bytes()).await.unwrap();
        let answer = conn.response().await.unwrap();
        assert_eq!(answer.status, status);
        assert_eq!(answer.header("connection"), Some("close"));
        assert!(conn.closed_silently().await);
    }
}

// ---- 11: bounded header and body read times --------------------------------------

/// A sandbox that gives clients `headers` to send a request's head (counted
/// from the connection's accept, and after each answer) and 200 ms for its body.
///
/// A test that must get its head in before the timeout gives it seconds:
/// the only gap it covers is between `connect` and the first write, which a
/// busy machine may stretch, but never to seconds.
async fn impatient(headers: Duration) -> Sandbox {
    Sandbox::builder()
        .clock(ClockMode::Manual)
        .header_read_timeout(headers)
        .body_read_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_that_sends_nothing_or_drips_its_headers_is_disconnected() {
    let sandbox = impatient(Duration::from_millis(200)).await;
    // Connects and says nothing.
    let mut silent = Conn::open(&sandbox).await;
    assert!(silent.closed_silently().await);
    // Sends half a request head, then stalls.
    let mut dripping = Conn::open(&sandbox).await;
    dripping
        .stream
        .write_all(b"GET /v1/balance HTTP/1.1\r\nhost: sandbox\r\nauthori")
        .await
        .unwrap();
    assert!(dripping.closed_silently().await);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let sandbox = impatient(Duration::from_secs(2)).await;
    let mut conn = Conn::open(&sandbox).await;
    let head = format!(
        "GET /v1/balance HTTP/1.1\r\nauthorization: Bearer {}",
        sandbox.api_key()
    );
    conn.send(&head, b"").await;
    assert_eq!(conn.response().await.unwrap().status, 200);
    // No next request: the wait for its headers runs out.
    assert!(conn.closed_silently().await);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408_and_the_connection_closed() {
    let sandbox = impatient(Duration::from_secs(10)).await;
    for auth in [
        String::new(),
        format!("\r\nauthorization: Bearer {}", sandbox.api_key()),
    ] {
        let mut conn = Conn::open(&sandbox).await;
        let head = format!(
            "POST /v1/calls HTTP/1.1\r\nhost: sandbox{auth}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"phone_"
        );
        conn.stream.write_all(head.as_bytes()).await.unwrap();
        // The server answers once the body read time is over, whoever asks.
        let answer = conn.response().await.unwrap();
        assert_eq!(answer.status, 408);
        assert_eq!(answer.header("connection"), Some("close"));
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
        let problem: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(problem["status"], 408);
        assert_eq!(
            problem["instance"].as_str(),
            answer.header("x-request-id"),
            "instance is the request id"
        );
        assert!(conn.closed_silently().await);
    }
    assert_eq!(sandbox.calls_count(), 0);
}

// ---- 12: challenges, scopes and secrets ------------------------------------------

#[tokio::test]
async fn every_operation_names_its_scope_and_the_sandbox_enforces_it_before_anything_else() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let known_scopes = [
        "calls:read",
        "calls:write",
        "campaigns:read",
        "campaigns:write",
        "phone_numbers:read",
        "phone_numbers:write",
    ];
    let mut forbidden = 0;
    for op in api.spec.operations() {
        let pointer = format!(
            "/paths/{}/{}",
            op.path.replace('~', "~0").replace('/', "~1"),
            op.method.to_ascii_lowercase()
        );
        let definition = api.spec.doc().pointer(&pointer).unwrap();
        let scope = definition
            .get("x-required-scope")
            .unwrap_or_else(|| panic!("{}: no x-required-scope", op.id));
        let description = definition["description"].as_str().unwrap();
        let sentence = match scope.as_str() {
            Some(scope) => {
                assert!(known_scopes.contains(&scope), "{}: {scope}", op.id);
                format!("Required scope: `{scope}`")
            }
            None => {
                assert!(scope.is_null(), "{}: {scope}", op.id);
                "Required scope: none".to_string()
            }
        };
        assert!(
            description
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .contains(&sentence),
            "{}: the description says `{sentence}`",
            op.id
        );

        let path = concrete(&op.path);
        let method = Method::from_bytes(op.method.as_bytes()).unwrap();
        // No JSON body at all: the 401 and 403 come before any body check.
        let send = async |key: Option<&str>| api.send(method.clone(), &path, key, None, &[]).await;
        let missing = send(None).await;
        assert_eq!(missing.status, 401, "{}", op.id);
        assert_eq!(
            missing.headers["www-authenticate"],
            r#"Bearer realm="topcalls""#
        );
        let unknown = send(Some("tc_test_not_a_key")).await;
        assert_eq!(unknown.status, 401, "{}", op.id);
        assert_eq!(
            unknown.headers["www-authenticate"],
            r#"Bearer realm="topcalls", error="invalid_token""#
        );

        let answer = send(Some(sandbox.read_only_key())).await;
        let allowed = scope.as_str().is_none_or(|s| READ_ONLY_SCOPES.contains(&s));
        if allowed {
            assert_ne!(answer.status, 403, "{}: {}", op.id, answer.body);
        } else {
            forbidden += 1;
            assert_eq!(answer.status, 403, "{}: {}", op.id, answer.body);
        }
    }
    assert_eq!(
        forbidden, 10,
        "every write operation, the webhook subscription included"
    );
}

/// A webhook receiver that hands over each delivery as it arrives.
async fn receiver() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
) {
    type Sender = tokio::sync::mpsc::UnboundedSender<(HeaderMap, Bytes)>;
    async fn hook(State(sender): State<Sender>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let _ = sender.send((headers, body));
        StatusCode::NO_CONTENT
    }
    let (sender, deliveries) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, deliveries)
}

#[tokio::test]
async fn each_account_signs_its_webhooks_with_its_own_secret() {
    let sandbox = manual().await;
    let api = Api::new(&sandbox);
    let first = WebhookSecret::new(sandbox.webhook_secret()).unwrap();
    let second = WebhookSecret::new(sandbox.other_account_webhook_secret()).unwrap();
    assert_ne!(
        sandbox.webhook_secret(),
        sandbox.other_account_webhook_secret()
    );
    let (url, mut deliveries) = receiver().await;
    for (key, own, other) in [
        (sandbox.api_key(), &first, &second),
        (sandbox.other_account_key(), &second, &first),
    ] {
        let mut body = call_body("+15551234567");
        body["webhook_url"] = json!(url);
        body["webhook_events"] = json!(["call.queued"]);
        assert_eq!(api.post("/v1/calls", key, Some(body)).await.status, 201);
        // `call.queued` goes out as soon as the call is created.
        let (headers, body) = deliveries.recv().await.unwrap();
        Verifier::new(own.clone()).verify(&headers, &body).unwrap();
        assert!(
            Verifier::new(other.clone())
                .verify(&headers, &body)
                .is_err(),
            "the other account's secret must not verify it"
        );
    }
}
