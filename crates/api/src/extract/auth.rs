//! `Caller`: the authenticated principal of a request, from `Authorization: Bearer <credential>`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
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
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        if let Some(ip) = ip {
            state.limiter().check(ip)?;
        }
        let token = bearer(parts)?.to_owned();
        let ip_text = ip.map(|ip| ip.to_string());
        let outcome = match state.keyward().authenticate_from_memory(&token, ip_text.clone()) {
            Some(outcome) => outcome?,
            None => state.run(move |kw| kw.authenticate(&token, ip_text)).await?,
        };
        match outcome {
            Ok(principal) => Ok(Caller(principal)),
            Err(rejection) => {
                tracing::info!(reason = rejection.code(), "authentication refused");
                if let Some(ip) = ip {
                    let delay = state.limiter().record_failure(ip);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                }
                Err(ApiError::rejected(rejection))
            }
        }
    }
}
