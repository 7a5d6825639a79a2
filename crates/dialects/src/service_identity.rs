//! The Service Identity dialect: a service identity is a Keyward service account with one secret
//! key; its `client_id` is the key's id and its `client_token` the key's `kw_sk_...` secret, which
//! `POST /service-identity/generate-token` exchanges for a Keyward access token.
//!
//! The two management calls authenticate with a Keyward credential (`Authorization: Bearer` or
//! `X-API-Key`); errors are `{"error": "…"}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::id::{AccountId, ServiceAccountId};
use domain::service::{AccessToken, IssuedSecretKey, OAuthError, TokenTerms};
use domain::service_account::ServiceAccount;
use domain::text::{Description, Name};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Dialect, DialectCaller, DialectResult, Presented, authorization};
use web::error::ApiError;
use web::extract::{client_ip, refused};
use web::state::AppState;

/// The Service Identity dialect.
#[derive(Debug)]
pub struct ServiceIdentity;

impl Dialect for ServiceIdentity {
    fn credential(parts: &Parts) -> Option<Presented<'_>> {
        let api_key = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim);
        authorization(parts, "Bearer").or(api_key).map(Presented::Token)
    }

    fn error(status: StatusCode, message: String) -> Response {
        (status, Json(ErrorBody { error: message })).into_response()
    }
}

/// The tag of these routes in the OpenAPI document.
pub const TAG: &str = "dialect: Service Identity";

type Result<T> = DialectResult<T, ServiceIdentity>;

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_service_identity))
        .routes(routes!(regenerate_service_identity))
        .routes(routes!(generate_token))
}

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = service_identity::ErrorBody)]
pub struct ErrorBody {
    /// What went wrong; never contains a secret.
    pub error: String,
}

/// A service identity to create.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = service_identity::ServiceIdentityRequest)]
#[serde(deny_unknown_fields)]
pub struct ServiceIdentityRequest {
    /// Its name, unique in the account.
    #[schema(value_type = web::schema::NameText)]
    pub name: String,
    /// A description.
    #[schema(value_type = Option<web::schema::DescriptionText>)]
    pub description: Option<String>,
}

/// A service identity with its credentials: the only answers that hold `client_token`.
#[derive(Serialize, ToSchema)]
#[schema(as = service_identity::ServiceIdentityWithToken)]
pub struct ServiceIdentityWithToken {
    /// The service identity's id: the Keyward service account's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The account it belongs to.
    pub account_id: String,
    /// The OAuth 2.0 client id: the secret key's id.
    pub client_id: String,
    /// The client token: the secret key's `kw_sk_...` secret, shown only here.
    pub client_token: String,
    /// When the service identity was created.
    pub created_at: DateTime<Utc>,
}

impl ServiceIdentityWithToken {
    fn new(sa: ServiceAccount, issued: IssuedSecretKey) -> Self {
        Self {
            id: sa.id.to_string(),
            name: sa.name.into(),
            account_id: sa.account_id.to_string(),
            client_id: issued.key.id.to_string(),
            client_token: issued.secret.expose().to_owned(),
            created_at: sa.created_at,
        }
    }
}

/// Creates a service identity: a service account with one secret key, whose scopes are the
/// caller's own (never more).
#[utoipa::path(post, path = "/api/accounts/{id}/service-identity", tag = TAG, request_body = ServiceIdentityRequest,
    params(("id" = web::schema::Id, Path, description = "The account's id")),
    security(("bearer" = []), ("x_api_key" = [])),
    responses((status = 201, body = ServiceIdentityWithToken, description = "The new identity, with its client token: shown only here."),
              (status = "4XX", body = ErrorBody, description = "Refused: bad input (400), no or a bad credential (401), a missing scope (403), another account (404), a taken name (409).")))]
#[tracing::instrument(skip_all)]
pub async fn create_service_identity(
    State(state): State<AppState>,
    DialectCaller(p, _): DialectCaller<ServiceIdentity>,
    super::Path(account, _): super::Path<ServiceIdentity, String>,
    super::Json(body, _): super::Json<ServiceIdentity, ServiceIdentityRequest>,
) -> Result<(StatusCode, Json<ServiceIdentityWithToken>)> {
    let account = AccountId::parse(&account, "id")?;
    let name = Name::parse(&body.name, "name")?;
    let description = Description::parse(body.description.as_deref().unwrap_or(""), "description")?;
    let (sa, issued) = state.run(move |kw| kw.create_service_identity(&p, account, name, description)).await?;
    Ok((StatusCode::CREATED, Json(ServiceIdentityWithToken::new(sa, issued))))
}

/// Gives a service identity a new client token; the old one stops working at once.
#[utoipa::path(get, path = "/api/accounts/service-identity:regenerate/{id}", tag = TAG,
    params(("id" = web::schema::Id, Path, description = "The service identity's id")),
    security(("bearer" = []), ("x_api_key" = [])),
    responses((status = 200, body = ServiceIdentityWithToken, description = "The identity, with its new client token: shown only here."),
              (status = "4XX", body = ErrorBody, description = "Refused, or no such identity in the caller's account (404).")))]
#[tracing::instrument(skip_all)]
pub async fn regenerate_service_identity(
    State(state): State<AppState>,
    DialectCaller(p, _): DialectCaller<ServiceIdentity>,
    super::Path(id, _): super::Path<ServiceIdentity, String>,
) -> Result<Json<ServiceIdentityWithToken>> {
    let id = ServiceAccountId::parse(&id, "id")?;
    let (sa, issued) = state.run(move |kw| kw.regenerate_service_identity(&p, p.account_id, id)).await?;
    Ok(Json(ServiceIdentityWithToken::new(sa, issued)))
}

/// Client credentials to exchange for a token.
#[derive(Deserialize, ToSchema)]
#[schema(as = service_identity::GenerateTokenRequest)]
#[serde(deny_unknown_fields)]
pub struct GenerateTokenRequest {
    /// The service identity's client id.
    pub client_id: String,
    /// Its client token.
    pub client_token: String,
}

/// A Keyward access token.
#[derive(Serialize, ToSchema)]
#[schema(as = service_identity::GenerateTokenResponse)]
pub struct GenerateTokenResponse {
    /// The access token: a JWT signed by Keyward's active signing key, verifiable from
    /// `/.well-known/jwks.json`, accepted as `Bearer` by Keyward's API.
    pub token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// Exchanges a client id and client token for an access token. Needs no other authentication;
/// wrong or regenerated credentials answer 401 and count toward the failed-authentication limiter.
#[utoipa::path(post, path = "/service-identity/generate-token", tag = TAG, request_body = GenerateTokenRequest,
    security(()),
    responses((status = 200, body = GenerateTokenResponse, description = "The access token."),
              (status = "4XX", body = ErrorBody, description = "Refused: bad input (400), wrong credentials (401), too many failures (429).")))]
#[tracing::instrument(skip_all)]
pub async fn generate_token(
    State(state): State<AppState>,
    parts: Parts,
    super::Json(body, _): super::Json<ServiceIdentity, GenerateTokenRequest>,
) -> Result<Json<GenerateTokenResponse>> {
    let ip = client_ip(&parts, &state);
    let GenerateTokenRequest { client_id, client_token } = body;
    let named = client_id.clone();
    let outcome = match state.keyward().client_credentials_from_memory(
        &client_id,
        &client_token,
        TokenTerms { ip, ..TokenTerms::default() },
    ) {
        Some(outcome) => outcome?,
        None => {
            state
                .run(move |kw| {
                    kw.client_credentials(&client_id, &client_token, TokenTerms { ip, ..TokenTerms::default() })
                })
                .await?
        }
    };
    match outcome {
        Ok(AccessToken { token, expires_in, .. }) => {
            web::metrics::token_issued("service-identity");
            Ok(Json(GenerateTokenResponse { token: token.expose().to_owned(), token_type: "Bearer", expires_in }))
        }
        Err(OAuthError::InvalidClient(_) | OAuthError::InvalidScope(_)) => {
            web::metrics::token_refused("service-identity", "invalid_client");
            let e = ApiError::unauthenticated("the client id or client token is not valid", true);
            Err(refused(&parts, &state, Some(&named), e).await.into())
        }
        // This dialect has no way to send a DPoP proof, so a key that requires one is refused.
        Err(OAuthError::DpopRequired) => {
            web::metrics::token_refused("service-identity", "invalid_dpop_proof");
            let why = "this client's tokens must be bound to its key (DPoP), and this API cannot carry a proof: \
                       use /oauth2/token with a DPoP header";
            Err(ApiError::unauthenticated(why, true).into())
        }
    }
}

crate::secret_debug!(ServiceIdentityWithToken, GenerateTokenRequest, GenerateTokenResponse);
