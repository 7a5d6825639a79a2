//! Service accounts: machine identities inside an account.

use crate::Timestamp;
use crate::id::{AccountId, ServiceAccountId};
use crate::text::{Description, Metadata, Name};

/// A machine identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Its id.
    pub id: ServiceAccountId,
    /// The account it belongs to.
    pub account_id: AccountId,
    /// Its name, unique within the account.
    pub name: Name,
    /// A free-text description.
    pub description: Description,
    /// Whether its credentials may be used at all.
    pub active: bool,
    /// Labels for the owner's own use.
    pub metadata: Metadata,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

/// What a caller supplies to create a service account.
#[derive(Debug, Clone)]
pub struct NewServiceAccount {
    /// The name.
    pub name: Name,
    /// The description (empty if not given).
    pub description: Description,
    /// Whether it starts active (`true` if not given).
    pub active: bool,
    /// Its labels.
    pub metadata: Metadata,
}

/// A change to a service account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ServiceAccountChanges {
    /// A new name.
    pub name: Option<Name>,
    /// A new description.
    pub description: Option<Description>,
    /// Enable or disable it.
    pub active: Option<bool>,
    /// Replace its labels.
    pub metadata: Option<Metadata>,
}

impl ServiceAccountChanges {
    /// Applies the changes to `sa` as of `now`.
    pub fn apply(self, sa: &mut ServiceAccount, now: Timestamp) {
        if let Some(name) = self.name {
            sa.name = name;
        }
        if let Some(d) = self.description {
            sa.description = d;
        }
        if let Some(a) = self.active {
            sa.active = a;
        }
        if let Some(m) = self.metadata {
            sa.metadata = m;
        }
        sa.updated_at = now;
    }

    /// Whether the change would disable the service account.
    pub fn disables(&self) -> bool {
        self.active == Some(false)
    }
}
