//! Retries: which failures are retried, how long to wait, and the loop that
//! runs each attempt.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Request, Response, StatusCode};
use tracing::Instrument;

use crate::error::ResponseTooLargeError;
use crate::transport::{IDEMPOTENCY_KEY, REQUEST_ID};

/// How a client retries failed attempts.
///
/// Retried: connection failures and timeouts, `408`, `429`, `500`, `502`,
/// `503`, `504`, and `409` with an `idempotency_key_in_use` problem. A `POST`
/// is only ever retried with the same `Idempotency-Key` on every attempt, so
/// a retry can never place a call twice. Waits grow exponentially with full
/// jitter; `Retry-After` and `retry-after-ms` are honoured, and a server that
/// asks for longer than [`RetryPolicy::max_retry_after`] gets its error
/// returned (carrying the wait) instead of a sleep.
///
/// ```
/// use std::time::Duration;
/// use topcalls_api::RetryPolicy;
///
/// let policy = RetryPolicy::default().max_retries(4).max_delay(Duration::from_secs(2));
/// assert_eq!(policy.retries(), 4);
/// assert_eq!(RetryPolicy::none().retries(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Two retries, waits from 0.5 s doubling up to 8 s, `Retry-After` up to 60 s.
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self::default().max_retries(0)
    }

    /// How many retries after the first attempt (0 disables retries).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first backoff step; later steps double it.
    #[must_use]
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest computed backoff between two attempts.
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The longest `Retry-After` the client will sleep for; a longer one
    /// ends the retries and the error carries the requested wait.
    #[must_use]
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// The configured number of retries.
    pub fn retries(&self) -> u32 {
        self.max_retries
    }

    /// The full-jitter backoff before retry number `retry` (0-based).
    fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(30)));
        let ceiling = exp.min(self.max_delay);
        ceiling.mul_f64(rand::random::<f64>())
    }
}

/// What the retry loop reports to the transport as it goes.
pub(crate) enum Event<'a> {
    Sending,
    Response(StatusCode, &'a HeaderMap),
}

/// Whether a status is worth another attempt (409 is decided by its body).
fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
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

/// Runs `request`, retrying under `policy`. Returns the last response, or
/// the last transport error.
pub(crate) async fn execute(
    client: &reqwest::Client,
    request: Request,
    operation: &'static str,
    policy: &RetryPolicy,
    max_response_bytes: usize,
    mut on: impl FnMut(Event<'_>),
) -> reqwest::Result<Response> {
    let method = request.method().clone();
    // A POST without an idempotency key could take effect twice: never retry it.
    let may_retry = method != Method::POST || request.headers().contains_key(IDEMPOTENCY_KEY);
    let mut retry = 0u32;
    let mut pending = request;
    loop {
        // Keep a copy for the next attempt, unless this is the last one
        // (or the body cannot be replayed).
        let spare = if may_retry && retry < policy.max_retries {
            pending.try_clone()
        } else {
            None
        };

        let span = tracing::debug_span!(
            "topcalls.attempt",
            operation,
            %method,
            path = pending.url().path(),
            attempt = retry + 1,
        );
        if tracing::enabled!(tracing::Level::TRACE)
            && let Some(body) = pending.body().and_then(reqwest::Body::as_bytes)
        {
            tracing::trace!(parent: &span, body = %crate::redact::preview(body), "request body");
        }
        // Latency is only reported in DEBUG events: no clock reads otherwise.
        let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        on(Event::Sending);
        // Spans cost even when nobody listens (the `log` bridge): skip them then.
        let result = if span.is_disabled() {
            client.execute(pending).await
        } else {
            client.execute(pending).instrument(span.clone()).await
        };
        let latency_ms = started.map_or(0, |started| started.elapsed().as_millis() as u64);

        let (wait, next) = match result {
            Ok(response) => {
                let status = response.status();
                tracing::debug!(
                    parent: &span,
                    status = status.as_u16(),
                    request_id = response
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(""),
                    latency_ms,
                    "response"
                );
                on(Event::Response(status, response.headers()));
                let Some(next) = spare else {
                    return Ok(response);
                };
                let (response, retryable) = if status == StatusCode::CONFLICT {
                    // Boxed: a rare path, kept out of every request's future.
                    Box::pin(key_in_use(
                        response,
                        max_response_bytes,
                        next.headers().get(IDEMPOTENCY_KEY),
                    ))
                    .await?
                } else {
                    (response, retryable_status(status))
                };
                if !retryable {
                    return Ok(response);
                }
                match retry_after(response.headers()) {
                    // The server asks for longer than we are willing to wait:
                    // hand its answer (and the wait it asked for) to the caller.
                    Some(asked) if asked > policy.max_retry_after => return Ok(response),
                    Some(asked) => (asked, next),
                    None => (policy.backoff(retry), next),
                }
            }
            Err(error) => {
                tracing::debug!(parent: &span, %error, "attempt failed without a response");
                let Some(next) = spare else { return Err(error) };
                if error.is_builder() || error.is_redirect() {
                    return Err(error);
                }
                (policy.backoff(retry), next)
            }
        };
        tracing::debug!(
            operation,
            attempt = retry + 1,
            wait_ms = wait.as_millis() as u64,
            "retrying"
        );
        tokio::time::sleep(wait).await;
        pending = next;
        retry += 1;
    }
}

/// A 409 is retried only when the problem says an earlier request with the
/// same key is still in progress. Reads the body (within `limit`) and
/// rebuilds the response; one too large to read is not retried, and its
/// body fails with [`ResponseTooLargeError`] for whoever reads it next.
async fn key_in_use(
    response: Response,
    limit: usize,
    idempotency_key: Option<&HeaderValue>,
) -> reqwest::Result<(Response, bool)> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        // Its reader refuses it before reading: nothing to look at here.
        return Ok((response, false));
    }
    let mut rebuilt = http::Response::new(());
    *rebuilt.status_mut() = response.status();
    *rebuilt.version_mut() = response.version();
    *rebuilt.headers_mut() = response.headers().clone();
    let (parts, ()) = rebuilt.into_parts();
    let body = match crate::body::read(response, limit).await {
        Ok(body) => body,
        Err(crate::body::ReadError::Transport(error)) => return Err(error),
        Err(crate::body::ReadError::TooLarge { declared }) => {
            let error = ResponseTooLargeError {
                status: parts.status,
                limit,
                declared_length: declared,
                request_id: text(parts.headers.get(REQUEST_ID)),
                idempotency_key: text(idempotency_key),
            };
            return Ok((crate::body::failed(parts, error), false));
        }
    };
    let in_use = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("type")
                .and_then(|t| t.as_str())
                .map(|t| t.ends_with("idempotency_key_in_use"))
        })
        .unwrap_or(false);
    Ok((
        Response::from(http::Response::from_parts(parts, body)),
        in_use,
    ))
}

/// A header value as text, when it is text.
pub(crate) fn text(value: Option<&HeaderValue>) -> Option<String> {
    value.and_then(|v| v.to_str().ok()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn backoff_is_jittered_under_the_exponential_ceiling() {
        let policy = RetryPolicy::default();
        for retry in 0..10 {
            let ceiling =
                (Duration::from_millis(500) * 2u32.pow(retry)).min(Duration::from_secs(8));
            for _ in 0..50 {
                assert!(policy.backoff(retry) <= ceiling);
            }
        }
    }
}
