//! Standard Webhooks signatures: secrets, signing, verification.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::generic_array::GenericArray;
use hmac::digest::{CtOutput, Digest as _, Key, KeyInit};
use hmac::{Hmac, Mac as _};
use http::{HeaderMap, HeaderValue};
use secrecy::zeroize::{Zeroize as _, Zeroizing};
use sha2::Sha256;

use super::{
    DEFAULT_TOLERANCE, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookError, WebhookEvent,
};

const SECRET_PREFIX: &str = "whsec_";
const SIGNATURE_PREFIX: &str = "v1,";

pub(super) type HmacSha256 = Hmac<Sha256>;

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

    /// A fresh random 32-byte secret, from the operating system's
    /// cryptographically secure generator.
    ///
    /// # Panics
    ///
    /// If the operating system cannot provide random bytes: no secret is
    /// better than a guessable one.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(key.as_mut_slice())
            .expect("the operating system's random number generator failed");
        Self { key }
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
    pub(super) fn verify_at(
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
    pub(super) fn verify_and_parse_at(
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

pub(super) fn unix_seconds(time: SystemTime) -> i64 {
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
