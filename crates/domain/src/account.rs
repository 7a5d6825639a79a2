//! Accounts: the tenants. Nothing crosses between accounts.

use crate::Timestamp;
use crate::id::AccountId;
use crate::text::Name;

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// Its name, unique across Keyward.
    pub name: Name,
    /// Whether this is the system account, whose credentials may hold the `admin` scope.
    pub system: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

/// What a caller supplies to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The name.
    pub name: Name,
}

/// A change to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    /// A new name.
    pub name: Option<Name>,
}
