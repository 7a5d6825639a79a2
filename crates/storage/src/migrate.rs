//! The embedded migrations of both backends, run at start-up or by `keyward migrate`.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::StorageError;
use crate::connection::DbConnection;

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// A lock id that keeps two nodes from migrating one PostgreSQL database at the same time.
const MIGRATION_LOCK: i64 = 0x6b_6579_7761_7264;

/// Applies pending migrations and returns the versions applied.
pub(crate) fn run(conn: &mut DbConnection) -> Result<Vec<String>, StorageError> {
    let fail = |e: &dyn std::fmt::Display| StorageError::Migrate(e.to_string());
    match conn {
        DbConnection::Sqlite(c) => {
            let applied = c.run_pending_migrations(SQLITE).map_err(|e| fail(&e))?;
            Ok(applied.iter().map(ToString::to_string).collect())
        }
        DbConnection::Postgresql(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(c).map_err(|e| fail(&e))?;
            let result = c.run_pending_migrations(POSTGRES).map(|v| v.iter().map(ToString::to_string).collect());
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                .execute(c)
                .map_err(|e| fail(&e))?;
            result.map_err(|e| fail(&*e))
        }
    }
}
