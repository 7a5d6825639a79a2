//! `.../service-accounts/{service_account_id}/api-keys` and `/v1/accounts/{account_id}/api-keys`:
//! opaque bearer credentials.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::api_key::{ApiKey, ApiKeyChanges, ApiKeyPartChanges, NewApiKey, NewApiKeyPart, RetainPeriod};
use domain::id::{AccountId, ApiKeyId, ServiceAccountId};
use domain::key::Expiry;
use domain::key::KeyState;
use domain::scope::Scopes;
use domain::service::IssuedApiKey;
use domain::text::{Description, Name};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::usage_limits::{self, LimitsBody, RateLimitBody, RemainingBody, SetRemaining};
use web::answer::{self, JsonAnswer};
use web::error::{ApiResult, Problem};
use web::extract::{ApiJson, ApiKeyPath, Caller, ServiceAccountPath};
use web::list::list_body;
use web::state::AppState;

// It holds the domain's values and writes them straight out, ids and times without `fmt` (see
// `web::answer`): lists and verification answers are made of these.
/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    /// Its id (UUIDv7); also the id part of the credential string.
    #[schema(value_type = String)]
    pub id: ApiKeyId,
    /// The account of its service account.
    #[schema(value_type = String)]
    pub account_id: AccountId,
    /// The service account it belongs to.
    #[schema(value_type = String)]
    pub service_account_id: ServiceAccountId,
    /// Its name, unique per service account.
    #[schema(value_type = String)]
    pub name: Name,
    /// A free-text description.
    #[schema(value_type = String)]
    pub description: Description,
    /// What it may do.
    #[schema(value_type = Vec<String>)]
    pub scopes: Scopes,
    /// Whether it is enabled.
    pub active: bool,
    /// `active`, `disabled`, `expired` or `leaked` (reported leaked: disabled until enabled again with
    /// `acknowledge_leak`), as of the response.
    #[schema(value_type = String, example = "active")]
    pub state: KeyState,
    /// When it stops working; `null` for never.
    #[serde(serialize_with = "answer::optional_time")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    #[serde(serialize_with = "answer::time")]
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    #[serde(serialize_with = "answer::time")]
    pub updated_at: DateTime<Utc>,
    /// When it was last used successfully.
    #[serde(serialize_with = "answer::optional_time")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The address it was last used from.
    #[schema(value_type = Option<String>)]
    pub last_used_ip: Option<IpAddr>,
    /// When its secret was last rotated.
    #[serde(serialize_with = "answer::optional_time")]
    pub last_rotated_at: Option<DateTime<Utc>>,
    /// Its rate limits, checked when it is verified; absent when it has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<RateLimitBody>,
    /// Its uses left as set, spent by verifications; absent when they are not counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<RemainingBody>,
    /// Its permissions, which a verification's `permissions` query asks for (they are not
    /// Keyward's own scopes); absent when it has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    /// The roles whose permissions it holds too, by name; absent when it has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl ApiKeyBody {
    pub(crate) fn new(k: ApiKey, now: DateTime<Utc>) -> Self {
        let LimitsBody { rate_limits, remaining, permissions, roles } = LimitsBody::new(&k.part.limits);
        Self {
            state: k.state(now),
            id: k.id,
            account_id: k.account_id,
            service_account_id: k.service_account_id,
            name: k.name,
            description: k.part.description,
            scopes: k.scopes,
            active: k.active,
            expires_at: k.expires_at,
            created_at: k.created_at,
            updated_at: k.updated_at,
            last_used_at: k.last_used_at,
            last_used_ip: k.part.last_used_ip,
            last_rotated_at: k.last_rotated_at,
            rate_limits,
            remaining,
            permissions,
            roles,
        }
    }
}

/// A key just created: its metadata and, this once, its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedApiKeyBody {
    /// The key.
    #[serde(flatten)]
    pub key: ApiKeyBody,
    /// The credential string `kw_ak_<id>_<secret><checksum>`. It is shown only in this response;
    /// Keyward keeps only its hash.
    #[schema(example = "kw_ak_0190f1c27a3b7c4d8e5f0123456789ab_<72 hex digits>")]
    pub secret: String,
}

list_body!(ApiKeyList, ApiKeyBody);

/// About how long one key is in JSON, so that an answer is written into one buffer.
pub(crate) const KEY_BYTES: usize = 600;

/// The fields of [`ApiKeyBody`], for `fields=`.
pub(crate) const FIELDS: &[&str] = &[
    "id",
    "account_id",
    "service_account_id",
    "name",
    "description",
    "scopes",
    "active",
    "state",
    "expires_at",
    "created_at",
    "updated_at",
    "last_used_at",
    "last_used_ip",
    "last_rotated_at",
    "rate_limits",
    "remaining",
    "permissions",
    "roles",
];

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1 to 100 characters, unique per service account, not shaped like a UUID.
    #[schema(value_type = web::schema::NameText, example = "deploy-bot")]
    pub name: Name,
    /// Up to 1000 characters (default empty).
    #[serde(default)]
    #[schema(value_type = web::schema::DescriptionText)]
    pub description: Description,
    /// Scopes, each `[A-Za-z0-9:._*/-]{1,64}` (case-sensitive), at most 100; the caller must hold each one itself.
    #[serde(default)]
    #[schema(value_type = Vec<web::schema::ScopeText>, example = json!(["service-accounts:read"]))]
    pub scopes: Scopes,
    /// When the key stops working (RFC 3339, in the future). Give this or `ttl_seconds`, not both.
    pub expires_at: Option<DateTime<Utc>>,
    /// Lifetime in seconds from now, 1 to 10 years. Give this or `expires_at`, not both.
    #[serde(default, deserialize_with = "web::whole_number::optional")]
    #[schema(minimum = 1, maximum = 316_224_000)]
    pub ttl_seconds: Option<i64>,
    /// Rate limits checked when the key is verified, at most 16, names unique (default none).
    #[serde(default)]
    #[schema(max_items = 16)]
    pub rate_limits: Vec<RateLimitBody>,
    /// Uses left, spent by verifications; at 0 a verification answers `USAGE_EXCEEDED` (default:
    /// not counted).
    #[serde(default)]
    pub remaining: Option<SetRemaining>,
    /// Permissions a verification's `permissions` query asks for, each
    /// `[A-Za-z0-9:._*/-]{1,64}`, at most 100 (default none).
    #[serde(default)]
    #[schema(value_type = Vec<web::schema::PermissionText>, max_items = 100)]
    pub permissions: Vec<String>,
    /// Roles (`/v1/accounts/{account_id}/roles`) whose permissions it holds too, by name, at most
    /// 16. A name with no role grants nothing until such a role exists (default none).
    #[serde(default)]
    #[schema(value_type = Vec<web::schema::LimitNameText>, max_items = 16)]
    pub roles: Vec<String>,
}

/// Creates an API key. The response holds the secret, once.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/api-keys", tag = "api keys",
    request_body = CreateApiKey,
    params(ServiceAccountPath),
    security(("bearer" = [])),
    responses((status = 201, body = IssuedApiKeyBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn create_api_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ServiceAccountPath,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<IssuedApiKeyBody>)> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let expiry = Expiry::parse(body.expires_at, body.ttl_seconds)?;
    let limits = usage_limits::settings(&body.rate_limits, body.remaining.as_ref(), &body.permissions, &body.roles)?;
    let part = NewApiKeyPart { description: body.description, limits, ..NewApiKeyPart::default() };
    let new = NewApiKey { part, ..NewApiKey::new(body.name, body.scopes, expiry) };
    let issued = state.run(move |kw| kw.create_key(&p, account, sa, new).map(|issued| (issued, kw.now()))).await?;
    let (IssuedApiKey { key, secret }, now) = issued;
    let body = IssuedApiKeyBody { key: ApiKeyBody::new(key, now), secret: secret.expose().to_owned() };
    Ok((StatusCode::CREATED, Json(body)))
}

/// One key, by id or by name.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/api-keys/{key_id_or_name}",
    tag = "api keys",
    params(ApiKeyPath),
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn get_api_key(State(state): State<AppState>, Caller(p): Caller, path: ApiKeyPath) -> ApiResult<Response> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let key = path.key_id_or_name;
    // A key by id is answered from the authentication cache when it is there, on the event loop.
    if let Some(found) = state.keyward().get_api_key_from_memory(&p, account, sa, &key) {
        return Ok(JsonAnswer::new(ApiKeyBody::new(found?, state.keyward().now()), KEY_BYTES).into_response());
    }
    let (key, now) = state.run(move |kw| kw.get_api_key(&p, account, sa, &key).map(|k| (k, kw.now()))).await?;
    Ok(JsonAnswer::new(ApiKeyBody::new(key, now), KEY_BYTES).into_response())
}

/// Changes to a key; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKey {
    /// A new name.
    #[schema(value_type = Option<web::schema::NameText>)]
    pub name: Option<Name>,
    /// A new description.
    #[schema(value_type = Option<web::schema::DescriptionText>)]
    pub description: Option<Description>,
    /// Enable or disable the key. A caller cannot disable the key it is using.
    pub active: Option<bool>,
    /// New scopes, replacing the old ones; the caller must hold each one itself.
    #[schema(value_type = Option<Vec<web::schema::ScopeText>>)]
    pub scopes: Option<Scopes>,
    /// A new expiry in the future, or `null` for none.
    #[serde(default, deserialize_with = "web::extract::present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// Must be `true` with `active: true` to enable a key in the `leaked` state, to say the leak
    /// was dealt with (rotate the key first: its old secret is public). Default `false`.
    #[serde(default)]
    pub acknowledge_leak: bool,
    /// New rate limits, replacing the old ones (`[]` for none). Counts already spent in a window
    /// stay spent for a limit of the same name and window. At most 16, names unique.
    #[schema(max_items = 16)]
    pub rate_limits: Option<Vec<RateLimitBody>>,
    /// Uses left anew, counting from now, or `null` to stop counting them.
    #[serde(default, deserialize_with = "web::extract::present")]
    pub remaining: Option<Option<SetRemaining>>,
    /// New permissions, replacing the old ones.
    #[schema(value_type = Option<Vec<web::schema::PermissionText>>, max_items = 100)]
    pub permissions: Option<Vec<String>>,
    /// New roles, replacing the old ones.
    #[schema(value_type = Option<Vec<web::schema::LimitNameText>>, max_items = 16)]
    pub roles: Option<Vec<String>>,
}

/// How long the old secret keeps working after a rotation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateCredential {
    /// Seconds the previous secret keeps working, 0 (not at all, the default) to 2592000 (30
    /// days). Only one previous secret is kept: rotating again ends the one retained before.
    #[serde(default, deserialize_with = "web::whole_number::required")]
    #[schema(minimum = 0, maximum = 2_592_000, default = 0, example = 3600)]
    pub retain_period_seconds: i64,
}

/// Changes a key's name, description, state, scopes, expiry or usage limits.
#[utoipa::path(patch, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/api-keys/{key_id_or_name}",
    tag = "api keys", request_body = UpdateApiKey,
    params(ApiKeyPath),
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn update_api_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ApiKeyPath,
    ApiJson(body): ApiJson<UpdateApiKey>,
) -> ApiResult<Json<ApiKeyBody>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let key = path.key_id_or_name;
    let changes = ApiKeyChanges {
        name: body.name,
        active: body.active,
        scopes: body.scopes,
        expires_at: body.expires_at,
        acknowledge_leak: body.acknowledge_leak,
        part: ApiKeyPartChanges {
            description: body.description,
            rate_limits: body.rate_limits.as_deref().map(usage_limits::rate_limits).transpose()?,
            remaining: body.remaining.map(|r| r.as_ref().map(usage_limits::remaining).transpose()).transpose()?,
            permissions: body.permissions.as_deref().map(usage_limits::permissions).transpose()?,
            roles: body.roles.as_deref().map(usage_limits::roles).transpose()?,
        },
    };
    let (key, now) = state.run(move |kw| kw.update_key(&p, account, sa, &key, changes).map(|k| (k, kw.now()))).await?;
    Ok(Json(ApiKeyBody::new(key, now)))
}

/// Gives a key a new secret, returned once; the old secret keeps working for the retain period.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/api-keys/{key_id_or_name}/rotate",
    tag = "api keys", request_body = RotateCredential,
    params(ApiKeyPath),
    security(("bearer" = [])),
    responses((status = 200, body = IssuedApiKeyBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn rotate_api_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ApiKeyPath,
    ApiJson(body): ApiJson<RotateCredential>,
) -> ApiResult<Json<IssuedApiKeyBody>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let key = path.key_id_or_name;
    let retain = RetainPeriod::parse(body.retain_period_seconds, "retain_period_seconds")?;
    let (IssuedApiKey { key, secret }, now) =
        state.run(move |kw| kw.rotate_key(&p, account, sa, &key, retain).map(|i| (i, kw.now()))).await?;
    Ok(Json(IssuedApiKeyBody { key: ApiKeyBody::new(key, now), secret: secret.expose().to_owned() }))
}

/// Deletes a key. A caller cannot delete the key it is using.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/api-keys/{key_id_or_name}",
    tag = "api keys",
    params(ApiKeyPath),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn delete_api_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ApiKeyPath,
) -> ApiResult<StatusCode> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let key = path.key_id_or_name;
    state.run(move |kw| kw.delete_key(&p, account, sa, &key)).await?;
    Ok(StatusCode::NO_CONTENT)
}
