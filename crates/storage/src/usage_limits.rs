//! A key's usage limits as stored: one JSON text column, empty for a key that has none.

use domain::limits::{
    LimitName, Permission, Permissions, RateLimit, Refill, RefillInterval, Remaining, RoleName, UsageLimits,
    WindowLength,
};
use serde::{Deserialize, Serialize};

/// The column's text does not hold limits Keyward wrote.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unreadable;

#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rate_limits: Vec<StoredRateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remaining: Option<StoredRemaining>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct StoredRateLimit {
    name: String,
    limit: u64,
    window_seconds: i64,
    auto_apply: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    strict: bool,
}

#[derive(Serialize, Deserialize)]
struct StoredRemaining {
    amount: u64,
    /// Microseconds since the Unix epoch, as every stored time.
    set_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refill: Option<StoredRefill>,
}

#[derive(Serialize, Deserialize)]
struct StoredRefill {
    amount: u64,
    /// 0 for daily, else the day of the month.
    monthly_day: u32,
}

/// The column's text for `limits`.
pub(crate) fn to_text(limits: &UsageLimits) -> String {
    if limits.is_empty() {
        return String::new();
    }
    let stored = Stored {
        rate_limits: limits
            .rate_limits
            .iter()
            .map(|l| StoredRateLimit {
                name: l.name.as_str().to_owned(),
                limit: l.limit,
                window_seconds: l.window.seconds(),
                auto_apply: l.auto_apply,
                strict: l.strict,
            })
            .collect(),
        remaining: limits.remaining.map(|r| StoredRemaining {
            amount: r.amount,
            set_at: r.set_at.timestamp_micros(),
            refill: r.refill.map(|f| StoredRefill {
                amount: f.amount,
                monthly_day: match f.interval {
                    RefillInterval::Daily => 0,
                    RefillInterval::Monthly { day } => day,
                },
            }),
        }),
        permissions: limits.permissions.iter().map(|p| p.as_str().to_owned()).collect(),
        roles: limits.roles.iter().map(|r| r.as_str().to_owned()).collect(),
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

/// The limits the column's text holds.
pub(crate) fn from_text(text: &str) -> Result<UsageLimits, Unreadable> {
    if text.is_empty() {
        return Ok(UsageLimits::default());
    }
    let bad = |_| Unreadable;
    let stored: Stored = serde_json::from_str(text).map_err(|_| Unreadable)?;
    let rate_limits = stored
        .rate_limits
        .into_iter()
        .map(|l| {
            Ok(RateLimit {
                name: LimitName::parse(&l.name, "name").map_err(bad)?,
                limit: l.limit,
                window: WindowLength::parse(l.window_seconds, "window").map_err(bad)?,
                auto_apply: l.auto_apply,
                strict: l.strict,
            })
        })
        .collect::<Result<Vec<_>, Unreadable>>()?;
    let remaining = match stored.remaining {
        Some(r) => Some(Remaining {
            amount: r.amount,
            set_at: chrono::DateTime::from_timestamp_micros(r.set_at).ok_or(Unreadable)?,
            refill: match r.refill {
                Some(f) => Some(Refill {
                    amount: f.amount,
                    interval: if f.monthly_day == 0 {
                        RefillInterval::Daily
                    } else {
                        RefillInterval::monthly(f.monthly_day, "day").map_err(bad)?
                    },
                }),
                None => None,
            },
        }),
        None => None,
    };
    let permissions = permissions(&stored.permissions)?;
    let roles = stored.roles.iter().map(|r| RoleName::parse(r, "roles").map_err(bad)).collect::<Result<_, _>>()?;
    Ok(UsageLimits { rate_limits, remaining, permissions, roles })
}

/// Permissions as stored: a JSON array of names (a key's, inside its limits; a role's, alone).
pub(crate) fn permissions(names: &[String]) -> Result<Permissions, Unreadable> {
    names.iter().map(|p| Permission::parse(p, "permissions").map_err(|_| Unreadable)).collect()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn limits_read_back_as_written() -> Result<(), Unreadable> {
        let set_at = Utc.timestamp_opt(1_800_000_000, 123_000).single().unwrap_or_default();
        let limits = UsageLimits {
            rate_limits: vec![RateLimit {
                name: LimitName::parse("requests", "n").map_err(|_| Unreadable)?,
                limit: 10,
                window: WindowLength::parse(60, "w").map_err(|_| Unreadable)?,
                auto_apply: true,
                strict: true,
            }],
            remaining: Some(Remaining {
                amount: 5,
                set_at,
                refill: Some(Refill { amount: 7, interval: RefillInterval::Monthly { day: 31 } }),
            }),
            permissions: [Permission::parse("docs.read", "p").map_err(|_| Unreadable)?].into(),
            roles: [RoleName::parse("reader", "r").map_err(|_| Unreadable)?].into(),
        };
        assert_eq!(from_text(&to_text(&limits))?, limits);
        assert_eq!(to_text(&UsageLimits::default()), "");
        assert_eq!(from_text("")?, UsageLimits::default());
        assert!(from_text("{not json").is_err());
        Ok(())
    }
}
