//! Roles: an account's named sets of permissions, and the permissions of a key's roles for
//! authentication. A change to a role makes every node forget its cached keys, as a change to a
//! service account does.

use diesel::prelude::*;
use domain::Timestamp;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::id::AccountId;
use domain::limits::{Permissions, Role, RoleName};
use domain::repository::{RepoError, RepoResult, RoleRepository};

use super::record;
use crate::Store;
use crate::auth_cache::Change;
use crate::change_feed::announce;
use crate::connection::DbConnection;
use crate::convert::{corrupt, micros, time};
use crate::error::TxError;
use crate::schema::roles;

type RoleRow = (String, String, String, i64, i64);

fn permissions_text(permissions: &Permissions) -> String {
    let names: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_owned())
}

fn permissions_of(text: &str) -> RepoResult<Permissions> {
    let names: Vec<String> = serde_json::from_str(text).map_err(|_| corrupt("role permissions"))?;
    crate::usage_limits::permissions(&names).map_err(|_| corrupt("role permissions"))
}

fn role_of((account_id, name, permissions, created_at, updated_at): RoleRow) -> RepoResult<Role> {
    Ok(Role {
        account_id: AccountId::from_uuid(crate::convert::uuid(&account_id)?),
        name: RoleName::parse(&name, "name").map_err(|_| corrupt("role name"))?,
        permissions: permissions_of(&permissions)?,
        created_at: time(created_at)?,
        updated_at: time(updated_at)?,
    })
}

fn columns() -> (roles::account_id, roles::name, roles::permissions, roles::created_at, roles::updated_at) {
    (roles::account_id, roles::name, roles::permissions, roles::created_at, roles::updated_at)
}

/// Records a change to a role and tells every node to read its keys' roles anew (a key may name
/// any role, so every cached key is forgotten).
fn changed(c: &mut DbConnection, audit: &AuditEvent) -> Result<(), TxError> {
    record(c, audit)?;
    announce(c, Change::Everything)?;
    Ok(())
}

/// The permissions of the roles `names` of `account` that exist, for a key being authenticated.
pub(crate) fn permissions_of_roles(
    c: &mut DbConnection,
    account: &str,
    names: impl Iterator<Item = String>,
) -> Result<Permissions, TxError> {
    let names: Vec<String> = names.collect();
    if names.is_empty() {
        return Ok(Permissions::new());
    }
    let found: Vec<String> = roles::table
        .filter(roles::account_id.eq(account))
        .filter(roles::name.eq_any(names))
        .select(roles::permissions)
        .load(c)?;
    let mut all = Permissions::new();
    for text in found {
        all.extend(permissions_of(&text)?);
    }
    Ok(all)
}

impl RoleRepository for Store {
    fn insert_role(&self, role: &Role, audit: &AuditEvent) -> RepoResult<()> {
        self.write(Entity::Role, |c| {
            diesel::insert_into(roles::table)
                .values((
                    roles::account_id.eq(role.account_id.to_string()),
                    roles::name.eq(role.name.as_str()),
                    roles::permissions.eq(permissions_text(&role.permissions)),
                    roles::created_at.eq(micros(role.created_at)),
                    roles::updated_at.eq(micros(role.updated_at)),
                ))
                .execute(c)?;
            changed(c, audit)
        })?;
        self.forget(Change::Everything);
        Ok(())
    }

    fn roles(&self, account: AccountId) -> RepoResult<Vec<Role>> {
        let rows: Vec<RoleRow> = self.read(Entity::Role, |c| {
            Ok(roles::table
                .filter(roles::account_id.eq(account.to_string()))
                .order(roles::name.asc())
                .select(columns())
                .load(c)?)
        })?;
        rows.into_iter().map(role_of).collect()
    }

    fn role(&self, account: AccountId, name: &RoleName) -> RepoResult<Role> {
        let row: RoleRow = self.read(Entity::Role, |c| {
            Ok(roles::table
                .filter(roles::account_id.eq(account.to_string()))
                .filter(roles::name.eq(name.as_str()))
                .select(columns())
                .get_result(c)?)
        })?;
        role_of(row)
    }

    fn update_role(
        &self,
        account: AccountId,
        name: &RoleName,
        permissions: &Permissions,
        now: Timestamp,
        audit: &AuditEvent,
    ) -> RepoResult<Role> {
        let row: RoleRow = self.write(Entity::Role, |c| {
            let target =
                || roles::table.filter(roles::account_id.eq(account.to_string())).filter(roles::name.eq(name.as_str()));
            let updated = diesel::update(target())
                .set((roles::permissions.eq(permissions_text(permissions)), roles::updated_at.eq(micros(now))))
                .execute(c)?;
            if updated == 0 {
                return Err(TxError::Repo(RepoError::NotFound(Entity::Role)));
            }
            changed(c, audit)?;
            Ok(target().select(columns()).get_result(c)?)
        })?;
        self.forget(Change::Everything);
        role_of(row)
    }

    fn delete_role(&self, account: AccountId, name: &RoleName, audit: &AuditEvent) -> RepoResult<()> {
        self.write(Entity::Role, |c| {
            let target =
                roles::table.filter(roles::account_id.eq(account.to_string())).filter(roles::name.eq(name.as_str()));
            if diesel::delete(target).execute(c)? == 0 {
                return Err(TxError::Repo(RepoError::NotFound(Entity::Role)));
            }
            changed(c, audit)
        })?;
        self.forget(Change::Everything);
        Ok(())
    }
}
