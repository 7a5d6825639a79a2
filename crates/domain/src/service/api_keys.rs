//! API keys: what is particular to their lifecycle (`KeyKind`), reading and listing them, and
//! the reads the vendor dialects need.

use super::Keyward;
use super::keys::{Issued, KeyActions, KeyKind, NamesKey};
use super::reach::{Reach, Stop, from_memory, with_storage};
use crate::Timestamp;
use crate::api_key::{ApiKey, ApiKeyPart, NewApiKey, NewApiKeyPart, RetainPeriod, StoredSecret, seal_context};
use crate::audit::{Action, AuditEvent};
use crate::credential::{Credential, CredentialKind};
use crate::error::{Entity, Error, RepoResult};
use crate::id::{AccountId, ApiKeyId, ServiceAccountId};
use crate::page::Page;
use crate::page::PageRequest;
use crate::principal::{CredentialRef, Permission, Principal};
use crate::repository::{ApiKeyQuery, KeyForAuth, KeyRef, Repository, ServiceAccountQuery};
use crate::secret::SecretString;
use crate::service_account::ServiceAccount;

/// An API key just created or rotated, with its secret: the only time the secret is available.
pub type IssuedApiKey = Issued<ApiKey>;

/// What is particular to API keys: named by id or name, their secret kept as a hash (and, for a
/// retrievable key, also sealed).
impl KeyKind for ApiKeyPart {
    type Ref = KeyRef;

    const TARGET: &'static str = "api_key";
    const WRITE: Permission = Permission::ApiKeysWrite;
    const ACTIONS: KeyActions = KeyActions {
        create: Action::ApiKeyCreate,
        update: Action::ApiKeyUpdate,
        rotate: Action::ApiKeyRotate,
        delete: Action::ApiKeyDelete,
    };

    fn accepts(key: &ApiKey, _: &Keyward, presented: &Credential, now: Timestamp) -> bool {
        key.secret.accepts(&presented.secret_hash(), now)
    }

    fn by_id(id: ApiKeyId) -> KeyRef {
        KeyRef::Id(id)
    }

    fn find(repo: &dyn Repository, id: ApiKeyId) -> RepoResult<Option<ApiKey>> {
        Ok(repo.api_key_for_auth(id)?.map(|found| found.key))
    }

    fn credential(id: ApiKeyId) -> CredentialRef {
        CredentialRef::ApiKey(id)
    }

    fn make(
        kw: &Keyward,
        new: NewApiKey,
        account: AccountId,
        sa: ServiceAccountId,
        now: Timestamp,
    ) -> Result<(ApiKey, SecretString), Error> {
        let expires_at = new.expiry.resolve(now)?;
        let limits = new.part.limits.at(now)?;
        let id = ApiKeyId::generate(now, kw.entropy.as_ref());
        let credential = Credential::generate(CredentialKind::ApiKey, *id.as_uuid(), kw.entropy.as_ref());
        let sealed = new.part.retrievable.then(|| kw.seal_api_key_secret(id, &credential.reveal()));
        let secret = StoredSecret { current: credential.secret_hash(), previous: None, sealed };
        let key = ApiKey {
            scopes: new.scopes,
            expires_at,
            part: ApiKeyPart { description: new.part.description, limits, last_used_ip: None },
            ..ApiKey::issued(id, account, sa, new.name, now, secret)
        };
        Ok((key, credential.reveal()))
    }

    fn renew_secret(key: &mut ApiKey, kw: &Keyward, retain: RetainPeriod, now: Timestamp) -> SecretString {
        let credential = Credential::generate(CredentialKind::ApiKey, *key.id.as_uuid(), kw.entropy.as_ref());
        let sealed = key.secret.sealed.is_some().then(|| kw.seal_api_key_secret(key.id, &credential.reveal()));
        key.rotate(credential.secret_hash(), sealed, retain, now);
        credential.reveal()
    }

    fn insert(repo: &dyn Repository, key: &ApiKey, audit: &AuditEvent) -> RepoResult<()> {
        repo.insert_api_key(key, audit)
    }

    fn update(
        repo: &dyn Repository,
        account: AccountId,
        sa: ServiceAccountId,
        key: &KeyRef,
        change: &mut dyn FnMut(&mut ApiKey) -> Result<AuditEvent, Error>,
    ) -> Result<ApiKey, Error> {
        repo.update_api_key(account, sa, key, change)
    }

    fn resolve(
        repo: &dyn Repository,
        account: AccountId,
        sa: ServiceAccountId,
        key: &KeyRef,
    ) -> Result<ApiKeyId, Error> {
        Ok(repo.api_key(account, sa, key)?.id)
    }

    fn delete(
        repo: &dyn Repository,
        account: AccountId,
        sa: ServiceAccountId,
        id: ApiKeyId,
        audit: &AuditEvent,
    ) -> RepoResult<()> {
        repo.delete_api_key(account, sa, id, audit)
    }
}

impl NamesKey for KeyRef {
    type Kind = ApiKeyPart;
}

impl Keyward {
    /// Creates a key whose scopes are inherited from the caller: every scope it holds and may
    /// grant here, never more. For the vendor dialects without scopes (Wavefront, ZenML); a
    /// `retrievable` key also keeps its secret sealed so that it can be shown again (Wavefront,
    /// where a token's id is the token).
    pub fn create_inheriting_api_key(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        name: crate::text::Name,
        description: crate::text::Description,
        retrievable: bool,
    ) -> Result<IssuedApiKey, Error> {
        p.require(Permission::ApiKeysWrite, account)?;
        let scopes = p.inheritable_scopes(self.repo.account(account)?.system);
        let part = NewApiKeyPart { description, retrievable, ..NewApiKeyPart::default() };
        let new = NewApiKey { part, ..NewApiKey::new(name, scopes, crate::key::Expiry::Never) };
        self.create_key(p, account, sa, new)
    }

    /// Lists the keys of one service account; a `service_account_id` filter naming another one
    /// gives an empty page.
    pub fn list_api_keys(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        query: ApiKeyQuery,
    ) -> Result<Page<ApiKey>, Error> {
        p.require(Permission::ApiKeysRead, account)?;
        if query.service_account_id.is_some_and(|asked| asked != sa) {
            // Filters combine with AND: another service account's keys are not in this one's
            // list, which is empty (if this service account exists at all).
            self.repo.service_account(account, sa)?;
            return Ok(Page::empty());
        }
        let query = ApiKeyQuery { service_account_id: Some(sa), now: self.now(), ..query };
        let page = self.repo.list_api_keys(account, &query)?;
        // A key listed proves its service account exists in this account; only an empty page
        // must ask, so that a missing service account is 404 and not an empty list.
        if page.items.is_empty() {
            self.repo.service_account(account, sa)?;
        }
        Ok(page)
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
        let mut query = ApiKeyQuery { now: self.now(), ..query };
        if let Some(owner) = query.owner.take() {
            let by_name = ServiceAccountQuery { name: Some(owner), ..Default::default() };
            let found = self.repo.list_service_accounts(account, &by_name)?.items.into_iter().next();
            match (found, query.service_account_id) {
                (Some(sa), None) => query.service_account_id = Some(sa.id),
                (Some(sa), Some(id)) if sa.id == id => {}
                _ => return Ok(Page::empty()),
            }
        }
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
        with_storage(self.get_api_key_within(p, account, sa, key, Reach::Storage))
    }

    /// The same, from memory alone: `None` when the answer needs storage (the key is not cached,
    /// or is named by name); then call [`Keyward::get_api_key`]. It never blocks. A key by id is
    /// read through the authentication cache, so what it answers is as fresh as authentication
    /// itself (a change through this node is seen at once; one through another, within the
    /// freshness window).
    pub fn get_api_key_from_memory(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &KeyRef,
    ) -> Option<Result<ApiKey, Error>> {
        from_memory(self.get_api_key_within(p, account, sa, key, Reach::Memory))
    }

    fn get_api_key_within(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &KeyRef,
        reach: Reach,
    ) -> Result<ApiKey, Stop> {
        p.require(Permission::ApiKeysRead, account)?;
        match key {
            KeyRef::Id(id) => match self.api_key_for_auth(*id, reach)? {
                Some(found) if found.key.account_id == account && found.key.service_account_id == sa => Ok(found.key),
                _ => Err(Error::NotFound(Entity::ApiKey).into()),
            },
            KeyRef::Name(_) if reach == Reach::Memory => Err(Stop::NeedsStorage),
            KeyRef::Name(_) => Ok(self.repo.api_key(account, sa, key)?),
        }
    }

    /// One key of an account by its id alone, whatever its service account: for the vendor
    /// dialects, whose paths name a token without its owner. Another account's key is "not found".
    pub fn get_api_key_by_id(&self, p: &Principal, account: AccountId, id: ApiKeyId) -> Result<ApiKey, Error> {
        self.api_key_with_owner(p, account, id).map(|found| found.key)
    }

    /// One key of an account by id, with its service account's name and state: what the vendor
    /// dialects show of a token. Read through the authentication cache, as fresh as
    /// authentication itself.
    pub fn api_key_with_owner(&self, p: &Principal, account: AccountId, id: ApiKeyId) -> Result<KeyForAuth, Error> {
        with_storage(self.api_key_with_owner_within(p, account, id, Reach::Storage))
    }

    /// The same, from memory alone: `None` when the key is not cached; then call
    /// [`Keyward::api_key_with_owner`]. It never blocks.
    pub fn api_key_with_owner_from_memory(
        &self,
        p: &Principal,
        account: AccountId,
        id: ApiKeyId,
    ) -> Option<Result<KeyForAuth, Error>> {
        from_memory(self.api_key_with_owner_within(p, account, id, Reach::Memory))
    }

    fn api_key_with_owner_within(
        &self,
        p: &Principal,
        account: AccountId,
        id: ApiKeyId,
        reach: Reach,
    ) -> Result<KeyForAuth, Stop> {
        p.require(Permission::ApiKeysRead, account)?;
        match self.api_key_for_auth(id, reach)? {
            Some(found) if found.key.account_id == account => Ok(found),
            _ => Err(Error::NotFound(Entity::ApiKey).into()),
        }
    }

    /// Every key of a service account (no paging), with each retrievable key's credential string
    /// when the caller may manage keys: the Wavefront dialect's token lists. Keys made elsewhere
    /// have no retrievable secret.
    pub fn list_api_keys_with_secrets(
        &self,
        p: &Principal,
        account: AccountId,
        sa: Option<ServiceAccountId>,
    ) -> Result<Vec<(ApiKey, Option<SecretString>)>, Error> {
        p.require(Permission::ApiKeysRead, account)?;
        self.repo.account(account)?;
        if let Some(sa) = sa {
            self.repo.service_account(account, sa)?;
        }
        let now = self.now();
        let keys = Page::collect_all(|page: PageRequest| {
            let query = ApiKeyQuery { service_account_id: sa, now, page, ..Default::default() };
            self.repo.list_api_keys(account, &query)
        })?;
        let reveal = p.may(Permission::ApiKeysWrite, account);
        keys.into_iter()
            .map(|k| {
                let secret = if reveal { self.open_api_key_secret(&k)? } else { None };
                Ok((k, secret))
            })
            .collect()
    }

    /// The credential string of one retrievable key (`None` for a key made elsewhere), for a caller
    /// who may manage keys (`None` for one who may only read them): a Wavefront token by id.
    pub fn reveal_api_key_secret(
        &self,
        p: &Principal,
        account: AccountId,
        key: &ApiKey,
    ) -> Result<Option<SecretString>, Error> {
        p.require(Permission::ApiKeysRead, account)?;
        if key.account_id != account || !p.may(Permission::ApiKeysWrite, account) {
            return Ok(None);
        }
        self.open_api_key_secret(key)
    }

    /// The credential string of a retrievable key, opened from its sealed copy.
    pub(crate) fn open_api_key_secret(&self, key: &ApiKey) -> Result<Option<SecretString>, Error> {
        let Some(sealed) = &key.secret.sealed else { return Ok(None) };
        let plain = self.sealer.open(sealed, &seal_context(key.id)).map_err(|_| Error::WrongMasterKey)?;
        let text = String::from_utf8(plain).map_err(|_| Error::WrongMasterKey)?;
        Ok(Some(SecretString::new(text)))
    }

    fn seal_api_key_secret(&self, id: ApiKeyId, secret: &SecretString) -> Vec<u8> {
        self.sealer.seal(secret.expose().as_bytes(), &seal_context(id), self.entropy.as_ref())
    }

    /// The service accounts that own `keys`, for key lists that name each key's owner (the
    /// Dynatrace and Wavefront dialects). Needs only `api-keys:read` or `api-keys:verify`: a key's
    /// owner is part of what a caller who may read or look up the key sees.
    pub fn key_owners(
        &self,
        p: &Principal,
        account: AccountId,
        keys: &[&ApiKey],
    ) -> Result<Vec<ServiceAccount>, Error> {
        if !p.may(Permission::ApiKeysVerify, account) {
            p.require(Permission::ApiKeysRead, account)?;
        }
        let ids: std::collections::BTreeSet<ServiceAccountId> = keys.iter().map(|k| k.service_account_id).collect();
        ids.into_iter().map(|id| Ok(self.repo.service_account(account, id)?)).collect()
    }

    /// Every key of a service account, oldest first, without paging: for the vendor dialects that
    /// filter and page lists themselves (ZenML).
    pub fn all_api_keys(&self, p: &Principal, account: AccountId, sa: ServiceAccountId) -> Result<Vec<ApiKey>, Error> {
        p.require(Permission::ApiKeysRead, account)?;
        self.repo.service_account(account, sa)?;
        let now = self.now();
        Ok(Page::collect_all(|page: PageRequest| {
            let query = ApiKeyQuery { service_account_id: Some(sa), now, page, ..Default::default() };
            self.repo.list_api_keys(account, &query)
        })?)
    }
}
