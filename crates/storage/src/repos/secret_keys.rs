//! Secret keys, and the server settings beside them.

use diesel::prelude::*;
use domain::Error;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::id::{AccountId, SecretKeyId, ServiceAccountId};
use domain::page::{Page, PageRequest, Position, SortKey};
use domain::repository::{RepoResult, SecretKeyForAuth, SecretKeyRepository};
use domain::secret_key::SecretKey;

use super::{fetch_limit, record, record_row, removed};
use crate::Store;
use crate::auth_cache::Change;
use crate::change_feed::announce;
use crate::connection::{DbConnection, on_backend};
use crate::convert::{AuditEventRow, SecretKeyRow, all};
use crate::error::TxError;
use crate::schema::secret_keys::{self, dsl};
use crate::schema::{accounts, service_accounts};
use crate::store::lock_row;

fn one(
    account: AccountId,
    sa: ServiceAccountId,
    id: SecretKeyId,
) -> secret_keys::BoxedQuery<'static, crate::connection::MultiBackend> {
    secret_keys::table
        .filter(dsl::id.eq(id.to_string()))
        .filter(dsl::account_id.eq(account.to_string()))
        .filter(dsl::service_account_id.eq(sa.to_string()))
        .into_boxed()
}

impl SecretKeyRepository for Store {
    fn insert_secret_key(&self, key: &SecretKey, audit: &AuditEvent) -> RepoResult<()> {
        let (row, audit) = (SecretKeyRow::from(key), AuditEventRow::from(audit));
        self.write_batched(Entity::SecretKey, move |c| {
            on_backend!(c, |c| diesel::insert_into(secret_keys::table).values(&row).execute(c))?;
            record_row(c, &audit)?;
            Ok(())
        })?;
        self.forget(Change::SecretKey(key.id));
        Ok(())
    }

    fn secret_key(&self, account: AccountId, sa: ServiceAccountId, id: SecretKeyId) -> RepoResult<SecretKey> {
        self.read(Entity::SecretKey, |c| {
            Ok(SecretKey::try_from(one(account, sa, id).select(SecretKeyRow::as_select()).get_result(c)?)?)
        })
    }

    fn list_secret_keys(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        page: &PageRequest,
    ) -> RepoResult<Page<SecretKey>> {
        let rows = self.read_lagging(page.may_lag, Entity::SecretKey, |c| {
            let mut q = secret_keys::table
                .filter(dsl::account_id.eq(account.to_string()))
                .filter(dsl::service_account_id.eq(sa.to_string()))
                .select(SecretKeyRow::as_select())
                .order(dsl::id.asc())
                .limit(fetch_limit(page.limit))
                .into_boxed();
            if let Some(after) = &page.after {
                q = q.filter(dsl::id.gt(after.id.hyphenated().to_string()));
            }
            Ok(all::<_, SecretKey>(q.load(c)?)?)
        })?;
        Ok(Page::from_rows(rows, page.limit, |k| Position { key: SortKey::Id, id: *k.id.as_uuid() }))
    }

    fn update_secret_key(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
        change: &mut dyn FnMut(&mut SecretKey) -> Result<AuditEvent, Error>,
    ) -> Result<SecretKey, Error> {
        let key = self.read_modify_write(Entity::SecretKey, |c| {
            let read = |c: &mut _| one(account, sa, id).select(SecretKeyRow::as_select()).get_result(c);
            let mut row = read(c)?;
            if lock_row(c, "secret_keys", &row.id)? {
                row = read(c)?;
            }
            let version = row.version;
            let mut key = SecretKey::try_from(row)?;
            let audit = change(&mut key).map_err(TxError::Domain)?;
            let new = SecretKeyRow::from(&key);
            let unchanged_since_read = dsl::id.eq(&new.id).and(dsl::version.eq(version));
            let updated = diesel::update(secret_keys::table.filter(unchanged_since_read))
                .set((
                    dsl::name.eq(&new.name),
                    dsl::scopes.eq(&new.scopes),
                    dsl::active.eq(new.active),
                    dsl::expires_at.eq(new.expires_at),
                    dsl::sealed_secret.eq(&new.sealed_secret),
                    dsl::previous_sealed_secret.eq(&new.previous_sealed_secret),
                    dsl::previous_expires_at.eq(new.previous_expires_at),
                    dsl::updated_at.eq(new.updated_at),
                    dsl::last_rotated_at.eq(new.last_rotated_at),
                    dsl::leaked_at.eq(new.leaked_at),
                    dsl::require_dpop.eq(new.require_dpop),
                    dsl::version.eq(version + 1),
                ))
                .execute(c)?;
            if updated == 0 {
                return Ok(None);
            }
            announce(c, Change::SecretKey(key.id))?;
            record(c, &audit)?;
            Ok(Some(key))
        })?;
        self.forget(Change::SecretKey(key.id));
        Ok(key)
    }

    fn secret_key_for_auth(&self, id: SecretKeyId) -> RepoResult<Option<SecretKeyForAuth>> {
        self.auth_cache().get(id, |read| {
            self.read_lagging_within(read.wait, read.may_lag, Entity::SecretKey, |c| load_for_auth(c, id))
        })
    }

    fn secret_key_for_auth_in_memory(&self, id: SecretKeyId) -> Option<Option<SecretKeyForAuth>> {
        self.auth_cache().get_in_memory(id)
    }
    fn delete_secret_key(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
        audit: &AuditEvent,
    ) -> RepoResult<()> {
        self.write(Entity::SecretKey, |c| {
            let deleted = diesel::delete(
                secret_keys::table
                    .filter(dsl::id.eq(id.to_string()))
                    .filter(dsl::account_id.eq(account.to_string()))
                    .filter(dsl::service_account_id.eq(sa.to_string())),
            )
            .execute(c)?;
            removed(c, deleted, Entity::SecretKey, Change::SecretKey(id), audit)
        })?;
        self.forget(Change::SecretKey(id));
        Ok(())
    }
}

/// Reads the secret key `id` with what authentication needs to know about its owner.
pub(crate) fn load_for_auth(c: &mut DbConnection, id: SecretKeyId) -> Result<Option<SecretKeyForAuth>, TxError> {
    let found = secret_keys::table
        .inner_join(service_accounts::table.inner_join(accounts::table))
        .filter(dsl::id.eq(id.to_string()))
        .select((SecretKeyRow::as_select(), service_accounts::active, accounts::system))
        .get_result::<(SecretKeyRow, bool, bool)>(c)
        .optional()?;
    match found {
        None => Ok(None),
        Some((row, owner_active, system)) => {
            Ok(Some(SecretKeyForAuth { key: SecretKey::try_from(row)?, owner_active, system }))
        }
    }
}
