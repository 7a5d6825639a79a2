//! `.../service-accounts/{service_account_id}/secret-keys`: symmetric credentials, stored sealed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::api_key::RetainPeriod;
use domain::key::Expiry;
use domain::key::KeyState;
use domain::scope::Scopes;
use domain::secret_key::{NewSecretKey, NewSecretKeyPart, SecretKey, SecretKeyChanges, SecretKeyPartChanges};
use domain::service::IssuedSecretKey;
use domain::text::Name;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api_keys::RotateCredential;
use web::error::{ApiResult, Problem};
use web::extract::{ApiJson, ApiQuery, Caller, SecretKeyPath, ServiceAccountPath};
use web::list::{PageParams, list_body, next_cursor, page_request};
use web::state::AppState;

/// A secret key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretKeyBody {
    /// Its id (UUIDv7): the OAuth 2.0 `client_id` and the JWT `kid`.
    pub id: String,
    /// The account of its service account.
    pub account_id: String,
    /// The service account it belongs to.
    pub service_account_id: String,
    /// Its name, unique per service account.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Whether it is enabled.
    pub active: bool,
    /// `active`, `disabled`, `expired` or `leaked` (reported leaked: disabled until enabled again with
    /// `acknowledge_leak`), as of the response.
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
    /// When its secret was last rotated.
    pub last_rotated_at: Option<DateTime<Utc>>,
    /// Whether its access tokens must be bound to a client key (DPoP, RFC 9449): the token
    /// endpoint then refuses it without a `DPoP` proof, and JWTs signed with it are refused.
    pub require_dpop: bool,
}

impl SecretKeyBody {
    fn new(k: SecretKey, now: DateTime<Utc>) -> Self {
        Self {
            state: k.state(now),
            id: k.id.to_string(),
            account_id: k.account_id.to_string(),
            service_account_id: k.service_account_id.to_string(),
            name: k.name.into(),
            scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            active: k.active,
            expires_at: k.expires_at,
            created_at: k.created_at,
            updated_at: k.updated_at,
            last_used_at: k.last_used_at,
            last_rotated_at: k.last_rotated_at,
            require_dpop: k.part.require_dpop,
        }
    }
}

/// A secret key just created or rotated: its metadata and, this once, its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedSecretKeyBody {
    /// The key.
    #[serde(flatten)]
    pub key: SecretKeyBody,
    /// The credential string `kw_sk_<id>_<secret><checksum>`, shown only in this response. Keyward
    /// keeps it sealed (AES-256-GCM) under its master key.
    #[schema(example = "kw_sk_0190f1c27a3b7c4d8e5f0123456789ab_<72 hex digits>")]
    pub secret: String,
}

impl IssuedSecretKeyBody {
    fn new(issued: IssuedSecretKey, now: DateTime<Utc>) -> Self {
        Self { key: SecretKeyBody::new(issued.key, now), secret: issued.secret.expose().to_owned() }
    }
}

list_body!(SecretKeyList, SecretKeyBody);

/// A new secret key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSecretKey {
    /// 1 to 100 characters, unique per service account.
    #[schema(value_type = web::schema::NameText, example = "token-issuer")]
    pub name: Name,
    /// Scopes, each `[A-Za-z0-9:._*/-]{1,64}` (case-sensitive), at most 100; the caller must hold each one itself.
    #[serde(default)]
    #[schema(value_type = Vec<web::schema::ScopeText>)]
    pub scopes: Scopes,
    /// When the key stops working (RFC 3339, in the future). Give this or `ttl_seconds`, not both.
    pub expires_at: Option<DateTime<Utc>>,
    /// Lifetime in seconds from now, 1 to 10 years. Give this or `expires_at`, not both.
    #[serde(default, deserialize_with = "web::whole_number::optional")]
    #[schema(minimum = 1, maximum = 316_224_000)]
    pub ttl_seconds: Option<i64>,
    /// Require DPoP-bound access tokens (RFC 9449): the token endpoint refuses the key without a
    /// `DPoP` proof, and JWTs signed with the key are refused. Default `false`.
    #[serde(default)]
    pub require_dpop: bool,
}

/// Changes to a secret key; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSecretKey {
    /// A new name.
    #[schema(value_type = Option<web::schema::NameText>)]
    pub name: Option<Name>,
    /// Enable or disable the key.
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
    /// Require, or stop requiring, DPoP-bound access tokens.
    pub require_dpop: Option<bool>,
}

/// Creates a secret key. The response holds the secret, once.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/secret-keys", tag = "secret keys",
    request_body = CreateSecretKey,
    params(ServiceAccountPath),
    security(("bearer" = [])),
    responses((status = 201, body = IssuedSecretKeyBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn create_secret_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ServiceAccountPath,
    ApiJson(body): ApiJson<CreateSecretKey>,
) -> ApiResult<(StatusCode, Json<IssuedSecretKeyBody>)> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let expiry = Expiry::parse(body.expires_at, body.ttl_seconds)?;
    let part = NewSecretKeyPart { require_dpop: body.require_dpop };
    let new = NewSecretKey { part, ..NewSecretKey::new(body.name, body.scopes, expiry) };
    let (issued, now) = state.run(move |kw| kw.create_key(&p, account, sa, new).map(|i| (i, kw.now()))).await?;
    Ok((StatusCode::CREATED, Json(IssuedSecretKeyBody::new(issued, now))))
}

/// Lists the secret keys of a service account, expired ones included.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/secret-keys", tag = "secret keys",
    params(ServiceAccountPath, PageParams),
    security(("bearer" = [])),
    responses((status = 200, body = SecretKeyList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn list_secret_keys(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ServiceAccountPath,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<SecretKeyList>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let list = format!("/v1/accounts/{account}/service-accounts/{sa}/secret-keys");
    let page = page_request(&state, &list, q.limit.as_deref(), q.cursor.as_deref())?;
    let (result, now) = state.run(move |kw| kw.list_secret_keys(&p, account, sa, &page).map(|r| (r, kw.now()))).await?;
    let next_cursor = next_cursor(&state, &list, result.next.as_ref());
    Ok(Json(SecretKeyList {
        items: result.items.into_iter().map(|k| SecretKeyBody::new(k, now)).collect(),
        next_cursor,
    }))
}

/// One secret key.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/secret-keys/{key_id}",
    tag = "secret keys",
    params(SecretKeyPath),
    security(("bearer" = [])),
    responses((status = 200, body = SecretKeyBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn get_secret_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: SecretKeyPath,
) -> ApiResult<Json<SecretKeyBody>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let id = path.key_id;
    if let Some(found) = state.keyward().get_secret_key_from_memory(&p, account, sa, id) {
        return Ok(Json(SecretKeyBody::new(found?, state.keyward().now())));
    }
    let (key, now) = state.run(move |kw| kw.get_secret_key(&p, account, sa, id).map(|k| (k, kw.now()))).await?;
    Ok(Json(SecretKeyBody::new(key, now)))
}

/// Changes a secret key's name, state, scopes or expiry.
#[utoipa::path(patch, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/secret-keys/{key_id}",
    tag = "secret keys", request_body = UpdateSecretKey,
    params(SecretKeyPath),
    security(("bearer" = [])),
    responses((status = 200, body = SecretKeyBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn update_secret_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: SecretKeyPath,
    ApiJson(body): ApiJson<UpdateSecretKey>,
) -> ApiResult<Json<SecretKeyBody>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let id = path.key_id;
    let changes = SecretKeyChanges {
        name: body.name,
        active: body.active,
        scopes: body.scopes,
        expires_at: body.expires_at,
        acknowledge_leak: body.acknowledge_leak,
        part: SecretKeyPartChanges { require_dpop: body.require_dpop },
    };
    let (key, now) = state.run(move |kw| kw.update_key(&p, account, sa, &id, changes).map(|k| (k, kw.now()))).await?;
    Ok(Json(SecretKeyBody::new(key, now)))
}

/// Gives a secret key a new secret, returned once; the old one keeps working for the retain period.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/secret-keys/{key_id}/rotate",
    tag = "secret keys", request_body = RotateCredential,
    params(SecretKeyPath),
    security(("bearer" = [])),
    responses((status = 200, body = IssuedSecretKeyBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn rotate_secret_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: SecretKeyPath,
    ApiJson(body): ApiJson<RotateCredential>,
) -> ApiResult<Json<IssuedSecretKeyBody>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let id = path.key_id;
    let retain = RetainPeriod::parse(body.retain_period_seconds, "retain_period_seconds")?;
    let (issued, now) = state.run(move |kw| kw.rotate_key(&p, account, sa, &id, retain).map(|i| (i, kw.now()))).await?;
    Ok(Json(IssuedSecretKeyBody::new(issued, now)))
}

/// What JWT to sign with a secret key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueJwt {
    /// Scopes to carry, each covered by the key's own (default: all of the key's scopes).
    #[schema(value_type = Option<Vec<web::schema::ScopeText>>)]
    pub scopes: Option<Scopes>,
    /// Lifetime in seconds, 1 to 3600 (default 3600).
    #[serde(default, deserialize_with = "web::whole_number::optional")]
    #[schema(minimum = 1, maximum = 3600)]
    pub ttl_seconds: Option<i64>,
}

/// A JWT signed with a secret key.
#[derive(Debug, Serialize, ToSchema)]
pub struct JwtBody {
    /// The token: HS256, `kid` = the key's id; claims `iss`, `sub` (service account id), `aud`,
    /// `exp`, `iat`, `nbf`, `jti`, `scope`, `client_id` (key id) and `acct` (account id).
    pub token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// The scopes it carries, space-separated.
    pub scope: String,
}

/// Signs a JWT with a secret key (HS256, `kid` = key id), valid for at most an hour; usable as
/// `Bearer` on this API. Needs `secret-keys:write`, since the token is as good as the secret.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/secret-keys/{key_id}/jwt",
    tag = "secret keys", request_body = IssueJwt,
    params(SecretKeyPath),
    security(("bearer" = [])),
    responses((status = 200, body = JwtBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn issue_jwt(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: SecretKeyPath,
    ApiJson(body): ApiJson<IssueJwt>,
) -> ApiResult<Json<JwtBody>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let id = path.key_id;
    let issued =
        state.run(move |kw| kw.issue_secret_key_jwt(&p, account, sa, id, body.scopes, body.ttl_seconds)).await?;
    Ok(Json(JwtBody {
        token: issued.token.expose().to_owned(),
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: issued.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
    }))
}

/// Deletes a secret key.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/secret-keys/{key_id}",
    tag = "secret keys",
    params(SecretKeyPath),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn delete_secret_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: SecretKeyPath,
) -> ApiResult<StatusCode> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let id = path.key_id;
    state.run(move |kw| kw.delete_key(&p, account, sa, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
