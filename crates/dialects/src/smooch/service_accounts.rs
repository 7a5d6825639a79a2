//! `/v1.1/serviceaccounts`: create, list (`limit`, `offset`), get, rename and delete.

use axum::extract::State;
use axum::http::StatusCode;
use domain::id::ServiceAccountId;
use domain::page::{Limit, PageRequest};
use domain::repository::ServiceAccountQuery;
use domain::service_account::{NewServiceAccount as NewSa, ServiceAccountChanges};
use domain::text::{Description, Metadata, Name};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::wire::{NewServiceAccount, ServiceAccountBody, ServiceAccountList, SmoochError};
use super::{Smooch, TAG};
use crate::{DialectCaller, DialectResult, Json, Path, Query};
use web::error::ApiError;
use web::state::AppState;

type Caller = DialectCaller<Smooch>;
type Result<T> = DialectResult<T, Smooch>;

/// Paging of the service-account list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Service accounts per page, 1 to 100 (default 25).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// How many to skip (default 0).
    #[param(value_type = Option<i64>, minimum = 0)]
    pub offset: Option<String>,
}

fn id(raw: &str) -> std::result::Result<ServiceAccountId, ApiError> {
    Ok(ServiceAccountId::parse(raw, "serviceAccountId")?)
}

/// Creates a service account in the caller's account.
#[utoipa::path(post, path = "/v1.1/serviceaccounts", tag = TAG, request_body = NewServiceAccount,
    security(("smooch_basic" = []), ("bearer" = [])),
    responses((status = 201, body = ServiceAccountBody, description = "The new service account."),
              (status = "4XX", body = SmoochError, description = "Refused: bad input (400), no or a bad credential (401), a missing scope (403), a taken name (409).")))]
#[tracing::instrument(skip_all)]
pub async fn create_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Json(body, _): Json<Smooch, NewServiceAccount>,
) -> Result<(StatusCode, axum::Json<ServiceAccountBody>)> {
    let new = NewSa {
        name: Name::parse(&body.name, "name")?,
        description: Description::default(),
        active: true,
        metadata: Metadata::default(),
        limits: Default::default(),
    };
    let sa = state.run(move |kw| kw.create_service_account(&p, p.account_id, new)).await?;
    Ok((StatusCode::CREATED, axum::Json(ServiceAccountBody { service_account: sa.into() })))
}

/// The service accounts of the caller's account, oldest first, by offset.
#[utoipa::path(get, path = "/v1.1/serviceaccounts", tag = TAG, params(ListParams),
    security(("smooch_basic" = []), ("bearer" = [])),
    responses((status = 200, body = ServiceAccountList, description = "A page of service accounts."),
              (status = "4XX", body = SmoochError, description = "Refused: bad paging (400), no or a bad credential (401), a missing scope (403).")))]
#[tracing::instrument(skip_all)]
pub async fn list_service_accounts(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Query(q, _): Query<Smooch, ListParams>,
) -> Result<axum::Json<ServiceAccountList>> {
    let limit = match q.limit.as_deref() {
        Some(l) => Limit::parse_between(l, 1, 100, "limit")?,
        None => Limit::parse_between("25", 1, 100, "limit")?,
    };
    let offset: u64 = match q.offset.as_deref() {
        Some(o) => o
            .parse::<i64>()
            .ok()
            .and_then(|o| u64::try_from(o).ok())
            .ok_or_else(|| ApiError::validation("offset", "must be a whole number from 0 to 2^63 - 1"))?,
        None => 0,
    };
    let query = ServiceAccountQuery {
        page: PageRequest { limit, after: None, skip: offset, may_lag: true },
        ..Default::default()
    };
    let page = state.run(move |kw| kw.list_service_accounts(&p, p.account_id, &query)).await?;
    Ok(axum::Json(ServiceAccountList {
        has_more: page.next.is_some(),
        service_accounts: page.items.into_iter().map(Into::into).collect(),
        offset,
    }))
}

/// One service account.
#[utoipa::path(get, path = "/v1.1/serviceaccounts/{serviceAccountId}", tag = TAG,
    params(("serviceAccountId" = web::schema::Id, Path, description = "The service account's id")),
    security(("smooch_basic" = []), ("bearer" = [])),
    responses((status = 200, body = ServiceAccountBody, description = "The service account."),
              (status = "4XX", body = SmoochError, description = "Refused, or no such service account in the caller's account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn get_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(raw, _): Path<Smooch, String>,
) -> Result<axum::Json<ServiceAccountBody>> {
    let sa = id(&raw)?;
    let sa = state.run(move |kw| kw.get_service_account(&p, p.account_id, sa)).await?;
    Ok(axum::Json(ServiceAccountBody { service_account: sa.into() }))
}

/// Renames a service account.
#[utoipa::path(put, path = "/v1.1/serviceaccounts/{serviceAccountId}", tag = TAG, request_body = NewServiceAccount,
    params(("serviceAccountId" = web::schema::Id, Path, description = "The service account's id")),
    security(("smooch_basic" = []), ("bearer" = [])),
    responses((status = 200, body = ServiceAccountBody, description = "The renamed service account."),
              (status = "4XX", body = SmoochError, description = "Refused, or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn update_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(raw, _): Path<Smooch, String>,
    Json(body, _): Json<Smooch, NewServiceAccount>,
) -> Result<axum::Json<ServiceAccountBody>> {
    let sa = id(&raw)?;
    let changes = ServiceAccountChanges { name: Some(Name::parse(&body.name, "name")?), ..Default::default() };
    let sa = state.run(move |kw| kw.update_service_account(&p, p.account_id, sa, changes)).await?;
    Ok(axum::Json(ServiceAccountBody { service_account: sa.into() }))
}

/// Deletes a service account and its keys. A caller cannot delete its own.
#[utoipa::path(delete, path = "/v1.1/serviceaccounts/{serviceAccountId}", tag = TAG,
    params(("serviceAccountId" = web::schema::Id, Path, description = "The service account's id")),
    security(("smooch_basic" = []), ("bearer" = [])),
    responses((status = 200, body = Object, description = "Deleted: an empty object."),
              (status = "4XX", body = SmoochError, description = "Refused (409 for the caller's own), or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn delete_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(raw, _): Path<Smooch, String>,
) -> Result<axum::Json<Value>> {
    let sa = id(&raw)?;
    state.run(move |kw| kw.delete_service_account(&p, p.account_id, sa)).await?;
    Ok(axum::Json(json!({})))
}
