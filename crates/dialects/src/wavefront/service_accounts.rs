//! `/api/v2/account/serviceaccount`: Wavefront's service accounts, which a client makes before it
//! can generate tokens for them.

use axum::extract::State;
use domain::principal::Principal;
use domain::service::Keyward;
use domain::service_account::{NewServiceAccount, ServiceAccountChanges};
use domain::text::{Description, Metadata, Name};

use super::wire::{Account, Envelope, ServiceAccount, ServiceAccountWrite, Wavefront as Answer};
use super::{TAG, Wavefront, service_account, tokens_of};
use crate::{DialectCaller, DialectResult, Json, OptionalJson, Path};
use web::error::ApiError;
use web::state::AppState;

type Caller = DialectCaller<Wavefront>;
type Result<T> = DialectResult<Answer<T>, Wavefront>;

/// The Wavefront view of a Keyward service account, with its tokens.
fn view(
    kw: &Keyward,
    p: &Principal,
    sa: &domain::service_account::ServiceAccount,
) -> std::result::Result<ServiceAccount, domain::Error> {
    Ok(ServiceAccount::new(sa, tokens_of(kw, p, sa)?))
}

/// Creates a service account in the caller's account.
#[utoipa::path(post, path = "/api/v2/account/serviceaccount", tag = TAG, request_body = ServiceAccountWrite,
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<ServiceAccount>, description = "The new service account."),
              (status = "4XX", body = Envelope<String>, description = "Refused: bad input (400), no or a bad token (401), a missing scope (403), a taken identifier (409).")))]
#[tracing::instrument(skip_all)]
pub async fn create_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Json(body, _): Json<Wavefront, ServiceAccountWrite>,
) -> Result<ServiceAccount> {
    if !body.tokens.is_empty() {
        return Err(
            ApiError::validation("tokens", "tokens are generated for a service account, not attached to it").into()
        );
    }
    let new = NewServiceAccount {
        name: Name::parse(&body.identifier, "identifier")?,
        description: Description::parse(body.description.as_deref().unwrap_or(""), "description")?,
        active: body.active.unwrap_or(true),
        metadata: Metadata::default(),
        limits: Default::default(),
    };
    let sa = state
        .run(move |kw| kw.create_service_account(&p, p.account_id, new).map(|sa| ServiceAccount::new(&sa, Vec::new())))
        .await?;
    Ok(Answer(sa))
}

/// Every service account of the caller's account, with their tokens.
#[utoipa::path(get, path = "/api/v2/account/serviceaccount", tag = TAG,
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<Vec<ServiceAccount>>, description = "The service accounts, oldest first."),
              (status = "4XX", body = Envelope<String>, description = "Refused: no or a bad token (401), a missing scope (403).")))]
#[tracing::instrument(skip_all)]
pub async fn list_service_accounts(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
) -> Result<Vec<ServiceAccount>> {
    let all = state
        .run(move |kw| kw.all_service_accounts(&p, p.account_id)?.iter().map(|sa| view(kw, &p, sa)).collect())
        .await?;
    Ok(Answer(all))
}

/// One service account, by identifier.
#[utoipa::path(get, path = "/api/v2/account/serviceaccount/{id}", tag = TAG,
    params(("id" = web::schema::NameText, Path, description = "The identifier, such as `sa::ci`")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<ServiceAccount>, description = "The service account."),
              (status = "4XX", body = Envelope<String>, description = "Refused, or no such service account in the caller's account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn get_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Wavefront, String>,
) -> Result<ServiceAccount> {
    Ok(Answer(state.run(move |kw| view(kw, &p, &service_account(kw, &p, &id)?)).await?))
}

/// Applies `changes` to the service account `id` names and answers its new view.
async fn change(state: &AppState, p: Principal, id: String, changes: ServiceAccountChanges) -> Result<ServiceAccount> {
    let sa = state
        .run(move |kw| {
            let sa = service_account(kw, &p, &id)?;
            let sa = kw.update_service_account(&p, p.account_id, sa.id, changes)?;
            view(kw, &p, &sa)
        })
        .await?;
    Ok(Answer(sa))
}

/// Changes a service account's identifier, description or state.
#[utoipa::path(put, path = "/api/v2/account/serviceaccount/{id}", tag = TAG, request_body = ServiceAccountWrite,
    params(("id" = web::schema::NameText, Path, description = "The identifier, such as `sa::ci`")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<ServiceAccount>, description = "The changed service account."),
              (status = "4XX", body = Envelope<String>, description = "Refused, or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn update_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Wavefront, String>,
    Json(body, _): Json<Wavefront, ServiceAccountWrite>,
) -> Result<ServiceAccount> {
    if !body.tokens.is_empty() {
        return Err(
            ApiError::validation("tokens", "tokens are generated for a service account, not attached to it").into()
        );
    }
    let changes = ServiceAccountChanges {
        name: Some(Name::parse(&body.identifier, "identifier")?),
        description: body.description.as_deref().map(|d| Description::parse(d, "description")).transpose()?,
        active: body.active,
        metadata: None,
        ..ServiceAccountChanges::default()
    };
    change(&state, p, id, changes).await
}

/// Activates a service account: its tokens work again.
#[utoipa::path(post, path = "/api/v2/account/serviceaccount/{id}/activate", tag = TAG,
    params(("id" = web::schema::NameText, Path, description = "The identifier, such as `sa::ci`")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<ServiceAccount>, description = "The service account, active."),
              (status = "4XX", body = Envelope<String>, description = "Refused, or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn activate_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Wavefront, String>,
    OptionalJson(_, _): OptionalJson<Wavefront, serde_json::Value>,
) -> Result<ServiceAccount> {
    change(&state, p, id, ServiceAccountChanges { active: Some(true), ..Default::default() }).await
}

/// Deactivates a service account: its tokens stop working at once.
#[utoipa::path(post, path = "/api/v2/account/serviceaccount/{id}/deactivate", tag = TAG,
    params(("id" = web::schema::NameText, Path, description = "The identifier, such as `sa::ci`")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<ServiceAccount>, description = "The service account, inactive."),
              (status = "4XX", body = Envelope<String>, description = "Refused (409 for the caller's own service account), or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn deactivate_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Wavefront, String>,
    OptionalJson(_, _): OptionalJson<Wavefront, serde_json::Value>,
) -> Result<ServiceAccount> {
    change(&state, p, id, ServiceAccountChanges { active: Some(false), ..Default::default() }).await
}

/// Deletes a service account and its tokens.
#[utoipa::path(delete, path = "/api/v2/account/{id}", tag = TAG,
    params(("id" = web::schema::NameText, Path, description = "The identifier, such as `sa::ci`")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<Account>, description = "The deleted account."),
              (status = "4XX", body = Envelope<String>, description = "Refused (409 for the caller's own service account), or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn delete_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Wavefront, String>,
    OptionalJson(_, _): OptionalJson<Wavefront, serde_json::Value>,
) -> Result<Account> {
    let identifier = state
        .run(move |kw| {
            let sa = service_account(kw, &p, &id)?;
            kw.delete_service_account(&p, p.account_id, sa.id)?;
            Ok(sa.name.as_str().to_owned())
        })
        .await?;
    Ok(Answer(Account { identifier, groups: Vec::new(), roles: Vec::new() }))
}
