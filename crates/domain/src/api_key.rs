//! API keys: opaque bearer credentials of a service account, and the rule that decides whether a
//! presented key is usable.

use std::sync::LazyLock;

use serde::Serialize;

use crate::id::{AccountId, ApiKeyId, ServiceAccountId};
use crate::scope::Scopes;
use crate::secret::SecretHash;
use crate::text::{Description, Name};
use crate::{Timestamp, ValidationError};

/// The secret material of a key: the hash of its current secret and, after a rotation, the hash of
/// the previous one with the moment it stops working.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    /// The hash of the current secret.
    pub current: SecretHash,
    /// The hash of the previous secret and when it stops being accepted.
    pub previous: Option<(SecretHash, Timestamp)>,
}

impl StoredSecret {
    /// Whether `presented` is the current secret, or the previous one before its retain period ends.
    /// Both comparisons always run, in constant time, so the answer's timing reveals nothing.
    pub fn accepts(&self, presented: &SecretHash, now: Timestamp) -> bool {
        let current = self.current.matches(presented);
        let (previous_hash, previous_live) = match &self.previous {
            Some((hash, until)) => (hash, now < *until),
            None => (&*NEVER_MATCHES, false),
        };
        let previous = previous_hash.matches(presented) & previous_live;
        current | previous
    }
}

/// A hash that no presented secret matches, compared against when there is nothing to compare,
/// so that every verification does the same work.
static NEVER_MATCHES: LazyLock<SecretHash> = LazyLock::new(|| SecretHash::of(b"keyward: no such secret"));

/// Compares `presented` with hashes that never match. Called when the key id is unknown, so that
/// an unknown id and a wrong secret take the same path through a constant-time comparison.
pub fn compare_with_nothing(presented: &SecretHash) -> bool {
    let stored = StoredSecret { current: NEVER_MATCHES.clone(), previous: None };
    stored.accepts(presented, Timestamp::MIN_UTC)
}

/// An API key.
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// Its id, also the id part of its credential string.
    pub id: ApiKeyId,
    /// The account of its service account.
    pub account_id: AccountId,
    /// The service account it belongs to.
    pub service_account_id: ServiceAccountId,
    /// Its name, unique per service account.
    pub name: Name,
    /// A free-text description.
    pub description: Description,
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
    /// The address it was last used from.
    pub last_used_ip: Option<String>,
    /// When its secret was last rotated.
    pub last_rotated_at: Option<Timestamp>,
    /// Its secret, hashed.
    pub secret: StoredSecret,
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
        }
    }
}

impl ApiKey {
    /// The key's state at `now`, ignoring its service account.
    pub fn state(&self, now: Timestamp) -> KeyState {
        if !self.active {
            KeyState::Disabled
        } else if self.expires_at.is_some_and(|e| e <= now) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }

    /// Decides whether `presented` is a usable secret for this key at `now`, given whether the
    /// key's service account is active. The secret is checked first, so a caller without the
    /// secret learns nothing about the key's state.
    pub fn check(&self, presented: &SecretHash, owner_active: bool, now: Timestamp) -> Result<(), Rejection> {
        if !self.secret.accepts(presented, now) {
            return Err(Rejection::NotFound);
        }
        match self.state(now) {
            KeyState::Disabled => Err(Rejection::Disabled),
            KeyState::Expired => Err(Rejection::Expired),
            KeyState::Active if !owner_active => Err(Rejection::OwnerDisabled),
            KeyState::Active => Ok(()),
        }
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

/// What a caller supplies to create an API key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The name.
    pub name: Name,
    /// The description.
    pub description: Description,
    /// What it may do.
    pub scopes: Scopes,
    /// When it stops working.
    pub expiry: Expiry,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Entropy, SeededEntropy};
    use chrono::{Duration, TimeZone, Utc};

    fn key(now: Timestamp) -> (ApiKey, SecretHash) {
        let e = SeededEntropy::new(9);
        let mut secret = [0u8; 32];
        e.fill(&mut secret);
        let hash = SecretHash::of(&secret);
        let key = ApiKey {
            id: ApiKeyId::generate(now, &e),
            account_id: AccountId::generate(now, &e),
            service_account_id: ServiceAccountId::generate(now, &e),
            name: Name::parse("k", "name").unwrap(),
            description: Description::default(),
            scopes: Scopes::default(),
            active: true,
            expires_at: Some(now + Duration::hours(1)),
            created_at: now,
            updated_at: now,
            last_used_at: None,
            last_used_ip: None,
            last_rotated_at: None,
            secret: StoredSecret { current: hash.clone(), previous: None },
        };
        (key, hash)
    }

    #[test]
    fn usable_only_when_active_unexpired_and_owned_by_an_active_service_account() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let (mut k, hash) = key(now);
        assert_eq!(k.check(&hash, true, now), Ok(()));
        assert_eq!(k.check(&SecretHash::of(b"wrong"), true, now), Err(Rejection::NotFound));
        assert_eq!(k.check(&hash, false, now), Err(Rejection::OwnerDisabled));
        assert_eq!(k.check(&hash, true, now + Duration::hours(1)), Err(Rejection::Expired));
        assert_eq!(k.state(now + Duration::hours(1)), KeyState::Expired);
        k.active = false;
        assert_eq!(k.check(&hash, true, now), Err(Rejection::Disabled));
        assert!(!compare_with_nothing(&hash));
    }

    #[test]
    fn a_previous_secret_works_until_its_retain_period_ends() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let (mut k, old) = key(now);
        let new = SecretHash::of(b"new secret");
        k.secret = StoredSecret { current: new.clone(), previous: Some((old.clone(), now + Duration::minutes(5))) };
        assert!(k.secret.accepts(&new, now));
        assert!(k.secret.accepts(&old, now + Duration::minutes(4)));
        assert!(!k.secret.accepts(&old, now + Duration::minutes(5)));
    }
}
