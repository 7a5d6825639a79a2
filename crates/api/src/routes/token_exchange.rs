//! The token endpoint's federated grants: RFC 8693 token exchange and RFC 7523 §2.1 JWT bearer.
//! No client authentication: the external token (a GitHub Actions job's, a Kubernetes pod's) is
//! the proof, and a federated credential says whom it stands for.

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::service::{ExchangeRefusal, ExchangeRequest};

use super::token_answer::{Refusal, TokenResponse, error, invalid_request, no_store};
use web::state::AppState;

/// RFC 8693's grant type.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 7523's grant type (§2.1: a JWT as the authorization grant).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The token types a subject token may be: a JWT, or an OpenID Connect ID token.
const SUBJECT_TOKEN_TYPES: &[&str] =
    &["urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token"];
/// The one token type Keyward issues.
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Answers a token-exchange or JWT-bearer request from its form.
pub(super) async fn grant(
    state: &AppState,
    grant_type: &str,
    params: BTreeMap<String, String>,
    bound_to: Option<domain::dpop::Thumbprint>,
    ip: Option<IpAddr>,
) -> Result<Response, Refusal> {
    let exchange = grant_type == TOKEN_EXCHANGE;
    let token = read(exchange, &params)?;
    let audience = params.get("audience").cloned();
    let scope = params.get("scope").cloned();
    let outcome = state
        .run(move |kw| {
            let request =
                ExchangeRequest { audience: audience.as_deref(), scope: scope.as_deref(), bound_to: bound_to.as_ref() };
            kw.exchange_token(&token, &request, ip)
        })
        .await?;
    let label = if exchange { "token_exchange" } else { "jwt_bearer" };
    let exchanged = match outcome {
        Ok(exchanged) => exchanged,
        Err(refusal) => return Err(refused(state, label, refusal, ip).await),
    };
    web::metrics::token_issued(label);
    let token = exchanged.token;
    let answer = TokenResponse {
        access_token: token.token.expose().to_owned(),
        issued_token_type: exchange.then_some(ACCESS_TOKEN_TYPE),
        token_type: super::token_answer::token_type(&token),
        expires_in: token.expires_in,
        scope: token.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
    };
    Ok(no_store(Json(answer).into_response()))
}

/// The external token of a request, checking the parameters that come with it.
fn read(exchange: bool, params: &BTreeMap<String, String>) -> Result<String, Refusal> {
    if !exchange {
        return params.get("assertion").cloned().ok_or_else(|| invalid_request("`assertion` is required"));
    }
    let token = params.get("subject_token").ok_or_else(|| invalid_request("`subject_token` is required"))?;
    match params.get("subject_token_type").map(String::as_str) {
        Some(t) if SUBJECT_TOKEN_TYPES.contains(&t) => {}
        Some(_) => return Err(invalid_request("`subject_token_type` must be a JWT or an ID token")),
        None => return Err(invalid_request("`subject_token_type` is required")),
    }
    if params.get("requested_token_type").is_some_and(|t| t != ACCESS_TOKEN_TYPE) {
        return Err(invalid_request(format!("`requested_token_type` may only be `{ACCESS_TOKEN_TYPE}`")));
    }
    if params.contains_key("actor_token") {
        return Err(invalid_request("delegation (`actor_token`) is not supported"));
    }
    Ok(token.clone())
}

/// The RFC 6749 / RFC 8693 answer to a refused exchange. A refused grant counts toward the
/// failure limiter as a failed client authentication does.
async fn refused(state: &AppState, label: &'static str, refusal: ExchangeRefusal, ip: Option<IpAddr>) -> Refusal {
    let (status, code, why) = match refusal {
        ExchangeRefusal::InvalidRequest(why) => (StatusCode::BAD_REQUEST, "invalid_request", why),
        ExchangeRefusal::InvalidGrant(why) => (StatusCode::BAD_REQUEST, "invalid_grant", why),
        ExchangeRefusal::InvalidTarget(why) => (StatusCode::BAD_REQUEST, "invalid_target", why),
        ExchangeRefusal::InvalidScope(why) => (StatusCode::BAD_REQUEST, "invalid_scope", why),
        ExchangeRefusal::Unavailable(why) => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", why),
    };
    web::metrics::token_refused(label, code);
    if matches!(code, "invalid_grant" | "invalid_request") {
        match state.limiter().fail(ip, None) {
            web::limiter::Verdict::Refuse(retry_after) => {
                return Refusal::from(web::ApiError::too_many_failures(retry_after)).with_error(code);
            }
            web::limiter::Verdict::Delay(delay) if !delay.is_zero() => tokio::time::sleep(delay).await,
            web::limiter::Verdict::Delay(_) => {}
        }
    }
    error(status, code, why)
}
