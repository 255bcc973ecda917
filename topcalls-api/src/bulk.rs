//! Placing many calls: a list of patients to remind, leads to qualify.
//!
//! [`Calls::create_many`] takes rows `(reference, call)`, where the
//! reference is your stable id for the row (a lead id, a row number in a
//! file), and places them with bounded concurrency, yielding a
//! [`Placement`] per row as results arrive. Three properties make a batch
//! safe to run, kill and run again:
//!
//! - **Never twice.** Each row's `Idempotency-Key` is derived from the batch
//!   id and the row's reference ([`idempotency_key`]). Rerunning the same
//!   batch (after a crash, a kill, a reboot) sends the same keys, and the
//!   API answers a key it has seen with the first answer instead of placing
//!   a second call. The API keeps those answers for **24 hours**: a rerun
//!   within 24 h of a row's first attempt is safe; after that the key is
//!   forgotten and the row would be placed again. Keep references unique
//!   within a batch ([`validate`] reports duplicates) and use a new batch id
//!   for a new list.
//! - **Rate-limit aware.** A `429` pauses the whole batch for the
//!   `Retry-After` the server asks for (shared pacing, not only the request
//!   that got it), slows its pace, and recovers as requests succeed; the row
//!   is retried with the same key. An optional [`CreateMany::calls_per_minute`]
//!   cap spaces the calls evenly.
//! - **Flat memory.** Rows are pulled from the input only as a slot frees
//!   up: at most [`CreateMany::concurrency`] rows are in memory at once,
//!   whatever the input's size.
//!
//! Validation of every row before anything is sent is a separate step,
//! [`validate`], which reports *all* bad rows with their references; the
//! rules are the ones `create` applies (E.164, dialable, exactly one of
//! `task` / `instructions`, lengths and ranges).
//!
//! ```no_run
//! # async fn run(client: topcalls_api::Client) -> topcalls_api::Result<()> {
//! use futures::StreamExt;
//! use topcalls_api::NewCall;
//!
//! let leads = [("lead-17", "+15551234567"), ("lead-18", "+15557654321")];
//! let rows = || {
//!     leads.iter().map(|&(lead, phone)| {
//!         (lead, NewCall::to(phone).task("Ask whether they want to book a demo next week."))
//!     })
//! };
//! // 1. Check every row; nothing is sent.
//! let bad: Vec<_> = topcalls_api::bulk::validate(rows()).collect();
//! for row in &bad {
//!     eprintln!("{}: {}", row.reference, row.error);
//! }
//! // 2. Place them; run this again after a crash and no one is rung twice.
//! let mut placements = client
//!     .calls()
//!     .create_many("demo-campaign-2026-11-29", rows())
//!     .concurrency(8)
//!     .calls_per_minute(120)
//!     .stream();
//! while let Some(placement) = placements.next().await {
//!     match placement.result {
//!         Ok(call) => println!("{} -> {}", placement.reference, call.call_id),
//!         Err(error) => eprintln!("{} failed: {error}", placement.reference),
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::fmt::{self, Display};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::stream::{self, BoxStream, Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::calls::Calls;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::RequestOptions;
use crate::retry::RetryPolicy;
use crate::types::{CreateCallRequest, CreateCallResponse};
use crate::validate;
use crate::wire;

/// How many rows a batch places at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How many `429` answers one row takes before its placement fails with
/// the last of them. Each one has paused the whole batch already.
pub const MAX_RATE_LIMITED_ATTEMPTS: u32 = 50;

/// The idempotency key of the row `reference` of batch `batch_id`: `tcb_`
/// and 32 hex digits of a SHA-256 over both (the batch id length-prefixed,
/// so no two pairs share their bytes). Always valid (36 characters of
/// `[a-z0-9_]`); the same pair gives the same key on every machine and in
/// every version of the SDK, so a rerun is recognised by the API.
///
/// ```
/// use topcalls_api::bulk::idempotency_key;
///
/// let key = idempotency_key("reminders-2026-11-29", &"patient-4711");
/// assert_eq!(key, idempotency_key("reminders-2026-11-29", &"patient-4711"));
/// assert_ne!(key, idempotency_key("reminders-2026-11-30", &"patient-4711"));
/// assert!(key.starts_with("tcb_") && key.len() == 36);
/// ```
pub fn idempotency_key(batch_id: &str, reference: &dyn Display) -> String {
    wire::hex_key("tcb_", &reference_digest(batch_id, reference)[..16])
}

fn reference_digest(batch_id: &str, reference: &dyn Display) -> [u8; 32] {
    struct Hashing<'h>(&'h mut Sha256);
    impl fmt::Write for Hashing<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.update(s.as_bytes());
            Ok(())
        }
    }
    let mut hasher = Sha256::new();
    hasher.update((batch_id.len() as u64).to_le_bytes());
    hasher.update(batch_id.as_bytes());
    // Writing into a hasher cannot fail; a `Display` that fails hashes what it wrote.
    let _ = fmt::write(&mut Hashing(&mut hasher), format_args!("{reference}"));
    hasher.finalize().into()
}

/// A row [`validate`] refused: its reference and why. Nothing was sent.
#[derive(Debug)]
#[non_exhaustive]
pub struct InvalidRow<R> {
    /// The row's reference.
    pub reference: R,
    /// What is wrong with it ([`Error::InvalidRequest`]).
    pub error: Error,
}

/// Checks every row the way [`Calls::create`] does before sending (E.164
/// numbers, a dialable country code, exactly one of `task` /
/// `instructions`, lengths and ranges) and reports each bad row, lazily,
/// with its reference; a reference seen before in the same input is
/// reported as a duplicate (it would share the earlier row's idempotency
/// key). Nothing is sent. Memory grows by 16 bytes per row (the
/// duplicate check), never by the rows themselves.
///
/// ```
/// use topcalls_api::NewCall;
///
/// let rows = vec![
///     (1, NewCall::to("+15551234567").task("Confirm the appointment for tomorrow.")),
///     (2, NewCall::to("555-1234").task("Confirm the appointment for tomorrow.")),
///     (3, NewCall::to("+15551234567")),
///     (1, NewCall::to("+15557654321").task("Confirm the appointment for tomorrow.")),
/// ];
/// let bad: Vec<_> = topcalls_api::bulk::validate(rows).map(|row| row.reference).collect();
/// assert_eq!(bad, [2, 3, 1]);
/// ```
pub fn validate<R, C, I>(rows: I) -> impl Iterator<Item = InvalidRow<R>>
where
    I: IntoIterator<Item = (R, C)>,
    R: Display,
    C: TryInto<CreateCallRequest>,
    C::Error: Into<Error>,
{
    let mut seen = HashSet::<[u8; 16]>::new();
    rows.into_iter().filter_map(move |(reference, call)| {
        let digest = reference_digest("", &reference);
        let mut short = [0u8; 16];
        short.copy_from_slice(&digest[..16]);
        let error = if seen.insert(short) {
            validate::new_call(call).err()?
        } else {
            Error::InvalidRequest(format!(
                "the reference `{reference}` appears more than once in the batch: each row needs its own"
            ))
        };
        Some(InvalidRow { reference, error })
    })
}

/// What became of one row of a batch.
#[derive(Debug)]
#[non_exhaustive]
pub struct Placement<R> {
    /// The row's reference.
    pub reference: R,
    /// The idempotency key every attempt for this row carried
    /// ([`idempotency_key`]).
    pub idempotency_key: String,
    /// The placed call, or why it was not placed. On an error with
    /// [`Error::may_have_taken_effect`], run the batch again: the same key
    /// finds out safely.
    pub result: Result<CreateCallResponse>,
}

/// The placements of a batch, as they arrive: an `Unpin` stream.
pub type Placements<'a, R> = BoxStream<'a, Placement<R>>;

/// A batch of calls to place, from [`Calls::create_many`]: set its pace
/// and options, then [`CreateMany::stream`].
#[must_use = "a batch does nothing until `stream()` is polled"]
pub struct CreateMany<'a, R, C> {
    client: &'a Client,
    batch_id: String,
    rows: BoxStream<'a, (R, C)>,
    concurrency: usize,
    calls_per_minute: Option<u32>,
    options: RequestOptions,
}

impl<R, C> fmt::Debug for CreateMany<'_, R, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateMany")
            .field("batch_id", &self.batch_id)
            .field("concurrency", &self.concurrency)
            .field("calls_per_minute", &self.calls_per_minute)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<'a> Calls<'a> {
    /// Places one call per row, `concurrency` at a time, each with an
    /// idempotency key derived from `batch_id` and the row's reference, so
    /// that running the same batch again places no call twice (within the
    /// API's 24-hour idempotency window). See [`crate::bulk`].
    ///
    /// `batch_id` names this list of calls: keep it to rerun the batch,
    /// change it for a new one. Rows are read lazily, one as a slot frees.
    pub fn create_many<R, C, I>(&self, batch_id: impl Into<String>, rows: I) -> CreateMany<'a, R, C>
    where
        I: IntoIterator<Item = (R, C)>,
        I::IntoIter: Send + 'a,
    {
        self.create_many_stream(batch_id, stream::iter(rows))
    }

    /// [`Calls::create_many`] for rows that arrive as a `Stream` (read from
    /// a socket, a database cursor, an async file).
    pub fn create_many_stream<R, C, S>(
        &self,
        batch_id: impl Into<String>,
        rows: S,
    ) -> CreateMany<'a, R, C>
    where
        S: Stream<Item = (R, C)> + Send + 'a,
    {
        CreateMany {
            client: self.client,
            batch_id: batch_id.into(),
            rows: rows.boxed(),
            concurrency: DEFAULT_CONCURRENCY,
            calls_per_minute: None,
            options: RequestOptions::default(),
        }
    }
}

impl<'a, R, C> CreateMany<'a, R, C>
where
    R: Display + Send + 'a,
    C: TryInto<CreateCallRequest> + Send + 'a,
    C::Error: Into<Error>,
{
    /// How many calls are being placed at once, at least 1; default
    /// [`DEFAULT_CONCURRENCY`].
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// At most `calls` calls per minute, evenly spaced (one every
    /// 60 s / `calls`); none by default, beyond what the API's `429`s ask.
    pub fn calls_per_minute(mut self, calls: u32) -> Self {
        self.calls_per_minute = Some(calls);
        self
    }

    /// Applies `options` to each row's request (see
    /// [`crate::Request::options`]). Their idempotency key, if any, is
    /// refused: each row's key comes from the batch id and its reference.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = self.options.merge(options);
        self
    }

    /// The retry policy of each row's request (transport failures, `5xx`,
    /// `409 idempotency_key_in_use`, all with the row's key). `429`s are
    /// the batch's: they pause every row, and do not count as retries.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }

    /// The deadline of each row's request, across its attempts.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline = Some(deadline);
        self
    }

    /// Places the rows, yielding each row's [`Placement`] as it completes
    /// (not in input order). A setting that cannot work (a concurrency or
    /// a calls-per-minute of 0, an empty batch id, an idempotency key in
    /// the options) fails every row with [`Error::InvalidRequest`] and
    /// sends nothing.
    pub fn stream(self) -> Placements<'a, R> {
        let Self {
            client,
            batch_id,
            rows,
            concurrency,
            calls_per_minute,
            options,
        } = self;
        let refused = check_settings(&batch_id, concurrency, calls_per_minute, &options);
        let mut policy = options
            .retry
            .clone()
            .unwrap_or_else(|| client.raw.inner.retry.clone());
        policy.retry_rate_limited = false;
        let batch = Arc::new(Batch {
            client,
            batch_id,
            refused,
            pacer: Pacer::new(calls_per_minute),
            options: RequestOptions {
                retry: Some(policy),
                ..options
            },
        });
        rows.map(move |(reference, call)| {
            let batch = Arc::clone(&batch);
            async move { batch.place(reference, call).await }
        })
        .buffer_unordered(concurrency.max(1))
        .boxed()
    }
}

/// Why a batch's settings cannot work, if they cannot.
fn check_settings(
    batch_id: &str,
    concurrency: usize,
    calls_per_minute: Option<u32>,
    options: &RequestOptions,
) -> Option<String> {
    if let Err(Error::InvalidRequest(message)) = validate::id("batch_id", batch_id) {
        return Some(message);
    }
    if concurrency == 0 {
        return Some("`concurrency` must be at least 1".to_string());
    }
    if calls_per_minute == Some(0) {
        return Some("`calls_per_minute` must be at least 1".to_string());
    }
    if options.idempotency_key.is_some() {
        return Some(
            "a batch derives each row's idempotency key from its batch id and reference; \
             remove the key from the options"
                .to_string(),
        );
    }
    None
}

/// What every row of a batch shares.
struct Batch<'a> {
    client: &'a Client,
    batch_id: String,
    refused: Option<String>,
    pacer: Pacer,
    options: RequestOptions,
}

impl Batch<'_> {
    async fn place<R, C>(&self, reference: R, call: C) -> Placement<R>
    where
        R: Display,
        C: TryInto<CreateCallRequest>,
        C::Error: Into<Error>,
    {
        let key = idempotency_key(&self.batch_id, &reference);
        let result = match &self.refused {
            Some(message) => Err(Error::InvalidRequest(message.clone())),
            None => self.send(call, &key).await,
        };
        Placement {
            reference,
            idempotency_key: key,
            result,
        }
    }

    async fn send<C>(&self, call: C, key: &str) -> Result<CreateCallResponse>
    where
        C: TryInto<CreateCallRequest>,
        C::Error: Into<Error>,
    {
        let body = validate::new_call(call)?;
        let options = self.options.clone().idempotency_key(key);
        let max_wait = options
            .retry
            .as_ref()
            .map_or(Duration::from_secs(60), RetryPolicy::get_max_retry_after);
        let mut rate_limited = 0u32;
        loop {
            self.pacer.ready().await;
            let operation = self.client.raw.create_call().body(body.clone());
            match self.client.execute(operation, &options).await {
                Err(Error::Api(api)) if api.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                    rate_limited += 1;
                    let wait = api.retry_after().unwrap_or(NO_RETRY_AFTER);
                    if wait > max_wait || rate_limited >= MAX_RATE_LIMITED_ATTEMPTS {
                        return Err(Error::Api(api));
                    }
                    self.pacer.throttle(wait);
                }
                Ok(placed) => {
                    self.pacer.succeeded();
                    return Ok(placed);
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// The pause after a `429` that names no wait.
const NO_RETRY_AFTER: Duration = Duration::from_secs(1);
/// The spacing a batch takes after a `429` that came before any success.
const FIRST_STEP: Duration = Duration::from_millis(10);
/// The widest spacing the batch's own slowing reaches.
const WIDEST_STEP: Duration = Duration::from_secs(2);
/// A spacing below this counts as none.
const NO_STEP: Duration = Duration::from_micros(100);

/// The pace of a batch, shared by its rows: request starts are spaced by
/// the wider of the caller's cap and an adaptive step.
///
/// A `429` pauses everyone until its `Retry-After` and sets the step to the
/// spacing the batch achieved since the previous `429`, a tenth wider (the
/// pace that ran into the limit, slightly slower); a `429` before any
/// success widens the step by half. The step never exceeds the wait the
/// server asked for. Each success narrows it by a tenth until it vanishes. Under a limit that resets by the minute the batch
/// thus runs at full speed and waits out the window; under a steady rate it
/// settles just below it; and sporadic `429`s do not ratchet it down.
struct Pacer {
    cap: Duration,
    state: Mutex<Pace>,
}

struct Pace {
    next: Instant,
    step: Duration,
    paused_until: Instant,
    /// When the last `429` came (or the batch started), and the successes since.
    epoch: Instant,
    successes: u32,
}

impl Pacer {
    fn new(calls_per_minute: Option<u32>) -> Self {
        let cap = match calls_per_minute {
            Some(calls) if calls > 0 => Duration::from_secs(60) / calls,
            _ => Duration::ZERO,
        };
        let now = Instant::now();
        Self {
            cap,
            state: Mutex::new(Pace {
                next: now,
                step: Duration::ZERO,
                paused_until: now,
                epoch: now,
                successes: 0,
            }),
        }
    }

    fn pace(&self) -> std::sync::MutexGuard<'_, Pace> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for this request's turn.
    async fn ready(&self) {
        let now = Instant::now();
        let at = {
            let mut pace = self.pace();
            let at = now.max(pace.next).max(pace.paused_until);
            pace.next = at + pace.step.max(self.cap);
            at
        };
        if at > now {
            tokio::time::sleep_until(at).await;
        }
    }

    /// A `429` asking for `wait`: everyone pauses. The pace adapts once per
    /// pause: the other rows in flight get their `429`s too.
    fn throttle(&self, wait: Duration) {
        let now = Instant::now();
        let mut pace = self.pace();
        if pace.paused_until <= now {
            pace.step = match pace.successes {
                0 => pace.step.mul_f64(1.5).max(FIRST_STEP),
                successes => ((now - pace.epoch) / successes).mul_f64(1.1),
            }
            // Never slower than one request per wait the server asked for:
            // it said capacity is back by then. This also keeps sporadic
            // 429s (not caused by the pace) from ratcheting the step up.
            .min(wait)
            .min(WIDEST_STEP);
            pace.epoch = now + wait;
            pace.successes = 0;
        }
        pace.paused_until = pace.paused_until.max(now + wait);
    }

    /// A placed call: the pace recovers.
    fn succeeded(&self) {
        let mut pace = self.pace();
        pace.successes = pace.successes.saturating_add(1);
        pace.step = pace.step.mul_f64(0.9);
        if pace.step < NO_STEP {
            pace.step = Duration::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_valid_distinct_and_stable() {
        let a = idempotency_key("batch-1", &1);
        assert_eq!(a, idempotency_key("batch-1", &"1"));
        assert_ne!(a, idempotency_key("batch-1", &2));
        // The batch id is length-prefixed: moving bytes between the two parts changes the key.
        assert_ne!(idempotency_key("ab", &"c"), idempotency_key("a", &"bc"));
        assert!(crate::types::rules::idempotency_key(&a).is_ok());
        // Fixed forever: a rerun with a newer SDK must find the same keys.
        assert_eq!(
            idempotency_key("reminders", &"patient-4711"),
            idempotency_key("reminders", &format_args!("patient-{}", 4711))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_everyone_and_the_pace_recovers() {
        let pacer = Pacer::new(None);
        let start = Instant::now();
        pacer.ready().await;
        assert_eq!(Instant::now(), start);
        pacer.throttle(Duration::from_secs(3));
        pacer.throttle(Duration::from_secs(2));
        pacer.ready().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(3));
        // Slowed once for that pause, not once per 429: no success came
        // since the start, so the first step.
        assert_eq!(pacer.pace().step, FIRST_STEP);
        pacer.ready().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(3) + FIRST_STEP);
        for _ in 0..100 {
            pacer.succeeded();
        }
        assert_eq!(pacer.pace().step, Duration::ZERO);
        // 100 successes in 1 s, then a 429: the pace that met the limit, a tenth slower.
        tokio::time::advance(Duration::from_secs(1) - FIRST_STEP).await;
        pacer.throttle(Duration::from_secs(1));
        assert_eq!(pacer.pace().step, Duration::from_millis(11));
        // Never slower than the server's own wait.
        tokio::time::advance(Duration::from_secs(1)).await;
        pacer.throttle(Duration::from_millis(5));
        assert_eq!(pacer.pace().step, Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_calls_per_minute_cap_spaces_starts_evenly() {
        let pacer = Pacer::new(Some(120));
        let start = Instant::now();
        for _ in 0..5 {
            pacer.ready().await;
        }
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
    }
}
