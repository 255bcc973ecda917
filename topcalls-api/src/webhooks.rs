//! Receiving TopCalls webhooks safely: signature verification on the raw
//! body, typed events, a signer for tests, and a deduplicator.
//!
//! Deliveries are signed with the Standard Webhooks scheme: headers
//! `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`,
//! a space-separated list of `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//! keyed with the bytes of the secret `whsec_<base64 key>`.
//!
//! Verify the body exactly as it arrived: a body that was parsed and
//! serialized again no longer matches its signature.
//!
//! A body needs no `event` member: the one payload TopCalls documents
//! (`call.completed`) has none, so [`WebhookEvent::parse`] classifies such a
//! body from what it holds, and keeps anything it cannot type as JSON. Only a
//! body that is not JSON is an error.
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
//!
//! With the `axum` feature, `VerifiedWebhook` is an axum extractor that does
//! all of this and answers 400/401 on its own.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::generic_array::GenericArray;
use hmac::digest::{CtOutput, Digest as _, Key, KeyInit};
use hmac::{Hmac, Mac as _};
use http::{HeaderMap, HeaderValue};
use secrecy::zeroize::{Zeroize as _, Zeroizing};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::Sha256;

use crate::types::{
    CallCompletedEvent, CallFailedEvent, CallGatewayStatus, CallQueuedEvent, CallStartedEvent,
    CallTelephonyStatus, CallTransferredEvent, CampaignEvent, WebhookEventName,
};

/// The `webhook-id` header: unique per delivery, the same on its retries.
pub const ID_HEADER: &str = "webhook-id";
/// The `webhook-timestamp` header: when the delivery was signed, unix seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The `webhook-signature` header: space-separated `v1,<base64>` signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far a delivery's timestamp may be from now unless told otherwise.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const SECRET_PREFIX: &str = "whsec_";
const SIGNATURE_PREFIX: &str = "v1,";

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery was rejected, or a secret could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is absent.
    #[error("missing `{0}` header")]
    MissingHeader(&'static str),
    /// A header is present but unreadable.
    #[error("invalid `{0}` header")]
    InvalidHeader(&'static str),
    /// The secret is not `whsec_<base64>` (or plain base64) of a non-empty key.
    #[error("malformed webhook secret")]
    MalformedSecret,
    /// No `v1` signature in the header matches any of the secrets.
    #[error("no signature matches")]
    BadSignature,
    /// The timestamp is older than the tolerance allows.
    #[error("timestamp too old")]
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance allows.
    #[error("timestamp in the future")]
    TimestampInFuture,
    /// The verified body is not JSON.
    #[error("invalid event payload")]
    InvalidPayload(#[source] serde_json::Error),
}

/// A signing secret (`whsec_…`). Its `Debug` never shows the key, and the key
/// is zeroed when the secret is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl WebhookSecret {
    /// Reads `whsec_<base64>`; the prefix may be left out.
    ///
    /// # Errors
    ///
    /// [`WebhookError::MalformedSecret`] when the rest is not standard base64
    /// of at least one byte.
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        let secret = secret.trim();
        let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
        match BASE64.decode(encoded) {
            Ok(key) if !key.is_empty() => Ok(Self {
                key: Zeroizing::new(key),
            }),
            _ => Err(WebhookError::MalformedSecret),
        }
    }

    /// A fresh random 32-byte secret, from a cryptographically secure
    /// generator.
    pub fn generate() -> Self {
        let key = Zeroizing::new(rand::random::<[u8; 32]>());
        Self {
            key: Zeroizing::new(key.to_vec()),
        }
    }

    /// The `whsec_…` form, to configure a receiver or a sender with.
    pub fn as_str(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(self.key.as_slice()))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut key = block_key(&self.key);
        let mut mac = <HmacSha256 as KeyInit>::new(&key);
        key.as_mut_slice().zeroize();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// The key as HMAC itself uses it (RFC 2104, section 2): hashed when it is
/// longer than a SHA-256 block, then padded with zeros to the block. Keying
/// with it gives the same MAC as keying with `key`, and cannot fail.
fn block_key(key: &[u8]) -> Key<HmacSha256> {
    let mut block = Key::<HmacSha256>::default();
    if key.len() <= block.len() {
        block[..key.len()].copy_from_slice(key);
    } else {
        let digest = Sha256::digest(key);
        block[..digest.len()].copy_from_slice(&digest);
    }
    block
}

impl FromStr for WebhookSecret {
    type Err = WebhookError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The `webhook-signature` value for a delivery: `v1,<base64>`.
///
/// ```
/// use topcalls_api::webhooks::{WebhookSecret, sign};
///
/// let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let signature = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
/// assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// # Ok::<(), topcalls_api::webhooks::WebhookError>(())
/// ```
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.mac(id, timestamp, body).finalize().into_bytes();
    format!("{SIGNATURE_PREFIX}{}", BASE64.encode(tag))
}

/// The three headers of a signed delivery (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature`), to test your own handlers with.
///
/// An `id` that cannot be a header value (a control character, say) is left
/// out, so verifying such a delivery reports the missing header.
pub fn sign_headers(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::try_from(id) {
        headers.insert(ID_HEADER, value);
    }
    headers.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
    if let Ok(value) = HeaderValue::try_from(sign(secret, id, timestamp, body)) {
        headers.insert(SIGNATURE_HEADER, value);
    }
    headers
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Checks deliveries: a signature over the raw body, made with one of the
/// secrets (several during a rotation), and a timestamp within the tolerance
/// (default 5 minutes, either way).
///
/// Cloning is cheap: the secrets are shared.
#[derive(Clone)]
pub struct Verifier {
    secrets: Arc<[WebhookSecret]>,
    tolerance: Duration,
    clock: Option<Clock>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &self.secrets.len())
            .field("tolerance", &self.tolerance)
            .field(
                "clock",
                &if self.clock.is_some() {
                    "custom"
                } else {
                    "system"
                },
            )
            .finish()
    }
}

impl Verifier {
    /// A verifier for one secret.
    pub fn new(secret: WebhookSecret) -> Self {
        Self {
            secrets: Arc::from([secret]),
            tolerance: DEFAULT_TOLERANCE,
            clock: None,
        }
    }

    /// Also accepts signatures made with `secret`: during a rotation, verify
    /// with the old and the new secret until every sender uses the new one.
    #[must_use]
    pub fn with_secret(self, secret: WebhookSecret) -> Self {
        let secrets = self.secrets.iter().cloned().chain([secret]).collect();
        Self { secrets, ..self }
    }

    /// How far the timestamp may be from now, either way (default 5 minutes).
    #[must_use]
    pub fn tolerance(self, tolerance: Duration) -> Self {
        Self { tolerance, ..self }
    }

    /// Where [`Verifier::verify`] reads the time (default the system clock),
    /// for tests and for simulated time.
    #[must_use]
    pub fn clock(self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self {
            clock: Some(Arc::new(now)),
            ..self
        }
    }

    /// Verifies a delivery against the verifier's clock. `body` is the raw
    /// request body, byte for byte as received.
    ///
    /// # Errors
    ///
    /// A missing or unreadable header (an empty `webhook-id` included), a
    /// timestamp outside the tolerance, or [`WebhookError::BadSignature`]
    /// when no signature matches.
    ///
    /// ```
    /// use topcalls_api::webhooks::{Verifier, WebhookError, WebhookSecret, sign_headers};
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let secret = WebhookSecret::generate();
    /// let verifier = Verifier::new(secret.clone())
    ///     .clock(|| UNIX_EPOCH + Duration::from_secs(1_766_400_000));
    /// let headers = sign_headers(&secret, "msg_1", 1_766_400_000, b"{}");
    ///
    /// assert_eq!(verifier.verify(&headers, b"{}")?.id, "msg_1");
    /// assert!(matches!(verifier.verify(&headers, b"{ }"), Err(WebhookError::BadSignature)));
    /// # Ok::<(), WebhookError>(())
    /// ```
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookMeta, WebhookError> {
        self.verify_at(headers, body, self.now())
    }

    /// Verifies a delivery as of `now` (unix seconds).
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify`].
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookMeta, WebhookError> {
        let id = header(headers, ID_HEADER)?;
        if id.trim().is_empty() {
            return Err(WebhookError::InvalidHeader(ID_HEADER));
        }
        let timestamp: i64 = header(headers, TIMESTAMP_HEADER)?
            .trim()
            .parse()
            .map_err(|_| WebhookError::InvalidHeader(TIMESTAMP_HEADER))?;
        // In i128, so that no timestamp or tolerance overflows.
        let age = i128::from(now) - i128::from(timestamp);
        let tolerance = i128::from(self.tolerance.as_secs());
        if age > tolerance {
            return Err(WebhookError::TimestampTooOld);
        }
        if -age > tolerance {
            return Err(WebhookError::TimestampInFuture);
        }
        let signatures = header(headers, SIGNATURE_HEADER)?;
        // One MAC per secret; `CtOutput` compares in constant time.
        let expected: Vec<CtOutput<HmacSha256>> = self
            .secrets
            .iter()
            .map(|secret| secret.mac(id, timestamp, body).finalize())
            .collect();
        let matches = signatures
            .split_whitespace()
            .filter_map(decode_signature)
            .any(|given| expected.contains(&given));
        if matches {
            Ok(WebhookMeta {
                id: id.to_string(),
                timestamp,
            })
        } else {
            Err(WebhookError::BadSignature)
        }
    }

    /// Verifies a delivery, then parses its event.
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify`], and [`WebhookError::InvalidPayload`] when the
    /// verified body is not JSON. Any JSON body parses (see
    /// [`WebhookEvent::parse`]).
    ///
    /// ```
    /// use topcalls_api::webhooks::{Verifier, WebhookEvent, WebhookSecret, sign_headers};
    /// use std::time::SystemTime;
    ///
    /// let secret = WebhookSecret::generate();
    /// let body = br#"{"event":"call.failed","call_id":"c_1","call_status":"busy"}"#;
    /// let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    /// let headers = sign_headers(&secret, "msg_1", now, body);
    ///
    /// let delivery = Verifier::new(secret).verify_and_parse(&headers, body)?;
    /// match delivery.event {
    ///     WebhookEvent::CallFailed(failed) => assert_eq!(failed.call_id, "c_1"),
    ///     other => panic!("unexpected {}", other.name()),
    /// }
    /// # Ok::<(), topcalls_api::webhooks::WebhookError>(())
    /// ```
    pub fn verify_and_parse(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Delivery, WebhookError> {
        self.verify_and_parse_at(headers, body, self.now())
    }

    /// [`Verifier::verify_and_parse`] as of `now` (unix seconds).
    ///
    /// # Errors
    ///
    /// As [`Verifier::verify_and_parse`].
    pub fn verify_and_parse_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Delivery, WebhookError> {
        let WebhookMeta { id, timestamp } = self.verify_at(headers, body, now)?;
        let event = WebhookEvent::parse(body)?;
        Ok(Delivery {
            id,
            timestamp,
            event,
        })
    }

    fn now(&self) -> i64 {
        unix_seconds(
            self.clock
                .as_ref()
                .map_or_else(SystemTime::now, |now| now()),
        )
    }
}

fn decode_signature(candidate: &str) -> Option<CtOutput<HmacSha256>> {
    let bytes = BASE64
        .decode(candidate.strip_prefix(SIGNATURE_PREFIX)?)
        .ok()?;
    GenericArray::from_exact_iter(bytes).map(CtOutput::new)
}

fn header<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, WebhookError> {
    headers
        .get(name)
        .ok_or(WebhookError::MissingHeader(name))?
        .to_str()
        .map_err(|_| WebhookError::InvalidHeader(name))
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
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

impl Delivery {
    /// The delivery's id and timestamp.
    pub fn meta(&self) -> WebhookMeta {
        WebhookMeta {
            id: self.id.clone(),
            timestamp: self.timestamp,
        }
    }
}

/// Every TopCalls event, typed with the payloads of `openapi.yaml`. A body
/// this SDK cannot type keeps its JSON: [`WebhookEvent::Unknown`] for a named
/// event, [`WebhookEvent::Unnamed`] for a body without a name.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// `call.queued`.
    CallQueued(Box<CallQueuedEvent>),
    /// `call.started`.
    CallStarted(Box<CallStartedEvent>),
    /// `call.completed`, and `call.completed.<disposition>` from account
    /// subscriptions (see [`WebhookEvent::disposition`]); also a body without
    /// `event` that holds a finished call (see [`WebhookEvent::parse`]).
    CallCompleted(Box<CallCompletedEvent>),
    /// `call.failed` (busy, no answer, error).
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
    /// A named event this SDK cannot type: a name it does not know yet, or a
    /// known name whose body does not match its schema (say, no `call_id`).
    Unknown {
        /// The `event` name.
        event: String,
        /// The whole body.
        payload: Value,
    },
    /// A body without an `event` name that is not a finished call (or not an
    /// object at all), as it came.
    Unnamed {
        /// The whole body.
        payload: Value,
    },
}

impl WebhookEvent {
    /// Parses a delivery body. Verify first: parse only bodies whose
    /// signature checked out.
    ///
    /// - A body with a string `event` is the event it names, typed with that
    ///   event's payload; `call.completed.<disposition>` is
    ///   [`WebhookEvent::CallCompleted`]. A name this SDK does not know, or a
    ///   body that does not match the named event's schema, is
    ///   [`WebhookEvent::Unknown`].
    /// - A body without `event` (the shape of the `call.completed` payload
    ///   TopCalls documents) is classified from what it holds: a finished
    ///   call (a `call_id`, and a `status` of `completed`, `failed` or
    ///   `cancelled`, a final `call_status` such as `no-answer`, or an
    ///   `end_at`) is [`WebhookEvent::CallCompleted`], named
    ///   `call.completed.<disposition>` when it carries a `disposition` made
    ///   of `a-z`, `0-9` and `_`, else `call.completed`. That name is stored
    ///   in the payload's `event` (so [`WebhookEvent::name`] reports it); the
    ///   body had none. Anything else is [`WebhookEvent::Unnamed`].
    ///
    /// ```
    /// use topcalls_api::webhooks::WebhookEvent;
    ///
    /// let documented = br#"{"call_id": "c_1", "status": "completed", "call_status": "completed",
    ///                       "call_summary": "Confirmed for Tuesday.", "disposition": "confirmed"}"#;
    /// let event = WebhookEvent::parse(documented)?;
    /// assert!(matches!(event, WebhookEvent::CallCompleted(_)));
    /// assert_eq!(event.name(), "call.completed.confirmed");
    ///
    /// let queued = br#"{"call_id": "c_1", "status": "queued"}"#;
    /// assert!(matches!(WebhookEvent::parse(queued)?, WebhookEvent::Unnamed { .. }));
    /// # Ok::<(), topcalls_api::webhooks::WebhookError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`WebhookError::InvalidPayload`] when the body is not JSON; any JSON
    /// body parses.
    pub fn parse(body: &[u8]) -> Result<Self, WebhookError> {
        let payload: Value = serde_json::from_slice(body).map_err(WebhookError::InvalidPayload)?;
        Ok(match payload.get("event").and_then(Value::as_str) {
            Some(name) => {
                let name = name.to_string();
                Self::named(&name, &payload).unwrap_or(Self::Unknown {
                    event: name,
                    payload,
                })
            }
            None => Self::classify(payload),
        })
    }

    /// The typed event for a body that names itself `name`, if it matches.
    fn named(name: &str, payload: &Value) -> Option<Self> {
        fn typed<T: DeserializeOwned>(payload: &Value) -> Option<Box<T>> {
            T::deserialize(payload).ok().map(Box::new)
        }
        Some(match name {
            "call.queued" => Self::CallQueued(typed(payload)?),
            "call.started" => Self::CallStarted(typed(payload)?),
            "call.failed" => Self::CallFailed(typed(payload)?),
            "call.transferred" => Self::CallTransferred(typed(payload)?),
            "campaign.started" => Self::CampaignStarted(typed(payload)?),
            "campaign.paused" => Self::CampaignPaused(typed(payload)?),
            "campaign.resumed" => Self::CampaignResumed(typed(payload)?),
            "campaign.completed" => Self::CampaignCompleted(typed(payload)?),
            "campaign.stopped" => Self::CampaignStopped(typed(payload)?),
            name if is_call_completed(name) => Self::CallCompleted(typed(payload)?),
            _ => return None,
        })
    }

    /// A body without a name: a finished call is `call.completed`.
    fn classify(payload: Value) -> Self {
        match CallCompletedEvent::deserialize(&payload) {
            Ok(mut call) if is_finished_call(&call) => {
                let name = match call.disposition.as_deref() {
                    Some(d) if is_disposition(d) => format!("call.completed.{d}"),
                    _ => "call.completed".to_string(),
                };
                call.event = Some(name);
                Self::CallCompleted(Box::new(call))
            }
            _ => Self::Unnamed { payload },
        }
    }

    /// The event name: as delivered (e.g. `call.completed.confirmed`), or the
    /// name a body without one was classified as; empty for
    /// [`WebhookEvent::Unnamed`].
    pub fn name(&self) -> &str {
        let event = match self {
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
            Self::Unknown { event, .. } => return event,
            Self::Unnamed { .. } => return "",
        };
        event.as_deref().unwrap_or_default()
    }

    /// Which kind of event this is; `None` for [`WebhookEvent::Unknown`] and
    /// [`WebhookEvent::Unnamed`]. `call.completed.<disposition>` is
    /// [`WebhookEventName::CallCompleted`].
    pub fn kind(&self) -> Option<WebhookEventName> {
        Some(match self {
            Self::CallQueued(_) => WebhookEventName::CallQueued,
            Self::CallStarted(_) => WebhookEventName::CallStarted,
            Self::CallCompleted(_) => WebhookEventName::CallCompleted,
            Self::CallFailed(_) => WebhookEventName::CallFailed,
            Self::CallTransferred(_) => WebhookEventName::CallTransferred,
            Self::CampaignStarted(_) => WebhookEventName::CampaignStarted,
            Self::CampaignPaused(_) => WebhookEventName::CampaignPaused,
            Self::CampaignResumed(_) => WebhookEventName::CampaignResumed,
            Self::CampaignCompleted(_) => WebhookEventName::CampaignCompleted,
            Self::CampaignStopped(_) => WebhookEventName::CampaignStopped,
            Self::Unknown { .. } | Self::Unnamed { .. } => return None,
        })
    }

    /// A completed call's disposition: the payload's `disposition`, or else
    /// the suffix of `call.completed.<disposition>`. `None` for other events.
    pub fn disposition(&self) -> Option<&str> {
        let Self::CallCompleted(event) = self else {
            return None;
        };
        event.disposition.as_deref().or_else(|| {
            event
                .event
                .as_deref()?
                .strip_prefix("call.completed.")
                .filter(|d| !d.is_empty())
        })
    }
}

fn is_call_completed(name: &str) -> bool {
    name == "call.completed" || name.starts_with("call.completed.")
}

/// A disposition that can end an event name, as subscriptions spell them
/// (`call.completed.<[a-z0-9_]+>`).
fn is_disposition(disposition: &str) -> bool {
    !disposition.is_empty()
        && disposition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether a body without a name holds a call that has finished.
fn is_finished_call(call: &CallCompletedEvent) -> bool {
    use CallGatewayStatus as G;
    use CallTelephonyStatus as T;
    let final_status = matches!(call.status, Some(G::Completed | G::Failed | G::Cancelled));
    let final_outcome = matches!(
        call.call_status,
        Some(
            T::Completed
                | T::Failed
                | T::NoAnswer
                | T::Busy
                | T::Rejected
                | T::Cancelled
                | T::DispatchTimeout
        )
    );
    final_status || final_outcome || call.end_at.is_some()
}

/// Remembers delivery ids so that a retried delivery is handled once.
///
/// Holds the most recent `capacity` ids, each for at most the time to live
/// when one is set. Thread-safe: share it behind an `Arc`.
///
/// ```
/// use topcalls_api::webhooks::Deduplicator;
/// use std::time::Duration;
///
/// let seen = Deduplicator::new(10_000).ttl(Duration::from_secs(24 * 3600));
/// assert!(seen.first_seen("msg_1"));
/// assert!(!seen.first_seen("msg_1"));
/// ```
#[derive(Debug)]
pub struct Deduplicator {
    capacity: usize,
    ttl: Option<Duration>,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    next: u64,
    /// id → (insertion number, when).
    ids: HashMap<String, (u64, Instant)>,
    /// In insertion order; an entry whose number no longer matches `ids` is stale.
    order: VecDeque<(u64, Instant, String)>,
}

impl Seen {
    /// Drops the oldest entry; stale ones are dropped on the way.
    fn pop_oldest(&mut self) {
        if let Some((n, _, id)) = self.order.pop_front()
            && self.ids.get(&id).is_some_and(|&(current, _)| current == n)
        {
            self.ids.remove(&id);
        }
    }

    /// Drops every stale entry of `order`.
    fn compact(&mut self) {
        let ids = &self.ids;
        self.order
            .retain(|(n, _, id)| ids.get(id).is_some_and(|&(current, _)| current == *n));
    }
}

impl Default for Deduplicator {
    /// Remembers the last 10,000 ids, with no time to live.
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl Deduplicator {
    /// Remembers up to `capacity` ids (at least 1), with no time to live.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            ttl: None,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Forgets an id once it is older than `ttl`. TopCalls retries a delivery
    /// for about 1 h 20 min, so a day is plenty.
    #[must_use]
    pub fn ttl(self, ttl: Duration) -> Self {
        Self {
            ttl: Some(ttl),
            ..self
        }
    }

    /// `true` the first time `id` is seen, `false` for a repeat.
    pub fn first_seen(&self, id: &str) -> bool {
        self.first_seen_at(id, Instant::now())
    }

    /// [`Deduplicator::first_seen`] as of `now`.
    pub fn first_seen_at(&self, id: &str, now: Instant) -> bool {
        let expired = |at: Instant| {
            self.ttl
                .is_some_and(|ttl| now.saturating_duration_since(at) >= ttl)
        };
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        while seen.order.front().is_some_and(|&(_, at, _)| expired(at)) {
            seen.pop_oldest();
        }
        if seen.ids.get(id).is_some_and(|&(_, at)| !expired(at)) {
            return false;
        }
        let n = seen.next;
        seen.next += 1;
        seen.ids.insert(id.to_string(), (n, now));
        seen.order.push_back((n, now, id.to_string()));
        while seen.ids.len() > self.capacity {
            seen.pop_oldest();
        }
        if seen.order.len() > self.capacity.saturating_mul(2) {
            seen.compact();
        }
        true
    }

    /// Forgets `id`, so that its next delivery counts as the first: call it
    /// when handling a delivery failed and you answer with an error to get
    /// the retry.
    pub fn forget(&self, id: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.ids.remove(id);
    }
}

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
mod extract {
    use std::fmt;

    use axum::body::Bytes;
    use axum::extract::{FromRef, FromRequest, Request};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};

    use super::{Delivery, Verifier, WebhookError};

    /// An axum extractor for a verified, parsed delivery (feature `axum`).
    ///
    /// The state provides the [`Verifier`] (`Verifier: FromRef<S>`; a state
    /// that is a `Verifier` does). Reads the raw body, verifies it and
    /// parses the event. Rejects with 401 for a signature that does not
    /// match or a timestamp out of tolerance, with 400 for a missing or
    /// unreadable header or a body that is not an event, each with a short
    /// plain-text reason.
    ///
    /// ```
    /// use axum::{Router, routing::post};
    /// use topcalls_api::webhooks::{VerifiedWebhook, Verifier, WebhookSecret};
    ///
    /// async fn receive(VerifiedWebhook(delivery): VerifiedWebhook) {
    ///     println!("{} {}", delivery.id, delivery.event.name());
    /// }
    ///
    /// # fn app(secret: WebhookSecret) -> Router {
    /// Router::new()
    ///     .route("/webhooks/topcalls", post(receive))
    ///     .with_state(Verifier::new(secret))
    /// # }
    /// ```
    #[derive(Debug, Clone)]
    pub struct VerifiedWebhook(pub Delivery);

    /// Why [`VerifiedWebhook`] rejected a request: a status and a short reason,
    /// answered as plain text.
    #[derive(Debug)]
    pub struct WebhookRejection {
        status: StatusCode,
        reason: String,
    }

    impl WebhookRejection {
        /// 400 or 401 (or the body extractor's own status, such as 413).
        pub fn status(&self) -> StatusCode {
            self.status
        }

        /// The reason sent as the body.
        pub fn reason(&self) -> &str {
            &self.reason
        }
    }

    impl fmt::Display for WebhookRejection {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}: {}", self.status.as_u16(), self.reason)
        }
    }

    impl From<WebhookError> for WebhookRejection {
        fn from(error: WebhookError) -> Self {
            let status = match error {
                WebhookError::BadSignature
                | WebhookError::TimestampTooOld
                | WebhookError::TimestampInFuture => StatusCode::UNAUTHORIZED,
                _ => StatusCode::BAD_REQUEST,
            };
            Self {
                status,
                reason: error.to_string(),
            }
        }
    }

    impl IntoResponse for WebhookRejection {
        fn into_response(self) -> Response {
            (self.status, self.reason).into_response()
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
            let headers = request.headers().clone();
            let body = Bytes::from_request(request, state)
                .await
                .map_err(|e| WebhookRejection {
                    status: e.status(),
                    reason: e.body_text(),
                })?;
            Ok(Self(verifier.verify_and_parse(&headers, &body)?))
        }
    }
}

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use extract::{VerifiedWebhook, WebhookRejection};

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn headers(id: &str, ts: i64, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ID_HEADER, HeaderValue::try_from(id).unwrap());
        h.insert(TIMESTAMP_HEADER, HeaderValue::from(ts));
        h.insert(SIGNATURE_HEADER, HeaderValue::try_from(signature).unwrap());
        h
    }

    #[test]
    fn standard_webhooks_known_answer() {
        // The example published with the Standard Webhooks specification.
        let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let (id, ts, body) = (
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(sign(&secret, id, ts, body), expected);
        assert_eq!(
            WebhookSecret::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            secret,
            "the prefix is optional"
        );
        let verifier = Verifier::new(secret);
        let meta = verifier
            .verify_at(&headers(id, ts, expected), body, ts)
            .unwrap();
        assert_eq!(
            meta,
            WebhookMeta {
                id: id.to_string(),
                timestamp: ts
            }
        );
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
        // Exactly the tolerance either way is accepted, one second more is not.
        assert!(verifier.verify_at(&good, body, now + 300).is_ok());
        assert!(verifier.verify_at(&good, body, now - 300).is_ok());
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
        for (name, value) in [
            (TIMESTAMP_HEADER, &b"yesterday"[..]),
            (TIMESTAMP_HEADER, b"1.7e9"),
            (ID_HEADER, b"msg_\xff"),
            (ID_HEADER, b""),
            (ID_HEADER, b"  "),
            (SIGNATURE_HEADER, b"v1,\xff"),
        ] {
            let mut h = good.clone();
            h.insert(name, HeaderValue::from_bytes(value).unwrap());
            assert!(
                matches!(verifier.verify_at(&h, body, now), Err(WebhookError::InvalidHeader(n)) if n == name),
                "{name}: {value:?}"
            );
        }
        // An empty id is malformed even when the signature over it is right.
        for blank in ["", " "] {
            let signed = sign_headers(&secret, blank, now, body);
            assert!(
                matches!(verifier.verify_at(&signed, body, now), Err(WebhookError::InvalidHeader(n)) if n == ID_HEADER),
                "{blank:?}"
            );
        }
        // Signatures that are not v1, not base64 or not 32 bytes never match.
        let valid = sign(&secret, "msg_1", now, body);
        let tag = valid.strip_prefix("v1,").unwrap();
        for junk in [
            "",
            tag,
            &format!("v2,{tag}"),
            &format!("v1a,{tag}"),
            "v1,***",
            "v1,",
            &format!("v1,{}", BASE64.encode([0u8; 31])),
            &format!("v1,{}", &tag[..20]),
        ] {
            assert!(
                matches!(
                    verifier.verify_at(&headers("msg_1", now, junk), body, now),
                    Err(WebhookError::BadSignature)
                ),
                "{junk:?}"
            );
        }
        // The id and the timestamp are signed too.
        assert!(matches!(
            verifier.verify_at(&headers("msg_2", now, &valid), body, now),
            Err(WebhookError::BadSignature)
        ));
        assert!(matches!(
            verifier.verify_at(&headers("msg_1", now + 1, &valid), body, now),
            Err(WebhookError::BadSignature)
        ));
    }

    #[test]
    fn malformed_secrets_are_rejected_and_never_shown() {
        for bad in ["whsec_***", "whsec_", "", "   ", "whsec_MfKQ9r8G KYqr"] {
            assert!(
                matches!(WebhookSecret::new(bad), Err(WebhookError::MalformedSecret)),
                "{bad:?}"
            );
        }
        let secret = WebhookSecret::generate();
        let text = secret.as_str();
        assert!(text.starts_with("whsec_"));
        assert_eq!(BASE64.decode(&text[6..]).unwrap().len(), 32);
        assert_eq!(text.parse::<WebhookSecret>().unwrap(), secret);
        assert_ne!(WebhookSecret::generate(), secret);
        for shown in [
            format!("{secret:?}"),
            format!("{:?}", Verifier::new(secret.clone())),
        ] {
            assert!(!shown.contains(&text[6..]), "{shown}");
            assert!(!shown.contains(&text[6..12]), "{shown}");
        }
        assert_eq!(
            WebhookError::MalformedSecret.to_string(),
            "malformed webhook secret"
        );
    }

    #[test]
    fn rotation_and_several_signatures() {
        let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
        let body = b"{}";
        let both = format!("v1,bm9wZQ== {}  v2,whatever", sign(&new, "m", 10, body));
        let verifier = Verifier::new(old.clone()).with_secret(new.clone());
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
        // Only the new secret left: signatures with the old one stop working.
        let rotated = Verifier::new(new);
        assert!(matches!(
            rotated.verify_at(&headers("m", 10, &sign(&old, "m", 10, body)), body, 10),
            Err(WebhookError::BadSignature)
        ));
        assert!(
            rotated
                .verify_at(&headers("m", 10, &both), body, 10)
                .is_ok()
        );
    }

    #[test]
    fn the_clock_and_the_tolerance_are_configurable() {
        let secret = WebhookSecret::generate();
        let signed_at = 1_766_400_000;
        let h = sign_headers(&secret, "msg_1", signed_at, b"{}");
        let at = |secs: i64| move || UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs());
        let verifier = Verifier::new(secret.clone());
        assert!(matches!(
            verifier.verify(&h, b"{}"),
            Err(WebhookError::TimestampTooOld)
        ));
        let verifier = verifier.clock(at(signed_at + 299));
        assert!(verifier.verify(&h, b"{}").is_ok());
        let strict = verifier.clone().tolerance(Duration::from_secs(60));
        assert!(matches!(
            strict.verify(&h, b"{}"),
            Err(WebhookError::TimestampTooOld)
        ));
        let lenient = strict
            .tolerance(Duration::from_secs(3600))
            .clock(at(signed_at - 3599));
        assert!(lenient.verify(&h, b"{}").is_ok());
        assert!(format!("{lenient:?}").contains("custom"));
        // A huge tolerance does not overflow.
        let forever = Verifier::new(secret).tolerance(Duration::MAX);
        assert!(forever.verify_at(&h, b"{}", i64::MAX).is_ok());
        assert!(forever.verify_at(&h, b"{}", i64::MIN).is_ok());
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(5)), -5);
    }

    #[test]
    fn events_parse_typed_or_unknown() {
        let completed = WebhookEvent::parse(
            br#"{"event":"call.completed.confirmed","call_id":"c","status":"completed"}"#,
        )
        .unwrap();
        assert!(matches!(completed, WebhookEvent::CallCompleted(_)));
        assert_eq!(completed.name(), "call.completed.confirmed");
        assert_eq!(completed.kind(), Some(WebhookEventName::CallCompleted));
        assert_eq!(completed.disposition(), Some("confirmed"));
        let with_field = WebhookEvent::parse(
            br#"{"event":"call.completed","call_id":"c","disposition":"voicemail"}"#,
        )
        .unwrap();
        assert_eq!(with_field.disposition(), Some("voicemail"));
        let plain = WebhookEvent::parse(br#"{"event":"call.completed","call_id":"c"}"#).unwrap();
        assert_eq!(plain.disposition(), None);

        // Unknown fields and enum values are kept, not fatal.
        let started = WebhookEvent::parse(
            br#"{"event":"call.started","call_id":"c","status":"ringing","sentiment":1}"#,
        )
        .unwrap();
        assert!(matches!(started, WebhookEvent::CallStarted(_)));
        assert_eq!(started.disposition(), None);

        let future =
            WebhookEvent::parse(br#"{"event":"call.sentiment_scored","score":0.9}"#).unwrap();
        assert!(
            matches!(&future, WebhookEvent::Unknown { event, payload } if event == "call.sentiment_scored" && payload["score"] == 0.9)
        );
        assert_eq!(future.name(), "call.sentiment_scored");
        assert_eq!(future.kind(), None);
        // `call.completedx` is not a completed call.
        assert!(matches!(
            WebhookEvent::parse(br#"{"event":"call.completedx"}"#).unwrap(),
            WebhookEvent::Unknown { .. }
        ));

        // A known name whose body does not match its schema keeps its JSON.
        for (body, name) in [
            (&br#"{"event":"call.queued"}"#[..], "call.queued"),
            (
                br#"{"event":"campaign.paused","campaign_id":5}"#,
                "campaign.paused",
            ),
            (
                br#"{"event":"call.completed","call_id":"c","duration":"long"}"#,
                "call.completed",
            ),
        ] {
            match WebhookEvent::parse(body).unwrap() {
                WebhookEvent::Unknown { event, payload } => {
                    assert_eq!(event, name);
                    assert_eq!(payload, serde_json::from_slice::<Value>(body).unwrap());
                }
                other => panic!("{name}: {other:?}"),
            }
        }

        // Only a body that is not JSON is an error.
        for bad in [&b"not json"[..], b"", b"{\"call_id\":", b"\xff"] {
            assert!(
                matches!(
                    WebhookEvent::parse(bad),
                    Err(WebhookError::InvalidPayload(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn bodies_without_an_event_are_classified_from_what_they_hold() {
        let completed = |body: &[u8]| match WebhookEvent::parse(body).unwrap() {
            WebhookEvent::CallCompleted(event) => *event,
            other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
        };
        // The docs' own shape: no `event`, a finished call.
        let docs = br#"{"call_id":"c_1","phone_number":"+14155551234","status":"completed",
            "call_status":"completed","duration":2.5,"transcript":[{"id":1,"user":"assistant",
            "text":"Hi","created_at":"2025-12-22T10:30:05Z"}],"call_summary":"Confirmed.",
            "answered_by":"human","campaign_id":"camp_abc123","lead_id":"lead_xyz789",
            "created_at":"2025-12-22T10:30:00Z","started_at":"2025-12-22T10:30:05Z"}"#;
        let event = completed(docs);
        assert_eq!(event.call_id, "c_1");
        assert_eq!(event.campaign_id.as_deref(), Some("camp_abc123"));
        let parsed = WebhookEvent::parse(docs).unwrap();
        assert_eq!(parsed.name(), "call.completed");
        assert_eq!(parsed.kind(), Some(WebhookEventName::CallCompleted));
        assert_eq!(parsed.disposition(), None);

        // Its disposition becomes the suffix, as a subscription would name it.
        let with_disposition = WebhookEvent::parse(
            br#"{"call_id":"c","status":"completed","disposition":"booked_callback"}"#,
        )
        .unwrap();
        assert_eq!(with_disposition.name(), "call.completed.booked_callback");
        assert_eq!(with_disposition.disposition(), Some("booked_callback"));
        // A disposition that cannot be a name suffix stays a member only.
        let spaced = WebhookEvent::parse(
            br#"{"call_id":"c","status":"completed","disposition":"Call back"}"#,
        )
        .unwrap();
        assert_eq!(spaced.name(), "call.completed");
        assert_eq!(spaced.disposition(), Some("Call back"));

        // Every sign of a finished call counts, unknown members and values included.
        for body in [
            &br#"{"call_id":"c","status":"failed","call_status":"no-answer"}"#[..],
            br#"{"call_id":"c","status":"cancelled"}"#,
            br#"{"call_id":"c","call_status":"busy"}"#,
            br#"{"call_id":"c","status":"ringing","end_at":"2025-12-22T10:32:33Z"}"#,
            br#"{"call_id":"c","status":"completed","sentiment":{"score":0.9}}"#,
        ] {
            assert_eq!(completed(body).call_id, "c");
        }

        // Anything else is kept, never rejected.
        for body in [
            &br#"{"call_id":"c","status":"queued"}"#[..],
            br#"{"call_id":"c","status":"in_progress","call_status":"in-progress"}"#,
            br#"{"call_id":"c","call_status":"ringing"}"#,
            br#"{"status":"completed"}"#,
            br#"{"call_id":7,"status":"completed"}"#,
            br#"{"call_id":"c","status":"completed","duration":"long"}"#,
            br#"{"campaign_id":"camp_1","status":"paused"}"#,
            br#"{"event":7,"call_id":"c"}"#,
            b"{}",
            b"[]",
            b"null",
            br#""call.completed""#,
        ] {
            match WebhookEvent::parse(body).unwrap() {
                WebhookEvent::Unnamed { payload } => {
                    assert_eq!(payload, serde_json::from_slice::<Value>(body).unwrap());
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        let unnamed = WebhookEvent::parse(b"{}").unwrap();
        assert_eq!(
            (unnamed.name(), unnamed.kind(), unnamed.disposition()),
            ("", None, None)
        );
    }

    #[test]
    fn the_deduplicator_forgets_the_oldest() {
        let dedup = Deduplicator::new(2);
        assert!(dedup.first_seen("a"));
        assert!(!dedup.first_seen("a"));
        assert!(dedup.first_seen("b"));
        assert!(dedup.first_seen("c"));
        assert!(dedup.first_seen("a"), "a was evicted");
        assert!(!dedup.first_seen("c"));
    }

    #[test]
    fn the_deduplicator_forgets_after_the_ttl_and_on_request() {
        let dedup = Deduplicator::new(100).ttl(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(dedup.first_seen_at("a", t0));
        assert!(dedup.first_seen_at("b", t0 + Duration::from_secs(30)));
        assert!(!dedup.first_seen_at("a", t0 + Duration::from_secs(59)));
        assert!(dedup.first_seen_at("a", t0 + Duration::from_secs(60)));
        assert!(!dedup.first_seen_at("b", t0 + Duration::from_secs(89)));
        assert!(!dedup.first_seen_at("a", t0 + Duration::from_secs(90)));

        dedup.forget("a");
        assert!(dedup.first_seen_at("a", t0 + Duration::from_secs(91)));
        assert!(!dedup.first_seen_at("a", t0 + Duration::from_secs(92)));
    }

    #[test]
    fn the_deduplicator_stays_bounded_when_ids_are_forgotten() {
        let dedup = Deduplicator::new(3);
        assert!(dedup.first_seen("kept"));
        for i in 0..1000 {
            let id = format!("m{}", i % 5);
            dedup.first_seen(&id);
            dedup.forget(&id);
        }
        assert!(!dedup.first_seen("kept"), "forgotten ids evict nothing");
        let seen = dedup.seen.lock().unwrap();
        assert!(seen.ids.len() <= 3 && seen.order.len() <= 6);
    }

    #[test]
    fn the_deduplicator_is_shared_between_threads() {
        let dedup = Arc::new(Deduplicator::new(10_000));
        let firsts: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let dedup = Arc::clone(&dedup);
                    scope.spawn(move || {
                        (0..500)
                            .filter(|i| dedup.first_seen(&format!("msg_{i}")))
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(firsts, 500, "each id is first exactly once");
    }

    proptest! {
        #[test]
        fn signatures_verify_and_any_changed_byte_fails(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            key in proptest::collection::vec(any::<u8>(), 1..160),
            id in "[a-zA-Z0-9_]{1,40}",
            timestamp in 0i64..4_000_000_000,
            flip in any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            let secret = WebhookSecret::new(&BASE64.encode(&key)).unwrap();
            let headers = sign_headers(&secret, &id, timestamp, &body);
            let verifier = Verifier::new(secret.clone());
            prop_assert!(verifier.verify_at(&headers, &body, timestamp).is_ok());

            // Keys of every length, longer than a block included, sign as HMAC does.
            let mut reference = <HmacSha256 as KeyInit>::new_from_slice(&key).unwrap();
            reference.update(format!("{id}.{timestamp}.").as_bytes());
            reference.update(&body);
            let reference = format!("v1,{}", BASE64.encode(reference.finalize().into_bytes()));
            prop_assert_eq!(sign(&secret, &id, timestamp, &body), reference);

            if !body.is_empty() {
                let mut tampered = body.clone();
                let i = flip.index(tampered.len());
                tampered[i] ^= 1 << bit;
                prop_assert!(matches!(
                    verifier.verify_at(&headers, &tampered, timestamp),
                    Err(WebhookError::BadSignature)
                ));
            }
            let mut longer = body.clone();
            longer.push(b' ');
            prop_assert!(matches!(
                verifier.verify_at(&headers, &longer, timestamp),
                Err(WebhookError::BadSignature)
            ));
        }

        #[test]
        fn a_wrong_secret_never_verifies(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            // Same length: HMAC pads short keys with zeros, so `k` and `k\0` are one key.
            a in any::<[u8; 32]>(),
            b in any::<[u8; 32]>(),
        ) {
            prop_assume!(a != b);
            let signer = WebhookSecret::new(&BASE64.encode(a)).unwrap();
            let other = WebhookSecret::new(&BASE64.encode(b)).unwrap();
            let headers = sign_headers(&signer, "msg", 1, &body);
            prop_assert!(matches!(
                Verifier::new(other).verify_at(&headers, &body, 1),
                Err(WebhookError::BadSignature)
            ));
        }
    }
}
