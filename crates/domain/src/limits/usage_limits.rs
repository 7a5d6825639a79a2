//! The limits a key carries (rate limits, uses left, permissions) and the one decision a
//! verification asks of them, given the counts its buckets hold.

use super::ledger::{Bucket, StrictSpend};
use super::permission::{PermissionQuery, Permissions};
use super::rate_limit::{Applied, LimitDecision, LimitName, RateLimit, WindowCount, decide_all};
use std::collections::BTreeSet;

use super::remaining::{Remaining, RemainingSetting};
use super::role::{MAX_ROLES_PER_KEY, RoleName};
use crate::{Timestamp, ValidationError};

/// The most rate limits one key carries.
pub const MAX_RATE_LIMITS: usize = 16;
/// The most permissions one key carries.
pub const MAX_PERMISSIONS: usize = 100;

/// What a key may use: named rate limits, a count of uses left, and permissions. Empty (the
/// default) limits nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageLimits {
    /// Its rate limits, names unique.
    pub rate_limits: Vec<RateLimit>,
    /// Its uses left, if counted.
    pub remaining: Option<Remaining>,
    /// Its permissions.
    pub permissions: Permissions,
    /// The roles whose permissions it holds too, by name.
    pub roles: BTreeSet<RoleName>,
}

impl UsageLimits {
    /// Whether it limits nothing.
    pub fn is_empty(&self) -> bool {
        self.rate_limits.is_empty() && self.remaining.is_none() && self.permissions.is_empty() && self.roles.is_empty()
    }

    /// Checks roles: at most [`MAX_ROLES_PER_KEY`].
    pub fn check_roles(roles: &BTreeSet<RoleName>) -> Result<(), ValidationError> {
        if roles.len() > MAX_ROLES_PER_KEY {
            return Err(ValidationError::new("roles", "a key carries at most 16 roles"));
        }
        Ok(())
    }

    /// Checks rate limits: at most [`MAX_RATE_LIMITS`], each admitting 1 or more, names unique.
    pub fn check_rate_limits(limits: &[RateLimit]) -> Result<(), ValidationError> {
        if let Some(i) = limits.iter().position(|l| l.limit == 0) {
            return Err(ValidationError::new(format!("rate_limits[{i}].limit"), "must be 1 or more"));
        }
        if limits.len() > MAX_RATE_LIMITS {
            return Err(ValidationError::new("rate_limits", "a key carries at most 16 rate limits"));
        }
        let mut names: Vec<&str> = limits.iter().map(|l| l.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(ValidationError::new("rate_limits", "each rate limit's name must be unique on its key"));
        }
        Ok(())
    }

    /// Checks permissions: at most [`MAX_PERMISSIONS`].
    pub fn check_permissions(permissions: &Permissions) -> Result<(), ValidationError> {
        if permissions.len() > MAX_PERMISSIONS {
            return Err(ValidationError::new("permissions", "a key carries at most 100 permissions"));
        }
        Ok(())
    }
}

/// A key's limits as a caller sets them when it creates the key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitSettings {
    /// Its rate limits.
    pub rate_limits: Vec<RateLimit>,
    /// Its uses left, if counted.
    pub remaining: Option<RemainingSetting>,
    /// Its permissions.
    pub permissions: Permissions,
    /// Its roles.
    pub roles: BTreeSet<RoleName>,
}

impl LimitSettings {
    /// The limits these set at `now`, checked.
    pub fn at(self, now: Timestamp) -> Result<UsageLimits, ValidationError> {
        UsageLimits::check_rate_limits(&self.rate_limits)?;
        UsageLimits::check_permissions(&self.permissions)?;
        UsageLimits::check_roles(&self.roles)?;
        Ok(UsageLimits {
            rate_limits: self.rate_limits,
            remaining: self.remaining.map(|r| r.at(now)),
            permissions: self.permissions,
            roles: self.roles,
        })
    }
}

/// What a verification asks of a key's limits.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// The rate limits to apply and at what cost; `None` applies those marked `auto_apply`, at
    /// cost 1.
    pub rate_limits: Option<Vec<(LimitName, u64)>>,
    /// What it spends of the uses left (1 if not given).
    pub cost: Option<u64>,
    /// The permissions it needs.
    pub permissions: Option<PermissionQuery>,
}

/// Why the rate limits or uses left refused a verification (permissions are checked before, by
/// [`PermissionQuery::check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitRefusal {
    /// A rate limit's window has no room for the cost.
    RateLimited,
    /// Fewer uses are left than the cost.
    UsageExceeded,
}

/// One rate limit's answer to a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitAnswer {
    /// The limit's name.
    pub name: LimitName,
    /// Its answer.
    pub decision: LimitDecision,
}

/// What the limits answered a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsVerdict {
    /// `Ok` when every limit admits it.
    pub outcome: Result<(), LimitRefusal>,
    /// Each applied rate limit's answer, in the order applied.
    pub rate_limits: Vec<RateLimitAnswer>,
    /// Uses left after it, when the key counts them.
    pub remaining: Option<u64>,
}

/// The limits a verification applies, with their buckets at `now`: what [`Plan::decide`] needs
/// counted. A verification may answer to several owners' limits: the key's own, and those its
/// service account shares among its keys.
#[derive(Debug)]
pub struct Plan<'a> {
    applied: Vec<(&'a RateLimit, u64)>,
    strict: Vec<(&'a RateLimit, u64, Bucket, Option<i64>)>,
    remainders: Vec<&'a Remaining>,
    cost: u64,
    now: Timestamp,
    /// The buckets to count: the applied rate limits first, then each owner's uses left; each
    /// with its expiry.
    pub buckets: Vec<(Bucket, Option<i64>)>,
}

/// The bucket of a rate limit of `owner` (such as `key:<id>`) in the window holding `now`.
pub fn rate_bucket(owner: &str, limit: &RateLimit, now: i64) -> (Bucket, Option<i64>) {
    let start = limit.window_of(now);
    let name = format!("rate:{owner}:{}:{}:{start}", limit.name.as_str(), limit.window.seconds());
    (Bucket::new(name), Some(start + limit.window.seconds()))
}

/// The bucket of the uses left of `owner` in the period holding `now`.
pub fn remaining_bucket(owner: &str, remaining: &Remaining, now: Timestamp) -> (Bucket, Option<i64>) {
    let period = remaining.period(now);
    let name = format!("left:{owner}:{}", period.start.timestamp_micros());
    (Bucket::new(name), remaining.next_refill(now).map(|t| t.timestamp()))
}

impl<'a> Plan<'a> {
    /// What `ask` applies of the limits of `owners` (each named, such as `key:<id>`), at `now`.
    /// A named limit applies wherever an owner has one of that name; a name no owner has is
    /// refused, naming the field.
    pub fn new(owners: &[(&str, &'a UsageLimits)], ask: &Ask, now: Timestamp) -> Result<Self, ValidationError> {
        let secs = now.timestamp();
        let mut applied: Vec<(&RateLimit, u64)> = Vec::new();
        let mut strict = Vec::new();
        let mut buckets: Vec<(Bucket, Option<i64>)> = Vec::new();
        let mut apply = |owner: &str, limit: &'a RateLimit, cost: u64| {
            let (bucket, expires_at) = rate_bucket(owner, limit, secs);
            if limit.strict {
                strict.push((limit, cost, bucket, expires_at));
            } else {
                buckets.push((bucket, expires_at));
                applied.push((limit, cost));
            }
        };
        match &ask.rate_limits {
            None => {
                for (owner, limits) in owners {
                    limits.rate_limits.iter().filter(|l| l.auto_apply).for_each(|l| apply(owner, l, 1));
                }
            }
            Some(named) => {
                for (i, (name, cost)) in named.iter().enumerate() {
                    let mut found = false;
                    for (owner, limits) in owners {
                        if let Some(l) = limits.rate_limits.iter().find(|l| &l.name == name) {
                            apply(owner, l, *cost);
                            found = true;
                        }
                    }
                    if !found {
                        return Err(ValidationError::new(
                            format!("ratelimits[{i}].name"),
                            format!("the key has no rate limit named {}", name.as_str()),
                        ));
                    }
                }
            }
        }
        let mut remainders = Vec::new();
        for (owner, limits) in owners {
            if let Some(remaining) = &limits.remaining {
                buckets.push(remaining_bucket(owner, remaining, now));
                remainders.push(remaining);
            }
        }
        Ok(Self { applied, strict, remainders, cost: ask.cost.unwrap_or(1), now, buckets })
    }

    /// Whether nothing is counted: no rate limit applies and no uses are counted.
    pub fn counts_nothing(&self) -> bool {
        self.buckets.is_empty() && self.strict.is_empty()
    }

    /// Whether a strict limit applies: then the decision needs the database.
    pub fn has_strict(&self) -> bool {
        !self.strict.is_empty()
    }

    /// What the strict limits ask of the database: each bucket's cost, within its limit.
    pub fn strict_spends(&self) -> Vec<StrictSpend> {
        self.strict
            .iter()
            .map(|(l, cost, bucket, expires_at)| StrictSpend {
                bucket: bucket.clone(),
                cost: *cost,
                limit: l.limit,
                expires_at: *expires_at,
            })
            .collect()
    }

    /// The strict limits' answers, from the database's counts: after spending if `admitted`,
    /// else as they stand.
    pub fn strict_answers(&self, admitted: bool, counts: &[u64]) -> Vec<RateLimitAnswer> {
        let secs = self.now.timestamp();
        self.strict
            .iter()
            .zip(counts.iter().chain(std::iter::repeat(&0)))
            .map(|((l, cost, ..), count)| RateLimitAnswer {
                name: l.name.clone(),
                decision: LimitDecision {
                    admitted: admitted || count.saturating_add(*cost) <= l.limit,
                    limit: l.limit,
                    remaining: l.limit.saturating_sub(*count),
                    reset_at: l.window_of(secs) + l.window.seconds(),
                },
            })
            .collect()
    }

    /// A verification the memory admitted was refused by a strict limit: what it spent in
    /// memory is given back (see [`super::Ledger::refund`]), and its answer says so.
    pub fn refused_by_strict(&self, verdict: &mut LimitsVerdict) {
        verdict.outcome = Err(LimitRefusal::RateLimited);
        for (answer, (l, cost)) in verdict.rate_limits.iter_mut().zip(&self.applied) {
            answer.decision.remaining = answer.decision.remaining.saturating_add(*cost).min(l.limit);
        }
        if !self.remainders.is_empty() {
            verdict.remaining = verdict.remaining.map(|r| r.saturating_add(self.cost));
        }
    }

    /// Decides on the counts of [`Plan::buckets`], in order: admitted only if every rate limit
    /// and every count of uses left admit the cost, and then what to add to each bucket;
    /// refused, and nothing to add, otherwise.
    pub fn decide(&self, counts: &[u64]) -> (LimitsVerdict, Option<Vec<u64>>) {
        let secs = self.now.timestamp();
        let (rate_counts, left_counts) = counts.split_at(self.applied.len().min(counts.len()));
        let mut windows: Vec<WindowCount> = self
            .applied
            .iter()
            .zip(rate_counts)
            .map(|((l, _), used)| WindowCount { window_start: l.window_of(secs), used: *used })
            .collect();
        let mut applied: Vec<Applied<'_>> = self
            .applied
            .iter()
            .zip(windows.iter_mut())
            .map(|((limit, cost), count)| Applied { limit, count, cost: *cost })
            .collect();
        let (rates_admit, decisions) = decide_all(&mut applied, secs);
        let lefts: Vec<_> = self
            .remainders
            .iter()
            .zip(left_counts.iter().chain(std::iter::repeat(&0)))
            .map(|(r, spent)| (r.left(*spent, self.now), r.judge(*spent, self.cost, self.now)))
            .collect();
        let left_admits = lefts.iter().all(|(_, judged)| judged.is_ok());
        let admitted = rates_admit && left_admits;
        // A refusal by either spends nothing on the other: the answers then show what is left
        // without this request.
        let rate_limits = self
            .applied
            .iter()
            .zip(decisions)
            .zip(rate_counts)
            .map(|(((l, _), d), used)| RateLimitAnswer {
                name: l.name.clone(),
                decision: if admitted {
                    d
                } else {
                    let current = l.current(WindowCount { window_start: l.window_of(secs), used: *used }, secs);
                    LimitDecision { remaining: l.limit.saturating_sub(current.used), ..d }
                },
            })
            .collect();
        // The uses left that bind: the fewest of any owner's.
        let remaining = lefts
            .iter()
            .map(|(before, judged)| match judged {
                Ok(after) if admitted => *after,
                _ => *before,
            })
            .min();
        let outcome = if !rates_admit {
            Err(LimitRefusal::RateLimited)
        } else if !left_admits {
            Err(LimitRefusal::UsageExceeded)
        } else {
            Ok(())
        };
        let spend = admitted.then(|| {
            let rates = self.applied.iter().map(|(_, cost)| *cost);
            rates.chain(self.remainders.iter().map(|_| self.cost)).collect()
        });
        (LimitsVerdict { outcome, rate_limits, remaining }, spend)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::limits::rate_limit::WindowLength;

    fn limit(name: &str, limit: u64, window: i64, auto_apply: bool) -> RateLimit {
        RateLimit {
            name: LimitName::parse(name, "name").unwrap_or_else(|e| panic!("{e}")),
            limit,
            window: WindowLength::parse(window, "window").unwrap_or_else(|e| panic!("{e}")),
            auto_apply,
            strict: false,
        }
    }

    fn now() -> Timestamp {
        Utc.timestamp_opt(1_800_000_030, 0).single().unwrap_or_default()
    }

    fn limits() -> UsageLimits {
        UsageLimits {
            rate_limits: vec![limit("second", 2, 1, true), limit("tokens", 100, 60, false)],
            remaining: Some(Remaining::new(5, None, now())),
            permissions: Permissions::new(),
            roles: BTreeSet::new(),
        }
    }

    #[test]
    fn by_default_the_auto_applied_limits_and_one_use_are_counted() {
        let l = limits();
        let plan = Plan::new(&[("key:k", &l)], &Ask::default(), now()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.buckets.len(), 2, "the per-second limit and the uses left");
        assert_eq!(plan.buckets[0].0.as_str(), "rate:key:k:second:1:1800000030");
        let (verdict, spend) = plan.decide(&[1, 3]);
        assert_eq!(verdict.outcome, Ok(()));
        assert_eq!(verdict.remaining, Some(1));
        assert_eq!(verdict.rate_limits[0].decision.remaining, 0);
        assert_eq!(spend, Some(vec![1, 1]));
    }

    #[test]
    fn a_refusal_by_one_spends_nothing_on_the_other() {
        let l = limits();
        let plan = Plan::new(&[("key:k", &l)], &Ask::default(), now()).unwrap_or_else(|e| panic!("{e}"));
        let (verdict, spend) = plan.decide(&[2, 0]);
        assert_eq!(verdict.outcome, Err(LimitRefusal::RateLimited));
        assert_eq!((spend, verdict.remaining), (None, Some(5)));
        let (verdict, spend) = plan.decide(&[0, 5]);
        assert_eq!(verdict.outcome, Err(LimitRefusal::UsageExceeded));
        assert_eq!(verdict.rate_limits[0].decision.remaining, 2, "nothing spent on the rate limit");
        assert_eq!(spend, None);
    }

    #[test]
    fn named_limits_apply_at_their_cost_and_an_unknown_name_is_refused() {
        let l = limits();
        let tokens = LimitName::parse("tokens", "n").unwrap_or_else(|e| panic!("{e}"));
        let ask = Ask { rate_limits: Some(vec![(tokens, 40)]), cost: Some(0), permissions: None };
        let plan = Plan::new(&[("key:k", &l)], &ask, now()).unwrap_or_else(|e| panic!("{e}"));
        let (verdict, spend) = plan.decide(&[70, 5]);
        assert_eq!(verdict.outcome, Err(LimitRefusal::RateLimited), "70 + 40 > 100");
        assert_eq!(spend, None);
        let (verdict, spend) = plan.decide(&[60, 5]);
        assert_eq!((verdict.outcome, spend), (Ok(()), Some(vec![40, 0])), "a cost of 0 spends no use");
        let other = LimitName::parse("nope", "n").unwrap_or_else(|e| panic!("{e}"));
        let ask = Ask { rate_limits: Some(vec![(other, 1)]), ..Ask::default() };
        let refused = Plan::new(&[("key:k", &l)], &ask, now()).map(|_| ()).expect_err("unknown");
        assert_eq!(refused.field, "ratelimits[0].name");
    }

    #[test]
    fn a_service_accounts_shared_limits_count_beside_the_keys_own() {
        let key = limits();
        let shared = UsageLimits {
            rate_limits: vec![limit("second", 5, 1, true)],
            remaining: Some(Remaining::new(2, None, now())),
            permissions: Permissions::new(),
            roles: BTreeSet::new(),
        };
        let plan =
            Plan::new(&[("key:k", &key), ("sa:s", &shared)], &Ask::default(), now()).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = plan.buckets.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(
            names,
            [
                "rate:key:k:second:1:1800000030",
                "rate:sa:s:second:1:1800000030",
                "left:key:k:1800000030000000",
                "left:sa:s:1800000030000000"
            ]
        );
        let (verdict, spend) = plan.decide(&[0, 0, 0, 1]);
        assert_eq!((verdict.outcome, verdict.remaining), (Ok(()), Some(0)), "the fewest uses left bind");
        assert_eq!(spend, Some(vec![1, 1, 1, 1]));
        let (verdict, spend) = plan.decide(&[0, 0, 0, 2]);
        assert_eq!((verdict.outcome, spend), (Err(LimitRefusal::UsageExceeded), None), "the shared uses ran out");
        let tokens = LimitName::parse("tokens", "n").unwrap_or_else(|e| panic!("{e}"));
        let ask = Ask { rate_limits: Some(vec![(tokens, 3)]), ..Ask::default() };
        let plan = Plan::new(&[("key:k", &key), ("sa:s", &shared)], &ask, now()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.buckets.len(), 3, "a name only the key has applies to the key alone");
    }

    #[test]
    fn names_on_a_key_are_unique_and_counted() {
        let twice = vec![limit("a", 1, 1, true), limit("a", 2, 2, true)];
        assert!(UsageLimits::check_rate_limits(&twice).is_err());
        let refused = UsageLimits::check_rate_limits(&[limit("a", 1, 1, true), limit("b", 0, 1, true)]);
        assert_eq!(refused.map_err(|e| e.field), Err("rate_limits[1].limit".to_owned()), "a limit admits 1 or more");
        let many: Vec<RateLimit> = (0..17).map(|i| limit(&format!("l{i}"), 1, 1, true)).collect();
        assert!(UsageLimits::check_rate_limits(&many).is_err());
        assert!(UsageLimits::check_rate_limits(&many[..16]).is_ok());
    }
}
