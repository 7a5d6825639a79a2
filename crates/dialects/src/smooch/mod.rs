//! The Smooch / Sunshine Conversations `ServiceAccountApi` dialect (`/v1.1/serviceaccounts`): a
//! Smooch service account is a Keyward service account, a Smooch secret key a Keyward secret key
//! (`_id` = its id, `secret` = its `kw_sk_...` string).
//!
//! Clients authenticate as Smooch's do: HTTP Basic with a secret key's id and secret, or
//! `Authorization: Bearer <JWT>` signed HS256 with the secret, `kid` = the key's id and
//! `scope: "account"` (all the key's scopes; here it may carry no `exp`, as Smooch's do). Errors
//! are `{"error": {"code": "…", "description": "…"}}`.

mod keys;
mod service_accounts;
mod wire;

use axum::Json;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use domain::jwt::claims::JwtLifetime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Dialect, Presented, authorization, basic};
use web::state::AppState;

pub use wire::{
    Jwt, Key, KeyBody, KeyList, NewKey, NewServiceAccount, ServiceAccount, ServiceAccountBody, ServiceAccountList,
    SmoochError,
};

/// The Smooch dialect.
#[derive(Debug)]
pub struct Smooch;

impl Dialect for Smooch {
    const JWT_LIFETIME: JwtLifetime = JwtLifetime::AccountScopedUnbounded;

    fn credential(parts: &Parts) -> Option<Presented<'_>> {
        basic(parts).or_else(|| authorization(parts, "Bearer").map(Presented::Token))
    }

    fn error(status: StatusCode, message: String) -> Response {
        let code = match status.as_u16() {
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            409 => "conflict",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            429 => "too_many_requests",
            503 => "service_unavailable",
            _ => "internal_error",
        };
        let body = SmoochError { error: wire::ErrorBody { code: code.to_owned(), description: message } };
        (status, Json(body)).into_response()
    }
}

/// The tag of these routes in the OpenAPI document.
pub const TAG: &str = "dialect: Smooch service accounts";

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(service_accounts::create_service_account, service_accounts::list_service_accounts))
        .routes(routes!(
            service_accounts::get_service_account,
            service_accounts::update_service_account,
            service_accounts::delete_service_account
        ))
        .routes(routes!(keys::create_secret_key, keys::list_secret_keys))
        .routes(routes!(keys::get_secret_key, keys::delete_secret_key))
        .routes(routes!(keys::get_jwt))
}
