//! Faults the sandbox injects into `/v1` requests, to test clients, and
//! the count of those injected.

use std::time::Duration;

/// Faults injected into `/v1` requests, to test clients.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// Added to every request.
    pub latency: Duration,
    /// Share of requests answered 503 before taking effect (0–1).
    pub share_503: f64,
    /// Share of requests answered 429 before taking effect (0–1).
    pub share_429: f64,
    /// The wait those 429s ask for: exact in `retry-after-ms`, rounded up to
    /// whole seconds (at least 1) in `Retry-After`.
    pub retry_after: Duration,
    /// Share of requests whose connection is dropped after they took effect,
    /// so the client never sees the answer (0–1).
    pub share_drop_after_effect: f64,
}

/// How many faults the sandbox has injected so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InjectedFaults {
    /// Requests held back by [`Faults::latency`].
    pub delayed: u64,
    /// Requests answered 503.
    pub unavailable: u64,
    /// Requests answered 429.
    pub throttled: u64,
    /// Connections dropped after the request took effect.
    pub dropped: u64,
}
