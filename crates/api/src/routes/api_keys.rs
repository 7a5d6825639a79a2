//! `.../service-accounts/{service_account_id}/api-keys` and `/v1/accounts/{account_id}/api-keys`:
//! opaque bearer credentials.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::api_key::{ApiKey, Expiry, KeyState, NewApiKey};
use domain::id::{AccountId, ApiKeyId, ServiceAccountId};
use domain::repository::{ApiKeyQuery, KeyRef};
use domain::scope::Scopes;
use domain::service::IssuedApiKey;
use domain::text::{Description, Name};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::list::{list_body, next_cursor, page_request};
use crate::state::AppState;

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    /// Its id (UUIDv7); also the id part of the credential string.
    pub id: String,
    /// The account of its service account.
    pub account_id: String,
    /// The service account it belongs to.
    pub service_account_id: String,
    /// Its name, unique per service account.
    pub name: String,
    /// A free-text description.
    pub description: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Whether it is enabled.
    pub active: bool,
    /// `active`, `disabled` or `expired`, as of the response.
    #[schema(value_type = String, example = "active")]
    pub state: KeyState,
    /// When it stops working; `null` for never.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was last used successfully.
    pub last_used_at: Option<DateTime<Utc>>,
    /// The address it was last used from.
    pub last_used_ip: Option<String>,
    /// When its secret was last rotated.
    pub last_rotated_at: Option<DateTime<Utc>>,
}

impl ApiKeyBody {
    fn new(k: ApiKey, now: DateTime<Utc>) -> Self {
        Self {
            state: k.state(now),
            id: k.id.to_string(),
            account_id: k.account_id.to_string(),
            service_account_id: k.service_account_id.to_string(),
            name: k.name.into(),
            description: k.description.into(),
            scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            active: k.active,
            expires_at: k.expires_at,
            created_at: k.created_at,
            updated_at: k.updated_at,
            last_used_at: k.last_used_at,
            last_used_ip: k.last_used_ip,
            last_rotated_at: k.last_rotated_at,
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

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1 to 100 characters, unique per service account, not shaped like a UUID.
    #[schema(value_type = String, example = "deploy-bot")]
    pub name: Name,
    /// Up to 1000 characters (default empty).
    #[serde(default)]
    #[schema(value_type = String)]
    pub description: Description,
    /// Scopes, each `[a-z0-9:._*-]{1,64}`, at most 100; the caller must hold each one itself.
    #[serde(default)]
    #[schema(value_type = Vec<String>, example = json!(["service-accounts:read"]))]
    pub scopes: Scopes,
    /// When the key stops working (RFC 3339, in the future). Give this or `ttl_seconds`, not both.
    pub expires_at: Option<DateTime<Utc>>,
    /// Lifetime in seconds from now, 1 to 10 years. Give this or `expires_at`, not both.
    #[schema(minimum = 1, maximum = 316_224_000)]
    pub ttl_seconds: Option<i64>,
}

/// Paging of a key list (creation order).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApiKeyListParams {
    /// Items per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filters and paging of the account-wide key list (creation order).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountApiKeyListParams {
    /// Only the keys of this service account.
    pub service_account_id: Option<String>,
    /// Items per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn ids(account: &str, sa: &str) -> ApiResult<(AccountId, ServiceAccountId)> {
    Ok((AccountId::parse(account, "account_id")?, ServiceAccountId::parse(sa, "service_account_id")?))
}

/// A key named in a path: a UUID is an id, anything else a name.
fn key_ref(raw: &str) -> ApiResult<KeyRef> {
    match ApiKeyId::parse(raw, "key_id_or_name") {
        Ok(id) => Ok(KeyRef::Id(id)),
        Err(_) => Ok(KeyRef::Name(Name::parse(raw, "key_id_or_name")?)),
    }
}

/// Creates an API key. The response holds the secret, once.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/api-keys", tag = "api keys",
    request_body = CreateApiKey,
    params(("account_id" = String, Path, description = "The account's id"),
           ("service_account_id" = String, Path, description = "The service account's id")),
    security(("bearer" = [])),
    responses((status = 201, body = IssuedApiKeyBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.0, service_account_id = %path.1))]
pub async fn create_api_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiPath(path): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<IssuedApiKeyBody>)> {
    let (account, sa) = ids(&path.0, &path.1)?;
    let expiry = Expiry::parse(body.expires_at, body.ttl_seconds)?;
    let new = NewApiKey { name: body.name, description: body.description, scopes: body.scopes, expiry };
    let issued = state.run(move |kw| kw.create_api_key(&p, account, sa, new).map(|issued| (issued, kw.now()))).await?;
    let (IssuedApiKey { key, secret }, now) = issued;
    let body = IssuedApiKeyBody { key: ApiKeyBody::new(key, now), secret: secret.expose().to_owned() };
    Ok((StatusCode::CREATED, Json(body)))
}

/// Lists the keys of a service account, expired ones included.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/api-keys", tag = "api keys",
    params(("account_id" = String, Path, description = "The account's id"),
           ("service_account_id" = String, Path, description = "The service account's id"), ApiKeyListParams),
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.0, service_account_id = %path.1))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiPath(path): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<ApiKeyListParams>,
) -> ApiResult<Json<ApiKeyList>> {
    let (account, sa) = ids(&path.0, &path.1)?;
    let list = format!("/v1/accounts/{account}/service-accounts/{sa}/api-keys");
    let page = page_request(&state, &list, q.limit.as_deref(), q.cursor.as_deref())?;
    let (result, now) = state
        .run(move |kw| {
            kw.list_api_keys(&p, account, sa, ApiKeyQuery { page, ..Default::default() }).map(|r| (r, kw.now()))
        })
        .await?;
    let next_cursor = next_cursor(&state, &list, result.next.as_ref());
    Ok(Json(ApiKeyList { items: result.items.into_iter().map(|k| ApiKeyBody::new(k, now)).collect(), next_cursor }))
}

/// Lists the keys of a whole account.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/api-keys", tag = "api keys",
    params(("account_id" = String, Path, description = "The account's id"), AccountApiKeyListParams),
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %account))]
pub async fn list_account_api_keys(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<AccountApiKeyListParams>,
) -> ApiResult<Json<ApiKeyList>> {
    let account = AccountId::parse(&account, "account_id")?;
    let sa = q.service_account_id.as_deref().map(|s| ServiceAccountId::parse(s, "service_account_id")).transpose()?;
    let list = format!("/v1/accounts/{account}/api-keys?service_account_id={sa:?}");
    let page = page_request(&state, &list, q.limit.as_deref(), q.cursor.as_deref())?;
    let query = ApiKeyQuery { service_account_id: sa, page };
    let (result, now) =
        state.run(move |kw| kw.list_account_api_keys(&p, account, &query).map(|r| (r, kw.now()))).await?;
    let next_cursor = next_cursor(&state, &list, result.next.as_ref());
    Ok(Json(ApiKeyList { items: result.items.into_iter().map(|k| ApiKeyBody::new(k, now)).collect(), next_cursor }))
}

/// One key, by id or by name.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/api-keys/{key_id_or_name}",
    tag = "api keys",
    params(("account_id" = String, Path, description = "The account's id"),
           ("service_account_id" = String, Path, description = "The service account's id"),
           ("key_id_or_name" = String, Path, description = "The key's id, or its name")),
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.0, service_account_id = %path.1))]
pub async fn get_api_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiPath(path): ApiPath<(String, String, String)>,
) -> ApiResult<Json<ApiKeyBody>> {
    let (account, sa) = ids(&path.0, &path.1)?;
    let key = key_ref(&path.2)?;
    let (key, now) = state.run(move |kw| kw.get_api_key(&p, account, sa, &key).map(|k| (k, kw.now()))).await?;
    Ok(Json(ApiKeyBody::new(key, now)))
}

/// Deletes a key. A caller cannot delete the key it is using.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/api-keys/{key_id_or_name}",
    tag = "api keys",
    params(("account_id" = String, Path, description = "The account's id"),
           ("service_account_id" = String, Path, description = "The service account's id"),
           ("key_id_or_name" = String, Path, description = "The key's id, or its name")),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.0, service_account_id = %path.1))]
pub async fn delete_api_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiPath(path): ApiPath<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let (account, sa) = ids(&path.0, &path.1)?;
    let key = key_ref(&path.2)?;
    state.run(move |kw| kw.delete_api_key(&p, account, sa, &key)).await?;
    Ok(StatusCode::NO_CONTENT)
}
