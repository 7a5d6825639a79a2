//! What has been used since the last batch write: the latest use of each key, and counts of uses
//! and refusals per key and hour.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use foldhash::fast::RandomState;

use super::series::{HourlyUse, hour_of};
use crate::Timestamp;
use crate::id::{ApiKeyId, SecretKeyId};

/// The latest use of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// When.
    pub at: Timestamp,
    /// From where, when known.
    pub ip: Option<IpAddr>,
}

/// Everything collected since the last write, taken out in one piece.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UsageBatch {
    /// The latest use of each key used, one per key.
    pub latest: Vec<(ApiKeyId, Usage)>,
    /// Uses and refusals per key and hour, one entry per key and hour.
    pub hourly: Vec<HourlyUse>,
    /// The latest use of each secret key used (they have no hourly counts).
    pub secret_latest: Vec<(SecretKeyId, Timestamp)>,
}

impl UsageBatch {
    /// Whether the batch holds nothing to write.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty() && self.hourly.is_empty() && self.secret_latest.is_empty()
    }
}

/// The maps are keyed by ids of keys that exist (a use or refusal is noted only for a key that was
/// found), so nobody outside chooses their keys: they use foldhash, a fast hash with a random seed
/// per process, instead of SipHash (every verification notes two uses).
#[derive(Debug, Default)]
struct Pending {
    latest: HashMap<ApiKeyId, Usage, RandomState>,
    hourly: HashMap<(ApiKeyId, Timestamp), (u64, u64), RandomState>,
    secret_latest: HashMap<SecretKeyId, Timestamp, RandomState>,
}

impl Pending {
    fn note_latest(&mut self, key: ApiKeyId, usage: Usage) {
        match self.latest.entry(key) {
            Entry::Occupied(mut existing) if existing.get().at <= usage.at => {
                existing.insert(usage);
            }
            Entry::Occupied(_) => {}
            Entry::Vacant(place) => {
                place.insert(usage);
            }
        }
    }

    fn note_secret(&mut self, key: SecretKeyId, at: Timestamp) {
        let latest = self.secret_latest.entry(key).or_insert(at);
        *latest = (*latest).max(at);
    }

    fn count(&mut self, key: ApiKeyId, hour: Timestamp, uses: u64, refusals: u64) {
        let entry = self.hourly.entry((key, hour)).or_default();
        entry.0 = entry.0.saturating_add(uses);
        entry.1 = entry.1.saturating_add(refusals);
    }

    /// Adds everything in `other`: counts add up, and a latest use never replaces a newer one.
    fn absorb(&mut self, other: Pending) {
        for (key, usage) in other.latest {
            self.note_latest(key, usage);
        }
        for ((key, hour), (uses, refusals)) in other.hourly {
            self.count(key, hour, uses, refusals);
        }
        for (key, at) in other.secret_latest {
            self.note_secret(key, at);
        }
    }

    fn is_empty(&self) -> bool {
        self.latest.is_empty() && self.hourly.is_empty() && self.secret_latest.is_empty()
    }
}

/// How many parts the buffer is split into: more than the threads that serve requests on a small
/// machine, so that two threads rarely share one.
const SHARDS: usize = 8;

/// One part of the buffer, alone on its cache lines: a thread that notes a use writes only to
/// memory no other thread is writing to.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(Mutex<Pending>);

/// Uses not yet written: at most one latest use per key, and one count per key and hour, once
/// drained.
///
/// Every verification notes two uses, on whichever thread serves it. One lock for all of them
/// made the threads take turns and pass the lock's memory between cores on every request, so each
/// thread notes its uses in a part of its own (chosen once per thread), and [`UsageBuffer::drain`]
/// merges the parts.
#[derive(Debug, Default)]
pub struct UsageBuffer {
    shards: [Shard; SHARDS],
}

impl UsageBuffer {
    /// Notes a successful use: it counts toward its hour, and replaces an earlier latest use.
    pub fn record(&self, key: ApiKeyId, usage: Usage) {
        let mut pending = self.mine();
        pending.count(key, hour_of(usage.at), 1, 0);
        pending.note_latest(key, usage);
    }

    /// Notes a refusal of a presented credential naming `key` (a wrong secret, or a key that is
    /// disabled, expired or lacks a scope) at `at`.
    pub fn record_refusal(&self, key: ApiKeyId, at: Timestamp) {
        self.mine().count(key, hour_of(at), 0, 1);
    }

    /// Notes a successful use of a secret key (a client authenticated, or a JWT it signed).
    pub fn record_secret(&self, key: SecretKeyId, at: Timestamp) {
        self.mine().note_secret(key, at);
    }

    /// Takes everything pending, the parts merged: one latest use per key, one count per key and
    /// hour.
    pub fn drain(&self) -> UsageBatch {
        let mut all = Pending::default();
        for shard in &self.shards {
            all.absorb(std::mem::take(&mut *lock(shard)));
        }
        UsageBatch {
            latest: all.latest.into_iter().collect(),
            hourly: all
                .hourly
                .into_iter()
                .map(|((key, hour), (uses, refusals))| HourlyUse { key, hour, uses, refusals })
                .collect(),
            secret_latest: all.secret_latest.into_iter().collect(),
        }
    }

    /// Puts back a batch that could not be written: counts add to those collected meanwhile, and
    /// a latest use never replaces a newer one.
    pub fn restore(&self, batch: UsageBatch) {
        let mut pending = self.mine();
        for (key, usage) in batch.latest {
            pending.note_latest(key, usage);
        }
        for h in batch.hourly {
            pending.count(h.key, h.hour, h.uses, h.refusals);
        }
        for (key, at) in batch.secret_latest {
            pending.note_secret(key, at);
        }
    }

    /// How many keys have an unwritten latest use.
    pub fn len(&self) -> usize {
        let mut keys = std::collections::HashSet::new();
        for shard in &self.shards {
            keys.extend(lock(shard).latest.keys().copied());
        }
        keys.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|shard| lock(shard).is_empty())
    }

    /// The part of the buffer this thread notes its uses in.
    fn mine(&self) -> MutexGuard<'_, Pending> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
        }
        lock(&self.shards[INDEX.with(|i| *i)])
    }
}

fn lock(shard: &Shard) -> MutexGuard<'_, Pending> {
    shard.0.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, SeededEntropy, SystemClock};

    #[test]
    fn many_uses_of_one_key_collapse_into_its_latest_and_one_count_per_hour() {
        let buffer = UsageBuffer::default();
        let now = hour_of(SystemClock.now());
        let key = ApiKeyId::generate(now, &SeededEntropy::new(1));
        for i in 0..10_000 {
            buffer.record(
                key,
                Usage {
                    at: now + chrono::Duration::microseconds(i),
                    ip: Some(IpAddr::from([10, 0, 0, (i % 7) as u8])),
                },
            );
        }
        buffer.record_refusal(key, now);
        buffer.record_refusal(key, now + chrono::Duration::hours(1));
        let batch = buffer.drain();
        assert_eq!(batch.latest.len(), 1);
        assert_eq!(batch.latest[0].1.at, now + chrono::Duration::microseconds(9_999));
        let mut hourly = batch.hourly.clone();
        hourly.sort_by_key(|h| h.hour);
        assert_eq!(
            hourly,
            vec![
                HourlyUse { key, hour: now, uses: 10_000, refusals: 1 },
                HourlyUse { key, hour: now + chrono::Duration::hours(1), uses: 0, refusals: 1 },
            ]
        );
        assert!(buffer.is_empty());
        buffer.record(key, Usage { at: now + chrono::Duration::seconds(1), ip: None });
        buffer.restore(batch);
        let again = buffer.drain();
        assert_eq!(again.latest[0].1.at, now + chrono::Duration::seconds(1), "a restore never overwrites a newer use");
        let this_hour = again.hourly.iter().find(|h| h.hour == now).map(|h| h.uses);
        assert_eq!(this_hour, Some(10_001), "a restored count adds to what arrived meanwhile");
    }

    #[test]
    fn uses_noted_on_many_threads_are_merged_into_one_latest_and_one_count_per_key_and_hour() {
        let buffer = UsageBuffer::default();
        let now = hour_of(SystemClock.now());
        let entropy = SeededEntropy::new(2);
        let (key, other) = (ApiKeyId::generate(now, &entropy), ApiKeyId::generate(now, &entropy));
        let secret = SecretKeyId::generate(now, &entropy);
        // More threads than parts, so that some threads share a part and every part is used.
        std::thread::scope(|s| {
            for t in 0..(2 * SHARDS as i64) {
                let buffer = &buffer;
                s.spawn(move || {
                    for i in 0..100 {
                        let at = now + chrono::Duration::microseconds(t * 1_000 + i);
                        buffer.record(key, Usage { at, ip: Some(IpAddr::from([10, 0, 0, t as u8])) });
                        buffer.record_refusal(other, at);
                        buffer.record_secret(secret, at);
                    }
                });
            }
        });
        assert_eq!(buffer.len(), 1, "one key has a latest use, whichever threads noted it");
        let batch = buffer.drain();
        assert!(buffer.is_empty());
        let last = now + chrono::Duration::microseconds((2 * SHARDS as i64 - 1) * 1_000 + 99);
        assert_eq!(
            batch.latest,
            vec![(key, Usage { at: last, ip: Some(IpAddr::from([10, 0, 0, (2 * SHARDS - 1) as u8])) })]
        );
        assert_eq!(batch.secret_latest, vec![(secret, last)]);
        let mut hourly = batch.hourly;
        hourly.sort_by_key(|h| h.uses);
        let total = 2 * SHARDS as u64 * 100;
        assert_eq!(
            hourly,
            vec![
                HourlyUse { key: other, hour: now, uses: 0, refusals: total },
                HourlyUse { key, hour: now, uses: total, refusals: 0 },
            ]
        );
    }
}
