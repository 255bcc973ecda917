//! What the routes, the gates and the delivery loop share: the world
//! behind its lock, the clock, faults, the idempotency store and the
//! delivery signals; and the caller a request's key names.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::clock::Clock;
use crate::faults::{Faults, InjectedFaults};
use crate::problem::ApiProblem;
use crate::state::{Scope, World};

/// How long a client may take to send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadTimeouts {
    /// From the moment the server waits for a request (a new connection, or
    /// an idle keep-alive one) to the end of its headers; then the
    /// connection is closed without an answer.
    pub(crate) headers: Duration,
    /// From the end of the headers to the end of the body; then the answer
    /// is 408 with `Connection: close`.
    pub(crate) body: Duration,
}

/// Everything the handlers share.
pub(crate) struct App {
    pub(crate) world: Mutex<World>,
    pub(crate) clock: Clock,
    pub(crate) faults: Mutex<Faults>,
    rng: Mutex<u64>,
    pub(crate) idempotency: Mutex<Remembered>,
    pub(crate) rate_limit: Option<u32>,
    pub(crate) rate: Mutex<HashMap<String, (Instant, u32)>>,
    pub(crate) injected: Mutex<InjectedFaults>,
    /// Between the webhook delivery loop and those who wait for it.
    pub(crate) deliveries: Signals,
    pub(crate) read_timeouts: ReadTimeouts,
    /// The secret each account's webhook deliveries are signed with, by account index.
    pub(crate) webhook_secrets: Vec<topcalls_api::webhooks::WebhookSecret>,
    /// The first account's full key: the only one `/_sandbox` answers.
    pub(crate) admin_key: String,
}

/// What [`App::new`] needs besides the world.
pub(crate) struct Settings {
    /// The most idempotent answers kept at once (see [`Remembered`]).
    pub(crate) idempotency_capacity: usize,
    pub(crate) faults: Faults,
    pub(crate) seed: u64,
    pub(crate) rate_limit: Option<u32>,
    pub(crate) read_timeouts: ReadTimeouts,
    pub(crate) webhook_secrets: Vec<topcalls_api::webhooks::WebhookSecret>,
    pub(crate) admin_key: String,
}

impl App {
    pub(crate) fn new(world: World, clock: Clock, settings: Settings) -> Self {
        Self {
            world: Mutex::new(world),
            clock,
            faults: Mutex::new(settings.faults),
            rng: Mutex::new(settings.seed.max(1)),
            idempotency: Mutex::new(Remembered::new(settings.idempotency_capacity)),
            rate_limit: settings.rate_limit,
            rate: Mutex::new(HashMap::new()),
            injected: Mutex::new(InjectedFaults::default()),
            deliveries: Signals::default(),
            read_timeouts: settings.read_timeouts,
            webhook_secrets: settings.webhook_secrets,
            admin_key: settings.admin_key,
        }
    }

    /// Moves the sandbox clock forward in steps of at most 5 s, bringing
    /// calls and campaigns up to date at each step, then wakes the webhook
    /// delivery loop for what fell due.
    pub(crate) fn advance(&self, by: Duration) {
        let step = Duration::from_secs(5);
        let mut left = by;
        while !left.is_zero() {
            let now = left.min(step);
            self.clock.advance(now);
            drop(self.world());
            left -= now;
        }
        self.expire_answers();
        self.deliveries.wake();
    }

    /// Forgets idempotent answers whose window has passed at the current sandbox time.
    pub(crate) fn expire_answers(&self) {
        let now = self.clock.now();
        lock(&self.idempotency).expire(now);
    }

    /// The world, moved forward to the current sandbox time.
    pub(crate) fn world(&self) -> std::sync::MutexGuard<'_, World> {
        let mut world = lock(&self.world);
        let now = self.clock.now();
        // Ticking looks at the calls due for a change: at most every 250 ms of
        // sandbox time (2 ms of real time at the default speed).
        if world
            .last_tick
            .is_none_or(|last| now - last >= chrono::Duration::milliseconds(250))
        {
            world.tick(now);
        }
        world
    }

    /// A deterministic number in [0, 1) (xorshift64*, seeded).
    pub(crate) fn random(&self) -> f64 {
        let mut state = lock(&self.rng);
        let mut x = *state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The caller, from its API key.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) account: usize,
    pub(crate) key_id: String,
    pub(crate) scopes: Vec<Scope>,
}

impl Caller {
    /// 403 unless the key has `scope`.
    pub(crate) fn require(&self, scope: Scope) -> Result<(), ApiProblem> {
        if scope == Scope::Any || self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiProblem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("This API key does not have the {} scope.", scope.name()),
            ))
        }
    }
}

/// What the delivery loop and `Sandbox::settle` tell each other.
#[derive(Debug)]
pub(crate) struct Signals {
    /// Wakes the delivery loop: the clock moved or someone waits for it.
    pub(crate) wake: tokio::sync::Notify,
    /// Bumped each time an attempt's outcome is recorded.
    pub(crate) recorded: tokio::sync::watch::Sender<u64>,
}

impl Default for Signals {
    fn default() -> Self {
        Self {
            wake: tokio::sync::Notify::new(),
            recorded: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Signals {
    /// Asks the delivery loop to look for due deliveries now.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }
}

/// How long an answer to a POST with an `Idempotency-Key` is kept (sandbox time).
pub(crate) const IDEMPOTENCY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The account and `Idempotency-Key` a POST was sent with.
///
/// Keys are scoped to the account, not to the API key: any key of the
/// account that may run the operation gets the replay. That is safe because
/// every request — a replay included — is authenticated and authorized
/// (401, 403) before its slot is looked up, and a refused request stores
/// nothing: a key without the operation's scope can neither read another
/// key's answer nor plant one.
pub(crate) type Slot = (usize, Box<str>);

/// What a request was, to tell a retry from another request with the same
/// key: a SHA-256 of its path and its body (as canonical JSON, so spacing and
/// member order do not matter, when the body is JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub(crate) fn of(path: &str, body: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(path.as_bytes());
        // Serializing a `Value` cannot fail; the raw bytes are the fallback all the same.
        match serde_json::from_slice::<Value>(body).map(|value| serde_json::to_vec(&value)) {
            Ok(Ok(canonical)) => {
                hash.update([0, b'j']);
                hash.update(canonical);
            }
            _ => {
                hash.update([0, b'r']);
                hash.update(body);
            }
        }
        Self(hash.finalize().into())
    }
}

/// An answer to replay: a few hundred bytes, not a copy of what it created.
#[derive(Debug, Clone)]
pub(crate) struct Answered {
    pub(crate) status: StatusCode,
    pub(crate) headers: Box<[(HeaderName, HeaderValue)]>,
    pub(crate) body: Bytes,
}

/// One remembered POST: what it was, and what it answered.
#[derive(Debug, Clone)]
pub(crate) enum Stored {
    InProgress {
        fingerprint: Fingerprint,
    },
    Done {
        fingerprint: Fingerprint,
        at: DateTime<Utc>,
        answer: Answered,
    },
}

/// Remembered POSTs, and the order their answers expire in.
///
/// The rule: an answer is kept for [`IDEMPOTENCY_WINDOW`] of sandbox time
/// from when it was given. Expired answers are dropped on every keyed POST
/// and on every move of the clock (each sandbox clock tick on an automatic
/// clock, each `advance`), so they go whether or not another POST arrives.
/// On a clock that barely moves (`--speed 0`, a manual clock nobody
/// advances) the window never passes, so at most `capacity` answers are
/// kept: past that the oldest is forgotten early, as if its window had
/// passed. Memory for answers is thus bounded by `capacity` × a few hundred
/// bytes.
#[derive(Debug)]
pub(crate) struct Remembered {
    slots: HashMap<Slot, Stored>,
    /// Answers by the time they were stored, oldest first (sandbox time only moves forward).
    expiry: VecDeque<(DateTime<Utc>, Slot)>,
    capacity: usize,
}

impl Remembered {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: HashMap::new(),
            expiry: VecDeque::new(),
            capacity,
        }
    }

    /// Forgets answers older than the window at `now`.
    pub(crate) fn expire(&mut self, now: DateTime<Utc>) {
        while let Some((at, _)) = self.expiry.front()
            && now - *at >= IDEMPOTENCY_WINDOW
        {
            self.forget_oldest();
        }
    }

    /// Forgets the oldest answer.
    fn forget_oldest(&mut self) {
        let Some((at, slot)) = self.expiry.pop_front() else {
            return;
        };
        // The slot may have been reused since; only drop the answer stored then.
        if matches!(self.slots.get(&slot), Some(Stored::Done { at: stored, .. }) if *stored == at) {
            self.slots.remove(&slot);
        }
    }

    pub(crate) fn get(&self, slot: &Slot) -> Option<&Stored> {
        self.slots.get(slot)
    }

    /// Marks `slot` as taken by a request that is running.
    pub(crate) fn claim(&mut self, slot: Slot, fingerprint: Fingerprint) {
        self.slots.insert(slot, Stored::InProgress { fingerprint });
    }

    /// Frees `slot`: its request took no effect.
    pub(crate) fn release(&mut self, slot: &Slot) {
        self.slots.remove(slot);
    }

    /// Keeps the answer a request got at `at`, forgetting the oldest past the capacity.
    pub(crate) fn keep(
        &mut self,
        slot: Slot,
        fingerprint: Fingerprint,
        at: DateTime<Utc>,
        answer: Answered,
    ) {
        self.expiry.push_back((at, slot.clone()));
        self.slots.insert(
            slot,
            Stored::Done {
                fingerprint,
                at,
                answer,
            },
        );
        while self.expiry.len() > self.capacity {
            self.forget_oldest();
        }
    }

    /// How many answers are kept.
    pub(crate) fn answers(&self) -> usize {
        self.expiry.len()
    }
}
