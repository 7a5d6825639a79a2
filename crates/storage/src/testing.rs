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
        Self { url: DatabaseUrl::Sqlite(path.display().to_string()), _dir: Some(dir), pg_schema: None }
    }

    /// A new schema in the test PostgreSQL server, or `None` when PostgreSQL tests are skipped.
    pub fn postgres() -> Option<Self> {
        let server = postgres_server();
        let mut admin = match PgConnection::establish(&server) {
            Ok(c) => c,
            Err(e) if std::env::var("KEYWARD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") => {
                eprintln!("SKIPPED: PostgreSQL test, {server} unreachable ({e}) and KEYWARD_TEST_SKIP_POSTGRES=1");
                return None;
            }
            Err(e) => panic!(
                "PostgreSQL is not reachable at {server}: {e}. Run the tests with `cargo xtask test`, which starts \
                 a throwaway server, or set KEYWARD_TEST_DATABASE_URL, or KEYWARD_TEST_SKIP_POSTGRES=1 to skip them."
            ),
        };
        let schema = format!("kw_test_{}", unique_suffix());
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).expect("create a test schema");
        let sep = if server.contains('?') { '&' } else { '?' };
        // libpq's default TLS mode (`prefer`): TLS whenever the server offers it, as in production.
        let url = format!("{server}{sep}options=-c%20search_path%3D{schema}");
        Some(Self { url: DatabaseUrl::Postgres(url), _dir: None, pg_schema: Some((server, schema)) })
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
    pub fn store_fresh_for(&self, freshness: std::time::Duration) -> Store {
        let store = Store::open_with(&self.url, freshness).expect("open the test database");
        store.migrate().expect("migrate the test database");
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((server, schema)) = &self.pg_schema
            && let Ok(mut admin) = PgConnection::establish(server)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
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
