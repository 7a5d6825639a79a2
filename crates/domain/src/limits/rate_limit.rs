//! Named rate limits counted in fixed windows, and the all-or-nothing decision over several.

use crate::ValidationError;

/// The name of a rate limit on a key: 1 to 64 characters from `[A-Za-z0-9._:-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LimitName(String);

/// Checks the name of a limit, a namespace or a role: 1 to 64 characters from `[A-Za-z0-9._:-]`;
/// `field` names the input in the error.
pub(crate) fn checked_name(s: &str, field: &str) -> Result<String, ValidationError> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(ValidationError::new(field, "must be 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', ':' and '-'"))
    }
}

impl LimitName {
    /// Parses a name; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        checked_name(s, field).map(Self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a rate limit's window is: 1 second to 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WindowLength(i64);

impl WindowLength {
    /// The longest window: 30 days.
    pub const MAX_SECONDS: i64 = 30 * 86_400;

    /// Parses a length in seconds; `field` names the input in the error.
    pub fn parse(seconds: i64, field: &str) -> Result<Self, ValidationError> {
        if (1..=Self::MAX_SECONDS).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(ValidationError::new(field, "must be from 1 to 2592000 seconds (30 days)"))
        }
    }

    /// The length in seconds.
    pub fn seconds(self) -> i64 {
        self.0
    }
}

/// A named limit: at most `limit` units of cost in each fixed window of `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Its name, unique on its key.
    pub name: LimitName,
    /// The cost a window admits, 1 or more.
    pub limit: u64,
    /// The window's length.
    pub window: WindowLength,
    /// Whether a verification that names no limits applies this one (at cost 1).
    pub auto_apply: bool,
    /// Whether it is decided in the database, exactly across nodes, instead of from each node's
    /// memory (one database write per verification that applies it).
    pub strict: bool,
}

/// What one limit has admitted in its current window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowCount {
    /// The start of the window counted, seconds since the Unix epoch.
    pub window_start: i64,
    /// The cost admitted in it.
    pub used: u64,
}

/// What a limit answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitDecision {
    /// Whether the request's cost fits in the window.
    pub admitted: bool,
    /// The limit.
    pub limit: u64,
    /// The cost the window still admits after this request.
    pub remaining: u64,
    /// When the window ends and a new one starts, seconds since the Unix epoch.
    pub reset_at: i64,
}

impl RateLimit {
    /// The start of the window that holds `now` (seconds since the Unix epoch).
    pub fn window_of(&self, now: i64) -> i64 {
        now.div_euclid(self.window.0) * self.window.0
    }

    /// The count as of `now`: `count` if it is of the current window, else an empty one.
    pub fn current(&self, count: WindowCount, now: i64) -> WindowCount {
        let start = self.window_of(now);
        if count.window_start == start { count } else { WindowCount { window_start: start, used: 0 } }
    }

    /// Whether `cost` fits at `now` after `count`, without spending it.
    pub fn judge(&self, count: WindowCount, cost: u64, now: i64) -> LimitDecision {
        let count = self.current(count, now);
        let admitted = count.used.checked_add(cost).is_some_and(|total| total <= self.limit);
        let used = if admitted { count.used + cost } else { count.used };
        LimitDecision {
            admitted,
            limit: self.limit,
            remaining: self.limit.saturating_sub(used),
            reset_at: count.window_start + self.window.0,
        }
    }
}

/// One limit applied to a verification: the limit, its count (updated in place when the
/// verification is admitted) and the cost asked of it.
#[derive(Debug)]
pub struct Applied<'a> {
    /// The limit.
    pub limit: &'a RateLimit,
    /// Its count, as kept between requests.
    pub count: &'a mut WindowCount,
    /// The cost this verification asks of it.
    pub cost: u64,
}

/// Decides a verification under several limits at `now`: admitted only if every limit admits its
/// cost, and then every count is spent; refused if any does not, and then no count changes.
/// Returns whether it was admitted and each limit's answer, in order.
pub fn decide_all(applied: &mut [Applied<'_>], now: i64) -> (bool, Vec<LimitDecision>) {
    let decisions: Vec<LimitDecision> = applied.iter().map(|a| a.limit.judge(*a.count, a.cost, now)).collect();
    let admitted = decisions.iter().all(|d| d.admitted);
    if admitted {
        for a in applied.iter_mut() {
            let mut count = a.limit.current(*a.count, now);
            count.used += a.cost;
            *a.count = count;
        }
    }
    // A refused verification spends nothing: each answer then shows what is left without it.
    let decisions = if admitted {
        decisions
    } else {
        applied
            .iter()
            .zip(decisions)
            .map(|(a, d)| LimitDecision {
                remaining: a.limit.limit.saturating_sub(a.limit.current(*a.count, now).used),
                ..d
            })
            .collect()
    };
    (admitted, decisions)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn limit(limit: u64, window: i64) -> RateLimit {
        RateLimit {
            name: LimitName::parse("requests", "name").unwrap_or_else(|e| panic!("{e}")),
            limit,
            window: WindowLength::parse(window, "window").unwrap_or_else(|e| panic!("{e}")),
            auto_apply: true,
            strict: false,
        }
    }

    #[test]
    fn a_window_admits_its_limit_then_refuses_until_it_ends() {
        let l = limit(3, 60);
        let mut count = WindowCount::default();
        let at = 1_800_000_000; // A whole minute.
        for expected_left in [2, 1, 0] {
            let (ok, d) = decide_all(&mut [Applied { limit: &l, count: &mut count, cost: 1 }], at + 10);
            assert!(ok);
            assert_eq!((d[0].remaining, d[0].reset_at), (expected_left, at + 60));
        }
        let (ok, d) = decide_all(&mut [Applied { limit: &l, count: &mut count, cost: 1 }], at + 59);
        assert!(!ok && !d[0].admitted);
        assert_eq!(count.used, 3, "a refusal spends nothing");
        let (ok, _) = decide_all(&mut [Applied { limit: &l, count: &mut count, cost: 1 }], at + 60);
        assert!(ok, "a new window starts at its edge");
    }

    #[test]
    fn one_refusing_limit_spends_nothing_on_the_others() {
        let (per_second, per_minute) = (limit(10, 1), limit(2, 60));
        let (mut a, mut b) = (WindowCount::default(), WindowCount::default());
        let now = 1_800_000_000;
        for _ in 0..2 {
            let applied = &mut [
                Applied { limit: &per_second, count: &mut a, cost: 1 },
                Applied { limit: &per_minute, count: &mut b, cost: 1 },
            ];
            assert!(decide_all(applied, now).0);
        }
        let applied = &mut [
            Applied { limit: &per_second, count: &mut a, cost: 1 },
            Applied { limit: &per_minute, count: &mut b, cost: 1 },
        ];
        let (ok, d) = decide_all(applied, now);
        assert!(!ok);
        assert_eq!((d[0].admitted, d[0].remaining), (true, 8), "the per-second limit would have admitted it");
        assert_eq!((d[1].admitted, d[1].remaining), (false, 0));
        assert_eq!((a.used, b.used), (2, 2));
    }

    #[test]
    fn a_cost_of_zero_asks_without_spending_and_a_huge_cost_never_overflows() {
        let l = limit(5, 10);
        let mut count = WindowCount { window_start: 0, used: 5 };
        let (ok, d) = decide_all(&mut [Applied { limit: &l, count: &mut count, cost: 0 }], 3);
        assert!(ok && d[0].remaining == 0);
        let (ok, _) = decide_all(&mut [Applied { limit: &l, count: &mut count, cost: u64::MAX }], 3);
        assert!(!ok);
    }

    proptest! {
        /// Whatever the requests (times in any order within a few windows, costs from 0 to a bit
        /// over the limit), the cost admitted in any one window never exceeds the limit.
        #[test]
        fn no_window_ever_admits_more_than_its_limit(
            limit_value in 1u64..20,
            window in 1i64..120,
            mut requests in proptest::collection::vec((0i64..600, 0u64..25), 1..200),
        ) {
            let l = limit(limit_value, window);
            requests.sort_by_key(|(t, _)| *t);
            let mut count = WindowCount::default();
            let mut admitted_per_window = std::collections::BTreeMap::<i64, u64>::new();
            for (t, cost) in requests {
                let (ok, _) = decide_all(&mut [Applied { limit: &l, count: &mut count, cost }], t);
                if ok {
                    *admitted_per_window.entry(l.window_of(t)).or_default() += cost;
                }
            }
            for (start, admitted) in admitted_per_window {
                prop_assert!(admitted <= limit_value, "window {} admitted {} > {}", start, admitted, limit_value);
            }
        }
    }
}
