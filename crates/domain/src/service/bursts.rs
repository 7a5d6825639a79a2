//! Refusals of one credential counted per minute, so that its owner is told of a burst once per
//! minute (`auth.failure_burst`). Counted per node, in memory: with several nodes a burst spread
//! over them is seen by each for its share.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::Timestamp;

/// Above this many tracked credentials, counts of past minutes are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// Refusal counts per credential in the current minute.
#[derive(Debug)]
pub(crate) struct FailureBursts {
    threshold: u32,
    seen: Mutex<HashMap<String, (i64, u32)>>,
}

impl FailureBursts {
    /// A burst is `threshold` refusals of one credential within one clock minute.
    pub(crate) fn new(threshold: u32) -> Self {
        Self { threshold: threshold.max(1), seen: Mutex::default() }
    }

    /// Counts a refusal of `target` at `now`; true exactly when it makes the minute's count reach
    /// the threshold (once per credential and minute).
    pub(crate) fn note(&self, target: &str, now: Timestamp) -> bool {
        let minute = now.timestamp().div_euclid(60);
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() > PRUNE_ABOVE {
            seen.retain(|_, (m, _)| *m == minute);
        }
        let entry = seen.entry(target.to_owned()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 == self.threshold
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;

    #[test]
    fn a_burst_is_told_once_a_minute_per_credential() {
        let bursts = FailureBursts::new(3);
        let t = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 5).unwrap();
        let told: Vec<bool> = (0..5).map(|_| bursts.note("api_key:a", t)).collect();
        assert_eq!(told, [false, false, true, false, false]);
        assert!(!bursts.note("api_key:b", t), "another credential counts on its own");
        let next_minute = t + Duration::minutes(1);
        let told: Vec<bool> = (0..3).map(|_| bursts.note("api_key:a", next_minute)).collect();
        assert_eq!(told, [false, false, true]);
    }
}
