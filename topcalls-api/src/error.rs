//! The one error type of the SDK.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value};

use crate::types::{Problem, ProblemFieldError};
use crate::wire::REQUEST_ID;

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, by layer: configuration, a request the client
/// refused to send, the network, the API's answer, or an answer the SDK could
/// not read.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The client could not be built (missing key, bad base URL, …).
    Config(String),
    /// The client refused the request before sending anything.
    InvalidRequest(String),
    /// No usable response arrived.
    Transport(Box<TransportError>),
    /// The API answered with an error status.
    Api(Box<ApiError>),
    /// The API answered with a success status but a body the SDK cannot read.
    Decode(Box<DecodeError>),
    /// The operation's overall deadline passed, across all attempts.
    Deadline(Box<DeadlineError>),
    /// The response body was larger than the client accepts
    /// ([`crate::ClientBuilder::max_response_bytes`]); reading stopped there.
    ResponseTooLarge(Box<ResponseTooLargeError>),
    /// The server answered with a redirect (`3xx`). The SDK follows none: the
    /// TopCalls API never redirects, and following one would re-send the
    /// request (its body and idempotency key) wherever the server says.
    Redirect(Box<RedirectError>),
    /// A `wait_until_finished` gave up: the resource had not finished when
    /// its deadline passed.
    WaitTimeout(Box<WaitTimeoutError>),
    /// Writing an export failed ([`crate::ListCalls::export`]).
    Io(std::io::Error),
}

impl Error {
    /// The error a variant wraps, for `Display` and `source`; `None` for the
    /// variants that carry only a message.
    fn inner(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(_) | Error::InvalidRequest(_) | Error::Io(_) => None,
            Error::Transport(e) => Some(&**e),
            Error::Api(e) => Some(&**e),
            Error::Decode(e) => Some(&**e),
            Error::Deadline(e) => Some(&**e),
            Error::ResponseTooLarge(e) => Some(&**e),
            Error::Redirect(e) => Some(&**e),
            Error::WaitTimeout(e) => Some(&**e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(message) => write!(f, "invalid configuration: {message}"),
            Error::InvalidRequest(message) => {
                write!(f, "invalid request, nothing was sent: {message}")
            }
            Error::Io(_) => f.write_str("cannot write the export"),
            _ => self
                .inner()
                .map_or(Ok(()), |inner| fmt::Display::fmt(inner, f)),
        }
    }
}

/// The wrapped errors are transparent: `source` is theirs. An `Io` error's
/// source is the I/O error.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => self.inner().and_then(std::error::Error::source),
        }
    }
}

impl Error {
    /// The API error, when the server answered with an error status.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The HTTP status of the response this error came from, if any.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::Decode(decode) => Some(decode.status),
            Error::ResponseTooLarge(large) => Some(large.status),
            Error::Redirect(redirect) => Some(redirect.status),
            _ => None,
        }
    }

    /// The `X-Request-Id` of the response this error came from, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.request_id(),
            Error::Decode(decode) => decode.request_id.as_deref(),
            Error::ResponseTooLarge(large) => large.request_id.as_deref(),
            Error::Redirect(redirect) => redirect.request_id.as_deref(),
            _ => None,
        }
    }

    /// The idempotency key the request carried (POST only). Retrying the same
    /// operation with this key can never make it take effect twice.
    pub fn idempotency_key(&self) -> Option<&str> {
        match self {
            Error::Transport(t) => t.idempotency_key.as_deref(),
            Error::Api(api) => api.idempotency_key.as_deref(),
            Error::Deadline(d) => d.idempotency_key.as_deref(),
            Error::ResponseTooLarge(large) => large.idempotency_key.as_deref(),
            Error::Redirect(redirect) => redirect.idempotency_key.as_deref(),
            _ => None,
        }
    }

    /// Whether the request may have taken effect on the server although no
    /// usable answer came back (timeout or connection lost after sending, or
    /// a success answer too large to read). Retry with
    /// [`Error::idempotency_key`] to find out safely.
    pub fn may_have_taken_effect(&self) -> bool {
        match self {
            Error::Transport(t) => t.may_have_taken_effect,
            Error::Deadline(d) => d.may_have_taken_effect,
            Error::ResponseTooLarge(large) => large.status.is_success(),
            _ => false,
        }
    }

    /// Options that repeat the failed operation safely: the same idempotency
    /// key, so the server answers with the first attempt's result if that one
    /// took effect. Apply them with [`crate::Request::options`]. `None` when
    /// the request carried no key (not a POST: repeat it as it is).
    ///
    /// ```no_run
    /// # async fn run(client: topcalls_api::Client) -> topcalls_api::Result<()> {
    /// use topcalls_api::NewCall;
    ///
    /// let call = || NewCall::to("+15551234567").task("Confirm the appointment for tomorrow.");
    /// let placed = match client.calls().create(call()).await {
    ///     Err(e) if e.may_have_taken_effect() => {
    ///         let options = e.retry_options().expect("a POST carries a key");
    ///         client.calls().create(call()).options(options).await?
    ///     }
    ///     other => other?,
    /// };
    /// # let _ = placed; Ok(()) }
    /// ```
    pub fn retry_options(&self) -> Option<crate::RequestOptions> {
        self.idempotency_key()
            .map(|key| crate::RequestOptions::new().idempotency_key(key))
    }

    /// `404`: the resource does not exist (or belongs to another account).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// `429`: too many requests; see [`ApiError::retry_after`].
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(StatusCode::TOO_MANY_REQUESTS)
    }

    /// `402`: not enough call minutes.
    pub fn is_insufficient_quota(&self) -> bool {
        self.status() == Some(StatusCode::PAYMENT_REQUIRED)
    }

    /// `401`: the API key is missing, malformed or unknown.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(StatusCode::UNAUTHORIZED)
    }

    /// `403`: the API key lacks the scope for this operation.
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(StatusCode::FORBIDDEN)
    }

    /// `409`: the resource's state forbids the operation, or an idempotency
    /// key was reused with another body.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(StatusCode::CONFLICT)
    }
}

/// A generated request type that failed its own checks (a pattern, a
/// length): nothing was sent.
impl From<crate::types::error::ConversionError> for Error {
    fn from(error: crate::types::error::ConversionError) -> Self {
        Error::InvalidRequest(error.to_string())
    }
}

/// A request that was already the request type.
impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// The request failed without a usable response.
#[derive(Debug)]
pub struct TransportError {
    pub(crate) source: reqwest::Error,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) may_have_taken_effect: bool,
    pub(crate) attempts: u32,
}

impl TransportError {
    /// Attempts made before giving up.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    /// Whether the request timed out (connect or response).
    pub fn is_timeout(&self) -> bool {
        self.source.is_timeout()
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.may_have_taken_effect {
            write!(
                f,
                "no response from TopCalls after {} attempt(s); the request may have taken effect",
                self.attempts
            )
        } else {
            write!(
                f,
                "could not reach TopCalls after {} attempt(s)",
                self.attempts
            )
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The operation's overall deadline passed.
#[derive(Debug)]
pub struct DeadlineError {
    pub(crate) deadline: Duration,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) may_have_taken_effect: bool,
    pub(crate) attempts: u32,
}

impl DeadlineError {
    /// The deadline that passed.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }
    /// Attempts started before the deadline.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl fmt::Display for DeadlineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the operation's deadline of {:?} passed after {} attempt(s)",
            self.deadline, self.attempts
        )
    }
}

impl std::error::Error for DeadlineError {}

/// A response body over the client's size limit. Nothing beyond the limit
/// was read: a `Content-Length` over it is refused before the body, a body
/// streaming past it is cut off there.
#[derive(Debug, Clone)]
pub struct ResponseTooLargeError {
    pub(crate) status: StatusCode,
    pub(crate) limit: usize,
    pub(crate) declared_length: Option<u64>,
    pub(crate) request_id: Option<String>,
    pub(crate) idempotency_key: Option<String>,
}

impl ResponseTooLargeError {
    /// The status of the response.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }
    /// The `Content-Length` the response declared, if it declared one (a
    /// chunked body declares none).
    pub fn declared_length(&self) -> Option<u64> {
        self.declared_length
    }
    /// The response's `X-Request-Id`.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl fmt::Display for ResponseTooLargeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} response from TopCalls is larger than the limit of {} bytes",
            self.status, self.limit
        )
    }
}

impl std::error::Error for ResponseTooLargeError {}

/// The server answered with a redirect, which the SDK never follows.
#[derive(Debug, Clone)]
pub struct RedirectError {
    pub(crate) status: StatusCode,
    pub(crate) location: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) idempotency_key: Option<String>,
}

impl RedirectError {
    /// The `3xx` status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The `Location` the server named, if any (as text, lossy).
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }
    /// The response's `X-Request-Id`.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Enough of a location to recognise it, on one short line.
        const SHOWN: usize = 200;
        write!(f, "TopCalls redirected ({}) ", self.status)?;
        match &self.location {
            Some(location) if location.chars().count() > SHOWN => {
                let cut: String = location.chars().take(SHOWN).collect();
                write!(f, "to `{}…`", cut.escape_debug())?;
            }
            Some(location) => write!(f, "to `{}`", location.escape_debug())?,
            None => f.write_str("without a location")?,
        }
        f.write_str("; the SDK follows no redirects")
    }
}

impl std::error::Error for RedirectError {}

/// A wait for a call or campaign to finish gave up at its deadline.
#[derive(Debug, Clone)]
pub struct WaitTimeoutError {
    pub(crate) resource: &'static str,
    pub(crate) id: String,
    pub(crate) last_status: Option<String>,
    pub(crate) deadline: Duration,
    pub(crate) polls: u32,
}

impl WaitTimeoutError {
    /// What was waited for: `call` or `campaign`.
    pub fn resource(&self) -> &str {
        self.resource
    }
    /// Its id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Its status at the last poll that answered, if any did.
    pub fn last_status(&self) -> Option<&str> {
        self.last_status.as_deref()
    }
    /// The deadline that passed.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }
    /// Polls started before the deadline.
    pub fn polls(&self) -> u32 {
        self.polls
    }
}

impl fmt::Display for WaitTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}` had not finished when the wait's deadline of {:?} passed ({} poll(s)); ",
            self.resource,
            self.id.escape_debug(),
            self.deadline,
            self.polls
        )?;
        match &self.last_status {
            Some(status) => write!(f, "last status `{}`", status.escape_debug()),
            None => f.write_str("no poll answered"),
        }
    }
}

impl std::error::Error for WaitTimeoutError {}

/// The API answered with an error status. The Problem+JSON body, the request
/// id and the raw response stay reachable.
#[derive(Clone)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) problem: Option<Problem>,
    pub(crate) idempotency_key: Option<String>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        idempotency_key: Option<String>,
    ) -> Self {
        let problem = serde_json::from_slice::<Value>(&body)
            .ok()
            .filter(Value::is_object)
            .and_then(|v| serde_json::from_value::<Problem>(v).ok());
        Self {
            status,
            headers,
            body,
            problem,
            idempotency_key,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The parsed Problem+JSON body, when the body was one.
    pub fn problem(&self) -> Option<&Problem> {
        self.problem.as_ref()
    }
    /// The problem `type` URI, e.g. `https://api.topcalls.ai/errors/insufficient_quota`.
    pub fn problem_type(&self) -> Option<&str> {
        self.problem.as_ref()?.type_.as_deref()
    }
    /// The last path segment of the problem `type`, e.g. `insufficient_quota`.
    pub fn code(&self) -> Option<&str> {
        self.problem_type()
            .map(|t| t.rsplit('/').next().unwrap_or(t))
    }
    /// The problem `title`.
    pub fn title(&self) -> Option<&str> {
        self.problem.as_ref()?.title.as_deref()
    }
    /// The problem `detail`.
    pub fn detail(&self) -> Option<&str> {
        self.problem.as_ref()?.detail.as_deref()
    }
    /// The problem `instance`.
    pub fn instance(&self) -> Option<&str> {
        self.problem.as_ref()?.instance.as_deref()
    }
    /// Field-level errors (`errors[]`: path, message, code).
    pub fn field_errors(&self) -> &[ProblemFieldError] {
        self.problem.as_ref().map_or(&[], |p| p.errors.as_slice())
    }
    /// The problem's free-form `details`, when it has one (the docs show a
    /// string; any JSON value is kept).
    pub fn details(&self) -> Option<&Value> {
        self.problem.as_ref()?.details.as_ref()
    }
    /// Members of the problem body beyond the RFC 7807 ones and `errors`
    /// (`details` included).
    pub fn extra(&self) -> Map<String, Value> {
        const KNOWN: [&str; 6] = ["type", "title", "status", "detail", "instance", "errors"];
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(mut map)) => {
                map.retain(|k, _| !KNOWN.contains(&k.as_str()));
                map
            }
            _ => Map::new(),
        }
    }
    /// The raw response body, as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    /// The `X-Request-Id` response header: quote it to TopCalls support.
    pub fn request_id(&self) -> Option<&str> {
        self.headers.get(REQUEST_ID).and_then(|v| v.to_str().ok())
    }
    /// The wait the server asked for (`retry-after-ms`, else `Retry-After`
    /// in seconds or as an HTTP date), at most a day. `None` when it asked
    /// for none, or for one that is not a usable number (negative, NaN,
    /// infinite, text).
    pub fn retry_after(&self) -> Option<Duration> {
        crate::wire::retry_after(&self.headers)
    }
}

/// The body shows as in TRACE events: cut to 1 KiB, secrets redacted.
impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &crate::redact::preview(&self.body))
            .field("problem", &self.problem)
            .field("idempotency_key", &self.idempotency_key)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TopCalls API error {}", self.status)?;
        match (self.title(), self.detail()) {
            (_, Some(text)) | (Some(text), None) => {
                f.write_str(": ")?;
                one_line(f, text)
            }
            (None, None) => Ok(()),
        }
    }
}

/// Writes text the server chose on one short line: control characters
/// (line breaks that could forge log lines included) escaped, at most 300
/// characters.
fn one_line(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    const SHOWN: usize = 300;
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN {
            return f.write_str("…");
        }
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            write!(f, "{}", c.escape_default())?;
        } else {
            fmt::Write::write_char(f, c)?;
        }
    }
    Ok(())
}

impl std::error::Error for ApiError {}

/// A success response whose body the SDK could not decode.
pub struct DecodeError {
    pub(crate) status: StatusCode,
    pub(crate) request_id: Option<String>,
    pub(crate) body: Bytes,
    pub(crate) source: serde_json::Error,
}

impl DecodeError {
    /// The raw body that failed to decode.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// The body shows as in TRACE events: cut to 1 KiB, secrets redacted.
impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("status", &self.status)
            .field("request_id", &self.request_id)
            .field("body", &crate::redact::preview(&self.body))
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not decode the {} response from TopCalls",
            self.status
        )
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(body: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            HeaderMap::new(),
            Bytes::from(body.to_string()),
            None,
        )
    }

    #[test]
    fn server_text_displays_on_one_short_line() {
        let forged = api_error(r#"{"detail":"bad\nINFO admin logged in\r\u2028x"}"#);
        assert_eq!(
            forged.to_string(),
            "TopCalls API error 400 Bad Request: bad\\nINFO admin logged in\\r\\u{2028}x"
        );
        let long = api_error(&format!(r#"{{"title":"{}"}}"#, "é".repeat(1000)));
        let shown = long.to_string();
        assert!(shown.ends_with("é…"), "{shown}");
        assert_eq!(shown.chars().filter(|c| *c == 'é').count(), 300);
    }

    #[test]
    fn a_redirect_names_its_location_on_one_line() {
        let redirect = |location: Option<&str>| RedirectError {
            status: StatusCode::TEMPORARY_REDIRECT,
            location: location.map(str::to_string),
            request_id: None,
            idempotency_key: None,
        };
        assert_eq!(
            redirect(Some("http://evil.example/x")).to_string(),
            "TopCalls redirected (307 Temporary Redirect) to `http://evil.example/x`; the SDK follows no redirects"
        );
        assert_eq!(
            redirect(None).to_string(),
            "TopCalls redirected (307 Temporary Redirect) without a location; the SDK follows no redirects"
        );
        let long = redirect(Some(&format!("http://x/{}\nforged", "a".repeat(500)))).to_string();
        assert!(!long.contains('\n') && long.contains("a…`"), "{long}");
    }

    #[test]
    fn debug_shows_bodies_cut_and_redacted() {
        let error = api_error(r#"{"title":"x","signing_secret":"whsec_hunter2hunter2"}"#);
        let shown = format!("{error:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
