//! Accounts, and the first-start bootstrap.

use diesel::prelude::*;
use domain::Timestamp;
use domain::account::{Account, AccountChanges};
use domain::api_key::ApiKey;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::id::AccountId;
use domain::page::{Page, PageRequest, Position, SortKey};
use domain::repository::{AccountRepository, RepoError, RepoResult};
use domain::service_account::ServiceAccount;

use super::{fetch_limit, record, removed};
use crate::Store;
use crate::auth_cache::Change;
use crate::convert::{AccountRow, ApiKeyRow, ServiceAccountRow, all, micros};
use crate::schema::{accounts, api_keys, service_accounts};

impl AccountRepository for Store {
    fn insert_account(&self, account: &Account, audit: &AuditEvent) -> RepoResult<()> {
        self.write(Entity::Account, |c| {
            diesel::insert_into(accounts::table).values(AccountRow::from(account)).execute(c)?;
            record(c, audit)?;
            Ok(())
        })
    }

    fn account(&self, id: AccountId) -> RepoResult<Account> {
        self.read(Entity::Account, |c| {
            let row = accounts::table.find(id.to_string()).select(AccountRow::as_select()).get_result(c)?;
            Ok(Account::try_from(row)?)
        })
    }

    fn system_account(&self) -> RepoResult<AccountId> {
        self.read(Entity::Account, |c| {
            let id: String = accounts::table.filter(accounts::system.eq(true)).select(accounts::id).get_result(c)?;
            Ok(AccountId::from_uuid(
                uuid::Uuid::try_parse(&id).map_err(|_| RepoError::Unavailable("a stored id is invalid".to_owned()))?,
            ))
        })
    }

    fn list_accounts(&self, page: &PageRequest) -> RepoResult<Page<Account>> {
        let rows = self.read_lagging(page.may_lag, Entity::Account, |c| {
            let mut q = accounts::table
                .select(AccountRow::as_select())
                .order(accounts::id.asc())
                .limit(fetch_limit(page.limit))
                .into_boxed();
            if let Some(after) = &page.after {
                q = q.filter(accounts::id.gt(after.id.hyphenated().to_string()));
            }
            Ok(all::<_, Account>(q.load(c)?)?)
        })?;
        Ok(Page::from_rows(rows, page.limit, |a| Position { key: SortKey::Id, id: *a.id.as_uuid() }))
    }

    fn update_account(
        &self,
        id: AccountId,
        changes: &AccountChanges,
        now: Timestamp,
        audit: &AuditEvent,
    ) -> RepoResult<Account> {
        self.write(Entity::Account, |c| {
            let row = accounts::table.find(id.to_string()).select(AccountRow::as_select()).get_result(c)?;
            let mut account = Account::try_from(row)?;
            if let Some(name) = &changes.name {
                account.name = name.clone();
            }
            account.updated_at = now;
            diesel::update(accounts::table.find(id.to_string()))
                .set((accounts::name.eq(account.name.as_str()), accounts::updated_at.eq(micros(now))))
                .execute(c)?;
            record(c, audit)?;
            Ok(account)
        })
    }

    fn delete_account(&self, id: AccountId, audit: &AuditEvent) -> RepoResult<()> {
        self.write(Entity::Account, |c| {
            // Everything in it goes with it (the schema cascades); the usage counters go here.
            let account = id.to_string();
            let keys: Vec<String> =
                api_keys::table.filter(api_keys::account_id.eq(&account)).select(api_keys::id).load(c)?;
            let owners: Vec<String> = service_accounts::table
                .filter(service_accounts::account_id.eq(&account))
                .select(service_accounts::id)
                .load(c)?;
            let owners = keys.iter().map(|k| format!("key:{k}")).chain(owners.iter().map(|s| format!("sa:{s}")));
            for owner in owners.chain([format!("ns:{account}")]) {
                super::usage_counters::forget_owner(c, &owner)?;
            }
            let deleted = diesel::delete(accounts::table.find(id.to_string())).execute(c)?;
            removed(c, deleted, Entity::Account, Change::Everything, audit)
        })?;
        self.forget(Change::Everything);
        Ok(())
    }

    fn bootstrap(
        &self,
        account: &Account,
        root: &ServiceAccount,
        key: &ApiKey,
        audit: &[AuditEvent],
    ) -> RepoResult<bool> {
        let result = self.write(Entity::Account, |c| {
            let existing: i64 = accounts::table.filter(accounts::system.eq(true)).count().get_result(c)?;
            if existing > 0 {
                return Ok(false);
            }
            diesel::insert_into(accounts::table).values(AccountRow::from(account)).execute(c)?;
            diesel::insert_into(service_accounts::table).values(ServiceAccountRow::from(root)).execute(c)?;
            diesel::insert_into(api_keys::table).values(ApiKeyRow::from(key)).execute(c)?;
            for event in audit {
                record(c, event)?;
            }
            Ok(true)
        });
        match result {
            // Another node bootstrapped the same database at the same moment.
            Err(RepoError::NameTaken(_)) => Ok(false),
            other => other,
        }
    }
}
