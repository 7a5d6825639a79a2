//! `/v1.1/serviceaccounts/{serviceAccountId}/keys`: a service account's secret keys, and the
//! account-scoped JWT a key signs.

use axum::extract::State;
use axum::http::StatusCode;
use domain::id::{SecretKeyId, ServiceAccountId};
use domain::service::IssuedSecretKey;
use domain::text::Name;
use serde_json::{Value, json};

use super::wire::{Jwt, Key, KeyBody, KeyList, NewKey, SmoochError};
use super::{Smooch, TAG};
use crate::{DialectCaller, DialectResult, Json, Path};
use web::error::ApiError;
use web::state::AppState;

type Caller = DialectCaller<Smooch>;
type Result<T> = DialectResult<T, Smooch>;

fn ids(sa: &str, key: &str) -> std::result::Result<(ServiceAccountId, SecretKeyId), ApiError> {
    Ok((ServiceAccountId::parse(sa, "serviceAccountId")?, SecretKeyId::parse(key, "keyId")?))
}

/// Creates a secret key; its scopes are the caller's own (Smooch has none). The answer holds the
/// secret, this once.
#[utoipa::path(post, path = "/v1.1/serviceaccounts/{serviceAccountId}/keys", tag = TAG, request_body = NewKey,
    params(("serviceAccountId" = web::schema::Id, Path, description = "The service account's id")),
    security(("smooch_basic" = []), ("bearer" = [])),
    responses((status = 201, body = KeyBody, description = "The new key, with its secret: shown only here."),
              (status = "4XX", body = SmoochError, description = "Refused, or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn create_secret_key(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(raw, _): Path<Smooch, String>,
    Json(body, _): Json<Smooch, NewKey>,
) -> Result<(StatusCode, axum::Json<KeyBody>)> {
    let sa = ServiceAccountId::parse(&raw, "serviceAccountId")?;
    let name = Name::parse(&body.name, "name")?;
    let IssuedSecretKey { key, secret } =
        state.run(move |kw| kw.create_inheriting_secret_key(&p, p.account_id, sa, name)).await?;
    let key = Key { secret: Some(secret.expose().to_owned()), ..Key::from(key) };
    Ok((StatusCode::CREATED, axum::Json(KeyBody { key })))
}

/// The secret keys of a service account, without their secrets.
#[utoipa::path(get, path = "/v1.1/serviceaccounts/{serviceAccountId}/keys", tag = TAG,
    params(("serviceAccountId" = web::schema::Id, Path, description = "The service account's id")),
    security(("smooch_basic" = []), ("bearer" = [])),
    responses((status = 200, body = KeyList, description = "Its keys, oldest first."),
              (status = "4XX", body = SmoochError, description = "Refused, or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn list_secret_keys(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(raw, _): Path<Smooch, String>,
) -> Result<axum::Json<KeyList>> {
    let sa = ServiceAccountId::parse(&raw, "serviceAccountId")?;
    let keys = state.run(move |kw| kw.all_secret_keys(&p, p.account_id, sa)).await?;
    Ok(axum::Json(KeyList { keys: keys.into_iter().map(Into::into).collect() }))
}

/// One secret key, without its secret.
#[utoipa::path(get, path = "/v1.1/serviceaccounts/{serviceAccountId}/keys/{keyId}", tag = TAG,
    params(("serviceAccountId" = web::schema::Id, Path, description = "The service account's id"),
           ("keyId" = web::schema::Id, Path, description = "The key's id")),
    security(("smooch_basic" = []), ("bearer" = [])),
    responses((status = 200, body = KeyBody, description = "The key."),
              (status = "4XX", body = SmoochError, description = "Refused, or no such key (404).")))]
#[tracing::instrument(skip_all)]
pub async fn get_secret_key(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path((sa, key), _): Path<Smooch, (String, String)>,
) -> Result<axum::Json<KeyBody>> {
    let (sa, key) = ids(&sa, &key)?;
    let found = match state.keyward().get_secret_key_from_memory(&p, p.account_id, sa, key) {
        Some(found) => found.map_err(ApiError::from)?,
        None => state.run(move |kw| kw.get_secret_key(&p, p.account_id, sa, key)).await?,
    };
    Ok(axum::Json(KeyBody { key: found.into() }))
}

/// Deletes a secret key. A key cannot delete itself.
#[utoipa::path(delete, path = "/v1.1/serviceaccounts/{serviceAccountId}/keys/{keyId}", tag = TAG,
    params(("serviceAccountId" = web::schema::Id, Path, description = "The service account's id"),
           ("keyId" = web::schema::Id, Path, description = "The key's id")),
    security(("smooch_basic" = []), ("bearer" = [])),
    responses((status = 200, body = Object, description = "Deleted: an empty object."),
              (status = "4XX", body = SmoochError, description = "Refused (409 for the key making the request), or no such key (404).")))]
#[tracing::instrument(skip_all)]
pub async fn delete_secret_key(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path((sa, key), _): Path<Smooch, (String, String)>,
) -> Result<axum::Json<Value>> {
    let (sa, key) = ids(&sa, &key)?;
    state.run(move |kw| kw.delete_key(&p, p.account_id, sa, &key)).await?;
    Ok(axum::Json(json!({})))
}

/// An account-scoped JWT signed with the key: HS256, `kid` = its id, `scope: "account"`, for an
/// hour. It works as `Bearer` on every Smooch route and on the native API, with the key's scopes.
#[utoipa::path(get, path = "/v1.1/serviceaccounts/{serviceAccountId}/keys/{keyId}/jwt", tag = TAG,
    params(("serviceAccountId" = web::schema::Id, Path, description = "The service account's id"),
           ("keyId" = web::schema::Id, Path, description = "The key's id")),
    security(("smooch_basic" = []), ("bearer" = [])),
    responses((status = 200, body = Jwt, description = "The JWT."),
              (status = "4XX", body = SmoochError, description = "Refused, or no such key (404).")))]
#[tracing::instrument(skip_all)]
pub async fn get_jwt(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path((sa, key), _): Path<Smooch, (String, String)>,
) -> Result<axum::Json<Jwt>> {
    let (sa, key) = ids(&sa, &key)?;
    let jwt = state.run(move |kw| kw.issue_whole_key_jwt(&p, p.account_id, sa, key)).await?;
    Ok(axum::Json(Jwt { jwt: jwt.expose().to_owned() }))
}
