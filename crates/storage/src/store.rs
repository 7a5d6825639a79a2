//! The [`Store`]: a connection pool and the helpers every repository method goes through.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::Connection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use domain::error::Entity;
use domain::repository::{RepoError, RepoResult};

use crate::auth_cache::{AuthCache, Change, FRESHNESS};
use crate::batch_writer::BatchWriter;
use crate::connection::{Backend, DatabaseUrl, DbConnection, Manager};
use crate::error::TxError;
use crate::group_sync::GroupSync;
use crate::replica::Replica;
use crate::{StorageError, migrate};

/// How often a change that lost a race with another change of the same row is re-run.
const MAX_ATTEMPTS: usize = 8;

/// How long a request waits for a pooled connection. On PostgreSQL it also caps how long r2d2
/// waits before it tries a failed connection again: the wait doubles from 200 ms up to half this
/// timeout. At 10 s a failover's connections were next tried up to 5 s after a new primary was
/// up, and writes stayed refused for 4 to 13 s after it; at 4 s the retries come at most 2 s apart.
fn pool_timeout(backend: Backend) -> Duration {
    match backend {
        Backend::Postgres => Duration::from_secs(4),
        Backend::Sqlite => Duration::from_secs(10),
    }
}

/// On PostgreSQL, locks row `id` of `table` until the transaction ends, so that concurrent
/// read-modify-writes of one row queue up instead of racing; answers whether it locked. On SQLite,
/// writers are already serialized and nothing needs doing.
pub(crate) fn lock_row(conn: &mut DbConnection, table: &'static str, id: &str) -> diesel::QueryResult<bool> {
    use diesel::RunQueryDsl;
    match conn {
        DbConnection::Postgresql(pg) => {
            diesel::sql_query(format!("SELECT id FROM {table} WHERE id = $1 FOR UPDATE"))
                .bind::<diesel::sql_types::Text, _>(id)
                .execute(pg)?;
            Ok(true)
        }
        DbConnection::Sqlite(_) => Ok(false),
    }
}

/// Keyward's storage: implements every repository trait of the domain.
#[derive(Debug)]
pub struct Store {
    pool: Pool<Manager>,
    backend: Backend,
    /// SQLite allows one writer at a time; taking this lock before a write transaction keeps
    /// writers of this process queued here instead of failing with "database is locked".
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// SQLite commits become durable here, several per `fsync`.
    group_sync: Option<Arc<GroupSync>>,
    /// SQLite: small writes of many requests, one transaction and one `fsync` for all of them.
    batch: Option<BatchWriter>,
    /// Key lookups for authentication, kept for at most the freshness window.
    auth_cache: AuthCache,
    /// Write transactions committed, for tests and the metrics.
    commits: Arc<std::sync::atomic::AtomicU64>,
    /// The change feed's thread (PostgreSQL); dropping it stops the thread and waits for it.
    _change_feed: Option<crate::background::Background>,
    /// The read replica, if one is configured (PostgreSQL).
    replica: Option<Replica>,
}

/// How a store connects and caches, beyond its URL.
#[derive(Debug, Clone)]
pub struct Options {
    /// The longest a cached key lookup is served (see [`FRESHNESS`]).
    pub freshness: Duration,
    /// Whether PostgreSQL connections keep named prepared statements, cached per connection.
    /// Turned off, every query is sent with unnamed statements, which a pooler in transaction mode
    /// that cannot track prepared statements (PgBouncer before 1.21) passes through.
    pub prepared_statements: bool,
    /// Where the change feed listens, when not at the store's URL: a pooler in transaction mode
    /// cannot hold a `LISTEN`, so the feed connects to the server directly.
    pub change_feed_url: Option<String>,
    /// How long past its freshness a cached key lookup still answers while the database cannot
    /// be reached (a failover): zero refuses at once.
    pub stale_if_unavailable: Duration,
    /// A read replica (PostgreSQL hot standbys) for the reads that may lag (see
    /// [`crate::replica`]).
    pub read_url: Option<DatabaseUrl>,
    /// How far behind the primary the replica may be for a read to go to it.
    pub read_max_lag: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            freshness: FRESHNESS,
            prepared_statements: true,
            change_feed_url: None,
            stale_if_unavailable: Duration::ZERO,
            read_url: None,
            read_max_lag: Duration::from_secs(1),
        }
    }
}

impl Store {
    /// Opens a pool of connections to `url`, caching key lookups for [`FRESHNESS`]. Does not
    /// migrate; see [`Store::migrate`].
    pub fn open(url: &DatabaseUrl) -> Result<Self, StorageError> {
        Self::open_with(url, FRESHNESS)
    }

    /// The same, serving cached key lookups for at most `freshness`: how long a change made by
    /// another node can go unseen here if its announcement is lost.
    pub fn open_with(url: &DatabaseUrl, freshness: Duration) -> Result<Self, StorageError> {
        Self::open_inner(url, &Options { freshness, ..Options::default() }, true)
    }

    /// The same, set up as `options` says.
    pub fn open_with_options(url: &DatabaseUrl, options: &Options) -> Result<Self, StorageError> {
        Self::open_inner(url, options, true)
    }

    /// For a one-shot command (`migrate`, `init`, `admin ...`): no background threads at all (no
    /// change feed, no background cache reads), so nothing can be inside libpq's TLS on another
    /// thread when the command's process exits.
    pub fn open_for_command(url: &DatabaseUrl, options: &Options) -> Result<Self, StorageError> {
        Self::open_inner(url, options, false)
    }

    fn open_inner(url: &DatabaseUrl, options: &Options, background: bool) -> Result<Self, StorageError> {
        if let DatabaseUrl::Sqlite(path) = url
            && let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|e| StorageError::Connect(format!("{}: {e}", parent.display())))?;
        }
        let size = pool_size(url.backend());
        // One direct attempt first, so that a wrong URL fails at once with the driver's reason
        // instead of after the pool's connection timeout.
        let manager = Manager::new(url.clone(), options.prepared_statements);
        manager.connect().map_err(|e| StorageError::Connect(format!("{url}: {e}")))?;
        let pool = Pool::builder()
            .max_size(size)
            // No idle connections made ahead of need: r2d2 makes those on its own worker threads
            // after a checkout, and one still in its TLS handshake when the process exits crashes
            // it (OpenSSL is torn down under it). On demand, a checkout waits for its connection.
            .min_idle(Some(0))
            .connection_timeout(pool_timeout(url.backend()))
            .build(manager)
            .map_err(|e| StorageError::Connect(format!("{url}: {e}")))?;
        let sqlite_writer = (url.backend() == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let group_sync = match url {
            DatabaseUrl::Sqlite(path) => Some(Arc::new(GroupSync::new(path))),
            DatabaseUrl::Postgres(_) => None,
        };
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let batch = match (&sqlite_writer, &group_sync) {
            (Some(writer), Some(sync)) if background => BatchWriter::start(crate::batch_writer::Shared {
                pool: pool.clone(),
                writer: writer.clone(),
                sync: sync.clone(),
                commits: commits.clone(),
            }),
            _ => None,
        };
        let replica = match &options.read_url {
            Some(read_url @ DatabaseUrl::Postgres(_)) if url.backend() == Backend::Postgres => {
                let replica_pool = Pool::builder()
                    .max_size(size)
                    .min_idle(Some(0))
                    .connection_timeout(pool_timeout(Backend::Postgres))
                    .build(Manager::for_reads(read_url.clone(), options.prepared_statements))
                    .map_err(|e| StorageError::Connect(format!("{read_url}: {e}")))?;
                Some(Replica::new(replica_pool, pool.clone(), options.read_max_lag, background))
            }
            Some(read_url) => {
                return Err(StorageError::Connect(format!(
                    "{read_url}: a read replica needs PostgreSQL, for the database and the replica alike"
                )));
            }
            None => None,
        };
        let windows = crate::auth_cache::Windows {
            freshness: options.freshness,
            stale_if_unavailable: options.stale_if_unavailable,
            replica_lag: if replica.is_some() { options.read_max_lag } else { Duration::ZERO },
        };
        let auth_cache = AuthCache::new(windows, pool.clone(), background);
        let change_feed = match url {
            DatabaseUrl::Postgres(pg) if background => {
                let feed = options.change_feed_url.clone().unwrap_or_else(|| pg.clone());
                crate::change_feed::listen(feed, Arc::downgrade(auth_cache.tables()))
            }
            _ => None,
        };
        Ok(Self {
            pool,
            backend: url.backend(),
            sqlite_writer,
            group_sync,
            batch,
            auth_cache,
            commits,
            _change_feed: change_feed,
            replica,
        })
    }

    /// Applies pending migrations and returns the versions it applied.
    pub fn migrate(&self) -> Result<Vec<String>, StorageError> {
        let mut conn = self.pool.get().map_err(|e| StorageError::Connect(e.to_string()))?;
        migrate::run(&mut conn)
    }

    /// How many write transactions this store has committed: what batching saves shows here.
    pub fn commits(&self) -> u64 {
        self.commits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The key-lookup cache.
    pub(crate) fn auth_cache(&self) -> &AuthCache {
        &self.auth_cache
    }

    /// Forgets cached lookups that a committed change made wrong (other nodes learn of it from
    /// the announcement made inside the change's transaction).
    pub(crate) fn forget(&self, change: Change) {
        self.auth_cache.forget(change);
    }

    fn conn(&self) -> RepoResult<PooledConnection<Manager>> {
        self.conn_within(None)
    }

    /// A connection, waiting at most `wait` for one (the pool's timeout if `None`).
    fn conn_within(&self, wait: Option<Duration>) -> RepoResult<PooledConnection<Manager>> {
        let started = std::time::Instant::now();
        let conn = wait.map_or_else(|| self.pool.get(), |wait| self.pool.get_timeout(wait)).map_err(|e| {
            tracing::error!(error = %e, "no database connection available");
            RepoError::Unavailable(format!("no database connection available: {e}"))
        });
        metrics::histogram!("keyward_db_pool_wait_seconds").record(started.elapsed().as_secs_f64());
        let state = self.pool.state();
        metrics::gauge!("keyward_db_pool_connections_in_use")
            .set(f64::from(state.connections - state.idle_connections));
        metrics::gauge!("keyward_db_pool_connections").set(f64::from(state.connections));
        conn
    }

    /// Runs a read-only query.
    pub(crate) fn read<T>(
        &self,
        entity: Entity,
        f: impl FnOnce(&mut DbConnection) -> Result<T, TxError>,
    ) -> RepoResult<T> {
        self.read_within(None, entity, f)
    }

    /// Runs a read-only query that may lag by the replica's bound if `may_lag`: on the read
    /// replica while it is current enough, else on the primary.
    pub(crate) fn read_lagging<T>(
        &self,
        may_lag: bool,
        entity: Entity,
        f: impl FnOnce(&mut DbConnection) -> Result<T, TxError>,
    ) -> RepoResult<T> {
        self.read_lagging_within(None, may_lag, entity, f)
    }

    /// The same, waiting at most `wait` for a primary connection.
    pub(crate) fn read_lagging_within<T>(
        &self,
        wait: Option<Duration>,
        may_lag: bool,
        entity: Entity,
        f: impl FnOnce(&mut DbConnection) -> Result<T, TxError>,
    ) -> RepoResult<T> {
        let replica = self.replica.as_ref().filter(|_| may_lag).and_then(Replica::connection);
        let Some(mut conn) = replica else { return self.read_within(wait, entity, f) };
        let outcome = f(&mut conn);
        if outcome.is_err() {
            conn.suspect();
        }
        outcome.map_err(|e| e.into_repo(entity))
    }

    /// Runs a read-only query, waiting at most `wait` for a connection (the pool's timeout if
    /// `None`).
    pub(crate) fn read_within<T>(
        &self,
        wait: Option<Duration>,
        entity: Entity,
        f: impl FnOnce(&mut DbConnection) -> Result<T, TxError>,
    ) -> RepoResult<T> {
        let mut conn = self.conn_within(wait)?;
        let outcome = f(&mut conn);
        if outcome.is_err() {
            conn.suspect();
        }
        outcome.map_err(|e| e.into_repo(entity))
    }

    /// Runs `f` in one write transaction: all of it is committed, or none of it.
    pub(crate) fn write<T>(
        &self,
        entity: Entity,
        f: impl FnOnce(&mut DbConnection) -> Result<T, TxError>,
    ) -> RepoResult<T> {
        self.transaction(f).map_err(|e| e.into_repo(entity))
    }

    /// Runs `f` in a write transaction like [`Store::write`]; on SQLite, as a savepoint of a batch
    /// that commits the writes of many requests at once (see [`crate::batch_writer`]). For small
    /// inserts on the hot paths; `f` must own what it writes.
    pub(crate) fn write_batched<T: Send + 'static>(
        &self,
        entity: Entity,
        f: impl FnOnce(&mut DbConnection) -> Result<T, TxError> + Send + 'static,
    ) -> RepoResult<T> {
        match &self.batch {
            Some(batch) => batch.run(f).map_err(|e| e.into_repo(entity)),
            None => self.write(entity, f),
        }
    }

    /// Runs a read-modify-write of one row in a transaction until it commits with no concurrent
    /// change in between. `attempt` answers `None` when its versioned update matched no row (the
    /// row changed since it was read); the attempt is then re-run on the new row.
    pub(crate) fn read_modify_write<T>(
        &self,
        entity: Entity,
        mut attempt: impl FnMut(&mut DbConnection) -> Result<Option<T>, TxError>,
    ) -> Result<T, domain::Error> {
        for _ in 0..MAX_ATTEMPTS {
            match self.transaction(&mut attempt) {
                Ok(Some(done)) => return Ok(done),
                Ok(None) => continue,
                Err(e) => return Err(e.into_domain(entity)),
            }
        }
        Err(domain::Error::Unavailable("the row kept changing concurrently; try again".to_owned()))
    }

    /// Runs `f` in one write transaction and hands back its error as it is. Returns once the
    /// transaction is durable.
    pub(crate) fn transaction<T>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, TxError>) -> Result<T, TxError> {
        let mut pooled = self.conn().map_err(TxError::Repo)?;
        let guard = self.sqlite_writer.as_ref().map(|m| m.lock().unwrap_or_else(|p| p.into_inner()));
        let conn: &mut DbConnection = &mut pooled;
        let committed = conn.transaction(f).inspect_err(|_| pooled.suspect())?;
        self.commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // The next writer may commit while this one waits for the disk: that is the grouping.
        drop(guard);
        if let Some(group) = &self.group_sync {
            group.wait_durable().map_err(|e| {
                tracing::error!(error = %e, "syncing the SQLite log failed");
                TxError::Repo(RepoError::Unavailable(format!("syncing the database to disk failed: {e}")))
            })?;
        }
        Ok(committed)
    }
}

/// How many blocking operations a server should let run at once against `backend`. On
/// PostgreSQL, one per connection: more only queue on the pool (measured: the same throughput, p99
/// doubled). On SQLite, four per connection: key creations wait in the batch writer without
/// holding a connection, and more of them in flight make bigger batches (6.4k → 10k creations a
/// second with 64 clients), while reads run as fast as with one per connection.
pub fn blocking_slots(backend: Backend) -> usize {
    let connections = pool_size(backend) as usize;
    match backend {
        Backend::Sqlite => 4 * connections,
        Backend::Postgres => connections,
    }
}

/// How many connections the store keeps to `backend`: SQLite has one writer at a time and two
/// cores' worth of readers; PostgreSQL spends much of a statement waiting on the network.
pub fn pool_size(backend: Backend) -> u32 {
    match backend {
        Backend::Sqlite => 8,
        Backend::Postgres => 16,
    }
}
