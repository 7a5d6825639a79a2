//! Keyward's signing keys as last read, with the active private key already parsed, so that
//! issuing and verifying access tokens does not read the database or parse PKCS#8 per request.
//!
//! A snapshot is used for at most [`FRESHNESS_SECONDS`] and dropped at once when this process
//! rotates; a rotation on another node is seen within that second, during which the key it
//! retired still signs — harmless, since a retiring key stays published.

use std::sync::{Arc, Mutex};

use chrono::Duration;
use jsonwebtoken::EncodingKey;

use super::Keyward;
use super::reach::{Reach, Stop, with_storage};
use crate::Timestamp;
use crate::error::Error;
use crate::signing_key::{SigningAlgorithm, SigningKey, SigningKeyState};

/// How long a snapshot is used before the keys are read again.
const FRESHNESS_SECONDS: i64 = 1;

/// The signing keys at one moment.
#[derive(Clone)]
pub(super) struct Snapshot {
    taken_at: Timestamp,
    /// Every published key (next, active, retiring).
    pub(super) published: Arc<Vec<SigningKey>>,
    /// The active key and its parsed private half.
    pub(super) active: Option<(SigningKey, Arc<EncodingKey>)>,
}

/// The cached snapshot.
#[derive(Default)]
pub(super) struct SigningCache {
    snapshot: Mutex<Option<Snapshot>>,
}

impl std::fmt::Debug for SigningCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningCache")
    }
}

impl SigningCache {
    /// Forgets the snapshot, after a local rotation.
    pub(super) fn forget(&self) {
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl Keyward {
    /// The signing keys, from a fresh-enough snapshot or read anew.
    pub(super) fn signing_snapshot(&self) -> Result<Snapshot, Error> {
        with_storage(self.signing_snapshot_within(Reach::Storage))
    }

    /// The same, from as far as `reach` allows.
    pub(super) fn signing_snapshot_within(&self, reach: Reach) -> Result<Snapshot, Stop> {
        let now = self.now();
        if let Some(s) = self.signing_cache.snapshot.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && now >= s.taken_at
            && now - s.taken_at < Duration::seconds(FRESHNESS_SECONDS)
        {
            return Ok(s.clone());
        }
        if reach == Reach::Memory {
            return Err(Stop::NeedsStorage);
        }
        let published: Vec<SigningKey> = self.published_signing_keys()?;
        let active = match published.iter().find(|k| k.state == SigningKeyState::Active) {
            None => None,
            Some(key) => {
                let pkcs8 = key.private_key(&self.sealer).map_err(|_| Error::WrongMasterKey)?;
                let encoding = match key.algorithm {
                    SigningAlgorithm::EdDsa => EncodingKey::from_ed_der(&pkcs8),
                    SigningAlgorithm::Es256 => EncodingKey::from_ec_der(&pkcs8),
                };
                Some((key.clone(), Arc::new(encoding)))
            }
        };
        let snapshot = Snapshot { taken_at: now, published: Arc::new(published), active };
        *self.signing_cache.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some(snapshot.clone());
        Ok(snapshot)
    }
}
