//! The client, its configuration, and the one path every operation takes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use progenitor_client::ClientInfo as _;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

use crate::body::ReadError;
use crate::error::{
    ApiError, DeadlineError, DecodeError, Error, RedirectError, ResponseTooLargeError, Result,
};
use crate::generated;
use crate::retry::RetryPolicy;
use crate::transport::{self, Exchange, Inner, Operation};

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://api.topcalls.ai";
/// Environment variable holding the API key.
pub const API_KEY_ENV: &str = "TOPCALLS_API_KEY";
/// Environment variable overriding the base URL.
pub const BASE_URL_ENV: &str = "TOPCALLS_BASE_URL";

/// A TopCalls API client. Cheap to clone: clones share one connection pool.
///
/// ```no_run
/// # async fn run() -> topcalls_api::Result<()> {
/// let client = topcalls_api::Client::from_env()?;
/// let balance = client.balance().await?;
/// println!("{} minutes left", balance.remaining_minutes);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    raw: generated::Client,
    deadline: Option<Duration>,
    observer: Option<Observer>,
}

type Observer = Arc<dyn Fn(&ResponseInfo) + Send + Sync>;

/// What the client saw of one operation, handed to
/// [`ClientBuilder::on_response`] observers: for logs, metrics, and the
/// request id of successful responses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResponseInfo {
    /// The `operationId`, e.g. `create_call`.
    pub operation: &'static str,
    /// The HTTP status of the last response, if one arrived.
    pub status: Option<u16>,
    /// Its `X-Request-Id`.
    pub request_id: Option<String>,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// The idempotency key every attempt carried (POST only).
    pub idempotency_key: Option<String>,
    /// Time from the first attempt to the result, waits included.
    pub elapsed: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.raw.baseurl)
            .field("api_key", &"[redacted]")
            .field("retry", &self.raw.inner.retry)
            .field("deadline", &self.deadline)
            .field("max_response_bytes", &self.raw.inner.max_response_bytes)
            .finish()
    }
}

impl Client {
    /// A client for the production API with `api_key` and default settings.
    pub fn new(api_key: impl Into<String>) -> Result<Self> {
        Self::builder().api_key(api_key).build()
    }

    /// A client configured from `TOPCALLS_API_KEY` and, when set,
    /// `TOPCALLS_BASE_URL`.
    pub fn from_env() -> Result<Self> {
        Self::builder().env().build()
    }

    /// A builder for everything else: base URL, timeouts, retries, user
    /// agent, or your own `reqwest::Client`.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.raw.baseurl
    }

    /// The generated client: one builder per operation, with the same
    /// authentication, idempotency keys and retries as the rest of the SDK.
    /// Its `send()` returns progenitor's `ResponseValue` (with the response
    /// headers) and `Error<Problem>` rather than this crate's [`Error`].
    pub fn raw(&self) -> &generated::Client {
        &self.raw
    }

    /// Runs one generated operation on the SDK's own path: options apply,
    /// retries follow the policy, the overall deadline holds across
    /// attempts, and errors come back as [`Error`].
    pub(crate) async fn run<'a, O: Operation>(
        &'a self,
        options: RequestOptions,
        build: impl FnOnce(&'a generated::Client) -> O,
    ) -> Result<O::Output> {
        let RequestOptions {
            idempotency_key: _,
            retry,
            deadline,
        } = options;
        let mut request = build(&self.raw)
            .into_request()
            .map_err(crate::error::from_builder)?;
        let idempotency_key =
            transport::authorize(&self.raw.inner, &mut request).map_err(Error::InvalidRequest)?;
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
        let policy = retry.as_ref().unwrap_or(&self.raw.inner.retry);
        let limit = deadline.or(self.deadline);
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
            self.raw.client(),
            request,
            operation,
            policy,
            limit,
            |event| {
                exchange.record(event);
            },
        )
        .await
        .map_err(|source| crate::error::transport(source, exchange))?;
        answer(response, limit, exchange).await
    }

    /// Like [`Client::run`] for a POST: the idempotency key is fixed before
    /// the first attempt (the caller's, or a fresh one) so that every retry,
    /// and every error, carries it.
    pub(crate) async fn run_post<'a, O: Operation>(
        &'a self,
        mut options: RequestOptions,
        build: impl FnOnce(&'a generated::Client, String) -> O,
    ) -> Result<O::Output> {
        let key = match options.idempotency_key.take() {
            Some(key) => validate_idempotency_key(key)?,
            None => transport::new_idempotency_key(),
        };
        self.run(options, |raw| build(raw, key)).await
    }
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
            ReadError::Transport(source) => crate::error::transport(source, exchange),
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

fn validate_idempotency_key(key: String) -> Result<String> {
    crate::validate::idempotency_key(key)
}

/// Per-request settings that override the client's.
///
/// ```
/// use std::time::Duration;
/// use topcalls_api::{RequestOptions, RetryPolicy};
///
/// let options = RequestOptions::new()
///     .idempotency_key("order-1234-reminder")
///     .retry(RetryPolicy::default().max_retries(5))
///     .deadline(Duration::from_secs(30));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    idempotency_key: Option<String>,
    retry: Option<RetryPolicy>,
    deadline: Option<Duration>,
}

impl RequestOptions {
    /// Options that change nothing.
    pub fn new() -> Self {
        Self::default()
    }
    /// The `Idempotency-Key` for a POST (8–255 of `[A-Za-z0-9_-]`). Without
    /// one the SDK generates a key per logical request; pass the key of an
    /// earlier attempt ([`Error::idempotency_key`]) to repeat it safely.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
    /// The retry policy for this request.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// One deadline across all attempts of this request.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
}

/// Builds a [`Client`].
///
/// ```
/// use std::time::Duration;
///
/// let client = topcalls_api::Client::builder()
///     .api_key("tc_live_example")
///     .request_timeout(Duration::from_secs(20))
///     .build()?;
/// assert_eq!(client.base_url(), "https://api.topcalls.ai");
/// # Ok::<(), topcalls_api::Error>(())
/// ```
#[derive(Default)]
pub struct ClientBuilder {
    api_key: Option<SecretString>,
    api_key_source: Option<&'static str>,
    base_url: Option<String>,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    user_agent: Option<String>,
    http_client: Option<reqwest::Client>,
    retry: Option<RetryPolicy>,
    deadline: Option<Duration>,
    observer: Option<Observer>,
    max_response_bytes: Option<usize>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field("deadline", &self.deadline)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The API key (`tc_live_…`).
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self.api_key_source = None;
        self
    }

    /// Reads `TOPCALLS_API_KEY` and `TOPCALLS_BASE_URL` from the process
    /// environment; values set explicitly on the builder win.
    #[must_use]
    pub fn env(self) -> Self {
        self.env_with(|name| std::env::var(name).ok())
    }

    /// Like [`ClientBuilder::env`] with your own lookup (tests, config files).
    #[must_use]
    pub fn env_with(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        if self.api_key.is_none() {
            self.api_key = Some(SecretString::from(lookup(API_KEY_ENV).unwrap_or_default()));
            self.api_key_source = Some(API_KEY_ENV);
        }
        if self.base_url.is_none() {
            self.base_url = lookup(BASE_URL_ENV).filter(|url| !url.trim().is_empty());
        }
        self
    }

    /// The API's base URL; default `https://api.topcalls.ai`. Plain `http://`
    /// is only accepted for loopback hosts (a local sandbox).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Time allowed to open a connection; default 10 s.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Time allowed for one attempt, from sending to the last body byte; default 60 s.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// One deadline per operation across all its attempts; none by default.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The retry policy; default [`RetryPolicy::default`] (2 retries).
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The `User-Agent`; default `topcalls-rs/<version>`.
    #[must_use]
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// The largest response body the client reads, in bytes; default
    /// 32 MiB, well above the largest answer of the API (a page of 200 calls
    /// with their transcripts: ~3.5 MB for 10-minute calls, ~18 MB for
    /// 60-minute ones).
    ///
    /// Success and error bodies alike: a `Content-Length` over the limit is
    /// refused before the body is read, and a body that streams past it is
    /// cut off there, so a broken or hostile server cannot make the client
    /// hold more. Either way the operation fails with
    /// [`Error::ResponseTooLarge`].
    #[must_use]
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = Some(limit);
        self
    }

    /// Your own `reqwest::Client` (proxies, TLS roots, pools). Its timeouts
    /// replace the builder's; authentication, retries and the response size
    /// limit still apply.
    ///
    /// Build it with `.redirect(reqwest::redirect::Policy::none())`, as the
    /// SDK's own client is: a client that follows redirects re-sends a
    /// request's body and `Idempotency-Key` wherever a server points it
    /// (reqwest only drops `Authorization` when the host changes). The SDK
    /// cannot change the policy of a client you built.
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Calls `observer` after every operation with its status, request id,
    /// attempts and elapsed time, whether it succeeded or not.
    ///
    /// ```
    /// let client = topcalls_api::Client::builder()
    ///     .api_key("tc_live_example")
    ///     .on_response(|info| eprintln!("{} {:?} request id {:?}", info.operation, info.status, info.request_id))
    ///     .build()?;
    /// # let _ = client; Ok::<(), topcalls_api::Error>(())
    /// ```
    #[must_use]
    pub fn on_response(mut self, observer: impl Fn(&ResponseInfo) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Client> {
        let source = self.api_key_source.unwrap_or(API_KEY_ENV);
        let api_key = self
            .api_key
            .filter(|key| !key.expose_secret().trim().is_empty())
            .ok_or_else(|| {
                Error::Config(format!(
                    "no TopCalls API key: set {source} or pass one to Client::new / ClientBuilder::api_key"
                ))
            })?;
        let mut authorization =
            HeaderValue::try_from(format!("Bearer {}", api_key.expose_secret())).map_err(|_| {
                Error::Config(
                    "the API key contains characters not allowed in an HTTP header".into(),
                )
            })?;
        authorization.set_sensitive(true);
        let base_url = normalize_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let user_agent = self
            .user_agent
            .unwrap_or_else(|| format!("topcalls-rs/{}", env!("CARGO_PKG_VERSION")));
        let user_agent = HeaderValue::try_from(user_agent)
            .map_err(|_| Error::Config("the user agent is not a valid header value".into()))?;
        let http = match self.http_client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(
                    self.connect_timeout
                        .unwrap_or(transport::DEFAULT_CONNECT_TIMEOUT),
                )
                .timeout(
                    self.request_timeout
                        .unwrap_or(transport::DEFAULT_REQUEST_TIMEOUT),
                )
                // The API never redirects. Following one would re-send the
                // body (a carrier's SIP password, say) and the idempotency
                // key to whatever host the server names, plain http
                // included, or turn a POST into a GET elsewhere. A `3xx`
                // is an `Error::Redirect` naming its location instead.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        let inner = Inner {
            authorization,
            user_agent,
            retry: self.retry.unwrap_or_default(),
            max_response_bytes: self
                .max_response_bytes
                .unwrap_or(crate::body::DEFAULT_MAX_RESPONSE_BYTES),
        };
        Ok(Client {
            raw: generated::Client::new_with_client(&base_url, http, inner),
            deadline: self.deadline,
            observer: self.observer,
        })
    }
}

/// Checks the base URL: absolute, http(s), no query; `http` only to loopback
/// so the key never crosses a network in clear text. Drops a trailing `/`.
fn normalize_base_url(raw: &str) -> Result<String> {
    let url = url::Url::parse(raw.trim())
        .map_err(|e| Error::Config(format!("invalid base URL `{raw}`: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
                return Err(Error::Config(format!(
                    "refusing to send the API key over plain http to `{raw}`: use https (http is allowed for localhost only)"
                )));
            }
        }
        other => {
            return Err(Error::Config(format!(
                "unsupported base URL scheme `{other}` in `{raw}`"
            )));
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "the base URL `{raw}` must not have a query or fragment"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_key_names_the_variable() {
        let error = Client::builder().env_with(|_| None).build().unwrap_err();
        assert!(error.to_string().contains("TOPCALLS_API_KEY"), "{error}");
        let error = Client::new("  ").unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{error}");
    }

    #[test]
    fn env_lookup_sets_key_and_base_url() {
        let client = Client::builder()
            .env_with(|name| match name {
                API_KEY_ENV => Some("tc_test_abc".into()),
                BASE_URL_ENV => Some("http://127.0.0.1:9999/".into()),
                _ => None,
            })
            .build()
            .unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9999");
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://localhost:8080",
            "http://127.0.0.1",
            "http://[::1]:1",
            "https://api.topcalls.ai/",
        ] {
            assert!(
                Client::builder().api_key("k").base_url(ok).build().is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://api.topcalls.ai",
            "http://10.0.0.1",
            "ftp://localhost",
            "not a url",
            "https://x/?a=b",
        ] {
            let error = Client::builder()
                .api_key("k")
                .base_url(bad)
                .build()
                .unwrap_err();
            assert!(matches!(error, Error::Config(_)), "{bad}: {error}");
        }
    }

    #[test]
    fn idempotency_keys_are_checked() {
        assert!(validate_idempotency_key("order-1234".into()).is_ok());
        assert!(validate_idempotency_key("short".into()).is_err());
        assert!(validate_idempotency_key("has space in it".into()).is_err());
        assert!(validate_idempotency_key("x".repeat(256)).is_err());
        let generated = transport::new_idempotency_key();
        assert!(validate_idempotency_key(generated).is_ok());
    }
}
