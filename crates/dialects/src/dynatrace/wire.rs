//! Dynatrace's wire types, and the translation of a Keyward key into an `ApiToken`.

use chrono::{DateTime, Utc};
use domain::api_key::ApiKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::query::format_time;

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = dynatrace::DynatraceError)]
pub struct DynatraceError {
    /// The error.
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = dynatrace::ErrorBody)]
pub struct ErrorBody {
    /// The HTTP status code.
    pub code: u16,
    /// What went wrong; never contains a secret.
    pub message: String,
}

/// A token's metadata. Lists hold only the fields `fields` selects.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = dynatrace::ApiToken)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    /// The token's id: the Keyward API key's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether it is enabled.
    pub enabled: bool,
    /// The name of the service account that owns it.
    pub owner: String,
    /// When it was created.
    pub creation_date: String,
    /// Always `false`: Keyward has no users, so it has no personal access tokens.
    pub personal_access_token: bool,
    /// When it expires; absent for never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<String>,
    /// When it was last used; absent if never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_date: Option<String>,
    /// The address it was last used from; absent if never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_ip_address: Option<String>,
    /// Its scopes.
    pub scopes: Vec<String>,
}

impl ApiToken {
    /// The token view of key `k`, owned by the service account named `owner`.
    pub fn new(k: ApiKey, owner: String) -> Self {
        Self {
            id: k.id.to_string(),
            name: k.name.into(),
            enabled: k.active,
            owner,
            creation_date: format_time(k.created_at),
            personal_access_token: false,
            expiration_date: k.expires_at.map(format_time),
            last_used_date: k.last_used_at.map(format_time),
            last_used_ip_address: k.part.last_used_ip.map(|ip| ip.to_string()),
            scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        }
    }
}

/// A page of tokens.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = dynatrace::ApiTokenList)]
#[serde(rename_all = "camelCase")]
pub struct ApiTokenList {
    /// The page size asked for.
    pub page_size: u16,
    /// The key of the next page, absent on the last one. Pass it alone as `nextPageKey`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_key: Option<String>,
    /// The tokens, each with the fields `fields` selects (`id` always).
    pub api_tokens: Vec<serde_json::Value>,
}

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = dynatrace::ApiTokenCreate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiTokenCreate {
    /// Its name.
    #[schema(value_type = web::schema::NameText)]
    pub name: String,
    /// Its scopes: Dynatrace's (such as `metrics.read`) or Keyward's; the caller must hold each.
    #[schema(value_type = Vec<web::schema::ScopeText>)]
    pub scopes: Vec<String>,
    /// When it expires: ISO 8601, or relative such as `now+14d`. Absent or `null`: never.
    pub expiration_date: Option<String>,
    /// Must be absent, `null` or `false`: Keyward has no personal access tokens.
    #[schema(value_type = Option<web::schema::FalseOnly>)]
    pub personal_access_token: Option<bool>,
}

/// A token just created: the only answer that holds its secret.
#[derive(Serialize, ToSchema)]
#[schema(as = dynatrace::ApiTokenCreated)]
#[serde(rename_all = "camelCase")]
pub struct ApiTokenCreated {
    /// Its id.
    pub id: String,
    /// The token itself, `kw_ak_…`: shown only in this answer.
    pub token: String,
    /// When it expires; absent for never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<String>,
}

/// Changes to a token; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = dynatrace::ApiTokenUpdate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiTokenUpdate {
    /// A new name.
    #[schema(value_type = Option<web::schema::NameText>)]
    pub name: Option<String>,
    /// Enable or disable it. A token cannot disable itself.
    pub enabled: Option<bool>,
    /// New scopes, replacing the old ones.
    #[schema(value_type = Option<Vec<web::schema::ScopeText>>)]
    pub scopes: Option<Vec<String>>,
}

/// A token, presented to look it up.
#[derive(Deserialize, ToSchema)]
#[schema(as = dynatrace::ApiTokenSecret)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenSecret {
    /// The token (`kw_ak_…`).
    pub token: String,
}

/// The expiry of a created token, as Dynatrace writes it.
pub fn expiration(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(format_time)
}

crate::secret_debug!(ApiTokenCreated, ApiTokenSecret);
