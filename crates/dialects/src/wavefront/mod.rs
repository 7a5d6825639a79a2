//! The Wavefront dialect: service accounts (`/api/v2/account/serviceaccount`) and their API tokens
//! (`/api/v2/apitoken`). A Wavefront service account is a Keyward service account whose name is
//! its identifier (`sa::ci`); a token is a Keyward API key.
//!
//! In Wavefront a token's id is the token: it is listed again and it authenticates. Tokens made
//! here keep that contract: their secret is also kept sealed under the master key, and the lists
//! show it to callers who may manage tokens. Keys made elsewhere are listed by their id. Clients
//! present `X-AUTH-TOKEN: <token>` (or `Authorization: Bearer`); every answer is the
//! `{"status": {"result", "message", "code"}, "response": …}` envelope, errors included.

mod service_accounts;
mod tokens;
mod wire;

use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use domain::principal::{Permission, Principal};
use domain::service::Keyward;
use domain::service_account::ServiceAccount;
use domain::text::Name;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Dialect, Presented, authorization};
use web::state::AppState;

pub use wire::{Account, ApiTokenModel, Envelope, Status, UserApiToken, UserApiTokenBody};

/// The Wavefront dialect.
#[derive(Debug)]
pub struct Wavefront;

impl Dialect for Wavefront {
    fn credential(parts: &Parts) -> Option<Presented<'_>> {
        let header = parts.headers.get("x-auth-token").and_then(|v| v.to_str().ok()).map(str::trim);
        header.or_else(|| authorization(parts, "Bearer")).map(Presented::Token)
    }

    fn error(status: StatusCode, message: String) -> Response {
        wire::error(status, message)
    }
}

/// The tag of these routes in the OpenAPI document.
pub const TAG: &str = "dialect: Wavefront API tokens";

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(service_accounts::create_service_account, service_accounts::list_service_accounts))
        .routes(routes!(service_accounts::get_service_account, service_accounts::update_service_account))
        .routes(routes!(service_accounts::activate_service_account))
        .routes(routes!(service_accounts::deactivate_service_account))
        .routes(routes!(service_accounts::delete_account))
        .routes(routes!(tokens::generate_token_service_account, tokens::get_tokens_service_account))
        .routes(routes!(tokens::update_token_name_service_account, tokens::delete_token_service_account))
        .routes(routes!(tokens::create_token, tokens::get_all_tokens))
        .routes(routes!(tokens::update_token_name, tokens::delete_token))
        .routes(routes!(tokens::get_customer_tokens))
        .routes(routes!(tokens::get_customer_token))
        .routes(routes!(tokens::delete_customer_token))
}

/// The service account a Wavefront identifier names, in the caller's account. A string that
/// cannot be a name (a UUID, say) names no service account.
fn service_account(kw: &Keyward, p: &Principal, identifier: &str) -> Result<ServiceAccount, domain::Error> {
    let name =
        Name::parse(identifier, "id").map_err(|_| domain::Error::NotFound(domain::error::Entity::ServiceAccount))?;
    kw.find_service_account(p, p.account_id, &name)
}

/// The tokens of `sa`, oldest first, as Wavefront lists them; none for a caller who may not read
/// tokens (it may still read the service account).
fn tokens_of(kw: &Keyward, p: &Principal, sa: &ServiceAccount) -> Result<Vec<UserApiToken>, domain::Error> {
    if !p.may(Permission::ApiKeysRead, p.account_id) {
        return Ok(Vec::new());
    }
    let keys = kw.list_api_keys_with_secrets(p, p.account_id, Some(sa.id))?;
    Ok(keys.iter().map(|(k, secret)| UserApiToken::new(k, secret.as_ref(), sa)).collect())
}
