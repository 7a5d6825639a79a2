//! Slows down, then refuses, failed authentications: per address and per credential id.
//!
//! Within a window, the first `free` failures from an address (or against one credential id) cost
//! nothing; each further failure delays its own answer by `step` more; from `max` failures on,
//! further failures are answered 429 with `Retry-After` until the window ends. Only failures are
//! limited: a request that presents a valid credential is served whatever its address or its
//! neighbours behind the same proxy did. The state is per process and in memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ApiError;

/// The thresholds of the failure limiter.
#[derive(Debug, Clone, Copy)]
pub struct AuthLimits {
    /// Failures per window answered without delay.
    pub free: u32,
    /// Failures per window after which further failures are refused.
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

/// How to answer a failed authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// With the usual refusal, after this delay.
    Delay(Duration),
    /// With 429: too many failures; retry after this many seconds.
    Refuse(u64),
}

/// Failure counts in windows, by some key.
#[derive(Debug)]
struct Counts<K>(Mutex<HashMap<K, (Instant, u32)>>);

/// Above this many tracked addresses or ids, expired entries are dropped.
const PRUNE_ABOVE: usize = 100_000;

impl<K: Hash + Eq> Counts<K> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    /// Counts one more failure for `key`; returns the count in its window and the time left in it.
    fn bump(&self, key: K, window: Duration) -> (u32, Duration) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > PRUNE_ABOVE {
            seen.retain(|_, (start, _)| start.elapsed() < window);
        }
        let entry = seen.entry(key).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= window {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
        (entry.1, window.saturating_sub(entry.0.elapsed()))
    }
}

/// Counts failed authentications per address and per credential id.
#[derive(Debug)]
pub struct FailureLimiter {
    limits: AuthLimits,
    by_address: Counts<IpAddr>,
    by_credential: Counts<String>,
}

impl FailureLimiter {
    /// A limiter with `limits`.
    pub fn new(limits: AuthLimits) -> Self {
        Self { limits, by_address: Counts::new(), by_credential: Counts::new() }
    }

    /// Records a failed authentication from `ip` that named the credential id `credential` (when
    /// the presented string names one) and says how to answer it.
    pub fn fail(&self, ip: Option<IpAddr>, credential: Option<&str>) -> Verdict {
        let window = self.limits.window;
        let counts = [
            ip.map(|ip| self.by_address.bump(ip, window)),
            credential.map(|id| self.by_credential.bump(id.to_owned(), window)),
        ];
        let (count, left) = counts.into_iter().flatten().max_by_key(|(count, _)| *count).unwrap_or((0, window));
        metrics::counter!("keyward_auth_failures_total").increment(1);
        if count > self.limits.max {
            metrics::counter!("keyward_auth_limited_total").increment(1);
            Verdict::Refuse(left.as_secs().max(1))
        } else {
            Verdict::Delay(self.limits.step * count.saturating_sub(self.limits.free))
        }
    }

    /// Records a failure and waits as the verdict says; returns `e`, or the 429 that replaces it.
    pub async fn refuse(&self, ip: Option<IpAddr>, credential: Option<&str>, e: ApiError) -> ApiError {
        match self.fail(ip, credential) {
            Verdict::Refuse(retry_after) => ApiError::too_many_failures(retry_after),
            Verdict::Delay(delay) => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                e
            }
        }
    }
}

/// Limits every request of one kind (not only failures) per address: at most `per_window` in a
/// window, the rest answered 429 with `Retry-After`. For unauthenticated endpoints that do work
/// for anyone, such as leak reports.
#[derive(Debug)]
pub struct RequestLimiter {
    per_window: u32,
    window: Duration,
    by_address: Counts<Option<IpAddr>>,
}

impl RequestLimiter {
    /// At most `per_window` requests per address in each `window`.
    pub fn new(per_window: u32, window: Duration) -> Self {
        Self { per_window, window, by_address: Counts::new() }
    }

    /// Counts a request from `ip` (requests of unknown origin share one count); answers the 429
    /// that refuses it when the address is over its limit.
    pub fn admit(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let (count, left) = self.by_address.bump(ip, self.window);
        if count > self.per_window {
            let retry_after = left.as_secs().max(1);
            return Err(ApiError::too_many_requests(retry_after));
        }
        Ok(())
    }
}

/// The credential id a presented string names, if any: the id part of a `kw_..._<id>_...` string,
/// or the `kid` of a JWT (a secret key's id). Used to limit guesses against one credential.
pub fn named_credential(presented: &str) -> Option<String> {
    if let Some(rest) = presented.strip_prefix("kw_") {
        return rest.split('_').nth(1).filter(|id| id.len() == 32).map(str::to_owned);
    }
    use base64::Engine as _;
    let header = presented.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> FailureLimiter {
        FailureLimiter::new(AuthLimits {
            free: 2,
            max: 4,
            window: Duration::from_secs(60),
            step: Duration::from_millis(10),
        })
    }

    #[test]
    fn free_failures_then_delays_then_refusal() {
        let limiter = limiter();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        assert_eq!(limiter.fail(Some(ip), None), Verdict::Delay(Duration::ZERO));
        assert_eq!(limiter.fail(Some(ip), None), Verdict::Delay(Duration::ZERO));
        assert_eq!(limiter.fail(Some(ip), None), Verdict::Delay(Duration::from_millis(10)));
        assert_eq!(limiter.fail(Some(ip), None), Verdict::Delay(Duration::from_millis(20)));
        assert!(matches!(limiter.fail(Some(ip), None), Verdict::Refuse(s) if s > 0));
        assert_eq!(limiter.fail(Some(other), None), Verdict::Delay(Duration::ZERO), "other addresses are unaffected");
    }

    #[test]
    fn guesses_against_one_credential_are_limited_across_addresses() {
        let limiter = limiter();
        for i in 0..4u8 {
            assert!(matches!(limiter.fail(Some([10, 0, 0, i].into()), Some("k1")), Verdict::Delay(_)));
        }
        assert!(matches!(limiter.fail(Some([10, 0, 0, 9].into()), Some("k1")), Verdict::Refuse(_)));
        assert!(matches!(limiter.fail(Some([10, 0, 0, 9].into()), Some("k2")), Verdict::Delay(_)));
    }

    #[test]
    fn requests_past_the_limit_are_refused_per_address() {
        let limiter = RequestLimiter::new(2, Duration::from_secs(60));
        let (ip, other): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        assert!(limiter.admit(Some(ip)).is_ok());
        assert!(limiter.admit(Some(ip)).is_ok());
        assert!(limiter.admit(Some(ip)).is_err());
        assert!(limiter.admit(Some(other)).is_ok(), "other addresses are unaffected");
    }

    #[test]
    fn presented_strings_name_their_credential() {
        let id = "0190f1c27a3b7c4d8e5f0123456789ab";
        assert_eq!(named_credential(&format!("kw_ak_{id}_{}", "0".repeat(72))).as_deref(), Some(id));
        assert_eq!(named_credential("garbage"), None);
        assert_eq!(named_credential("kw_ak_short_x"), None);
    }
}
