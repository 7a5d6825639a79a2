//! The data plane: other services asking whether an API key presented to them is good.

use super::Keyward;
use super::reach::{Reach, Stop, from_memory, with_storage};
use crate::Timestamp;
use crate::api_key::{ApiKey, compare_with_nothing};
use crate::credential::{Credential, CredentialKind};
use crate::error::{Entity, Error};
use crate::id::ApiKeyId;
use crate::key::Rejection;
use crate::limits::{Ask, LimitRefusal, LimitsVerdict, Plan, UsageLimits};
use crate::principal::{Permission, Principal};
use crate::repository::KeyForAuth;
use crate::scope::Scopes;
use crate::usage::Usage;

/// The answer to "is this key good for these scopes?".
#[derive(Debug)]
pub struct Verification {
    /// `Ok` if the key may be used, else why not.
    pub outcome: Result<(), Rejection>,
    /// The key's metadata, when the presented secret was the key's: never for `Malformed` or
    /// `NotFound`, so a guess reveals nothing.
    pub key: Option<ApiKey>,
    /// When the verdict was reached: the key's state was judged at this time.
    pub at: Timestamp,
    /// What the key's rate limits and uses left answered, when the verification got that far
    /// and the key has any.
    pub limits: Option<LimitsVerdict>,
    /// For `INSUFFICIENT_PERMISSIONS`, the permissions that were missing.
    pub missing_permissions: Vec<String>,
}

impl Verification {
    fn refused(rejection: Rejection, key: Option<ApiKey>, at: Timestamp) -> Self {
        Self { outcome: Err(rejection), key, at, limits: None, missing_permissions: Vec::new() }
    }
}

impl Keyward {
    /// Finds the key a presented secret belongs to, if the caller may see it. The secret must be
    /// the key's current one or its retained previous one; state does not matter.
    fn find_presented(
        &self,
        p: &Principal,
        token: &str,
        reach: Reach,
        now: Timestamp,
    ) -> Result<Result<KeyForAuth, Rejection>, Stop> {
        p.require(Permission::ApiKeysVerify, p.account_id)?;
        let Ok(credential) = Credential::parse(token) else {
            return Ok(Err(Rejection::Malformed));
        };
        let presented = credential.secret_hash();
        let found = match credential.kind() {
            CredentialKind::ApiKey => self.api_key_for_auth(ApiKeyId::from_uuid(credential.id()), reach)?,
            CredentialKind::SecretKey => None,
        };
        let Some(found) = found else {
            compare_with_nothing(&presented);
            return Ok(Err(Rejection::NotFound));
        };
        let visible = p.is_system_admin() || found.key.account_id == p.account_id;
        if !found.key.secret.accepts(&presented, now) || !visible {
            self.usage.record_refusal(found.key.id, now);
            return Ok(Err(Rejection::NotFound));
        }
        Ok(Ok(found))
    }

    /// Verifies a presented key, the scopes a request needs and what `ask` asks of its usage
    /// limits (permissions, then rate limits and uses left, all or nothing). Needs
    /// `api-keys:verify`; keys of other accounts are `NOT_FOUND` unless the caller is a system
    /// administrator. A valid answer counts as a use of the key and spends what it asked.
    pub fn verify_api_key(
        &self,
        p: &Principal,
        token: &str,
        required: &Scopes,
        ask: &Ask,
    ) -> Result<Verification, Error> {
        with_storage(self.verify_within(p, token, required, ask, Reach::Storage))
    }

    /// The same, from memory alone: `None` when the answer needs storage (the key is not cached);
    /// then call [`Keyward::verify_api_key`]. It never blocks.
    pub fn verify_api_key_from_memory(
        &self,
        p: &Principal,
        token: &str,
        required: &Scopes,
        ask: &Ask,
    ) -> Option<Result<Verification, Error>> {
        from_memory(self.verify_within(p, token, required, ask, Reach::Memory))
    }

    fn verify_within(
        &self,
        p: &Principal,
        token: &str,
        required: &Scopes,
        ask: &Ask,
        reach: Reach,
    ) -> Result<Verification, Stop> {
        // One reading of the clock for the whole verdict.
        let now = self.now();
        let found = match self.find_presented(p, token, reach, now)? {
            Ok(found) => found,
            Err(rejection) => return Ok(Verification::refused(rejection, None, now)),
        };
        let state = found.key.usable(found.owner_active, now);
        let outcome = state.and_then(|()| {
            if found.key.scopes.covers_all(required) { Ok(()) } else { Err(Rejection::InsufficientScope) }
        });
        let mut verification = Verification::refused(Rejection::NotFound, None, now);
        verification.outcome = outcome;
        if verification.outcome.is_ok() {
            self.apply_limits(&found, ask, reach, &mut verification)?;
        }
        match verification.outcome {
            Ok(()) => self.usage.record(found.key.id, Usage { at: now, ip: p.ip }),
            Err(_) => self.usage.record_refusal(found.key.id, now),
        }
        verification.key = Some(found.key);
        Ok(verification)
    }

    /// The permissions a key holds: its own, and its roles'.
    fn granted(found: &KeyForAuth) -> std::borrow::Cow<'_, crate::limits::Permissions> {
        if found.role_permissions.is_empty() {
            std::borrow::Cow::Borrowed(&found.key.part.limits.permissions)
        } else {
            let mut all = found.key.part.limits.permissions.clone();
            all.extend(found.role_permissions.iter().cloned());
            std::borrow::Cow::Owned(all)
        }
    }

    /// Checks the permissions `ask` needs, then decides the key's rate limits and uses left.
    fn apply_limits(
        &self,
        found: &KeyForAuth,
        ask: &Ask,
        reach: Reach,
        verification: &mut Verification,
    ) -> Result<(), Stop> {
        let key = &found.key;
        if let Some(query) = &ask.permissions
            && let Err(missing) = query.check(&Self::granted(found))
        {
            verification.outcome = Err(Rejection::InsufficientPermissions);
            verification.missing_permissions = missing;
            return Ok(());
        }
        let counts_nothing = |l: &UsageLimits| l.rate_limits.is_empty() && l.remaining.is_none();
        let names_limits = ask.rate_limits.as_ref().is_some_and(|named| !named.is_empty());
        if counts_nothing(&key.part.limits) && counts_nothing(&found.owner_limits) && !names_limits {
            // Nothing to count: a plain verification takes no lock and makes no bucket names.
            return Ok(());
        }
        // Only the owners with limits are named: a bucket name is an allocation on the hot path.
        let own = format!("key:{}", key.id);
        let shared = (!counts_nothing(&found.owner_limits)).then(|| format!("sa:{}", key.service_account_id));
        let mut owners = vec![(own.as_str(), &key.part.limits)];
        owners.extend(shared.as_deref().map(|s| (s, &found.owner_limits)));
        let plan = Plan::new(&owners, ask, verification.at).map_err(Error::from)?;
        if plan.counts_nothing() {
            return Ok(());
        }
        let verdict = self.decide_limits(&plan, reach)?;
        verification.outcome = verdict.outcome.clone().map_err(|refusal| match refusal {
            LimitRefusal::RateLimited => Rejection::RateLimited,
            LimitRefusal::UsageExceeded => Rejection::UsageExceeded,
        });
        verification.limits = Some(verdict);
        Ok(())
    }

    /// The metadata of the key a presented secret belongs to, whatever its state. Needs
    /// `api-keys:verify`; an unknown, mistyped or foreign key is "not found".
    pub fn lookup_api_key(&self, p: &Principal, token: &str) -> Result<ApiKey, Error> {
        match with_storage(self.find_presented(p, token, Reach::Storage, self.now()))? {
            Ok(found) => Ok(found.key),
            Err(_) => Err(Error::NotFound(Entity::ApiKey)),
        }
    }
}
