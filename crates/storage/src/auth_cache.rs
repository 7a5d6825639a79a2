//! An in-process cache of the key lookups that authentication and verification make on every
//! request, so that the hot path rarely reaches the database.
//!
//! Entries (found and not found alike) live at most [`FRESHNESS`]; a change made through this
//! process drops the affected entries at once, and a change made by another node sharing the
//! database is seen within [`FRESHNESS`]. Concurrent misses for one key share one database read.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use domain::id::{ApiKeyId, SecretKeyId};
use domain::repository::{KeyForAuth, RepoError, RepoResult, SecretKeyForAuth};
use moka::sync::Cache;

/// How long an entry may be served without asking the database again.
pub const FRESHNESS: Duration = Duration::from_secs(1);
/// The most entries of each kind.
const CAPACITY: u64 = 100_000;

/// Cached lookups of API keys and secret keys by id.
pub(crate) struct AuthCache {
    api_keys: Cache<ApiKeyId, Option<KeyForAuth>>,
    secret_keys: Cache<SecretKeyId, Option<SecretKeyForAuth>>,
}

impl fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCache")
            .field("api_keys", &self.api_keys.entry_count())
            .field("secret_keys", &self.secret_keys.entry_count())
            .finish()
    }
}

fn unshare(e: Arc<RepoError>) -> RepoError {
    Arc::try_unwrap(e).unwrap_or_else(|shared| (*shared).clone())
}

impl AuthCache {
    pub(crate) fn new() -> Self {
        Self {
            api_keys: Cache::builder().max_capacity(CAPACITY).time_to_live(FRESHNESS).build(),
            secret_keys: Cache::builder().max_capacity(CAPACITY).time_to_live(FRESHNESS).build(),
        }
    }

    /// The API key `id`, from the cache or from `load`. Errors are not cached.
    pub(crate) fn api_key(
        &self,
        id: ApiKeyId,
        load: impl FnOnce() -> RepoResult<Option<KeyForAuth>>,
    ) -> RepoResult<Option<KeyForAuth>> {
        self.api_keys.try_get_with(id, load).map_err(unshare)
    }

    /// The secret key `id`, from the cache or from `load`. Errors are not cached.
    pub(crate) fn secret_key(
        &self,
        id: SecretKeyId,
        load: impl FnOnce() -> RepoResult<Option<SecretKeyForAuth>>,
    ) -> RepoResult<Option<SecretKeyForAuth>> {
        self.secret_keys.try_get_with(id, load).map_err(unshare)
    }

    /// Forgets one API key.
    pub(crate) fn forget_api_key(&self, id: ApiKeyId) {
        self.api_keys.invalidate(&id);
    }

    /// Forgets one secret key.
    pub(crate) fn forget_secret_key(&self, id: SecretKeyId) {
        self.secret_keys.invalidate(&id);
    }

    /// Forgets everything: for changes that touch many keys at once (a service account disabled,
    /// an account deleted), which are rare.
    pub(crate) fn forget_all(&self) {
        self.api_keys.invalidate_all();
        self.secret_keys.invalidate_all();
    }
}
