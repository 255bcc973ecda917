//! What every request goes through: authentication, the user agent,
//! idempotency keys, retries, and a record of the attempts.
//!
//! The hand-written layer runs each generated [`Operation`] on its own path
//! ([`crate::Client`]'s `run`). The same behaviour reaches callers of the
//! generated builders (`Client::raw`) through progenitor's `ClientHooks`.

use std::fmt;
use std::time::Duration;

use progenitor_client::{ClientHooks, ClientInfo as _, Error as GenError, OperationInfo};
use reqwest::header::{self, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

use crate::error::ResponseTooLargeError;
use crate::generated::Client as GeneratedClient;
use crate::retry::RetryPolicy;
use crate::types::Problem;

/// The `Idempotency-Key` request header.
pub(crate) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The `X-Request-Id` response header.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// State the generated client carries for the hooks.
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

/// One operation of the generated client, built from `openapi.yaml` by
/// `cargo xtask generate`: every builder in `generated::builder` implements
/// it with the request its `send()` would make.
pub(crate) trait Operation {
    /// The success body.
    type Output: serde::de::DeserializeOwned;
    /// The `operationId`.
    const ID: &'static str;
    /// The request: method, URL, query, headers and body, checked by the
    /// generated parameter types. Nothing is sent. (The error is the
    /// generated code's own type; it only occurs before sending.)
    #[allow(clippy::result_large_err)]
    fn into_request(self) -> Result<reqwest::Request, GenError<Problem>>;
}

/// What the client learned about one logical request while running it.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    /// The idempotency key every attempt carried (POST only).
    pub(crate) idempotency_key: Option<String>,
    /// Attempts made so far: once one was sent, the request may have
    /// reached the server.
    pub(crate) attempts: u32,
    /// Status of the last response received.
    pub(crate) last_status: Option<StatusCode>,
    /// `X-Request-Id` of the last response received.
    pub(crate) last_request_id: Option<HeaderValue>,
}

impl Exchange {
    /// Notes what the retry loop reports.
    pub(crate) fn record(&mut self, event: crate::retry::Event<'_>) {
        match event {
            crate::retry::Event::Sending => self.attempts += 1,
            crate::retry::Event::Response(status, headers) => {
                self.last_status = Some(status);
                self.last_request_id = headers.get(REQUEST_ID).cloned();
            }
        }
    }

    /// The `X-Request-Id` of the last response, as text.
    pub(crate) fn request_id(&self) -> Option<String> {
        self.last_request_id
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// Sets what every request carries: the API key, the user agent and, on a
/// POST, an idempotency key (a fresh one unless the request has one).
/// Returns the idempotency key.
pub(crate) fn authorize(
    inner: &Inner,
    request: &mut reqwest::Request,
) -> Result<Option<String>, String> {
    let is_post = request.method() == Method::POST;
    let headers = request.headers_mut();
    headers.insert(header::AUTHORIZATION, inner.authorization.clone());
    headers.insert(header::USER_AGENT, inner.user_agent.clone());
    if !is_post {
        return Ok(None);
    }
    if let Some(existing) = headers.get(&IDEMPOTENCY_KEY) {
        return existing
            .to_str()
            .map(|key| Some(key.to_string()))
            .map_err(|_| "the idempotency key is not valid ASCII".to_string());
    }
    let key = new_idempotency_key();
    let value = HeaderValue::try_from(key.as_str())
        .map_err(|_| format!("invalid idempotency key `{key}`"))?;
    headers.insert(IDEMPOTENCY_KEY, value);
    Ok(Some(key))
}

/// For callers of the generated builders: authentication, one idempotency
/// key per `send()` reused by every retry, and the client's retry policy.
impl ClientHooks<Inner> for GeneratedClient {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), GenError<E>> {
        authorize(&self.inner, request)
            .map(drop)
            .map_err(GenError::InvalidRequest)
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let limit = self.inner.max_response_bytes;
        let idempotency_key = crate::retry::text(request.headers().get(&IDEMPOTENCY_KEY));
        // Boxed: the retry loop's state is large, and the generated code
        // would otherwise carry (and move) it inline.
        let response = Box::pin(crate::retry::execute(
            self.client(),
            request,
            info.operation_id,
            &self.inner.retry,
            limit,
            |_| {},
        ))
        .await?;
        // `send()` reads the body itself: hand it one that stops at the limit.
        let error = ResponseTooLargeError {
            status: response.status(),
            limit,
            declared_length: response.content_length(),
            request_id: crate::retry::text(response.headers().get(REQUEST_ID)),
            idempotency_key,
        };
        Ok(crate::body::limit(response, limit, error))
    }
}

/// A fresh idempotency key: `tc_` and a random UUID, within the API's
/// 8–255 characters of `[A-Za-z0-9_-]`.
pub(crate) fn new_idempotency_key() -> String {
    format!("tc_{}", uuid::Uuid::new_v4().simple())
}

/// Default timeouts.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
