//! Per-request options, and the request value every operation returns:
//! set options on it, then `.await` it.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use crate::client::Client;
use crate::error::Result;
use crate::operation::Operation;
use crate::retry::RetryPolicy;

/// Per-request settings that override the client's: set them one by one on
/// any request ([`Request::deadline`], [`Request::retry`],
/// [`Request::idempotency_key`]), or all at once with [`Request::options`],
/// e.g. the options [`crate::Error::retry_options`] hands back.
///
/// ```
/// use std::time::Duration;
/// use topcalls_api::{RequestOptions, RetryPolicy};
///
/// let options = RequestOptions::new()
///     .idempotency_key("order-1234-reminder")
///     .retry(RetryPolicy::default().max_retries(5))
///     .deadline(Duration::from_secs(30));
/// assert_eq!(options.get_deadline(), Some(Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
    pub(crate) idempotency_key: Option<String>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) deadline: Option<Duration>,
}

impl RequestOptions {
    /// Options that change nothing.
    pub fn new() -> Self {
        Self::default()
    }
    /// The `Idempotency-Key` of a `POST` (8–255 of `[A-Za-z0-9_-]`, checked
    /// before sending). Without one the SDK generates a key per logical
    /// request; pass the key of an earlier attempt ([`crate::Error::idempotency_key`])
    /// to repeat it safely. Other methods are safe to repeat and send no key.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
    /// The retry policy for this request, instead of the client's.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// One deadline across all attempts of this request, instead of the
    /// client's ([`crate::ClientBuilder::deadline`]).
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
    /// The idempotency key set with [`RequestOptions::idempotency_key`].
    pub fn get_idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
    /// The retry policy set with [`RequestOptions::retry`].
    pub fn get_retry(&self) -> Option<&RetryPolicy> {
        self.retry.as_ref()
    }
    /// The deadline set with [`RequestOptions::deadline`].
    pub fn get_deadline(&self) -> Option<Duration> {
        self.deadline
    }
    /// `self` with every option `other` sets replacing this one's.
    pub(crate) fn merge(self, other: RequestOptions) -> Self {
        Self {
            idempotency_key: other.idempotency_key.or(self.idempotency_key),
            retry: other.retry.or(self.retry),
            deadline: other.deadline.or(self.deadline),
        }
    }
}

/// A boxed future, as every request resolves to.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One operation, ready to run: set options, then `.await` it. Every
/// method of the SDK that calls the API returns one, and so does
/// [`Client::send`] for the generated builders.
///
/// ```no_run
/// # async fn run(client: topcalls_api::Client) -> topcalls_api::Result<()> {
/// use std::time::Duration;
/// use topcalls_api::RetryPolicy;
///
/// let stopped = client
///     .calls()
///     .stop("3f0c4a9e-2b7d-4f1a-9c3e-5d6b7a8f9012")
///     .idempotency_key("stop-order-1234")
///     .retry(RetryPolicy::default().max_retries(4))
///     .deadline(Duration::from_secs(20))
///     .await?;
/// # let _ = stopped; Ok(()) }
/// ```
///
/// `O` is the generated operation ([`crate::generated::builder`]); its
/// output is what `.await` returns.
#[must_use = "a request does nothing until it is awaited"]
pub struct Request<'a, O> {
    client: &'a Client,
    /// The operation, or why it cannot be sent (reported when awaited).
    operation: Result<O>,
    options: RequestOptions,
}

impl<'a, O> Request<'a, O> {
    pub(crate) fn new(client: &'a Client, operation: Result<O>) -> Self {
        Self {
            client,
            operation,
            options: RequestOptions::default(),
        }
    }
    /// Changes the operation (a filter of a non-paginated list, say).
    pub(crate) fn map(mut self, change: impl FnOnce(O) -> O) -> Self {
        self.operation = self.operation.map(change);
        self
    }
    /// Applies `options`: each one they set replaces the request's.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = self.options.merge(options);
        self
    }
    /// See [`RequestOptions::idempotency_key`]. `POST` only; other methods
    /// send no key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options.idempotency_key = Some(key.into());
        self
    }
    /// See [`RequestOptions::retry`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }
    /// See [`RequestOptions::deadline`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline = Some(deadline);
        self
    }
}

impl<O: Operation> fmt::Debug for Request<'_, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("operation", &O::ID)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<'a, O> IntoFuture for Request<'a, O>
where
    O: Operation + Send + 'a,
    O::Output: Send + 'a,
{
    type Output = Result<O::Output>;
    type IntoFuture = BoxFuture<'a, Result<O::Output>>;

    fn into_future(self) -> Self::IntoFuture {
        let Self {
            client,
            operation,
            options,
        } = self;
        Box::pin(async move { client.execute(operation?, &options).await })
    }
}

impl Client {
    /// Runs a generated operation on the SDK's one path: authentication,
    /// idempotency keys, retries, deadline and observers as for every
    /// hand-written method, and errors as [`crate::Error`].
    ///
    /// ```no_run
    /// # async fn run(client: topcalls_api::Client) -> topcalls_api::Result<()> {
    /// use std::time::Duration;
    ///
    /// let page = client
    ///     .send(client.raw().list_calls().limit(std::num::NonZeroU64::new(5).unwrap()))
    ///     .deadline(Duration::from_secs(10))
    ///     .await?;
    /// println!("{} calls", page.data.len());
    /// # Ok(()) }
    /// ```
    pub fn send<O: Operation>(&self, operation: O) -> Request<'_, O> {
        Request::new(self, Ok(operation))
    }
}
