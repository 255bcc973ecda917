//! What every operation goes through: authentication, the user agent,
//! idempotency keys, retries and a record of each attempt.
//!
//! This is progenitor's `ClientHooks` for the generated client, so the
//! generated builders (`Client::raw`) get the same behaviour as the
//! hand-written layer.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use progenitor_client::{ClientHooks, ClientInfo as _, Error as GenError, OperationInfo};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

use crate::generated::Client as GeneratedClient;
use crate::retry::RetryPolicy;

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
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("authorization", &"[redacted]")
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .finish()
    }
}

/// What the transport learned about one logical request: filled in by the
/// hooks, read by the hand-written layer to build errors.
#[derive(Debug, Default, Clone)]
pub(crate) struct Exchange {
    /// Retry policy for this request, when the caller overrode the client's.
    pub(crate) retry: Option<RetryPolicy>,
    /// The idempotency key every attempt carried (POST only).
    pub(crate) idempotency_key: Option<String>,
    /// Attempts made so far.
    pub(crate) attempts: u32,
    /// Whether any attempt's request may have reached the server.
    pub(crate) maybe_sent: bool,
    /// Status and headers of the last response received.
    pub(crate) last_status: Option<StatusCode>,
    pub(crate) last_headers: Option<HeaderMap>,
    /// `X-Request-Id` of the last response received.
    pub(crate) last_request_id: Option<HeaderValue>,
    /// The body of the last response, when it had an error status.
    pub(crate) last_error_body: Option<bytes::Bytes>,
}

/// The record of one logical request, shared between the hand-written layer
/// (which keeps it even when a deadline drops the request future) and the hooks.
pub(crate) type SharedExchange = Arc<Mutex<Exchange>>;

tokio::task_local! {
    static EXCHANGE: SharedExchange;
}

/// Runs `fut` with `exchange` as the record the hooks fill in.
pub(crate) async fn record<F: Future>(exchange: SharedExchange, fut: F) -> F::Output {
    EXCHANGE.scope(exchange, fut).await
}

/// Takes what was recorded so far.
pub(crate) fn take(exchange: &SharedExchange) -> Exchange {
    std::mem::take(&mut *exchange.lock().unwrap_or_else(PoisonError::into_inner))
}

fn with_exchange<R>(f: impl FnOnce(&mut Exchange) -> R) -> Option<R> {
    EXCHANGE
        .try_with(|e| f(&mut e.lock().unwrap_or_else(PoisonError::into_inner)))
        .ok()
}

impl ClientHooks<Inner> for GeneratedClient {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), GenError<E>> {
        let inner = &self.inner;
        let is_post = request.method() == Method::POST;
        let headers = request.headers_mut();
        headers.insert(header::AUTHORIZATION, inner.authorization.clone());
        headers.insert(header::USER_AGENT, inner.user_agent.clone());
        if is_post {
            // One key per logical request, reused by every retry: a retried
            // POST can never take effect twice.
            let key = match headers.get(&IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()) {
                Some(existing) => existing.to_string(),
                None => {
                    let key = with_exchange(|e| e.idempotency_key.clone())
                        .flatten()
                        .unwrap_or_else(new_idempotency_key);
                    let value = HeaderValue::try_from(key.as_str()).map_err(|_| {
                        GenError::InvalidRequest(format!("invalid idempotency key `{key}`"))
                    })?;
                    request.headers_mut().insert(IDEMPOTENCY_KEY, value);
                    key
                }
            };
            with_exchange(|e| e.idempotency_key = Some(key));
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let policy = with_exchange(|e| e.retry.clone())
            .flatten()
            .unwrap_or_else(|| self.inner.retry.clone());
        let response = crate::retry::execute(
            self.client(),
            request,
            info.operation_id,
            &policy,
            |event| {
                with_exchange(|e| match event {
                    crate::retry::Event::Sending => {
                        e.attempts += 1;
                        e.maybe_sent = true;
                    }
                    crate::retry::Event::Response(status, headers) => {
                        e.last_status = Some(status);
                        e.last_request_id = headers.get(REQUEST_ID).cloned();
                        // The full headers only matter for an error.
                        if !status.is_success() {
                            e.last_headers = Some(headers.clone());
                        }
                    }
                });
            },
        )
        .await?;
        if !response.status().is_client_error() && !response.status().is_server_error() {
            return Ok(response);
        }
        // Keep the raw error body: the Problem's extra members, or a body
        // that is not Problem+JSON at all, stay reachable from the error.
        let (response, body) = crate::retry::buffer(response).await?;
        tracing::trace!(status = response.status().as_u16(), body = %crate::retry::truncated(&body), "error response body");
        with_exchange(|e| e.last_error_body = Some(body));
        Ok(response)
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
