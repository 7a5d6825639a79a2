//! `Caller`: the authenticated principal of a request, from `Authorization: Bearer <credential>`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use domain::jwt::claims::JwtLifetime;
use domain::principal::Principal;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller.
#[derive(Debug)]
pub struct Caller(pub Principal);

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || ApiError::unauthenticated("send `Authorization: Bearer <credential>`", false);
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing());
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        check_limiter(parts, state)?;
        let token = bearer(parts)?.to_owned();
        authenticate(parts, state, token, JwtLifetime::Bounded).await.map(Caller)
    }
}

/// Refuses the request at once if its address is locked out by the failed-authentication limiter.
pub(crate) fn check_limiter(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => state.limiter().check(addr.ip()),
        None => Ok(()),
    }
}

/// Authenticates a presented credential string (an API key or a JWT), whatever header carried it:
/// from memory when it can, else from storage; a refusal counts toward the limiter and is delayed
/// by it. Every dialect's way of presenting a credential ends here.
/// `lifetime` says how a secret-key JWT's lifetime is checked.
pub(crate) async fn authenticate(
    parts: &Parts,
    state: &AppState,
    token: String,
    lifetime: JwtLifetime,
) -> Result<Principal, ApiError> {
    let ip_text = client_ip(parts).map(|ip| ip.to_string());
    let outcome = match state.keyward().authenticate_from_memory(&token, ip_text.clone()) {
        Some(outcome) => outcome?,
        None => state.run(move |kw| kw.authenticate_with(&token, ip_text, lifetime)).await?,
    };
    match outcome {
        Ok(principal) => Ok(principal),
        Err(rejection) => {
            tracing::info!(reason = rejection.code(), "authentication refused");
            Err(refused(parts, state, ApiError::rejected(rejection)).await)
        }
    }
}

/// The address a request came from, when known.
pub(crate) fn client_ip(parts: &Parts) -> Option<std::net::IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// Counts a failed authentication toward the limiter, waits as long as it says, and returns `e`.
pub(crate) async fn refused(parts: &Parts, state: &AppState, e: ApiError) -> ApiError {
    if let Some(ip) = client_ip(parts) {
        let delay = state.limiter().record_failure(ip);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    e
}
