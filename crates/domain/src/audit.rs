//! Audit events: one record for every change and every security-relevant event.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::id::{AccountId, AuditEventId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// An account was created.
    #[serde(rename = "account.create")]
    AccountCreate,
    /// An account was renamed.
    #[serde(rename = "account.update")]
    AccountUpdate,
    /// An account and everything in it was deleted.
    #[serde(rename = "account.delete")]
    AccountDelete,
    /// A service account was created.
    #[serde(rename = "service_account.create")]
    ServiceAccountCreate,
    /// A service account was changed.
    #[serde(rename = "service_account.update")]
    ServiceAccountUpdate,
    /// A service account and its credentials were deleted.
    #[serde(rename = "service_account.delete")]
    ServiceAccountDelete,
    /// An API key was created.
    #[serde(rename = "api_key.create")]
    ApiKeyCreate,
    /// An API key was changed.
    #[serde(rename = "api_key.update")]
    ApiKeyUpdate,
    /// An API key's secret was rotated.
    #[serde(rename = "api_key.rotate")]
    ApiKeyRotate,
    /// An API key was deleted.
    #[serde(rename = "api_key.delete")]
    ApiKeyDelete,
    /// A secret key was created.
    #[serde(rename = "secret_key.create")]
    SecretKeyCreate,
    /// A secret key was changed.
    #[serde(rename = "secret_key.update")]
    SecretKeyUpdate,
    /// A secret key's secret was rotated.
    #[serde(rename = "secret_key.rotate")]
    SecretKeyRotate,
    /// A secret key was deleted.
    #[serde(rename = "secret_key.delete")]
    SecretKeyDelete,
    /// A federated credential was created.
    #[serde(rename = "federated_credential.create")]
    FederatedCredentialCreate,
    /// A federated credential was changed.
    #[serde(rename = "federated_credential.update")]
    FederatedCredentialUpdate,
    /// A federated credential was deleted.
    #[serde(rename = "federated_credential.delete")]
    FederatedCredentialDelete,
    /// An external token was exchanged for an access token through a federated credential.
    #[serde(rename = "token.exchange")]
    TokenExchange,
    /// An access token was revoked.
    #[serde(rename = "token.revoke")]
    TokenRevoke,
    /// Keyward's signing keys were rotated.
    #[serde(rename = "signing_key.rotate")]
    SigningKeyRotate,
    /// A credential was presented and refused.
    #[serde(rename = "auth.failure")]
    AuthFailure,
    /// A key was reported leaked (its secret was seen somewhere public) and disabled.
    #[serde(rename = "credential.leaked")]
    CredentialLeaked,
    /// A key will expire soon (7 days, then 1 day ahead): recorded once per notice.
    #[serde(rename = "credential.expiring")]
    CredentialExpiring,
    /// A key expired: recorded once.
    #[serde(rename = "credential.expired")]
    CredentialExpired,
    /// A key was used from an address network it was never used from.
    #[serde(rename = "credential.new_network")]
    CredentialNewNetwork,
    /// A webhook endpoint was added.
    #[serde(rename = "webhook.create")]
    WebhookCreate,
    /// A webhook endpoint was removed.
    #[serde(rename = "webhook.delete")]
    WebhookDelete,
    /// A role was created.
    #[serde(rename = "role.create")]
    RoleCreate,
    /// A role's permissions were changed.
    #[serde(rename = "role.update")]
    RoleUpdate,
    /// A role was deleted.
    #[serde(rename = "role.delete")]
    RoleDelete,
}

impl Action {
    /// Every action, for documentation and filters.
    pub const ALL: [Action; 30] = [
        Action::AccountCreate,
        Action::AccountUpdate,
        Action::AccountDelete,
        Action::ServiceAccountCreate,
        Action::ServiceAccountUpdate,
        Action::ServiceAccountDelete,
        Action::ApiKeyCreate,
        Action::ApiKeyUpdate,
        Action::ApiKeyRotate,
        Action::ApiKeyDelete,
        Action::SecretKeyCreate,
        Action::SecretKeyUpdate,
        Action::SecretKeyRotate,
        Action::SecretKeyDelete,
        Action::FederatedCredentialCreate,
        Action::FederatedCredentialUpdate,
        Action::FederatedCredentialDelete,
        Action::TokenExchange,
        Action::TokenRevoke,
        Action::SigningKeyRotate,
        Action::AuthFailure,
        Action::CredentialLeaked,
        Action::CredentialExpiring,
        Action::CredentialExpired,
        Action::CredentialNewNetwork,
        Action::WebhookCreate,
        Action::WebhookDelete,
        Action::RoleCreate,
        Action::RoleUpdate,
        Action::RoleDelete,
    ];

    /// The stable wire name, such as `api_key.create`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AccountCreate => "account.create",
            Action::AccountUpdate => "account.update",
            Action::AccountDelete => "account.delete",
            Action::ServiceAccountCreate => "service_account.create",
            Action::ServiceAccountUpdate => "service_account.update",
            Action::ServiceAccountDelete => "service_account.delete",
            Action::ApiKeyCreate => "api_key.create",
            Action::ApiKeyUpdate => "api_key.update",
            Action::ApiKeyRotate => "api_key.rotate",
            Action::ApiKeyDelete => "api_key.delete",
            Action::SecretKeyCreate => "secret_key.create",
            Action::SecretKeyUpdate => "secret_key.update",
            Action::SecretKeyRotate => "secret_key.rotate",
            Action::SecretKeyDelete => "secret_key.delete",
            Action::FederatedCredentialCreate => "federated_credential.create",
            Action::FederatedCredentialUpdate => "federated_credential.update",
            Action::FederatedCredentialDelete => "federated_credential.delete",
            Action::TokenExchange => "token.exchange",
            Action::TokenRevoke => "token.revoke",
            Action::SigningKeyRotate => "signing_key.rotate",
            Action::AuthFailure => "auth.failure",
            Action::CredentialLeaked => "credential.leaked",
            Action::CredentialExpiring => "credential.expiring",
            Action::CredentialExpired => "credential.expired",
            Action::CredentialNewNetwork => "credential.new_network",
            Action::WebhookCreate => "webhook.create",
            Action::WebhookDelete => "webhook.delete",
            Action::RoleCreate => "role.create",
            Action::RoleUpdate => "role.update",
            Action::RoleDelete => "role.delete",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the attempt succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It was carried out.
    Success,
    /// It was refused.
    Failure,
}

impl Outcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            _ => None,
        }
    }
}

/// One audit record.
///
/// `actor` and `target` are references such as `api_key:<id>` or `service_account:<id>`; they
/// never hold a secret. An event belongs to the account its target lives in (events about
/// accounts themselves belong to the system account), and it outlives the thing it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Its id.
    pub id: AuditEventId,
    /// The account it belongs to.
    pub account_id: AccountId,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: Action,
    /// What it was done to.
    pub target: String,
    /// When.
    pub at: Timestamp,
    /// The address the request came from, when known.
    pub ip: Option<String>,
    /// Whether it succeeded.
    pub outcome: Outcome,
    /// Why it was refused, where that says more than the action: for a refused token exchange,
    /// the names of the checks that failed. Never a value from a policy or a token.
    pub reason: Option<String>,
    /// The webhook event this change is, where the action alone does not say (disabling a key
    /// or a service account, a burst of refusals); not stored with the event.
    pub notify: Option<crate::notification::EventType>,
}

impl AuditEvent {
    /// A successful `action` on `target` by `actor` in `account` at `at`, from no known address.
    pub fn success(
        id: AuditEventId,
        account: AccountId,
        actor: &str,
        action: Action,
        target: String,
        at: Timestamp,
    ) -> Self {
        AuditEvent {
            id,
            account_id: account,
            actor: actor.to_owned(),
            action,
            target,
            at,
            ip: None,
            outcome: Outcome::Success,
            reason: None,
            notify: None,
        }
    }

    /// The webhook event this change is, if any: the account's webhooks subscribed to it are told.
    /// Leaks, rotations and deletions say it by their action; changes whose meaning depends on
    /// what changed (disabling a key or a service account) say it in [`AuditEvent::notify`].
    pub fn notification(&self) -> Option<crate::notification::EventType> {
        use crate::notification::EventType;
        self.notify.or(match self.action {
            Action::CredentialLeaked => Some(EventType::CredentialLeaked),
            Action::CredentialExpiring => Some(EventType::CredentialExpiring),
            Action::CredentialExpired => Some(EventType::CredentialExpired),
            Action::CredentialNewNetwork => Some(EventType::CredentialNewNetwork),
            Action::ApiKeyRotate | Action::SecretKeyRotate => Some(EventType::CredentialRotated),
            Action::ApiKeyDelete | Action::SecretKeyDelete => Some(EventType::CredentialRevoked),
            _ => None,
        })
    }
}
