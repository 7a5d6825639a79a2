//! `/api/v1/service_accounts/{service_account_id}/api_keys`: ZenML's API keys of a service account.

use axum::Json;
use axum::extract::State;
use domain::api_key::{ApiKeyChanges, ApiKeyPartChanges, RetainPeriod};
use domain::principal::Principal;
use domain::repository::KeyRef;
use domain::service::{IssuedApiKey, Keyward};
use domain::service_account::ServiceAccount;
use domain::text::{Description, Name};

use super::wire::{ApiKeyCreate, ApiKeyResponse, ApiKeyWrite, Page, RotateRequest, ZenmlError};
use super::{KEY_FIELDS, ListParams, TAG, Zenml, page_of, service_account};
use crate::{DialectCaller, DialectResult, Path, Query};
use web::error::ApiError;

use web::state::AppState;

type Caller = DialectCaller<Zenml>;
type Result<T> = DialectResult<T, Zenml>;
type DomainResult<T> = std::result::Result<T, domain::Error>;

/// The service account and key a path names.
fn key_of(
    kw: &Keyward,
    p: &Principal,
    sa: &str,
    key: &KeyRef,
) -> DomainResult<(ServiceAccount, domain::api_key::ApiKey)> {
    let sa = service_account(kw, p, sa)?;
    let key = kw.get_api_key(p, p.account_id, sa.id, key)?;
    Ok((sa, key))
}

/// Creates an API key; ZenML keys carry no scopes, so it inherits the caller's (never more). The
/// answer holds the key, this once.
#[utoipa::path(post, path = "/api/v1/service_accounts/{service_account_id}/api_keys", tag = TAG, request_body = ApiKeyCreate,
    params(("service_account_id" = web::schema::IdOrName, Path, description = "The service account's id (or name)")),
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyResponse, description = "The new key; `body.key` is shown only here."),
              (status = "4XX", body = ZenmlError, description = "Refused, or no such service account (404), or a taken name (409).")))]
#[tracing::instrument(skip_all)]
pub async fn create_api_key(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(sa, _): Path<Zenml, String>,
    crate::Json(body, _): crate::Json<Zenml, ApiKeyCreate>,
) -> Result<Json<ApiKeyResponse>> {
    let name = Name::parse(&body.name, "name")?;
    let description = Description::parse(body.description.as_deref().unwrap_or(""), "description")?;
    let answer = state
        .run(move |kw| {
            let sa = service_account(kw, &p, &sa)?;
            let IssuedApiKey { key, secret } =
                kw.create_inheriting_api_key(&p, p.account_id, sa.id, name, description, false)?;
            Ok(ApiKeyResponse::new(&key, &sa, Some(secret.expose().to_owned())))
        })
        .await?;
    Ok(Json(answer))
}

/// The keys of a service account, filtered, sorted and paged as ZenML does.
#[utoipa::path(get, path = "/api/v1/service_accounts/{service_account_id}/api_keys", tag = TAG,
    params(("service_account_id" = web::schema::IdOrName, Path, description = "The service account's id (or name)"), ListParams),
    security(("bearer" = [])),
    responses((status = 200, body = Page<ApiKeyResponse>, description = "A page of keys."),
              (status = "4XX", body = ZenmlError, description = "Refused: bad filters (400), no or a bad token (401), a missing scope (403), no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(sa, _): Path<Zenml, String>,
    Query(q, _): Query<Zenml, ListParams>,
) -> Result<Json<Page<ApiKeyResponse>>> {
    let request = q.parse(KEY_FIELDS)?;
    let (sa, keys) = state
        .run(move |kw| {
            let sa = service_account(kw, &p, &sa)?;
            let keys = kw.all_api_keys(&p, p.account_id, sa.id)?;
            Ok((sa, keys))
        })
        .await?;
    Ok(Json(page_of(keys, &request, |k| ApiKeyResponse::new(k, &sa, None))))
}

/// One key, by id or name.
#[utoipa::path(get, path = "/api/v1/service_accounts/{service_account_id}/api_keys/{api_key_name_or_id}", tag = TAG,
    params(("service_account_id" = web::schema::IdOrName, Path, description = "The service account's id (or name)"),
           ("api_key_name_or_id" = web::schema::IdOrName, Path, description = "The key's id or name"), super::Hydrate),
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyResponse, description = "The key, without its secret."),
              (status = "4XX", body = ZenmlError, description = "Refused, or no such key (404).")))]
#[tracing::instrument(skip_all)]
pub async fn get_api_key(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path((sa, key), _): Path<Zenml, (String, String)>,
    Query(hydrate, _): Query<Zenml, super::Hydrate>,
) -> Result<Json<ApiKeyResponse>> {
    hydrate.check()?;
    let key = KeyRef::parse(&key, "key_id_or_name")?;
    let answer =
        state.run(move |kw| key_of(kw, &p, &sa, &key).map(|(sa, k)| ApiKeyResponse::new(&k, &sa, None))).await?;
    Ok(Json(answer))
}

/// Changes a key's name, description or state. A key cannot deactivate itself.
#[utoipa::path(put, path = "/api/v1/service_accounts/{service_account_id}/api_keys/{api_key_name_or_id}", tag = TAG,
    request_body = ApiKeyWrite,
    params(("service_account_id" = web::schema::IdOrName, Path, description = "The service account's id (or name)"),
           ("api_key_name_or_id" = web::schema::IdOrName, Path, description = "The key's id or name")),
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyResponse, description = "The changed key."),
              (status = "4XX", body = ZenmlError, description = "Refused (403 for the key itself), or no such key (404).")))]
#[tracing::instrument(skip_all)]
pub async fn update_api_key(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path((sa, key), _): Path<Zenml, (String, String)>,
    crate::Json(body, _): crate::Json<Zenml, ApiKeyWrite>,
) -> Result<Json<ApiKeyResponse>> {
    let key = KeyRef::parse(&key, "key_id_or_name")?;
    let changes = ApiKeyChanges {
        name: body.name.as_deref().map(|n| Name::parse(n, "name")).transpose()?,
        active: body.active,
        part: ApiKeyPartChanges {
            description: body.description.as_deref().map(|d| Description::parse(d, "description")).transpose()?,
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = state
        .run(move |kw| {
            let sa = service_account(kw, &p, &sa)?;
            let k = kw.update_key(&p, p.account_id, sa.id, &key, changes)?;
            Ok(ApiKeyResponse::new(&k, &sa, None))
        })
        .await?;
    Ok(Json(answer))
}

/// Gives a key a new secret; the old one keeps working for `retain_period_minutes`. The answer
/// holds the new key, this once. A key cannot rotate itself.
#[utoipa::path(put, path = "/api/v1/service_accounts/{service_account_id}/api_keys/{api_key_name_or_id}/rotate", tag = TAG,
    request_body = RotateRequest,
    params(("service_account_id" = web::schema::IdOrName, Path, description = "The service account's id (or name)"),
           ("api_key_name_or_id" = web::schema::IdOrName, Path, description = "The key's id or name")),
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyResponse, description = "The rotated key; `body.key` is shown only here."),
              (status = "4XX", body = ZenmlError, description = "Refused (403 for the key itself), or no such key (404).")))]
#[tracing::instrument(skip_all)]
pub async fn rotate_api_key(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path((sa, key), _): Path<Zenml, (String, String)>,
    crate::Json(body, _): crate::Json<Zenml, RotateRequest>,
) -> Result<Json<ApiKeyResponse>> {
    let key = KeyRef::parse(&key, "key_id_or_name")?;
    let seconds = body
        .retain_period_minutes
        .checked_mul(60)
        .ok_or_else(|| ApiError::validation("retain_period_minutes", "must be from 0 to 43200"))?;
    let retain = RetainPeriod::parse(seconds, "retain_period_minutes")
        .map_err(|_| ApiError::validation("retain_period_minutes", "must be from 0 to 43200 (30 days)"))?;
    let description = body.set_description.as_deref().map(|d| Description::parse(d, "set_description")).transpose()?;
    let answer = state
        .run(move |kw| {
            let sa = service_account(kw, &p, &sa)?;
            let IssuedApiKey { key: rotated, secret } = kw.rotate_key(&p, p.account_id, sa.id, &key, retain)?;
            let rotated = match description {
                Some(description) => {
                    let changes = ApiKeyChanges {
                        part: ApiKeyPartChanges { description: Some(description), ..Default::default() },
                        ..Default::default()
                    };
                    kw.update_key(&p, p.account_id, sa.id, &KeyRef::Id(rotated.id), changes)?
                }
                None => rotated,
            };
            Ok(ApiKeyResponse::new(&rotated, &sa, Some(secret.expose().to_owned())))
        })
        .await?;
    Ok(Json(answer))
}

/// Deletes a key. A key cannot delete itself.
#[utoipa::path(delete, path = "/api/v1/service_accounts/{service_account_id}/api_keys/{api_key_name_or_id}", tag = TAG,
    params(("service_account_id" = web::schema::IdOrName, Path, description = "The service account's id (or name)"),
           ("api_key_name_or_id" = web::schema::IdOrName, Path, description = "The key's id or name")),
    security(("bearer" = [])),
    responses((status = 200, description = "Deleted: `null`."),
              (status = "4XX", body = ZenmlError, description = "Refused (403 for the key itself), or no such key (404).")))]
#[tracing::instrument(skip_all)]
pub async fn delete_api_key(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path((sa, key), _): Path<Zenml, (String, String)>,
) -> Result<Json<serde_json::Value>> {
    let key = KeyRef::parse(&key, "key_id_or_name")?;
    state
        .run(move |kw| {
            let sa = service_account(kw, &p, &sa)?;
            kw.delete_key(&p, p.account_id, sa.id, &key)
        })
        .await?;
    Ok(Json(serde_json::Value::Null))
}
