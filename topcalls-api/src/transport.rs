//! What the generated client carries for every request.

use std::fmt;

use reqwest::header::HeaderValue;

use crate::retry::RetryPolicy;

/// State the generated client carries (progenitor's "inner type"): what
/// every request needs besides its own parameters.
#[derive(Clone)]
pub struct Inner {
    /// `Bearer <key>`, marked sensitive so it never shows in debug output.
    pub(crate) authorization: HeaderValue,
    pub(crate) user_agent: HeaderValue,
    pub(crate) retry: RetryPolicy,
    /// The largest response body read, in bytes.
    pub(crate) max_response_bytes: usize,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("authorization", &"[redacted]")
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}
