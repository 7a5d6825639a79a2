//! An in-process cache of the key lookups that authentication and verification make on every
//! request, so that the hot path rarely reaches the database.
//!
//! Entries, found and not found alike, are served for at most the freshness window (one second by
//! default), counted from the moment their database read began. A change made through this
//! process forgets the affected entries at once; a change made by another node is announced over
//! the change feed (PostgreSQL `LISTEN`/`NOTIFY`, see [`crate::change_feed`]) and forgotten as
//! soon as it arrives; and if an announcement is lost, the entry still expires at the end of its
//! window. Concurrent misses for one key share one database read, and an entry that has been
//! served for half its window is read again in the background, so a busy key never misses.
//!
//! A read that raced with a change must not put the old row back after the change forgot it.
//! Every forget therefore takes a new number from one counter (the epoch) and leaves it behind as
//! a tombstone for one window; every read notes the epoch before it starts; an entry older than a
//! tombstone of its key (or than the last forget-everything) is never served.
//!
//! While the database cannot be reached (a failover, say), a key whose window has passed is
//! answered from what was last read of it, for at most the unavailability window past its
//! freshness (`stale_if_unavailable`, none by default here; `keyward serve` sets 30 seconds).
//! Forgets apply to those answers too, so a change seen by this process is never undone by them.
//!
//! In front of the shared cache, each thread keeps copies of the entries it was served
//! ([`front`]); a copy is served only while the epoch has not moved since it was found current,
//! which is why a forget takes a second number once it is complete.

mod front;

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use diesel::r2d2::Pool;
use domain::id::{ApiKeyId, SecretKeyId};
use domain::repository::{KeyForAuth, RepoError, RepoResult, SecretKeyForAuth};
use moka::Expiry;
use moka::sync::Cache;

use crate::background::{self, Background, StopSignal};
use crate::connection::Manager;
use crate::error::TxError;

/// How long an entry may be served without asking the database again, unless configured.
pub const FRESHNESS: Duration = Duration::from_secs(1);
/// The most entries of each kind.
const CAPACITY: u64 = 100_000;
/// How long a read waits for a database connection when the key's last read can answer instead:
/// while the database cannot be reached, the pool's own timeout (4 s) would hold every
/// verification that long.
const WAIT_WITH_LAST_READ: Duration = Duration::from_secs(1);
/// The most background reads waiting at once; beyond it, entries simply expire and are read on
/// the next request.
const REFRESH_QUEUE: usize = 1024;

/// A change that makes cached lookups wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// One API key changed or was deleted.
    ApiKey(ApiKeyId),
    /// One secret key changed or was deleted.
    SecretKey(SecretKeyId),
    /// Many keys at once (a service account or an account changed).
    Everything,
}

impl Change {
    /// The change as a notification payload.
    pub(crate) fn to_payload(self) -> String {
        match self {
            Change::ApiKey(id) => format!("ak:{id}"),
            Change::SecretKey(id) => format!("sk:{id}"),
            Change::Everything => "*".to_owned(),
        }
    }

    /// A payload back as a change; anything unreadable means everything, to be safe.
    pub(crate) fn from_payload(payload: &str) -> Change {
        let parsed = match payload.split_once(':') {
            Some(("ak", id)) => id.parse().ok().map(Change::ApiKey),
            Some(("sk", id)) => id.parse().ok().map(Change::SecretKey),
            _ => None,
        };
        parsed.unwrap_or(Change::Everything)
    }
}

/// One cached answer.
struct Entry<V> {
    /// The row, or `None` for "no such key".
    value: Option<V>,
    /// When its database read began.
    read_at: Instant,
    /// The epoch when its database read began.
    epoch: u64,
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
    fn fresh_for(freshness: Duration) -> Self {
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
struct Epochs {
    current: AtomicU64,
    everything_forgotten: AtomicU64,
    /// When everything was last forgotten (or read again): until the replica's lag bound has
    /// passed since, every key is read from the primary.
    everything_forgotten_at: Mutex<Option<Instant>>,
    /// Whether the change feed listens now: while it does not, a change made on another node
    /// could go unheard, so no key is read from a replica.
    feed_listening: AtomicBool,
}

impl Epochs {
    fn now(&self) -> u64 {
        self.current.load(Ordering::SeqCst)
    }

    fn next(&self) -> u64 {
        self.current.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// Cached lookups of one kind of key.
pub(crate) struct Table<K: Send, V: Send + Sync> {
    /// How long an entry may be served, counted from when its read began.
    freshness: Duration,
    /// Each thread's copies of the entries it was served.
    front: front::Front<K, V>,
    entries: Cache<K, Arc<Entry<V>>>,
    /// The epoch of the latest forget of each key, kept for one window (and the unavailability
    /// window, while `last_read` may hold an older entry, and the replica's lag bound, while a
    /// replica may not have the change yet).
    tombstones: Cache<K, u64>,
    /// How far a read replica may lag the primary (zero without one).
    replica_lag: Duration,
    /// The last current entry read of each key, kept for the freshness and unavailability windows:
    /// the answer while the database cannot be reached. `None` when there is no such window.
    last_read: Option<Cache<K, Arc<Entry<V>>>>,
    /// Keys with a background read queued or running.
    refreshing: Mutex<HashSet<K>>,
    /// The hit counter, looked up once: a lookup by name and label on every hit cost as much as
    /// the hit itself. Made on the first hit, after the recorder is installed.
    hits: OnceLock<metrics::Counter>,
}

impl<K, V> Table<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(windows: Windows) -> Self {
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
    fn lookup(&self, key: &K, epochs: &Epochs) -> Option<(Arc<Entry<V>>, bool)> {
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
    fn hit(&self, key: &K, epochs: &Epochs) -> Option<Arc<Entry<V>>> {
        self.lookup(key, epochs).map(|(entry, _)| entry)
    }

    /// The entry for `key`, from the cache or from `load`; concurrent misses share one load.
    fn get(&self, key: &K, epochs: &Epochs, load: impl Fn() -> RepoResult<Option<V>>) -> RepoResult<Arc<Entry<V>>> {
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
    fn needs_primary(&self, key: &K, epochs: &Epochs) -> bool {
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
    fn keep(&self, key: &K, entry: &Arc<Entry<V>>) {
        if let Some(last_read) = &self.last_read {
            last_read.insert(key.clone(), entry.clone());
        }
    }

    /// What was last read of `key`, if it is still current and within the unavailability window:
    /// the answer when reading it again failed because the database cannot be reached.
    fn last_read(&self, key: &K, epochs: &Epochs) -> Option<Arc<Entry<V>>> {
        // The tombstone check in `current` covers a forget that raced with `keep`.
        self.last_read.as_ref()?.get(key).filter(|entry| self.current(key, entry, epochs))
    }

    /// Reads `key` again on its next lookup, for a change that matters to no decision (its last
    /// use): no tombstone, and its last read still answers while the database cannot be reached.
    fn read_again(&self, key: &K, epochs: &Epochs) {
        epochs.next();
        self.entries.invalidate(key);
        // As in `forget`: copies remembered meanwhile are retired.
        epochs.next();
    }

    fn forget(&self, key: K, epochs: &Epochs) {
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
    fn claim_refresh(&self, key: &K) -> bool {
        self.refreshing.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone())
    }

    fn release_refresh(&self, key: &K) {
        self.refreshing.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    /// Reads `key` again and stores the answer (unless the read fails).
    fn refresh(&self, key: K, epochs: &Epochs, load: impl Fn() -> RepoResult<Option<V>>) {
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
fn read<V>(epochs: &Epochs, load: &impl Fn() -> RepoResult<Option<V>>) -> RepoResult<Arc<Entry<V>>> {
    let epoch = epochs.now();
    let read_at = Instant::now();
    let value = load()?;
    Ok(Arc::new(Entry { value, read_at, epoch }))
}

fn unshare(e: Arc<RepoError>) -> RepoError {
    Arc::try_unwrap(e).unwrap_or_else(|shared| (*shared).clone())
}

/// The state shared by the cache, its background reader and the change feed.
pub(crate) struct Tables {
    freshness: Duration,
    epochs: Epochs,
    api_keys: Table<ApiKeyId, KeyForAuth>,
    secret_keys: Table<SecretKeyId, SecretKeyForAuth>,
}

impl Tables {
    /// Reads every key again, as the change feed does when it listens again after a break: what
    /// was announced meanwhile is unknown, but nothing is known to have changed. The last reads
    /// stay, so that keys still answer if the break was the database's (a failover), each for its
    /// unavailability window only.
    pub(crate) fn read_all_again(&self) {
        // A replica may not hold what was announced meanwhile either.
        *self.epochs.everything_forgotten_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        self.epochs.next();
        self.api_keys.entries.invalidate_all();
        self.secret_keys.entries.invalidate_all();
        // As in `Table::forget`: copies remembered meanwhile are retired.
        self.epochs.next();
    }

    /// Notes whether the change feed listens now.
    pub(crate) fn set_listening(&self, listening: bool) {
        self.epochs.feed_listening.store(listening, Ordering::SeqCst);
    }

    /// Forgets what `change` makes wrong.
    pub(crate) fn forget(&self, change: Change) {
        match change {
            Change::ApiKey(id) => self.api_keys.forget(id, &self.epochs),
            Change::SecretKey(id) => self.secret_keys.forget(id, &self.epochs),
            Change::Everything => {
                *self.epochs.everything_forgotten_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                let epoch = self.epochs.next();
                self.epochs.everything_forgotten.fetch_max(epoch, Ordering::SeqCst);
                self.api_keys.entries.invalidate_all();
                self.secret_keys.entries.invalidate_all();
                if let Some(last_read) = &self.api_keys.last_read {
                    last_read.invalidate_all();
                }
                if let Some(last_read) = &self.secret_keys.last_read {
                    last_read.invalidate_all();
                }
                // As in `Table::forget`: copies remembered meanwhile are retired.
                self.epochs.next();
            }
        }
    }
}

/// A background read to do.
pub(crate) enum Refresh {
    ApiKey(ApiKeyId),
    SecretKey(SecretKeyId),
}

/// A kind of key the cache holds: its id type, what a lookup answers, and where it is kept.
pub(crate) trait Cached: Hash + Eq + Clone + Send + Sync + 'static {
    /// What a lookup answers when the key exists.
    type Value: Clone + Send + Sync + 'static;
    /// The kind's label in metrics.
    const KIND: &'static str;
    /// The table of this kind.
    fn table(tables: &Tables) -> &Table<Self, Self::Value>;
    /// A background read of this key.
    fn refresh(self) -> Refresh;
}

impl Cached for ApiKeyId {
    type Value = KeyForAuth;
    const KIND: &'static str = "api_key";
    fn table(tables: &Tables) -> &Table<Self, Self::Value> {
        &tables.api_keys
    }
    fn refresh(self) -> Refresh {
        Refresh::ApiKey(self)
    }
}

impl Cached for SecretKeyId {
    type Value = SecretKeyForAuth;
    const KIND: &'static str = "secret_key";
    fn table(tables: &Tables) -> &Table<Self, Self::Value> {
        &tables.secret_keys
    }
    fn refresh(self) -> Refresh {
        Refresh::SecretKey(self)
    }
}

/// Cached lookups of API keys and secret keys by id.
pub(crate) struct AuthCache {
    tables: Arc<Tables>,
    /// Queues background reads.
    refresh: SyncSender<Refresh>,
    /// The background reader; dropping it stops the reader and waits for it.
    _reader: Option<Background>,
}

impl fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCache")
            .field("freshness", &self.tables.freshness)
            .field("api_keys", &self.tables.api_keys.entries.entry_count())
            .field("secret_keys", &self.tables.secret_keys.entries.entry_count())
            .finish()
    }
}

impl AuthCache {
    /// A cache whose entries live as `windows` says, with a background reader on `pool` if
    /// `background` (without one, old entries simply expire).
    pub(crate) fn new(windows: Windows, pool: Pool<Manager>, background: bool) -> Self {
        let tables = Arc::new(Tables {
            freshness: windows.freshness,
            epochs: Epochs::default(),
            api_keys: Table::new(windows),
            secret_keys: Table::new(windows),
        });
        let (refresh, queue) = sync_channel(REFRESH_QUEUE);
        if !background {
            return Self { tables, refresh, _reader: None };
        }
        let reader = tables.clone();
        let background = background::spawn("keyward-cache-refresh", move |signal: &StopSignal| {
            refresh_in_background(&reader, &queue, &pool, signal);
        });
        if background.is_none() {
            tracing::warn!("no background reader for the key cache; entries will expire instead");
        }
        Self { tables, refresh, _reader: background }
    }

    /// The state the change feed forgets entries in.
    pub(crate) fn tables(&self) -> &Arc<Tables> {
        &self.tables
    }

    /// The key `id`, from the cache or from `load`, which is told how to read it. Errors are not
    /// cached.
    pub(crate) fn get<K: Cached>(
        &self,
        id: K,
        load: impl Fn(Read) -> RepoResult<Option<K::Value>>,
    ) -> RepoResult<Option<K::Value>> {
        let t = &self.tables;
        let table = K::table(t);
        let (entry, young) = match table.lookup(&id, &t.epochs) {
            Some(found) => {
                count_hit::<K>(table);
                found
            }
            None => {
                metrics::counter!("keyward_key_cache_misses_total", "kind" => K::KIND).increment(1);
                let wait = table.last_read(&id, &t.epochs).map(|_| WAIT_WITH_LAST_READ);
                // Asked at each attempt: a forget between two attempts sends the next to the primary.
                let read = || load(Read { wait, may_lag: !table.needs_primary(&id, &t.epochs) });
                let entry = match table.get(&id, &t.epochs, read) {
                    Ok(entry) => entry,
                    Err(RepoError::Unavailable(reason)) => {
                        let Some(entry) = table.last_read(&id, &t.epochs) else {
                            return Err(RepoError::Unavailable(reason));
                        };
                        metrics::counter!("keyward_key_cache_stale_answers_total", "kind" => K::KIND).increment(1);
                        return Ok(entry.value.clone());
                    }
                    Err(e) => return Err(e),
                };
                #[allow(clippy::cast_precision_loss)]
                metrics::gauge!("keyward_key_cache_entries", "kind" => K::KIND).set(table.entries.entry_count() as f64);
                (entry, false)
            }
        };
        if !young {
            self.refresh_if_old(table, id, &entry);
        }
        Ok(entry.value.clone())
    }

    /// The key `id` if the cache holds it; never touches the database.
    pub(crate) fn get_in_memory<K: Cached>(&self, id: K) -> Option<Option<K::Value>> {
        let t = &self.tables;
        let table = K::table(t);
        let (entry, young) = table.lookup(&id, &t.epochs)?;
        count_hit::<K>(table);
        if !young {
            self.refresh_if_old(table, id, &entry);
        }
        Some(entry.value.clone())
    }

    /// Forgets what a change made through this process makes wrong.
    pub(crate) fn forget(&self, change: Change) {
        self.tables.forget(change);
    }

    /// Reads a key again on its next lookup after a change that matters to no decision: its last
    /// use, recorded by the usage flush. Unlike [`AuthCache::forget`], the key's last read still
    /// answers while the database cannot be reached.
    pub(crate) fn read_again(&self, change: Change) {
        let t = &self.tables;
        match change {
            Change::ApiKey(id) => t.api_keys.read_again(&id, &t.epochs),
            Change::SecretKey(id) => t.secret_keys.read_again(&id, &t.epochs),
            Change::Everything => t.read_all_again(),
        }
    }

    /// Queues a background read of an entry served for more than half its window.
    fn refresh_if_old<K: Cached>(&self, table: &Table<K, K::Value>, key: K, entry: &Entry<K::Value>) {
        if entry.read_at.elapsed() < self.tables.freshness / 2 || !table.claim_refresh(&key) {
            return;
        }
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.refresh.try_send(key.clone().refresh())
        {
            table.release_refresh(&key);
        }
    }
}

fn count_hit<K: Cached>(table: &Table<K, K::Value>) {
    table.hits.get_or_init(|| metrics::counter!("keyward_key_cache_hits_total", "kind" => K::KIND)).increment(1);
}

/// The background reader: reads queued keys again until the cache is dropped.
fn refresh_in_background(tables: &Tables, queue: &Receiver<Refresh>, pool: &Pool<Manager>, signal: &StopSignal) {
    let connection = || pool.get().map_err(|e| RepoError::Unavailable(format!("no database connection: {e}")));
    let failed = |e: TxError| e.into_repo(domain::error::Entity::ApiKey);
    loop {
        if signal.stopped() {
            return;
        }
        let job = match queue.recv_timeout(Duration::from_millis(100)) {
            Ok(job) => job,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        match job {
            Refresh::ApiKey(id) => tables.api_keys.refresh(id, &tables.epochs, || {
                let mut conn = connection()?;
                crate::repos::api_key_for_auth(&mut conn, id).inspect_err(|_| conn.suspect()).map_err(failed)
            }),
            Refresh::SecretKey(id) => tables.secret_keys.refresh(id, &tables.epochs, || {
                let mut conn = connection()?;
                crate::repos::secret_key_for_auth(&mut conn, id).inspect_err(|_| conn.suspect()).map_err(failed)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    const LONG: Duration = Duration::from_secs(600);

    #[test]
    fn a_read_that_raced_with_a_change_is_not_served() {
        let epochs = Epochs::default();
        let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
        let reads = Cell::new(0);
        let entry = table
            .get(&1, &epochs, || {
                reads.set(reads.get() + 1);
                if reads.get() == 1 {
                    // The change commits and is forgotten while this read is under way.
                    table.forget(1, &epochs);
                    Ok(Some("before the change"))
                } else {
                    Ok(Some("after the change"))
                }
            })
            .unwrap();
        assert_eq!(entry.value, Some("after the change"));
        assert_eq!(reads.get(), 2);
        assert_eq!(table.hit(&1, &epochs).and_then(|e| e.value), Some("after the change"));
    }

    #[test]
    fn a_forget_drops_one_key_and_everything_drops_all() {
        let epochs = Epochs::default();
        let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
        for key in [1, 2] {
            table.get(&key, &epochs, || Ok(Some("row"))).unwrap();
        }
        table.forget(1, &epochs);
        assert!(table.hit(&1, &epochs).is_none());
        assert!(table.hit(&2, &epochs).is_some(), "other keys stay");

        let tables = Tables {
            freshness: LONG,
            epochs: Epochs::default(),
            api_keys: Table::new(Windows::fresh_for(LONG)),
            secret_keys: Table::new(Windows::fresh_for(LONG)),
        };
        let id = ApiKeyId::from_uuid(uuid::Uuid::from_u128(7));
        tables.api_keys.get(&id, &tables.epochs, || Ok(None)).unwrap();
        assert!(tables.api_keys.hit(&id, &tables.epochs).is_some(), "a negative entry is cached too");
        tables.forget(Change::Everything);
        assert!(tables.api_keys.hit(&id, &tables.epochs).is_none());
    }

    /// Puts `value` in the shared cache as a background read would, read at `read_at`.
    fn refreshed(table: &Table<u32, &'static str>, epochs: &Epochs, value: &'static str, read_at: Instant) {
        table.entries.insert(1, Arc::new(Entry { value: Some(value), read_at, epoch: epochs.now() }));
    }

    #[test]
    fn a_thread_serves_its_own_copy_for_half_the_window_then_takes_the_shared_entry() {
        let epochs = Epochs::default();
        let window = Duration::from_secs(2);
        let table: Table<u32, &str> = Table::new(Windows::fresh_for(window));
        table.get(&1, &epochs, || Ok(Some("first read"))).unwrap();
        assert_eq!(table.hit(&1, &epochs).and_then(|e| e.value), Some("first read"), "remembered by this thread");
        refreshed(&table, &epochs, "read again", Instant::now());
        assert_eq!(table.hit(&1, &epochs).and_then(|e| e.value), Some("first read"), "served from this thread's copy");
        let other = std::thread::scope(|s| s.spawn(|| table.hit(&1, &epochs).and_then(|e| e.value)).join().ok());
        assert_eq!(other.flatten(), Some("read again"), "another thread has no copy and asks the shared cache");
        std::thread::sleep(window / 2);
        assert_eq!(table.hit(&1, &epochs).and_then(|e| e.value), Some("read again"), "past half the window");
    }

    #[test]
    fn a_forget_retires_this_threads_copy_and_a_moved_epoch_retires_any_copy() {
        let epochs = Epochs::default();
        let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
        table.get(&1, &epochs, || Ok(Some("old"))).unwrap();
        assert!(table.hit(&1, &epochs).is_some());
        table.forget(1, &epochs);
        assert!(table.hit(&1, &epochs).is_none(), "this thread's copy is not served after the forget");

        // A thread that found the old entry current while a forget was under way: between the
        // forget's first number and its invalidation.
        table.get(&1, &epochs, || Ok(Some("old"))).unwrap();
        let old = table.entries.get(&1).unwrap();
        let during = epochs.next();
        table.front.remember(1, &old, during, LONG);
        table.entries.invalidate(&1);
        epochs.next();
        assert!(table.hit(&1, &epochs).is_none(), "the forget's second number retires the copy");
    }

    #[test]
    fn unknown_keys_are_not_remembered() {
        let epochs = Epochs::default();
        let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
        table.get(&1, &epochs, || Ok(None)).unwrap();
        assert!(table.hit(&1, &epochs).is_some_and(|e| e.value.is_none()), "the negative entry is cached");
        assert!(table.front.get(&1, epochs.now()).is_none(), "but not copied into the thread's front");
    }

    #[test]
    fn a_stale_background_read_does_not_undo_a_forget() {
        let epochs = Epochs::default();
        let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
        table.get(&1, &epochs, || Ok(Some("old"))).unwrap();
        assert!(table.claim_refresh(&1));
        table.refresh(1, &epochs, || {
            table.forget(1, &epochs);
            Ok(Some("old"))
        });
        assert!(table.hit(&1, &epochs).is_none(), "the refreshed entry predates the forget");
        assert!(table.claim_refresh(&1), "the refresh released its claim");
    }

    #[test]
    fn the_last_read_answers_while_the_database_cannot_be_reached_until_forgotten() {
        let epochs = Epochs::default();
        let table: Table<u32, &str> =
            Table::new(Windows { freshness: LONG, stale_if_unavailable: LONG, replica_lag: Duration::ZERO });
        table.get(&1, &epochs, || Ok(Some("read"))).unwrap();
        // The entry's window passes.
        table.entries.invalidate(&1);
        assert!(table.entries.get(&1).is_none());
        assert_eq!(table.last_read(&1, &epochs).and_then(|e| e.value), Some("read"), "the last read answers");
        table.forget(1, &epochs);
        assert!(table.last_read(&1, &epochs).is_none(), "a forgotten key has no last read");

        // A forget that lands between a read's currency check and its keeping.
        let entry = read(&epochs, &|| Ok(Some("raced"))).unwrap();
        table.forget(1, &epochs);
        table.keep(&1, &entry);
        assert!(table.last_read(&1, &epochs).is_none(), "the tombstone outlives the forget's race");

        // Forgetting everything forgets the last reads too.
        table.get(&2, &epochs, || Ok(Some("two"))).unwrap();
        let tables = Tables {
            freshness: LONG,
            epochs,
            api_keys: Table::new(Windows { freshness: LONG, stale_if_unavailable: LONG, replica_lag: Duration::ZERO }),
            secret_keys: Table::new(Windows {
                freshness: LONG,
                stale_if_unavailable: LONG,
                replica_lag: Duration::ZERO,
            }),
        };
        let id = ApiKeyId::from_uuid(uuid::Uuid::from_u128(9));
        tables.api_keys.get(&id, &tables.epochs, || Ok(None)).unwrap();
        assert!(tables.api_keys.last_read(&id, &tables.epochs).is_some());
        // The change feed listening again after a break: every key is read again, but the last
        // reads still answer while the database cannot be reached.
        tables.read_all_again();
        assert!(tables.api_keys.hit(&id, &tables.epochs).is_none(), "read again");
        assert!(tables.api_keys.last_read(&id, &tables.epochs).is_some(), "nothing is known to have changed");
        tables.forget(Change::Everything);
        assert!(tables.api_keys.last_read(&id, &tables.epochs).is_none());
    }

    #[test]
    fn a_key_read_again_for_its_last_use_keeps_its_last_read() {
        let epochs = Epochs::default();
        let table: Table<u32, &str> =
            Table::new(Windows { freshness: LONG, stale_if_unavailable: LONG, replica_lag: LONG });
        table.get(&1, &epochs, || Ok(Some("used"))).unwrap();
        table.read_again(&1, &epochs);
        assert!(table.hit(&1, &epochs).is_none(), "read again on its next lookup");
        assert_eq!(table.last_read(&1, &epochs).and_then(|e| e.value), Some("used"), "still answers in an outage");
        assert!(!table.tombstones.contains_key(&1), "nothing a replica could lack changed");
    }

    #[test]
    fn the_last_read_answers_for_the_unavailability_window_only() {
        let epochs = Epochs::default();
        let (freshness, stale) = (Duration::from_secs(1), Duration::from_secs(30));
        let table: Table<u32, &str> =
            Table::new(Windows { freshness, stale_if_unavailable: stale, replica_lag: Duration::ZERO });
        let long_ago = Instant::now().checked_sub(freshness + stale + Duration::from_secs(1)).unwrap();
        table.keep(&1, &Arc::new(Entry { value: Some("old"), read_at: long_ago, epoch: epochs.now() }));
        assert!(table.last_read(&1, &epochs).is_none(), "read longer ago than both windows");
        let recent = Instant::now().checked_sub(freshness + stale / 2).unwrap();
        table.keep(&1, &Arc::new(Entry { value: Some("recent"), read_at: recent, epoch: epochs.now() }));
        assert_eq!(table.last_read(&1, &epochs).and_then(|e| e.value), Some("recent"));

        let none: Table<u32, &str> = Table::new(Windows::fresh_for(freshness));
        none.get(&1, &epochs, || Ok(Some("read"))).unwrap();
        assert!(none.last_read(&1, &epochs).is_none(), "no unavailability window, no last read");
    }

    #[test]
    fn with_a_replica_a_key_is_read_from_the_primary_whenever_a_change_could_be_missing_from_it() {
        let windows = Windows { freshness: LONG, stale_if_unavailable: Duration::ZERO, replica_lag: LONG };
        let tables = Tables {
            freshness: LONG,
            epochs: Epochs::default(),
            api_keys: Table::new(windows),
            secret_keys: Table::new(windows),
        };
        let (one, two) = (ApiKeyId::from_uuid(uuid::Uuid::from_u128(1)), ApiKeyId::from_uuid(uuid::Uuid::from_u128(2)));
        let needs_primary = |id: &ApiKeyId| tables.api_keys.needs_primary(id, &tables.epochs);
        assert!(needs_primary(&one), "the change feed does not listen yet");
        tables.set_listening(true);
        assert!(!needs_primary(&one) && !needs_primary(&two), "nothing changed");
        tables.forget(Change::ApiKey(one));
        assert!(needs_primary(&one) && !needs_primary(&two), "only the changed key");
        tables.read_all_again();
        assert!(needs_primary(&two), "the feed listened again: what it missed is unknown");
        tables.set_listening(false);
        let none = Table::<ApiKeyId, KeyForAuth>::new(Windows::fresh_for(LONG));
        assert!(!none.needs_primary(&one, &tables.epochs), "no replica, nothing to avoid");
    }

    #[test]
    fn one_background_read_per_key_at_a_time() {
        let table: Table<u32, &str> = Table::new(Windows::fresh_for(LONG));
        assert!(table.claim_refresh(&1));
        assert!(!table.claim_refresh(&1), "a second claim waits for the first");
        assert!(table.claim_refresh(&2));
        table.release_refresh(&1);
        assert!(table.claim_refresh(&1));
    }

    /// The race the epochs exist for, run for real: one thread commits new versions of a key and
    /// forgets it after each commit, while others look it up as authentication does (their own
    /// copy, else the shared cache, else a read). A lookup that begins after a forget has
    /// returned must never see a version older than the one that forget was for, whichever
    /// tier answers. Bounded: a fixed number of commits, and the readers stop when they end.
    #[test]
    fn no_lookup_after_a_forget_sees_what_it_forgot() {
        use std::sync::atomic::AtomicBool;

        const COMMITS: u64 = 20_000;
        let epochs = Epochs::default();
        let table: Table<u32, u64> = Table::new(Windows::fresh_for(LONG));
        // The database's row, and the newest version whose forget has returned.
        let row = AtomicU64::new(0);
        let forgotten = AtomicU64::new(0);
        let done = AtomicBool::new(false);
        let lookups = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    while !done.load(Ordering::SeqCst) {
                        let floor = forgotten.load(Ordering::SeqCst);
                        let entry = match table.lookup(&1, &epochs) {
                            Some((entry, _)) => entry,
                            None => table.get(&1, &epochs, || Ok(Some(row.load(Ordering::SeqCst)))).unwrap(),
                        };
                        let seen = entry.value.unwrap_or_default();
                        assert!(seen >= floor, "served version {seen} after the forget of version {floor}");
                        lookups.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            s.spawn(|| {
                for version in 1..=COMMITS {
                    row.store(version, Ordering::SeqCst);
                    table.forget(1, &epochs);
                    forgotten.store(version, Ordering::SeqCst);
                    if version % 64 == 0 {
                        // Let the readers cache and copy the current version between commits.
                        std::thread::yield_now();
                    }
                }
                done.store(true, Ordering::SeqCst);
            });
        });
        assert!(lookups.load(Ordering::Relaxed) > 0, "the readers ran");
    }

    #[test]
    fn changes_travel_as_payloads() {
        let ak = Change::ApiKey(ApiKeyId::from_uuid(uuid::Uuid::from_u128(1)));
        let sk = Change::SecretKey(SecretKeyId::from_uuid(uuid::Uuid::from_u128(2)));
        for change in [ak, sk, Change::Everything] {
            assert_eq!(Change::from_payload(&change.to_payload()), change);
        }
        assert_eq!(Change::from_payload("ak:not-an-id"), Change::Everything, "unreadable means everything");
    }
}
