//! The one lifecycle every kind of key shares: create, change (enable, disable, expire), rotate
//! with a retain period, delete, each checked and audited the same way. [`KeyKind`] says only
//! what differs between kinds: how a request names a key, how its secret is made and kept, which
//! permissions and audit actions apply, and which repository calls store it.
//!
//! The methods take the kind from their arguments (`NewApiKey` or `NewSecretKey`, a `KeyRef` or a
//! `SecretKeyId`), so a caller writes `kw.rotate_key(p, account, sa, &key, retain)` for either.

use super::Keyward;
use crate::Timestamp;
use crate::api_key::RetainPeriod;
use crate::audit::{Action, AuditEvent};
use crate::credential::Credential;
use crate::error::{Error, RepoResult};
use crate::id::{AccountId, ServiceAccountId};
use crate::key::{Key, KeyChanges, KeyPart, NewKey};
use crate::principal::{CredentialRef, Permission, Principal};
use crate::repository::Repository;
use crate::secret::SecretString;

/// A key just created or rotated, with its secret: the only time the secret is shown.
#[derive(Debug)]
pub struct Issued<K> {
    /// The key.
    pub key: K,
    /// The full credential string (`kw_ak_...` or `kw_sk_...`), to be shown once.
    pub secret: SecretString,
}

/// The audit actions of one kind of key's lifecycle.
#[derive(Debug, Clone, Copy)]
pub struct KeyActions {
    /// A key was created.
    pub create: Action,
    /// A key was changed.
    pub update: Action,
    /// A key was given a new secret.
    pub rotate: Action,
    /// A key was deleted.
    pub delete: Action,
}

/// One kind of key, implemented by the part only its keys have ([`Key<Self>`] is the key): what
/// its lifecycle does differently from another's.
pub trait KeyKind: KeyPart {
    /// How a request names one key of a service account.
    type Ref: NamesKey<Kind = Self>;
    /// The kind's name in audit targets, such as `api_key` in `api_key:<id>`.
    const TARGET: &'static str;
    /// The permission that creates, changes, rotates and deletes keys of this kind.
    const WRITE: Permission;
    /// The audit actions of its lifecycle.
    const ACTIONS: KeyActions;

    /// Whether `presented` is a secret `key` accepts at `now`, compared in constant time.
    fn accepts(key: &Key<Self>, kw: &Keyward, presented: &Credential, now: Timestamp) -> bool;
    /// How a request names the key with this id.
    fn by_id(id: Self::Id) -> Self::Ref;
    /// The key with this id in any account, as authentication reads it.
    fn find(repo: &dyn Repository, id: Self::Id) -> RepoResult<Option<Key<Self>>>;
    /// The key as the credential a caller may be authenticated with.
    fn credential(id: Self::Id) -> CredentialRef;
    /// A new key of `sa` in `account` and its credential string, as of `now`.
    fn make(
        kw: &Keyward,
        new: NewKey<Self>,
        account: AccountId,
        sa: ServiceAccountId,
        now: Timestamp,
    ) -> Result<(Key<Self>, SecretString), Error>;
    /// Gives `key` a new secret, kept as this kind keeps secrets, the current one accepted until
    /// `now + retain`; answers the new credential string.
    fn renew_secret(key: &mut Key<Self>, kw: &Keyward, retain: RetainPeriod, now: Timestamp) -> SecretString;

    /// Stores a new key with its audit event.
    fn insert(repo: &dyn Repository, key: &Key<Self>, audit: &AuditEvent) -> RepoResult<()>;
    /// Changes a key with `change`, which also answers the audit event, in one transaction.
    fn update(
        repo: &dyn Repository,
        account: AccountId,
        sa: ServiceAccountId,
        key: &Self::Ref,
        change: &mut dyn FnMut(&mut Key<Self>) -> Result<AuditEvent, Error>,
    ) -> Result<Key<Self>, Error>;
    /// The id of the key `key` names; "not found" if there is none.
    fn resolve(
        repo: &dyn Repository,
        account: AccountId,
        sa: ServiceAccountId,
        key: &Self::Ref,
    ) -> Result<Self::Id, Error>;
    /// Deletes a key with its audit event.
    fn delete(
        repo: &dyn Repository,
        account: AccountId,
        sa: ServiceAccountId,
        id: Self::Id,
        audit: &AuditEvent,
    ) -> RepoResult<()>;
}

/// A way to name one key in a request, which says its kind (`KeyRef` for API keys, `SecretKeyId`
/// for secret keys).
pub trait NamesKey {
    /// The kind of key it names.
    type Kind: KeyKind<Ref = Self>;
}

impl Keyward {
    /// Creates a key for a service account; its scopes must be grantable by the caller.
    pub fn create_key<K: KeyKind>(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        new: NewKey<K>,
    ) -> Result<Issued<Key<K>>, Error> {
        p.require(K::WRITE, account)?;
        let (owner_account, owner) = self.repo.service_account_with_owner(account, sa)?;
        p.require_grantable(&new.scopes, owner_account.system)?;
        let now = self.now();
        let (key, secret) = K::make(self, new, account, owner.id, now)?;
        let audit = self.key_audit::<K>(p, account, K::ACTIONS.create, key.id, now);
        K::insert(self.repo.as_ref(), &key, &audit)?;
        Ok(Issued { key, secret })
    }

    /// Changes a key. A caller cannot disable the key it is using, nor grant scopes it lacks.
    pub fn update_key<R: NamesKey>(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &R,
        changes: KeyChanges<R::Kind>,
    ) -> Result<Key<R::Kind>, Error> {
        self.update::<R::Kind>(p, account, sa, key, changes)
    }

    /// Gives a key a new secret; the old one keeps working for `retain`. A caller cannot rotate
    /// the key it is using.
    pub fn rotate_key<R: NamesKey>(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &R,
        retain: RetainPeriod,
    ) -> Result<Issued<Key<R::Kind>>, Error> {
        self.rotate::<R::Kind>(p, account, sa, key, retain)
    }

    /// Deletes a key. A caller cannot delete the key it is using.
    pub fn delete_key<R: NamesKey>(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &R,
    ) -> Result<(), Error> {
        self.delete::<R::Kind>(p, account, sa, key)
    }

    fn update<K: KeyKind>(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &K::Ref,
        changes: KeyChanges<K>,
    ) -> Result<Key<K>, Error> {
        p.require(K::WRITE, account)?;
        if let Some(scopes) = &changes.scopes {
            let owner_account = self.repo.account(account)?;
            p.require_grantable(scopes, owner_account.system)?;
        }
        let now = self.now();
        K::update(self.repo.as_ref(), account, sa, key, &mut |k| {
            if changes.disables() {
                p.require_not_self(K::credential(k.id))?;
            }
            let revokes = changes.disables() && k.leaked_at.is_none();
            k.apply(&changes, now)?;
            let mut audit = self.key_audit::<K>(p, account, K::ACTIONS.update, k.id, now);
            if revokes {
                audit.notify = Some(crate::notification::EventType::CredentialRevoked);
            }
            Ok(audit)
        })
    }

    fn rotate<K: KeyKind>(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &K::Ref,
        retain: RetainPeriod,
    ) -> Result<Issued<Key<K>>, Error> {
        p.require(K::WRITE, account)?;
        let now = self.now();
        let mut issued = None;
        let key = K::update(self.repo.as_ref(), account, sa, key, &mut |k| {
            p.require_not_self(K::credential(k.id))?;
            // The secret being replaced is the one that leaked: it is never retained.
            let retain = if k.leaked_at.is_some() { RetainPeriod::NONE } else { retain };
            issued = Some(K::renew_secret(k, self, retain, now));
            Ok(self.key_audit::<K>(p, account, K::ACTIONS.rotate, k.id, now))
        })?;
        let secret = issued.ok_or_else(|| Error::Unavailable("the rotation produced no secret".to_owned()))?;
        Ok(Issued { key, secret })
    }

    fn delete<K: KeyKind>(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &K::Ref,
    ) -> Result<(), Error> {
        p.require(K::WRITE, account)?;
        let id = K::resolve(self.repo.as_ref(), account, sa, key)?;
        p.require_not_self(K::credential(id))?;
        let audit = self.key_audit::<K>(p, account, K::ACTIONS.delete, id, self.now());
        Ok(K::delete(self.repo.as_ref(), account, sa, id, &audit)?)
    }

    /// The audit event of `action` on the key `id` of kind `K`.
    fn key_audit<K: KeyKind>(
        &self,
        p: &Principal,
        account: AccountId,
        action: Action,
        id: K::Id,
        now: Timestamp,
    ) -> AuditEvent {
        self.audit(p, account, action, format!("{}:{id}", K::TARGET), now)
    }
}
