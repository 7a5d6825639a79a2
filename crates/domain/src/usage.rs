//! Key usage (`last_used_at`, `last_used_ip`) collected in memory and written in batches, so that a
//! key used thousands of times a second costs a handful of database writes.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::Timestamp;
use crate::id::ApiKeyId;

/// The latest use of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// When.
    pub at: Timestamp,
    /// From where, when known.
    pub ip: Option<String>,
}

/// Uses not yet written, at most one per key (the latest).
#[derive(Debug, Default)]
pub struct UsageBuffer {
    pending: Mutex<HashMap<ApiKeyId, Usage>>,
}

impl UsageBuffer {
    /// Notes a use; a later use of the same key replaces an earlier one.
    pub fn record(&self, key: ApiKeyId, usage: Usage) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get(&key) {
            Some(existing) if existing.at > usage.at => {}
            _ => {
                pending.insert(key, usage);
            }
        }
    }

    /// Takes everything pending.
    pub fn drain(&self) -> Vec<(ApiKeyId, Usage)> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.drain().collect()
    }

    /// Puts back uses that could not be written, unless newer ones arrived meanwhile.
    pub fn restore(&self, batch: Vec<(ApiKeyId, Usage)>) {
        for (key, usage) in batch {
            self.record(key, usage);
        }
    }

    /// How many keys have unwritten uses.
    pub fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, SeededEntropy, SystemClock};

    #[test]
    fn many_uses_of_one_key_collapse_into_its_latest() {
        let buffer = UsageBuffer::default();
        let now = SystemClock.now();
        let key = ApiKeyId::generate(now, &SeededEntropy::new(1));
        for i in 0..10_000 {
            buffer.record(
                key,
                Usage { at: now + chrono::Duration::microseconds(i), ip: Some(format!("10.0.0.{}", i % 7)) },
            );
        }
        let batch = buffer.drain();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].1.at, now + chrono::Duration::microseconds(9_999));
        assert!(buffer.is_empty());
        buffer.record(key, Usage { at: now + chrono::Duration::seconds(1), ip: None });
        buffer.restore(batch);
        assert_eq!(
            buffer.drain()[0].1.at,
            now + chrono::Duration::seconds(1),
            "a restore never overwrites a newer use"
        );
    }
}
