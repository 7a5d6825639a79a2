//! Service accounts.

use diesel::prelude::*;
use domain::Timestamp;
use domain::account::Account;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::id::{AccountId, ServiceAccountId};
use domain::page::{Direction, Page, Position, SortKey};
use domain::repository::{
    AccountRepository, RepoError, RepoResult, ServiceAccountQuery, ServiceAccountRepository, ServiceAccountSort,
};
use domain::service_account::{ServiceAccount, ServiceAccountChanges};

use super::{fetch_limit, record, removed};
use crate::Store;
use crate::auth_cache::Change;
use crate::change_feed::announce;
use crate::connection::on_backend;
use crate::convert::{AccountRow, ServiceAccountRow, all};
use crate::schema::service_accounts::{self, dsl};
use crate::schema::{accounts, api_keys};

impl ServiceAccountRepository for Store {
    fn insert_service_account(&self, sa: &ServiceAccount, audit: &AuditEvent) -> RepoResult<()> {
        self.write(Entity::ServiceAccount, |c| {
            diesel::insert_into(service_accounts::table).values(ServiceAccountRow::from(sa)).execute(c)?;
            record(c, audit)?;
            Ok(())
        })
    }

    fn service_account(&self, account: AccountId, id: ServiceAccountId) -> RepoResult<ServiceAccount> {
        self.read(Entity::ServiceAccount, |c| {
            let row = service_accounts::table
                .filter(dsl::id.eq(id.to_string()))
                .filter(dsl::account_id.eq(account.to_string()))
                .select(ServiceAccountRow::as_select())
                .get_result(c)?;
            Ok(ServiceAccount::try_from(row)?)
        })
    }

    fn service_account_with_owner(
        &self,
        account: AccountId,
        id: ServiceAccountId,
    ) -> RepoResult<(Account, ServiceAccount)> {
        let found = self.read(Entity::ServiceAccount, |c| {
            let (id, account) = (id.to_string(), account.to_string());
            let (sa, owner) = on_backend!(c, |c| service_accounts::table
                .inner_join(accounts::table)
                .filter(dsl::id.eq(&id))
                .filter(dsl::account_id.eq(&account))
                .select((ServiceAccountRow::as_select(), AccountRow::as_select()))
                .get_result::<(ServiceAccountRow, AccountRow)>(c))?;
            Ok((Account::try_from(owner)?, ServiceAccount::try_from(sa)?))
        });
        match found {
            // Which one is missing: the account (then say so), or only the service account.
            Err(RepoError::NotFound(_)) => {
                Err(self.account(account).err().unwrap_or(RepoError::NotFound(Entity::ServiceAccount)))
            }
            found => found,
        }
    }

    fn list_service_accounts(
        &self,
        account: AccountId,
        query: &ServiceAccountQuery,
    ) -> RepoResult<Page<ServiceAccount>> {
        let limit = query.page.limit;
        let rows = self.read_lagging(query.page.may_lag, Entity::ServiceAccount, |c| {
            let mut q = service_accounts::table
                .filter(dsl::account_id.eq(account.to_string()))
                .select(ServiceAccountRow::as_select())
                .limit(fetch_limit(limit))
                .into_boxed();
            if let Some(name) = &query.name {
                q = q.filter(dsl::name.eq(name.as_str().to_owned()));
            }
            if let Some(active) = query.active {
                q = q.filter(dsl::active.eq(active));
            }
            if query.page.skip > 0 {
                q = q.offset(i64::try_from(query.page.skip).unwrap_or(i64::MAX));
            }
            let after = query.page.after.as_ref().map(|p| (p.key.clone(), p.id.hyphenated().to_string()));
            q = match (query.sort, query.direction) {
                (ServiceAccountSort::Name, Direction::Asc) => {
                    if let Some((SortKey::Text(v), id)) = after {
                        q = q.filter(dsl::name.gt(v.clone()).or(dsl::name.eq(v).and(dsl::id.gt(id))));
                    }
                    q.order((dsl::name.asc(), dsl::id.asc()))
                }
                (ServiceAccountSort::Name, Direction::Desc) => {
                    if let Some((SortKey::Text(v), id)) = after {
                        q = q.filter(dsl::name.lt(v.clone()).or(dsl::name.eq(v).and(dsl::id.lt(id))));
                    }
                    q.order((dsl::name.desc(), dsl::id.desc()))
                }
                (ServiceAccountSort::CreatedAt, Direction::Asc) => {
                    if let Some((SortKey::Time(t), id)) = after {
                        q = q.filter(dsl::created_at.gt(t).or(dsl::created_at.eq(t).and(dsl::id.gt(id))));
                    }
                    q.order((dsl::created_at.asc(), dsl::id.asc()))
                }
                (ServiceAccountSort::CreatedAt, Direction::Desc) => {
                    if let Some((SortKey::Time(t), id)) = after {
                        q = q.filter(dsl::created_at.lt(t).or(dsl::created_at.eq(t).and(dsl::id.lt(id))));
                    }
                    q.order((dsl::created_at.desc(), dsl::id.desc()))
                }
            };
            Ok(all::<_, ServiceAccount>(q.load(c)?)?)
        })?;
        let sort = query.sort;
        Ok(Page::from_rows(rows, limit, move |sa| Position {
            key: match sort {
                ServiceAccountSort::Name => SortKey::Text(sa.name.as_str().to_owned()),
                ServiceAccountSort::CreatedAt => SortKey::Time(sa.created_at.timestamp_micros()),
            },
            id: *sa.id.as_uuid(),
        }))
    }

    fn update_service_account(
        &self,
        account: AccountId,
        id: ServiceAccountId,
        changes: &ServiceAccountChanges,
        now: Timestamp,
        audit: &AuditEvent,
    ) -> RepoResult<ServiceAccount> {
        let sa = self.write(Entity::ServiceAccount, |c| {
            let row = service_accounts::table
                .filter(dsl::id.eq(id.to_string()))
                .filter(dsl::account_id.eq(account.to_string()))
                .select(ServiceAccountRow::as_select())
                .get_result(c)?;
            let mut sa = ServiceAccount::try_from(row)?;
            changes.clone().apply(&mut sa, now);
            let row = ServiceAccountRow::from(&sa);
            diesel::update(service_accounts::table.find(&row.id))
                .set((
                    dsl::name.eq(&row.name),
                    dsl::description.eq(&row.description),
                    dsl::active.eq(row.active),
                    dsl::metadata.eq(&row.metadata),
                    dsl::updated_at.eq(row.updated_at),
                    dsl::usage_limits.eq(&row.usage_limits),
                ))
                .execute(c)?;
            announce(c, Change::Everything)?;
            record(c, audit)?;
            Ok(sa)
        })?;
        // Its keys' owner state changed: drop every cached key (rare, and simplest).
        self.forget(Change::Everything);
        Ok(sa)
    }

    fn delete_service_account(&self, account: AccountId, id: ServiceAccountId, audit: &AuditEvent) -> RepoResult<()> {
        self.write(Entity::ServiceAccount, |c| {
            // Its keys go with it (the schema cascades); their counters and its own go here.
            let keys: Vec<String> =
                api_keys::table.filter(api_keys::service_account_id.eq(id.to_string())).select(api_keys::id).load(c)?;
            for key in keys {
                super::usage_counters::forget_owner(c, &format!("key:{key}"))?;
            }
            super::usage_counters::forget_owner(c, &format!("sa:{id}"))?;
            let deleted = diesel::delete(
                service_accounts::table
                    .filter(dsl::id.eq(id.to_string()))
                    .filter(dsl::account_id.eq(account.to_string())),
            )
            .execute(c)?;
            removed(c, deleted, Entity::ServiceAccount, Change::Everything, audit)
        })?;
        self.forget(Change::Everything);
        Ok(())
    }
}
