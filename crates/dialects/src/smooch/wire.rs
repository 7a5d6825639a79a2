//! Smooch's wire types.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = smooch::SmoochError)]
pub struct SmoochError {
    /// The error.
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = smooch::ErrorBody)]
pub struct ErrorBody {
    /// `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`, ...
    pub code: String,
    /// What went wrong; never contains a secret.
    pub description: String,
}

/// A service account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = smooch::ServiceAccount)]
pub struct ServiceAccount {
    /// Its id: the Keyward service account's id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Its name.
    pub name: String,
}

impl From<domain::service_account::ServiceAccount> for ServiceAccount {
    fn from(sa: domain::service_account::ServiceAccount) -> Self {
        Self { id: sa.id.to_string(), name: sa.name.into() }
    }
}

/// `{"serviceAccount": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = smooch::ServiceAccountBody)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountBody {
    /// The service account.
    pub service_account: ServiceAccount,
}

/// A page of service accounts.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = smooch::ServiceAccountList)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountList {
    /// The service accounts, oldest first.
    pub service_accounts: Vec<ServiceAccount>,
    /// Whether more follow this page.
    pub has_more: bool,
    /// The offset of this page.
    pub offset: u64,
}

/// A service account to create, or its new name.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = smooch::NewServiceAccount)]
#[serde(deny_unknown_fields)]
pub struct NewServiceAccount {
    /// Its name, unique in the account.
    #[schema(value_type = web::schema::NameText)]
    pub name: String,
}

/// A secret key. `secret` is present only in the answer that creates it.
#[derive(Serialize, ToSchema)]
#[schema(as = smooch::Key)]
pub struct Key {
    /// Its id: the Keyward secret key's id, the `kid` of the JWTs it signs.
    #[serde(rename = "_id")]
    pub id: String,
    /// Its name.
    pub name: String,
    /// The `kw_sk_...` secret: only when the key is created, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<domain::secret_key::SecretKey> for Key {
    fn from(k: domain::secret_key::SecretKey) -> Self {
        Self { id: k.id.to_string(), name: k.name.into(), secret: None }
    }
}

/// `{"key": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = smooch::KeyBody)]
pub struct KeyBody {
    /// The key.
    pub key: Key,
}

/// `{"keys": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = smooch::KeyList)]
pub struct KeyList {
    /// The service account's secret keys, oldest first.
    pub keys: Vec<Key>,
}

/// A secret key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = smooch::NewKey)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Its name, unique per service account.
    #[schema(value_type = web::schema::NameText)]
    pub name: String,
}

/// `{"jwt": "..."}`.
#[derive(Serialize, ToSchema)]
#[schema(as = smooch::Jwt)]
pub struct Jwt {
    /// An HS256 JWT signed with the key, `kid` = its id, `scope: "account"`, valid for an hour.
    pub jwt: String,
}

crate::secret_debug!(Key, Jwt);
