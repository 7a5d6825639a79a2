//! Service accounts: machine identities inside an account.

use crate::id::{AccountId, ServiceAccountId};
use crate::limits::{LimitSettings, RateLimit, RemainingSetting, UsageLimits};
use crate::text::{Description, Metadata, Name};
use crate::{Timestamp, ValidationError};

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
    /// Rate limits and uses left shared by all its API keys: a verification of any of its keys
    /// counts against them too. (Permissions belong to keys; these carry none.)
    pub limits: UsageLimits,
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
    /// Rate limits and uses left shared by its keys (none by default; permissions are refused).
    pub limits: LimitSettings,
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
    /// Replace the rate limits its keys share.
    pub rate_limits: Option<Vec<RateLimit>>,
    /// Set the uses its keys share anew (counting from now), or `Some(None)` to stop counting.
    pub remaining: Option<Option<RemainingSetting>>,
}

impl ServiceAccountChanges {
    /// Checks the changes before they are applied: rate limits at most 16, names unique.
    pub fn check(&self) -> Result<(), ValidationError> {
        self.rate_limits.as_deref().map_or(Ok(()), UsageLimits::check_rate_limits)
    }

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
        if let Some(limits) = self.rate_limits {
            sa.limits.rate_limits = limits;
        }
        if let Some(remaining) = self.remaining {
            sa.limits.remaining = remaining.map(|r| r.at(crate::clock::truncate(now)));
        }
        sa.updated_at = now;
    }

    /// Whether the change would disable the service account.
    pub fn disables(&self) -> bool {
        self.active == Some(false)
    }
}
