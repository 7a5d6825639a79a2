//! `Key<P>`: what every key has, whatever its kind, around `P`, the part only its kind has. An
//! API key is a `Key<ApiKeyPart>`, a secret key a `Key<SecretKeyPart>`; a field every key needs
//! is added here once. What a caller supplies to make a key (`NewKey<P>`) and to change one
//! (`KeyChanges<P>`) have the same shape: the fields every kind shares, around the kind's own
//! `part`.

use std::fmt;

use crate::id::{AccountId, ServiceAccountId};
use crate::scope::Scopes;
use crate::text::Name;
use crate::{Timestamp, ValidationError};
use serde::Serialize;

/// What one kind of key adds to [`Key`]: its id, how it keeps its secret, and fields of its own.
pub trait KeyPart: fmt::Debug + Clone + Default {
    /// The kind's id, also the id part of its credential strings.
    type Id: fmt::Debug + fmt::Display + Copy + Eq;
    /// Its secret as this kind keeps it: hashed, or sealed. `Debug` shows none of it.
    type Secret: fmt::Debug + Clone;
    /// What only a new key of this kind is given; `Default` is a plain key.
    type New: fmt::Debug + Clone + Default;
    /// What a change may say of this part; `Default` changes nothing.
    type Changes: fmt::Debug + Clone + Default;

    /// Applies `changes` to this part as of `now`, refusing values its kind does not allow.
    fn apply(&mut self, changes: &Self::Changes, now: Timestamp) -> Result<(), ValidationError>;
}

/// A key of a service account, of the kind `P` says.
#[derive(Debug, Clone)]
pub struct Key<P: KeyPart> {
    /// Its id, also the id part of its credential string.
    pub id: P::Id,
    /// The account of its service account.
    pub account_id: AccountId,
    /// The service account it belongs to.
    pub service_account_id: ServiceAccountId,
    /// Its name, unique among its service account's keys of its kind.
    pub name: Name,
    /// What it may do.
    pub scopes: Scopes,
    /// Whether it may be used.
    pub active: bool,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
    /// When it was last used successfully.
    pub last_used_at: Option<Timestamp>,
    /// When its secret was last rotated.
    pub last_rotated_at: Option<Timestamp>,
    /// When it was reported leaked, if it was and has not been re-enabled since.
    pub leaked_at: Option<Timestamp>,
    /// What only its kind has.
    pub part: P,
    /// Its secret, as its kind keeps it.
    pub secret: P::Secret,
}

impl<P: KeyPart> Key<P> {
    /// A key issued `now` as `name` of `sa` in `account`: active, never used, rotated or reported;
    /// without scopes or expiry, its kind's part as its default (give those with
    /// `..Key::issued(...)`).
    pub fn issued(
        id: P::Id,
        account: AccountId,
        sa: ServiceAccountId,
        name: Name,
        now: Timestamp,
        secret: P::Secret,
    ) -> Self {
        Self {
            id,
            account_id: account,
            service_account_id: sa,
            name,
            scopes: Scopes::default(),
            active: true,
            expires_at: None,
            created_at: now,
            updated_at: now,
            last_used_at: None,
            last_rotated_at: None,
            leaked_at: None,
            part: P::default(),
            secret,
        }
    }

    /// The key's state at `now`, ignoring its service account.
    pub fn state(&self, now: Timestamp) -> KeyState {
        KeyState::of(self.active, self.leaked_at, self.expires_at, now)
    }

    /// Whether the key may be used at `now`, given whether its service account is active; says
    /// nothing about any secret.
    pub fn usable(&self, owner_active: bool, now: Timestamp) -> Result<(), Rejection> {
        self.state(now).usable(owner_active)
    }

    /// Applies `changes` as of `now`: an expiry must be in the future, and ending the `leaked`
    /// state takes `acknowledge_leak` (see [`LeakAcknowledgement`]). Nothing is changed when a
    /// value is refused.
    pub fn apply(&mut self, changes: &KeyChanges<P>, now: Timestamp) -> Result<(), ValidationError> {
        require_future(changes.expires_at, now)?;
        let leaked_at = LeakAcknowledgement::decide(self.leaked_at, changes.active, changes.acknowledge_leak)?;
        let mut part = self.part.clone();
        part.apply(&changes.part, now)?;
        (self.part, self.leaked_at, self.updated_at) = (part, leaked_at, now);
        if let Some(name) = &changes.name {
            self.name = name.clone();
        }
        if let Some(active) = changes.active {
            self.active = active;
        }
        if let Some(scopes) = &changes.scopes {
            self.scopes = scopes.clone();
        }
        if let Some(expires_at) = changes.expires_at {
            self.expires_at = expires_at.map(crate::clock::truncate);
        }
        Ok(())
    }

    /// The account and service account the key belongs to.
    pub fn owner(&self) -> (AccountId, ServiceAccountId) {
        (self.account_id, self.service_account_id)
    }

    /// Puts the key in the `leaked` state: disabled, until enabled again with an acknowledgement.
    pub fn mark_leaked(&mut self, now: Timestamp) {
        (self.active, self.leaked_at, self.updated_at) = (false, Some(now), now);
    }

    /// Marks a rotation at `now`; the kind has replaced the secret.
    pub(crate) fn rotated(&mut self, now: Timestamp) {
        self.last_rotated_at = Some(now);
        self.updated_at = now;
    }
}

/// What a caller supplies to create a key of the kind `P` says; `part` holds what only that
/// kind's keys are given.
#[derive(Debug, Clone)]
pub struct NewKey<P: KeyPart> {
    /// The name.
    pub name: Name,
    /// What it may do.
    pub scopes: Scopes,
    /// When it stops working.
    pub expiry: Expiry,
    /// What only its kind is given.
    pub part: P::New,
}

impl<P: KeyPart> NewKey<P> {
    /// A key named `name` with `scopes` until `expiry`, its kind's part as its default (give that
    /// with `..NewKey::new(...)`).
    pub fn new(name: Name, scopes: Scopes, expiry: Expiry) -> Self {
        Self { name, scopes, expiry, part: P::New::default() }
    }
}

/// When a new key should stop working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// Never.
    #[default]
    Never,
    /// At a given time, which must be in the future.
    At(Timestamp),
    /// A number of seconds after creation.
    After(i64),
}

impl Expiry {
    /// The longest lifetime a key may be given in seconds: ten years.
    pub const MAX_TTL_SECONDS: i64 = 10 * 366 * 24 * 3600;

    /// Reads the two ways a client can say it: `expires_at` or `ttl_seconds`, at most one.
    pub fn parse(expires_at: Option<Timestamp>, ttl_seconds: Option<i64>) -> Result<Self, ValidationError> {
        match (expires_at, ttl_seconds) {
            (Some(_), Some(_)) => {
                Err(ValidationError::new("ttl_seconds", "give `expires_at` or `ttl_seconds`, not both"))
            }
            (Some(at), None) => Ok(Expiry::At(crate::clock::truncate(at))),
            (None, Some(ttl)) if (1..=Self::MAX_TTL_SECONDS).contains(&ttl) => Ok(Expiry::After(ttl)),
            (None, Some(_)) => Err(ValidationError::new("ttl_seconds", "must be from 1 to 316224000 (ten years)")),
            (None, None) => Ok(Expiry::Never),
        }
    }

    /// The expiry time for a key created at `now`; refuses a time that is not in the future.
    pub fn resolve(self, now: Timestamp) -> Result<Option<Timestamp>, ValidationError> {
        match self {
            Expiry::Never => Ok(None),
            Expiry::At(at) if at > now => Ok(Some(at)),
            Expiry::At(_) => Err(ValidationError::new("expires_at", "must be in the future")),
            Expiry::After(ttl) => Ok(Some(now + chrono::Duration::seconds(ttl))),
        }
    }
}

/// A change to a key of the kind `P` says; `None` leaves a field as it is, and
/// `expires_at: Some(None)` removes the expiry. `part` holds what only that kind's keys have.
#[derive(Debug, Clone, Default)]
pub struct KeyChanges<P: KeyPart> {
    /// A new name.
    pub name: Option<Name>,
    /// Enable or disable the key.
    pub active: Option<bool>,
    /// Replace its scopes.
    pub scopes: Option<Scopes>,
    /// A new expiry (which must be in the future), or `Some(None)` for none.
    pub expires_at: Option<Option<Timestamp>>,
    /// Whether enabling the key may end its `leaked` state: see [`LeakAcknowledgement`].
    pub acknowledge_leak: bool,
    /// The change to what only its kind has.
    pub part: P::Changes,
}

impl<P: KeyPart> KeyChanges<P> {
    /// The change that enables (`true`) or disables (`false`) a key, and nothing else.
    pub fn activate(on: bool) -> Self {
        Self { active: Some(on), ..Self::default() }
    }

    /// The change that enables a key reported leaked, acknowledging the leak.
    pub fn enable_after_leak() -> Self {
        Self { active: Some(true), acknowledge_leak: true, ..Self::default() }
    }

    /// Whether the change disables the key.
    pub fn disables(&self) -> bool {
        self.active == Some(false)
    }
}

/// The state of a key as a caller sees it in a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Usable.
    Active,
    /// Switched off by its owner.
    Disabled,
    /// Past its expiry.
    Expired,
    /// Reported as leaked and disabled until an administrator re-enables it on purpose.
    Leaked,
}

impl KeyState {
    /// The state of a credential that is `active` (enabled), was reported leaked at `leaked_at`
    /// and expires at `expires_at`, at `now`. A leak report outranks every other state.
    pub fn of(active: bool, leaked_at: Option<Timestamp>, expires_at: Option<Timestamp>, now: Timestamp) -> Self {
        if leaked_at.is_some() {
            KeyState::Leaked
        } else if !active {
            KeyState::Disabled
        } else if expires_at.is_some_and(|e| e <= now) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }

    /// The state as the API writes it (`active`, `disabled`, `expired` or `leaked`), as its serde
    /// form is.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Disabled => "disabled",
            KeyState::Expired => "expired",
            KeyState::Leaked => "leaked",
        }
    }

    /// Whether a credential in this state may be used, given whether its service account is
    /// active: the one rule for every kind of credential.
    pub fn usable(self, owner_active: bool) -> Result<(), Rejection> {
        match self {
            // A leaked key is a disabled key to whoever presents it: the verify codes stay the same.
            KeyState::Disabled | KeyState::Leaked => Err(Rejection::Disabled),
            KeyState::Expired => Err(Rejection::Expired),
            KeyState::Active if !owner_active => Err(Rejection::OwnerDisabled),
            KeyState::Active => Ok(()),
        }
    }
}

/// Why a presented credential is refused; the codes of the verify endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Rejection {
    /// Not a well-formed credential string.
    Malformed,
    /// No key with this id, or the secret does not match.
    NotFound,
    /// The key has expired.
    Expired,
    /// The key is disabled.
    Disabled,
    /// The key's service account is disabled.
    OwnerDisabled,
    /// The key lacks a required scope.
    InsufficientScope,
    /// An access token bound to a key (DPoP) was presented without a proof by that key.
    ProofRequired,
    /// The key lacks a permission the verification's query needs.
    InsufficientPermissions,
    /// A rate limit of the key has no room left in its window.
    RateLimited,
    /// The key has fewer uses left than the verification's cost.
    UsageExceeded,
}

impl Rejection {
    /// The stable wire code.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::Malformed => "MALFORMED",
            Rejection::NotFound => "NOT_FOUND",
            Rejection::Expired => "EXPIRED",
            Rejection::Disabled => "DISABLED",
            Rejection::OwnerDisabled => "OWNER_DISABLED",
            Rejection::InsufficientScope => "INSUFFICIENT_SCOPE",
            Rejection::ProofRequired => "PROOF_REQUIRED",
            Rejection::InsufficientPermissions => "INSUFFICIENT_PERMISSIONS",
            Rejection::RateLimited => "RATE_LIMITED",
            Rejection::UsageExceeded => "USAGE_EXCEEDED",
        }
    }
}

/// The rule for re-enabling a key reported leaked: it takes `active: true` together with
/// `acknowledge_leak: true`, so that no routine "enable" undoes a leak report by accident.
#[derive(Debug)]
pub struct LeakAcknowledgement;

impl LeakAcknowledgement {
    /// The key's `leaked_at` after a change that sets `active` (if given) with `acknowledge` set
    /// or not; refuses enabling a leaked key without the acknowledgement.
    pub fn decide(
        leaked_at: Option<Timestamp>,
        active: Option<bool>,
        acknowledge: bool,
    ) -> Result<Option<Timestamp>, ValidationError> {
        match (leaked_at, active, acknowledge) {
            (Some(_), Some(true), true) => Ok(None),
            (Some(_), Some(true), false) => Err(ValidationError::new(
                "acknowledge_leak",
                "the key was reported leaked: set acknowledge_leak to true to enable it again (rotate it first)",
            )),
            (leaked, _, _) => Ok(leaked),
        }
    }
}

/// Refuses a new expiry that is not in the future; `Some(None)` (remove the expiry) is fine.
pub(crate) fn require_future(expires_at: Option<Option<Timestamp>>, now: Timestamp) -> Result<(), ValidationError> {
    match expires_at {
        Some(Some(at)) if at <= now => Err(ValidationError::new("expires_at", "must be in the future")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_written_as_serde_writes_it() {
        for state in [KeyState::Active, KeyState::Disabled, KeyState::Expired, KeyState::Leaked] {
            assert_eq!(serde_json::to_string(&state).ok(), Some(format!("\"{}\"", state.as_str())));
        }
    }
}
