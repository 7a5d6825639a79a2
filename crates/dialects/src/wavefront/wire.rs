//! Wavefront's wire types: the `{status, response}` envelope, tokens and service accounts.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::api_key::ApiKey;
use domain::repository::KeyForAuth;
use domain::secret::SecretString;
use domain::service_account::ServiceAccount as KeywardServiceAccount;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a request went.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = wavefront::Status)]
pub struct Status {
    /// `OK` or `ERROR`.
    pub result: &'static str,
    /// What went wrong, or empty; never contains a secret.
    pub message: String,
    /// The HTTP status code.
    pub code: u16,
}

/// Every Wavefront answer, errors included.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// How the request went.
    pub status: Status,
    /// The answer; absent on errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<T>,
}

/// A successful answer in the envelope.
#[derive(Debug)]
pub struct Wavefront<T>(pub T);

impl<T: Serialize> IntoResponse for Wavefront<T> {
    fn into_response(self) -> Response {
        let status = Status { result: "OK", message: String::new(), code: 200 };
        Json(Envelope { status, response: Some(self.0) }).into_response()
    }
}

/// An error answer in the envelope.
pub fn error(status: StatusCode, message: String) -> Response {
    let body: Envelope<()> =
        Envelope { status: Status { result: "ERROR", message, code: status.as_u16() }, response: None };
    (status, Json(body)).into_response()
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The account type of a token's owner.
fn account_type(owner_active: bool) -> &'static str {
    if owner_active { "SERVICE_ACCOUNT" } else { "INACTIVE_SERVICE_ACCOUNT" }
}

/// The `tokenID` of a key: the token itself where it may be shown (a token made through this
/// dialect, to a caller who may manage tokens), else the key's id.
fn token_id(key: &ApiKey, secret: Option<&SecretString>) -> String {
    secret.map_or_else(|| key.id.to_string(), |s| s.expose().to_owned())
}

/// A token as a service account's lists show it.
#[derive(Serialize, ToSchema)]
#[schema(as = wavefront::UserApiToken)]
#[serde(rename_all = "camelCase")]
pub struct UserApiToken {
    /// The token itself (for tokens made through this dialect, to callers who may manage tokens),
    /// else the Keyward key's id. Either names the token in paths.
    #[serde(rename = "tokenID")]
    pub token_id: String,
    /// Its name.
    pub token_name: String,
    /// The identifier of the service account that owns it.
    pub account: String,
    /// `SERVICE_ACCOUNT`, or `INACTIVE_SERVICE_ACCOUNT` while its service account is deactivated.
    pub account_type: &'static str,
    /// When it was last used, in epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
    /// When it was made, in epoch milliseconds.
    pub date_generated: i64,
}

/// The service account that owns a token, as the token views name it.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// Its name, Wavefront's service account identifier.
    pub name: &'a str,
    /// Whether it is active.
    pub active: bool,
}

impl<'a> From<&'a KeywardServiceAccount> for Owner<'a> {
    fn from(sa: &'a KeywardServiceAccount) -> Self {
        Self { name: sa.name.as_str(), active: sa.active }
    }
}

impl<'a> From<&'a KeyForAuth> for Owner<'a> {
    fn from(found: &'a KeyForAuth) -> Self {
        Self { name: found.owner_name.as_str(), active: found.owner_active }
    }
}

impl UserApiToken {
    /// The token view of `key`, owned by `owner`.
    pub fn new<'a>(key: &ApiKey, secret: Option<&SecretString>, owner: impl Into<Owner<'a>>) -> Self {
        let owner = owner.into();
        Self {
            token_id: token_id(key, secret),
            token_name: key.name.as_str().to_owned(),
            account: owner.name.to_owned(),
            account_type: account_type(owner.active),
            last_used: key.last_used_at.map(millis),
            date_generated: millis(key.created_at),
        }
    }
}

/// A token as the customer-wide lists show it.
#[derive(Serialize, ToSchema)]
#[schema(as = wavefront::ApiTokenModel)]
#[serde(rename_all = "camelCase")]
pub struct ApiTokenModel {
    /// As a service account's `tokenID`: the token itself where it may be shown, else the key's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The identifier of the service account that owns it.
    pub account: String,
    /// `SERVICE_ACCOUNT` or `INACTIVE_SERVICE_ACCOUNT`.
    pub account_type: &'static str,
    /// The Keyward account it lives in.
    pub customer: String,
    /// When it was made, in epoch milliseconds.
    pub date_generated: i64,
    /// The same.
    pub created_epoch_millis: i64,
    /// When it was last used, in epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
}

impl ApiTokenModel {
    /// The customer-wide view of `key`, owned by `owner`.
    pub fn new<'a>(key: &ApiKey, secret: Option<&SecretString>, owner: impl Into<Owner<'a>>) -> Self {
        let owner = owner.into();
        Self {
            id: token_id(key, secret),
            name: key.name.as_str().to_owned(),
            account: owner.name.to_owned(),
            account_type: account_type(owner.active),
            customer: key.account_id.to_string(),
            date_generated: millis(key.created_at),
            created_epoch_millis: millis(key.created_at),
            last_used: key.last_used_at.map(millis),
        }
    }
}

/// A token named in a request body. Other fields Wavefront clients send are ignored.
#[derive(Default, Deserialize, ToSchema)]
#[schema(as = wavefront::UserApiTokenBody)]
#[serde(rename_all = "camelCase")]
pub struct UserApiTokenBody {
    /// The token, or its id (for revocation).
    #[serde(rename = "tokenID")]
    #[schema(value_type = Option<web::schema::IdOrToken>)]
    pub token_id: Option<String>,
    /// A name (for generation and renaming).
    #[schema(value_type = Option<web::schema::NameText>)]
    pub token_name: Option<String>,
}

/// A rename, as the document states it: `tokenName` required. The handler reads it as a
/// [`UserApiTokenBody`] and refuses a missing name.
#[derive(Debug, ToSchema)]
#[schema(as = wavefront::UserApiTokenRename)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UserApiTokenRename {
    /// The token, or its id (ignored: the path names the token).
    #[serde(rename = "tokenID")]
    #[schema(value_type = Option<web::schema::IdOrToken>)]
    token_id: Option<String>,
    /// The new name.
    #[schema(value_type = web::schema::NameText)]
    token_name: String,
}

/// A revocation, as the document states it: `tokenID` required.
#[derive(Debug, ToSchema)]
#[schema(as = wavefront::UserApiTokenRevoke)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UserApiTokenRevoke {
    /// The token to revoke, or its id.
    #[serde(rename = "tokenID")]
    #[schema(value_type = web::schema::IdOrToken)]
    token_id: String,
    /// Ignored.
    token_name: Option<String>,
}

/// A service account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = wavefront::ServiceAccount)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    /// Its identifier, such as `sa::ci`: the Keyward service account's name.
    pub identifier: String,
    /// Whether it is active; a deactivated account's tokens stop working at once.
    pub active: bool,
    /// Its description.
    pub description: String,
    /// Its tokens (listed to callers who may read tokens).
    pub tokens: Vec<UserApiToken>,
    /// When one of its tokens was last used, in epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
    /// Always empty: Keyward grants scopes, not groups.
    pub groups: Vec<String>,
    /// Always empty.
    pub user_groups: Vec<String>,
    /// Always empty.
    pub roles: Vec<String>,
    /// Always empty.
    pub united_permissions: Vec<String>,
    /// Always empty.
    pub united_roles: Vec<String>,
}

impl ServiceAccount {
    /// The Wavefront view of `sa` with its `tokens`.
    pub fn new(sa: &KeywardServiceAccount, tokens: Vec<UserApiToken>) -> Self {
        Self {
            identifier: sa.name.as_str().to_owned(),
            active: sa.active,
            description: sa.description.as_str().to_owned(),
            last_used: tokens.iter().filter_map(|t| t.last_used).max(),
            tokens,
            groups: Vec::new(),
            user_groups: Vec::new(),
            roles: Vec::new(),
            united_permissions: Vec::new(),
            united_roles: Vec::new(),
        }
    }
}

/// A service account to create or change. `groups`, `roles` and `userGroups` are accepted and
/// ignored: Keyward grants scopes, not groups or roles.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = wavefront::ServiceAccountWrite)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountWrite {
    /// Its identifier, such as `sa::ci`.
    #[schema(value_type = web::schema::NameText)]
    pub identifier: String,
    /// Whether it is active (default `true` on creation).
    pub active: Option<bool>,
    /// Its description.
    #[schema(value_type = Option<web::schema::DescriptionText>)]
    pub description: Option<String>,
    /// Must be empty or absent: tokens are generated, not attached.
    #[serde(default)]
    #[schema(max_items = 0)]
    pub tokens: Vec<String>,
}

/// A deleted account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = wavefront::Account)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Its identifier.
    pub identifier: String,
    /// Always empty.
    pub groups: Vec<String>,
    /// Always empty.
    pub roles: Vec<String>,
}

crate::secret_debug!(UserApiToken, ApiTokenModel, UserApiTokenBody);
