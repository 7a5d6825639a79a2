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

/// The most entries one thread remembers; past it, it starts afresh.
const CAPACITY: usize = 4096;

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
pub(super) struct Front<K: Send, V: Send + Sync> {
    threads: ThreadLocal<RefCell<HashMap<K, Remembered<V>, RandomState>>>,
}

impl<K: Hash + Eq + Send, V: Clone + Send + Sync> Front<K, V> {
    pub(super) fn new() -> Self {
        Self { threads: ThreadLocal::new() }
    }

    /// This thread's entry for `key`, if it was found current at `epoch` (the epoch now) and may
    /// still be served.
    pub(super) fn get(&self, key: &K, epoch: u64) -> Option<Arc<Entry<V>>> {
        let map = self.threads.get()?.borrow();
        let remembered = map.get(key)?;
        (remembered.checked == epoch && Instant::now() < remembered.until).then(|| remembered.entry.clone())
    }

    /// Remembers, for this thread, a copy of `entry` that the shared cache found current at
    /// `checked` (read before the shared cache was asked), to be served for `serve` after its read
    /// began. Entries for unknown keys are not kept.
    pub(super) fn remember(&self, key: K, entry: &Entry<V>, checked: u64, serve: Duration) {
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
