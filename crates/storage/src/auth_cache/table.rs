//! One kind of key's cached lookups ([`Table`]), and the epochs that order its reads against
//! forgets ([`Epochs`]): the rules the module above describes, for one table. The cache of both
//! kinds, its background reader and its metrics are in the module above.

pub(super) mod front;

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use domain::repository::{RepoError, RepoResult};
use moka::Expiry;
use moka::sync::Cache;

/// The most entries of each kind.
const CAPACITY: u64 = 100_000;

/// One cached answer.
pub(super) struct Entry<V> {
    /// The row, or `None` for "no such key".
    pub(super) value: Option<V>,
    /// When its database read began.
    pub(super) read_at: Instant,
    /// The epoch when its database read began.
    pub(super) epoch: u64,
}

/// Expires each entry one window after its read began.
struct Window(Duration);

impl<K, V> Expiry<K, Arc<Entry<V>>> for Window {
    fn expire_after_create(&self, _: &K, entry: &Arc<Entry<V>>, created_at: Instant) -> Option<Duration> {
        Some(self.0.saturating_sub(created_at.saturating_duration_since(entry.read_at)))
    }

    fn expire_after_update(
        &self,
        _: &K,
        entry: &Arc<Entry<V>>,
        updated_at: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.0.saturating_sub(updated_at.saturating_duration_since(entry.read_at)))
    }
}

/// How long the cache keeps what.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows {
    /// How long an entry may be served, counted from when its read began.
    pub(crate) freshness: Duration,
    /// How much longer a key's last read answers while the database cannot be reached.
    pub(crate) stale_if_unavailable: Duration,
    /// How far a read replica may lag the primary: a key forgotten less than this ago is read
    /// from the primary (zero without a replica).
    pub(crate) replica_lag: Duration,
}

impl Windows {
    /// Entries fresh for `freshness`, with neither a last read nor a replica.
    #[cfg(test)]
    pub(super) fn fresh_for(freshness: Duration) -> Self {
        Self { freshness, stale_if_unavailable: Duration::ZERO, replica_lag: Duration::ZERO }
    }
}

/// How a cache miss is to be read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Read {
    /// How long to wait for a database connection; `None`: as long as the pool waits.
    pub(crate) wait: Option<Duration>,
    /// Whether a read replica may answer (the key was not forgotten within its lag bound).
    pub(crate) may_lag: bool,
}

/// The counter that orders reads against forgets.
#[derive(Default)]
pub(super) struct Epochs {
    pub(super) current: AtomicU64,
    pub(super) everything_forgotten: AtomicU64,
    /// When everything was last forgotten (or read again): until the replica's lag bound has
    /// passed since, every key is read from the primary.
    pub(super) everything_forgotten_at: Mutex<Option<Instant>>,
    /// Whether the change feed listens now: while it does not, a change made on another node
    /// could go unheard, so no key is read from a replica.
    pub(super) feed_listening: AtomicBool,
}

impl Epochs {
    pub(super) fn now(&self) -> u64 {
        self.current.load(Ordering::SeqCst)
    }

    pub(super) fn next(&self) -> u64 {
        self.current.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// Cached lookups of one kind of key.
pub(crate) struct Table<K: Send, V: Send + Sync> {
    /// How long an entry may be served, counted from when its read began.
    freshness: Duration,
    /// Each thread's copies of the entries it was served.
    pub(super) front: front::Front<K, V>,
    pub(super) entries: Cache<K, Arc<Entry<V>>>,
    /// The epoch of the latest forget of each key, kept for one window (and the unavailability
    /// window, while `last_read` may hold an older entry, and the replica's lag bound, while a
    /// replica may not have the change yet).
    pub(super) tombstones: Cache<K, u64>,
    /// How far a read replica may lag the primary (zero without one).
    replica_lag: Duration,
    /// The last current entry read of each key, kept for the freshness and unavailability windows:
    /// the answer while the database cannot be reached. `None` when there is no such window.
    pub(super) last_read: Option<Cache<K, Arc<Entry<V>>>>,
    /// Keys with a background read queued or running.
    refreshing: Mutex<HashSet<K>>,
    /// The hit counter, looked up once: a lookup by name and label on every hit cost as much as
    /// the hit itself. Made on the first hit, after the recorder is installed.
    pub(super) hits: OnceLock<metrics::Counter>,
}

impl<K, V> Table<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(super) fn new(windows: Windows) -> Self {
        let Windows { freshness, stale_if_unavailable, replica_lag } = windows;
        let kept = freshness + stale_if_unavailable;
        Self {
            freshness,
            replica_lag,
            front: front::Front::new(),
            entries: Cache::builder().max_capacity(CAPACITY).expire_after(Window(freshness)).build(),
            tombstones: Cache::builder().max_capacity(CAPACITY).time_to_live(kept + replica_lag).build(),
            last_read: (!stale_if_unavailable.is_zero())
                .then(|| Cache::builder().max_capacity(CAPACITY).expire_after(Window(kept)).build()),
            refreshing: Mutex::new(HashSet::new()),
            hits: OnceLock::new(),
        }
    }

    /// Whether no forget of `key` happened since `entry`'s read began.
    fn current(&self, key: &K, entry: &Entry<V>, epochs: &Epochs) -> bool {
        // Nothing at all was forgotten since the read began (every forget takes a new epoch):
        // no tombstone can be newer, so the second lookup is skipped.
        if entry.epoch == epochs.now() {
            return true;
        }
        entry.epoch >= epochs.everything_forgotten.load(Ordering::SeqCst)
            && self.tombstones.get(key).is_none_or(|forgotten| entry.epoch >= forgotten)
    }

    /// The entry for `key`, if one is cached and current: this thread's copy if nothing was
    /// forgotten since it was found current (then `true`: it is young enough that no background
    /// read is due), else the shared cache's.
    pub(super) fn lookup(&self, key: &K, epochs: &Epochs) -> Option<(Arc<Entry<V>>, bool)> {
        // Read before the shared cache is asked: a forget that starts meanwhile moves the epoch
        // (twice), so the copy remembered below is never served after it.
        let epoch = epochs.now();
        if let Some(entry) = self.front.get(key, epoch) {
            return Some((entry, true));
        }
        let entry = self.entries.get(key).filter(|entry| self.current(key, entry, epochs))?;
        // A copy is served for the first half of its window only: after that the shared entry is
        // read again in the background, and the next hit takes the new one from the shared cache.
        self.front.remember(key.clone(), &entry, epoch, self.freshness / 2);
        Some((entry, false))
    }

    /// The entry for `key`, if one is cached and current.
    #[cfg(test)]
    pub(super) fn hit(&self, key: &K, epochs: &Epochs) -> Option<Arc<Entry<V>>> {
        self.lookup(key, epochs).map(|(entry, _)| entry)
    }

    /// The entry for `key`, from the cache or from `load`; concurrent misses share one load.
    pub(super) fn get(
        &self,
        key: &K,
        epochs: &Epochs,
        load: impl Fn() -> RepoResult<Option<V>>,
    ) -> RepoResult<Arc<Entry<V>>> {
        for _ in 0..3 {
            let entry = self.entries.try_get_with_by_ref(key, || read(epochs, &load)).map_err(unshare)?;
            if self.current(key, &entry, epochs) {
                self.keep(key, &entry);
                return Ok(entry);
            }
            // A change raced with the read: read again.
            self.entries.invalidate(key);
        }
        // Changes keep racing with reads: answer from the database without caching.
        read(epochs, &load)
    }

    /// Whether `key` must be read from the primary rather than a replica: it was forgotten, or
    /// everything was, less than the replica's lag bound ago (the replica may not hold that change
    /// yet), or the change feed is not listening (a change could go unheard). With this, a
    /// revocation reaches this node within the freshness window, replica or not.
    pub(super) fn needs_primary(&self, key: &K, epochs: &Epochs) -> bool {
        if self.replica_lag.is_zero() {
            return false;
        }
        if !epochs.feed_listening.load(Ordering::SeqCst) {
            return true;
        }
        let everything = *epochs.everything_forgotten_at.lock().unwrap_or_else(|p| p.into_inner());
        everything.is_some_and(|at| at.elapsed() < self.replica_lag) || self.tombstones.contains_key(key)
    }

    /// Keeps `entry` as the answer for `key` while the database cannot be reached.
    pub(super) fn keep(&self, key: &K, entry: &Arc<Entry<V>>) {
        if let Some(last_read) = &self.last_read {
            last_read.insert(key.clone(), entry.clone());
        }
    }

    /// What was last read of `key`, if it is still current and within the unavailability window:
    /// the answer when reading it again failed because the database cannot be reached.
    pub(super) fn last_read(&self, key: &K, epochs: &Epochs) -> Option<Arc<Entry<V>>> {
        // The tombstone check in `current` covers a forget that raced with `keep`.
        self.last_read.as_ref()?.get(key).filter(|entry| self.current(key, entry, epochs))
    }

    /// Reads `key` again on its next lookup, for a change that matters to no decision (its last
    /// use): no tombstone, and its last read still answers while the database cannot be reached.
    pub(super) fn read_again(&self, key: &K, epochs: &Epochs) {
        epochs.next();
        self.entries.invalidate(key);
        // As in `forget`: copies remembered meanwhile are retired.
        epochs.next();
    }

    pub(super) fn forget(&self, key: K, epochs: &Epochs) {
        let epoch = epochs.next();
        self.tombstones.entry(key.clone()).and_upsert_with(|old| old.map_or(epoch, |old| epoch.max(old.into_value())));
        self.entries.invalidate(&key);
        if let Some(last_read) = &self.last_read {
            last_read.invalidate(&key);
        }
        // A thread may have found the old entry current while this forget was under way, and
        // remembered it at the epoch taken above: a second number retires that copy.
        epochs.next();
    }

    /// Claims a background read of `key`; false if one is already queued.
    pub(super) fn claim_refresh(&self, key: &K) -> bool {
        self.refreshing.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone())
    }

    pub(super) fn release_refresh(&self, key: &K) {
        self.refreshing.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    /// Reads `key` again and stores the answer (unless the read fails).
    pub(super) fn refresh(&self, key: K, epochs: &Epochs, load: impl Fn() -> RepoResult<Option<V>>) {
        match read(epochs, &load) {
            Ok(entry) => {
                if self.current(&key, &entry, epochs) {
                    self.keep(&key, &entry);
                }
                self.entries.insert(key.clone(), entry);
            }
            Err(e) => tracing::debug!(error = %e, "background read of a cached key failed"),
        }
        self.release_refresh(&key);
    }
}

/// Reads one entry, noting the epoch and time first.
pub(super) fn read<V>(epochs: &Epochs, load: &impl Fn() -> RepoResult<Option<V>>) -> RepoResult<Arc<Entry<V>>> {
    let epoch = epochs.now();
    let read_at = Instant::now();
    let value = load()?;
    Ok(Arc::new(Entry { value, read_at, epoch }))
}

fn unshare(e: Arc<RepoError>) -> RepoError {
    Arc::try_unwrap(e).unwrap_or_else(|shared| (*shared).clone())
}
