//! Watching many calls at once through the list endpoint: a few requests
//! per interval for a thousand calls, instead of one `GET` per call.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::IntoFuture;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::time::Instant;

use crate::calls::{Calls, is_finished};
use crate::client::Client;
use crate::error::{Error, Result, WaitTimeoutError};
use crate::request::{BoxFuture, RequestOptions};
use crate::retry::RetryPolicy;
use crate::types::{Call, CallGatewayStatus, CallTelephonyStatus};
use crate::wait::WaitOptions;

/// The page size a watch lists with: the API's largest.
const PAGE: u32 = 200;

/// Which calls a watch follows.
#[derive(Debug, Clone)]
enum Target {
    /// These ids.
    Ids(Vec<String>),
    /// Every call created at or after this time.
    Since(DateTime<Utc>),
}

/// A watch over many calls, from [`Calls::watch`], [`Calls::watch_since`]
/// or [`Calls::wait_all`]: set polling ([`WatchCalls::options`]), its
/// deadline and each request's retries, then either
///
/// - [`WatchCalls::stream`]: every change of a call (`status`,
///   `call_status` or `completed`; the first sighting counts) as it is
///   seen, ending when every call has finished; a failed poll is an `Err`
///   item and the watch goes on at the next interval; the deadline passing
///   is a last [`Error::WaitTimeout`] item; or
/// - `.await`: every call once all have finished (in the order they
///   finished), or the first error.
///
/// Each interval is one sweep of the newest-first call list, 200 calls a
/// page, from the newest call down to the oldest call still unfinished:
/// watching 1,000 calls costs about 5 requests per interval (fewer as they
/// finish), however many there are. Intervals follow [`WaitOptions`]
/// (growing by half from `interval` to `max_interval`), each one jittered
/// by up to ±20%. "Finished" is the rule of [`crate::Calls::wait_until_finished`]
/// ([`is_finished`]). An id that a full sweep does not find is fetched on
/// its own once (`GET /v1/calls/{id}`), so an unknown id ends as a `404`
/// error item instead of being waited for.
///
/// ```no_run
/// # async fn run(client: topcalls_api::Client, ids: Vec<String>) -> topcalls_api::Result<()> {
/// use std::time::Duration;
/// use futures::StreamExt;
///
/// let mut changes = client.calls().watch(&ids).deadline(Duration::from_secs(3600)).stream();
/// while let Some(change) = changes.next().await {
///     match change {
///         Ok(call) => println!("{} is {}", call.id, call.status),
///         Err(error) => eprintln!("poll failed: {error}"),
///     }
/// }
/// // Or just the end result:
/// let calls = client.calls().wait_all(&ids).await?;
/// # let _ = calls; Ok(()) }
/// ```
#[must_use = "a watch does nothing until it is streamed or awaited"]
pub struct WatchCalls<'a> {
    client: &'a Client,
    target: Target,
    polling: WaitOptions,
    options: RequestOptions,
}

impl fmt::Debug for WatchCalls<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchCalls")
            .field("target", &self.target)
            .field("polling", &self.polling)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<'a> Calls<'a> {
    /// Watches the calls `ids` until each has finished. See [`WatchCalls`].
    pub fn watch<I>(&self, ids: I) -> WatchCalls<'a>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let ids = ids.into_iter().map(|id| id.as_ref().to_string()).collect();
        WatchCalls::new(self.client, Target::Ids(ids))
    }

    /// Watches every call created at or after `since` (server time,
    /// including calls created while watching) until a sweep finds all of
    /// them finished; a first sweep that finds none ends the watch at once.
    /// See [`WatchCalls`].
    pub fn watch_since(&self, since: DateTime<Utc>) -> WatchCalls<'a> {
        WatchCalls::new(self.client, Target::Since(since))
    }

    /// Waits until each of the calls `ids` has finished, and returns them:
    /// [`Calls::watch`], to `.await`.
    pub fn wait_all<I>(&self, ids: I) -> WatchCalls<'a>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.watch(ids)
    }
}

impl<'a> WatchCalls<'a> {
    fn new(client: &'a Client, target: Target) -> Self {
        Self {
            client,
            target,
            polling: WaitOptions::default(),
            options: RequestOptions::default(),
        }
    }

    /// How to poll, and for how long in total.
    pub fn options(mut self, options: WaitOptions) -> Self {
        self.polling = options;
        self
    }

    /// How long to watch in total: [`WaitOptions::timeout`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.polling = self.polling.timeout(deadline);
        self
    }

    /// The retry policy of each request.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }

    /// Every change of a watched call as it is seen; see [`WatchCalls`].
    /// An `Unpin` stream.
    pub fn stream(self) -> BoxStream<'a, Result<Call>> {
        let watcher = Watcher::new(self);
        stream::unfold(watcher, |mut watcher| async move {
            let item = watcher.next().await?;
            Some((item, watcher))
        })
        .boxed()
    }
}

impl<'a> IntoFuture for WatchCalls<'a> {
    type Output = Result<Vec<Call>>;
    type IntoFuture = BoxFuture<'a, Result<Vec<Call>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let mut changes = self.stream();
            let mut finished = Vec::new();
            while let Some(change) = changes.next().await {
                let call = change?;
                if is_finished(&call) {
                    finished.push(call);
                }
            }
            Ok(finished)
        })
    }
}

/// What a watch compares between sweeps.
type State = (CallGatewayStatus, Option<CallTelephonyStatus>, Option<bool>);

fn state(call: &Call) -> State {
    (
        call.status.clone(),
        call.call_status.clone(),
        call.completed,
    )
}

/// One watched call.
struct Watched {
    /// As of the last sighting; `None` before the first.
    state: Option<State>,
    created_at: Option<DateTime<Utc>>,
    /// Seen in the sweep under way.
    seen: bool,
}

/// The running watch: what it follows, what it has seen, what it still
/// has to hand out.
struct Watcher<'a> {
    client: &'a Client,
    since: Option<DateTime<Utc>>,
    /// Unfinished calls (by id). Finished ones leave it.
    pending: HashMap<String, Watched>,
    /// Calls since `since` that finished, so a later sweep ignores them.
    finished: std::collections::HashSet<String>,
    queue: VecDeque<Result<Call>>,
    polling: WaitOptions,
    options: RequestOptions,
    interval: Option<Duration>,
    deadline: Instant,
    sweeps: u32,
    over: bool,
}

impl<'a> Watcher<'a> {
    fn new(watch: WatchCalls<'a>) -> Self {
        let (pending, since) = match watch.target {
            Target::Ids(ids) => (
                ids.into_iter()
                    .map(|id| {
                        let watched = Watched {
                            state: None,
                            created_at: None,
                            seen: false,
                        };
                        (id, watched)
                    })
                    .collect(),
                None,
            ),
            Target::Since(since) => (HashMap::new(), Some(since)),
        };
        Self {
            client: watch.client,
            since,
            pending,
            finished: Default::default(),
            queue: VecDeque::new(),
            deadline: Instant::now() + watch.polling.get_timeout(),
            polling: watch.polling,
            options: watch.options,
            interval: None,
            sweeps: 0,
            over: false,
        }
    }

    /// The next item: a queued change, else the result of sweeps to come.
    async fn next(&mut self) -> Option<Result<Call>> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if self.over {
                return None;
            }
            if self.sweeps > 0 && self.pending.is_empty() {
                return None;
            }
            let wait = match self.interval {
                None => Duration::ZERO,
                Some(interval) => {
                    let next = interval.mul_f64(1.5).min(self.polling.get_max_interval());
                    self.interval = Some(next);
                    interval.mul_f64(0.8 + 0.4 * crate::wire::unit_random())
                }
            };
            if self.interval.is_none() {
                self.interval = Some(self.polling.get_interval());
            }
            let deadline = self.deadline;
            let sweep = async {
                tokio::time::sleep(wait).await;
                self.sweep().await
            };
            match tokio::time::timeout_at(deadline, sweep).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => self.queue.push_back(Err(error)),
                Err(_) => {
                    self.over = true;
                    let timeout = self.timeout();
                    self.queue.push_back(Err(timeout));
                }
            }
        }
    }

    fn timeout(&self) -> Error {
        let mut unfinished: Vec<&String> = self.pending.keys().collect();
        unfinished.sort();
        let last_status = unfinished
            .first()
            .and_then(|id| self.pending[*id].state.as_ref())
            .map(|(status, _, _)| status.to_string());
        Error::WaitTimeout(Box::new(WaitTimeoutError {
            resource: "calls",
            id: match unfinished.first() {
                Some(first) => format!("{first} and {} more unfinished", unfinished.len() - 1),
                None => "none unfinished".to_string(),
            },
            last_status,
            deadline: self.polling.get_timeout(),
            polls: self.sweeps,
        }))
    }

    /// One sweep: pages from the newest call down to the oldest of
    /// interest, noting every change; then the ids no full sweep found,
    /// one by one. A failed request ends the sweep with its error.
    async fn sweep(&mut self) -> Result<()> {
        self.sweeps += 1;
        for watched in self.pending.values_mut() {
            watched.seen = false;
        }
        let mut cursor: Option<String> = None;
        let mut complete = false;
        loop {
            let mut list = self
                .client
                .calls()
                .list()
                .limit(PAGE)
                .options(self.options.clone());
            if let Some(cursor) = cursor.take() {
                list = list.cursor(cursor);
            }
            let page = list.page().await?;
            let oldest = page.data.last().map(|call| call.created_at);
            let empty = page.data.is_empty();
            for call in page.data {
                self.note(call);
            }
            if self.swept(oldest) {
                break;
            }
            match page.next_cursor {
                Some(next) if !empty => cursor = Some(next),
                _ => {
                    complete = true;
                    break;
                }
            }
        }
        if complete && self.since.is_none() {
            // A full sweep did not list these: fetch each on its own, so
            // an unknown id ends as its error instead of being waited for.
            let unseen: Vec<String> = self
                .pending
                .iter()
                .filter(|(_, watched)| !watched.seen)
                .map(|(id, _)| id.clone())
                .collect();
            for id in unseen {
                let fetched = self
                    .client
                    .calls()
                    .get(&id)
                    .options(self.options.clone())
                    .await;
                match fetched {
                    Ok(call) => self.note(call),
                    Err(error) => {
                        self.pending.remove(&id);
                        self.queue.push_back(Err(error));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the sweep has seen all it needs, given the oldest call of
    /// the page just read.
    fn swept(&self, oldest: Option<DateTime<Utc>>) -> bool {
        let Some(oldest) = oldest else {
            return true;
        };
        match self.since {
            Some(since) => oldest < since,
            None => {
                // Every unfinished call seen, or the page went past the
                // oldest of them (all created_at known).
                let mut oldest_pending = None::<DateTime<Utc>>;
                for watched in self.pending.values() {
                    match watched.created_at {
                        // Never seen: its age is unknown, keep going.
                        None if !watched.seen => return false,
                        None => {}
                        Some(created) => {
                            oldest_pending =
                                Some(oldest_pending.map_or(created, |t| t.min(created)));
                        }
                    }
                }
                self.pending.values().all(|watched| watched.seen)
                    || oldest_pending.is_some_and(|t| oldest < t)
            }
        }
    }

    /// A call as a sweep found it: queued when it changed, dropped from the
    /// watch once finished.
    fn note(&mut self, call: Call) {
        let watched = match self.since {
            Some(since) => {
                if call.created_at < since || self.finished.contains(&call.id) {
                    return;
                }
                self.pending.entry(call.id.clone()).or_insert(Watched {
                    state: None,
                    created_at: None,
                    seen: false,
                })
            }
            None => match self.pending.get_mut(&call.id) {
                Some(watched) => watched,
                None => return,
            },
        };
        watched.seen = true;
        watched.created_at = Some(call.created_at);
        let now = state(&call);
        let changed = watched.state.as_ref() != Some(&now);
        watched.state = Some(now);
        if is_finished(&call) {
            self.pending.remove(&call.id);
            if self.since.is_some() {
                self.finished.insert(call.id.clone());
            }
            self.queue.push_back(Ok(call));
        } else if changed {
            self.queue.push_back(Ok(call));
        }
    }
}
