//! Retries: which failures are retried, how long to wait, and the loop that
//! runs each attempt.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Request, Response, StatusCode};
use tracing::Instrument;

use crate::error::ResponseTooLargeError;
use crate::wire::{self, IDEMPOTENCY_KEY, REQUEST_ID, retry_after, text};

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
/// assert_eq!(policy.get_max_retries(), 4);
/// assert_eq!(RetryPolicy::none().get_max_retries(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
    /// Whether a `429` is retried here. A batch ([`crate::bulk`]) turns it
    /// off: it paces all its requests on the wait the server asks for.
    pub(crate) retry_rate_limited: bool,
}

impl Default for RetryPolicy {
    /// Two retries, waits from 0.5 s doubling up to 8 s, `Retry-After` up to 60 s.
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            retry_rate_limited: true,
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

    /// The number of retries set with [`RetryPolicy::max_retries`].
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The longest `Retry-After` honoured ([`RetryPolicy::max_retry_after`]).
    pub fn get_max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// The full-jitter backoff before retry number `retry` (0-based).
    fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(30)));
        let ceiling = exp.min(self.max_delay);
        ceiling.mul_f64(wire::unit_random())
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
                } else if status == StatusCode::TOO_MANY_REQUESTS && !policy.retry_rate_limited {
                    (response, false)
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

#[cfg(test)]
mod tests {
    use super::*;

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
