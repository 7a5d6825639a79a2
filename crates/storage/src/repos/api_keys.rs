//! API keys.

use diesel::prelude::*;
use domain::api_key::ApiKey;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::id::{AccountId, ApiKeyId, ServiceAccountId};
use domain::page::{Page, Position, SortKey};
use domain::repository::{ApiKeyQuery, ApiKeyRepository, KeyForAuth, KeyRef, RepoError, RepoResult};

use super::{fetch_limit, record};
use crate::Store;
use crate::convert::{ApiKeyRow, all};
use crate::error::TxError;
use crate::schema::api_keys::{self, dsl};
use crate::schema::{accounts, service_accounts};

impl ApiKeyRepository for Store {
    fn insert_api_key(&self, key: &ApiKey, audit: &AuditEvent) -> RepoResult<()> {
        self.write(Entity::ApiKey, |c| {
            diesel::insert_into(api_keys::table).values(ApiKeyRow::from(key)).execute(c)?;
            record(c, audit)?;
            Ok(())
        })
    }

    fn api_key(&self, account: AccountId, sa: ServiceAccountId, key: &KeyRef) -> RepoResult<ApiKey> {
        self.read(Entity::ApiKey, |c| {
            let mut q = api_keys::table
                .filter(dsl::account_id.eq(account.to_string()))
                .filter(dsl::service_account_id.eq(sa.to_string()))
                .select(ApiKeyRow::as_select())
                .into_boxed();
            q = match key {
                KeyRef::Id(id) => q.filter(dsl::id.eq(id.to_string())),
                KeyRef::Name(name) => q.filter(dsl::name.eq(name.as_str().to_owned())),
            };
            Ok(ApiKey::try_from(q.first(c)?)?)
        })
    }

    fn list_api_keys(&self, account: AccountId, query: &ApiKeyQuery) -> RepoResult<Page<ApiKey>> {
        let limit = query.page.limit;
        let rows = self.read(Entity::ApiKey, |c| {
            let mut q = api_keys::table
                .filter(dsl::account_id.eq(account.to_string()))
                .select(ApiKeyRow::as_select())
                .order(dsl::id.asc())
                .limit(fetch_limit(limit))
                .into_boxed();
            if let Some(sa) = query.service_account_id {
                q = q.filter(dsl::service_account_id.eq(sa.to_string()));
            }
            if let Some(after) = &query.page.after {
                q = q.filter(dsl::id.gt(after.id.hyphenated().to_string()));
            }
            Ok(all::<_, ApiKey>(q.load(c)?)?)
        })?;
        Ok(Page::from_rows(rows, limit, |k| Position { key: SortKey::Id, id: *k.id.as_uuid() }))
    }

    fn delete_api_key(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: ApiKeyId,
        audit: &AuditEvent,
    ) -> RepoResult<()> {
        self.write(Entity::ApiKey, |c| {
            let deleted = diesel::delete(
                api_keys::table
                    .filter(dsl::id.eq(id.to_string()))
                    .filter(dsl::account_id.eq(account.to_string()))
                    .filter(dsl::service_account_id.eq(sa.to_string())),
            )
            .execute(c)?;
            if deleted == 0 {
                return Err(TxError::Repo(RepoError::NotFound(Entity::ApiKey)));
            }
            record(c, audit)?;
            Ok(())
        })
    }

    fn api_key_for_auth(&self, id: ApiKeyId) -> RepoResult<Option<KeyForAuth>> {
        self.read(Entity::ApiKey, |c| {
            let found = api_keys::table
                .inner_join(service_accounts::table.inner_join(accounts::table))
                .filter(dsl::id.eq(id.to_string()))
                .select((ApiKeyRow::as_select(), service_accounts::active, accounts::system))
                .first::<(ApiKeyRow, bool, bool)>(c)
                .optional()?;
            match found {
                None => Ok(None),
                Some((row, owner_active, system)) => {
                    Ok(Some(KeyForAuth { key: ApiKey::try_from(row)?, owner_active, system }))
                }
            }
        })
    }
}
