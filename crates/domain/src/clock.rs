//! The source of the current time, injected so that tests control expiry and retain periods.

use std::fmt::Debug;
use std::sync::Mutex;

use chrono::{DateTime, Duration, DurationRound, Utc};

/// A point in time, always UTC and always truncated to whole microseconds, the precision that both
/// SQLite and PostgreSQL keep.
pub type Timestamp = DateTime<Utc>;

/// Truncates a time to whole microseconds.
pub fn truncate(t: Timestamp) -> Timestamp {
    t.duration_trunc(Duration::microseconds(1)).unwrap_or(t)
}

/// Tells the current time.
pub trait Clock: Send + Sync + Debug {
    /// The current time, truncated to microseconds.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        truncate(Utc::now())
    }
}

/// A clock that only moves when told to; for tests of expiry and retain periods.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self { now: Mutex::new(truncate(start)) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = truncate(*now + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
