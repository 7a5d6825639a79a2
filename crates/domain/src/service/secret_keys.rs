//! Secret keys: what is particular to their lifecycle (`KeyKind`), reading and listing them, and
//! the master key that seals their secrets.

use super::Keyward;
use super::keys::{Issued, KeyActions, KeyKind, NamesKey};
use super::reach::{Reach, Stop, from_memory, with_storage};
use crate::Timestamp;
use crate::api_key::RetainPeriod;
use crate::audit::{Action, AuditEvent};
use crate::credential::{Credential, CredentialKind};
use crate::error::{Error, RepoResult};
use crate::id::{AccountId, SecretKeyId, ServiceAccountId};
use crate::page::{Page, PageRequest};
use crate::principal::{CredentialRef, Permission, Principal};
use crate::repository::Repository;
use crate::secret::SecretString;
use crate::secret_key::{NewSecretKey, SealedSecret, SecretKey, SecretKeyPart};

/// A secret key just created or rotated, with its secret: the only time the secret is shown.
pub type IssuedSecretKey = Issued<SecretKey>;

/// What is particular to secret keys: named by id, their secret kept sealed under the master key
/// (Keyward must read it back to check HMACs).
impl KeyKind for SecretKeyPart {
    type Ref = SecretKeyId;

    const TARGET: &'static str = "secret_key";
    const WRITE: Permission = Permission::SecretKeysWrite;
    const ACTIONS: KeyActions = KeyActions {
        create: Action::SecretKeyCreate,
        update: Action::SecretKeyUpdate,
        rotate: Action::SecretKeyRotate,
        delete: Action::SecretKeyDelete,
    };

    fn accepts(key: &SecretKey, kw: &Keyward, presented: &Credential, now: Timestamp) -> bool {
        key.accepts(&kw.sealer, presented.secret_bytes(), now)
    }

    fn by_id(id: SecretKeyId) -> SecretKeyId {
        id
    }

    fn find(repo: &dyn Repository, id: SecretKeyId) -> RepoResult<Option<SecretKey>> {
        Ok(repo.secret_key_for_auth(id)?.map(|found| found.key))
    }

    fn credential(id: SecretKeyId) -> CredentialRef {
        CredentialRef::SecretKey(id)
    }

    fn make(
        kw: &Keyward,
        new: NewSecretKey,
        account: AccountId,
        sa: ServiceAccountId,
        now: Timestamp,
    ) -> Result<(SecretKey, SecretString), Error> {
        let expires_at = new.expiry.resolve(now)?;
        let id = SecretKeyId::generate(now, kw.entropy.as_ref());
        let credential = Credential::generate(CredentialKind::SecretKey, *id.as_uuid(), kw.entropy.as_ref());
        let sealed = SecretKey::seal(id, credential.secret_bytes(), &kw.sealer, kw.entropy.as_ref());
        let key = SecretKey {
            scopes: new.scopes,
            expires_at,
            part: SecretKeyPart { require_dpop: new.part.require_dpop },
            ..SecretKey::issued(id, account, sa, new.name, now, SealedSecret::new(sealed))
        };
        Ok((key, credential.reveal()))
    }

    fn renew_secret(key: &mut SecretKey, kw: &Keyward, retain: RetainPeriod, now: Timestamp) -> SecretString {
        let credential = Credential::generate(CredentialKind::SecretKey, *key.id.as_uuid(), kw.entropy.as_ref());
        let sealed = SecretKey::seal(key.id, credential.secret_bytes(), &kw.sealer, kw.entropy.as_ref());
        key.rotate(sealed, retain, now);
        credential.reveal()
    }

    fn insert(repo: &dyn Repository, key: &SecretKey, audit: &AuditEvent) -> RepoResult<()> {
        repo.insert_secret_key(key, audit)
    }

    fn update(
        repo: &dyn Repository,
        account: AccountId,
        sa: ServiceAccountId,
        key: &SecretKeyId,
        change: &mut dyn FnMut(&mut SecretKey) -> Result<AuditEvent, Error>,
    ) -> Result<SecretKey, Error> {
        repo.update_secret_key(account, sa, *key, change)
    }

    fn resolve(_: &dyn Repository, _: AccountId, _: ServiceAccountId, key: &SecretKeyId) -> Result<SecretKeyId, Error> {
        Ok(*key)
    }

    fn delete(
        repo: &dyn Repository,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
        audit: &AuditEvent,
    ) -> RepoResult<()> {
        repo.delete_secret_key(account, sa, id, audit)
    }
}

impl NamesKey for SecretKeyId {
    type Kind = SecretKeyPart;
}

impl Keyward {
    /// Lists the secret keys of a service account, oldest first.
    pub fn list_secret_keys(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        page: &PageRequest,
    ) -> Result<Page<SecretKey>, Error> {
        p.require(Permission::SecretKeysRead, account)?;
        self.repo.service_account(account, sa)?;
        Ok(self.repo.list_secret_keys(account, sa, page)?)
    }

    /// One secret key.
    pub fn get_secret_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
    ) -> Result<SecretKey, Error> {
        with_storage(self.get_secret_key_within(p, account, sa, id, Reach::Storage))
    }

    /// The same, from memory alone: `None` when the key is not cached; then call
    /// [`Keyward::get_secret_key`]. It never blocks. Read through the authentication cache, as
    /// fresh as authentication itself.
    pub fn get_secret_key_from_memory(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
    ) -> Option<Result<SecretKey, Error>> {
        from_memory(self.get_secret_key_within(p, account, sa, id, Reach::Memory))
    }

    fn get_secret_key_within(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
        reach: Reach,
    ) -> Result<SecretKey, Stop> {
        p.require(Permission::SecretKeysRead, account)?;
        let found = match reach {
            Reach::Storage => self.repo.secret_key_for_auth(id)?,
            Reach::Memory => self.repo.secret_key_for_auth_in_memory(id).ok_or(Stop::NeedsStorage)?,
        };
        match found {
            Some(found) if found.key.account_id == account && found.key.service_account_id == sa => Ok(found.key),
            _ => Err(Error::NotFound(crate::error::Entity::SecretKey).into()),
        }
    }

    /// Checks that the master key is the one this database was set up with: on first use it stores
    /// a value sealed under it; afterwards that value must open. Call it at start-up, so that a
    /// wrong key stops the service at once instead of failing later on every secret.
    /// Re-seals everything sealed under the current master key with `new` (a sealer keyed from the
    /// next master key), in one transaction. Afterwards only the new key opens the database; a
    /// node started with the old one stops at its master-key check. Answers how many values were
    /// re-sealed.
    pub fn rotate_master_key(&self, new: &crate::sealing::Sealer) -> Result<usize, Error> {
        self.check_master_key()?;
        let entropy = self.entropy.as_ref();
        self.repo.reseal_all(&mut |context, sealed| {
            let plain = self.sealer.open(sealed, context).map_err(|_| Error::WrongMasterKey)?;
            Ok(new.seal(&plain, context, entropy))
        })
    }

    pub fn check_master_key(&self) -> Result<(), Error> {
        let check = crate::sealing::Sealer::CHECK_CONTEXT;
        let fresh = self.sealer.seal(check, check, self.entropy.as_ref());
        let stored = self.repo.init_setting("master_key_check", &fresh)?;
        match self.sealer.open(&stored, check) {
            Ok(plain) if plain == check => Ok(()),
            _ => Err(Error::WrongMasterKey),
        }
    }

    /// Creates a secret key whose scopes are inherited from the caller: every scope it holds and
    /// may grant here, never more. For the vendor dialects without scopes (Smooch, Service
    /// Identity).
    pub fn create_inheriting_secret_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        name: crate::text::Name,
    ) -> Result<IssuedSecretKey, Error> {
        p.require(Permission::SecretKeysWrite, account)?;
        let scopes = p.inheritable_scopes(self.repo.account(account)?.system);
        self.create_key(p, account, sa, NewSecretKey::new(name, scopes, crate::key::Expiry::Never))
    }

    /// Every secret key of a service account, oldest first, without paging: for the vendor
    /// dialects whose lists have none.
    pub fn all_secret_keys(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
    ) -> Result<Vec<SecretKey>, Error> {
        p.require(Permission::SecretKeysRead, account)?;
        self.repo.service_account(account, sa)?;
        Ok(Page::collect_all(|page| self.repo.list_secret_keys(account, sa, &page))?)
    }
}
