//! Usage over time: hourly counts as stored, and the windows and series they are read back as.

use chrono::{DurationRound, TimeDelta};

use crate::id::ApiKeyId;
use crate::text::Name;
use crate::{Timestamp, ValidationError};

/// The most buckets one series may hold: 100 days of hours, or 2,400 days.
pub const MAX_BUCKETS: i64 = 2_400;

/// How many times one key was used, and refused, within one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyUse {
    /// The key.
    pub key: ApiKeyId,
    /// The start of the hour (UTC).
    pub hour: Timestamp,
    /// Successful uses.
    pub uses: u64,
    /// Refusals of a credential naming this key.
    pub refusals: u64,
}

/// The start of the UTC hour holding `t`.
pub fn hour_of(t: Timestamp) -> Timestamp {
    // Every counted use asks; whole seconds since the epoch are cheaper than `duration_trunc`.
    let seconds = t.timestamp();
    chrono::DateTime::from_timestamp(seconds - seconds.rem_euclid(3_600), 0).unwrap_or(t)
}

/// The width of a series' buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One bucket per UTC hour.
    Hour,
    /// One bucket per UTC day.
    Day,
}

impl Granularity {
    fn width(self) -> TimeDelta {
        match self {
            Granularity::Hour => TimeDelta::hours(1),
            Granularity::Day => TimeDelta::days(1),
        }
    }

    fn floor(self, t: Timestamp) -> Timestamp {
        t.duration_trunc(self.width()).unwrap_or(t)
    }
}

/// A span of time cut into buckets: `from` and `to` are aligned to the granularity (`from` down,
/// `to` up), `from` is before `to`, and there are at most [`MAX_BUCKETS`] buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageWindow {
    from: Timestamp,
    to: Timestamp,
    granularity: Granularity,
}

impl UsageWindow {
    /// The window from `from` to `to`, widened to whole buckets.
    pub fn new(from: Timestamp, to: Timestamp, granularity: Granularity) -> Result<Self, ValidationError> {
        if from >= to {
            return Err(ValidationError::new("from", "must be before `to`"));
        }
        let width = granularity.width();
        let start = granularity.floor(from);
        let mut end = granularity.floor(to);
        if end < to {
            end += width;
        }
        let buckets = (end - start).num_seconds() / width.num_seconds();
        if buckets > MAX_BUCKETS {
            return Err(ValidationError::new(
                "to",
                format!("spans {buckets} buckets; at most {MAX_BUCKETS} (use `granularity=day` for long spans)"),
            ));
        }
        Ok(Self { from: start, to: end, granularity })
    }

    /// The window from `from` through `now`: its last bucket is the one holding `now`, even when
    /// `now` falls exactly on a bucket's start.
    pub fn through(from: Timestamp, now: Timestamp, granularity: Granularity) -> Result<Self, ValidationError> {
        Self::new(from, now + TimeDelta::microseconds(1), granularity)
    }

    /// The last `days` days through `now`, by `granularity`.
    pub fn last_days(now: Timestamp, days: i64, granularity: Granularity) -> Self {
        Self::through(now - TimeDelta::days(days.clamp(1, 100)), now, granularity).unwrap_or(Self {
            from: granularity.floor(now),
            to: granularity.floor(now) + granularity.width(),
            granularity,
        })
    }

    /// The start of the first bucket.
    pub fn from(&self) -> Timestamp {
        self.from
    }

    /// The end of the last bucket (exclusive).
    pub fn to(&self) -> Timestamp {
        self.to
    }

    /// The width of the buckets.
    pub fn granularity(&self) -> Granularity {
        self.granularity
    }

    /// Sums hourly counts into this window's buckets; every bucket is present, empty ones as 0.
    /// Counts outside the window are ignored.
    pub fn series<'a>(&self, hourly: impl IntoIterator<Item = &'a HourlyUse>) -> UsageSeries {
        let width = self.granularity.width();
        let mut buckets = Vec::new();
        let mut start = self.from;
        while start < self.to {
            buckets.push(UsageBucket { start, uses: 0, refusals: 0 });
            start += width;
        }
        for h in hourly {
            if h.hour < self.from || h.hour >= self.to {
                continue;
            }
            let index = ((h.hour - self.from).num_seconds() / width.num_seconds()) as usize;
            if let Some(bucket) = buckets.get_mut(index) {
                bucket.uses = bucket.uses.saturating_add(h.uses);
                bucket.refusals = bucket.refusals.saturating_add(h.refusals);
            }
        }
        UsageSeries { window: *self, buckets }
    }
}

/// Uses and refusals within one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageBucket {
    /// The bucket's start.
    pub start: Timestamp,
    /// Successful uses.
    pub uses: u64,
    /// Refusals.
    pub refusals: u64,
}

/// Counts over a window, one bucket per hour or day, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSeries {
    /// The window the buckets cover.
    pub window: UsageWindow,
    /// The buckets, every one present.
    pub buckets: Vec<UsageBucket>,
}

impl UsageSeries {
    /// All uses in the window.
    pub fn uses(&self) -> u64 {
        self.buckets.iter().map(|b| b.uses).sum()
    }

    /// All refusals in the window.
    pub fn refusals(&self) -> u64 {
        self.buckets.iter().map(|b| b.refusals).sum()
    }
}

/// One key's share of a service account's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    /// The key.
    pub key_id: ApiKeyId,
    /// Its name.
    pub name: Name,
    /// Its uses in the window.
    pub uses: u64,
    /// Its refusals in the window.
    pub refusals: u64,
    /// When it was last used, ever (as of the last batch write).
    pub last_used_at: Option<Timestamp>,
}

/// A service account's usage: all its keys together, and each key's totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountUsage {
    /// All keys' counts, summed per bucket.
    pub series: UsageSeries,
    /// Each current key's totals over the window, most used first.
    pub keys: Vec<KeyUsage>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeededEntropy;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_hour_of_a_time_is_its_hour_start_as_duration_trunc_says() {
        let times = [
            Utc.with_ymd_and_hms(2026, 3, 10, 12, 34, 56).unwrap() + TimeDelta::microseconds(789),
            Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(1900, 1, 1, 0, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(2016, 12, 31, 23, 59, 59).unwrap() + TimeDelta::nanoseconds(1_500_000_000),
        ];
        for t in times {
            assert_eq!(hour_of(t), t.duration_trunc(TimeDelta::hours(1)).unwrap(), "{t:?}");
        }
    }

    fn at(day: u32, hour: u32, minute: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0).single().expect("a valid time")
    }

    #[test]
    fn a_window_is_widened_to_whole_buckets() {
        let w = UsageWindow::new(at(2, 10, 30), at(3, 9, 15), Granularity::Day).expect("valid");
        assert_eq!((w.from(), w.to()), (at(2, 0, 0), at(4, 0, 0)));
        let w = UsageWindow::new(at(2, 10, 30), at(2, 12, 0), Granularity::Hour).expect("valid");
        assert_eq!((w.from(), w.to()), (at(2, 10, 0), at(2, 12, 0)));
    }

    #[test]
    fn a_window_names_its_bad_field() {
        let e = UsageWindow::new(at(3, 0, 0), at(2, 0, 0), Granularity::Hour).expect_err("backwards");
        assert_eq!(e.field, "from");
        let e = UsageWindow::new(at(1, 0, 0) - TimeDelta::days(200), at(1, 0, 0), Granularity::Hour).expect_err("long");
        assert_eq!(e.field, "to");
        assert!(UsageWindow::new(at(1, 0, 0) - TimeDelta::days(200), at(1, 0, 0), Granularity::Day).is_ok());
    }

    #[test]
    fn hourly_counts_sum_into_days_and_empty_buckets_are_zero() {
        let key = ApiKeyId::generate(at(1, 0, 0), &SeededEntropy::new(3));
        let hourly = [
            HourlyUse { key, hour: at(2, 1, 0), uses: 5, refusals: 1 },
            HourlyUse { key, hour: at(2, 23, 0), uses: 7, refusals: 0 },
            HourlyUse { key, hour: at(4, 0, 0), uses: 100, refusals: 0 },
            HourlyUse { key, hour: at(1, 23, 0), uses: 100, refusals: 0 },
        ];
        let w = UsageWindow::new(at(2, 0, 0), at(4, 0, 0), Granularity::Day).expect("valid");
        let s = w.series(&hourly);
        let counts: Vec<_> = s.buckets.iter().map(|b| (b.start, b.uses, b.refusals)).collect();
        assert_eq!(counts, vec![(at(2, 0, 0), 12, 1), (at(3, 0, 0), 0, 0)]);
        assert_eq!((s.uses(), s.refusals()), (12, 1));
    }
}
