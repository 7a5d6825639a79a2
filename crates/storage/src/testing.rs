//! Test support: every test gets its own database, on either backend.
//!
//! SQLite tests get a fresh file in a temporary directory. PostgreSQL tests get a fresh schema in
//! the server named by `KEYWARD_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped when the test ends. When that server cannot be
//! reached the test fails and says how to start one (`cargo xtask test` does), unless
//! `KEYWARD_TEST_SKIP_POSTGRES=1` is set, in which case it prints that it skipped.

use std::fmt;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use tempfile::TempDir;

use crate::{DatabaseUrl, Store};

/// The PostgreSQL server tests use when `KEYWARD_TEST_DATABASE_URL` is not set.
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL server the tests use.
pub fn postgres_server() -> String {
    std::env::var("KEYWARD_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

/// A database that exists for one test.
pub struct TestDb {
    url: DatabaseUrl,
    _dir: Option<TempDir>,
    pg_schema: Option<(String, String)>,
    /// A database of its own (server URL, name), for tests that change database-wide settings.
    pg_database: Option<(String, String)>,
}

impl fmt::Debug for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TestDb({})", self.url)
    }
}

fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}_{}_{}", std::process::id(), nanos % 1_000_000_000_000, COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl TestDb {
    /// A new SQLite file in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("keyward.db");
        Self {
            url: DatabaseUrl::Sqlite(path.display().to_string()),
            _dir: Some(dir),
            pg_schema: None,
            pg_database: None,
        }
    }

    /// A new schema in the test PostgreSQL server, or `None` when PostgreSQL tests are skipped.
    pub fn postgres() -> Option<Self> {
        let server = postgres_server();
        let mut admin = admin_connection(&server)?;
        let schema = format!("kw_test_{}", unique_suffix());
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).expect("create a test schema");
        let sep = if server.contains('?') { '&' } else { '?' };
        // libpq's default TLS mode (`prefer`): TLS whenever the server offers it, as in production.
        let url = format!("{server}{sep}options=-c%20search_path%3D{schema}");
        Some(Self { url: DatabaseUrl::Postgres(url), _dir: None, pg_schema: Some((server, schema)), pg_database: None })
    }

    /// A new database of its own in the test PostgreSQL server, dropped when the test ends: for a
    /// test that changes database-wide settings (making it read-only), or that reaches it through
    /// a pooler that cannot pass a schema's search path on. `None` when PostgreSQL tests are
    /// skipped.
    pub fn postgres_database() -> Option<Self> {
        let server = postgres_server();
        let mut admin = admin_connection(&server)?;
        let name = format!("kw_test_{}", unique_suffix());
        admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a test database");
        let url = with_database(&server, &name);
        Some(Self { url: DatabaseUrl::Postgres(url), _dir: None, pg_schema: None, pg_database: Some((server, name)) })
    }

    /// The name of this test's own database (see [`TestDb::postgres_database`]).
    pub fn database_name(&self) -> Option<&str> {
        self.pg_database.as_ref().map(|(_, name)| name.as_str())
    }

    /// Runs `sql` on the test server as its administrator (not in this test's database).
    pub fn as_admin(&self, sql: &str) {
        let server = postgres_server();
        let mut admin = PgConnection::establish(&server).expect("reach the test server");
        admin.batch_execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The database's URL.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The database's URL as a string, for a process's environment.
    pub fn url_string(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }

    /// A migrated store on this database.
    pub fn store(&self) -> Store {
        self.store_fresh_for(crate::auth_cache::FRESHNESS)
    }

    /// The same, serving cached key lookups for at most `freshness`: a test of what the cache
    /// forgets uses a long one, so that a slow machine cannot make an entry stale on its own.
    ///
    /// On PostgreSQL it returns once the change feed listens. The feed reads every key again when
    /// it begins to (what was announced before is unknown), which would otherwise empty the cache
    /// at a moment of its own choosing, in the middle of a test of what the cache holds.
    pub fn store_fresh_for(&self, freshness: std::time::Duration) -> Store {
        let store = Store::open_with(&self.url, freshness).expect("open the test database");
        store.migrate().expect("migrate the test database");
        if matches!(self.url, DatabaseUrl::Postgres(_)) {
            let listening = store.auth_cache().tables().wait_until_listening(std::time::Duration::from_secs(30));
            assert!(listening, "the change feed did not listen within 30 s");
        }
        store
    }
}

/// `server` with its database (the URL's path) replaced by `name`, its query kept.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = server.split_once('?').map_or((server, None), |(b, q)| (b, Some(q)));
    let (prefix, _) = base.rsplit_once('/').unwrap_or((base, ""));
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

/// An administrator's connection to the test server, or `None` when PostgreSQL tests are skipped.
fn admin_connection(server: &str) -> Option<PgConnection> {
    match PgConnection::establish(server) {
        Ok(c) => Some(c),
        Err(e) if std::env::var("KEYWARD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") => {
            eprintln!("SKIPPED: PostgreSQL test, {server} unreachable ({e}) and KEYWARD_TEST_SKIP_POSTGRES=1");
            None
        }
        Err(e) => panic!(
            "PostgreSQL is not reachable at {server}: {e}. Run the tests with `cargo xtask test`, which starts \
             a throwaway server, or set KEYWARD_TEST_DATABASE_URL, or KEYWARD_TEST_SKIP_POSTGRES=1 to skip them."
        ),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((server, schema)) = &self.pg_schema
            && let Ok(mut admin) = PgConnection::establish(server)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
        if let Some((server, name)) = &self.pg_database
            && let Ok(mut admin) = PgConnection::establish(server)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Runs each named test function, which takes a [`TestDb`], once on SQLite and once on PostgreSQL,
/// as `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::testing::TestDb::sqlite()); } )*
        }
        mod postgres {
            $( #[test] fn $name() { if let Some(db) = $crate::testing::TestDb::postgres() { super::$name(db); } } )*
        }
    };
}
