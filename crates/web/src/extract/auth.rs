//! `Caller`: the authenticated principal of a request, from `Authorization: Bearer <credential>`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use domain::jwt::claims::JwtLifetime;
use domain::principal::Principal;

use crate::error::ApiError;
use crate::limiter::named_credential;
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
        let token = bearer(parts)?;
        authenticate(parts, state, token, JwtLifetime::Bounded).await.map(Caller)
    }
}

/// Authenticates a presented credential string (an API key or a JWT), whatever header carried it:
/// from memory when it can, else from storage; a refusal counts toward the limiter and is delayed
/// (or turned into 429) by it, while a valid credential is served whatever its address did. Every
/// dialect's way of presenting a credential ends here.
/// `lifetime` says how a secret-key JWT's lifetime is checked.
pub async fn authenticate(
    parts: &Parts,
    state: &AppState,
    token: &str,
    lifetime: JwtLifetime,
) -> Result<Principal, ApiError> {
    let ip = client_ip(parts, state);
    let outcome = match state.keyward().authenticate_from_memory_with(token, ip, lifetime) {
        Some(outcome) => outcome?,
        None => {
            let token = token.to_owned();
            state.run(move |kw| kw.authenticate_with(&token, ip, lifetime)).await?
        }
    };
    match outcome {
        Ok(principal) => {
            let span = tracing::Span::current();
            if !span.is_disabled() {
                span.record("credential", principal.credential.audit_ref());
            }
            Ok(principal)
        }
        Err(rejection) => {
            tracing::info!(reason = rejection.code(), "authentication refused");
            let presented = named_credential(token);
            Err(refused(parts, state, presented.as_deref(), ApiError::rejected(rejection)).await)
        }
    }
}

/// The address a request came from, when known: its peer, or the client a trusted proxy
/// forwarded for.
pub fn client_ip(parts: &Parts, state: &AppState) -> Option<std::net::IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    state.trusted_proxies().client(peer, &parts.headers)
}

/// The address a request came from, as an extractor (see [`client_ip`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, state)))
    }
}

/// Counts a failed authentication that named the credential id `presented` toward the limiter,
/// waits as long as it says, and returns `e` (or the 429 that replaces it).
pub async fn refused(parts: &Parts, state: &AppState, presented: Option<&str>, e: ApiError) -> ApiError {
    state.limiter().refuse(client_ip(parts, state), presented, e).await
}
