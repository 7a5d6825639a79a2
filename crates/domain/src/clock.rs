//! The source of the current time, injected so that tests control expiry and retain periods.

use std::fmt::Debug;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Timelike, Utc};

/// A point in time, always UTC and always truncated to whole microseconds, the precision that both
/// SQLite and PostgreSQL keep.
pub type Timestamp = DateTime<Utc>;

/// Truncates a time to whole microseconds (every request reads the clock, so this drops the
/// nanoseconds directly rather than through chrono's general `duration_trunc`).
pub fn truncate(t: Timestamp) -> Timestamp {
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
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

/// A unit of relative time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// `s`.
    Second,
    /// `m`.
    Minute,
    /// `h`.
    Hour,
    /// `d`.
    Day,
    /// `w`: seven days; aligned, weeks start on Monday.
    Week,
    /// `M`: calendar months.
    Month,
    /// `y`: calendar years.
    Year,
}

impl TimeUnit {
    fn parse(c: &str) -> Option<Self> {
        Some(match c {
            "s" => TimeUnit::Second,
            "m" => TimeUnit::Minute,
            "h" => TimeUnit::Hour,
            "d" => TimeUnit::Day,
            "w" => TimeUnit::Week,
            "M" => TimeUnit::Month,
            "y" => TimeUnit::Year,
            _ => return None,
        })
    }

    /// The most of this unit a relative time may span: about a hundred years.
    fn max_amount(self) -> i64 {
        match self {
            TimeUnit::Second => 100 * 366 * 86_400,
            TimeUnit::Minute => 100 * 366 * 1440,
            TimeUnit::Hour => 100 * 366 * 24,
            TimeUnit::Day => 100 * 366,
            TimeUnit::Week => 100 * 53,
            TimeUnit::Month => 1200,
            TimeUnit::Year => 100,
        }
    }

    /// `t` moved by `n` of this unit (backwards for negative `n`); `t` itself if that leaves the
    /// calendar, which the parse bounds rule out.
    fn shift(self, t: Timestamp, n: i64) -> Timestamp {
        let months = |m: i64| {
            let m = chrono::Months::new(u32::try_from(m.unsigned_abs()).unwrap_or(u32::MAX));
            if n < 0 { t.checked_sub_months(m) } else { t.checked_add_months(m) }
        };
        let moved = match self {
            TimeUnit::Second => t.checked_add_signed(Duration::seconds(n)),
            TimeUnit::Minute => t.checked_add_signed(Duration::minutes(n)),
            TimeUnit::Hour => t.checked_add_signed(Duration::hours(n)),
            TimeUnit::Day => t.checked_add_signed(Duration::days(n)),
            TimeUnit::Week => t.checked_add_signed(Duration::weeks(n)),
            TimeUnit::Month => months(n),
            TimeUnit::Year => months(n.saturating_mul(12)),
        };
        moved.unwrap_or(t)
    }

    /// `t` rounded down to the start of its unit (UTC).
    fn align(self, t: Timestamp) -> Timestamp {
        use chrono::{Datelike, Timelike};
        let day = t.date_naive();
        let midnight = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map(|n| n.and_utc());
        let aligned = match self {
            TimeUnit::Second => t.with_nanosecond(0),
            TimeUnit::Minute => t.with_nanosecond(0).and_then(|t| t.with_second(0)),
            TimeUnit::Hour => t.with_nanosecond(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_minute(0)),
            TimeUnit::Day => midnight(day),
            TimeUnit::Week => midnight(day - Duration::days(i64::from(day.weekday().num_days_from_monday()))),
            TimeUnit::Month => day.with_day(1).and_then(midnight),
            TimeUnit::Year => day.with_day(1).and_then(|d| d.with_month(1)).and_then(midnight),
        };
        aligned.unwrap_or(t)
    }
}

/// A time a list filter names: a fixed time, or one relative to now, such as `now-7d` (seven
/// days ago), `now+14d` or `now-1y/w` (a year ago, rounded down to the start of its week).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// A fixed time.
    At(Timestamp),
    /// `amount` units from now (negative: in the past), then rounded down to `align`.
    Relative {
        /// How many units, signed.
        amount: i64,
        /// The unit of `amount`.
        unit: TimeUnit,
        /// The unit to round down to, if any.
        align: Option<TimeUnit>,
    },
}

impl TimeBound {
    /// Parses a time bound: RFC 3339, or `now`, `now-NU`, `now+NU`, optionally followed by `/A`,
    /// with units `s`, `m`, `h`, `d`, `w`, `M` (months) and `y`; `field` names the input in errors.
    pub fn parse(s: &str, field: &str) -> Result<Self, crate::ValidationError> {
        let bad = || {
            crate::ValidationError::new(
                field,
                "must be an RFC 3339 time or relative to now, such as `now-7d` or `now-1y/w` \
                 (units s, m, h, d, w, M, y; `/unit` rounds down)",
            )
        };
        let Some(rest) = s.strip_prefix("now") else {
            return DateTime::parse_from_rfc3339(s)
                .map(|t| TimeBound::At(truncate(t.with_timezone(&Utc))))
                .map_err(|_| bad());
        };
        let (rest, align) = match rest.split_once('/') {
            Some((r, a)) => (r, Some(TimeUnit::parse(a).ok_or_else(bad)?)),
            None => (rest, None),
        };
        if rest.is_empty() {
            return Ok(TimeBound::Relative { amount: 0, unit: TimeUnit::Second, align });
        }
        let (sign, rest) = match rest.split_at(1) {
            ("-", r) => (-1, r),
            ("+", r) => (1, r),
            _ => return Err(bad()),
        };
        let (digits, unit) = rest.split_at(rest.len().saturating_sub(1));
        let unit = TimeUnit::parse(unit).ok_or_else(bad)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        if n > unit.max_amount() {
            return Err(bad());
        }
        Ok(TimeBound::Relative { amount: sign * n, unit, align })
    }

    /// The time this bound names, given the current time.
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            TimeBound::At(t) => t,
            TimeBound::Relative { amount, unit, align } => {
                let moved = unit.shift(now, amount);
                align.map_or(moved, |a| a.align(moved))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn truncation_drops_what_is_below_a_microsecond() {
        use chrono::DurationRound;
        let leap = Utc.with_ymd_and_hms(2016, 12, 31, 23, 59, 59).unwrap() + Duration::nanoseconds(1_999_999_999);
        let times = [
            Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap() + Duration::nanoseconds(123_456_789),
            Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap() + Duration::nanoseconds(999_999_999),
            Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap() + Duration::microseconds(7),
            leap,
        ];
        for t in times {
            assert_eq!(truncate(t), t.duration_trunc(Duration::microseconds(1)).unwrap(), "{t:?}");
        }
        assert_eq!(truncate(times[0]).nanosecond(), 123_456_000);
    }

    #[test]
    fn time_bounds_are_absolute_or_relative() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        assert_eq!(TimeBound::parse("now-7d", "from").unwrap().resolve(now), now - Duration::days(7));
        assert_eq!(TimeBound::parse("now", "from").unwrap().resolve(now), now);
        let abs = TimeBound::parse("2026-01-01T00:00:00+01:00", "from").unwrap().resolve(now);
        assert_eq!(abs, Utc.with_ymd_and_hms(2025, 12, 31, 23, 0, 0).unwrap());
        assert_eq!(TimeBound::parse("now+14d", "to").unwrap().resolve(now), now + Duration::days(14));
        assert_eq!(
            TimeBound::parse("now-1y/w", "from").unwrap().resolve(now),
            Utc.with_ymd_and_hms(2025, 3, 10, 0, 0, 0).unwrap(),
            "2025-03-10 is a Monday"
        );
        assert_eq!(
            TimeBound::parse("now-2M/M", "from").unwrap().resolve(now),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            TimeBound::parse("now/d", "from").unwrap().resolve(now),
            Utc.with_ymd_and_hms(2026, 3, 10, 0, 0, 0).unwrap()
        );
        assert_eq!(TimeBound::parse("now-90m", "from").unwrap().resolve(now), now - Duration::minutes(90));
        for bad in ["now*1d", "now-1q", "now-d", "now--1d", "now-1d/q", "yesterday", "now-99999999999w", "now-101y", ""]
        {
            assert!(TimeBound::parse(bad, "from").is_err(), "{bad}");
        }
    }
}
