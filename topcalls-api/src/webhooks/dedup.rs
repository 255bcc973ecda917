//! Handling a retried delivery once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Remembers delivery ids so that a retried delivery is handled once.
///
/// Holds the most recent `capacity` ids, each for at most the time to live
/// when one is set. Thread-safe: share it behind an `Arc`.
///
/// ```
/// use topcalls_api::webhooks::Deduplicator;
/// use std::time::Duration;
///
/// let seen = Deduplicator::new(10_000).ttl(Duration::from_secs(24 * 3600));
/// assert!(seen.first_seen("msg_1"));
/// assert!(!seen.first_seen("msg_1"));
/// ```
#[derive(Debug)]
pub struct Deduplicator {
    capacity: usize,
    ttl: Option<Duration>,
    pub(super) seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
pub(super) struct Seen {
    next: u64,
    /// id → (insertion number, when).
    pub(super) ids: HashMap<String, (u64, Instant)>,
    /// In insertion order; an entry whose number no longer matches `ids` is stale.
    pub(super) order: VecDeque<(u64, Instant, String)>,
}

impl Seen {
    /// Drops the oldest entry; stale ones are dropped on the way.
    fn pop_oldest(&mut self) {
        if let Some((n, _, id)) = self.order.pop_front()
            && self.ids.get(&id).is_some_and(|&(current, _)| current == n)
        {
            self.ids.remove(&id);
        }
    }

    /// Drops every stale entry of `order`.
    fn compact(&mut self) {
        let ids = &self.ids;
        self.order
            .retain(|(n, _, id)| ids.get(id).is_some_and(|&(current, _)| current == *n));
    }
}

impl Default for Deduplicator {
    /// Remembers the last 10,000 ids, with no time to live.
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl Deduplicator {
    /// Remembers up to `capacity` ids (at least 1), with no time to live.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            ttl: None,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Forgets an id once it is older than `ttl`. TopCalls retries a delivery
    /// for about 1 h 20 min, so a day is plenty.
    #[must_use]
    pub fn ttl(self, ttl: Duration) -> Self {
        Self {
            ttl: Some(ttl),
            ..self
        }
    }

    /// `true` the first time `id` is seen, `false` for a repeat.
    pub fn first_seen(&self, id: &str) -> bool {
        self.first_seen_at(id, Instant::now())
    }

    /// [`Deduplicator::first_seen`] as of `now`.
    pub fn first_seen_at(&self, id: &str, now: Instant) -> bool {
        let expired = |at: Instant| {
            self.ttl
                .is_some_and(|ttl| now.saturating_duration_since(at) >= ttl)
        };
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        while seen.order.front().is_some_and(|&(_, at, _)| expired(at)) {
            seen.pop_oldest();
        }
        if seen.ids.get(id).is_some_and(|&(_, at)| !expired(at)) {
            return false;
        }
        let n = seen.next;
        seen.next += 1;
        seen.ids.insert(id.to_string(), (n, now));
        seen.order.push_back((n, now, id.to_string()));
        while seen.ids.len() > self.capacity {
            seen.pop_oldest();
        }
        if seen.order.len() > self.capacity.saturating_mul(2) {
            seen.compact();
        }
        true
    }

    /// Forgets `id`, so that its next delivery counts as the first: call it
    /// when handling a delivery failed and you answer with an error to get
    /// the retry.
    pub fn forget(&self, id: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.ids.remove(id);
    }
}
