//! Entry points for the fuzz harness (`fuzz-harness/`, `fuzz/`): the
//! internal steps that read what a server or a webhook sender controls.
//! Behind the `fuzzing` feature and hidden from the docs: not part of the
//! SDK's API, no stability promised.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use crate::error::{ResponseTooLargeError, Result};
use crate::execute::Exchange;

/// The longest wait a `Retry-After` / `retry-after-ms` can ask for.
pub const MAX_RETRY_AFTER: Duration = crate::wire::MAX_RETRY_AFTER;

/// The wait `headers` ask for, as of `now`: what the retry loop and
/// [`crate::ApiError::retry_after`] read.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    crate::wire::retry_after_at(headers, now)
}

/// Reads and decodes a final response as [`crate::Client`] does: at most
/// `limit` bytes, a success body as `T`, a redirect or error status as the
/// matching [`crate::Error`].
pub async fn answer<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    limit: usize,
) -> Result<T> {
    crate::execute::answer(response, limit, &Exchange::default()).await
}

/// `response` with its body limited to `limit` bytes, as the generated
/// builders (`Client::raw`) receive it.
pub fn limit_body(response: reqwest::Response, limit: usize) -> reqwest::Response {
    let error = ResponseTooLargeError {
        status: response.status(),
        limit,
        declared_length: response.content_length(),
        request_id: None,
        idempotency_key: None,
    };
    crate::body::limit(response, limit, error)
}

/// A body as TRACE events and `Debug` output show it (secrets redacted).
pub fn preview(body: &[u8]) -> String {
    crate::redact::preview(body)
}

/// The placeholder [`preview`] shows for a secret.
pub const REDACTED: &str = crate::redact::REDACTED;

/// Whether [`preview`] treats a JSON member name as a secret's.
pub fn is_secret_name(name: &str) -> bool {
    crate::redact::is_secret_name(name)
}
