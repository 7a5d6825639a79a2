//! Roles: named sets of permissions in an account, attached to API keys by name. A key holds its
//! own permissions and those of its roles; a role that does not exist grants nothing, so deleting
//! one takes its permissions from every key at once.

use super::permission::Permissions;
use crate::id::AccountId;
use crate::{Timestamp, ValidationError};

/// The most roles one account holds.
pub const MAX_ROLES_PER_ACCOUNT: usize = 100;
/// The most roles one key carries.
pub const MAX_ROLES_PER_KEY: usize = 16;

/// A role's name: 1 to 64 characters from `[A-Za-z0-9._:-]`, unique in its account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName(String);

impl RoleName {
    /// Parses a name; `field` names the input in the error.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        super::rate_limit::checked_name(s, field).map(Self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The account it belongs to.
    pub account_id: AccountId,
    /// Its name, unique in the account.
    pub name: RoleName,
    /// What it grants.
    pub permissions: Permissions,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_name_is_checked_and_the_field_named() {
        assert!(RoleName::parse("billing.reader", "name").is_ok());
        let refused = RoleName::parse("not ok", "roles[2]").map(|_| ()).expect_err("a space");
        assert_eq!(refused.field, "roles[2]");
        assert!(RoleName::parse(&"a".repeat(65), "name").is_err());
    }
}
