//! A count of uses left, spent by cost and refilled on a calendar.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};

use crate::{Timestamp, ValidationError};

/// When uses left are refilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefillInterval {
    /// Every day at 00:00 UTC.
    Daily,
    /// Every month on `day` (1 to 31) at 00:00 UTC; in a month without that day, on its last day.
    Monthly {
        /// The day of the month.
        day: u32,
    },
}

impl RefillInterval {
    /// A monthly refill on `day`; `field` names the input in the error.
    pub fn monthly(day: u32, field: &str) -> Result<Self, ValidationError> {
        if (1..=31).contains(&day) {
            Ok(RefillInterval::Monthly { day })
        } else {
            Err(ValidationError::new(field, "must be a day of the month from 1 to 31"))
        }
    }

    /// The latest refill instant at or before `now`.
    pub fn last_boundary(self, now: Timestamp) -> Timestamp {
        let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN));
        match self {
            RefillInterval::Daily => midnight(now.date_naive()),
            RefillInterval::Monthly { day } => {
                let this_month = month_day(now.year(), now.month(), day);
                if midnight(this_month) <= now {
                    midnight(this_month)
                } else {
                    let (year, month) =
                        if now.month() == 1 { (now.year() - 1, 12) } else { (now.year(), now.month() - 1) };
                    midnight(month_day(year, month, day))
                }
            }
        }
    }
}

/// `day` of the month, or the month's last day if it has fewer.
fn month_day(year: i32, month: u32, day: u32) -> NaiveDate {
    (1..=day).rev().find_map(|d| NaiveDate::from_ymd_opt(year, month, d)).unwrap_or(NaiveDate::MIN)
}

/// A refill: at each boundary of `interval`, uses left become `amount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refill {
    /// What uses left are set to.
    pub amount: u64,
    /// When.
    pub interval: RefillInterval,
}

/// Uses left on a key: `amount` set at `set_at`, and refilled by `refill`.
///
/// The count itself is not kept here: what was spent is counted per [`Period`] (from `set_at`, or
/// from the latest refill after it), so that nodes add up what each spent and a period's count
/// only grows. Uses left are the period's allowance less what was spent in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    /// Uses left when they were set.
    pub amount: u64,
    /// When they were set (by creating the key or by a change of `remaining`).
    pub set_at: Timestamp,
    /// The refill, if any.
    pub refill: Option<Refill>,
}

/// Uses left as a caller sets them: how many, and the refill. They count from when they are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemainingSetting {
    /// Uses left from now.
    pub uses: u64,
    /// The refill, if any.
    pub refill: Option<Refill>,
}

impl RemainingSetting {
    /// The uses left this sets at `now`.
    pub fn at(self, now: Timestamp) -> Remaining {
        Remaining::new(self.uses, self.refill, now)
    }
}

/// A stretch of time whose spending is counted together: from when uses left were set or last
/// refilled, with what it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// When it started.
    pub start: Timestamp,
    /// The uses it allows.
    pub allowance: u64,
}

/// There is not enough left for a request's cost; nothing was spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted {
    /// What is left.
    pub left: u64,
}

impl Remaining {
    /// `amount` uses, refilled by `refill`, set at `now`.
    pub fn new(amount: u64, refill: Option<Refill>, now: Timestamp) -> Self {
        Self { amount, set_at: now, refill }
    }

    /// The period that holds `now`: from the latest refill boundary if one has passed since the
    /// uses were set, else from when they were set.
    pub fn period(&self, now: Timestamp) -> Period {
        match self.refill {
            Some(refill) => {
                let boundary = refill.interval.last_boundary(now);
                if boundary > self.set_at {
                    Period { start: boundary, allowance: refill.amount }
                } else {
                    Period { start: self.set_at, allowance: self.amount }
                }
            }
            None => Period { start: self.set_at, allowance: self.amount },
        }
    }

    /// Uses left at `now`, when `spent` was spent in the period that holds it.
    pub fn left(&self, spent: u64, now: Timestamp) -> u64 {
        self.period(now).allowance.saturating_sub(spent)
    }

    /// Whether `cost` fits at `now` after `spent` in the current period: the uses left after it,
    /// or [`Exhausted`] when fewer than `cost` are left (and then nothing is to be spent).
    pub fn judge(&self, spent: u64, cost: u64, now: Timestamp) -> Result<u64, Exhausted> {
        let left = self.left(spent, now);
        if cost > left { Err(Exhausted { left }) } else { Ok(left - cost) }
    }

    /// When the next refill happens after `now`, if there is a refill.
    pub fn next_refill(&self, now: Timestamp) -> Option<Timestamp> {
        let interval = self.refill?.interval;
        // The next boundary is the last one as seen from just past the following one: step
        // forward a day at a time (at most 31 steps) until the last boundary moves.
        let last = interval.last_boundary(now);
        (1..=31).map(|d| last + Duration::days(d)).find(|t| interval.last_boundary(*t) > last)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).single().unwrap_or_default()
    }

    /// What one node does with a key's uses left: counts what was spent per period.
    struct Ledger {
        remaining: Remaining,
        spent: std::collections::BTreeMap<Timestamp, u64>,
    }

    impl Ledger {
        fn new(remaining: Remaining) -> Self {
            Self { remaining, spent: Default::default() }
        }

        fn spend(&mut self, cost: u64, now: Timestamp) -> Result<u64, Exhausted> {
            let period = self.remaining.period(now).start;
            let spent = self.spent.get(&period).copied().unwrap_or(0);
            let left = self.remaining.judge(spent, cost, now)?;
            self.spent.insert(period, spent + cost);
            Ok(left)
        }
    }

    #[test]
    fn a_daily_refill_happens_at_midnight_utc_exactly() {
        let refill = Refill { amount: 100, interval: RefillInterval::Daily };
        let mut r = Ledger::new(Remaining::new(100, Some(refill), at(2026, 6, 1, 9)));
        assert_eq!(r.spend(60, at(2026, 6, 1, 10)), Ok(40));
        assert_eq!(r.spend(50, at(2026, 6, 1, 23)), Err(Exhausted { left: 40 }), "nothing spent");
        let last_second = at(2026, 6, 2, 0) - Duration::seconds(1);
        assert_eq!(r.spend(0, last_second), Ok(40), "not a second early");
        assert_eq!(r.spend(50, at(2026, 6, 2, 0)), Ok(50), "refilled to the amount at 00:00");
        assert_eq!(r.spend(10, at(2026, 6, 2, 12)), Ok(40), "once per boundary");
        assert_eq!(r.remaining.next_refill(at(2026, 6, 2, 12)), Some(at(2026, 6, 3, 0)));
    }

    #[test]
    fn a_monthly_refill_on_the_31st_falls_on_a_shorter_months_last_day() {
        let interval = RefillInterval::monthly(31, "day").unwrap_or(RefillInterval::Daily);
        assert_eq!(interval.last_boundary(at(2026, 2, 27, 12)), at(2026, 1, 31, 0));
        assert_eq!(interval.last_boundary(at(2026, 2, 28, 0)), at(2026, 2, 28, 0));
        assert_eq!(interval.last_boundary(at(2026, 3, 15, 0)), at(2026, 2, 28, 0));
        assert_eq!(interval.last_boundary(at(2028, 2, 29, 1)), at(2028, 2, 29, 0), "a leap year");
        assert_eq!(interval.last_boundary(at(2026, 1, 5, 0)), at(2025, 12, 31, 0), "across a year");
        let mut r = Ledger::new(Remaining::new(0, Some(Refill { amount: 7, interval }), at(2026, 2, 1, 0)));
        assert_eq!(r.spend(1, at(2026, 2, 27, 23)), Err(Exhausted { left: 0 }));
        assert_eq!(r.spend(1, at(2026, 2, 28, 0)), Ok(6));
        assert_eq!(r.remaining.next_refill(at(2026, 2, 28, 0)), Some(at(2026, 3, 31, 0)));
        assert!(RefillInterval::monthly(0, "day").is_err() && RefillInterval::monthly(32, "day").is_err());
    }

    #[test]
    fn without_a_refill_uses_run_out_for_good() {
        let mut r = Ledger::new(Remaining::new(2, None, at(2026, 6, 1, 0)));
        assert_eq!(r.spend(2, at(2026, 6, 1, 0)), Ok(0));
        assert_eq!(r.spend(1, at(2030, 1, 1, 0)), Err(Exhausted { left: 0 }));
        assert_eq!(r.remaining.next_refill(at(2030, 1, 1, 0)), None);
    }

    #[test]
    fn setting_uses_left_again_starts_a_period_of_its_own() {
        let refill = Some(Refill { amount: 5, interval: RefillInterval::Daily });
        let first = Remaining::new(3, refill, at(2026, 6, 1, 9));
        let again = Remaining::new(10, refill, at(2026, 6, 1, 12));
        assert_ne!(first.period(at(2026, 6, 1, 13)).start, again.period(at(2026, 6, 1, 13)).start);
        assert_eq!(again.left(0, at(2026, 6, 1, 13)), 10);
        assert_eq!(again.period(at(2026, 6, 2, 0)), Period { start: at(2026, 6, 2, 0), allowance: 5 });
    }

    proptest! {
        /// Whatever is spent and whenever, uses left never go below zero, a refused spend changes
        /// nothing, and an admitted one takes exactly its cost from its period's allowance.
        #[test]
        fn uses_left_never_go_below_zero(
            start in 0u64..50,
            amount in 0u64..50,
            monthly in proptest::option::of(1u32..=31),
            spends in proptest::collection::vec((0i64..3_000_000, 0u64..30), 1..100),
        ) {
            let interval = monthly.map_or(RefillInterval::Daily, |day| RefillInterval::Monthly { day });
            let origin = at(2026, 1, 1, 0);
            let mut r = Ledger::new(Remaining::new(start, Some(Refill { amount, interval }), origin));
            let mut spends = spends;
            spends.sort_by_key(|(t, _)| *t);
            for (t, cost) in spends {
                let now = origin + Duration::seconds(t);
                let before = r.spent.clone();
                let period = r.remaining.period(now);
                let spent_before = before.get(&period.start).copied().unwrap_or(0);
                match r.spend(cost, now) {
                    Ok(left) => {
                        prop_assert_eq!(left, period.allowance - spent_before - cost);
                        prop_assert!(r.spent[&period.start] <= period.allowance);
                    }
                    Err(Exhausted { left }) => {
                        prop_assert!(cost > left);
                        prop_assert_eq!(&r.spent, &before, "a refused spend changes nothing");
                    }
                }
            }
        }
    }
}
