//! Database URLs, the two-backend connection type, and the connection pool's manager.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;

use crate::StorageError;
use crate::hosts::{ReadWriteHosts, Refusal};

/// One connection to either backend. Queries are written once against this type.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL.
    Postgresql(PgConnection),
    /// SQLite; last, because SQLite accepts any string as a path.
    Sqlite(SqliteConnection),
}

/// Runs one statement on the backend's own connection type rather than through [`DbConnection`].
/// The statement is written once; it is compiled for each backend. Diesel caches a statement of a
/// concrete backend by its type, while through the two-backend connection it renders the SQL text
/// on every run to find the cached statement: for an insert of a key, that rendering cost more
/// than SQLite's execution of it. Used on the hot paths (key creation, authentication reads).
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $statement:expr) => {
        match $conn {
            $crate::connection::DbConnection::Sqlite($c) => $statement,
            $crate::connection::DbConnection::Postgresql($c) => $statement,
        }
    };
}
pub(crate) use on_backend;

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server (or a compatible cluster).
    Postgres,
}

/// A database location: `postgres://` or `postgresql://` URLs select PostgreSQL; `sqlite://PATH`,
/// `sqlite:PATH` or a bare file path select SQLite.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// The path of a SQLite file.
    Sqlite(String),
    /// A libpq connection URL.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a URL or path.
    pub fn parse(s: &str) -> Result<Self, StorageError> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(s.to_owned()));
        }
        let path = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")).unwrap_or(s);
        if path.is_empty() || path.contains("://") {
            return Err(StorageError::Url(redact(s)));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    /// The backend it selects.
    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }
}

/// The URL with any password replaced, fit for logs and errors.
fn redact(url: &str) -> String {
    let url = match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:[REDACTED]{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    };
    // libpq also takes the password as a query parameter (`?password=...`).
    match url.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[REDACTED]"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => url,
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite:{path}"),
            DatabaseUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// SQLite settings applied to every new connection: write-ahead logging so readers never block the
/// writer, foreign keys enforced, a busy wait instead of an immediate error under contention, and
/// `synchronous = NORMAL`: a commit does not wait for the disk itself, because the store's group
/// commit ([`crate::group_sync`]) syncs the log before any write is acknowledged.
/// `case_sensitive_like = ON`: scopes are case-sensitive, and SQLite's `LIKE` otherwise folds ASCII
/// case where PostgreSQL's does not.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA case_sensitive_like = ON;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 10000;";

/// How long after its last use a pooled connection is handed out again without a ping. Under
/// load every checkout would otherwise cost a `SELECT 1` (a round trip on PostgreSQL, a parse on
/// SQLite); a connection idle for longer is pinged first, so one a restarted server dropped is
/// replaced instead of failing a request. HikariCP's "alive bypass window" is the same idea.
const ALIVE_BYPASS: Duration = Duration::from_millis(500);

/// A pooled connection and when it was last known to work.
pub(crate) struct Pooled {
    conn: DbConnection,
    /// When it was made, last pinged, or last given back to the pool after working; `None` once
    /// a statement on it failed, so that the next checkout pings it.
    alive_at: Option<Instant>,
}

impl Pooled {
    /// Notes that a statement failed: the connection may be dead, so it is pinged before its next
    /// use instead of trusted for the bypass window.
    pub(crate) fn suspect(&mut self) {
        self.alive_at = None;
    }
}

impl Deref for Pooled {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// Opens connections of the backend the URL selects; the pool's connection factory.
#[derive(Debug, Clone)]
pub(crate) struct Manager {
    url: DatabaseUrl,
    /// Whether PostgreSQL connections cache named prepared statements.
    prepared_statements: bool,
    /// The URL's hosts, when it names several and asks for a writable one: tried here in turn.
    hosts: Option<std::sync::Arc<ReadWriteHosts>>,
    /// Whether its connections must take writes (every pool but a read replica's).
    writes: bool,
}

impl Manager {
    pub(crate) fn new(url: DatabaseUrl, prepared_statements: bool) -> Self {
        let hosts = match &url {
            DatabaseUrl::Postgres(url) => ReadWriteHosts::parse(url).map(std::sync::Arc::new),
            DatabaseUrl::Sqlite(_) => None,
        };
        Self { url, prepared_statements, hosts, writes: true }
    }

    /// For a read replica's pool: its servers need not take writes.
    pub(crate) fn for_reads(url: DatabaseUrl, prepared_statements: bool) -> Self {
        Self { url, prepared_statements, hosts: None, writes: false }
    }

    /// A connection to `url`, or to the first of its hosts whose server takes writes.
    fn connect_postgres(&self, url: &str) -> Result<PgConnection, r2d2::Error> {
        let Some(hosts) = &self.hosts else {
            return connect_postgres(url).map_err(r2d2::Error::ConnectionError);
        };
        hosts.connect(
            |url| connect_postgres(url).map_err(r2d2::Error::ConnectionError),
            |conn| match conn.batch_execute(READ_WRITE_PING) {
                Ok(()) => Ok(()),
                Err(e) if e.to_string().contains(READ_ONLY) => Err(Refusal::ReadOnly),
                Err(e) => Err(Refusal::Failed(r2d2::Error::QueryError(e))),
            },
            || r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(format!("{READ_ONLY}: every host"))),
        )
    }
}

/// Opens a PostgreSQL connection, OpenSSL set up first so that it registers no exit handler.
///
/// libpq initializes OpenSSL on its first TLS connection, and by default OpenSSL then frees its
/// state from an `atexit` handler. A thread still inside a TLS handshake when the process exits
/// (a pool's or the change feed's) then runs on freed memory: an exit with SIGSEGV, seen about
/// once in ten test runs (docs/reliability.md). OpenSSL's first initialization decides, so it
/// happens here, before any connection, with `OPENSSL_INIT_NO_ATEXIT` (which `openssl_sys::init`
/// passes); the operating system reclaims the memory at exit anyway.
pub(crate) fn connect_postgres(url: &str) -> diesel::ConnectionResult<PgConnection> {
    openssl_sys::init();
    PgConnection::establish(url)
}

/// Fails on a PostgreSQL server that cannot take writes (a hot standby, or one set read-only).
const READ_WRITE_PING: &str = "DO $$ BEGIN IF current_setting('transaction_read_only')::boolean THEN \
     RAISE EXCEPTION 'the database server is read-only'; END IF; END $$";
/// What [`READ_WRITE_PING`] says on a read-only server.
const READ_ONLY: &str = "the database server is read-only";

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        let conn = match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(r2d2::Error::QueryError)?;
                DbConnection::Sqlite(conn)
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = self.connect_postgres(url)?;
                if !self.prepared_statements {
                    conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
                }
                DbConnection::Postgresql(conn)
            }
        };
        Ok(Pooled { conn, alive_at: Some(Instant::now()) })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), r2d2::Error> {
        if conn.alive_at.is_some_and(|at| at.elapsed() < ALIVE_BYPASS) {
            return Ok(());
        }
        let ping = match conn.conn {
            // A server that took writes may since have become a standby (a failover demoted it):
            // such a connection is replaced, and a new one (with `target_session_attrs=read-write`
            // in the URL) reaches the new primary, its hosts tried in turn (see `crate::hosts`).
            DbConnection::Postgresql(_) if self.writes => READ_WRITE_PING,
            DbConnection::Postgresql(_) => "SELECT 1",
            DbConnection::Sqlite(_) => "SELECT 1",
        };
        conn.conn.batch_execute(ping).map_err(r2d2::Error::QueryError)?;
        conn.alive_at = Some(Instant::now());
        Ok(())
    }

    /// Called as the connection goes back to the pool: a connection left inside a broken
    /// transaction is dropped; one whose statements worked counts as alive now.
    fn has_broken(&self, conn: &mut Pooled) -> bool {
        use diesel::r2d2::R2D2Connection;
        if conn.conn.is_broken() {
            return true;
        }
        if conn.alive_at.is_some() {
            conn.alive_at = Some(Instant::now());
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;

    use super::*;

    #[test]
    fn the_scheme_selects_the_backend() {
        assert_eq!(DatabaseUrl::parse("postgres://u@h/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(DatabaseUrl::parse("postgresql://u@h/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(DatabaseUrl::parse("sqlite://./data/kw.db").unwrap(), DatabaseUrl::Sqlite("./data/kw.db".into()));
        assert_eq!(DatabaseUrl::parse("kw.db").unwrap(), DatabaseUrl::Sqlite("kw.db".into()));
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(DatabaseUrl::parse("").is_err());
    }

    /// The bundled SQLite is built as `.cargo/config.toml` asks: the query planner stability
    /// guarantee (no re-prepare per binding) and multi-thread mode (no mutex per call), which is
    /// safe only because a connection never serves two threads at once.
    #[test]
    fn the_bundled_sqlite_has_the_build_options_the_workspace_asks_for() {
        #[derive(diesel::QueryableByName)]
        struct CompileOption {
            #[diesel(sql_type = diesel::sql_types::Text)]
            compile_options: String,
        }
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        assert!(options.iter().any(|o| o == "THREADSAFE=2"), "{options:?}");
        assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "{options:?}");
    }

    #[test]
    fn passwords_never_reach_display() {
        let url = DatabaseUrl::parse("postgres://kw:hunter2@db:5432/kw").unwrap();
        assert_eq!(url.to_string(), "postgres://kw:[REDACTED]@db:5432/kw");
        assert!(!format!("{url:?}").contains("hunter2"));
        let several = DatabaseUrl::parse("postgres://kw:hunter2@db1:5432,db2:5432/kw?sslmode=require").unwrap();
        assert_eq!(several.to_string(), "postgres://kw:[REDACTED]@db1:5432,db2:5432/kw?sslmode=require");
        let in_query =
            DatabaseUrl::parse("postgres://db/kw?user=kw&password=hunter2&target_session_attrs=any").unwrap();
        assert_eq!(in_query.to_string(), "postgres://db/kw?user=kw&password=[REDACTED]&target_session_attrs=any");
    }
}
