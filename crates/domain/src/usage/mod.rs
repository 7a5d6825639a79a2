//! Key usage: the latest use of each key (`last_used_at`, `last_used_ip`) and how many times each
//! key was used or refused in each hour, collected in memory and written in batches, so that a key
//! used thousands of times a second costs a handful of database writes.

mod buffer;
mod series;

pub use buffer::{Usage, UsageBatch, UsageBuffer};
pub use series::{Granularity, HourlyUse, KeyUsage, ServiceAccountUsage, UsageBucket, UsageSeries, UsageWindow};
