//! Secret keys: symmetric credentials of a service account. The id is the OAuth 2.0 `client_id`
//! and the JWT `kid`; the secret is the client secret and the HMAC key, so Keyward must be able to
//! read it back: it is stored sealed (AES-256-GCM) under the master key, bound to the key's id.

use std::fmt;

use crate::api_key::RetainPeriod;
use crate::id::SecretKeyId;
use crate::key::{Key, KeyChanges, KeyPart, NewKey};
use crate::sealing::{Sealer, Unsealable};
use crate::{Entropy, Timestamp, ValidationError};

/// The sealed secret of a key and, after a rotation, the sealed previous one with the moment it
/// stops being accepted. `Debug` shows neither.
#[derive(Clone)]
pub struct SealedSecret {
    /// The current secret, sealed.
    pub current: Vec<u8>,
    /// The previous secret, sealed, and when it stops working.
    pub previous: Option<(Vec<u8>, Timestamp)>,
}

impl SealedSecret {
    /// A new key's sealed secret, with no previous one.
    pub fn new(current: Vec<u8>) -> Self {
        Self { current, previous: None }
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedSecret([REDACTED])")
    }
}

/// The associated data a key's secret is sealed with: it ties the ciphertext to this key's row.
pub fn seal_context(id: SecretKeyId) -> Vec<u8> {
    format!("keyward secret key v1:{id}").into_bytes()
}

/// What only a secret key has beside what every [`Key`] has.
#[derive(Debug, Clone, Default)]
pub struct SecretKeyPart {
    /// Whether its access tokens must be bound to a client key (DPoP, RFC 9449): the token
    /// endpoint refuses it without a proof.
    pub require_dpop: bool,
}

impl KeyPart for SecretKeyPart {
    type Id = SecretKeyId;
    type Secret = SealedSecret;
    type New = NewSecretKeyPart;
    type Changes = SecretKeyPartChanges;

    fn apply(&mut self, changes: &SecretKeyPartChanges, _: Timestamp) -> Result<(), ValidationError> {
        if let Some(required) = changes.require_dpop {
            self.require_dpop = required;
        }
        Ok(())
    }
}

/// A secret key: its id is the OAuth 2.0 `client_id` and the JWT `kid`; its secret is stored
/// sealed.
pub type SecretKey = Key<SecretKeyPart>;

impl SecretKey {
    /// The secrets that are accepted at `now`, opened: the current one, then the retained previous one.
    pub fn open_secrets(&self, sealer: &Sealer, now: Timestamp) -> Result<Vec<Vec<u8>>, Unsealable> {
        let context = seal_context(self.id);
        let mut secrets = vec![sealer.open(&self.secret.current, &context)?];
        if let Some((previous, until)) = &self.secret.previous
            && now < *until
        {
            secrets.push(sealer.open(previous, &context)?);
        }
        Ok(secrets)
    }

    /// Whether `presented` is one of the secrets accepted at `now`, compared in constant time with
    /// each of them; a secret that cannot be opened accepts nothing.
    pub fn accepts(&self, sealer: &Sealer, presented: &[u8], now: Timestamp) -> bool {
        use subtle::ConstantTimeEq;
        let opened = self.open_secrets(sealer, now).unwrap_or_default();
        opened.iter().fold(false, |found, secret| found | bool::from(secret.as_slice().ct_eq(presented)))
    }

    /// Replaces the secret with `new` (already sealed for this key), keeping the current one
    /// working until `now + retain`. Only one previous secret is kept.
    pub fn rotate(&mut self, new: Vec<u8>, retain: RetainPeriod, now: Timestamp) {
        let old = std::mem::replace(&mut self.secret.current, new);
        self.secret.previous = (retain.seconds() > 0).then(|| (old, now + chrono::Duration::seconds(retain.seconds())));
        self.rotated(now);
    }

    /// Seals `secret` for this key.
    pub fn seal(id: SecretKeyId, secret: &[u8], sealer: &Sealer, entropy: &dyn Entropy) -> Vec<u8> {
        sealer.seal(secret, &seal_context(id), entropy)
    }
}

/// What a caller supplies to create a secret key: see [`NewKey`].
pub type NewSecretKey = NewKey<SecretKeyPart>;

/// What only a new secret key is given; by default it is not bound to DPoP.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewSecretKeyPart {
    /// Whether its access tokens must be bound to a client key (DPoP).
    pub require_dpop: bool,
}

/// A change to a secret key: see [`KeyChanges`].
pub type SecretKeyChanges = KeyChanges<SecretKeyPart>;

/// What a change may say of a secret key's own part; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretKeyPartChanges {
    /// Require, or stop requiring, DPoP-bound access tokens.
    pub require_dpop: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeededEntropy;
    use crate::id::{AccountId, ServiceAccountId};
    use crate::text::Name;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn a_rotated_secret_opens_until_its_retain_period_ends() {
        let e = SeededEntropy::new(3);
        let sealer = Sealer::random(&e);
        let now = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
        let id = SecretKeyId::generate(now, &e);
        let (account, sa) = (AccountId::generate(now, &e), ServiceAccountId::generate(now, &e));
        let name = Name::parse("k", "name").unwrap();
        let mut key = SecretKey::issued(
            id,
            account,
            sa,
            name,
            now,
            SealedSecret::new(SecretKey::seal(id, b"sesame-1", &sealer, &e)),
        );
        assert_eq!(key.open_secrets(&sealer, now).unwrap(), vec![b"sesame-1".to_vec()]);
        key.rotate(SecretKey::seal(id, b"sesame-2", &sealer, &e), RetainPeriod::parse(60, "r").unwrap(), now);
        assert_eq!(key.open_secrets(&sealer, now).unwrap(), vec![b"sesame-2".to_vec(), b"sesame-1".to_vec()]);
        assert_eq!(key.open_secrets(&sealer, now + Duration::seconds(60)).unwrap(), vec![b"sesame-2".to_vec()]);
        let other = SecretKeyId::generate(now, &e);
        let moved = SecretKey { id: other, ..key.clone() };
        assert!(moved.open_secrets(&sealer, now).is_err(), "a ciphertext moved to another row does not open");
        assert!(!format!("{key:?}").contains("sesame"));
    }
}
