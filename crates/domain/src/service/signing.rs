//! Keyward's signing keys: made on first start, rotated on demand or on a schedule.

use chrono::Duration;

use super::Keyward;
use crate::audit::Action;
use crate::error::Error;
use crate::principal::Principal;
use crate::signing_key::{SigningAlgorithm, SigningKey, SigningKeyState};

impl Keyward {
    fn new_signing_key(&self, state: SigningKeyState) -> Result<SigningKey, Error> {
        SigningKey::generate(self.signing_algorithm, state, self.now(), &self.sealer, self.entropy.as_ref())
            .map_err(|_| Error::Unavailable("generating a signing key failed".to_owned()))
    }

    /// Makes the first active and next signing keys if there are none. Safe on many nodes at once.
    pub fn ensure_signing_keys(&self) -> Result<(), Error> {
        if self.repo.signing_keys()?.iter().any(|k| k.state == SigningKeyState::Active) {
            return Ok(());
        }
        let active = self.new_signing_key(SigningKeyState::Active)?;
        let next = self.new_signing_key(SigningKeyState::Next)?;
        self.repo.init_signing_keys(&active, &next)?;
        self.signing_cache.forget();
        Ok(())
    }

    /// Every signing key with its state; system administrators only.
    pub fn list_signing_keys(&self, p: &Principal) -> Result<Vec<SigningKey>, Error> {
        p.require_system_admin()?;
        Ok(self.repo.signing_keys()?)
    }

    /// The keys the JWKS publishes: next, active and retiring.
    pub fn published_signing_keys(&self) -> Result<Vec<SigningKey>, Error> {
        Ok(self.repo.signing_keys()?.into_iter().filter(|k| k.state.published()).collect())
    }

    /// Rotates now (next → active → retiring); system administrators only. A retiring key is
    /// retired only once every token it signed has expired.
    pub fn rotate_signing_keys(&self, p: &Principal) -> Result<Vec<SigningKey>, Error> {
        p.require_system_admin()?;
        self.rotate_signing_keys_now(Some(p))?;
        Ok(self.repo.signing_keys()?)
    }

    /// Rotates if the active key has been signing for longer than `period`; answers whether it did.
    pub fn rotate_signing_keys_if_due(&self, period: Duration) -> Result<bool, Error> {
        let keys = self.repo.signing_keys()?;
        let due = keys
            .iter()
            .find(|k| k.state == SigningKeyState::Active)
            .and_then(|k| k.activated_at)
            .is_some_and(|at| at + period <= self.now());
        if due {
            self.rotate_signing_keys_now(None)?;
        }
        Ok(due)
    }

    fn rotate_signing_keys_now(&self, p: Option<&Principal>) -> Result<(), Error> {
        let now = self.now();
        let next = self.new_signing_key(SigningKeyState::Next)?;
        let audit = match p {
            Some(p) => self.audit(p, p.account_id, Action::SigningKeyRotate, "signing_keys".to_owned(), now),
            None => {
                let system = self.repo.system_account()?;
                self.audit_as("system:schedule", system, Action::SigningKeyRotate, "signing_keys".to_owned(), now)
            }
        };
        let retire_before = now - Duration::seconds(self.access_token_ttl.num_seconds().max(0));
        self.repo.rotate_signing_keys(&next, now, retire_before, &audit)?;
        self.signing_cache.forget();
        Ok(())
    }

    /// The algorithm new signing keys use.
    pub fn signing_algorithm(&self) -> SigningAlgorithm {
        self.signing_algorithm
    }
}
