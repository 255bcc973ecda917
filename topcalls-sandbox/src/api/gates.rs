//! The gates in front of every `/v1` operation, and the table of what each
//! operation needs from them (its scope, whether it reads a JSON body).
//!
//! Every `/v1` request passes the same gates, outermost first; the first
//! that refuses answers, and nothing behind it runs:
//!
//! 1. [`crate::server::buffer_body`]: the whole body is read (at most [`MAX_BODY`], within
//!    the body read timeout) before anything answers, so an early answer
//!    never leaves unread bytes on a keep-alive connection. A body that
//!    cannot be read whole is not answered here: the gates below refuse it
//!    with 400 after the caller is known, and the answer says
//!    `Connection: close`.
//! 2. [`authenticate`]: 401 without a known key, 403 when the key lacks the
//!    operation's scope, then the per-key rate limit (429).
//! 3. [`faults`]: injected latency, 503s, 429s and dropped connections.
//! 4. [`request_body`]: 400 for a body that could not be read, 415 for an
//!    operation's body that is not `application/json`.
//! 5. [`idempotency`]: 400 for a malformed `Idempotency-Key`, replays and 409s.
//! 6. The operation itself: 400 for an invalid body, then its own answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::{Answered, App, Caller, Fingerprint, Slot, Stored, lock};
use crate::faults::Faults;
use crate::problem::{ApiProblem, REQUEST_ID_HEADER, current_request_id};
use crate::server::{Hangup, MAX_BODY, UnreadBody};
use crate::state::Scope;

/// What the gates in front of an operation check before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rules {
    /// The scope the key needs (the spec's `x-required-scope`).
    pub(crate) scope: Scope,
    /// The operation reads a JSON request body (`Content-Type` is checked).
    pub(crate) json_body: bool,
}

/// The rules of each operation, by method and route template; `None` for a
/// method the route does not serve.
pub(crate) fn rules(method: &Method, route: &str) -> Option<Rules> {
    use Scope::*;
    let (scope, json_body) = match (method.as_str(), route) {
        ("GET", "/v1/calls" | "/v1/calls/{call_id}" | "/v1/balance") => (CallsRead, false),
        ("POST", "/v1/calls") => (CallsWrite, true),
        ("POST", "/v1/calls/{call_id}/stop" | "/v1/calls/{call_id}/cancel") => (CallsWrite, false),
        ("GET", "/v1/campaigns" | "/v1/campaigns/{campaign_id}") => (CampaignsRead, false),
        ("POST", "/v1/campaigns/{campaign_id}/start" | "/v1/campaigns/{campaign_id}/pause") => {
            (CampaignsWrite, false)
        }
        ("GET", "/v1/phone-numbers" | "/v1/phone-numbers/{phone_number_id}")
        | ("GET", "/v1/phone-numbers/carriers") => (NumbersRead, false),
        ("POST", "/v1/phone-numbers" | "/v1/phone-numbers/carriers") => (NumbersWrite, true),
        ("DELETE", "/v1/phone-numbers/{phone_number_id}")
        | ("DELETE", "/v1/phone-numbers/carriers/{carrier_id}") => (NumbersWrite, false),
        ("GET", "/v1/models" | "/v1/voices/builtin" | "/v1/voices") => (Any, false),
        // Subscriptions deliver call events (transcripts included) to any URL: as
        // much a write on calls as placing one.
        ("POST", "/v1/webhooks") => (CallsWrite, true),
        _ => return None,
    };
    Some(Rules { scope, json_body })
}

/// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3): no error code
/// when no key was sent, `invalid_token` when the key is unknown.
fn challenge(key_sent: bool) -> HeaderValue {
    HeaderValue::from_static(if key_sent {
        r#"Bearer realm="topcalls", error="invalid_token""#
    } else {
        r#"Bearer realm="topcalls""#
    })
}

/// The key of an `Authorization: Bearer <key>` header.
pub(crate) fn bearer_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        // The scheme is case-insensitive (RFC 9110 §11.1).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
}

/// Authenticates and authorizes `/v1` requests: 401 without a known key
/// (with a `WWW-Authenticate: Bearer` challenge), 403 when the key lacks
/// the scope of the operation, then the per-key rate limit (429).
pub(crate) async fn authenticate(
    State(app): State<Arc<App>>,
    mut request: Request,
    next: Next,
) -> Response {
    let key = bearer_key(request.headers());
    let caller = key.and_then(|key| {
        let world = lock(&app.world);
        world.keys.get(key).map(|k| Caller {
            account: k.account,
            key_id: k.id.clone(),
            scopes: k.scopes.clone(),
        })
    });
    let Some(caller) = caller else {
        let detail = if key.is_some() {
            "unknown API key"
        } else {
            "missing `Authorization: Bearer <key>` header"
        };
        let mut response =
            ApiProblem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge(key.is_some()));
        return response;
    };
    // A method the path does not serve has no rules: it is answered 405.
    if let Some(rules) = operation_rules(&request)
        && let Err(problem) = caller.require(rules.scope)
    {
        return problem.into_response();
    }
    if let Some(limit) = app.rate_limit {
        let mut rate = lock(&app.rate);
        let now = Instant::now();
        let entry = rate.entry(caller.key_id.clone()).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > limit {
            let wait = 60u64
                .saturating_sub(now.duration_since(entry.0).as_secs())
                .max(1);
            let mut problem = ApiProblem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("more than {limit} requests per minute"),
            );
            problem.retry_after = Some(wait);
            return problem.into_response();
        }
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The rules of the operation a request addresses (by its method and its
/// route's template), or `None` when the route does not serve that method.
fn operation_rules(request: &Request) -> Option<Rules> {
    let path = request.extensions().get::<MatchedPath>()?;
    rules(request.method(), path.as_str())
}

/// Refuses, before idempotency keys and routes see it, a body that could
/// not be read whole (400) and an operation's body that is not JSON (415).
///
/// Accepted: `application/json`, in any case, with any parameters as long as
/// a `charset` parameter, if present, is `utf-8` (JSON is UTF-8, RFC 8259).
/// Refused: anything else — no `Content-Type`, `text/plain`, forms,
/// multipart, and also `application/*+json` types, which name other formats
/// than the one operation bodies are written in. Operations without a
/// request body ignore the body and its type.
pub(crate) async fn request_body(request: Request, next: Next) -> Response {
    if request.extensions().get::<UnreadBody>().is_some() {
        return ApiProblem::field(
            "body",
            format!(
                "the request body is over {} MiB or could not be read",
                MAX_BODY >> 20
            ),
        )
        .into_response();
    }
    if operation_rules(&request).is_some_and(|rules| rules.json_body)
        && !is_json(request.headers().get(header::CONTENT_TYPE))
    {
        let sent = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let detail = match sent {
            Some(sent) => format!("the body must be `application/json`, not `{sent}`"),
            None => "the body must be `application/json`; no `Content-Type` was sent".to_string(),
        };
        return ApiProblem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        )
        .into_response();
    }
    next.run(request).await
}

/// `application/json`, optionally with parameters; a `charset` must be `utf-8`.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        && parts.all(|parameter| match parameter.split_once('=') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
                value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            Some(_) => true,
            // `application/json;` (an empty parameter) is harmless; a bare word is not a parameter.
            None => parameter.trim().is_empty(),
        })
}

/// Injected faults: latency, 503s and 429s before the request takes effect,
/// and a dropped connection after it did.
pub(crate) async fn faults(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let faults = lock(&app.faults).clone();
    if faults == Faults::default() {
        return next.run(request).await;
    }
    if !faults.latency.is_zero() {
        lock(&app.injected).delayed += 1;
        tokio::time::sleep(faults.latency).await;
    }
    let roll = app.random();
    if roll < faults.share_503 {
        lock(&app.injected).unavailable += 1;
        return ApiProblem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "injected fault: service unavailable",
        )
        .into_response();
    }
    if roll < faults.share_503 + faults.share_429 {
        lock(&app.injected).throttled += 1;
        let mut problem = ApiProblem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "injected fault: too many requests",
        );
        // `Retry-After` has whole seconds: round up, and ask for at least one;
        // `retry-after-ms` has the exact wait.
        let wait = faults.retry_after;
        problem.retry_after = Some((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1));
        let mut response = problem.into_response();
        if let Ok(ms) = HeaderValue::try_from(wait.as_millis().to_string()) {
            response.headers_mut().insert("retry-after-ms", ms);
        }
        return response;
    }
    let hangup = request.extensions().get::<Hangup>().cloned();
    let response = next.run(request).await;
    if app.random() < faults.share_drop_after_effect
        && let Some(hangup) = hangup
    {
        // The effect is committed; the answer never leaves.
        lock(&app.injected).dropped += 1;
        hangup.hang_up();
        std::future::pending::<()>().await;
    }
    response
}

/// `Idempotency-Key` on POST: the same key and body replay the first answer
/// with no second effect; another body is a 409; a concurrent duplicate is a 409.
///
/// Runs after authentication, authorization and the body checks, so what it
/// keeps is only ever the answer of the operation itself, and not all of
/// those: a 400 (the request was invalid and took no effect, so a corrected
/// body may use the key again), a 429 or a 5xx is forgotten at once.
pub(crate) async fn idempotency(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get("idempotency-key").cloned() else {
        return next.run(request).await;
    };
    if let Err(violation) = topcalls_types::rules::idempotency_key_bytes(key.as_bytes()) {
        return ApiProblem::rule(&violation).into_response();
    }
    // The rule admits ASCII only.
    let key = String::from_utf8_lossy(key.as_bytes()).into_owned();
    let Some(caller) = request.extensions().get::<Caller>().cloned() else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ApiProblem::field("body", "request body too large or unreadable").into_response();
    };
    let fingerprint = Fingerprint::of(parts.uri.path(), &bytes);
    let slot: Slot = (caller.account, key.into_boxed_str());
    {
        let mut store = lock(&app.idempotency);
        store.expire(app.clock.now());
        match store.get(&slot) {
            Some(Stored::Done {
                fingerprint: seen,
                answer,
                ..
            }) if *seen == fingerprint => {
                let mut response = (answer.status, answer.body.clone()).into_response();
                let headers = response.headers_mut();
                headers.clear();
                for (name, value) in &answer.headers {
                    headers.append(name.clone(), value.clone());
                }
                headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
                return response;
            }
            Some(Stored::InProgress { fingerprint: seen }) if *seen == fingerprint => {
                return ApiProblem::conflict(
                    "idempotency_key_in_use",
                    "a request with this Idempotency-Key is still in progress; retry later",
                )
                .into_response();
            }
            Some(_) => {
                return ApiProblem::conflict(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with a different request",
                )
                .into_response();
            }
            None => store.claim(slot.clone(), fingerprint),
        }
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (mut parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    if let Ok(id) = HeaderValue::try_from(current_request_id()) {
        parts.headers.insert(REQUEST_ID_HEADER, id);
    }
    let mut store = lock(&app.idempotency);
    // Invalid requests, throttling and server errors took no effect: nothing to replay.
    if parts.status.is_server_error()
        || parts.status == StatusCode::TOO_MANY_REQUESTS
        || parts.status == StatusCode::BAD_REQUEST
    {
        store.release(&slot);
    } else {
        let answer = Answered {
            status: parts.status,
            headers: parts
                .headers
                .iter()
                .filter(|(name, _)| *name != header::CONTENT_LENGTH)
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
            // Its own buffer, exactly as long as the body.
            body: Bytes::copy_from_slice(&body),
        };
        store.keep(slot, fingerprint, app.clock.now(), answer);
    }
    Response::from_parts(parts, Body::from(body))
}
