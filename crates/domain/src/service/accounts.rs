//! Creating, reading, renaming and deleting accounts.

use super::Keyward;
use crate::account::{Account, AccountChanges, NewAccount};
use crate::audit::Action;
use crate::error::Error;
use crate::id::AccountId;
use crate::page::{Page, PageRequest};
use crate::principal::Principal;

impl Keyward {
    /// Creates an account; system administrators only.
    pub fn create_account(&self, p: &Principal, new: NewAccount) -> Result<Account, Error> {
        p.require_system_admin()?;
        let now = self.now();
        let account = Account {
            id: AccountId::generate(now, self.entropy.as_ref()),
            name: new.name,
            system: false,
            created_at: now,
            updated_at: now,
        };
        let audit = self.audit(p, p.account_id, Action::AccountCreate, format!("account:{}", account.id), now);
        self.repo.insert_account(&account, &audit)?;
        Ok(account)
    }

    /// Lists all accounts; system administrators only.
    pub fn list_accounts(&self, p: &Principal, page: &PageRequest) -> Result<Page<Account>, Error> {
        p.require_system_admin()?;
        Ok(self.repo.list_accounts(page)?)
    }

    /// One account: the caller's own, or any for a system administrator.
    pub fn get_account(&self, p: &Principal, id: AccountId) -> Result<Account, Error> {
        p.require_account(id)?;
        Ok(self.repo.account(id)?)
    }

    /// Renames an account; needs `account:admin` in it.
    pub fn update_account(&self, p: &Principal, id: AccountId, changes: AccountChanges) -> Result<Account, Error> {
        p.require(crate::principal::Permission::AccountAdmin, id)?;
        let now = self.now();
        let audit = self.audit(p, id, Action::AccountUpdate, format!("account:{id}"), now);
        Ok(self.repo.update_account(id, &changes, now, &audit)?)
    }

    /// Deletes an account with everything in it; system administrators only, never the system account.
    pub fn delete_account(&self, p: &Principal, id: AccountId) -> Result<(), Error> {
        // Another account is "not found" before it is "forbidden", as everywhere.
        p.require_account(id)?;
        p.require_system_admin()?;
        let account = self.repo.account(id)?;
        if account.system {
            return Err(Error::SystemAccount);
        }
        let now = self.now();
        let audit = self.audit(p, p.account_id, Action::AccountDelete, format!("account:{id}"), now);
        Ok(self.repo.delete_account(id, &audit)?)
    }

    /// The system account's id: a stable id of this deployment (the ZenML dialect's server id).
    pub fn deployment_id(&self) -> Result<AccountId, Error> {
        Ok(self.repo.system_account()?)
    }
}
