//! A stateful local TopCalls API server: the embedded default that examples,
//! tests and newcomers run against without a TopCalls account.
//!
//! Unlike a mock that replays canned examples, the sandbox behaves like the
//! service: calls move from `queued` (3 s by default, see
//! [`SandboxBuilder::queue_time`]) through `in_progress` to a final state on
//! a sandbox clock, with a transcript, summary and billing; campaigns dispatch
//! their leads; idempotency keys replay; keys have scopes; errors are
//! Problem+JSON. Faults can be injected to test clients.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = topcalls_sandbox::Sandbox::start().await?;
//! println!("{} with key {}", sandbox.base_url(), sandbox.api_key());
//! # Ok(()) }
//! ```
//!
//! Destination numbers with a fixed outcome (all others are answered by a person):
//!
//! | number | outcome |
//! | --- | --- |
//! | `+15550000001` | busy (`failed` / `busy`) |
//! | `+15550000002` | no answer (`failed` / `no-answer`) |
//! | `+15550000003` | carrier failure (`failed` / `failed`) |
//! | `+15550000004` | rejected (`failed` / `rejected`) |
//! | `+15550000005` | voicemail (`completed`, `answered_by: voicemail`) |
//! | `+15550000006` | dispatch timeout (`failed` / `dispatch_timeout`) |
//! | `+999…` | refused as not dialable (400) |

mod api;
mod app;
pub mod cli;
mod clock;
mod delivery;
mod faults;
mod problem;
mod seed;
mod server;
mod state;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use app::App;
pub use clock::ClockMode;
pub use faults::{Faults, InjectedFaults};
pub use state::events::{DeliveryInfo, WebhookPayloads};

/// How long a new call waits in `queued` unless told otherwise (sandbox time).
pub const DEFAULT_QUEUE_TIME: Duration = Duration::from_secs(3);

/// How many answers to POSTs with an `Idempotency-Key` the sandbox keeps at
/// most unless told otherwise (see [`SandboxBuilder::idempotency_capacity`]).
pub const DEFAULT_IDEMPOTENCY_CAPACITY: usize = 1_000_000;

/// Builds a [`Sandbox`].
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    host: IpAddr,
    port: u16,
    clock: ClockMode,
    faults: Faults,
    seed: u64,
    rate_limit: Option<u32>,
    balance_minutes: f64,
    api_key: Option<String>,
    webhook_timeout: Duration,
    queue_time: Duration,
    webhook_payloads: WebhookPayloads,
    webhook_secret: Option<topcalls_api::webhooks::WebhookSecret>,
    read_timeouts: app::ReadTimeouts,
    idempotency_capacity: usize,
    seed_calls: usize,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            clock: ClockMode::default(),
            faults: Faults::default(),
            seed: 42,
            rate_limit: None,
            balance_minutes: 500.0,
            api_key: None,
            webhook_timeout: Duration::from_secs(5),
            queue_time: DEFAULT_QUEUE_TIME,
            webhook_payloads: WebhookPayloads::default(),
            webhook_secret: None,
            read_timeouts: app::ReadTimeouts {
                headers: Duration::from_secs(10),
                body: Duration::from_secs(30),
            },
            idempotency_capacity: DEFAULT_IDEMPOTENCY_CAPACITY,
            seed_calls: 0,
        }
    }
}

impl SandboxBuilder {
    /// The address to listen on: 127.0.0.1 by default; `0.0.0.0` (or `::`)
    /// listens on every interface, as in a container or a CI service.
    #[must_use]
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }
    /// The port to listen on (0 picks a free one, the default).
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    /// How sandbox time passes; default 120× real time.
    #[must_use]
    pub fn clock(mut self, clock: ClockMode) -> Self {
        self.clock = clock;
        self
    }
    /// Faults to inject from the start.
    #[must_use]
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
    /// The seed of the fault dice, for repeatable runs.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Requests per minute per key before 429 (off by default).
    #[must_use]
    pub fn rate_limit(mut self, per_minute: u32) -> Self {
        self.rate_limit = Some(per_minute);
        self
    }
    /// Call minutes each account starts with (default 500; kept within 0 to
    /// 10¹², NaN is 0, so that balances stay finite JSON numbers).
    #[must_use]
    pub fn balance_minutes(mut self, minutes: f64) -> Self {
        self.balance_minutes = if minutes.is_nan() {
            0.0
        } else {
            minutes.clamp(0.0, 1e12)
        };
        self
    }

    /// Use `key` as the full-scope key of the first account instead of a random one.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// How long (real time) a webhook receiver may take to answer before the
    /// attempt counts as failed and is retried on the schedule; default 5 s.
    #[must_use]
    pub fn webhook_timeout(mut self, timeout: Duration) -> Self {
        self.webhook_timeout = timeout;
        self
    }

    /// How long a new call stays `queued` (and can be cancelled) before it
    /// rings, in sandbox time; default [`DEFAULT_QUEUE_TIME`] (3 s). The
    /// binary waits 60 s, on a clock that runs in real time, so that the
    /// documented flows can be typed by hand.
    #[must_use]
    pub fn queue_time(mut self, queue_time: Duration) -> Self {
        self.queue_time = queue_time;
        self
    }

    /// The shape of webhook bodies: with `"event": "<name>"` (the default)
    /// or exactly as the TopCalls docs show them, without it.
    #[must_use]
    pub fn webhook_payloads(mut self, payloads: WebhookPayloads) -> Self {
        self.webhook_payloads = payloads;
        self
    }

    /// Sign the first account's webhook deliveries with `secret` instead of
    /// a random one (`topcalls webhooks trigger --secret`).
    #[must_use]
    pub fn webhook_secret(mut self, secret: topcalls_api::webhooks::WebhookSecret) -> Self {
        self.webhook_secret = Some(secret);
        self
    }

    /// How long a client may take to send a request's headers (default 10 s),
    /// counted from the moment the server waits for them: on a new
    /// connection, and on a keep-alive connection after each answer. A
    /// connection whose headers do not arrive in time is closed without an
    /// answer, so idle keep-alive connections close after this long too.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeouts.headers = timeout;
        self
    }

    /// How long a client may take to send a request's body once its headers
    /// arrived (default 30 s); then the answer is 408 Problem+JSON and the
    /// connection closes.
    #[must_use]
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeouts.body = timeout;
        self
    }

    /// How many answers to POSTs with an `Idempotency-Key` are kept at most
    /// (default [`DEFAULT_IDEMPOTENCY_CAPACITY`], at least 1).
    ///
    /// An answer is kept for 24 hours of sandbox time, and expired answers go
    /// as the clock moves, whether or not another POST arrives. On a clock
    /// that does not move (manual, or speed 0) nothing expires, so past this
    /// many the oldest answer is forgotten early, as if its 24 hours had
    /// passed: a retry with its key then runs again. This bounds the memory a
    /// long load test spends on answers (a few hundred bytes each).
    #[must_use]
    pub fn idempotency_capacity(mut self, answers: usize) -> Self {
        self.idempotency_capacity = answers.max(1);
        self
    }

    /// Starts with `count` finished calls in the first account, for load
    /// tests of lists and lookups at scale: created a second apart (the
    /// newest an hour before the sandbox starts), with a fixed mix of
    /// outcomes (one in ten busy, one in ten no answer, one in ten a carrier
    /// failure, one in ten voicemail, the rest answered by a person). They
    /// are written straight into the sandbox, without HTTP, bill no minutes
    /// and send no webhooks. Default 0.
    #[must_use]
    pub fn seed_calls(mut self, count: usize) -> Self {
        self.seed_calls = count;
        self
    }

    /// Binds the host and port and starts serving. An address in use is an
    /// error of kind [`std::io::ErrorKind::AddrInUse`].
    pub async fn start(self) -> std::io::Result<Sandbox> {
        let listener = TcpListener::bind((self.host, self.port)).await?;
        let address = listener.local_addr()?;
        let clock = clock::Clock::new(self.clock);
        let mut world = state::World {
            queue_time: chrono::Duration::from_std(self.queue_time)
                .unwrap_or(chrono::Duration::MAX),
            webhook_payloads: self.webhook_payloads,
            ..state::World::default()
        };
        let mut keys = seed::seed(&mut world, clock.now(), self.balance_minutes);
        if let Some(account) = world.accounts.first_mut() {
            seed::calls(account, self.seed_calls, clock.now());
        }
        if let Some(key) = self.api_key
            && let Some(seeded) = world.keys.remove(&keys.full)
        {
            world.keys.insert(key.clone(), seeded);
            keys.full = key;
        }
        // One signing secret per account, as each TopCalls account has its own.
        let mut given = self.webhook_secret;
        let webhook_secrets: Vec<_> = world
            .accounts
            .iter()
            .map(|_| {
                given
                    .take()
                    .unwrap_or_else(topcalls_api::webhooks::WebhookSecret::generate)
            })
            .collect();
        let app = Arc::new(App::new(
            world,
            clock,
            app::Settings {
                faults: self.faults,
                seed: self.seed,
                rate_limit: self.rate_limit,
                read_timeouts: self.read_timeouts,
                webhook_secrets,
                admin_key: keys.full.clone(),
                idempotency_capacity: self.idempotency_capacity,
            },
        ));
        let (stop, stopped) = watch::channel(false);
        if matches!(self.clock, ClockMode::Auto { .. }) {
            // Campaigns dispatch and calls finish even when nobody polls.
            let (app, mut stopped) = (app.clone(), stopped.clone());
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(50));
                loop {
                    tokio::select! {
                        _ = every.tick() => {
                            drop(app.world());
                            app.expire_answers();
                        }
                        _ = stopped.changed() => return,
                    }
                }
            });
        }
        tokio::spawn(delivery::deliver(
            app.clone(),
            self.webhook_timeout,
            stopped.clone(),
        ));
        let task = tokio::spawn(server::serve(
            listener,
            api::router(app.clone()),
            self.read_timeouts.headers,
            stopped,
        ));
        let webhook_secrets = app
            .webhook_secrets
            .iter()
            .map(topcalls_api::webhooks::WebhookSecret::as_str)
            .collect();
        // Listening everywhere, it is reached locally through the loopback address.
        let reachable = match address.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), address.port())
            }
            IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), address.port())
            }
            _ => address,
        };
        Ok(Sandbox {
            base_url: format!("http://{reachable}"),
            address,
            keys,
            app,
            stop,
            task: Some(task),
            webhook_secrets,
        })
    }
}

/// A running sandbox. It stops when dropped.
pub struct Sandbox {
    base_url: String,
    address: SocketAddr,
    keys: seed::SeedKeys,
    app: Arc<App>,
    stop: watch::Sender<bool>,
    /// The accept loop; `None` once shut down.
    task: Option<tokio::task::JoinHandle<()>>,
    /// Each account's webhook signing secret (`whsec_…`), by account index.
    webhook_secrets: Vec<String>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Starts a sandbox with the defaults on a free port.
    pub async fn start() -> std::io::Result<Sandbox> {
        Self::builder().start().await
    }

    /// A builder for port, clock, faults, rate limit, balance, queue time and
    /// webhook payload shape.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// `http://127.0.0.1:<port>` by default: the address it listens on,
    /// or the loopback address when it listens on every interface.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address it listens on (`0.0.0.0:8080` for `host(0.0.0.0)`).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// A key with every scope, for the first account.
    pub fn api_key(&self) -> &str {
        &self.keys.full
    }

    /// A read-only key (`calls:read`, `campaigns:read`, `phone_numbers:read`) of the first account.
    pub fn read_only_key(&self) -> &str {
        &self.keys.read_only
    }

    /// A key with every scope, for the second account.
    pub fn other_account_key(&self) -> &str {
        &self.keys.other_account
    }

    /// Moves the sandbox clock forward (on any clock; the only way on a manual one).
    /// Over HTTP, for the binary: `POST /_sandbox/advance` with `{"seconds": n}` and
    /// the full key (see the README).
    ///
    ///
    /// Time moves in steps of at most 5 s, with calls and campaigns brought
    /// up to date at each step, as if someone had been watching. Webhook
    /// deliveries that fall due are sent in the background: [`Sandbox::settle`]
    /// waits for them.
    pub fn advance(&self, by: Duration) {
        self.app.advance(by);
    }

    /// Waits until every webhook delivery due at the current sandbox time has
    /// been attempted and its outcome recorded in [`Sandbox::deliveries`].
    /// Over HTTP: `POST /_sandbox/settle` with the full key.
    ///
    /// A failed attempt's retry is due a fixed sandbox time after that attempt
    /// was sent (1 min, 5 min, 15 min, 1 h), however long its answer took. So
    /// on a manual clock a test of a receiver reads as a script, with no
    /// polling and no sleeps:
    ///
    /// ```no_run
    /// # async fn run(sandbox: topcalls_sandbox::Sandbox) {
    /// use std::time::Duration;
    /// // ... a call whose webhook answers 500 once, then 200 ...
    /// sandbox.settle().await; // the first attempt got its 500
    /// sandbox.advance(Duration::from_secs(59));
    /// sandbox.settle().await; // nothing due yet: returns at once
    /// sandbox.advance(Duration::from_secs(1));
    /// sandbox.settle().await; // the retry got its 200
    /// assert!(sandbox.deliveries()[0].delivered);
    /// # }
    /// ```
    ///
    /// An attempt ends when the receiver answers or after the webhook
    /// timeout ([`SandboxBuilder::webhook_timeout`]), so this returns even
    /// for a receiver that never answers. On an automatic clock it returns
    /// once nothing is due at the moment it looks.
    pub async fn settle(&self) {
        delivery::settle(&self.app).await;
    }

    /// Replaces the injected faults.
    pub fn set_faults(&self, faults: Faults) {
        *app::lock(&self.app.faults) = faults;
    }

    /// The secret the first account's webhook deliveries are signed with
    /// (`whsec_…`): those for calls and subscriptions made with
    /// [`api_key`](Self::api_key) or [`read_only_key`](Self::read_only_key).
    pub fn webhook_secret(&self) -> &str {
        self.webhook_secrets.first().map_or("", String::as_str)
    }

    /// The secret the second account's webhook deliveries are signed with
    /// (`whsec_…`, not the first account's): those for calls and
    /// subscriptions made with [`other_account_key`](Self::other_account_key).
    pub fn other_account_webhook_secret(&self) -> &str {
        self.webhook_secrets.get(1).map_or("", String::as_str)
    }

    /// Every webhook delivery so far, in the order queued, with its attempts.
    pub fn deliveries(&self) -> Vec<DeliveryInfo> {
        self.app
            .world()
            .deliveries
            .iter()
            .map(DeliveryInfo::from)
            .collect()
    }

    /// Waits until `done` holds for [`Sandbox::deliveries`], checking again
    /// each time an attempt's outcome is recorded, and returns them.
    ///
    /// For what [`Sandbox::settle`] cannot wait for, such as one receiver's
    /// outcome while another is still answering. It waits as long as it
    /// takes: `done` must become true once the attempts it needs are made.
    pub async fn wait_for_deliveries(
        &self,
        done: impl Fn(&[DeliveryInfo]) -> bool,
    ) -> Vec<DeliveryInfo> {
        delivery::wait_for(&self.app, done).await
    }

    /// The faults injected so far.
    pub fn injected_faults(&self) -> InjectedFaults {
        *app::lock(&self.app.injected)
    }

    /// How many calls exist, across all accounts.
    pub fn calls_count(&self) -> usize {
        self.app
            .world()
            .accounts
            .iter()
            .map(|a| a.calls.len())
            .sum()
    }

    /// How many answers to POSTs with an `Idempotency-Key` are kept now:
    /// those of the last 24 hours of sandbox time, at most
    /// [`SandboxBuilder::idempotency_capacity`].
    pub fn idempotent_answers(&self) -> usize {
        app::lock(&self.app.idempotency).answers()
    }

    /// Stops serving, closes open connections and stops webhook deliveries;
    /// returns once the port is released.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The README's code, compiled as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
