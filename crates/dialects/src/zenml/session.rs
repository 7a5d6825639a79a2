//! What ZenML's client asks before anything else: server info, login, and who it is.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use domain::service::AccessToken;
use serde_json::json;

use super::wire::{FULL_NAME, LoginForm, ServerInfo, TokenResponse, UserResponse, ZenmlError, time};
use super::{TAG, Zenml};
use crate::{DialectCaller, DialectResult};
use web::error::ApiError;
use web::extract::{client_ip, refused};
use web::limiter::named_credential;
use web::state::AppState;

type Result<T> = DialectResult<T, Zenml>;

/// The server model ZenML's client reads first: version and authentication scheme.
#[utoipa::path(get, path = "/api/v1/info", tag = TAG, security(()),
    responses((status = 200, body = ServerInfo, description = "The server."),
              (status = "5XX", body = ZenmlError, description = "Storage unavailable.")))]
#[tracing::instrument(skip_all)]
pub async fn info(State(state): State<AppState>) -> Result<Json<ServerInfo>> {
    let id = state.run(|kw| kw.deployment_id()).await?;
    Ok(Json(ServerInfo {
        id: id.to_string(),
        name: "keyward",
        version: env!("CARGO_PKG_VERSION"),
        active: true,
        debug: false,
        deployment_type: "other",
        database_type: "other",
        secrets_store_type: "none",
        auth_scheme: "OAUTH2_PASSWORD_BEARER",
        server_url: state.keyward().issuer().to_owned(),
        dashboard_url: String::new(),
        analytics_enabled: false,
        metadata: json!({}),
    }))
}

/// Logs in with an API key (`grant_type=zenml-api-key`, the key as `password`) for an access
/// token. Keyward has no users, so the password grant is refused. Failures count toward the
/// failed-authentication limiter.
#[utoipa::path(post, path = "/api/v1/login", tag = TAG, security(()),
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse, description = "A Keyward access token bound to the key."),
              (status = "4XX", body = ZenmlError, description = "A bad form (400), a bad or unusable key, or a password login (401), too many failures (429).")))]
#[tracing::instrument(skip_all)]
pub async fn login(State(state): State<AppState>, parts: Parts, body: Bytes) -> Result<Json<TokenResponse>> {
    let form: LoginForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::validation("body", format!("not a login form: {e}")))?;
    let key = match (form.grant_type.as_deref(), form.password) {
        (Some("zenml-api-key"), Some(key)) => key,
        (Some("zenml-api-key"), None) => {
            return Err(ApiError::validation("password", "give the API key as `password`").into());
        }
        _ => {
            let e = ApiError::unauthenticated(
                "Keyward has no users and no passwords: log in with an API key (`zenml login --api-key`)",
                false,
            );
            return Err(e.into());
        }
    };
    let ip = client_ip(&parts, &state);
    let named = named_credential(&key);
    let outcome = match state.keyward().login_with_api_key_from_memory(&key, ip) {
        Some(outcome) => outcome.map_err(ApiError::from)?,
        None => state.run(move |kw| kw.login_with_api_key(&key, ip)).await?,
    };
    match outcome {
        Ok(AccessToken { token, expires_in, .. }) => {
            web::metrics::token_issued("zenml-api-key");
            Ok(Json(TokenResponse { access_token: token.expose().to_owned(), token_type: "bearer", expires_in }))
        }
        Err(rejection) => {
            web::metrics::token_refused("zenml-api-key", "invalid_credentials");
            Err(refused(&parts, &state, named.as_deref(), ApiError::rejected(rejection)).await.into())
        }
    }
}

/// The caller: for a service account, its id and name, `is_service_account: true`.
#[utoipa::path(get, path = "/api/v1/current-user", tag = TAG, security(("bearer" = [])),
    responses((status = 200, body = UserResponse, description = "The caller's service account, as a ZenML user."),
              (status = "4XX", body = ZenmlError, description = "No or a bad token (401).")))]
#[tracing::instrument(skip_all)]
pub async fn current_user(
    State(state): State<AppState>,
    DialectCaller(p, _): DialectCaller<Zenml>,
) -> Result<Json<UserResponse>> {
    let admin = p.is_system_admin();
    let sa = state.run(move |kw| kw.own_service_account(&p)).await?;
    Ok(Json(UserResponse {
        id: sa.id.to_string(),
        name: sa.name.as_str().to_owned(),
        permission_denied: false,
        body: json!({
            "created": time(sa.created_at),
            "updated": time(sa.updated_at),
            "active": sa.active,
            "activation_token": null,
            "full_name": sa.metadata.entries().get(FULL_NAME).cloned().unwrap_or_default(),
            "email_opted_in": null,
            "is_service_account": true,
            "is_admin": admin,
            "default_project_id": null,
            "avatar_url": null,
        }),
        metadata: json!({"email": null, "external_user_id": null, "user_metadata": {}}),
        resources: json!({}),
    }))
}
