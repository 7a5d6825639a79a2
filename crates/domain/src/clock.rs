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

/// A time given by a client, absolute (RFC 3339) or relative to now (`now`, `now-7d`, `now-12h`,
/// with units `s`, `m`, `h`, `d`, `w`), resolved against the clock when the request runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// A fixed time.
    At(Timestamp),
    /// This long before now.
    Ago(Duration),
}

impl TimeBound {
    /// Parses a time bound; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, crate::ValidationError> {
        let bad = || {
            crate::ValidationError::new(
                field,
                "must be an RFC 3339 time or relative to now, such as `now-7d` (units s, m, h, d, w)",
            )
        };
        if let Some(rest) = s.strip_prefix("now") {
            if rest.is_empty() {
                return Ok(TimeBound::Ago(Duration::zero()));
            }
            let rest = rest.strip_prefix('-').ok_or_else(bad)?;
            let (digits, unit) = rest.split_at(rest.len().saturating_sub(1));
            let n: i64 = digits.parse().map_err(|_| bad())?;
            let seconds = match unit {
                "s" => Some(n),
                "m" => n.checked_mul(60),
                "h" => n.checked_mul(3600),
                "d" => n.checked_mul(86_400),
                "w" => n.checked_mul(604_800),
                _ => None,
            };
            let seconds = seconds.filter(|s| (0..=100 * 366 * 86_400).contains(s)).ok_or_else(bad)?;
            return Ok(TimeBound::Ago(Duration::seconds(seconds)));
        }
        DateTime::parse_from_rfc3339(s).map(|t| TimeBound::At(truncate(t.with_timezone(&Utc)))).map_err(|_| bad())
    }

    /// The time this bound names, given the current time.
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            TimeBound::At(t) => t,
            TimeBound::Ago(d) => now - d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_bounds_are_absolute_or_relative() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        assert_eq!(TimeBound::parse("now-7d", "from").unwrap().resolve(now), now - Duration::days(7));
        assert_eq!(TimeBound::parse("now", "from").unwrap().resolve(now), now);
        let abs = TimeBound::parse("2026-01-01T00:00:00+01:00", "from").unwrap().resolve(now);
        assert_eq!(abs, Utc.with_ymd_and_hms(2025, 12, 31, 23, 0, 0).unwrap());
        for bad in ["now+1d", "now-1y", "now-d", "yesterday", "now-99999999999w", ""] {
            assert!(TimeBound::parse(bad, "from").is_err(), "{bad}");
        }
    }
}
