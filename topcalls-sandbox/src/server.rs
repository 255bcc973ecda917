//! The HTTP side: connection handling (so a fault can drop a connection
//! after its request took effect), request ids, auth, faults, rate limits
//! and idempotency keys, in front of the routes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hyper_util::rt::{TokioExecutor, TokioIo};
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
}

impl App {
    pub(crate) fn new(
        world: World,
        clock: Clock,
        faults: Faults,
        seed: u64,
        rate_limit: Option<u32>,
    ) -> Self {
        Self {
            world: Mutex::new(world),
            clock,
            faults: Mutex::new(faults),
            rng: Mutex::new(seed.max(1)),
            idempotency: Mutex::new(Remembered::default()),
            rate_limit,
            rate: Mutex::new(HashMap::new()),
            injected: Mutex::new(crate::InjectedFaults::default()),
            deliveries: crate::webhooks::Signals::default(),
        }
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

/// Serves `router` on `listener` until `stop` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) {
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
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
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

/// Authenticates `/v1` requests: 401 without a known key.
pub(crate) async fn authenticate(
    State(app): State<Arc<App>>,
    mut request: Request,
    next: Next,
) -> Response {
    let key = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        // The scheme is case-insensitive (RFC 9110 §11.1).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim());
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
        return ApiProblem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).into_response();
    };
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
    let key = match key.to_str() {
        Ok(k)
            if (8..=255).contains(&k.len())
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            k.to_string()
        }
        _ => {
            return ApiProblem::field(
                "Idempotency-Key",
                "must be 8 to 255 characters of A-Z, a-z, 0-9, `_` and `-`",
            )
            .into_response();
        }
    };
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
    // Server errors and throttling are not answers worth replaying.
    if parts.status.is_server_error() || parts.status == StatusCode::TOO_MANY_REQUESTS {
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
