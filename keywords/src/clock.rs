//! Where keywords read the time, so tests can control it.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current Unix time in seconds, with a fraction.
pub trait Clock: Send + Sync {
    fn now(&self) -> f64;
}

/// The machine's wall clock: TOTP codes are defined by it.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

/// A clock that starts at a chosen time and advances with tokio's clock,
/// so a test with paused time sees waits pass instantly and exactly.
pub struct TokioClock {
    start_unix: f64,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(start_unix: f64) -> TokioClock {
        TokioClock {
            start_unix,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> f64 {
        self.start_unix + self.start.elapsed().as_secs_f64()
    }
}
