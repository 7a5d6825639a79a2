//! Leak reports applied: every reported string that is a live key puts that key in the
//! `leaked` state, on every node at once (the change feed forgets it everywhere), audited as
//! `credential.leaked` with the reporter's address and source.

use super::Keyward;
use super::keys::KeyKind;
use crate::ValidationError;
use crate::api_key::{ApiKeyPart, compare_with_nothing};
use crate::audit::Action;
use crate::credential::{Credential, CredentialKind};
use crate::error::Error;
use crate::id::{ApiKeyId, SecretKeyId};
use crate::leak::{MAX_REPORTED, Reporter, ScannerKeys, SignatureRefusal, Verdict, check_signature};
use crate::secret_key::SecretKeyPart;

impl Keyward {
    /// Applies a leak report: each string that is a live key is disabled as leaked. Answers a
    /// verdict per string, in order; the public endpoint shows none of them.
    pub fn report_leaks<S: AsRef<str>>(&self, reported: &[S], reporter: &Reporter) -> Result<Vec<Verdict>, Error> {
        if reported.len() > MAX_REPORTED {
            return Err(ValidationError::new("credentials", "at most 1000 credentials per report").into());
        }
        reported.iter().map(|s| self.report_leak(s.as_ref(), reporter)).collect()
    }

    /// Checks that `body` is a report signed by the configured secret-scanning partner.
    pub fn check_scanner_signature(
        &self,
        body: &[u8],
        identifier: Option<&str>,
        signature: Option<&str>,
    ) -> Result<(), SignatureRefusal> {
        check_signature(self.scanner_keys.as_ref(), body, identifier, signature)
    }

    fn report_leak(&self, reported: &str, reporter: &Reporter) -> Result<Verdict, Error> {
        let Ok(credential) = Credential::parse(reported.trim()) else { return Ok(Verdict::NotOurs) };
        match credential.kind() {
            CredentialKind::ApiKey => {
                self.revoke_leaked::<ApiKeyPart>(ApiKeyId::from_uuid(credential.id()), &credential, reporter)
            }
            CredentialKind::SecretKey => {
                self.revoke_leaked::<SecretKeyPart>(SecretKeyId::from_uuid(credential.id()), &credential, reporter)
            }
        }
    }

    /// Disables the key `id` as leaked if `credential` is a secret it accepts.
    fn revoke_leaked<K: KeyKind>(
        &self,
        id: K::Id,
        credential: &Credential,
        reporter: &Reporter,
    ) -> Result<Verdict, Error> {
        let now = self.now();
        let Some(key) = K::find(self.repo.as_ref(), id)? else {
            // An unknown id takes a comparison too, as a wrong secret does.
            compare_with_nothing(&credential.secret_hash());
            return Ok(Verdict::NotOurs);
        };
        if !K::accepts(&key, self, credential, now) {
            return Ok(Verdict::NotOurs);
        }
        if key.leaked_at.is_some() {
            return Ok(Verdict::AlreadyLeaked);
        }
        let (account, sa) = key.owner();
        let changed = K::update(self.repo.as_ref(), account, sa, &K::by_id(id), &mut |k| {
            if k.leaked_at.is_none() {
                k.mark_leaked(now);
            }
            let target = format!("{}:{id}", K::TARGET);
            let mut event = self.audit_as("leak-report", account, Action::CredentialLeaked, target, now);
            event.ip = reporter.ip.map(|ip| ip.to_string());
            event.reason = Some(reporter.source.clone());
            Ok(event)
        });
        match changed {
            Ok(_) => Ok(Verdict::Revoked),
            // Deleted since it was read: nothing is left to revoke.
            Err(Error::NotFound(_)) => Ok(Verdict::NotOurs),
            Err(e) => Err(e),
        }
    }
}

impl Keyward {
    /// The same, getting a secret-scanning partner's public keys from `keys`.
    pub fn with_scanner_keys(mut self, keys: std::sync::Arc<dyn ScannerKeys>) -> Self {
        self.scanner_keys = keys;
        self
    }
}
