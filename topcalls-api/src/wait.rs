//! Polling until a call or campaign reaches a final state.

use std::fmt;
use std::future::IntoFuture;
use std::time::Duration;

use crate::client::Client;
use crate::error::{Error, Result, WaitTimeoutError};
use crate::operation::Operation;
use crate::request::{BoxFuture, RequestOptions};
use crate::retry::RetryPolicy;

/// How a [`Wait`] polls: the first interval, growing by half each time up
/// to `max_interval`, until `timeout` passes. Pass it with [`Wait::options`].
///
/// ```
/// use std::time::Duration;
/// use topcalls_api::WaitOptions;
///
/// let wait = WaitOptions::default().timeout(Duration::from_secs(120));
/// assert_eq!(wait.get_timeout(), Duration::from_secs(120));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitOptions {
    interval: Duration,
    max_interval: Duration,
    timeout: Duration,
}

impl Default for WaitOptions {
    /// Poll after 0.5 s, backing off to every 5 s, for at most 30 minutes.
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(500),
            max_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(30 * 60),
        }
    }
}

impl WaitOptions {
    /// The first polling interval.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }
    /// The longest polling interval.
    #[must_use]
    pub fn max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }
    /// How long to wait in total before giving up with [`Error::WaitTimeout`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// The first polling interval.
    pub fn get_interval(&self) -> Duration {
        self.interval
    }
    /// The longest polling interval.
    pub fn get_max_interval(&self) -> Duration {
        self.max_interval
    }
    /// The total timeout.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }
}

/// A wait for a call or campaign to finish: set polling
/// ([`Wait::options`]), its deadline and each poll's retries, then `.await`
/// it. Gives up with [`Error::WaitTimeout`], naming the id and the last
/// status seen.
///
/// ```no_run
/// # async fn run(client: topcalls_api::Client) -> topcalls_api::Result<()> {
/// use std::time::Duration;
/// use topcalls_api::WaitOptions;
///
/// let call = client
///     .calls()
///     .wait_until_finished("3f0c4a9e-2b7d-4f1a-9c3e-5d6b7a8f9012")
///     .options(WaitOptions::default().interval(Duration::from_secs(2)))
///     .deadline(Duration::from_secs(15 * 60))
///     .await?;
/// # let _ = call; Ok(()) }
/// ```
#[must_use = "a wait does nothing until it is awaited"]
pub struct Wait<'a, O: Operation> {
    client: &'a Client,
    /// The `get` operation polled, or why it cannot be sent.
    operation: Result<O>,
    resource: &'static str,
    id: String,
    finished: fn(&O::Output) -> bool,
    status: fn(&O::Output) -> String,
    polling: WaitOptions,
    /// Each poll's options.
    options: RequestOptions,
    /// Called with each polled value, the last (finished) one included.
    on_poll: Option<OnPoll<'a, O::Output>>,
}

type OnPoll<'a, T> = Box<dyn FnMut(&T) + Send + 'a>;

impl<'a, O: Operation> Wait<'a, O> {
    pub(crate) fn new(
        client: &'a Client,
        operation: Result<O>,
        resource: &'static str,
        id: &str,
        finished: fn(&O::Output) -> bool,
        status: fn(&O::Output) -> String,
    ) -> Self {
        Self {
            client,
            operation,
            resource,
            id: id.to_string(),
            finished,
            status,
            polling: WaitOptions::default(),
            options: RequestOptions::default(),
            on_poll: None,
        }
    }
    /// How to poll, and for how long in total.
    pub fn options(mut self, options: WaitOptions) -> Self {
        self.polling = options;
        self
    }
    /// How long to wait in total: [`WaitOptions::timeout`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.polling.timeout = deadline;
        self
    }
    /// The retry policy of each poll.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }
    /// Calls `observe` with every value polled, the finished one included:
    /// to show a call's status as it changes while waiting.
    ///
    /// ```no_run
    /// # async fn run(client: topcalls_api::Client) -> topcalls_api::Result<()> {
    /// let mut last = String::new();
    /// let call = client
    ///     .calls()
    ///     .wait_until_finished("3f0c4a9e-2b7d-4f1a-9c3e-5d6b7a8f9012")
    ///     .on_poll(move |call| {
    ///         let status = call.status.to_string();
    ///         if status != last {
    ///             println!("{status}");
    ///             last = status;
    ///         }
    ///     })
    ///     .await?;
    /// # let _ = call; Ok(()) }
    /// ```
    pub fn on_poll(mut self, observe: impl FnMut(&O::Output) + Send + 'a) -> Self {
        self.on_poll = Some(Box::new(observe));
        self
    }
}

impl<O: Operation> fmt::Debug for Wait<'_, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("resource", &self.resource)
            .field("id", &self.id)
            .field("polling", &self.polling)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<'a, O> IntoFuture for Wait<'a, O>
where
    O: Operation + Clone + Send + Sync + 'a,
    O::Output: Send + 'a,
{
    type Output = Result<O::Output>;
    type IntoFuture = BoxFuture<'a, Result<O::Output>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let mut on_poll = self.on_poll;
            let operation = self.operation?;
            let mut polls = 0u32;
            let mut last_status = None;
            let poll = async {
                let mut interval = self.polling.interval;
                loop {
                    polls += 1;
                    let value = self
                        .client
                        .execute(operation.clone(), &self.options)
                        .await?;
                    if let Some(observe) = on_poll.as_mut() {
                        observe(&value);
                    }
                    if (self.finished)(&value) {
                        return Ok(value);
                    }
                    last_status = Some((self.status)(&value));
                    tokio::time::sleep(interval).await;
                    interval = interval.mul_f64(1.5).min(self.polling.max_interval);
                }
            };
            match tokio::time::timeout(self.polling.timeout, poll).await {
                Ok(result) => result,
                Err(_) => Err(Error::WaitTimeout(Box::new(WaitTimeoutError {
                    resource: self.resource,
                    id: self.id,
                    last_status,
                    deadline: self.polling.timeout,
                    polls,
                }))),
            }
        })
    }
}
