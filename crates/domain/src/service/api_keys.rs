//! Issuing, reading and deleting API keys.

use super::Keyward;
use crate::api_key::{ApiKey, ApiKeyChanges, NewApiKey, RetainPeriod, StoredSecret};
use crate::audit::Action;
use crate::credential::{Credential, CredentialKind};
use crate::error::Error;
use crate::id::{AccountId, ApiKeyId, ServiceAccountId};
use crate::page::Page;
use crate::principal::{CredentialRef, Permission, Principal};
use crate::repository::{ApiKeyQuery, KeyRef};
use crate::secret::SecretString;

/// A key just created, with its secret: the only time the secret is available.
#[derive(Debug)]
pub struct IssuedApiKey {
    /// The key.
    pub key: ApiKey,
    /// The full credential string, to be shown once.
    pub secret: SecretString,
}

impl Keyward {
    /// Creates an API key for a service account; its scopes must be grantable by the caller.
    pub fn create_api_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        new: NewApiKey,
    ) -> Result<IssuedApiKey, Error> {
        p.require(Permission::ApiKeysWrite, account)?;
        let owner_account = self.repo.account(account)?;
        let owner = self.repo.service_account(account, sa)?;
        p.require_grantable(&new.scopes, owner_account.system)?;
        let now = self.now();
        let expires_at = new.expiry.resolve(now)?;
        let id = ApiKeyId::generate(now, self.entropy.as_ref());
        let credential = Credential::generate(CredentialKind::ApiKey, *id.as_uuid(), self.entropy.as_ref());
        let key = ApiKey {
            id,
            account_id: account,
            service_account_id: owner.id,
            name: new.name,
            description: new.description,
            scopes: new.scopes,
            active: true,
            expires_at,
            created_at: now,
            updated_at: now,
            last_used_at: None,
            last_used_ip: None,
            last_rotated_at: None,
            secret: StoredSecret { current: credential.secret_hash(), previous: None },
        };
        let audit = self.audit(p, account, Action::ApiKeyCreate, format!("api_key:{id}"), now);
        self.repo.insert_api_key(&key, &audit)?;
        Ok(IssuedApiKey { key, secret: credential.reveal() })
    }

    /// Lists the keys of one service account.
    pub fn list_api_keys(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        query: ApiKeyQuery,
    ) -> Result<Page<ApiKey>, Error> {
        p.require(Permission::ApiKeysRead, account)?;
        self.repo.service_account(account, sa)?;
        let query = ApiKeyQuery { service_account_id: Some(sa), now: self.now(), ..query };
        Ok(self.repo.list_api_keys(account, &query)?)
    }

    /// Lists the keys of a whole account, optionally of one service account.
    pub fn list_account_api_keys(
        &self,
        p: &Principal,
        account: AccountId,
        query: ApiKeyQuery,
    ) -> Result<Page<ApiKey>, Error> {
        p.require(Permission::ApiKeysRead, account)?;
        self.repo.account(account)?;
        let query = ApiKeyQuery { now: self.now(), ..query };
        Ok(self.repo.list_api_keys(account, &query)?)
    }

    /// One key, by id or name.
    pub fn get_api_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &KeyRef,
    ) -> Result<ApiKey, Error> {
        p.require(Permission::ApiKeysRead, account)?;
        Ok(self.repo.api_key(account, sa, key)?)
    }

    /// Changes a key. A caller cannot disable the key it is using, nor grant scopes it lacks.
    pub fn update_api_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &KeyRef,
        changes: ApiKeyChanges,
    ) -> Result<ApiKey, Error> {
        p.require(Permission::ApiKeysWrite, account)?;
        if let Some(scopes) = &changes.scopes {
            let owner_account = self.repo.account(account)?;
            p.require_grantable(scopes, owner_account.system)?;
        }
        let now = self.now();
        self.repo.update_api_key(account, sa, key, &mut |k| {
            if changes.active == Some(false) {
                p.require_not_self(CredentialRef::ApiKey(k.id))?;
            }
            changes.apply(k, now)?;
            Ok(self.audit(p, account, Action::ApiKeyUpdate, format!("api_key:{}", k.id), now))
        })
    }

    /// Gives a key a new secret; the old one keeps working for `retain`. A caller cannot rotate the
    /// key it is using.
    pub fn rotate_api_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &KeyRef,
        retain: RetainPeriod,
    ) -> Result<IssuedApiKey, Error> {
        p.require(Permission::ApiKeysWrite, account)?;
        let now = self.now();
        let mut issued = None;
        let key = self.repo.update_api_key(account, sa, key, &mut |k| {
            p.require_not_self(CredentialRef::ApiKey(k.id))?;
            let credential = Credential::generate(CredentialKind::ApiKey, *k.id.as_uuid(), self.entropy.as_ref());
            k.rotate(credential.secret_hash(), retain, now);
            issued = Some(credential.reveal());
            Ok(self.audit(p, account, Action::ApiKeyRotate, format!("api_key:{}", k.id), now))
        })?;
        let secret = issued.ok_or_else(|| Error::Unavailable("the rotation produced no secret".to_owned()))?;
        Ok(IssuedApiKey { key, secret })
    }

    /// Deletes a key. A caller cannot delete the key it is using.
    pub fn delete_api_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &KeyRef,
    ) -> Result<(), Error> {
        p.require(Permission::ApiKeysWrite, account)?;
        let existing = self.repo.api_key(account, sa, key)?;
        p.require_not_self(CredentialRef::ApiKey(existing.id))?;
        let now = self.now();
        let audit = self.audit(p, account, Action::ApiKeyDelete, format!("api_key:{}", existing.id), now);
        Ok(self.repo.delete_api_key(account, sa, existing.id, &audit)?)
    }
}
