//! Slows down, then refuses, addresses that keep presenting bad credentials.
//!
//! Within a window, the first `free` failures from an address cost nothing; each further failure
//! delays its own answer by `step` more; from `max` failures on, the address gets 429 with
//! `Retry-After` until the window ends. The state is per process and in memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ApiError;

/// The thresholds of the failure limiter.
#[derive(Debug, Clone, Copy)]
pub struct AuthLimits {
    /// Failures per window answered without delay.
    pub free: u32,
    /// Failures per window after which the address is refused.
    pub max: u32,
    /// The window's length.
    pub window: Duration,
    /// The extra delay added per failure beyond `free`.
    pub step: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self { free: 5, max: 20, window: Duration::from_secs(60), step: Duration::from_millis(100) }
    }
}

/// Counts failed authentications per address.
#[derive(Debug)]
pub struct FailureLimiter {
    limits: AuthLimits,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// Above this many tracked addresses, expired entries are dropped.
const PRUNE_ABOVE: usize = 100_000;

impl FailureLimiter {
    /// A limiter with `limits`.
    pub fn new(limits: AuthLimits) -> Self {
        Self { limits, seen: Mutex::new(HashMap::new()) }
    }

    /// Refuses an address that has failed too often in the current window.
    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get(&ip) {
            Some((start, count)) if *count >= self.limits.max && start.elapsed() < self.limits.window => {
                let left = self.limits.window.saturating_sub(start.elapsed()).as_secs().max(1);
                Err(ApiError::too_many_failures(left))
            }
            _ => Ok(()),
        }
    }

    /// Records a failure and returns how long to delay its answer.
    pub fn record_failure(&self, ip: IpAddr) -> Duration {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > PRUNE_ABOVE {
            let window = self.limits.window;
            seen.retain(|_, (start, _)| start.elapsed() < window);
        }
        let entry = seen.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.limits.window {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
        self.limits.step * entry.1.saturating_sub(self.limits.free)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_failures_then_delays_then_refusal() {
        let limiter = FailureLimiter::new(AuthLimits {
            free: 2,
            max: 4,
            window: Duration::from_secs(60),
            step: Duration::from_millis(10),
        });
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        assert_eq!(limiter.record_failure(ip), Duration::ZERO);
        assert_eq!(limiter.record_failure(ip), Duration::ZERO);
        assert_eq!(limiter.record_failure(ip), Duration::from_millis(10));
        assert!(limiter.check(ip).is_ok());
        assert_eq!(limiter.record_failure(ip), Duration::from_millis(20));
        assert_eq!(limiter.check(ip).map_err(|e| e.code()).err(), Some("too_many_failed_attempts"));
        assert!(limiter.check(other).is_ok(), "other addresses are unaffected");
    }
}
