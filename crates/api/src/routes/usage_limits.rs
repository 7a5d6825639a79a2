//! The wire form of an API key's usage limits (rate limits, uses left, permissions), in key
//! bodies and in the requests that set them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use domain::ValidationError;
use domain::limits::{
    LimitName, LimitSettings, Permission, Permissions, RateLimit, Refill, RefillInterval, Remaining, RemainingSetting,
    RoleName, UsageLimits, WindowLength,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A named rate limit: at most `limit` units of cost in each fixed window of `window_seconds`,
/// aligned to the Unix epoch (a 60 s window starts at every whole minute).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitBody {
    /// 1 to 64 characters from `[A-Za-z0-9._:-]`, unique on the key.
    #[schema(example = "requests", pattern = "^[A-Za-z0-9._:-]{1,64}$")]
    pub name: String,
    /// The cost a window admits, 1 or more.
    #[serde(deserialize_with = "web::whole_number::unsigned")]
    #[schema(minimum = 1, example = 100)]
    pub limit: u64,
    /// The window's length, 1 to 2592000 seconds (30 days).
    #[serde(deserialize_with = "web::whole_number::required")]
    #[schema(minimum = 1, maximum = 2_592_000, example = 60)]
    pub window_seconds: i64,
    /// Whether a verification that names no rate limits applies this one, at cost 1 (default
    /// `true`).
    #[serde(default = "yes")]
    pub auto_apply: bool,
    /// Whether it is decided in the database, exact across nodes, at one database write per
    /// verification that applies it, instead of from each node's memory (default `false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
}

fn yes() -> bool {
    true
}

/// A day of the month as a whole number (`3.0` too); its range is checked when it is read.
fn day<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let day = web::whole_number::optional_unsigned(d)?;
    day.map(|n| u32::try_from(n).map_err(|_| serde::de::Error::custom("must be a day of the month from 1 to 31")))
        .transpose()
}

/// When uses left are refilled.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IntervalBody {
    /// Every day at 00:00 UTC.
    Daily,
    /// Every month on `day` at 00:00 UTC (the month's last day when it has no such day).
    Monthly,
}

/// A refill: at each boundary, uses left become `amount`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefillBody {
    /// What uses left are set to.
    #[serde(deserialize_with = "web::whole_number::unsigned")]
    #[schema(minimum = 0)]
    pub amount: u64,
    /// `daily` or `monthly`.
    pub interval: IntervalBody,
    /// For `monthly`: the day of the month, 1 to 31 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "day")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 31)]
    pub day: Option<u32>,
}

/// Uses left as set: how many from now, and the refill.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRemaining {
    /// Uses left from now; each verification spends its `cost` (default 1).
    #[serde(deserialize_with = "web::whole_number::unsigned")]
    #[schema(minimum = 0, example = 1000)]
    pub uses: u64,
    /// The refill, if any.
    #[serde(default)]
    pub refill: Option<RefillBody>,
}

/// A key's uses left as set. What is left now is in each verification's answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RemainingBody {
    /// The uses it was given when set.
    pub uses: u64,
    /// When they were set: verifications since have spent from them (until the next refill).
    #[serde(serialize_with = "web::answer::time")]
    pub set_at: DateTime<Utc>,
    /// The refill, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refill: Option<RefillBody>,
}

/// A key's limits as written in its body: each absent when the key has none.
#[derive(Debug, Clone, Default)]
pub struct LimitsBody {
    /// Its rate limits.
    pub rate_limits: Vec<RateLimitBody>,
    /// Its uses left as set.
    pub remaining: Option<RemainingBody>,
    /// Its permissions.
    pub permissions: Vec<String>,
    /// Its roles, by name.
    pub roles: Vec<String>,
}

impl LimitsBody {
    /// The wire form of `limits`.
    pub fn new(limits: &UsageLimits) -> Self {
        if limits.is_empty() {
            return Self::default();
        }
        Self {
            rate_limits: limits
                .rate_limits
                .iter()
                .map(|l| RateLimitBody {
                    name: l.name.as_str().to_owned(),
                    limit: l.limit,
                    window_seconds: l.window.seconds(),
                    auto_apply: l.auto_apply,
                    strict: l.strict,
                })
                .collect(),
            remaining: limits.remaining.map(remaining_body),
            permissions: limits.permissions.iter().map(|p| p.as_str().to_owned()).collect(),
            roles: limits.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        }
    }
}

fn remaining_body(r: Remaining) -> RemainingBody {
    RemainingBody {
        uses: r.amount,
        set_at: r.set_at,
        refill: r.refill.map(|f| match f.interval {
            RefillInterval::Daily => RefillBody { amount: f.amount, interval: IntervalBody::Daily, day: None },
            RefillInterval::Monthly { day } => {
                RefillBody { amount: f.amount, interval: IntervalBody::Monthly, day: Some(day) }
            }
        }),
    }
}

/// Reads rate limits, naming each bad field by its place (`rate_limits[1].window_seconds`).
pub fn rate_limits(bodies: &[RateLimitBody]) -> Result<Vec<RateLimit>, ValidationError> {
    let limits = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            Ok(RateLimit {
                name: LimitName::parse(&b.name, &format!("rate_limits[{i}].name"))?,
                limit: b.limit,
                window: WindowLength::parse(b.window_seconds, &format!("rate_limits[{i}].window_seconds"))?,
                auto_apply: b.auto_apply,
                strict: b.strict,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    UsageLimits::check_rate_limits(&limits)?;
    Ok(limits)
}

/// Reads uses left as set.
pub fn remaining(body: &SetRemaining) -> Result<RemainingSetting, ValidationError> {
    let refill = match &body.refill {
        None => None,
        Some(f) => Some(Refill {
            amount: f.amount,
            interval: match (f.interval, f.day) {
                (IntervalBody::Daily, None) => RefillInterval::Daily,
                (IntervalBody::Daily, Some(_)) => {
                    return Err(ValidationError::new("remaining.refill.day", "goes with a monthly refill only"));
                }
                (IntervalBody::Monthly, day) => RefillInterval::monthly(day.unwrap_or(1), "remaining.refill.day")?,
            },
        }),
    };
    Ok(RemainingSetting { uses: body.uses, refill })
}

/// Reads permissions.
pub fn permissions(names: &[String]) -> Result<Permissions, ValidationError> {
    let permissions: Permissions = names
        .iter()
        .enumerate()
        .map(|(i, n)| Permission::parse(n, &format!("permissions[{i}]")))
        .collect::<Result<_, _>>()?;
    domain::limits::UsageLimits::check_permissions(&permissions)?;
    Ok(permissions)
}

/// Reads role names.
pub fn roles(names: &[String]) -> Result<BTreeSet<RoleName>, ValidationError> {
    let roles: BTreeSet<RoleName> =
        names.iter().enumerate().map(|(i, n)| RoleName::parse(n, &format!("roles[{i}]"))).collect::<Result<_, _>>()?;
    UsageLimits::check_roles(&roles)?;
    Ok(roles)
}

/// Reads the limits of a new key (or of a service account, with no permissions or roles).
pub fn settings(
    rate: &[RateLimitBody],
    left: Option<&SetRemaining>,
    granted: &[String],
    named_roles: &[String],
) -> Result<LimitSettings, ValidationError> {
    Ok(LimitSettings {
        rate_limits: rate_limits(rate)?,
        remaining: left.map(remaining).transpose()?,
        permissions: permissions(granted)?,
        roles: roles(named_roles)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(name: &str, limit: u64, window_seconds: i64) -> RateLimitBody {
        RateLimitBody { name: name.to_owned(), limit, window_seconds, auto_apply: true, strict: false }
    }

    #[test]
    fn each_bad_field_is_named_by_its_place() {
        let field = |r: Result<Vec<RateLimit>, ValidationError>| r.map(|_| ()).err().map(|e| e.field);
        assert_eq!(field(rate_limits(&[limit("a", 1, 1), limit("b c", 1, 1)])).as_deref(), Some("rate_limits[1].name"));
        assert_eq!(field(rate_limits(&[limit("a", 0, 1)])).as_deref(), Some("rate_limits[0].limit"));
        assert_eq!(field(rate_limits(&[limit("a", 1, 0)])).as_deref(), Some("rate_limits[0].window_seconds"));
        assert_eq!(field(rate_limits(&[limit("a", 1, 1), limit("a", 2, 2)])).as_deref(), Some("rate_limits"));
        let daily_with_day = SetRemaining {
            uses: 1,
            refill: Some(RefillBody { amount: 1, interval: IntervalBody::Daily, day: Some(3) }),
        };
        assert_eq!(
            remaining(&daily_with_day).map(|_| ()).err().map(|e| e.field).as_deref(),
            Some("remaining.refill.day")
        );
        assert!(permissions(&["docs read".to_owned()]).is_err());
    }
}
