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
//! ([`table::front`]); a copy is served only while the epoch has not moved since it was found
//! current, which is why a forget takes a second number once it is complete.
//!
//! [`table`] holds one kind's entries and the epochs, with these rules; this module holds the
//! two kinds together, the background reader and the metrics.

mod table;
#[cfg(test)]
mod tests;

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use diesel::r2d2::Pool;
use domain::id::{ApiKeyId, SecretKeyId};
use domain::repository::{KeyForAuth, RepoError, RepoResult, SecretKeyForAuth};

use crate::background::{self, Background, StopSignal};
use crate::connection::Manager;
use crate::error::TxError;
use table::{Entry, Epochs, Table};
pub(crate) use table::{Read, Windows};

/// How long an entry may be served without asking the database again, unless configured.
pub const FRESHNESS: Duration = Duration::from_secs(1);
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

/// The state shared by the cache, its background reader and the change feed.
pub(crate) struct Tables {
    freshness: Duration,
    epochs: Epochs,
    api_keys: Table<ApiKeyId, KeyForAuth>,
    secret_keys: Table<SecretKeyId, SecretKeyForAuth>,
    /// Signalled whenever the change feed starts or stops listening, for whoever waits on it.
    listening_changed: (Mutex<()>, Condvar),
}

impl Tables {
    /// Empty tables whose entries live as `windows` says.
    fn new(windows: Windows) -> Self {
        Self {
            freshness: windows.freshness,
            epochs: Epochs::default(),
            api_keys: Table::new(windows),
            secret_keys: Table::new(windows),
            listening_changed: (Mutex::new(()), Condvar::new()),
        }
    }

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
        // Taken after the store, so that a waiter that found the flag unset is already waiting.
        let (lock, changed) = &self.listening_changed;
        drop(lock.lock().unwrap_or_else(|p| p.into_inner()));
        changed.notify_all();
    }

    /// Waits at most `within` until the change feed listens (and has read every key again since
    /// it began to); whether it does.
    pub(crate) fn wait_until_listening(&self, within: Duration) -> bool {
        let (lock, changed) = &self.listening_changed;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let listening = || self.epochs.feed_listening.load(Ordering::SeqCst);
        let (_guard, _) =
            changed.wait_timeout_while(guard, within, |()| !listening()).unwrap_or_else(|p| p.into_inner());
        listening()
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
        let tables = Arc::new(Tables::new(windows));
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
