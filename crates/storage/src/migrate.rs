//! The embedded migrations of both backends, run at start-up or by `keyward migrate`.

use diesel::{Connection, RunQueryDsl};
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
        // One transaction holds the lock and every migration (each in a savepoint): the lock ends
        // with it, so it holds through a pooler in transaction mode too, where a session's lock
        // and its unlock could reach two different server connections and leave the lock held.
        DbConnection::Postgresql(c) => c
            .transaction(|c| -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")).execute(c)?;
                Ok(c.run_pending_migrations(POSTGRES)?.iter().map(ToString::to_string).collect())
            })
            .map_err(|e| fail(&*e)),
    }
}

#[cfg(test)]
mod tests {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};

    use super::*;

    /// A service account's key list (both ids, sorted by creation time) must use the index on
    /// both ids. With only the account's index chosen, SQLite read every key of the account to
    /// fill one service account's page.
    #[test]
    fn a_service_account_key_list_reads_only_that_service_accounts_keys() {
        #[derive(diesel::QueryableByName)]
        struct Step {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let mut conn = DbConnection::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        run(&mut conn).unwrap();
        let DbConnection::Sqlite(c) = &mut conn else { unreachable!() };
        let plan: Vec<String> = diesel::sql_query(
            "EXPLAIN QUERY PLAN SELECT id FROM api_keys WHERE account_id = ? AND service_account_id = ? \
             ORDER BY created_at ASC, id ASC LIMIT ?",
        )
        .bind::<diesel::sql_types::Text, _>("a")
        .bind::<diesel::sql_types::Text, _>("s")
        .bind::<diesel::sql_types::BigInt, _>(51)
        .load::<Step>(c)
        .unwrap()
        .into_iter()
        .map(|s| s.detail)
        .collect();
        assert!(
            plan.iter().any(|d| d.contains("api_keys_by_account_service_account_created")
                && d.contains("account_id=? AND service_account_id=?")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "no sort of the rows: {plan:?}");
    }
}
