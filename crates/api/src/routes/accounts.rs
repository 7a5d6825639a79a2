//! `/v1/accounts`: tenants.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::account::{Account, AccountChanges, NewAccount};
use domain::text::Name;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use web::error::{ApiResult, Problem};
use web::extract::{AccountPath, ApiJson, ApiQuery, Caller};
use web::list::{PageParams, list_body, next_cursor, page_request};
use web::state::AppState;

/// An account (tenant).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBody {
    /// Its id (UUIDv7).
    pub id: String,
    /// Its name, unique across Keyward.
    pub name: String,
    /// Whether this is the system account.
    pub system: bool,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it was last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<Account> for AccountBody {
    fn from(a: Account) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name.into(),
            system: a.system,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

list_body!(AccountList, AccountBody);

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// 1 to 100 characters, no control characters, unique across Keyward.
    #[schema(value_type = web::schema::NameText, example = "acme")]
    pub name: Name,
}

/// Changes to an account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    /// A new name.
    #[schema(value_type = Option<web::schema::NameText>)]
    pub name: Option<Name>,
}

/// Creates an account. System administrators only.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = CreateAccount,
    security(("bearer" = [])),
    responses((status = 201, body = AccountBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all)]
pub async fn create_account(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiJson(body): ApiJson<CreateAccount>,
) -> ApiResult<(StatusCode, Json<AccountBody>)> {
    let account = state.run(move |kw| kw.create_account(&p, NewAccount { name: body.name })).await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// Lists accounts in creation order. System administrators only.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", params(PageParams),
    security(("bearer" = [])),
    responses((status = 200, body = AccountList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all)]
pub async fn list_accounts(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<AccountList>> {
    let list = "/v1/accounts";
    let page = page_request(&state, list, q.limit.as_deref(), q.cursor.as_deref())?;
    let result = state.run(move |kw| kw.list_accounts(&p, &page)).await?;
    let next_cursor = next_cursor(&state, list, result.next.as_ref());
    Ok(Json(AccountList { items: result.items.into_iter().map(Into::into).collect(), next_cursor }))
}

/// One account: the caller's own, or any for a system administrator.
#[utoipa::path(get, path = "/v1/accounts/{account_id}", tag = "accounts",
    params(AccountPath),
    security(("bearer" = [])),
    responses((status = 200, body = AccountBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn get_account(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: AccountPath,
) -> ApiResult<Json<AccountBody>> {
    let id = path.account_id;
    let account = state.run(move |kw| kw.get_account(&p, id)).await?;
    Ok(Json(account.into()))
}

/// Renames an account. Needs `account:admin` in it.
#[utoipa::path(patch, path = "/v1/accounts/{account_id}", tag = "accounts", request_body = UpdateAccount,
    params(AccountPath),
    security(("bearer" = [])),
    responses((status = 200, body = AccountBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn update_account(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: AccountPath,
    ApiJson(body): ApiJson<UpdateAccount>,
) -> ApiResult<Json<AccountBody>> {
    let id = path.account_id;
    let account = state.run(move |kw| kw.update_account(&p, id, AccountChanges { name: body.name })).await?;
    Ok(Json(account.into()))
}

/// Deletes an account with all its service accounts and credentials. System administrators only;
/// the system account cannot be deleted. Its audit events are kept.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}", tag = "accounts",
    params(AccountPath),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn delete_account(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: AccountPath,
) -> ApiResult<StatusCode> {
    let id = path.account_id;
    state.run(move |kw| kw.delete_account(&p, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
