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
        /// How many sandbox seconds pass per real second, from 0 to
        /// [`ClockMode::MAX_SPEED`] (values outside are clamped; NaN is 1).
        speed: f64,
    },
    /// Sandbox time moves only through [`crate::Sandbox::advance`].
    Manual,
}

impl ClockMode {
    /// The fastest automatic clock: a real day is 27 sandbox years, and sandbox
    /// timestamps stay far from the end of the calendar.
    pub const MAX_SPEED: f64 = 10_000.0;
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
            ClockMode::Auto { speed } => {
                let speed = if speed.is_nan() { 1.0 } else { speed };
                self.started
                    .elapsed()
                    .mul_f64(speed.clamp(0.0, ClockMode::MAX_SPEED))
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_speed_gives_a_time() {
        for speed in [f64::INFINITY, f64::NAN, -5.0, 1e300] {
            let clock = Clock::new(ClockMode::Auto { speed });
            std::thread::sleep(Duration::from_millis(2));
            let now = clock.now();
            // However long the machine stalled, time ran at most MAX_SPEED fast.
            let real = clock.started.elapsed();
            assert!(now >= clock.base, "{speed}");
            let ran = (now - clock.base).to_std().unwrap_or(Duration::MAX);
            assert!(ran <= real.mul_f64(ClockMode::MAX_SPEED), "{speed}");
        }
    }

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = Clock::new(ClockMode::Manual);
        let before = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(clock.now(), before);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now() - before, chrono::Duration::seconds(90));
    }
}
