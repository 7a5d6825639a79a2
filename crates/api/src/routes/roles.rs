//! `/v1/accounts/{account_id}/roles`: named sets of permissions that API keys hold by name.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::limits::{Role, RoleName};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::usage_limits;
use web::error::{ApiResult, Problem};
use web::extract::{AccountPath, ApiJson, Caller, RolePath};
use web::state::AppState;

/// A role: permissions that every API key naming it in `roles` holds too.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleBody {
    /// Its name, unique in the account.
    pub name: String,
    /// What it grants.
    pub permissions: Vec<String>,
    /// When it was created.
    #[serde(serialize_with = "web::answer::time")]
    pub created_at: DateTime<Utc>,
    /// When its permissions last changed.
    #[serde(serialize_with = "web::answer::time")]
    pub updated_at: DateTime<Utc>,
}

impl From<Role> for RoleBody {
    fn from(r: Role) -> Self {
        Self {
            name: r.name.as_str().to_owned(),
            permissions: r.permissions.iter().map(|p| p.as_str().to_owned()).collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// An account's roles, by name (at most 100).
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    /// The roles.
    pub items: Vec<RoleBody>,
}

/// A new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// 1 to 64 characters from `[A-Za-z0-9._:-]`, unique in the account.
    #[schema(value_type = web::schema::LimitNameText, example = "documents.editor")]
    pub name: String,
    /// What it grants, at most 100.
    #[serde(default)]
    #[schema(value_type = Vec<web::schema::PermissionText>, max_items = 100)]
    pub permissions: Vec<String>,
}

/// A role's new permissions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    /// What it grants from now on, replacing what it granted; at most 100.
    #[schema(value_type = Vec<web::schema::PermissionText>, max_items = 100)]
    pub permissions: Vec<String>,
}

/// Creates a role. Needs `api-keys:write`. A key naming it holds its permissions at once, on every
/// node.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/roles", tag = "roles", request_body = CreateRole,
    params(AccountPath),
    security(("bearer" = [])),
    responses((status = 201, body = RoleBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn create_role(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: AccountPath,
    ApiJson(body): ApiJson<CreateRole>,
) -> ApiResult<(StatusCode, Json<RoleBody>)> {
    let account = path.account_id;
    let name = RoleName::parse(&body.name, "name")?;
    let permissions = usage_limits::permissions(&body.permissions)?;
    let role = state.run(move |kw| kw.create_role(&p, account, name, permissions)).await?;
    Ok((StatusCode::CREATED, Json(role.into())))
}

/// Lists an account's roles, by name. Needs `api-keys:read`.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/roles", tag = "roles",
    params(AccountPath),
    security(("bearer" = [])),
    responses((status = 200, body = RoleList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn list_roles(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: AccountPath,
) -> ApiResult<Json<RoleList>> {
    let account = path.account_id;
    let roles = state.run(move |kw| kw.list_roles(&p, account)).await?;
    Ok(Json(RoleList { items: roles.into_iter().map(Into::into).collect() }))
}

/// One role. Needs `api-keys:read`.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/roles/{role_name}", tag = "roles",
    params(RolePath),
    security(("bearer" = [])),
    responses((status = 200, body = RoleBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn get_role(State(state): State<AppState>, Caller(p): Caller, path: RolePath) -> ApiResult<Json<RoleBody>> {
    let RolePath { account_id, role_name } = path;
    let role = state.run(move |kw| kw.get_role(&p, account_id, &role_name)).await?;
    Ok(Json(role.into()))
}

/// Replaces a role's permissions; every key naming it holds the new ones at once. Needs
/// `api-keys:write`.
#[utoipa::path(patch, path = "/v1/accounts/{account_id}/roles/{role_name}", tag = "roles", request_body = UpdateRole,
    params(RolePath),
    security(("bearer" = [])),
    responses((status = 200, body = RoleBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn update_role(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: RolePath,
    ApiJson(body): ApiJson<UpdateRole>,
) -> ApiResult<Json<RoleBody>> {
    let RolePath { account_id, role_name } = path;
    let permissions = usage_limits::permissions(&body.permissions)?;
    let role = state.run(move |kw| kw.update_role(&p, account_id, &role_name, permissions)).await?;
    Ok(Json(role.into()))
}

/// Deletes a role; keys naming it hold its permissions no more (the name stays on them, and
/// grants again if a role of that name is created). Needs `api-keys:write`.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/roles/{role_name}", tag = "roles",
    params(RolePath),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn delete_role(State(state): State<AppState>, Caller(p): Caller, path: RolePath) -> ApiResult<StatusCode> {
    let RolePath { account_id, role_name } = path;
    state.run(move |kw| kw.delete_role(&p, account_id, &role_name)).await?;
    Ok(StatusCode::NO_CONTENT)
}
