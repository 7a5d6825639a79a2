//! `/api/v1/service_accounts`: ZenML's service accounts.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use domain::principal::Principal;
use domain::service::Keyward;
use domain::service_account::{NewServiceAccount, ServiceAccount, ServiceAccountChanges};
use domain::text::{Description, Metadata, Name};

use super::wire::{FULL_NAME, Page, ServiceAccountCreate, ServiceAccountResponse, ServiceAccountWrite, ZenmlError};
use super::{ListParams, SA_FIELDS, TAG, Zenml, page_of, service_account};
use crate::{DialectCaller, DialectResult, Path, Query};
use web::state::AppState;

type Caller = DialectCaller<Zenml>;
type Result<T> = DialectResult<T, Zenml>;

/// `metadata` with `full_name` set to `full_name` (removed when empty).
fn with_full_name(metadata: &Metadata, full_name: &str) -> std::result::Result<Metadata, domain::ValidationError> {
    let mut map: BTreeMap<String, String> = metadata.entries().clone();
    if full_name.is_empty() {
        map.remove(FULL_NAME);
    } else {
        map.insert(FULL_NAME.to_owned(), full_name.to_owned());
    }
    Metadata::parse(map, "full_name")
}

/// Creates a service account.
#[utoipa::path(post, path = "/api/v1/service_accounts", tag = TAG, request_body = ServiceAccountCreate,
    security(("bearer" = [])),
    responses((status = 200, body = ServiceAccountResponse, description = "The new service account."),
              (status = "4XX", body = ZenmlError, description = "Refused: bad input (400), no or a bad token (401), a missing scope (403), a taken name (409).")))]
#[tracing::instrument(skip_all)]
pub async fn create_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    crate::Json(body, _): crate::Json<Zenml, ServiceAccountCreate>,
) -> Result<Json<ServiceAccountResponse>> {
    let new = NewServiceAccount {
        name: Name::parse(&body.name, "name")?,
        description: Description::parse(body.description.as_deref().unwrap_or(""), "description")?,
        active: body.active.unwrap_or(true),
        metadata: with_full_name(&Metadata::default(), body.full_name.as_deref().unwrap_or(""))?,
        limits: Default::default(),
    };
    let sa = state.run(move |kw| kw.create_service_account(&p, p.account_id, new)).await?;
    Ok(Json((&sa).into()))
}

/// The service accounts of the caller's account, filtered, sorted and paged as ZenML does.
#[utoipa::path(get, path = "/api/v1/service_accounts", tag = TAG, params(ListParams),
    security(("bearer" = [])),
    responses((status = 200, body = Page<ServiceAccountResponse>, description = "A page of service accounts."),
              (status = "4XX", body = ZenmlError, description = "Refused: bad filters (400), no or a bad token (401), a missing scope (403).")))]
#[tracing::instrument(skip_all)]
pub async fn list_service_accounts(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Query(q, _): Query<Zenml, ListParams>,
) -> Result<Json<Page<ServiceAccountResponse>>> {
    let request = q.parse(SA_FIELDS)?;
    let all = state.run(move |kw| kw.all_service_accounts(&p, p.account_id)).await?;
    Ok(Json(page_of(all, &request, |sa| sa.into())))
}

/// One service account, by id or name.
#[utoipa::path(get, path = "/api/v1/service_accounts/{service_account_name_or_id}", tag = TAG,
    params(("service_account_name_or_id" = web::schema::IdOrName, Path, description = "The service account's id or name"), super::Hydrate),
    security(("bearer" = [])),
    responses((status = 200, body = ServiceAccountResponse, description = "The service account."),
              (status = "4XX", body = ZenmlError, description = "Refused, or no such service account in the caller's account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn get_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(raw, _): Path<Zenml, String>,
    Query(hydrate, _): Query<Zenml, super::Hydrate>,
) -> Result<Json<ServiceAccountResponse>> {
    hydrate.check()?;
    let sa = state.run(move |kw| service_account(kw, &p, &raw)).await?;
    Ok(Json((&sa).into()))
}

/// Applies a ZenML update to `sa`.
fn update(
    kw: &Keyward,
    p: &Principal,
    sa: &ServiceAccount,
    body: ServiceAccountWrite,
) -> std::result::Result<ServiceAccount, domain::Error> {
    let changes = ServiceAccountChanges {
        name: body.name.as_deref().map(|n| Name::parse(n, "name")).transpose()?,
        description: body.description.as_deref().map(|d| Description::parse(d, "description")).transpose()?,
        active: body.active,
        metadata: body.full_name.as_deref().map(|f| with_full_name(&sa.metadata, f)).transpose()?,
        ..ServiceAccountChanges::default()
    };
    kw.update_service_account(p, p.account_id, sa.id, changes)
}

/// Changes a service account's name, full name, description or state. A caller cannot
/// deactivate its own.
#[utoipa::path(put, path = "/api/v1/service_accounts/{service_account_name_or_id}", tag = TAG, request_body = ServiceAccountWrite,
    params(("service_account_name_or_id" = web::schema::IdOrName, Path, description = "The service account's id or name")),
    security(("bearer" = [])),
    responses((status = 200, body = ServiceAccountResponse, description = "The changed service account."),
              (status = "4XX", body = ZenmlError, description = "Refused (403 for the caller's own), or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn update_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(raw, _): Path<Zenml, String>,
    crate::Json(body, _): crate::Json<Zenml, ServiceAccountWrite>,
) -> Result<Json<ServiceAccountResponse>> {
    let sa = state.run(move |kw| update(kw, &p, &service_account(kw, &p, &raw)?, body)).await?;
    Ok(Json((&sa).into()))
}

/// Deletes a service account and its keys. A caller cannot delete its own.
#[utoipa::path(delete, path = "/api/v1/service_accounts/{service_account_name_or_id}", tag = TAG,
    params(("service_account_name_or_id" = web::schema::IdOrName, Path, description = "The service account's id or name")),
    security(("bearer" = [])),
    responses((status = 200, description = "Deleted: `null`."),
              (status = "4XX", body = ZenmlError, description = "Refused (403 for the caller's own), or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn delete_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(raw, _): Path<Zenml, String>,
) -> Result<Json<serde_json::Value>> {
    state
        .run(move |kw| {
            let sa = service_account(kw, &p, &raw)?;
            kw.delete_service_account(&p, p.account_id, sa.id)
        })
        .await?;
    Ok(Json(serde_json::Value::Null))
}
