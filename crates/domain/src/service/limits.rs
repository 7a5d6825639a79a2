//! Usage limits at verify time: deciding a key's rate limits and uses left from the node's
//! ledger, the standalone limiter, and the flush that reconciles the ledger with other nodes.

use super::Keyward;
use super::reach::{Reach, Stop};
use crate::Timestamp;
use crate::ValidationError;
use crate::error::Error;
use crate::limits::{Bucket, LimitDecision, LimitName, LimitsVerdict, Plan, RateLimit, WindowLength, rate_bucket};
use crate::principal::{Permission, Principal};

/// How often a decision reloads buckets that vanished between loading and deciding (a window
/// that ended meanwhile) before it gives up.
const LOAD_ATTEMPTS: usize = 3;

/// A request to the standalone limiter: may `identifier` spend `cost` under `limit` per
/// `window`, counted in `namespace`?
#[derive(Debug, Clone)]
pub struct LimitRequest {
    /// Where the identifier is counted, such as `email.outbound`.
    pub namespace: LimitName,
    /// What is limited, such as a user id or an address: 1 to 256 characters.
    pub identifier: Identifier,
    /// The cost a window admits.
    pub limit: u64,
    /// The window's length.
    pub window: WindowLength,
    /// The cost of this request.
    pub cost: u64,
}

/// What the standalone limiter limits: 1 to 256 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier(String);

impl Identifier {
    /// Parses an identifier; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        if (1..=256).contains(&s.chars().count()) && !s.chars().any(char::is_control) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(field, "must be 1 to 256 characters, none of them control characters"))
        }
    }
}

impl Keyward {
    /// Decides `plan` on the ledger's counts, loading the buckets it lacks from storage when
    /// `reach` allows it.
    pub(super) fn decide_limits(&self, plan: &Plan<'_>, reach: Reach) -> Result<LimitsVerdict, Stop> {
        if plan.has_strict() && reach == Reach::Memory {
            return Err(Stop::NeedsStorage);
        }
        let (mut verdict, spent) = self.decide_in_memory(plan, reach)?;
        if !plan.has_strict() {
            return Ok(verdict);
        }
        // Strict limits after the others, so that a refusal in memory costs no database write.
        if verdict.outcome.is_ok() {
            let (admitted, counts) = self.repo.spend_strict(&plan.strict_spends())?;
            verdict.rate_limits.extend(plan.strict_answers(admitted, &counts));
            if !admitted {
                self.ledger.refund(&plan.buckets, &spent.unwrap_or_default());
                plan.refused_by_strict(&mut verdict);
            }
        } else {
            let strict: Vec<Bucket> = plan.strict_spends().into_iter().map(|s| s.bucket).collect();
            let stored = self.repo.spent(&strict)?;
            let counts: Vec<u64> =
                strict.iter().map(|b| stored.iter().find(|(s, _)| s == b).map_or(0, |(_, n)| *n)).collect();
            verdict.rate_limits.extend(plan.strict_answers(false, &counts));
        }
        Ok(verdict)
    }

    /// Decides the limits kept in memory, answering the verdict and what it spent.
    fn decide_in_memory(&self, plan: &Plan<'_>, reach: Reach) -> Result<(LimitsVerdict, Option<Vec<u64>>), Stop> {
        for _ in 0..LOAD_ATTEMPTS {
            let decided = self.ledger.decide(&plan.buckets, |counts| {
                let (verdict, spend) = plan.decide(counts);
                ((verdict, spend.clone()), spend)
            });
            match decided {
                Ok(decided) => return Ok(decided),
                Err(missing) => self.load_buckets(&missing, &plan.buckets, reach)?,
            }
        }
        Err(Stop::Failed(Error::Unavailable("usage counters kept expiring while they were read".to_owned())))
    }

    fn load_buckets(&self, missing: &[Bucket], wanted: &[(Bucket, Option<i64>)], reach: Reach) -> Result<(), Stop> {
        if reach == Reach::Memory {
            return Err(Stop::NeedsStorage);
        }
        let stored = self.repo.spent(missing)?;
        let counts = missing.iter().map(|bucket| {
            let spent = stored.iter().find(|(b, _)| b == bucket).map_or(0, |(_, n)| *n);
            let expires_at = wanted.iter().find(|(b, _)| b == bucket).and_then(|(_, e)| *e);
            (bucket.clone(), spent, expires_at)
        });
        self.ledger.load(counts);
        Ok(())
    }

    /// Asks the standalone limiter whether `request` fits, and spends its cost if it does. Needs
    /// `api-keys:verify`; each account counts its own namespaces.
    pub fn ratelimit(&self, p: &Principal, request: &LimitRequest) -> Result<LimitDecision, Error> {
        super::reach::with_storage(self.ratelimit_within(p, request, Reach::Storage))
    }

    /// The same from memory alone: `None` when a count must first be read from storage.
    pub fn ratelimit_from_memory(&self, p: &Principal, request: &LimitRequest) -> Option<Result<LimitDecision, Error>> {
        super::reach::from_memory(self.ratelimit_within(p, request, Reach::Memory))
    }

    fn ratelimit_within(&self, p: &Principal, request: &LimitRequest, reach: Reach) -> Result<LimitDecision, Stop> {
        p.require(Permission::ApiKeysVerify, p.account_id)?;
        if request.limit == 0 {
            return Err(Stop::Failed(ValidationError::new("limit", "must be 1 or more").into()));
        }
        let limit = RateLimit {
            name: request.namespace.clone(),
            limit: request.limit,
            window: request.window,
            auto_apply: true,
            strict: false,
        };
        let now = self.now().timestamp();
        let (bucket, expires_at) = rate_bucket(&format!("ns:{}", p.account_id), &limit, now);
        // The identifier goes last, so that any text it holds cannot pass for another bucket.
        let buckets = [(Bucket::new(format!("{}:{}", bucket.as_str(), request.identifier.0)), expires_at)];
        for _ in 0..LOAD_ATTEMPTS {
            let decided = self.ledger.decide(&buckets, |counts| {
                let count = crate::limits::WindowCount { window_start: limit.window_of(now), used: counts[0] };
                let decision = limit.judge(count, request.cost, now);
                (decision, decision.admitted.then(|| vec![request.cost]))
            });
            match decided {
                Ok(decision) => return Ok(decision),
                Err(missing) => self.load_buckets(&missing, &buckets, reach)?,
            }
        }
        Err(Stop::Failed(Error::Unavailable("usage counters kept expiring while they were read".to_owned())))
    }

    /// Adds what this node spent since the last flush to storage and reads back every node's
    /// counts of the buckets in use; answers how many buckets it wrote. On failure the spending
    /// is kept for the next flush.
    pub fn flush_limits(&self) -> Result<usize, Error> {
        let (spends, live) = self.ledger.take_unflushed(self.now().timestamp());
        if live.is_empty() {
            return Ok(0);
        }
        if let Err(e) = self.repo.add_spent(&spends) {
            self.ledger.restore();
            return Err(e.into());
        }
        match self.repo.spent(&live) {
            Ok(totals) => self.ledger.settle(totals),
            Err(e) => {
                self.ledger.settle([]);
                return Err(e.into());
            }
        }
        Ok(spends.len())
    }

    /// Forgets stored counters whose window or period ended before `now`.
    pub(super) fn forget_old_counters(&self, now: Timestamp) -> Result<u64, Error> {
        Ok(self.repo.forget_spent_before(now.timestamp())?)
    }
}
