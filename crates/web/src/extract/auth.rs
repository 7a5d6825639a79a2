//! `Caller`: the authenticated principal of a request, from `Authorization: Bearer <credential>`,
//! or `Authorization: DPoP <access token>` with its `DPoP` proof (RFC 9449 §7).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, header};
use domain::dpop::{ProofRefusal, ProofRequest};
use domain::jwt::claims::JwtLifetime;
use domain::principal::Principal;
use domain::service::BoundRefusal;

use crate::error::ApiError;
use crate::limiter::named_credential;
use crate::state::AppState;

/// The authenticated caller.
#[derive(Debug)]
pub struct Caller(pub Principal);

/// The request header that carries a DPoP proof (RFC 9449 §4.1).
pub const DPOP: HeaderName = HeaderName::from_static("dpop");

/// How the `Authorization` header presents a credential.
enum Presented<'a> {
    /// `Bearer <credential>`: an API key or a JWT, whoever holds it may use it.
    Bearer(&'a str),
    /// `DPoP <access token>`: a token bound to a key, with a proof by that key.
    Dpop(&'a str),
}

fn presented(parts: &Parts) -> Result<Presented<'_>, ApiError> {
    let missing = || ApiError::unauthenticated("send `Authorization: Bearer <credential>`", false);
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Presented::Bearer(token.trim()))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Ok(Presented::Dpop(token.trim()))
    } else {
        Err(missing())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match presented(parts)? {
            Presented::Bearer(token) => authenticate(parts, state, token, JwtLifetime::Bounded).await.map(Caller),
            Presented::Dpop(token) => authenticate_bound(parts, state, token).await.map(Caller),
        }
    }
}

/// Authenticates an access token bound to a key, with the one `DPoP` proof the request carries
/// for its method and URL (Keyward's public base URL and the path). A refusal counts toward the
/// limiter, as for bearer credentials; one that asks for a nonce carries a fresh one.
async fn authenticate_bound(parts: &Parts, state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let ip = client_ip(parts, state);
    let mut proofs = parts.headers.get_all(DPOP).iter();
    let proof = match (proofs.next().map(|p| p.to_str()), proofs.next()) {
        (Some(Ok(proof)), None) => proof.to_owned(),
        _ => {
            let refusal = ProofRefusal::Invalid("send exactly one `DPoP` header with a proof");
            return Err(refused(parts, state, None, ApiError::dpop_refused(&refusal, None)).await);
        }
    };
    let url = format!("{}{}", state.keyward().issuer(), parts.uri.path());
    let method = parts.method.as_str().to_owned();
    let token = token.to_owned();
    let outcome = state
        .run(move |kw| {
            let request = ProofRequest { proof: &proof, method: &method, url: &url, access_token: Some(&token) };
            kw.authenticate_bound(&request, ip)
        })
        .await?;
    let e = match outcome {
        Ok(principal) => return Ok(principal),
        Err(BoundRefusal::Proof(ProofRefusal::UseNonce)) => {
            // Asking for a nonce is part of the protocol, not a failure to count.
            return Err(ApiError::dpop_refused(&ProofRefusal::UseNonce, Some(state.keyward().dpop_nonce())));
        }
        Err(BoundRefusal::Proof(refusal)) => ApiError::dpop_refused(&refusal, None),
        Err(BoundRefusal::Token(rejection)) => ApiError::rejected(rejection).challenged_with_dpop(),
    };
    tracing::info!(reason = e.code(), "DPoP authentication refused");
    Err(refused(parts, state, None, e).await)
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
