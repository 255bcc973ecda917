//! Facts of the wire that every other module reads and that read nothing of
//! the crate: header names, the waits a response asks for, idempotency keys
//! and default timeouts. A leaf: it imports no other module of this crate.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

/// The `Idempotency-Key` request header.
pub(crate) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The `X-Request-Id` response header.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Time allowed to open a connection unless the builder says otherwise.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for one attempt unless the builder says otherwise.
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh idempotency key: `tc_` and 128 random bits from the operating
/// system in hex, within the API's 8–255 characters of `[A-Za-z0-9_-]`.
/// `None` when the system cannot provide random bytes: a guessable key could
/// collide with another request's and replay its answer instead of placing
/// the call.
pub(crate) fn new_idempotency_key() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex_key("tc_", &bytes))
}

/// An idempotency key made of `prefix` and `bytes` in lowercase hex.
pub(crate) fn hex_key(prefix: &str, bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(prefix.len() + 2 * bytes.len());
    key.push_str(prefix);
    for byte in bytes {
        key.push(char::from(HEX[usize::from(byte >> 4)]));
        key.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    key
}

/// A caller's idempotency key as a header value, when it is 8–255
/// characters of `[A-Za-z0-9_-]` (`topcalls_types::rules`, the rule the
/// sandbox applies too); otherwise what is wrong with it.
pub(crate) fn idempotency_key(key: &str) -> Result<HeaderValue, String> {
    if topcalls_types::rules::idempotency_key(key).is_err() {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        return Err(match key.chars().find(|c| !allowed(*c)) {
            Some(bad) => format!(
                "an idempotency key may only hold A-Z, a-z, 0-9, `_` and `-` (found {bad:?})"
            ),
            None => format!(
                "an idempotency key must be 8 to 255 characters long (got {})",
                key.len()
            ),
        });
    }
    // Only visible ASCII: always a valid header value.
    HeaderValue::try_from(key).map_err(|e| e.to_string())
}

/// The longest wait a response can ask for: a larger (or overflowing)
/// `Retry-After` / `retry-after-ms` reads as this. No rate limit of the API
/// lasts a day; a value beyond it is nonsense, but still means "long".
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The wait a response asks for: `retry-after-ms` (milliseconds, fractions
/// allowed), then `Retry-After` in whole seconds or as an HTTP date.
///
/// Never panics: a value that is not a number, negative, NaN or infinite is
/// ignored (`None`, or the next header); one too large for a `Duration`, or
/// beyond [`MAX_RETRY_AFTER`], reads as [`MAX_RETRY_AFTER`]; a date in the
/// past reads as zero.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

/// [`retry_after`] as of `now` (HTTP dates are relative to it).
pub(crate) fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(wait) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(milliseconds)
    {
        return Some(wait);
    }
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // `delay-seconds` is `1*DIGIT`: so many digits that `u64` overflows
        // is a very long wait, not an unreadable one.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// A `retry-after-ms` value: a finite, non-negative decimal number.
fn milliseconds(value: &str) -> Option<Duration> {
    let ms = value.trim().parse::<f64>().ok()?;
    if !ms.is_finite() || ms < 0.0 {
        return None;
    }
    if ms == 0.0 {
        // `-0` included, which `Duration` would call negative.
        return Some(Duration::ZERO);
    }
    // Finite and non-negative: only overflow can fail, and that is "long".
    Some(
        Duration::try_from_secs_f64(ms / 1000.0)
            .unwrap_or(MAX_RETRY_AFTER)
            .min(MAX_RETRY_AFTER),
    )
}

/// A header value as text, when it is text.
pub(crate) fn text(value: Option<&HeaderValue>) -> Option<String> {
    value.and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// A uniform draw from `[0, 1)`: 53 random bits from the operating system.
/// Jitter only spreads retries out, so should the system's generator fail,
/// the middle of the range serves.
pub(crate) fn unit_random() -> f64 {
    let bits = getrandom::u64().unwrap_or(1 << 63) >> 11;
    // 53 bits convert to f64 exactly.
    #[allow(clippy::cast_precision_loss)]
    let unit = bits as f64 / (1u64 << 53) as f64;
    unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_checked() {
        assert!(idempotency_key("order-1234").is_ok());
        assert!(idempotency_key("short").is_err());
        assert!(idempotency_key("has space in it").is_err());
        assert!(idempotency_key(&"x".repeat(256)).is_err());
        let key = new_idempotency_key().unwrap();
        assert!(idempotency_key(&key).is_ok());
        assert_eq!(key.len(), 35);
        assert_ne!(Some(key), new_idempotency_key());
    }

    #[test]
    fn retry_after_reads_seconds_ms_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        let mut dated = HeaderMap::new();
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(10));
        dated.insert(RETRY_AFTER, HeaderValue::try_from(past).unwrap());
        assert_eq!(retry_after(&dated), Some(Duration::ZERO));
        let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        dated.insert(RETRY_AFTER, HeaderValue::try_from(future).unwrap());
        let wait = retry_after(&dated).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        dated.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&dated), None);
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn absurd_waits_are_capped_or_ignored_never_a_panic() {
        let day = MAX_RETRY_AFTER;
        for (value, expected) in [
            ("1e300", Some(day)),
            ("18446744073709551616000", Some(day)),
            ("1.7976931348623157e308", Some(day)),
            ("86400001", Some(day)),
            ("86399999", Some(Duration::from_micros(86_399_999_000))),
            ("0.5", Some(Duration::from_micros(500))),
            ("-0", Some(Duration::ZERO)),
            ("-1e-400", Some(Duration::ZERO)),
            ("1e-400", Some(Duration::ZERO)),
            ("  250  ", Some(Duration::from_millis(250))),
            ("-1", None),
            ("-1e300", None),
            ("NaN", None),
            ("nan", None),
            ("inf", None),
            ("-infinity", None),
            ("0x10", None),
            ("1_000", None),
            ("", None),
            ("soon", None),
        ] {
            assert_eq!(
                retry_after(&headers(&[("retry-after-ms", value)])),
                expected,
                "retry-after-ms: {value:?}"
            );
        }
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_766_400_000);
        for (value, expected) in [
            ("18446744073709551616000", Some(day)),
            ("18446744073709551615", Some(day)),
            ("99999999999999999999999999999999999999", Some(day)),
            ("86401", Some(day)),
            ("0", Some(Duration::ZERO)),
            ("007", Some(Duration::from_secs(7))),
            ("-5", None),
            ("+5", None),
            ("1.5", None),
            ("1e3", None),
            ("NaN", None),
            ("inf", None),
            ("", None),
            ("Fri, 31 Dec 9999 23:59:59 GMT", Some(day)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(Duration::ZERO)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(Duration::ZERO)),
            (
                "Mon, 22 Dec 2025 10:50:00 GMT",
                Some(Duration::from_secs(600)),
            ),
            ("Fri, 31 Dec 99999 23:59:59 GMT", None),
            ("Mon, 32 Dec 2025 10:40:00 GMT", None),
        ] {
            assert_eq!(
                retry_after_at(&headers(&[("retry-after", value)]), now),
                expected,
                "Retry-After: {value:?}"
            );
        }
        // An unusable `retry-after-ms` falls back to `Retry-After`.
        let both = headers(&[("retry-after-ms", "NaN"), ("retry-after", "3")]);
        assert_eq!(retry_after(&both), Some(Duration::from_secs(3)));
        // Bytes that are not text are ignored.
        let mut binary = HeaderMap::new();
        binary.insert(RETRY_AFTER, HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        binary.insert("retry-after-ms", HeaderValue::from_bytes(b"1\xff").unwrap());
        assert_eq!(retry_after(&binary), None);
    }
}
