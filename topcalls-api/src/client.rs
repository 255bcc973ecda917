//! The client and its configuration. Operations run in `execute.rs`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::generated;
use crate::retry::RetryPolicy;
use crate::transport::Inner;
use crate::wire;

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
    pub(crate) raw: generated::Client,
    pub(crate) deadline: Option<Duration>,
    pub(crate) observer: Option<Observer>,
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

    /// The generated client: one builder per operation of openapi.yaml, for
    /// anything the hand-written methods do not cover. Run a builder with
    /// [`Client::send`]: the same path, options and [`Error`] as every
    /// other method.
    pub fn raw(&self) -> &generated::Client {
        &self.raw
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
    plain_http_to_any_host: bool,
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
            .field("plain_http_to_any_host", &self.plain_http_to_any_host)
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
    /// is only accepted for loopback hosts (a local sandbox), unless
    /// [`ClientBuilder::danger_allow_plain_http_to_any_host`] says otherwise.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Accepts a plain `http://` base URL to a host that is not loopback: a
    /// sandbox in another container of a Docker Compose file, or a CI
    /// service. The API key then crosses that network **in clear text**, on
    /// every request; never use it towards the real API or over a network
    /// you do not control. Off by default.
    ///
    /// ```
    /// let client = topcalls_api::Client::builder()
    ///     .api_key("tc_test_sandbox")
    ///     .base_url("http://sandbox:8080")
    ///     .danger_allow_plain_http_to_any_host(true)
    ///     .build()?;
    /// assert_eq!(client.base_url(), "http://sandbox:8080");
    /// # Ok::<(), topcalls_api::Error>(())
    /// ```
    #[must_use]
    pub fn danger_allow_plain_http_to_any_host(mut self, allow: bool) -> Self {
        self.plain_http_to_any_host = allow;
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
    ///
    /// Under the default `rustls` feature the SDK gives its own client a
    /// rustls configuration and builds reqwest's rustls without a crypto
    /// provider: turn on reqwest's `rustls` feature for yours (reqwest's
    /// default features do), or install a rustls provider, before building it.
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
        let base_url = normalize_base_url(
            self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL),
            self.plain_http_to_any_host,
        )?;
        let user_agent = self
            .user_agent
            .unwrap_or_else(|| format!("topcalls-rs/{}", env!("CARGO_PKG_VERSION")));
        let user_agent = HeaderValue::try_from(user_agent)
            .map_err(|_| Error::Config("the user agent is not a valid header value".into()))?;
        let http = match self.http_client {
            Some(client) => client,
            None => crate::tls::configure(reqwest::Client::builder())?
                .connect_timeout(
                    self.connect_timeout
                        .unwrap_or(wire::DEFAULT_CONNECT_TIMEOUT),
                )
                .timeout(
                    self.request_timeout
                        .unwrap_or(wire::DEFAULT_REQUEST_TIMEOUT),
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
/// (unless `plain_http_to_any_host`) so the key never crosses a network in
/// clear text by accident. Drops a trailing `/`.
fn normalize_base_url(raw: &str, plain_http_to_any_host: bool) -> Result<String> {
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
            if !loopback && !plain_http_to_any_host {
                return Err(Error::Config(format!(
                    "refusing to send the API key over plain http to `{raw}`: use https (plain http goes to loopback only, unless ClientBuilder::danger_allow_plain_http_to_any_host)"
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
        // The opt-in opens plain http, and nothing else.
        for (url, ok) in [
            ("http://sandbox:8080", true),
            ("http://10.0.0.1", true),
            ("ftp://sandbox", false),
            ("http://sandbox/?a=b", false),
        ] {
            let built = Client::builder()
                .api_key("k")
                .base_url(url)
                .danger_allow_plain_http_to_any_host(true)
                .build();
            assert_eq!(built.is_ok(), ok, "{url}");
        }
    }
}
