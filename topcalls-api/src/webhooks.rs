//! Receiving TopCalls webhooks safely: signature verification on the raw
//! body, typed events, a signer for tests, and a deduplicator.
//!
//! Deliveries are signed with the Standard Webhooks scheme: headers
//! `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`,
//! a space-separated list of `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//! keyed with the secret `whsec_<base64 key>`.
//!
//! ```
//! use topcalls_api::webhooks::{self, Verifier, WebhookEvent, WebhookSecret};
//!
//! let secret = WebhookSecret::generate();
//! let body = br#"{"event": "call.queued", "call_id": "c_1", "status": "queued"}"#;
//! let now = 1_766_400_000;
//! let headers = webhooks::sign_headers(&secret, "msg_1", now, body);
//!
//! let delivery = Verifier::new(secret).verify_and_parse_at(&headers, body, now)?;
//! assert_eq!(delivery.id, "msg_1");
//! assert!(matches!(delivery.event, WebhookEvent::CallQueued(_)));
//! # Ok::<(), topcalls_api::webhooks::WebhookError>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use sha2::Sha256;

use crate::types::{
    CallCompletedEvent, CallFailedEvent, CallQueuedEvent, CallStartedEvent, CallTransferredEvent,
    CampaignEvent,
};

/// `webhook-id`.
pub const ID_HEADER: &str = "webhook-id";
/// `webhook-timestamp`.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// `webhook-signature`.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

const SECRET_PREFIX: &str = "whsec_";

/// Why a delivery was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is absent.
    #[error("missing `{0}` header")]
    MissingHeader(&'static str),
    /// A header is present but unreadable.
    #[error("invalid `{0}` header")]
    InvalidHeader(&'static str),
    /// The secret is not `whsec_<base64>`.
    #[error("malformed webhook secret")]
    MalformedSecret,
    /// No signature matches any secret.
    #[error("no signature matches")]
    BadSignature,
    /// The timestamp is older than the tolerance.
    #[error("timestamp too old")]
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance.
    #[error("timestamp in the future")]
    TimestampInFuture,
    /// The verified body is not a TopCalls event.
    #[error("invalid event payload")]
    InvalidPayload(#[source] serde_json::Error),
}

/// A signing secret (`whsec_…`). Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` (the prefix is optional).
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        let encoded = secret
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .unwrap_or(secret.trim());
        match BASE64.decode(encoded) {
            Ok(key) if !key.is_empty() => Ok(Self { key }),
            _ => Err(WebhookError::MalformedSecret),
        }
    }

    /// A fresh random 32-byte secret.
    pub fn generate() -> Self {
        let mut key = Vec::with_capacity(32);
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self { key }
    }

    /// The `whsec_…` form, to configure a receiver with.
    pub fn as_str(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(&self.key))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length: this cannot fail.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl FromStr for WebhookSecret {
    type Err = WebhookError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The `webhook-signature` value for a delivery: `v1,<base64>`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        BASE64.encode(secret.mac(id, timestamp, body).finalize().into_bytes())
    )
}

/// All three headers of a signed delivery, for tests of your own handlers.
pub fn sign_headers(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    };
    put(ID_HEADER, id.to_string());
    put(TIMESTAMP_HEADER, timestamp.to_string());
    put(SIGNATURE_HEADER, sign(secret, id, timestamp, body));
    headers
}

/// Checks deliveries: signature over the raw body, with one or several
/// secrets (rotation), and a timestamp tolerance (default 5 minutes).
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<WebhookSecret>,
    tolerance: Duration,
}

impl Verifier {
    /// A verifier for one secret.
    pub fn new(secret: WebhookSecret) -> Self {
        Self {
            secrets: vec![secret],
            tolerance: Duration::from_secs(300),
        }
    }

    /// Also accept signatures made with `secret` (during a rotation).
    #[must_use]
    pub fn with_secret(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// How far the timestamp may be from now, either way.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a delivery against the current time.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookMeta, WebhookError> {
        self.verify_at(headers, body, unix_now())
    }

    /// Verifies a delivery as of `now` (unix seconds).
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookMeta, WebhookError> {
        let id = header(headers, ID_HEADER)?;
        let timestamp: i64 = header(headers, TIMESTAMP_HEADER)?
            .trim()
            .parse()
            .map_err(|_| WebhookError::InvalidHeader(TIMESTAMP_HEADER))?;
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        if timestamp < now.saturating_sub(tolerance) {
            return Err(WebhookError::TimestampTooOld);
        }
        if timestamp > now.saturating_add(tolerance) {
            return Err(WebhookError::TimestampInFuture);
        }
        let signatures = header(headers, SIGNATURE_HEADER)?;
        for candidate in signatures.split_whitespace() {
            let Some(encoded) = candidate.strip_prefix("v1,") else {
                continue;
            };
            let Ok(signature) = BASE64.decode(encoded) else {
                continue;
            };
            for secret in &self.secrets {
                // `verify_slice` compares in constant time.
                if secret
                    .mac(id, timestamp, body)
                    .verify_slice(&signature)
                    .is_ok()
                {
                    return Ok(WebhookMeta {
                        id: id.to_string(),
                        timestamp,
                    });
                }
            }
        }
        Err(WebhookError::BadSignature)
    }

    /// Verifies, then parses the event.
    pub fn verify_and_parse(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Delivery, WebhookError> {
        self.verify_and_parse_at(headers, body, unix_now())
    }

    /// [`Verifier::verify_and_parse`] as of `now` (unix seconds).
    pub fn verify_and_parse_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Delivery, WebhookError> {
        let meta = self.verify_at(headers, body, now)?;
        let event = WebhookEvent::parse(body)?;
        Ok(Delivery {
            id: meta.id,
            timestamp: meta.timestamp,
            event,
        })
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, WebhookError> {
    headers
        .get(name)
        .ok_or(WebhookError::MissingHeader(name))?
        .to_str()
        .map_err(|_| WebhookError::InvalidHeader(name))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// What identifies a verified delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMeta {
    /// `webhook-id`: the same on every retry of one delivery; deduplicate on it.
    pub id: String,
    /// `webhook-timestamp`, unix seconds.
    pub timestamp: i64,
}

/// A verified delivery and its event.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `webhook-id`: the same on every retry of one delivery; deduplicate on it.
    pub id: String,
    /// `webhook-timestamp`, unix seconds.
    pub timestamp: i64,
    /// The event.
    pub event: WebhookEvent,
}

/// Every TopCalls event, typed; a new kind of event arrives as `Unknown`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// `call.queued`.
    CallQueued(Box<CallQueuedEvent>),
    /// `call.started`.
    CallStarted(Box<CallStartedEvent>),
    /// `call.completed` and `call.completed.<disposition>`.
    CallCompleted(Box<CallCompletedEvent>),
    /// `call.failed`.
    CallFailed(Box<CallFailedEvent>),
    /// `call.transferred`.
    CallTransferred(Box<CallTransferredEvent>),
    /// `campaign.started`.
    CampaignStarted(Box<CampaignEvent>),
    /// `campaign.paused`.
    CampaignPaused(Box<CampaignEvent>),
    /// `campaign.resumed`.
    CampaignResumed(Box<CampaignEvent>),
    /// `campaign.completed`.
    CampaignCompleted(Box<CampaignEvent>),
    /// `campaign.stopped`.
    CampaignStopped(Box<CampaignEvent>),
    /// An event this SDK does not know yet, with its raw JSON.
    Unknown {
        /// The `event` name.
        event: String,
        /// The whole payload.
        payload: Value,
    },
}

impl WebhookEvent {
    /// Parses a delivery body (the event's object plus `"event": "<name>"`).
    /// Verify first: parse only bodies whose signature checked out.
    pub fn parse(body: &[u8]) -> Result<Self, WebhookError> {
        let payload: Value = serde_json::from_slice(body).map_err(WebhookError::InvalidPayload)?;
        let name = payload
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        fn typed<T: serde::de::DeserializeOwned>(payload: Value) -> Result<Box<T>, WebhookError> {
            serde_json::from_value(payload)
                .map(Box::new)
                .map_err(WebhookError::InvalidPayload)
        }
        Ok(match name.as_str() {
            "call.queued" => Self::CallQueued(typed(payload)?),
            "call.started" => Self::CallStarted(typed(payload)?),
            "call.failed" => Self::CallFailed(typed(payload)?),
            "call.transferred" => Self::CallTransferred(typed(payload)?),
            "campaign.started" => Self::CampaignStarted(typed(payload)?),
            "campaign.paused" => Self::CampaignPaused(typed(payload)?),
            "campaign.resumed" => Self::CampaignResumed(typed(payload)?),
            "campaign.completed" => Self::CampaignCompleted(typed(payload)?),
            "campaign.stopped" => Self::CampaignStopped(typed(payload)?),
            n if n == "call.completed" || n.starts_with("call.completed.") => {
                Self::CallCompleted(typed(payload)?)
            }
            _ => Self::Unknown {
                event: name,
                payload,
            },
        })
    }

    /// The event name, e.g. `call.completed.confirmed`.
    pub fn name(&self) -> &str {
        match self {
            Self::CallQueued(e) => &e.event,
            Self::CallStarted(e) => &e.event,
            Self::CallCompleted(e) => &e.event,
            Self::CallFailed(e) => &e.event,
            Self::CallTransferred(e) => &e.event,
            Self::CampaignStarted(e)
            | Self::CampaignPaused(e)
            | Self::CampaignResumed(e)
            | Self::CampaignCompleted(e)
            | Self::CampaignStopped(e) => &e.event,
            Self::Unknown { event, .. } => event,
        }
    }
}

/// Remembers delivery ids so a retried delivery is handled once. Holds the
/// most recent `capacity` ids; thread-safe.
#[derive(Debug)]
pub struct Deduplicator {
    capacity: usize,
    seen: Mutex<(HashMap<String, ()>, VecDeque<String>)>,
}

impl Deduplicator {
    /// Remembers up to `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// `true` the first time `id` is seen, `false` for a repeat.
    pub fn first_seen(&self, id: &str) -> bool {
        let mut guard = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (set, order) = &mut *guard;
        if set.contains_key(id) {
            return false;
        }
        set.insert(id.to_string(), ());
        order.push_back(id.to_string());
        while order.len() > self.capacity {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
        true
    }
}

#[cfg(feature = "axum")]
mod extract {
    use axum::body::Bytes;
    use axum::extract::{FromRef, FromRequest, Request};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};

    use super::{Delivery, Verifier, WebhookError};

    /// An axum extractor: a verified, parsed delivery. Rejects with 401 for a
    /// bad signature or timestamp, 400 for anything malformed.
    ///
    /// The state must provide a [`Verifier`] (`FromRef`).
    #[derive(Debug, Clone)]
    pub struct VerifiedWebhook(pub Delivery);

    /// Why [`VerifiedWebhook`] rejected a request.
    #[derive(Debug)]
    pub struct WebhookRejection(StatusCode, String);

    impl IntoResponse for WebhookRejection {
        fn into_response(self) -> Response {
            (self.0, self.1).into_response()
        }
    }

    impl<S> FromRequest<S> for VerifiedWebhook
    where
        Verifier: FromRef<S>,
        S: Send + Sync,
    {
        type Rejection = WebhookRejection;

        async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
            let verifier = Verifier::from_ref(state);
            let (parts, body) = request.into_parts();
            let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
                .await
                .map_err(|e| WebhookRejection(StatusCode::BAD_REQUEST, e.body_text()))?;
            verifier
                .verify_and_parse(&parts.headers, &body)
                .map(VerifiedWebhook)
                .map_err(|e| {
                    let status = match e {
                        WebhookError::BadSignature
                        | WebhookError::TimestampTooOld
                        | WebhookError::TimestampInFuture => StatusCode::UNAUTHORIZED,
                        _ => StatusCode::BAD_REQUEST,
                    };
                    WebhookRejection(status, e.to_string())
                })
        }
    }
}

#[cfg(feature = "axum")]
pub use extract::{VerifiedWebhook, WebhookRejection};

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str, ts: i64, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ID_HEADER, HeaderValue::try_from(id).unwrap());
        h.insert(
            TIMESTAMP_HEADER,
            HeaderValue::try_from(ts.to_string()).unwrap(),
        );
        h.insert(SIGNATURE_HEADER, HeaderValue::try_from(signature).unwrap());
        h
    }

    #[test]
    fn standard_webhooks_known_answer() {
        let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_kind_of_bad_delivery_has_its_error() {
        let secret = WebhookSecret::generate();
        let body = br#"{"event":"call.queued","call_id":"c"}"#;
        let now = 1_700_000_000;
        let good = sign_headers(&secret, "msg_1", now, body);
        let verifier = Verifier::new(secret.clone());
        assert!(verifier.verify_at(&good, body, now).is_ok());
        assert!(matches!(
            verifier.verify_at(&good, br#"{"event":"call.queued","call_id":"d"}"#, now),
            Err(WebhookError::BadSignature)
        ));
        let wrong = Verifier::new(WebhookSecret::generate());
        assert!(matches!(
            wrong.verify_at(&good, body, now),
            Err(WebhookError::BadSignature)
        ));
        assert!(matches!(
            verifier.verify_at(&good, body, now + 301),
            Err(WebhookError::TimestampTooOld)
        ));
        assert!(matches!(
            verifier.verify_at(&good, body, now - 301),
            Err(WebhookError::TimestampInFuture)
        ));
        for missing in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
            let mut h = good.clone();
            h.remove(missing);
            assert!(
                matches!(verifier.verify_at(&h, body, now), Err(WebhookError::MissingHeader(m)) if m == missing)
            );
        }
        let mut h = good.clone();
        h.insert(TIMESTAMP_HEADER, HeaderValue::from_static("yesterday"));
        assert!(matches!(
            verifier.verify_at(&h, body, now),
            Err(WebhookError::InvalidHeader(_))
        ));
        assert!(matches!(
            WebhookSecret::new("whsec_***"),
            Err(WebhookError::MalformedSecret)
        ));
        assert!(!format!("{secret:?}").contains(&secret.as_str()[6..]));
    }

    #[test]
    fn rotation_and_several_signatures() {
        let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
        let body = b"{}";
        let both = format!("v1,bm9wZQ== {} v2,whatever", sign(&new, "m", 10, body));
        let verifier = Verifier::new(old.clone()).with_secret(new);
        assert!(
            verifier
                .verify_at(&headers("m", 10, &both), body, 10)
                .is_ok()
        );
        assert!(
            verifier
                .verify_at(&headers("m", 10, &sign(&old, "m", 10, body)), body, 10)
                .is_ok()
        );
        let secret_text = old.as_str();
        assert_eq!(WebhookSecret::new(&secret_text).unwrap(), old);
    }

    #[test]
    fn events_parse_typed_or_unknown() {
        let completed = WebhookEvent::parse(br#"{"event":"call.completed.confirmed","call_id":"c","status":"completed","disposition":"confirmed"}"#).unwrap();
        assert!(matches!(completed, WebhookEvent::CallCompleted(_)));
        assert_eq!(completed.name(), "call.completed.confirmed");
        let future =
            WebhookEvent::parse(br#"{"event":"call.sentiment_scored","score":0.9}"#).unwrap();
        assert!(
            matches!(&future, WebhookEvent::Unknown { event, payload } if event == "call.sentiment_scored" && payload["score"] == 0.9)
        );
        assert!(matches!(
            WebhookEvent::parse(b"not json"),
            Err(WebhookError::InvalidPayload(_))
        ));
    }

    #[test]
    fn the_deduplicator_forgets_the_oldest() {
        let dedup = Deduplicator::new(2);
        assert!(dedup.first_seen("a"));
        assert!(!dedup.first_seen("a"));
        assert!(dedup.first_seen("b"));
        assert!(dedup.first_seen("c"));
        assert!(dedup.first_seen("a"), "a was evicted");
    }

    proptest::proptest! {
        #[test]
        fn signatures_verify_and_any_changed_byte_fails(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..64),
            timestamp in 0i64..4_000_000_000,
            flip in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let secret = WebhookSecret::new(&BASE64.encode(&key)).unwrap();
            let headers = sign_headers(&secret, "msg_prop", timestamp, &body);
            let verifier = Verifier::new(secret);
            proptest::prop_assert!(verifier.verify_at(&headers, &body, timestamp).is_ok());
            if !body.is_empty() {
                let mut tampered = body.clone();
                let i = flip.index(tampered.len());
                tampered[i] ^= 0x01;
                proptest::prop_assert!(matches!(verifier.verify_at(&headers, &tampered, timestamp), Err(WebhookError::BadSignature)));
            }
        }
    }
}
