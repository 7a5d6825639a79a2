//! `/api/v2/apitoken`: the tokens of a service account, of the caller's own service account, and
//! of the whole account ("customer").

use axum::extract::State;
use domain::api_key::ApiKeyChanges;
use domain::principal::Principal;
use domain::repository::{KeyForAuth, KeyRef};
use domain::service::Keyward;
use domain::service_account::ServiceAccount;
use domain::text::Name;

use super::wire::{ApiTokenModel, Envelope, UserApiToken, UserApiTokenBody, Wavefront as Answer};
use super::{TAG, Wavefront, service_account, tokens_of};
use crate::{DialectCaller, DialectResult, OptionalJson, Path, key_id};
use web::error::ApiError;
use web::state::AppState;

type Caller = DialectCaller<Wavefront>;
type Result<T> = DialectResult<Answer<T>, Wavefront>;
type Body = OptionalJson<Wavefront, UserApiTokenBody>;
type DomainResult<T> = std::result::Result<T, domain::Error>;

/// The caller's own service account.
fn own(kw: &Keyward, p: &Principal) -> DomainResult<ServiceAccount> {
    kw.own_service_account(p)
}

/// A name for a token generated without one: unique per service account to the microsecond.
fn generated_name(kw: &Keyward) -> DomainResult<Name> {
    Ok(Name::parse(&kw.now().format("token-%Y%m%dT%H%M%S%.6fZ").to_string(), "tokenName")?)
}

/// Generates a token for `sa` named `name` (or a generated name) and answers all its tokens, the
/// new one last.
fn generate(kw: &Keyward, p: &Principal, sa: &ServiceAccount, name: Option<String>) -> DomainResult<Vec<UserApiToken>> {
    let name = match name.filter(|n| !n.is_empty()) {
        Some(n) => Name::parse(&n, "tokenName")?,
        None => generated_name(kw)?,
    };
    kw.create_inheriting_api_key(p, p.account_id, sa.id, name, domain::text::Description::default(), true)?;
    tokens_of(kw, p, sa)
}

/// Renames the token `token` of `sa` and answers it.
fn rename(
    kw: &Keyward,
    p: &Principal,
    sa: &ServiceAccount,
    token: &str,
    name: Option<String>,
) -> DomainResult<UserApiToken> {
    let id = key_id(token, "token").map_err(|e| not_a_token(e, "token"))?;
    let name = Name::parse(name.as_deref().unwrap_or(""), "tokenName")?;
    let changes = ApiKeyChanges { name: Some(name), ..Default::default() };
    let key = kw.update_key(p, p.account_id, sa.id, &KeyRef::Id(id), changes)?;
    let tokens = tokens_of(kw, p, sa)?;
    let key_id = key.id.to_string();
    let found = tokens.into_iter().find(|t| t.token_id == key_id || key_id_of(&t.token_id) == Some(key.id));
    found.ok_or(domain::Error::NotFound(domain::error::Entity::ApiKey))
}

/// Says "not a token" for what is neither a token nor an id; keeps "not found" for a token-shaped
/// string that names no key.
fn not_a_token(e: domain::Error, field: &str) -> domain::Error {
    match e {
        domain::Error::Validation(_) => domain::ValidationError::new(field, "is not a token or a token id").into(),
        other => other,
    }
}

/// The key id inside a `tokenID`.
fn key_id_of(token: &str) -> Option<domain::id::ApiKeyId> {
    key_id(token, "token").ok()
}

/// Deletes the token `token` of `sa` and answers the tokens left.
fn delete(kw: &Keyward, p: &Principal, sa: &ServiceAccount, token: &str) -> DomainResult<Vec<UserApiToken>> {
    let id = key_id(token, "token").map_err(|e| not_a_token(e, "token"))?;
    kw.delete_key(p, p.account_id, sa.id, &KeyRef::Id(id))?;
    tokens_of(kw, p, sa)
}

/// Generates a token for a service account; its scopes are the caller's own (never more).
#[utoipa::path(post, path = "/api/v2/apitoken/serviceaccount/{id}", tag = TAG, request_body(content = Option<UserApiTokenBody>),
    params(("id" = web::schema::NameText, Path, description = "The service account's identifier, such as `sa::ci`")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<Vec<UserApiToken>>, description = "All the service account's tokens, the new one last."),
              (status = "4XX", body = Envelope<String>, description = "Refused, or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn generate_token_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Wavefront, String>,
    OptionalJson(body, _): Body,
) -> Result<Vec<UserApiToken>> {
    let name = body.and_then(|b| b.token_name);
    Ok(Answer(state.run(move |kw| generate(kw, &p, &service_account(kw, &p, &id)?, name)).await?))
}

/// The tokens of a service account.
#[utoipa::path(get, path = "/api/v2/apitoken/serviceaccount/{id}", tag = TAG,
    params(("id" = web::schema::NameText, Path, description = "The service account's identifier, such as `sa::ci`")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<Vec<UserApiToken>>, description = "Its tokens, oldest first."),
              (status = "4XX", body = Envelope<String>, description = "Refused, or no such service account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn get_tokens_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Wavefront, String>,
) -> Result<Vec<UserApiToken>> {
    Ok(Answer(state.run(move |kw| tokens_of(kw, &p, &service_account(kw, &p, &id)?)).await?))
}

/// Renames a token of a service account.
#[utoipa::path(put, path = "/api/v2/apitoken/serviceaccount/{id}/{token}", tag = TAG, request_body = super::wire::UserApiTokenRename,
    params(("id" = web::schema::NameText, Path, description = "The service account's identifier"),
           ("token" = web::schema::IdOrToken, Path, description = "The token, or its id")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<UserApiToken>, description = "The renamed token."),
              (status = "4XX", body = Envelope<String>, description = "Refused, or no such token (404).")))]
#[tracing::instrument(skip_all)]
pub async fn update_token_name_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path((id, token), _): Path<Wavefront, (String, String)>,
    OptionalJson(body, _): Body,
) -> Result<UserApiToken> {
    let name = body.and_then(|b| b.token_name);
    Ok(Answer(state.run(move |kw| rename(kw, &p, &service_account(kw, &p, &id)?, &token, name)).await?))
}

/// Deletes a token of a service account. A token cannot delete itself.
#[utoipa::path(delete, path = "/api/v2/apitoken/serviceaccount/{id}/{token}", tag = TAG,
    params(("id" = web::schema::NameText, Path, description = "The service account's identifier"),
           ("token" = web::schema::IdOrToken, Path, description = "The token, or its id")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<Vec<UserApiToken>>, description = "The tokens left."),
              (status = "4XX", body = Envelope<String>, description = "Refused (409 for the token making the request), or no such token (404).")))]
#[tracing::instrument(skip_all)]
pub async fn delete_token_service_account(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path((id, token), _): Path<Wavefront, (String, String)>,
    OptionalJson(_, _): OptionalJson<Wavefront, serde_json::Value>,
) -> Result<Vec<UserApiToken>> {
    Ok(Answer(state.run(move |kw| delete(kw, &p, &service_account(kw, &p, &id)?, &token)).await?))
}

/// Generates a token for the caller's own service account.
#[utoipa::path(post, path = "/api/v2/apitoken", tag = TAG, request_body(content = Option<UserApiTokenBody>),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<Vec<UserApiToken>>, description = "All the caller's service account's tokens, the new one last."),
              (status = "4XX", body = Envelope<String>, description = "Refused: no or a bad token (401), a missing scope (403).")))]
#[tracing::instrument(skip_all)]
pub async fn create_token(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    OptionalJson(body, _): Body,
) -> Result<Vec<UserApiToken>> {
    let name = body.and_then(|b| b.token_name);
    Ok(Answer(state.run(move |kw| generate(kw, &p, &own(kw, &p)?, name)).await?))
}

/// The tokens of the caller's own service account.
#[utoipa::path(get, path = "/api/v2/apitoken", tag = TAG,
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<Vec<UserApiToken>>, description = "The caller's service account's tokens, oldest first."),
              (status = "4XX", body = Envelope<String>, description = "Refused: no or a bad token (401), a missing scope (403).")))]
#[tracing::instrument(skip_all)]
pub async fn get_all_tokens(State(state): State<AppState>, DialectCaller(p, _): Caller) -> Result<Vec<UserApiToken>> {
    Ok(Answer(state.run(move |kw| tokens_of(kw, &p, &own(kw, &p)?)).await?))
}

/// Renames a token of the caller's own service account.
#[utoipa::path(put, path = "/api/v2/apitoken/{id}", tag = TAG, request_body = super::wire::UserApiTokenRename,
    params(("id" = web::schema::IdOrToken, Path, description = "The token, or its id")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<UserApiToken>, description = "The renamed token."),
              (status = "4XX", body = Envelope<String>, description = "Refused, or no such token (404).")))]
#[tracing::instrument(skip_all)]
pub async fn update_token_name(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Wavefront, String>,
    OptionalJson(body, _): Body,
) -> Result<UserApiToken> {
    let name = body.and_then(|b| b.token_name);
    Ok(Answer(state.run(move |kw| rename(kw, &p, &own(kw, &p)?, &id, name)).await?))
}

/// Deletes a token of the caller's own service account. A token cannot delete itself.
#[utoipa::path(delete, path = "/api/v2/apitoken/{id}", tag = TAG,
    params(("id" = web::schema::IdOrToken, Path, description = "The token, or its id")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<Vec<UserApiToken>>, description = "The tokens left."),
              (status = "4XX", body = Envelope<String>, description = "Refused (409 for the token making the request), or no such token (404).")))]
#[tracing::instrument(skip_all)]
pub async fn delete_token(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Wavefront, String>,
    OptionalJson(_, _): OptionalJson<Wavefront, serde_json::Value>,
) -> Result<Vec<UserApiToken>> {
    Ok(Answer(state.run(move |kw| delete(kw, &p, &own(kw, &p)?, &id)).await?))
}

/// Every token of the account, with its owner.
fn customer_tokens(kw: &Keyward, p: &Principal) -> DomainResult<Vec<ApiTokenModel>> {
    let keys = kw.list_api_keys_with_secrets(p, p.account_id, None)?;
    let owners = kw.key_owners(p, p.account_id, &keys.iter().map(|(k, _)| k).collect::<Vec<_>>())?;
    Ok(keys
        .iter()
        .filter_map(|(k, secret)| {
            let owner = owners.iter().find(|sa| sa.id == k.service_account_id)?;
            Some(ApiTokenModel::new(k, secret.as_ref(), owner))
        })
        .collect())
}

/// The one token of the account `token` names, with its owner, and its retrievable secret.
fn customer_token(
    kw: &Keyward,
    p: &Principal,
    token: &str,
    field: &str,
) -> DomainResult<(KeyForAuth, Option<domain::secret::SecretString>)> {
    let id = key_id(token, field).map_err(|e| not_a_token(e, field))?;
    let found = kw.api_key_with_owner(p, p.account_id, id)?;
    // One key's sealed secret, not its service account's whole list.
    let secret = kw.reveal_api_key_secret(p, p.account_id, &found.key)?;
    Ok((found, secret))
}

/// Every token of the caller's account ("customer").
#[utoipa::path(get, path = "/api/v2/apitoken/customertokens", tag = TAG,
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<Vec<ApiTokenModel>>, description = "The account's tokens."),
              (status = "4XX", body = Envelope<String>, description = "Refused: no or a bad token (401), a missing scope (403).")))]
#[tracing::instrument(skip_all)]
pub async fn get_customer_tokens(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
) -> Result<Vec<ApiTokenModel>> {
    Ok(Answer(state.run(move |kw| customer_tokens(kw, &p)).await?))
}

/// One token of the caller's account.
#[utoipa::path(get, path = "/api/v2/apitoken/customertokens/{id}", tag = TAG,
    params(("id" = web::schema::IdOrToken, Path, description = "The token, or its id")),
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<ApiTokenModel>, description = "The token."),
              (status = "4XX", body = Envelope<String>, description = "Refused, or no such token in the caller's account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn get_customer_token(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    Path(id, _): Path<Wavefront, String>,
) -> Result<ApiTokenModel> {
    // From the authentication cache when the token is there, on the event loop.
    let kw = state.keyward();
    if let Ok(key) = key_id(&id, "id")
        && let Some(found) = kw.api_key_with_owner_from_memory(&p, p.account_id, key)
    {
        let found = found.map_err(ApiError::from)?;
        let secret = kw.reveal_api_key_secret(&p, p.account_id, &found.key).map_err(ApiError::from)?;
        return Ok(Answer(ApiTokenModel::new(&found.key, secret.as_ref(), &found)));
    }
    let model = state
        .run(move |kw| customer_token(kw, &p, &id, "id").map(|(f, s)| ApiTokenModel::new(&f.key, s.as_ref(), &f)))
        .await?;
    Ok(Answer(model))
}

/// Revokes (deletes) any token of the caller's account, named by `tokenID`.
#[utoipa::path(put, path = "/api/v2/apitoken/customertokens/revoke", tag = TAG, request_body = super::wire::UserApiTokenRevoke,
    security(("x_auth_token" = []), ("bearer" = [])),
    responses((status = 200, body = Envelope<UserApiToken>, description = "The revoked token, as it was."),
              (status = "4XX", body = Envelope<String>, description = "Refused (409 for the token making the request), or no such token (404).")))]
#[tracing::instrument(skip_all)]
pub async fn delete_customer_token(
    State(state): State<AppState>,
    DialectCaller(p, _): Caller,
    OptionalJson(body, _): Body,
) -> Result<UserApiToken> {
    let token =
        body.and_then(|b| b.token_id).ok_or_else(|| ApiError::validation("tokenID", "name the token to revoke"))?;
    let revoked = state
        .run(move |kw| {
            let (found, secret) = customer_token(kw, &p, &token, "tokenID")?;
            let key = &found.key;
            kw.delete_key(&p, p.account_id, key.service_account_id, &KeyRef::Id(key.id))?;
            Ok(UserApiToken::new(key, secret.as_ref(), &found))
        })
        .await?;
    Ok(Answer(revoked))
}
