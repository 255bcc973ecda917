//! The one path every operation takes, hand-written or generated: the
//! request its generated builder makes, authenticated, keyed, retried under
//! a deadline, observed, and its answer read into a value or an [`Error`].

use reqwest::header::{self, HeaderValue};
use reqwest::{Method, StatusCode};
use tracing::Instrument;

use crate::body::ReadError;
use crate::client::{Client, ResponseInfo};
use crate::error::{
    ApiError, DeadlineError, DecodeError, Error, RedirectError, ResponseTooLargeError, Result,
    TransportError,
};
use crate::generated;
use crate::operation::Operation;
use crate::request::RequestOptions;
use crate::retry::{Event, RetryPolicy};
use crate::transport::Inner;
use crate::types::Problem;
use crate::wire::{self, IDEMPOTENCY_KEY, REQUEST_ID};

/// What progenitor strictly needs: its generated client asserts that the
/// hooks exist. They are never called, because the generated builders have
/// no `send()` (the SDK runs their requests itself, below): the defaults do.
impl progenitor_client::ClientHooks<Inner> for generated::Client {}

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
    fn record(&mut self, event: Event<'_>) {
        match event {
            Event::Sending => self.attempts += 1,
            Event::Response(status, headers) => {
                self.last_status = Some(status);
                self.last_request_id = headers.get(REQUEST_ID).cloned();
            }
        }
    }

    /// The `X-Request-Id` of the last response, as text.
    pub(crate) fn request_id(&self) -> Option<String> {
        wire::text(self.last_request_id.as_ref())
    }
}

impl Client {
    /// Runs `operation` with `options`: retries follow the policy, the
    /// overall deadline holds across attempts, observers hear of it, and
    /// errors come back as [`Error`].
    pub(crate) async fn execute<O: Operation>(
        &self,
        operation: O,
        options: &RequestOptions,
    ) -> Result<O::Output> {
        let mut request = operation.into_request().map_err(from_builder)?;
        self.check_origin(&request)?;
        let idempotency_key = authorize(
            &self.raw.inner,
            &mut request,
            options.idempotency_key.as_deref(),
        )?;
        let span = tracing::info_span!(
            "topcalls.operation",
            operation = O::ID,
            status = tracing::field::Empty
        );
        // Only observers are told the elapsed time: no clock read otherwise.
        let started = self.observer.is_some().then(std::time::Instant::now);
        let mut exchange = Exchange {
            idempotency_key,
            ..Exchange::default()
        };
        let policy = options.retry.as_ref().unwrap_or(&self.raw.inner.retry);
        let limit = options.deadline.or(self.deadline);
        let outcome = {
            // Pinned in place: the deadline and the span wrap a reference,
            // so the attempt's state is stored once, never copied per wrapper.
            let attempt =
                std::pin::pin!(self.attempt::<O::Output>(request, policy, O::ID, &mut exchange));
            // Spans cost even when nobody listens (the `log` bridge): skip them then.
            match (limit, span.is_disabled()) {
                (None, true) => Some(attempt.await),
                (None, false) => Some(attempt.instrument(span.clone()).await),
                (Some(limit), true) => tokio::time::timeout(limit, attempt).await.ok(),
                (Some(limit), false) => tokio::time::timeout(limit, attempt)
                    .instrument(span.clone())
                    .await
                    .ok(),
            }
        };
        if let Some(observer) = &self.observer {
            observer(&ResponseInfo {
                operation: O::ID,
                status: exchange.last_status.map(|s| s.as_u16()),
                request_id: exchange.request_id(),
                attempts: exchange.attempts,
                idempotency_key: exchange.idempotency_key.clone(),
                elapsed: started.map(|s| s.elapsed()).unwrap_or_default(),
            });
        }
        let result = outcome.unwrap_or_else(|| {
            Err(Error::Deadline(Box::new(DeadlineError {
                deadline: limit.unwrap_or_default(),
                idempotency_key: exchange.idempotency_key.take(),
                may_have_taken_effect: exchange.attempts > 0,
                attempts: exchange.attempts,
            })))
        });
        if !span.is_disabled() {
            if let Some(status) = exchange.last_status {
                span.record("status", status.as_u16());
            }
            if let Err(error) = &result {
                tracing::debug!(parent: &span, %error, "operation failed");
            }
        }
        result
    }

    /// An operation built by another client's `raw()` points at that
    /// client's base URL: refuse to send this client's key there.
    fn check_origin(&self, request: &reqwest::Request) -> Result<()> {
        let url = request.url().as_str();
        let base = self.raw.baseurl.as_str();
        let ours = url
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'));
        if ours {
            Ok(())
        } else {
            Err(Error::InvalidRequest(format!(
                "the operation was built by another client (it goes to `{}`, this client to `{base}`)",
                request.url().origin().ascii_serialization()
            )))
        }
    }

    /// Sends `request` under `policy` and reads the answer: the success body
    /// decoded as `T`, or the error the API answered with.
    async fn attempt<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::Request,
        policy: &RetryPolicy,
        operation: &'static str,
        exchange: &mut Exchange,
    ) -> Result<T> {
        let limit = self.raw.inner.max_response_bytes;
        let response = crate::retry::execute(
            &self.raw.client,
            request,
            operation,
            policy,
            limit,
            |event| exchange.record(event),
        )
        .await
        .map_err(|source| transport(source, exchange))?;
        answer(response, limit, exchange).await
    }
}

/// Sets what every request carries: the API key, the user agent and, on a
/// POST, an idempotency key: the caller's (checked), else the one set on
/// the generated builder, else a fresh one. Returns the key.
fn authorize(
    inner: &Inner,
    request: &mut reqwest::Request,
    key: Option<&str>,
) -> Result<Option<String>> {
    let is_post = request.method() == Method::POST;
    let headers = request.headers_mut();
    headers.insert(header::AUTHORIZATION, inner.authorization.clone());
    headers.insert(header::USER_AGENT, inner.user_agent.clone());
    if !is_post {
        return Ok(None);
    }
    if let Some(key) = key {
        let value = wire::idempotency_key(key).map_err(Error::InvalidRequest)?;
        headers.insert(IDEMPOTENCY_KEY, value);
        return Ok(Some(key.to_string()));
    }
    if let Some(existing) = headers.get(&IDEMPOTENCY_KEY) {
        let key = existing.to_str().map_err(|_| {
            Error::InvalidRequest("the idempotency key is not valid ASCII".to_string())
        })?;
        wire::idempotency_key(key).map_err(Error::InvalidRequest)?;
        return Ok(Some(key.to_string()));
    }
    let key = wire::new_idempotency_key().ok_or_else(|| {
        Error::InvalidRequest(
            "no idempotency key could be generated (the operating system's random number \
             generator failed); pass one with `.idempotency_key(..)`"
                .to_string(),
        )
    })?;
    let value = HeaderValue::try_from(key.as_str())
        .map_err(|_| Error::InvalidRequest(format!("invalid idempotency key `{key}`")))?;
    headers.insert(IDEMPOTENCY_KEY, value);
    Ok(Some(key))
}

/// Reads the final response of an operation: its success body, at most
/// `limit` bytes of it, decoded as `T`; or the error it stands for.
pub(crate) async fn answer<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    limit: usize,
    exchange: &Exchange,
) -> Result<T> {
    let status = response.status();
    if status.is_redirection() {
        // Never followed (see `ClientBuilder::build`): say where it pointed.
        return Err(Error::Redirect(Box::new(RedirectError {
            status,
            location: response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            request_id: exchange.request_id(),
            idempotency_key: exchange.idempotency_key.clone(),
        })));
    }
    // An error keeps its headers (`Retry-After`, the request id).
    let headers = (!status.is_success()).then(|| response.headers().clone());
    let body = crate::body::read(response, limit)
        .await
        .map_err(|error| match error {
            ReadError::Transport(source) => transport(source, exchange),
            ReadError::TooLarge { declared } => {
                Error::ResponseTooLarge(Box::new(ResponseTooLargeError {
                    status,
                    limit,
                    declared_length: declared,
                    request_id: exchange.request_id(),
                    idempotency_key: exchange.idempotency_key.clone(),
                }))
            }
        })?;
    let Some(headers) = headers else {
        // An empty body (`204 No Content`) reads as JSON `null`: `()`
        // for operations without a body, a decode error for the others.
        let json: &[u8] = if body.is_empty() { b"null" } else { &body };
        return serde_json::from_slice(json).map_err(|source| {
            Error::Decode(Box::new(DecodeError {
                status,
                request_id: exchange.request_id(),
                body,
                source,
            }))
        });
    };
    // Keep the raw error body: the Problem's extra members, or a body
    // that is not Problem+JSON at all, stay reachable from the error.
    tracing::trace!(status = status.as_u16(), body = %crate::redact::preview(&body), "error response body");
    Err(Error::Api(Box::new(ApiError::new(
        status,
        headers,
        body,
        exchange.idempotency_key.clone(),
    ))))
}

/// A request the generated builder could not make (a parameter that failed
/// its type's checks, or a URL reqwest refused): nothing was sent.
fn from_builder(error: progenitor_client::Error<Problem>) -> Error {
    match error {
        progenitor_client::Error::InvalidRequest(message) => Error::InvalidRequest(message),
        other => Error::InvalidRequest(other.to_string()),
    }
}

/// No usable answer: the connection failed, an attempt timed out, or the
/// body broke off. Whether the request may have taken effect follows from
/// how far the attempts got.
fn transport(source: reqwest::Error, exchange: &Exchange) -> Error {
    let may_have_taken_effect =
        exchange.attempts > 0 && !source.is_connect() && !source.is_builder();
    Error::Transport(Box::new(TransportError {
        source,
        idempotency_key: exchange.idempotency_key.clone(),
        may_have_taken_effect,
        attempts: exchange.attempts,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base_url: &str) -> Client {
        Client::builder()
            .api_key("tc_test_execute")
            .base_url(base_url)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn an_operation_of_another_client_is_refused_before_sending() {
        let ours = client("http://127.0.0.1:9");
        let theirs = client("http://127.0.0.1:10");
        let error = ours
            .send(theirs.raw().get_balance())
            .await
            .expect_err("another client's operation");
        assert!(
            matches!(&error, Error::InvalidRequest(m) if m.contains("another client")),
            "{error}"
        );
    }

    #[test]
    fn a_post_gets_the_callers_key_else_the_builders_else_a_fresh_one() {
        let ours = client("http://127.0.0.1:9");
        let inner = &ours.raw.inner;
        let request = |key: Option<&str>| {
            let mut operation = ours.raw.stop_call().call_id("c_1");
            if let Some(key) = key {
                operation = operation.idempotency_key(key);
            }
            operation.into_request().unwrap_or_else(|e| panic!("{e}"))
        };
        let mut r = request(Some("builder-key-1"));
        let key = authorize(inner, &mut r, Some("caller-key-1"));
        assert_eq!(key.ok().flatten().as_deref(), Some("caller-key-1"));
        let mut r = request(Some("builder-key-1"));
        let key = authorize(inner, &mut r, None);
        assert_eq!(key.ok().flatten().as_deref(), Some("builder-key-1"));
        let mut r = request(None);
        let key = authorize(inner, &mut r, None).ok().flatten();
        assert!(key.is_some_and(|k| k.starts_with("tc_")));
        let mut r = request(None);
        assert!(authorize(inner, &mut r, Some("bad key")).is_err());
        // Other methods carry no key, whatever the options say.
        let mut get = ours
            .raw
            .get_balance()
            .into_request()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            authorize(inner, &mut get, Some("caller-key-1")).ok(),
            Some(None)
        );
        assert!(!get.headers().contains_key(IDEMPOTENCY_KEY));
    }
}
