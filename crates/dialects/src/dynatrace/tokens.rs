//! `/api/v2/apiTokens` and `/api/v2/apiTokens/{id}`: create, read, change, delete and look up.

use axum::extract::State;
use axum::http::StatusCode;
use domain::api_key::{ApiKey, ApiKeyChanges, NewApiKey};
use domain::id::ApiKeyId;
use domain::key::Expiry;
use domain::principal::Principal;
use domain::scope::Scopes;
use domain::service::{IssuedApiKey, Keyward};
use domain::text::Name;

use super::query::parse_time;
use super::wire::{
    ApiToken, ApiTokenCreate, ApiTokenCreated, ApiTokenSecret, ApiTokenUpdate, DynatraceError, expiration,
};
use super::{Dynatrace, TAG};
use crate::{DialectCaller, DialectResult, Json, Path, key_id};
use web::error::ApiError;
use web::state::AppState;

type Caller = DialectCaller<Dynatrace>;
type Result<T> = DialectResult<T, Dynatrace>;

/// The token view of a key, naming its owner.
fn token(kw: &Keyward, p: &Principal, key: ApiKey) -> std::result::Result<ApiToken, domain::Error> {
    let owner = kw.key_owners(p, key.account_id, &[&key])?.into_iter().next().map(|sa| sa.name.into());
    Ok(ApiToken::new(key, owner.unwrap_or_default()))
}

/// Creates a token for the caller's own service account. The answer holds the token, once.
#[utoipa::path(post, path = "/api/v2/apiTokens", tag = TAG, request_body = ApiTokenCreate,
    security(("api_token" = [])),
    responses((status = 201, body = ApiTokenCreated, description = "The new token; `token` is shown only here."),
              (status = "4XX", body = DynatraceError, description = "Refused: bad input (400), no or a bad token (401), a missing scope (403).")))]
#[tracing::instrument(skip_all)]
pub async fn create_api_token(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Json(body, _): Json<Dynatrace, ApiTokenCreate>,
) -> Result<(StatusCode, axum::Json<ApiTokenCreated>)> {
    if body.personal_access_token == Some(true) {
        return Err(ApiError::validation(
            "personalAccessToken",
            "Keyward has no users, so it has no personal access tokens; create an API token",
        )
        .into());
    }
    let name = Name::parse(&body.name, "name")?;
    let scopes = Scopes::parse(&body.scopes, "scopes")?;
    let expiry = body.expiration_date.as_deref().map(|e| parse_time(e, "expirationDate")).transpose()?;
    let issued = state
        .run(move |kw| {
            let expiry = match expiry.map(|e| e.resolve(kw.now())) {
                Some(at) if at <= kw.now() => {
                    return Err(domain::ValidationError::new("expirationDate", "must be in the future").into());
                }
                Some(at) => Expiry::At(at),
                None => Expiry::Never,
            };
            kw.create_key(&p, p.account_id, p.service_account_id, NewApiKey::new(name, scopes, expiry))
        })
        .await?;
    let IssuedApiKey { key, secret } = issued;
    let body = ApiTokenCreated {
        id: key.id.to_string(),
        token: secret.expose().to_owned(),
        expiration_date: expiration(key.expires_at),
    };
    Ok((StatusCode::CREATED, axum::Json(body)))
}

/// A token of the caller's account, by id (or by the token itself).
#[utoipa::path(get, path = "/api/v2/apiTokens/{id}", tag = TAG,
    params(("id" = web::schema::IdOrToken, Path, description = "The token's id, or the token itself")),
    security(("api_token" = [])),
    responses((status = 200, body = ApiToken, description = "The token's metadata, every field."),
              (status = "4XX", body = DynatraceError, description = "Refused, or no such token in the caller's account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn get_api_token(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Dynatrace, String>,
) -> Result<axum::Json<ApiToken>> {
    let id = key_id(&id, "id")?;
    // From the authentication cache when the token is there, on the event loop.
    let found = match state.keyward().api_key_with_owner_from_memory(&p, p.account_id, id) {
        Some(found) => found.map_err(ApiError::from)?,
        None => state.run(move |kw| kw.api_key_with_owner(&p, p.account_id, id)).await?,
    };
    Ok(axum::Json(ApiToken::new(found.key, found.owner_name.into())))
}

/// Finds the key `id` names in the caller's account and applies `f` to it with its service account.
async fn with_key<T: Send + 'static>(
    state: &AppState,
    p: Principal,
    id: ApiKeyId,
    f: impl FnOnce(&Keyward, &Principal, ApiKey) -> std::result::Result<T, domain::Error> + Send + 'static,
) -> Result<T> {
    Ok(state
        .run(move |kw| {
            let key = kw.get_api_key_by_id(&p, p.account_id, id)?;
            f(kw, &p, key)
        })
        .await?)
}

/// Changes a token's name, state or scopes. A token cannot disable itself.
#[utoipa::path(put, path = "/api/v2/apiTokens/{id}", tag = TAG, request_body = ApiTokenUpdate,
    params(("id" = web::schema::IdOrToken, Path, description = "The token's id, or the token itself")),
    security(("api_token" = [])),
    responses((status = 204, description = "Changed."),
              (status = "4XX", body = DynatraceError, description = "Refused; 400 when a token would disable itself.")))]
#[tracing::instrument(skip_all)]
pub async fn update_api_token(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Dynatrace, String>,
    Json(body, _): Json<Dynatrace, ApiTokenUpdate>,
) -> Result<StatusCode> {
    let id = key_id(&id, "id")?;
    let changes = ApiKeyChanges {
        name: body.name.as_deref().map(|n| Name::parse(n, "name")).transpose()?,
        active: body.enabled,
        scopes: body.scopes.as_deref().map(|s| Scopes::parse(s, "scopes")).transpose()?,
        ..ApiKeyChanges::default()
    };
    with_key(&state, p, id, move |kw, p, key| {
        kw.update_key(p, key.account_id, key.service_account_id, &domain::repository::KeyRef::Id(key.id), changes)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a token. A token cannot delete itself.
#[utoipa::path(delete, path = "/api/v2/apiTokens/{id}", tag = TAG,
    params(("id" = web::schema::IdOrToken, Path, description = "The token's id, or the token itself")),
    security(("api_token" = [])),
    responses((status = 204, description = "Deleted."),
              (status = "4XX", body = DynatraceError, description = "Refused; 400 when a token would delete itself.")))]
#[tracing::instrument(skip_all)]
pub async fn delete_api_token(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Dynatrace, String>,
) -> Result<StatusCode> {
    let id = key_id(&id, "id")?;
    with_key(&state, p, id, move |kw, p, key| {
        kw.delete_key(p, key.account_id, key.service_account_id, &domain::repository::KeyRef::Id(key.id))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The metadata of the token presented in the body, whatever its state (needs `apiTokens.read`
/// or `api-keys:verify`).
#[utoipa::path(post, path = "/api/v2/apiTokens/lookup", tag = TAG, request_body = ApiTokenSecret,
    security(("api_token" = [])),
    responses((status = 200, body = ApiToken, description = "The token's metadata, every field."),
              (status = "4XX", body = DynatraceError, description = "Refused, or no such token in the caller's account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn lookup_api_token(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Json(body, _): Json<Dynatrace, ApiTokenSecret>,
) -> Result<axum::Json<ApiToken>> {
    let token = state.run(move |kw| token(kw, &p, kw.lookup_api_key(&p, &body.token)?)).await?;
    Ok(axum::Json(token))
}
