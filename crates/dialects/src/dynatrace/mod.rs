//! The Dynatrace API tokens v2 dialect (`/api/v2/apiTokens`): a Dynatrace token is a Keyward API
//! key, its `owner` the name of the key's service account.
//!
//! Clients present `Authorization: Api-Token <token>` (or `Bearer`); errors are
//! `{"error": {"code": <status>, "message": "…"}}`; times are ISO 8601 UTC with milliseconds.

mod list;
pub mod query;
mod tokens;
mod wire;

use axum::Json;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Dialect, Presented, authorization};
use web::error::ApiError;
use web::state::AppState;

pub use wire::{
    ApiToken, ApiTokenCreate, ApiTokenCreated, ApiTokenList, ApiTokenSecret, ApiTokenUpdate, DynatraceError,
};

/// The Dynatrace dialect.
#[derive(Debug)]
pub struct Dynatrace;

impl Dialect for Dynatrace {
    fn credential(parts: &Parts) -> Option<Presented<'_>> {
        authorization(parts, "Api-Token").or_else(|| authorization(parts, "Bearer")).map(Presented::Token)
    }

    fn error(status: StatusCode, message: String) -> Response {
        let body = DynatraceError { error: wire::ErrorBody { code: status.as_u16(), message } };
        (status, Json(body)).into_response()
    }

    /// Dynatrace answers a token deleting or disabling itself with 400.
    fn status(e: &ApiError) -> StatusCode {
        if e.code() == "own_credential" { StatusCode::BAD_REQUEST } else { e.status() }
    }
}

/// The tag of these routes in the OpenAPI document.
pub const TAG: &str = "dialect: Dynatrace API tokens v2";

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tokens::create_api_token, list::list_api_tokens))
        .routes(routes!(tokens::get_api_token, tokens::update_api_token, tokens::delete_api_token))
        .routes(routes!(tokens::lookup_api_token))
}
