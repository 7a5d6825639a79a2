//! Usage control at verify time, pure: named rate limits counted in fixed windows, a count of
//! uses left with its refill, and permission queries. Each is decided from a value in memory and
//! the time, so a node can answer in microseconds; keeping the counts across requests and nodes
//! is the service's and storage's part.
//!
//! The rules, stated once:
//!
//! - A rate limit counts cost in **fixed windows** aligned to the Unix epoch (a 60 s window starts
//!   at every whole minute). Within one window it never admits more than its limit: a request
//!   whose cost does not fit is refused and spends nothing. Across a window's edge a client may
//!   spend a full limit on each side.
//! - A verification that applies several limits is admitted by all of them or by none: a refusal
//!   by one spends nothing on the others.
//! - Uses left never go below zero; a refill sets them to the refill's amount at each boundary
//!   (daily at 00:00 UTC, or monthly on a day of the month at 00:00 UTC, the last day of a shorter
//!   month standing in for a missing one).
//! - Counts are kept per bucket (a rate limit's window, or a period of uses left) and only grow,
//!   so nodes add up what each spent ([`Ledger`]): each decides from its memory and adds its
//!   spending to storage at every flush, reading back everyone's.
//! - A permission query (`a and (b or c)`) holds when its names are granted, exactly as written.

mod ledger;
mod permission;
mod rate_limit;
mod remaining;
mod role;
mod usage_limits;

pub use ledger::{Bucket, Ledger, Spend, StrictSpend};
pub use usage_limits::{
    Ask, LimitRefusal, LimitSettings, LimitsVerdict, MAX_PERMISSIONS, MAX_RATE_LIMITS, Plan, RateLimitAnswer,
    UsageLimits, rate_bucket, remaining_bucket,
};

pub use permission::{Permission, PermissionQuery, Permissions};
pub use rate_limit::{Applied, LimitDecision, LimitName, RateLimit, WindowCount, WindowLength, decide_all};
pub use remaining::{Exhausted, Period, Refill, RefillInterval, Remaining, RemainingSetting};
pub use role::{MAX_ROLES_PER_ACCOUNT, MAX_ROLES_PER_KEY, Role, RoleName};
