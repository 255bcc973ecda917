//! The sandbox clock: real time sped up (calls finish in about a second), or
//! a manual clock that only moves when a test calls `advance`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// How sandbox time passes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockMode {
    /// Sandbox time runs `speed` times faster than real time.
    Auto {
        /// How many sandbox seconds pass per real second.
        speed: f64,
    },
    /// Sandbox time moves only through [`crate::Sandbox::advance`].
    Manual,
}

impl Default for ClockMode {
    /// 120× real time: a typical sandbox call (90 s) takes under a second.
    fn default() -> Self {
        ClockMode::Auto { speed: 120.0 }
    }
}

#[derive(Debug)]
pub(crate) struct Clock {
    mode: ClockMode,
    started: Instant,
    base: DateTime<Utc>,
    offset: Mutex<Duration>,
}

impl Clock {
    pub(crate) fn new(mode: ClockMode) -> Self {
        Self {
            mode,
            started: Instant::now(),
            base: Utc::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// The current sandbox time.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let offset = *self
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let running = match self.mode {
            ClockMode::Auto { speed } => self.started.elapsed().mul_f64(speed.max(0.0)),
            ClockMode::Manual => Duration::ZERO,
        };
        let elapsed = chrono::Duration::from_std(running + offset).unwrap_or(chrono::Duration::MAX);
        self.base + elapsed
    }

    pub(crate) fn advance(&self, by: Duration) {
        *self
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += by;
    }
}
