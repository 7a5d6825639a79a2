//! Each thread's own copies of the cache entries it was served, so that a hit on a busy key
//! writes no memory that another thread reads or writes.
//!
//! The shared cache (moka) records every read in a log both threads write to, and hands out an
//! `Arc` whose count both threads change: on a two-core machine those cache lines travel between
//! the cores on every request. A thread first asks its front; the shared cache answers only what
//! the front cannot.
//!
//! A remembered entry is served only while nothing at all has been forgotten since it was found
//! current (the epoch is unchanged) and within its freshness window; anything else goes back to
//! the shared cache, which applies the tombstones.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::fast::RandomState;
use thread_local::ThreadLocal;

use super::Entry;

/// The most entries one thread remembers; past it, it starts afresh. The copies are for hot keys;
/// this bounds what each thread that ever looked a key up holds (blocking threads included) to
/// about 400 KiB.
const CAPACITY: usize = 1024;

/// An entry as one thread remembers it.
struct Remembered<V> {
    /// The thread's own copy of the entry.
    entry: Arc<Entry<V>>,
    /// The epoch at which the shared cache last found it current.
    checked: u64,
    /// Until when it may be served.
    until: Instant,
}

/// The entries each thread remembers, by key.
///
/// Only keys that exist are remembered: their ids were not chosen by a caller, so a fast hash with
/// a random seed per process is safe; unknown ids keep going to the shared cache.
pub(in crate::auth_cache) struct Front<K: Send, V: Send + Sync> {
    threads: ThreadLocal<RefCell<HashMap<K, Remembered<V>, RandomState>>>,
}

impl<K: Hash + Eq + Send, V: Clone + Send + Sync> Front<K, V> {
    pub(in crate::auth_cache) fn new() -> Self {
        Self { threads: ThreadLocal::new() }
    }

    /// This thread's entry for `key`, if it was found current at `epoch` (the epoch now) and may
    /// still be served.
    pub(in crate::auth_cache) fn get(&self, key: &K, epoch: u64) -> Option<Arc<Entry<V>>> {
        let map = self.threads.get()?.borrow();
        let remembered = map.get(key)?;
        (remembered.checked == epoch && Instant::now() < remembered.until).then(|| remembered.entry.clone())
    }

    /// Remembers, for this thread, a copy of `entry` that the shared cache found current at
    /// `checked` (read before the shared cache was asked), to be served for `serve` after its read
    /// began. Entries for unknown keys are not kept.
    pub(in crate::auth_cache) fn remember(&self, key: K, entry: &Entry<V>, checked: u64, serve: Duration) {
        let Some(until) = entry.read_at.checked_add(serve) else { return };
        if entry.value.is_none() {
            return;
        }
        let own = Arc::new(Entry { value: entry.value.clone(), read_at: entry.read_at, epoch: entry.epoch });
        let mut map = self.threads.get_or_default().borrow_mut();
        if map.len() >= CAPACITY && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, Remembered { entry: own, checked, until });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(600);

    fn entry(value: u32) -> Entry<u32> {
        Entry { value: Some(value), read_at: Instant::now(), epoch: 0 }
    }

    #[test]
    fn a_full_front_starts_afresh_instead_of_growing() {
        let front: Front<usize, u32> = Front::new();
        for key in 0..CAPACITY {
            front.remember(key, &entry(1), 0, LONG);
        }
        front.remember(0, &entry(2), 0, LONG);
        assert_eq!(front.get(&0, 0).and_then(|e| e.value), Some(2), "a remembered key is replaced in place");
        assert!(front.get(&(CAPACITY - 1), 0).is_some(), "replacing one does not clear the others");
        front.remember(CAPACITY, &entry(3), 0, LONG);
        assert!(front.get(&0, 0).is_none(), "one key too many clears what the thread held");
        assert_eq!(front.get(&CAPACITY, 0).and_then(|e| e.value), Some(3));
    }

    #[test]
    fn a_copy_is_served_only_at_its_epoch_and_until_its_time() {
        let front: Front<u32, u32> = Front::new();
        front.remember(1, &entry(1), 7, LONG);
        assert!(front.get(&1, 7).is_some());
        assert!(front.get(&1, 8).is_none(), "the epoch moved");
        front.remember(2, &entry(2), 7, Duration::ZERO);
        assert!(front.get(&2, 7).is_none(), "its time is over");
    }
}
