//! Issuing, reading, changing, rotating and deleting secret keys.

use super::Keyward;
use super::reach::{Reach, Stop, from_memory, with_storage};
use crate::api_key::RetainPeriod;
use crate::audit::Action;
use crate::credential::{Credential, CredentialKind};
use crate::error::Error;
use crate::id::{AccountId, SecretKeyId, ServiceAccountId};
use crate::page::{Page, PageRequest};
use crate::principal::{CredentialRef, Permission, Principal};
use crate::secret::SecretString;
use crate::secret_key::{NewSecretKey, SealedSecret, SecretKey, SecretKeyChanges};

/// A secret key just created or rotated, with its secret: the only time the secret is shown.
#[derive(Debug)]
pub struct IssuedSecretKey {
    /// The key.
    pub key: SecretKey,
    /// The full credential string `kw_sk_...`, to be shown once.
    pub secret: SecretString,
}

impl Keyward {
    /// Creates a secret key for a service account; its scopes must be grantable by the caller.
    pub fn create_secret_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        new: NewSecretKey,
    ) -> Result<IssuedSecretKey, Error> {
        p.require(Permission::SecretKeysWrite, account)?;
        let (owner_account, owner) = self.repo.service_account_with_owner(account, sa)?;
        p.require_grantable(&new.scopes, owner_account.system)?;
        let now = self.now();
        let expires_at = new.expiry.resolve(now)?;
        let id = SecretKeyId::generate(now, self.entropy.as_ref());
        let credential = Credential::generate(CredentialKind::SecretKey, *id.as_uuid(), self.entropy.as_ref());
        let sealed = SecretKey::seal(id, credential.secret_bytes(), &self.sealer, self.entropy.as_ref());
        let key = SecretKey {
            id,
            account_id: account,
            service_account_id: owner.id,
            name: new.name,
            scopes: new.scopes,
            active: true,
            expires_at,
            created_at: now,
            updated_at: now,
            last_used_at: None,
            last_rotated_at: None,
            secret: SealedSecret { current: sealed, previous: None },
        };
        let audit = self.audit(p, account, Action::SecretKeyCreate, format!("secret_key:{id}"), now);
        self.repo.insert_secret_key(&key, &audit)?;
        Ok(IssuedSecretKey { key, secret: credential.reveal() })
    }

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

    /// Changes a secret key; new scopes must be grantable by the caller.
    pub fn update_secret_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
        changes: SecretKeyChanges,
    ) -> Result<SecretKey, Error> {
        p.require(Permission::SecretKeysWrite, account)?;
        if let Some(scopes) = &changes.scopes {
            let owner_account = self.repo.account(account)?;
            p.require_grantable(scopes, owner_account.system)?;
        }
        let now = self.now();
        if changes.active == Some(false) {
            p.require_not_self(CredentialRef::SecretKey(id))?;
        }
        self.repo.update_secret_key(account, sa, id, &mut |k| {
            changes.apply(k, now)?;
            Ok(self.audit(p, account, Action::SecretKeyUpdate, format!("secret_key:{id}"), now))
        })
    }

    /// Gives a secret key a new secret; the old one keeps working for `retain`.
    pub fn rotate_secret_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
        retain: RetainPeriod,
    ) -> Result<IssuedSecretKey, Error> {
        p.require(Permission::SecretKeysWrite, account)?;
        p.require_not_self(CredentialRef::SecretKey(id))?;
        let now = self.now();
        let mut issued = None;
        let key = self.repo.update_secret_key(account, sa, id, &mut |k| {
            let credential = Credential::generate(CredentialKind::SecretKey, *id.as_uuid(), self.entropy.as_ref());
            k.rotate(SecretKey::seal(id, credential.secret_bytes(), &self.sealer, self.entropy.as_ref()), retain, now);
            issued = Some(credential.reveal());
            Ok(self.audit(p, account, Action::SecretKeyRotate, format!("secret_key:{id}"), now))
        })?;
        let secret = issued.ok_or_else(|| Error::Unavailable("the rotation produced no secret".to_owned()))?;
        Ok(IssuedSecretKey { key, secret })
    }

    /// Deletes a secret key.
    pub fn delete_secret_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
    ) -> Result<(), Error> {
        p.require(Permission::SecretKeysWrite, account)?;
        p.require_not_self(CredentialRef::SecretKey(id))?;
        let now = self.now();
        let audit = self.audit(p, account, Action::SecretKeyDelete, format!("secret_key:{id}"), now);
        Ok(self.repo.delete_secret_key(account, sa, id, &audit)?)
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
        self.create_secret_key(p, account, sa, NewSecretKey { name, scopes, expiry: crate::api_key::Expiry::Never })
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
