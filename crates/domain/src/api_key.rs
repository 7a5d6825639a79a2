//! API keys: opaque bearer credentials of a service account, and the rule that decides whether a
//! presented key is usable.

use std::net::IpAddr;
use std::sync::LazyLock;

use crate::id::ApiKeyId;
use crate::key::{Key, KeyChanges, KeyPart, NewKey, Rejection};
use crate::limits::{LimitSettings, Permissions, RateLimit, RemainingSetting, RoleName, UsageLimits};
use crate::secret::SecretHash;
use crate::text::Description;
use crate::{Timestamp, ValidationError};
use std::collections::BTreeSet;

/// The secret material of a key: the hash of its current secret and, after a rotation, the hash of
/// the previous one with the moment it stops working. `Debug` shows none of it.
#[derive(Clone)]
pub struct StoredSecret {
    /// The hash of the current secret.
    pub current: SecretHash,
    /// The hash of the previous secret and when it stops being accepted.
    pub previous: Option<(SecretHash, Timestamp)>,
    /// The current credential string sealed under the master key, for the keys whose secret may
    /// be shown again (tokens made through the Wavefront dialect, where a token's id is the token);
    /// `None` for every other key, of which Keyward keeps only the hash.
    pub sealed: Option<Vec<u8>>,
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredSecret([REDACTED])")
    }
}

/// The context a key's sealed secret is bound to, so it cannot be moved to another row.
pub fn seal_context(id: ApiKeyId) -> Vec<u8> {
    format!("keyward api key v1:{id}").into_bytes()
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
    let stored = StoredSecret { current: NEVER_MATCHES.clone(), previous: None, sealed: None };
    stored.accepts(presented, Timestamp::MIN_UTC)
}

/// What only an API key has beside what every [`Key`] has.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyPart {
    /// A free-text description.
    pub description: Description,
    /// The address it was last used from.
    pub last_used_ip: Option<IpAddr>,
    /// What it may use, checked when it is verified: rate limits, uses left, permissions.
    pub limits: UsageLimits,
}

impl KeyPart for ApiKeyPart {
    type Id = ApiKeyId;
    type Secret = StoredSecret;
    type New = NewApiKeyPart;
    type Changes = ApiKeyPartChanges;

    fn apply(&mut self, changes: &ApiKeyPartChanges, now: Timestamp) -> Result<(), ValidationError> {
        if let Some(d) = &changes.description {
            self.description = d.clone();
        }
        if let Some(limits) = &changes.rate_limits {
            UsageLimits::check_rate_limits(limits)?;
            self.limits.rate_limits = limits.clone();
        }
        if let Some(remaining) = changes.remaining {
            self.limits.remaining = remaining.map(|r| r.at(crate::clock::truncate(now)));
        }
        if let Some(permissions) = &changes.permissions {
            UsageLimits::check_permissions(permissions)?;
            self.limits.permissions = permissions.clone();
        }
        if let Some(roles) = &changes.roles {
            UsageLimits::check_roles(roles)?;
            self.limits.roles = roles.clone();
        }
        Ok(())
    }
}

/// An API key: an opaque bearer secret, stored hashed.
pub type ApiKey = Key<ApiKeyPart>;

impl ApiKey {
    /// Replaces the secret with `new`, keeping the current one working until `now + retain` (not at
    /// all for a zero period). Only one previous secret is kept: rotating again replaces it.
    /// `sealed` is the new secret sealed under the master key, for a key whose secret may be shown
    /// again.
    pub fn rotate(&mut self, new: SecretHash, sealed: Option<Vec<u8>>, retain: RetainPeriod, now: Timestamp) {
        let old = std::mem::replace(&mut self.secret.current, new);
        self.secret.sealed = sealed;
        self.secret.previous = (retain.0 > 0).then(|| (old, now + chrono::Duration::seconds(retain.0)));
        self.rotated(now);
    }

    /// Decides whether `presented` is a usable secret for this key at `now`, given whether the
    /// key's service account is active. The secret is checked first, so a caller without the
    /// secret learns nothing about the key's state.
    pub fn check(&self, presented: &SecretHash, owner_active: bool, now: Timestamp) -> Result<(), Rejection> {
        if !self.secret.accepts(presented, now) {
            return Err(Rejection::NotFound);
        }
        self.usable(owner_active, now)
    }

    /// Whether the key was rotated after `issued` in a way that ends what its old secret obtained:
    /// rotated since, and the old secret no longer accepted at `now` (no retain period, or it is
    /// over). Access tokens a key logged in for stop then.
    pub fn rotated_since(&self, issued: Timestamp, now: Timestamp) -> bool {
        let rotated_after = self.last_rotated_at.is_some_and(|r| r > issued);
        let old_still_accepted = self.secret.previous.as_ref().is_some_and(|(_, until)| now < *until);
        rotated_after && !old_still_accepted
    }
}

/// A change to an API key: see [`KeyChanges`].
pub type ApiKeyChanges = KeyChanges<ApiKeyPart>;

/// What a change may say of an API key's own part; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyPartChanges {
    /// A new description.
    pub description: Option<Description>,
    /// Replace its rate limits.
    pub rate_limits: Option<Vec<RateLimit>>,
    /// Set its uses left anew (counting from now), or `Some(None)` to stop counting them.
    pub remaining: Option<Option<RemainingSetting>>,
    /// Replace its permissions.
    pub permissions: Option<Permissions>,
    /// Replace its roles.
    pub roles: Option<BTreeSet<RoleName>>,
}

/// How long a rotated-away secret keeps working: 0 (not at all) to 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetainPeriod(i64);

impl RetainPeriod {
    /// The longest retain period in seconds: 30 days.
    pub const MAX_SECONDS: i64 = 30 * 24 * 3600;
    /// No retain period: the old secret stops working at once.
    pub const NONE: Self = Self(0);

    /// Parses a period in seconds; `field` names the input in the error.
    pub fn parse(seconds: i64, field: &str) -> Result<Self, ValidationError> {
        if (0..=Self::MAX_SECONDS).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(ValidationError::new(field, "must be from 0 to 2592000 seconds (30 days)"))
        }
    }

    /// The period in seconds.
    pub fn seconds(self) -> i64 {
        self.0
    }
}

/// What a caller supplies to create an API key: see [`NewKey`].
pub type NewApiKey = NewKey<ApiKeyPart>;

/// What only a new API key is given; by default no description, a secret kept only hashed and no
/// usage limits.
#[derive(Debug, Clone, Default)]
pub struct NewApiKeyPart {
    /// The description.
    pub description: Description,
    /// Whether its secret is also kept sealed under the master key, so that it can be shown again
    /// (tokens made through the Wavefront dialect).
    pub retrievable: bool,
    /// Its rate limits, uses left and permissions.
    pub limits: LimitSettings,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{AccountId, ServiceAccountId};
    use crate::key::KeyState;
    use crate::secret_key::SealedSecret;
    use crate::text::Name;
    use crate::{Entropy, SeededEntropy};
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn a_keys_debug_shows_no_secret_material_of_either_kind() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let (mut api, _) = key(now);
        api.secret.sealed = Some(vec![0xAB; 48]);
        api.secret.previous = Some((SecretHash::of(b"old"), now));
        let shown = format!("{api:?}");
        assert!(shown.contains("StoredSecret([REDACTED])") && !shown.contains("171"), "{shown}");
        let id = crate::id::SecretKeyId::generate(now, &SeededEntropy::new(1));
        let mut secret: crate::secret_key::SecretKey = Key::issued(
            id,
            api.account_id,
            api.service_account_id,
            api.name.clone(),
            now,
            SealedSecret::new(vec![0xAB; 48]),
        );
        secret.secret.previous = Some((vec![0xAB; 48], now));
        let shown = format!("{secret:?}");
        assert!(shown.contains("SealedSecret([REDACTED])") && !shown.contains("171"), "{shown}");
    }

    fn key(now: Timestamp) -> (ApiKey, SecretHash) {
        let e = SeededEntropy::new(9);
        let mut secret = [0u8; 32];
        e.fill(&mut secret);
        let hash = SecretHash::of(&secret);
        let key = ApiKey {
            expires_at: Some(now + Duration::hours(1)),
            ..ApiKey::issued(
                ApiKeyId::generate(now, &e),
                AccountId::generate(now, &e),
                ServiceAccountId::generate(now, &e),
                Name::parse("k", "name").unwrap(),
                now,
                StoredSecret { current: hash.clone(), previous: None, sealed: None },
            )
        };
        (key, hash)
    }

    #[test]
    fn a_rotation_ends_what_the_old_secret_obtained_only_once_it_is_no_longer_accepted() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let (mut k, _) = key(now);
        let issued = now - Duration::minutes(1);
        assert!(!k.rotated_since(issued, now), "never rotated");
        k.rotate(SecretHash::of(b"second"), None, RetainPeriod::parse(600, "r").unwrap(), now);
        assert!(!k.rotated_since(issued, now), "the old secret is still retained");
        assert!(k.rotated_since(issued, now + Duration::minutes(11)), "the retain period is over");
        assert!(!k.rotated_since(now + Duration::seconds(1), now + Duration::minutes(11)), "issued after the rotation");
        k.rotate(SecretHash::of(b"third"), None, RetainPeriod::parse(0, "r").unwrap(), now + Duration::seconds(5));
        assert!(k.rotated_since(now + Duration::seconds(1), now + Duration::seconds(6)), "no retain period: at once");
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
    fn rotation_keeps_only_one_previous_secret() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let (mut k, first) = key(now);
        let second = SecretHash::of(b"second");
        let third = SecretHash::of(b"third");
        k.rotate(second.clone(), None, RetainPeriod::parse(600, "r").unwrap(), now);
        assert!(k.secret.accepts(&first, now) && k.secret.accepts(&second, now));
        assert_eq!(k.last_rotated_at, Some(now));
        k.rotate(third.clone(), None, RetainPeriod::parse(600, "r").unwrap(), now);
        assert!(!k.secret.accepts(&first, now), "the first secret is gone after a second rotation");
        assert!(k.secret.accepts(&second, now) && k.secret.accepts(&third, now));
        k.rotate(SecretHash::of(b"fourth"), None, RetainPeriod::parse(0, "r").unwrap(), now);
        assert!(!k.secret.accepts(&third, now), "a zero retain period ends the old secret at once");
        assert!(RetainPeriod::parse(-1, "r").is_err());
        assert!(RetainPeriod::parse(RetainPeriod::MAX_SECONDS + 1, "r").is_err());
    }

    #[test]
    fn changes_refuse_a_past_expiry_and_can_remove_one() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let (mut k, _) = key(now);
        let past = ApiKeyChanges { expires_at: Some(Some(now)), ..Default::default() };
        assert!(k.apply(&past, now).is_err());
        let never = ApiKeyChanges { expires_at: Some(None), active: Some(false), ..Default::default() };
        k.apply(&never, now).unwrap();
        assert_eq!((k.expires_at, k.active), (None, false));
    }

    #[test]
    fn a_change_refused_in_its_kinds_part_changes_nothing() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let (mut k, _) = key(now);
        let before = format!("{k:?}");
        let zero = RateLimit {
            name: crate::limits::LimitName::parse("burst", "name").unwrap(),
            limit: 0,
            window: crate::limits::WindowLength::parse(60, "window").unwrap(),
            auto_apply: true,
            strict: false,
        };
        let changes = ApiKeyChanges {
            name: Some(Name::parse("renamed", "name").unwrap()),
            active: Some(false),
            part: ApiKeyPartChanges {
                description: Some(Description::parse("new", "description").unwrap()),
                rate_limits: Some(vec![zero]),
                ..Default::default()
            },
            ..Default::default()
        };
        let refused = k.apply(&changes, now + Duration::seconds(1)).unwrap_err();
        assert_eq!(refused.field, "rate_limits[0].limit");
        assert_eq!(format!("{k:?}"), before, "neither the common fields nor the description changed");
    }

    #[test]
    fn a_previous_secret_works_until_its_retain_period_ends() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let (mut k, old) = key(now);
        let new = SecretHash::of(b"new secret");
        k.secret = StoredSecret {
            current: new.clone(),
            previous: Some((old.clone(), now + Duration::minutes(5))),
            sealed: None,
        };
        assert!(k.secret.accepts(&new, now));
        assert!(k.secret.accepts(&old, now + Duration::minutes(4)));
        assert!(!k.secret.accepts(&old, now + Duration::minutes(5)));
    }
}
