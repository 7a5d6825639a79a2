//! Creating, reading, changing and deleting service accounts.

use super::Keyward;
use crate::audit::Action;
use crate::error::{Entity, Error};
use crate::id::{AccountId, ServiceAccountId};
use crate::page::Page;
use crate::principal::{Permission, Principal};
use crate::repository::ServiceAccountQuery;
use crate::service_account::{NewServiceAccount, ServiceAccount, ServiceAccountChanges};
use crate::text::Name;

impl Keyward {
    /// Creates a service account in `account`.
    pub fn create_service_account(
        &self,
        p: &Principal,
        account: AccountId,
        new: NewServiceAccount,
    ) -> Result<ServiceAccount, Error> {
        p.require(Permission::ServiceAccountsWrite, account)?;
        self.repo.account(account)?;
        let now = self.now();
        if !new.limits.permissions.is_empty() {
            let message = "belong to API keys: a service account shares only rate limits and uses left";
            return Err(crate::ValidationError::new("permissions", message).into());
        }
        let limits = new.limits.at(now)?;
        let sa = ServiceAccount {
            id: ServiceAccountId::generate(now, self.entropy.as_ref()),
            account_id: account,
            name: new.name,
            description: new.description,
            active: new.active,
            metadata: new.metadata,
            created_at: now,
            updated_at: now,
            limits,
        };
        let audit = self.audit(p, account, Action::ServiceAccountCreate, format!("service_account:{}", sa.id), now);
        self.repo.insert_service_account(&sa, &audit)?;
        Ok(sa)
    }

    /// Lists the service accounts of `account`.
    pub fn list_service_accounts(
        &self,
        p: &Principal,
        account: AccountId,
        query: &ServiceAccountQuery,
    ) -> Result<Page<ServiceAccount>, Error> {
        p.require(Permission::ServiceAccountsRead, account)?;
        self.repo.account(account)?;
        Ok(self.repo.list_service_accounts(account, query)?)
    }

    /// One service account.
    pub fn get_service_account(
        &self,
        p: &Principal,
        account: AccountId,
        id: ServiceAccountId,
    ) -> Result<ServiceAccount, Error> {
        p.require(Permission::ServiceAccountsRead, account)?;
        Ok(self.repo.service_account(account, id)?)
    }

    /// Changes a service account. A caller cannot disable its own service account.
    pub fn update_service_account(
        &self,
        p: &Principal,
        account: AccountId,
        id: ServiceAccountId,
        changes: ServiceAccountChanges,
    ) -> Result<ServiceAccount, Error> {
        p.require(Permission::ServiceAccountsWrite, account)?;
        changes.check()?;
        if changes.disables() && p.service_account_id == id {
            return Err(Error::OwnCredential);
        }
        let now = self.now();
        let mut audit = self.audit(p, account, Action::ServiceAccountUpdate, format!("service_account:{id}"), now);
        if changes.disables() {
            audit.notify = Some(crate::notification::EventType::ServiceAccountDisabled);
        }
        Ok(self.repo.update_service_account(account, id, &changes, now, &audit)?)
    }

    /// Deletes a service account and its credentials. A caller cannot delete its own.
    pub fn delete_service_account(&self, p: &Principal, account: AccountId, id: ServiceAccountId) -> Result<(), Error> {
        p.require(Permission::ServiceAccountsWrite, account)?;
        if p.service_account_id == id {
            return Err(Error::OwnCredential);
        }
        let now = self.now();
        let audit = self.audit(p, account, Action::ServiceAccountDelete, format!("service_account:{id}"), now);
        Ok(self.repo.delete_service_account(account, id, &audit)?)
    }

    /// The caller's own service account: a credential may always see the identity it acts as.
    pub fn own_service_account(&self, p: &Principal) -> Result<ServiceAccount, Error> {
        Ok(self.repo.service_account(p.account_id, p.service_account_id)?)
    }

    /// One service account, by its name: for the vendor dialects that name service accounts
    /// rather than number them (Wavefront's `sa::name`).
    pub fn find_service_account(
        &self,
        p: &Principal,
        account: AccountId,
        name: &Name,
    ) -> Result<ServiceAccount, Error> {
        p.require(Permission::ServiceAccountsRead, account)?;
        let query = ServiceAccountQuery { name: Some(name.clone()), ..Default::default() };
        let found = self.repo.list_service_accounts(account, &query)?.items.into_iter().next();
        found.ok_or(Error::NotFound(Entity::ServiceAccount))
    }

    /// Every service account of `account`, without paging: for the vendor dialects whose lists
    /// have none.
    pub fn all_service_accounts(&self, p: &Principal, account: AccountId) -> Result<Vec<ServiceAccount>, Error> {
        p.require(Permission::ServiceAccountsRead, account)?;
        self.repo.account(account)?;
        Ok(Page::collect_all(|page| {
            let query = ServiceAccountQuery { page, ..Default::default() };
            self.repo.list_service_accounts(account, &query)
        })?)
    }
}
