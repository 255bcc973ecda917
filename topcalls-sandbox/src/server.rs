//! The HTTP side: connection handling (so a fault can drop a connection
//! after its request took effect, and a slow client cannot hold one open),
//! request ids, request bodies, auth, faults, rate limits and idempotency
//! keys, in front of the routes.
//!
//! Every `/v1` request passes the same gates, outermost first; the first
//! that refuses answers, and nothing behind it runs:
//!
//! 1. [`buffer_body`]: the whole body is read (at most [`MAX_BODY`], within
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

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use crate::Faults;
use crate::clock::Clock;
use crate::problem::ApiProblem;
use crate::state::{Scope, World};

/// The largest request body read (1 MiB); larger ones are a 400 problem.
pub(crate) const MAX_BODY: usize = 1 << 20;

/// How long a client may take to send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadTimeouts {
    /// From the moment the server waits for a request (a new connection, or
    /// an idle keep-alive one) to the end of its headers; then the
    /// connection is closed without an answer.
    pub(crate) headers: Duration,
    /// From the end of the headers to the end of the body; then the answer
    /// is 408 with `Connection: close`.
    pub(crate) body: Duration,
}

const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being answered (empty outside a request).
pub(crate) fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Everything the handlers share.
pub(crate) struct App {
    pub(crate) world: Mutex<World>,
    pub(crate) clock: Clock,
    pub(crate) faults: Mutex<Faults>,
    rng: Mutex<u64>,
    idempotency: Mutex<Remembered>,
    rate_limit: Option<u32>,
    rate: Mutex<HashMap<String, (Instant, u32)>>,
    pub(crate) injected: Mutex<crate::InjectedFaults>,
    /// Between the webhook delivery loop and those who wait for it.
    pub(crate) deliveries: crate::webhooks::Signals,
    pub(crate) read_timeouts: ReadTimeouts,
    /// The secret each account's webhook deliveries are signed with, by account index.
    pub(crate) webhook_secrets: Vec<topcalls_api::webhooks::WebhookSecret>,
    /// The first account's full key: the only one `/_sandbox` answers.
    pub(crate) admin_key: String,
}

/// What [`App::new`] needs besides the world.
pub(crate) struct Settings {
    pub(crate) faults: Faults,
    pub(crate) seed: u64,
    pub(crate) rate_limit: Option<u32>,
    pub(crate) read_timeouts: ReadTimeouts,
    pub(crate) webhook_secrets: Vec<topcalls_api::webhooks::WebhookSecret>,
    pub(crate) admin_key: String,
}

impl App {
    pub(crate) fn new(world: World, clock: Clock, settings: Settings) -> Self {
        Self {
            world: Mutex::new(world),
            clock,
            faults: Mutex::new(settings.faults),
            rng: Mutex::new(settings.seed.max(1)),
            idempotency: Mutex::new(Remembered::default()),
            rate_limit: settings.rate_limit,
            rate: Mutex::new(HashMap::new()),
            injected: Mutex::new(crate::InjectedFaults::default()),
            deliveries: crate::webhooks::Signals::default(),
            read_timeouts: settings.read_timeouts,
            webhook_secrets: settings.webhook_secrets,
            admin_key: settings.admin_key,
        }
    }

    /// Moves the sandbox clock forward in steps of at most 5 s, bringing
    /// calls and campaigns up to date at each step, then wakes the webhook
    /// delivery loop for what fell due.
    pub(crate) fn advance(&self, by: Duration) {
        let step = Duration::from_secs(5);
        let mut left = by;
        while !left.is_zero() {
            let now = left.min(step);
            self.clock.advance(now);
            drop(self.world());
            left -= now;
        }
        self.deliveries.wake();
    }

    /// The world, moved forward to the current sandbox time.
    pub(crate) fn world(&self) -> std::sync::MutexGuard<'_, World> {
        let mut world = lock(&self.world);
        let now = self.clock.now();
        // Ticking walks every active call: at most every 250 ms of sandbox time
        // (2 ms of real time at the default speed).
        if world
            .last_tick
            .is_none_or(|last| now - last >= chrono::Duration::milliseconds(250))
        {
            world.tick(now);
        }
        world
    }

    /// A deterministic number in [0, 1) (xorshift64*, seeded).
    fn random(&self) -> f64 {
        let mut state = lock(&self.rng);
        let mut x = *state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The caller, from its API key.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) account: usize,
    pub(crate) key_id: String,
    scopes: Vec<Scope>,
}

impl Caller {
    /// 403 unless the key has `scope`.
    pub(crate) fn require(&self, scope: Scope) -> Result<(), ApiProblem> {
        if scope == Scope::Any || self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiProblem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("This API key does not have the {} scope.", scope.name()),
            ))
        }
    }
}

/// Closes the connection a request arrived on, without an answer.
#[derive(Clone)]
struct Hangup(Arc<Notify>);

/// Serves `router` on `listener` until `stop` turns true: HTTP/1.1, with
/// keep-alive, and at most `header_timeout` to receive a request's headers.
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The timer runs from the moment the connection waits for a request: a
    // client that connects and sends nothing, or drips its headers, is cut off.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let hangup = Hangup(Arc::new(Notify::new()));
        let service = router.clone().map_request({
            let hangup = hangup.clone();
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(hangup.clone());
                request
            }
        });
        let mut stop = stop.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let connection =
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            tokio::select! {
                _ = connection => {}
                () = hangup.0.notified() => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// Gives every request an id (`X-Request-Id`, and `instance` in problems).
///
/// A replayed answer keeps the id of the request that produced it, so that
/// `instance` and `X-Request-Id` still agree.
pub(crate) async fn request_id(request: Request, next: Next) -> Response {
    let id = format!("req_{}", uuid::Uuid::new_v4().simple());
    let mut response = REQUEST_ID.scope(id.clone(), next.run(request)).await;
    if let Ok(value) = HeaderValue::try_from(id) {
        response
            .headers_mut()
            .entry(REQUEST_ID_HEADER)
            .or_insert(value);
    }
    response
}

/// A request body that could not be read whole: over [`MAX_BODY`], or cut
/// off. The rest of it is still on the connection, which therefore closes
/// after the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnreadBody;

/// Reads the whole request body before any gate or route answers (see the
/// module documentation).
///
/// An answer sent while part of the body is still on its way leaves those
/// bytes on the connection; hyper then closes a keep-alive connection after
/// the answer, without saying so, and a client that sends its next request
/// on it sees the connection reset. Reading first (bounded in size and
/// time) keeps every early answer — 400, 401, 403, 404, 405, 415 — on a
/// connection that stays usable.
pub(crate) async fn buffer_body(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let read = if declared.is_some_and(|length| length > MAX_BODY as u64) {
        // Not worth reading: it will be refused, and the connection closed.
        None
    } else {
        let timeout = app.read_timeouts.body;
        match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY)).await {
            Ok(read) => read.ok(),
            Err(_) => {
                let mut response = ApiProblem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request body did not arrive within {} ms",
                        timeout.as_millis()
                    ),
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return response;
            }
        }
    };
    match read {
        Some(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        None => {
            parts.extensions.insert(UnreadBody);
            let mut response = next.run(Request::from_parts(parts, Body::empty())).await;
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
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
fn operation_rules(request: &Request) -> Option<crate::api::Rules> {
    let path = request.extensions().get::<MatchedPath>()?;
    crate::api::rules(request.method(), path.as_str())
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
        hangup.0.notify_one();
        std::future::pending::<()>().await;
    }
    response
}

/// How long an answer to a POST with an `Idempotency-Key` is kept (sandbox time).
const IDEMPOTENCY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The account and `Idempotency-Key` a POST was sent with.
///
/// Keys are scoped to the account, not to the API key: any key of the
/// account that may run the operation gets the replay. That is safe because
/// every request — a replay included — is authenticated and authorized
/// (401, 403) before its slot is looked up, and a refused request stores
/// nothing: a key without the operation's scope can neither read another
/// key's answer nor plant one.
type Slot = (usize, String);

/// One remembered POST: what it was, and what it answered.
#[derive(Debug, Clone)]
enum Stored {
    InProgress {
        fingerprint: (String, Value),
    },
    Done {
        fingerprint: (String, Value),
        at: DateTime<Utc>,
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
}

/// Remembered POSTs, and the order their answers expire in.
#[derive(Debug, Default)]
struct Remembered {
    slots: HashMap<Slot, Stored>,
    /// Answers by the time they were stored, oldest first (sandbox time only moves forward).
    expiry: VecDeque<(DateTime<Utc>, Slot)>,
}

impl Remembered {
    /// Forgets answers older than the window.
    fn expire(&mut self, now: DateTime<Utc>) {
        while let Some((at, _)) = self.expiry.front()
            && now - *at >= IDEMPOTENCY_WINDOW
        {
            let Some((at, slot)) = self.expiry.pop_front() else {
                break;
            };
            // The slot may have been reused since; only drop the answer stored then.
            if matches!(self.slots.get(&slot), Some(Stored::Done { at: stored, .. }) if *stored == at)
            {
                self.slots.remove(&slot);
            }
        }
    }
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
    let fingerprint = (
        parts.uri.path().to_string(),
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned())),
    );
    let slot = (caller.account, key);
    {
        let mut store = lock(&app.idempotency);
        store.expire(app.clock.now());
        match store.slots.get(&slot) {
            Some(Stored::Done {
                fingerprint: seen,
                status,
                headers,
                body,
                ..
            }) if *seen == fingerprint => {
                let mut response = (*status, body.clone()).into_response();
                *response.headers_mut() = headers.clone();
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
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
            None => {
                store.slots.insert(
                    slot.clone(),
                    Stored::InProgress {
                        fingerprint: fingerprint.clone(),
                    },
                );
            }
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
        store.slots.remove(&slot);
    } else {
        let at = app.clock.now();
        store.expiry.push_back((at, slot.clone()));
        store.slots.insert(
            slot,
            Stored::Done {
                fingerprint,
                at,
                status: parts.status,
                headers: parts.headers.clone(),
                body: body.clone(),
            },
        );
    }
    Response::from_parts(parts, Body::from(body))
}
