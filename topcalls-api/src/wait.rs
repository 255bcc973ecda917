//! Polling until something reaches a final state.

use std::time::Duration;

use crate::error::{DeadlineError, Error, Result};

/// How `wait_until_finished` polls: the first interval, growing by half
/// each time up to `max_interval`, until `timeout` passes.
///
/// ```
/// use std::time::Duration;
/// use topcalls_api::WaitOptions;
///
/// let wait = WaitOptions::default().timeout(Duration::from_secs(120));
/// assert_eq!(wait.timeout_duration(), Duration::from_secs(120));
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
    /// How long to wait in total before giving up with [`Error::Deadline`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// The configured total timeout.
    pub fn timeout_duration(&self) -> Duration {
        self.timeout
    }
}

/// Calls `fetch` until `done` holds for its result, sleeping between polls.
pub(crate) async fn until<T, Fut>(
    options: &WaitOptions,
    mut fetch: impl FnMut() -> Fut,
    done: impl Fn(&T) -> bool,
) -> Result<T>
where
    Fut: Future<Output = Result<T>>,
{
    let mut polls = 0u32;
    let poll = async {
        let mut interval = options.interval;
        loop {
            polls += 1;
            let value = fetch().await?;
            if done(&value) {
                return Ok(value);
            }
            tokio::time::sleep(interval).await;
            interval = interval.mul_f64(1.5).min(options.max_interval);
        }
    };
    let outcome = tokio::time::timeout(options.timeout, poll).await;
    match outcome {
        Ok(result) => result,
        Err(_) => Err(Error::Deadline(Box::new(DeadlineError {
            deadline: options.timeout,
            idempotency_key: None,
            may_have_taken_effect: false,
            attempts: polls,
        }))),
    }
}
