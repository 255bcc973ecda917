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
//! use std::time::{Duration, UNIX_EPOCH};
//! use topcalls_api::webhooks::{self, Verifier, WebhookEvent, WebhookSecret};
//!
//! let secret = WebhookSecret::generate();
//! let body = br#"{"event": "call.queued", "call_id": "c_1", "status": "queued"}"#;
//! let now = 1_766_400_000;
//! let headers = webhooks::sign_headers(&secret, "msg_1", now, body);
//!
//! // The one way to set the time verification reads: the verifier's clock
//! // (the system clock unless told otherwise).
//! let verifier = Verifier::new(secret).clock(move || UNIX_EPOCH + Duration::from_secs(now as u64));
//! let delivery = verifier.verify_and_parse(&headers, body)?;
//! assert_eq!(delivery.id, "msg_1");
//! assert!(matches!(delivery.event, WebhookEvent::CallQueued(_)));
//! # Ok::<(), topcalls_api::webhooks::WebhookError>(())
//! ```
//!
//! The module is split by concern: signatures (`WebhookSecret`, `sign`,
//! `Verifier`), events (`WebhookEvent`), deduplication (`Deduplicator`) and,
//! with the `axum` feature, `VerifiedWebhook`.
//!
//! With the `axum` feature, `VerifiedWebhook` is an axum extractor that does
//! all of this and answers 400/401 on its own.

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
mod axum;
mod dedup;
mod events;
mod signature;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use self::axum::{VerifiedWebhook, WebhookRejection};
pub use dedup::Deduplicator;
pub use events::WebhookEvent;
pub use signature::{Delivery, Verifier, WebhookMeta, WebhookSecret, sign, sign_headers};

/// The `webhook-id` header: unique per delivery, the same on its retries.
pub const ID_HEADER: &str = "webhook-id";
/// The `webhook-timestamp` header: when the delivery was signed, unix seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The `webhook-signature` header: space-separated `v1,<base64>` signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far a delivery's timestamp may be from now unless told otherwise.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Why a delivery was rejected, or a secret could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is absent.
    MissingHeader(&'static str),
    /// A header is present but unreadable.
    InvalidHeader(&'static str),
    /// The secret is not `whsec_<base64>` (or plain base64) of a non-empty key.
    MalformedSecret,
    /// No `v1` signature in the header matches any of the secrets.
    BadSignature,
    /// The timestamp is older than the tolerance allows.
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance allows.
    TimestampInFuture,
    /// The verified body is not JSON.
    InvalidPayload(serde_json::Error),
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookError::MissingHeader(name) => write!(f, "missing `{name}` header"),
            WebhookError::InvalidHeader(name) => write!(f, "invalid `{name}` header"),
            WebhookError::MalformedSecret => f.write_str("malformed webhook secret"),
            WebhookError::BadSignature => f.write_str("no signature matches"),
            WebhookError::TimestampTooOld => f.write_str("timestamp too old"),
            WebhookError::TimestampInFuture => f.write_str("timestamp in the future"),
            WebhookError::InvalidPayload(_) => f.write_str("invalid event payload"),
        }
    }
}

impl std::error::Error for WebhookError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WebhookError::InvalidPayload(e) => Some(e),
            _ => None,
        }
    }
}
