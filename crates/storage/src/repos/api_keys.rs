//! API keys.

use diesel::prelude::*;
use domain::Error;
use domain::Timestamp;
use domain::api_key::ApiKey;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::id::{AccountId, ApiKeyId, ServiceAccountId};
use domain::page::Direction;
use domain::page::{Page, Position, SortKey};
use domain::repository::{
    ApiKeyQuery, ApiKeyRepository, ApiKeySort, KeyForAuth, KeyRef, NetworkUse, RepoError, RepoResult,
};
use domain::usage::{HourlyUse, UsageBatch};

use super::{fetch_limit, record, record_row, removed};
use crate::Store;
use crate::auth_cache::Change;
use crate::change_feed::announce;
use crate::connection::MultiBackend;
use crate::connection::{DbConnection, on_backend};
use crate::convert::{ApiKeyRow, AuditEventRow, all, micros};
use crate::error::TxError;
use crate::schema::api_keys::{self, dsl};
use crate::schema::{accounts, service_accounts};
use crate::store::lock_row;

/// The SQL type of a selected [`ApiKeyRow`].
type ApiKeyRowSql = diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<ApiKeyRow, MultiBackend>>;

/// The query for one key of a service account, by id or by name.
fn by_ref<'a>(
    account: AccountId,
    sa: ServiceAccountId,
    key: &KeyRef,
) -> api_keys::BoxedQuery<'a, MultiBackend, ApiKeyRowSql> {
    let q = api_keys::table
        .filter(dsl::account_id.eq(account.to_string()))
        .filter(dsl::service_account_id.eq(sa.to_string()))
        .select(ApiKeyRow::as_select())
        .into_boxed();
    match key {
        KeyRef::Id(id) => q.filter(dsl::id.eq(id.to_string())),
        KeyRef::Name(name) => q.filter(dsl::name.eq(name.as_str().to_owned())),
    }
}

/// Orders by a non-null column and the id, starting after the cursor's position.
macro_rules! keyset {
    ($q:ident, $after:ident, $variant:ident, $col:expr, $dir:ident, $cmp:ident) => {{
        let mut q = $q;
        if let Some((SortKey::$variant(v), id)) = $after {
            q = q.filter($col.$cmp(v.clone()).or($col.eq(v).and(dsl::id.$cmp(id))));
        }
        q.order(($col.$dir(), dsl::id.$dir()))
    }};
}

/// Orders by a nullable column and the id, rows without a value last in both directions.
macro_rules! nulls_last_keyset {
    ($q:ident, $after:ident, $col:expr, $dir:ident, $cmp:ident) => {{
        let mut q = $q;
        if let Some((SortKey::MaybeTime(v), id)) = $after {
            q = match v {
                Some(v) => q.filter($col.$cmp(v).or($col.eq(v).and(dsl::id.$cmp(id.clone()))).or($col.is_null())),
                None => q.filter($col.is_null().and(dsl::id.$cmp(id))),
            };
        }
        q.order(($col.is_null().asc(), $col.$dir(), dsl::id.$dir()))
    }};
}

/// A boxed condition on the `api_keys` table.
type Condition = Box<dyn BoxableExpression<api_keys::table, MultiBackend, SqlType = diesel::sql_types::Bool>>;

/// The condition "granted one of `scopes`", or `None` for no condition.
fn scopes_any(scopes: &[domain::scope::Scope]) -> Option<Condition> {
    // Scopes are stored as " a b c "; `_` is a LIKE wildcard and must be escaped. Both backends
    // compare case-sensitively (SQLite through `case_sensitive_like`).
    let like = |s: &domain::scope::Scope| -> Condition {
        Box::new(dsl::scopes.like(format!("% {} %", s.as_str().replace('_', "\\_"))).escape('\\'))
    };
    let mut iter = scopes.iter();
    let first = like(iter.next()?);
    Some(iter.fold(first, |acc, s| Box::new(acc.or(like(s)))))
}

impl ApiKeyRepository for Store {
    fn insert_api_key(&self, key: &ApiKey, audit: &AuditEvent) -> RepoResult<()> {
        let (row, audit) = (ApiKeyRow::from(key), AuditEventRow::from(audit));
        self.write_batched(Entity::ApiKey, move |c| {
            on_backend!(c, |c| diesel::insert_into(api_keys::table).values(&row).execute(c))?;
            record_row(c, &audit)?;
            Ok(())
        })?;
        self.forget(Change::ApiKey(key.id));
        Ok(())
    }

    fn api_key(&self, account: AccountId, sa: ServiceAccountId, key: &KeyRef) -> RepoResult<ApiKey> {
        self.read(Entity::ApiKey, |c| Ok(ApiKey::try_from(by_ref(account, sa, key).get_result(c)?)?))
    }

    fn list_api_keys(&self, account: AccountId, query: &ApiKeyQuery) -> RepoResult<Page<ApiKey>> {
        let limit = query.page.limit;
        let rows = self.read_lagging(query.page.may_lag, Entity::ApiKey, |c| {
            let mut q = api_keys::table
                .filter(dsl::account_id.eq(account.to_string()))
                .select(ApiKeyRow::as_select())
                .limit(fetch_limit(limit))
                .into_boxed();
            if let Some(sa) = query.service_account_id {
                q = q.filter(dsl::service_account_id.eq(sa.to_string()));
            }
            if let Some(name) = &query.name {
                q = q.filter(dsl::name.eq(name.as_str().to_owned()));
            }
            if let Some(active) = query.active {
                q = q.filter(dsl::active.eq(active));
            }
            if let Some(any) = scopes_any(&query.scopes_any) {
                q = q.filter(any);
            }
            let now = micros(query.now);
            match query.expired {
                Some(true) => q = q.filter(dsl::expires_at.le(now)),
                Some(false) => q = q.filter(dsl::expires_at.is_null().or(dsl::expires_at.gt(now))),
                None => {}
            }
            if let Some(t) = query.created_from {
                q = q.filter(dsl::created_at.ge(micros(t)));
            }
            if let Some(t) = query.created_to {
                q = q.filter(dsl::created_at.lt(micros(t)));
            }
            if let Some(t) = query.last_used_from {
                q = q.filter(dsl::last_used_at.ge(micros(t)));
            }
            if let Some(t) = query.last_used_to {
                q = q.filter(dsl::last_used_at.lt(micros(t)));
            }
            if query.page.skip > 0 {
                q = q.offset(i64::try_from(query.page.skip).unwrap_or(i64::MAX));
            }
            let after = query.page.after.as_ref().map(|p| (p.key.clone(), p.id.hyphenated().to_string()));
            q = match (query.sort, query.direction) {
                (ApiKeySort::Name, Direction::Asc) => keyset!(q, after, Text, dsl::name, asc, gt),
                (ApiKeySort::Name, Direction::Desc) => keyset!(q, after, Text, dsl::name, desc, lt),
                (ApiKeySort::CreatedAt, Direction::Asc) => keyset!(q, after, Time, dsl::created_at, asc, gt),
                (ApiKeySort::CreatedAt, Direction::Desc) => keyset!(q, after, Time, dsl::created_at, desc, lt),
                (ApiKeySort::LastUsedAt, Direction::Asc) => nulls_last_keyset!(q, after, dsl::last_used_at, asc, gt),
                (ApiKeySort::LastUsedAt, Direction::Desc) => nulls_last_keyset!(q, after, dsl::last_used_at, desc, lt),
                (ApiKeySort::ExpiresAt, Direction::Asc) => nulls_last_keyset!(q, after, dsl::expires_at, asc, gt),
                (ApiKeySort::ExpiresAt, Direction::Desc) => nulls_last_keyset!(q, after, dsl::expires_at, desc, lt),
            };
            Ok(all::<_, ApiKey>(q.load(c)?)?)
        })?;
        let sort = query.sort;
        Ok(Page::from_rows(rows, limit, move |k| Position {
            key: match sort {
                ApiKeySort::Name => SortKey::Text(k.name.as_str().to_owned()),
                ApiKeySort::CreatedAt => SortKey::Time(micros(k.created_at)),
                ApiKeySort::LastUsedAt => SortKey::MaybeTime(k.last_used_at.map(micros)),
                ApiKeySort::ExpiresAt => SortKey::MaybeTime(k.expires_at.map(micros)),
            },
            id: *k.id.as_uuid(),
        }))
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
            super::usage_counters::forget_owner(c, &format!("key:{id}"))?;
            removed(c, deleted, Entity::ApiKey, Change::ApiKey(id), audit)
        })?;
        self.forget(Change::ApiKey(id));
        Ok(())
    }

    fn update_api_key(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        key: &KeyRef,
        change: &mut dyn FnMut(&mut ApiKey) -> Result<AuditEvent, Error>,
    ) -> Result<ApiKey, Error> {
        let key = self.read_modify_write(Entity::ApiKey, |c| {
            let mut row = by_ref(account, sa, key).get_result(c)?;
            if lock_row(c, "api_keys", &row.id)? {
                row = by_ref(account, sa, key).get_result(c)?;
            }
            let version = row.version;
            let mut key = ApiKey::try_from(row)?;
            let audit = change(&mut key).map_err(TxError::Domain)?;
            let new = ApiKeyRow::from(&key);
            let unchanged_since_read = dsl::id.eq(&new.id).and(dsl::version.eq(version));
            let updated = diesel::update(api_keys::table.filter(unchanged_since_read))
                .set((
                    dsl::name.eq(&new.name),
                    dsl::description.eq(&new.description),
                    dsl::scopes.eq(&new.scopes),
                    dsl::active.eq(new.active),
                    dsl::expires_at.eq(new.expires_at),
                    dsl::secret_hash.eq(&new.secret_hash),
                    dsl::previous_secret_hash.eq(&new.previous_secret_hash),
                    dsl::previous_expires_at.eq(new.previous_expires_at),
                    dsl::sealed_secret.eq(&new.sealed_secret),
                    dsl::updated_at.eq(new.updated_at),
                    dsl::last_rotated_at.eq(new.last_rotated_at),
                    dsl::leaked_at.eq(new.leaked_at),
                    dsl::usage_limits.eq(&new.usage_limits),
                    dsl::version.eq(version + 1),
                ))
                .execute(c)?;
            if updated == 0 {
                return Ok(None);
            }
            announce(c, Change::ApiKey(key.id))?;
            record(c, &audit)?;
            Ok(Some(key))
        })?;
        self.forget(Change::ApiKey(key.id));
        Ok(key)
    }

    fn record_api_key_usage(&self, batch: &UsageBatch, networks: &[NetworkUse]) -> RepoResult<()> {
        self.write_usage(batch, networks)
    }

    fn api_key_usage(&self, keys: &[ApiKeyId], from: Timestamp, to: Timestamp) -> RepoResult<Vec<HourlyUse>> {
        self.read_usage(keys, from, to)
    }

    fn delete_api_key_usage_before(&self, before: Timestamp) -> RepoResult<u64> {
        self.forget_usage_before(before)
    }

    fn api_key_for_auth(&self, id: ApiKeyId) -> RepoResult<Option<KeyForAuth>> {
        self.auth_cache()
            .get(id, |read| self.read_lagging_within(read.wait, read.may_lag, Entity::ApiKey, |c| load_for_auth(c, id)))
    }

    fn api_key_for_auth_in_memory(&self, id: ApiKeyId) -> Option<Option<KeyForAuth>> {
        self.auth_cache().get_in_memory(id)
    }
}

/// Reads the key `id` with what authentication needs to know about its owner.
pub(crate) fn load_for_auth(c: &mut DbConnection, id: ApiKeyId) -> Result<Option<KeyForAuth>, TxError> {
    let found = api_keys::table
        .inner_join(service_accounts::table.inner_join(accounts::table))
        .filter(dsl::id.eq(id.to_string()))
        .select((
            ApiKeyRow::as_select(),
            service_accounts::active,
            service_accounts::name,
            accounts::system,
            service_accounts::usage_limits,
        ))
        .get_result::<(ApiKeyRow, bool, String, bool, String)>(c)
        .optional()?;
    match found {
        None => Ok(None),
        Some((row, owner_active, owner_name, system, owner_limits)) => {
            let owner_name = domain::text::Name::parse(&owner_name, "name").map_err(|_| {
                TxError::Repo(RepoError::Unavailable("a stored service account name is invalid".into()))
            })?;
            let owner_limits = crate::usage_limits::from_text(&owner_limits).map_err(|_| {
                TxError::Repo(RepoError::Unavailable("a stored service account's usage limits are invalid".into()))
            })?;
            let key = ApiKey::try_from(row)?;
            let roles = key.part.limits.roles.iter().map(|r| r.as_str().to_owned());
            let role_permissions = super::roles::permissions_of_roles(c, &key.account_id.to_string(), roles)?;
            Ok(Some(KeyForAuth { key, owner_active, owner_name, system, owner_limits, role_permissions }))
        }
    }
}
