//! ZenML's wire models, as its client parses them (`id`, `name`, `body`, `metadata`, `resources`),
//! and the translation of Keyward's service accounts and keys into them.

use chrono::{DateTime, Utc};
use domain::api_key::ApiKey;
use domain::service_account::ServiceAccount;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The metadata key under which a service account keeps its ZenML `full_name`.
pub const FULL_NAME: &str = "full_name";

/// A time as ZenML writes it: ISO 8601 in UTC, without a zone.
pub fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// An error answer: `{"detail": [<exception class>, <message>]}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = zenml::ZenmlError)]
pub struct ZenmlError {
    /// The name of the exception the client raises, then the message.
    pub detail: Vec<String>,
}

/// What `GET /api/v1/info` answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = zenml::ServerInfo)]
pub struct ServerInfo {
    /// A stable id of this deployment.
    pub id: String,
    /// `keyward`.
    pub name: &'static str,
    /// Keyward's version.
    pub version: &'static str,
    /// Always `true`.
    pub active: bool,
    /// Always `false`.
    pub debug: bool,
    /// `other`.
    pub deployment_type: &'static str,
    /// `other`.
    pub database_type: &'static str,
    /// `none`: Keyward keeps no ZenML secrets.
    pub secrets_store_type: &'static str,
    /// `OAUTH2_PASSWORD_BEARER`: log in with an API key for a bearer token.
    pub auth_scheme: &'static str,
    /// Keyward's public base URL.
    pub server_url: String,
    /// Empty: Keyward has no ZenML dashboard.
    pub dashboard_url: String,
    /// Always `false`.
    pub analytics_enabled: bool,
    /// Empty.
    #[schema(value_type = Object)]
    pub metadata: Value,
}

/// A login form (`application/x-www-form-urlencoded`). Other fields (`username`, ...) are
/// ignored. `Debug` never shows the key.
#[derive(Deserialize, ToSchema)]
#[schema(as = zenml::LoginForm)]
pub struct LoginForm {
    /// `zenml-api-key` (or `password`, which Keyward refuses: it has no users).
    pub grant_type: Option<String>,
    /// The API key, for `zenml-api-key`.
    pub password: Option<String>,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm").field("grant_type", &self.grant_type).field("password", &"[REDACTED]").finish()
    }
}

/// A login answer.
#[derive(Serialize, ToSchema)]
#[schema(as = zenml::TokenResponse)]
pub struct TokenResponse {
    /// A Keyward access token, accepted as `Bearer` on every ZenML route and on Keyward's API.
    pub access_token: String,
    /// `bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// A service account's body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = zenml::ServiceAccountBody)]
pub struct ServiceAccountBody {
    /// When it was created.
    pub created: String,
    /// When it was last changed.
    pub updated: String,
    /// Its full name (kept in Keyward's metadata as `full_name`).
    pub full_name: String,
    /// Whether it is active.
    pub active: bool,
    /// Always `null`.
    pub avatar_url: Option<String>,
}

/// A service account's metadata.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = zenml::ServiceAccountMetadata)]
pub struct ServiceAccountMetadata {
    /// Its description.
    pub description: String,
    /// Always `null`.
    pub external_user_id: Option<String>,
}

/// A service account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = zenml::ServiceAccountResponse)]
pub struct ServiceAccountResponse {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Always `false`.
    pub permission_denied: bool,
    /// Its body.
    pub body: ServiceAccountBody,
    /// Its metadata: always given, so the client never needs to hydrate.
    pub metadata: ServiceAccountMetadata,
    /// Always empty.
    #[schema(value_type = Object)]
    pub resources: Value,
}

impl From<&ServiceAccount> for ServiceAccountResponse {
    fn from(sa: &ServiceAccount) -> Self {
        Self {
            id: sa.id.to_string(),
            name: sa.name.as_str().to_owned(),
            permission_denied: false,
            body: ServiceAccountBody {
                created: time(sa.created_at),
                updated: time(sa.updated_at),
                full_name: sa.metadata.entries().get(FULL_NAME).cloned().unwrap_or_default(),
                active: sa.active,
                avatar_url: None,
            },
            metadata: ServiceAccountMetadata {
                description: sa.description.as_str().to_owned(),
                external_user_id: None,
            },
            resources: Value::Object(Default::default()),
        }
    }
}

/// An API key's body.
#[derive(Serialize, ToSchema)]
#[schema(as = zenml::ApiKeyBody)]
pub struct ApiKeyBody {
    /// When it was created.
    pub created: String,
    /// When it was last changed.
    pub updated: String,
    /// The key itself (`kw_ak_…`): only in the answers that create or rotate it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Whether it is enabled.
    pub active: bool,
    /// The service account it belongs to.
    pub service_account: ServiceAccountResponse,
}

/// An API key's metadata.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = zenml::ApiKeyMetadata)]
pub struct ApiKeyMetadata {
    /// Its description.
    pub description: String,
    /// How long the previous key kept working after the last rotation, in minutes.
    pub retain_period_minutes: i64,
    /// When it was last used (Keyward's last use).
    pub last_login: Option<String>,
    /// When it was last rotated.
    pub last_rotated: Option<String>,
}

/// An API key.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = zenml::ApiKeyResponse)]
pub struct ApiKeyResponse {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Always `false`.
    pub permission_denied: bool,
    /// Its body.
    pub body: ApiKeyBody,
    /// Its metadata: always given.
    pub metadata: ApiKeyMetadata,
    /// Always empty.
    #[schema(value_type = Object)]
    pub resources: Value,
}

impl ApiKeyResponse {
    /// The ZenML view of `key` owned by `owner`, with `secret` when it is being shown.
    pub fn new(key: &ApiKey, owner: &ServiceAccount, secret: Option<String>) -> Self {
        let retain = match (&key.secret.previous, key.last_rotated_at) {
            (Some((_, until)), Some(rotated)) => (*until - rotated).num_minutes(),
            _ => 0,
        };
        Self {
            id: key.id.to_string(),
            name: key.name.as_str().to_owned(),
            permission_denied: false,
            body: ApiKeyBody {
                created: time(key.created_at),
                updated: time(key.updated_at),
                key: secret,
                active: key.active,
                service_account: owner.into(),
            },
            metadata: ApiKeyMetadata {
                description: key.part.description.as_str().to_owned(),
                retain_period_minutes: retain,
                last_login: key.last_used_at.map(time),
                last_rotated: key.last_rotated_at.map(time),
            },
            resources: Value::Object(Default::default()),
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// This page's number, from 1.
    pub index: u64,
    /// The page size asked for.
    pub max_size: u64,
    /// How many pages there are (at least 1).
    pub total_pages: u64,
    /// How many items passed the filters.
    pub total: u64,
    /// The items.
    pub items: Vec<T>,
}

/// A service account as the client creates it; `avatar_url` is accepted and ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = zenml::ServiceAccountCreate)]
pub struct ServiceAccountCreate {
    /// Its name.
    #[schema(value_type = web::schema::NameText)]
    pub name: String,
    /// Its full name: up to 512 characters, no control characters.
    #[schema(max_length = 512, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub full_name: Option<String>,
    /// Its description.
    #[schema(value_type = Option<web::schema::DescriptionText>)]
    pub description: Option<String>,
    /// Whether it is active (default `true`).
    pub active: Option<bool>,
}

/// An API key as the client creates it.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = zenml::ApiKeyCreate)]
pub struct ApiKeyCreate {
    /// Its name.
    #[schema(value_type = web::schema::NameText)]
    pub name: String,
    /// Its description.
    #[schema(value_type = Option<web::schema::DescriptionText>)]
    pub description: Option<String>,
}

/// A change to a service account; `avatar_url` is accepted and ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = zenml::ServiceAccountWrite)]
pub struct ServiceAccountWrite {
    /// A new name.
    #[schema(value_type = Option<web::schema::NameText>)]
    pub name: Option<String>,
    /// Its full name: up to 512 characters, no control characters.
    #[schema(max_length = 512, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub full_name: Option<String>,
    /// Its description.
    #[schema(value_type = Option<web::schema::DescriptionText>)]
    pub description: Option<String>,
    /// Whether it is active.
    pub active: Option<bool>,
}

/// A change to an API key.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = zenml::ApiKeyWrite)]
pub struct ApiKeyWrite {
    /// A new name.
    #[schema(value_type = Option<web::schema::NameText>)]
    pub name: Option<String>,
    /// Its description.
    #[schema(value_type = Option<web::schema::DescriptionText>)]
    pub description: Option<String>,
    /// Enable or disable it.
    pub active: Option<bool>,
}

/// A rotation.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = zenml::RotateRequest)]
pub struct RotateRequest {
    /// Minutes the old key keeps working, 0 to 43200 (30 days); 0 when absent.
    #[serde(default, deserialize_with = "web::whole_number::required")]
    #[schema(minimum = 0, maximum = 43200)]
    pub retain_period_minutes: i64,
    /// A new description, if given.
    #[schema(value_type = Option<web::schema::DescriptionText>)]
    pub set_description: Option<String>,
}

/// The caller, as ZenML's `current-user`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = zenml::UserResponse)]
pub struct UserResponse {
    /// The service account's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Always `false`.
    pub permission_denied: bool,
    /// Its body.
    #[schema(value_type = Object)]
    pub body: Value,
    /// Its metadata.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Always empty.
    #[schema(value_type = Object)]
    pub resources: Value,
}

/// A project or a stack: fixtures derived from the caller's account (see `workspace.rs`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = zenml::WorkspaceItem)]
pub struct WorkspaceItem {
    /// Its id.
    pub id: String,
    /// `default`.
    pub name: String,
    /// Its body.
    #[schema(value_type = Object)]
    pub body: Value,
    /// Its metadata.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Its resources.
    #[schema(value_type = Object)]
    pub resources: Value,
}

/// ZenML's project: the caller's account.
pub type ProjectResponse = WorkspaceItem;
/// ZenML's stack: an empty one.
pub type StackResponse = WorkspaceItem;

crate::secret_debug!(ApiKeyBody, TokenResponse);
