//! The persistence interface the domain needs. The `storage` crate implements it; nothing here
//! knows what a database is.
//!
//! Every mutation takes the [`AuditEvent`] that records it, and an implementation must write both
//! in one transaction: a change is never stored without its audit record, nor the reverse.

use std::fmt::Debug;

use crate::Timestamp;
use crate::account::{Account, AccountChanges};
use crate::api_key::ApiKey;
use crate::audit::{Action, AuditEvent};
use crate::error::Error;
pub use crate::error::{RepoError, RepoResult};
use crate::federation::{FederatedCredential, Issuer};
use crate::id::{AccountId, ApiKeyId, FederatedCredentialId, SecretKeyId, ServiceAccountId, WebhookId};
use crate::limits::{Bucket, Permissions, Role, RoleName, Spend, StrictSpend};
use crate::page::{Direction, Page, PageRequest};
use crate::scope::Scope;
use crate::secret_key::SecretKey;
use crate::service_account::{ServiceAccount, ServiceAccountChanges};
use crate::signing_key::SigningKey;
use crate::text::Name;
use crate::usage::{HourlyUse, UsageBatch};
use crate::webhook::{Delivery, Webhook};

/// The fields a service-account list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceAccountSort {
    /// Oldest first (the default).
    #[default]
    CreatedAt,
    /// By name.
    Name,
}

/// Filters, sort and page of a service-account list.
#[derive(Debug, Clone, Default)]
pub struct ServiceAccountQuery {
    /// Only the service account with exactly this name.
    pub name: Option<Name>,
    /// Only active (or only disabled) ones.
    pub active: Option<bool>,
    /// The sort field.
    pub sort: ServiceAccountSort,
    /// The sort direction.
    pub direction: Direction,
    /// Which page.
    pub page: PageRequest,
}

/// The fields an API-key list can be sorted by. Keys never used, or that never expire, come last
/// in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiKeySort {
    /// Oldest first (the default).
    #[default]
    CreatedAt,
    /// By name.
    Name,
    /// By last use.
    LastUsedAt,
    /// By expiry.
    ExpiresAt,
}

/// Filters, sort and page of an API-key list.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyQuery {
    /// Only the keys of this service account.
    pub service_account_id: Option<ServiceAccountId>,
    /// Only the key with exactly this name.
    pub name: Option<Name>,
    /// Only enabled (or only disabled) keys.
    pub active: Option<bool>,
    /// Only keys granted exactly one of these scopes (no wildcard matching); empty for any key.
    pub scopes_any: Vec<Scope>,
    /// Only the keys of the service account with this name (resolved by the domain into
    /// `service_account_id`; storage never sees it).
    pub owner: Option<Name>,
    /// Only expired (or only unexpired) keys, as of `now`.
    pub expired: Option<bool>,
    /// The time `expired` is judged at.
    pub now: Timestamp,
    /// Only keys created at or after this time.
    pub created_from: Option<Timestamp>,
    /// Only keys created before this time.
    pub created_to: Option<Timestamp>,
    /// Only keys last used at or after this time.
    pub last_used_from: Option<Timestamp>,
    /// Only keys last used before this time.
    pub last_used_to: Option<Timestamp>,
    /// The sort field.
    pub sort: ApiKeySort,
    /// The sort direction.
    pub direction: Direction,
    /// Which page.
    pub page: PageRequest,
}

/// Filters and page of an audit-event list (newest first).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this action.
    pub action: Option<Action>,
    /// Only this actor, such as `api_key:<id>`.
    pub actor: Option<String>,
    /// Only this target, such as `service_account:<id>`.
    pub target: Option<String>,
    /// Only events at or after this time.
    pub from: Option<Timestamp>,
    /// Only events before this time.
    pub to: Option<Timestamp>,
    /// Which page.
    pub page: PageRequest,
}

/// How an API key is named in a path: by id, or by its name within its service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// By id.
    Id(ApiKeyId),
    /// By name.
    Name(Name),
}

impl KeyRef {
    /// A key id when `raw` is one, else a key name; errors name `field`.
    pub fn parse(raw: &str, field: &str) -> Result<Self, crate::ValidationError> {
        match ApiKeyId::parse(raw, field) {
            Ok(id) => Ok(KeyRef::Id(id)),
            Err(_) => Ok(KeyRef::Name(Name::parse(raw, field)?)),
        }
    }
}

/// A key found for authentication, with what the verification rule needs to know about its owner.
#[derive(Debug, Clone)]
pub struct KeyForAuth {
    /// The key.
    pub key: ApiKey,
    /// Whether its service account is active.
    pub owner_active: bool,
    /// Its service account's name (a rename forgets every cached key, as any service-account
    /// change does).
    pub owner_name: Name,
    /// Whether it belongs to the system account.
    pub system: bool,
    /// The rate limits and uses left its service account shares among its keys.
    pub owner_limits: crate::limits::UsageLimits,
    /// The permissions of the key's roles (those that exist).
    pub role_permissions: Permissions,
}

/// A secret key found for authentication, with what the verification rule needs about its owner.
#[derive(Debug, Clone)]
pub struct SecretKeyForAuth {
    /// The key.
    pub key: SecretKey,
    /// Whether its service account is active.
    pub owner_active: bool,
    /// Whether it belongs to the system account.
    pub system: bool,
}

/// Accounts.
pub trait AccountRepository {
    /// Stores a new account.
    fn insert_account(&self, account: &Account, audit: &AuditEvent) -> RepoResult<()>;
    /// One account.
    fn account(&self, id: AccountId) -> RepoResult<Account>;
    /// The system account's id.
    fn system_account(&self) -> RepoResult<AccountId>;
    /// The accounts in id order.
    fn list_accounts(&self, page: &PageRequest) -> RepoResult<Page<Account>>;
    /// Applies `changes` to an account and returns it as stored.
    fn update_account(
        &self,
        id: AccountId,
        changes: &AccountChanges,
        now: Timestamp,
        audit: &AuditEvent,
    ) -> RepoResult<Account>;
    /// Deletes an account and everything in it (its audit events stay).
    fn delete_account(&self, id: AccountId, audit: &AuditEvent) -> RepoResult<()>;
    /// Creates the system account, its root service account and its first admin key at once.
    /// Answers `false`, and changes nothing, if a system account already exists.
    fn bootstrap(
        &self,
        account: &Account,
        root: &ServiceAccount,
        key: &ApiKey,
        audit: &[AuditEvent],
    ) -> RepoResult<bool>;
}

/// Service accounts.
pub trait ServiceAccountRepository {
    /// Stores a new service account.
    fn insert_service_account(&self, sa: &ServiceAccount, audit: &AuditEvent) -> RepoResult<()>;
    /// One service account of an account.
    fn service_account(&self, account: AccountId, id: ServiceAccountId) -> RepoResult<ServiceAccount>;
    /// One service account with the account that owns it, in one read: what creating a key
    /// needs. `NotFound(Account)` if the account does not exist, else `NotFound(ServiceAccount)`.
    fn service_account_with_owner(
        &self,
        account: AccountId,
        id: ServiceAccountId,
    ) -> RepoResult<(Account, ServiceAccount)>;
    /// The service accounts of an account.
    fn list_service_accounts(
        &self,
        account: AccountId,
        query: &ServiceAccountQuery,
    ) -> RepoResult<Page<ServiceAccount>>;
    /// Applies `changes` to a service account and returns it as stored.
    fn update_service_account(
        &self,
        account: AccountId,
        id: ServiceAccountId,
        changes: &ServiceAccountChanges,
        now: Timestamp,
        audit: &AuditEvent,
    ) -> RepoResult<ServiceAccount>;
    /// Deletes a service account and its credentials.
    fn delete_service_account(&self, account: AccountId, id: ServiceAccountId, audit: &AuditEvent) -> RepoResult<()>;
}

/// API keys.
pub trait ApiKeyRepository {
    /// Stores a new key.
    fn insert_api_key(&self, key: &ApiKey, audit: &AuditEvent) -> RepoResult<()>;
    /// One key of a service account, by id or name.
    fn api_key(&self, account: AccountId, sa: ServiceAccountId, key: &KeyRef) -> RepoResult<ApiKey>;
    /// The keys of an account, optionally of one service account.
    fn list_api_keys(&self, account: AccountId, query: &ApiKeyQuery) -> RepoResult<Page<ApiKey>>;
    /// Deletes a key.
    fn delete_api_key(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: ApiKeyId,
        audit: &AuditEvent,
    ) -> RepoResult<()>;
    /// The key with this id, in any account, for authentication.
    fn api_key_for_auth(&self, id: ApiKeyId) -> RepoResult<Option<KeyForAuth>>;
    /// The same, if memory alone can answer (an in-process cache holds a fresh answer); `None`
    /// when answering would need storage. It never blocks, so an event loop may call it.
    fn api_key_for_auth_in_memory(&self, id: ApiKeyId) -> Option<Option<KeyForAuth>> {
        let _ = id;
        None
    }
    /// Reads a key, lets `change` modify it and name the audit event, and writes both back in one
    /// transaction. Two concurrent changes of one key never overwrite each other: the later one is
    /// re-run on the result of the earlier. An error from `change` aborts and changes nothing.
    fn update_api_key(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        key: &KeyRef,
        change: &mut dyn FnMut(&mut ApiKey) -> Result<AuditEvent, Error>,
    ) -> Result<ApiKey, Error>;
    /// Records a batch of usage in one transaction: each key's latest use (a use older than the
    /// stored one is ignored) and its hourly counts, added to those stored. Keys deleted meanwhile
    /// are skipped.
    /// With it, in the same transaction, each key's network in `networks` is noted as seen; a
    /// network new for a key that was seen elsewhere before gets its audit event written (with
    /// the key's account), which tells the account's webhooks. A key keeps at most
    /// [`MAX_NETWORKS_PER_KEY`] networks; past that, new ones are neither noted nor told.
    fn record_api_key_usage(&self, batch: &UsageBatch, networks: &[NetworkUse]) -> RepoResult<()>;

    /// The hourly counts of `keys` for the hours starting in `[from, to)`, in any order.
    fn api_key_usage(&self, keys: &[ApiKeyId], from: Timestamp, to: Timestamp) -> RepoResult<Vec<HourlyUse>>;

    /// Forgets the hourly counts of hours that started before `before`; returns how many went.
    fn delete_api_key_usage_before(&self, before: Timestamp) -> RepoResult<u64>;
}

/// The most networks remembered per key.
pub const MAX_NETWORKS_PER_KEY: i64 = 1000;

/// A key's latest use from an address network, and the audit event to write if the network is
/// new for the key (its `account_id` is set by storage, from the key).
#[derive(Debug, Clone)]
pub struct NetworkUse {
    /// The key.
    pub key: ApiKeyId,
    /// The network, as [`crate::notification::network_of`] writes it.
    pub network: String,
    /// The `credential.new_network` event.
    pub event: AuditEvent,
}

/// Secret keys.
pub trait SecretKeyRepository {
    /// Stores a new key.
    fn insert_secret_key(&self, key: &SecretKey, audit: &AuditEvent) -> RepoResult<()>;
    /// One key of a service account.
    fn secret_key(&self, account: AccountId, sa: ServiceAccountId, id: SecretKeyId) -> RepoResult<SecretKey>;
    /// The keys of a service account, oldest first.
    fn list_secret_keys(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        page: &PageRequest,
    ) -> RepoResult<Page<SecretKey>>;
    /// Reads a key, lets `change` modify it and name the audit event, and writes both back in one
    /// transaction, with the same guarantees as [`ApiKeyRepository::update_api_key`].
    fn update_secret_key(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
        change: &mut dyn FnMut(&mut SecretKey) -> Result<AuditEvent, Error>,
    ) -> Result<SecretKey, Error>;
    /// The secret key with this id, in any account, for authentication.
    fn secret_key_for_auth(&self, id: SecretKeyId) -> RepoResult<Option<SecretKeyForAuth>>;
    /// The same, if memory alone can answer; `None` when answering would need storage.
    fn secret_key_for_auth_in_memory(&self, id: SecretKeyId) -> Option<Option<SecretKeyForAuth>> {
        let _ = id;
        None
    }
    /// Deletes a key.
    fn delete_secret_key(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
        audit: &AuditEvent,
    ) -> RepoResult<()>;
}

/// Federated credentials: trust policies for external OIDC issuers.
pub trait FederatedCredentialRepository {
    /// Stores a new federated credential.
    fn insert_federated_credential(&self, credential: &FederatedCredential, audit: &AuditEvent) -> RepoResult<()>;
    /// One federated credential of a service account.
    fn federated_credential(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: FederatedCredentialId,
    ) -> RepoResult<FederatedCredential>;
    /// The federated credentials of a service account, oldest first.
    fn list_federated_credentials(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        page: &PageRequest,
    ) -> RepoResult<Page<FederatedCredential>>;
    /// Every federated credential that trusts `issuer`, in any account, with whether its service
    /// account is active: the candidates for a token exchange.
    fn federated_credentials_for_issuer(&self, issuer: &Issuer) -> RepoResult<Vec<(FederatedCredential, bool)>>;
    /// The federated credential with this id, in any account, with whether its service account is
    /// active and belongs to the system account: what checking a minted access token needs.
    fn federated_credential_for_auth(
        &self,
        id: FederatedCredentialId,
    ) -> RepoResult<Option<(FederatedCredential, bool, bool)>>;
    /// Reads a federated credential, lets `change` modify it and name the audit event, and writes
    /// both back in one transaction.
    fn update_federated_credential(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: FederatedCredentialId,
        change: &mut dyn FnMut(&mut FederatedCredential) -> Result<AuditEvent, Error>,
    ) -> Result<FederatedCredential, Error>;
    /// Deletes a federated credential.
    fn delete_federated_credential(
        &self,
        account: AccountId,
        sa: ServiceAccountId,
        id: FederatedCredentialId,
        audit: &AuditEvent,
    ) -> RepoResult<()>;
}

/// Webhook endpoints and their deliveries. Deliveries are written by storage itself, in the
/// transaction of every audit event whose [`AuditEvent::notification`] an active endpoint of
/// its account subscribes to.
pub trait WebhookRepository {
    /// Stores a new endpoint.
    fn insert_webhook(&self, webhook: &Webhook, audit: &AuditEvent) -> RepoResult<()>;
    /// One endpoint of an account.
    fn webhook(&self, account: AccountId, id: WebhookId) -> RepoResult<Webhook>;
    /// The endpoints of an account, oldest first.
    fn list_webhooks(&self, account: AccountId, page: &PageRequest) -> RepoResult<Page<Webhook>>;
    /// Deletes an endpoint and its deliveries.
    fn delete_webhook(&self, account: AccountId, id: WebhookId, audit: &AuditEvent) -> RepoResult<()>;
    /// The deliveries to an endpoint, newest first.
    fn list_deliveries(&self, account: AccountId, webhook: WebhookId, page: &PageRequest)
    -> RepoResult<Page<Delivery>>;
    /// Claims up to `limit` pending deliveries due at `now`, oldest first, with their endpoints:
    /// each is not due again (for any node) before `lease_until`, so that two nodes rarely send
    /// the same one; a node that dies holding a claim leaves it due again when the lease ends.
    fn claim_due_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> RepoResult<Vec<(Delivery, Webhook)>>;
    /// Stores the outcome of an attempt: the delivery's state, attempts and last answer.
    fn record_attempt(&self, delivery: &Delivery) -> RepoResult<()>;
}

/// A key whose expiry is near or just past, for the expiry notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringKey {
    /// The key as an audit target (`api_key:<id>` or `secret_key:<id>`).
    pub target: String,
    /// Its account.
    pub account_id: AccountId,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// Keys near their expiry, and the notices already given about them.
pub trait ExpiryRepository {
    /// The keys (API and secret) whose expiry lies in `(from, to]`, at most `limit` of them,
    /// soonest first.
    fn keys_expiring(&self, from: Timestamp, to: Timestamp, limit: u32) -> RepoResult<Vec<ExpiringKey>>;
    /// Records that `notice` (such as `7d`, `1d` or `expired`) was given for `key`'s current
    /// expiry, with its audit event, unless it was given before; answers whether it was new. A
    /// changed expiry is a new one, with notices of its own.
    fn record_expiry_notice(&self, key: &ExpiringKey, notice: &str, audit: &AuditEvent) -> RepoResult<bool>;
}

/// Keyward's own signing keys.
pub trait SigningKeyRepository {
    /// Every signing key, oldest first.
    fn signing_keys(&self) -> RepoResult<Vec<SigningKey>>;
    /// Stores the first active and next keys, unless an active key exists (another node may have
    /// stored its own a moment earlier); answers whether it stored them.
    fn init_signing_keys(&self, active: &SigningKey, next: &SigningKey) -> RepoResult<bool>;
    /// One rotation, atomic and serialized across nodes: retiring keys that stopped signing before
    /// `retire_before` become retired, the active key becomes retiring, the next key becomes
    /// active, and `new_next` is stored as the next key.
    fn rotate_signing_keys(
        &self,
        new_next: &SigningKey,
        now: Timestamp,
        retire_before: Timestamp,
        audit: &AuditEvent,
    ) -> RepoResult<()>;
}

/// The state that stateless tokens need: revocations and single-use assertions.
pub trait TokenStateRepository {
    /// Records that the access token `jti` is revoked until it would have expired anyway.
    fn revoke_token(&self, jti: &str, expires_at: Timestamp, audit: &AuditEvent) -> RepoResult<()>;
    /// Whether the access token `jti` was revoked.
    fn is_revoked(&self, jti: &str) -> RepoResult<bool>;
    /// Records the first use of a client assertion; answers `false` if `(client, jti)` was used
    /// before (a replay). Forgets assertions that expired before `now`.
    fn use_assertion(&self, client: &str, jti: &str, expires_at: Timestamp, now: Timestamp) -> RepoResult<bool>;
}

/// Server-wide settings kept in the database, such as the master-key check value.
pub trait SettingsRepository {
    /// Stores `value` under `name` unless a value is already stored; returns the stored value.
    fn init_setting(&self, name: &str, value: &[u8]) -> RepoResult<Vec<u8>>;
    /// Re-seals every value sealed under the master key (secret keys, current and previous;
    /// retrievable API key secrets; signing keys' private halves; webhooks' signing secrets; the
    /// master-key check) with
    /// `reseal(context, sealed)`, in one transaction: all of them, or, on any error, none.
    /// Answers how many values it re-sealed.
    fn reseal_all(&self, reseal: &mut Reseal<'_>) -> Result<usize, Error>;
}

/// How a sealed value is sealed anew: given its context and its bytes, the new bytes.
pub type Reseal<'a> = dyn FnMut(&[u8], &[u8]) -> Result<Vec<u8>, Error> + 'a;

/// Audit events.
pub trait AuditRepository {
    /// Stores an event that goes with no other change, such as a failed authentication.
    fn insert_audit_event(&self, event: &AuditEvent) -> RepoResult<()>;
    /// The events of an account, newest first.
    fn list_audit_events(&self, account: AccountId, query: &AuditQuery) -> RepoResult<Page<AuditEvent>>;
}

/// Roles: named sets of permissions in an account.
pub trait RoleRepository {
    /// Stores a new role; `NameTaken` if the account has one of that name.
    fn insert_role(&self, role: &Role, audit: &AuditEvent) -> RepoResult<()>;
    /// The roles of an account, by name.
    fn roles(&self, account: AccountId) -> RepoResult<Vec<Role>>;
    /// One role.
    fn role(&self, account: AccountId, name: &RoleName) -> RepoResult<Role>;
    /// Replaces a role's permissions.
    fn update_role(
        &self,
        account: AccountId,
        name: &RoleName,
        permissions: &Permissions,
        now: Timestamp,
        audit: &AuditEvent,
    ) -> RepoResult<Role>;
    /// Deletes a role; keys that name it hold its permissions no more.
    fn delete_role(&self, account: AccountId, name: &RoleName, audit: &AuditEvent) -> RepoResult<()>;
}

/// The counters of usage limits: what all nodes together spent of each bucket.
pub trait UsageCounterRepository {
    /// Adds each spend to its bucket's stored count, creating the bucket, in one transaction.
    fn add_spent(&self, spends: &[Spend]) -> RepoResult<()>;
    /// The stored counts of `buckets`; a bucket never written is left out (it counts 0).
    fn spent(&self, buckets: &[Bucket]) -> RepoResult<Vec<(Bucket, u64)>>;
    /// Adds each strict spend's cost to its bucket if every bucket's count then stays within its
    /// limit, in one transaction; else adds nothing. Answers whether it added, and each bucket's
    /// count (after adding, or as it stands).
    fn spend_strict(&self, spends: &[StrictSpend]) -> RepoResult<(bool, Vec<u64>)>;
    /// Forgets the counters that expired before `now` (seconds since the Unix epoch); answers how
    /// many.
    fn forget_spent_before(&self, now: i64) -> RepoResult<u64>;
}

/// Everything the domain needs from storage.
pub trait Repository:
    AccountRepository
    + ServiceAccountRepository
    + ApiKeyRepository
    + SecretKeyRepository
    + FederatedCredentialRepository
    + WebhookRepository
    + ExpiryRepository
    + SettingsRepository
    + SigningKeyRepository
    + TokenStateRepository
    + AuditRepository
    + UsageCounterRepository
    + RoleRepository
    + Send
    + Sync
    + Debug
{
    /// Whether the store answers at all.
    fn ping(&self) -> RepoResult<()>;
}

#[cfg(test)]
mod tests {
    use super::KeyRef;

    #[test]
    fn a_key_is_named_by_id_or_by_name() {
        let id = "0190b0c4-0000-7000-8000-000000000001";
        assert!(matches!(KeyRef::parse(id, "key"), Ok(KeyRef::Id(k)) if k.to_string() == id));
        assert!(matches!(KeyRef::parse("deploy", "key"), Ok(KeyRef::Name(n)) if n.as_str() == "deploy"));
        let refused = KeyRef::parse(" ", "key_id_or_name").map(|_| ()).expect_err("a blank name is refused");
        assert_eq!(refused.field, "key_id_or_name");
    }
}
