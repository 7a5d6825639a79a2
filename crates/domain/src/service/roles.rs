//! Roles: creating, reading, changing and deleting an account's named sets of permissions.

use super::Keyward;
use crate::ValidationError;
use crate::audit::Action;
use crate::error::Error;
use crate::id::AccountId;
use crate::limits::{MAX_ROLES_PER_ACCOUNT, Permissions, Role, RoleName, UsageLimits};
use crate::principal::{Permission, Principal};

impl Keyward {
    /// Creates a role. Needs `api-keys:write`; an account holds at most 100 roles.
    pub fn create_role(
        &self,
        p: &Principal,
        account: AccountId,
        name: RoleName,
        permissions: Permissions,
    ) -> Result<Role, Error> {
        p.require(Permission::ApiKeysWrite, account)?;
        UsageLimits::check_permissions(&permissions)?;
        if self.repo.roles(account)?.len() >= MAX_ROLES_PER_ACCOUNT {
            return Err(ValidationError::new("name", "an account holds at most 100 roles").into());
        }
        let now = self.now();
        let role = Role { account_id: account, name, permissions, created_at: now, updated_at: now };
        let audit = self.audit(p, account, Action::RoleCreate, format!("role:{}", role.name.as_str()), now);
        self.repo.insert_role(&role, &audit)?;
        Ok(role)
    }

    /// The roles of an account, by name. Needs `api-keys:read`.
    pub fn list_roles(&self, p: &Principal, account: AccountId) -> Result<Vec<Role>, Error> {
        p.require(Permission::ApiKeysRead, account)?;
        Ok(self.repo.roles(account)?)
    }

    /// One role. Needs `api-keys:read`.
    pub fn get_role(&self, p: &Principal, account: AccountId, name: &RoleName) -> Result<Role, Error> {
        p.require(Permission::ApiKeysRead, account)?;
        Ok(self.repo.role(account, name)?)
    }

    /// Replaces a role's permissions; every key that names it holds the new ones at once. Needs
    /// `api-keys:write`.
    pub fn update_role(
        &self,
        p: &Principal,
        account: AccountId,
        name: &RoleName,
        permissions: Permissions,
    ) -> Result<Role, Error> {
        p.require(Permission::ApiKeysWrite, account)?;
        UsageLimits::check_permissions(&permissions)?;
        let now = self.now();
        let audit = self.audit(p, account, Action::RoleUpdate, format!("role:{}", name.as_str()), now);
        Ok(self.repo.update_role(account, name, &permissions, now, &audit)?)
    }

    /// Deletes a role; keys that name it hold its permissions no more. Needs `api-keys:write`.
    pub fn delete_role(&self, p: &Principal, account: AccountId, name: &RoleName) -> Result<(), Error> {
        p.require(Permission::ApiKeysWrite, account)?;
        let audit = self.audit(p, account, Action::RoleDelete, format!("role:{}", name.as_str()), self.now());
        Ok(self.repo.delete_role(account, name, &audit)?)
    }
}
