//! `/v1/accounts/{account_id}/service-accounts`: machine identities.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::page::Direction;
use domain::repository::{ServiceAccountQuery, ServiceAccountSort};
use domain::service_account::{NewServiceAccount, ServiceAccount, ServiceAccountChanges};
use domain::text::{Description, Metadata, Name};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::usage_limits::{self, LimitsBody, RateLimitBody, RemainingBody, SetRemaining};
use web::error::{ApiError, ApiResult, Problem};
use web::extract::{AccountPath, ApiJson, ApiQuery, Caller, ServiceAccountPath};
use web::list::{list_body, next_cursor, page_request, parse_bool};
use web::state::AppState;

/// A service account.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAccountBody {
    /// Its id (UUIDv7).
    pub id: String,
    /// The account it belongs to.
    pub account_id: String,
    /// Its name, unique in the account.
    pub name: String,
    /// A free-text description.
    pub description: String,
    /// Whether its credentials may be used.
    pub active: bool,
    /// Labels for the owner's use.
    pub metadata: BTreeMap<String, String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Rate limits its API keys share: a verification of any of them counts here too; absent
    /// when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<RateLimitBody>,
    /// Uses left that its API keys share; absent when they are not counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<RemainingBody>,
}

impl From<ServiceAccount> for ServiceAccountBody {
    fn from(sa: ServiceAccount) -> Self {
        let LimitsBody { rate_limits, remaining, .. } = LimitsBody::new(&sa.limits);
        Self {
            id: sa.id.to_string(),
            account_id: sa.account_id.to_string(),
            name: sa.name.into(),
            description: sa.description.into(),
            active: sa.active,
            metadata: sa.metadata.into(),
            created_at: sa.created_at,
            updated_at: sa.updated_at,
            rate_limits,
            remaining,
        }
    }
}

list_body!(ServiceAccountList, ServiceAccountBody);

fn yes() -> bool {
    true
}

/// A new service account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceAccount {
    /// 1 to 100 characters, no control characters, unique in the account.
    #[schema(value_type = web::schema::NameText, example = "billing-worker")]
    pub name: Name,
    /// Up to 1000 characters (default empty).
    #[serde(default)]
    #[schema(value_type = web::schema::DescriptionText)]
    pub description: Description,
    /// Whether it starts active (default `true`).
    #[serde(default = "yes")]
    pub active: bool,
    /// Up to 64 labels; keys of 1 to 64 characters from `[A-Za-z0-9_.-]`, values up to 512 characters.
    #[serde(default)]
    #[schema(value_type = web::schema::Labels)]
    pub metadata: Metadata,
    /// Rate limits its API keys share, at most 16, names unique (default none).
    #[serde(default)]
    #[schema(max_items = 16)]
    pub rate_limits: Vec<RateLimitBody>,
    /// Uses left that its API keys share: each verification of any of them spends its `cost`
    /// (default: not counted).
    #[serde(default)]
    pub remaining: Option<SetRemaining>,
}

/// Changes to a service account; absent fields stay as they are. `metadata` replaces the whole map.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateServiceAccount {
    /// A new name.
    #[schema(value_type = Option<web::schema::NameText>)]
    pub name: Option<Name>,
    /// A new description.
    #[schema(value_type = Option<web::schema::DescriptionText>)]
    pub description: Option<Description>,
    /// Enable or disable it; a disabled service account's credentials all stop working.
    pub active: Option<bool>,
    /// New labels, replacing the old ones.
    #[schema(value_type = Option<web::schema::Labels>)]
    pub metadata: Option<Metadata>,
    /// New shared rate limits, replacing the old ones (`[]` for none). At most 16, names unique.
    #[schema(max_items = 16)]
    pub rate_limits: Option<Vec<RateLimitBody>>,
    /// Shared uses left anew, counting from now, or `null` to stop counting them.
    #[serde(default, deserialize_with = "web::extract::present")]
    pub remaining: Option<Option<SetRemaining>>,
}

/// Filters, sort and paging of the service-account list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServiceAccountListParams {
    /// Only the service account with exactly this name.
    #[param(value_type = Option<web::schema::NameText>)]
    pub name: Option<String>,
    /// Only active (`true`) or disabled (`false`) ones.
    #[param(value_type = Option<bool>)]
    pub active: Option<String>,
    /// `created_at` (default), `name`; prefix `-` for descending. Ties are broken by id.
    pub sort: Option<String>,
    /// Items per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn parse_sort(sort: Option<&str>) -> ApiResult<(ServiceAccountSort, Direction)> {
    let (direction, field) = match sort {
        None => return Ok(Default::default()),
        Some(s) => s.strip_prefix('-').map_or((Direction::Asc, s), |f| (Direction::Desc, f)),
    };
    let field = match field {
        "created_at" => ServiceAccountSort::CreatedAt,
        "name" => ServiceAccountSort::Name,
        _ => return Err(ApiError::validation("sort", "must be `name` or `created_at`, optionally prefixed with `-`")),
    };
    Ok((field, direction))
}

/// Creates a service account.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/service-accounts", tag = "service accounts",
    request_body = CreateServiceAccount,
    params(AccountPath),
    security(("bearer" = [])),
    responses((status = 201, body = ServiceAccountBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn create_service_account(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: AccountPath,
    ApiJson(body): ApiJson<CreateServiceAccount>,
) -> ApiResult<(StatusCode, Json<ServiceAccountBody>)> {
    let account = path.account_id;
    let new = NewServiceAccount {
        name: body.name,
        description: body.description,
        active: body.active,
        metadata: body.metadata,
        limits: usage_limits::settings(&body.rate_limits, body.remaining.as_ref(), &[], &[])?,
    };
    let sa = state.run(move |kw| kw.create_service_account(&p, account, new)).await?;
    Ok((StatusCode::CREATED, Json(sa.into())))
}

/// Lists service accounts.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts", tag = "service accounts",
    params(AccountPath, ServiceAccountListParams),
    security(("bearer" = [])),
    responses((status = 200, body = ServiceAccountList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn list_service_accounts(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: AccountPath,
    ApiQuery(q): ApiQuery<ServiceAccountListParams>,
) -> ApiResult<Json<ServiceAccountList>> {
    let account = path.account_id;
    let name = q.name.as_deref().map(|n| Name::parse(n, "name")).transpose()?;
    let active = parse_bool(q.active.as_deref(), "active")?;
    let (sort, direction) = parse_sort(q.sort.as_deref())?;
    let list = format!(
        "/v1/accounts/{account}/service-accounts?name={:?}&active={active:?}&sort={sort:?}{direction:?}",
        q.name
    );
    let page = page_request(&state, &list, q.limit.as_deref(), q.cursor.as_deref())?;
    let query = ServiceAccountQuery { name, active, sort, direction, page };
    let result = state.run(move |kw| kw.list_service_accounts(&p, account, &query)).await?;
    let next_cursor = next_cursor(&state, &list, result.next.as_ref());
    Ok(Json(ServiceAccountList { items: result.items.into_iter().map(Into::into).collect(), next_cursor }))
}

/// One service account.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}", tag = "service accounts",
    params(ServiceAccountPath),
    security(("bearer" = [])),
    responses((status = 200, body = ServiceAccountBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn get_service_account(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ServiceAccountPath,
) -> ApiResult<Json<ServiceAccountBody>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let sa = state.run(move |kw| kw.get_service_account(&p, account, sa)).await?;
    Ok(Json(sa.into()))
}

/// Changes a service account. A caller cannot disable its own service account.
#[utoipa::path(patch, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}", tag = "service accounts",
    request_body = UpdateServiceAccount,
    params(ServiceAccountPath),
    security(("bearer" = [])),
    responses((status = 200, body = ServiceAccountBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn update_service_account(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ServiceAccountPath,
    ApiJson(body): ApiJson<UpdateServiceAccount>,
) -> ApiResult<Json<ServiceAccountBody>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let changes = ServiceAccountChanges {
        name: body.name,
        description: body.description,
        active: body.active,
        metadata: body.metadata,
        rate_limits: body.rate_limits.as_deref().map(usage_limits::rate_limits).transpose()?,
        remaining: body.remaining.map(|r| r.as_ref().map(usage_limits::remaining).transpose()).transpose()?,
    };
    let sa = state.run(move |kw| kw.update_service_account(&p, account, sa, changes)).await?;
    Ok(Json(sa.into()))
}

/// Deletes a service account and all its credentials. A caller cannot delete its own.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}", tag = "service accounts",
    params(ServiceAccountPath),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn delete_service_account(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ServiceAccountPath,
) -> ApiResult<StatusCode> {
    let (account, sa) = (path.account_id, path.service_account_id);
    state.run(move |kw| kw.delete_service_account(&p, account, sa)).await?;
    Ok(StatusCode::NO_CONTENT)
}
