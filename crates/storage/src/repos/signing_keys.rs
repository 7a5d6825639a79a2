//! Keyward's signing keys.

use diesel::prelude::*;
use domain::Timestamp;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::repository::{RepoError, RepoResult, SigningKeyRepository};
use domain::signing_key::{SigningKey, SigningKeyState};

use super::record;
use crate::Store;
use crate::connection::DbConnection;
use crate::convert::{SigningKeyRow, all, micros};
use crate::schema::signing_keys::{self, dsl};

/// Serializes rotations across nodes sharing one PostgreSQL database (SQLite writers are already
/// serialized in-process).
fn lock_rotation(conn: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7001)").execute(pg)?;
    }
    Ok(())
}

impl SigningKeyRepository for Store {
    fn signing_keys(&self) -> RepoResult<Vec<SigningKey>> {
        self.read(Entity::Account, |c| {
            let rows = signing_keys::table.select(SigningKeyRow::as_select()).order(dsl::kid.asc()).load(c)?;
            Ok(all::<_, SigningKey>(rows)?)
        })
    }

    fn init_signing_keys(&self, active: &SigningKey, next: &SigningKey) -> RepoResult<bool> {
        let result = self.write(Entity::Account, |c| {
            lock_rotation(c)?;
            let existing: i64 = signing_keys::table.filter(dsl::state.eq("active")).count().get_result(c)?;
            if existing > 0 {
                return Ok(false);
            }
            diesel::insert_into(signing_keys::table).values(SigningKeyRow::from(active)).execute(c)?;
            diesel::insert_into(signing_keys::table).values(SigningKeyRow::from(next)).execute(c)?;
            Ok(true)
        });
        match result {
            // Another process made them at the same moment: one active and one next is the rule.
            Err(RepoError::NameTaken(_)) => Ok(false),
            other => other,
        }
    }

    fn rotate_signing_keys(
        &self,
        new_next: &SigningKey,
        now: Timestamp,
        retire_before: Timestamp,
        audit: &AuditEvent,
    ) -> RepoResult<()> {
        let (now, retire_before) = (micros(now), micros(retire_before));
        self.write(Entity::Account, |c| {
            lock_rotation(c)?;
            diesel::update(
                signing_keys::table
                    .filter(dsl::state.eq(SigningKeyState::Retiring.as_str()))
                    .filter(dsl::deactivated_at.le(retire_before)),
            )
            .set((dsl::state.eq(SigningKeyState::Retired.as_str()), dsl::retired_at.eq(now)))
            .execute(c)?;
            diesel::update(signing_keys::table.filter(dsl::state.eq(SigningKeyState::Active.as_str())))
                .set((dsl::state.eq(SigningKeyState::Retiring.as_str()), dsl::deactivated_at.eq(now)))
                .execute(c)?;
            diesel::update(signing_keys::table.filter(dsl::state.eq(SigningKeyState::Next.as_str())))
                .set((dsl::state.eq(SigningKeyState::Active.as_str()), dsl::activated_at.eq(now)))
                .execute(c)?;
            diesel::insert_into(signing_keys::table).values(SigningKeyRow::from(new_next)).execute(c)?;
            record(c, audit)?;
            Ok(())
        })
    }
}
