//! `/oauth2/introspect` (RFC 7662) and `/oauth2/revoke` (RFC 7009).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Json;
use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::principal::Principal;

use super::oauth::{client_auth, form};
use super::token_answer::{Refusal, error, invalid_request, no_store};
use web::limiter::{Verdict, named_credential};
use web::state::AppState;

/// The form and the caller of an introspection or revocation request: a client authenticated with
/// HTTP Basic or form credentials or, where `bearer_ok`, any credential sent as `Bearer`.
async fn caller(
    state: &AppState,
    req: Request,
    bearer_ok: bool,
) -> Result<(BTreeMap<String, String>, Principal), Refusal> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = state.trusted_proxies().client(peer, req.headers());
    let headers: HeaderMap = req.headers().clone();
    let limit = web::extract::limits_of(&req).max_bytes;
    let Ok(body) = to_bytes(req.into_body(), limit).await else {
        return Err(invalid_request("the request body is too large or unreadable"));
    };
    let params = form(&body)?;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let unauthorized = || error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
    let client = client_auth(&headers, &params)?;
    let named = bearer.as_deref().and_then(named_credential).or_else(|| client.as_ref().map(|(id, _)| id.clone()));
    let outcome = match (bearer, client) {
        (Some(token), None) if bearer_ok => state
            .run(move |kw| kw.authenticate(&token, ip))
            .await
            .map(|r| r.map_err(|_| ()))
            .map_err(|_| unauthorized())?,
        (None, Some((id, secret))) => state
            .run(move |kw| kw.client_principal(&id, &secret, ip))
            .await
            .map(|r| r.map_err(|_| ()))
            .map_err(|_| unauthorized())?,
        _ => Err(()),
    };
    let Ok(principal) = outcome else {
        // Only failures are limited: a caller with a good credential is served.
        return match state.limiter().fail(ip, named.as_deref()) {
            Verdict::Refuse(_) => {
                Err(error(StatusCode::TOO_MANY_REQUESTS, "invalid_client", "too many failed authentication attempts"))
            }
            Verdict::Delay(delay) => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Err(unauthorized())
            }
        };
    };
    Ok((params, principal))
}

/// Tells whether an access token or an API key is active, and what it is (RFC 7662). The caller
/// authenticates as a client (HTTP Basic or form credentials of a secret key) or with any `Bearer`
/// credential; tokens of other accounts are reported inactive, except to system administrators.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "oauth2",
    request_body(content_type = "application/x-www-form-urlencoded", content = super::oauth::TokenForm, description = "`token`, optional `token_type_hint`."),
    responses((status = 200, body = Object,
        description = "RFC 7662 §2.2: `active`; for an active token also `token_type` (`Bearer`, `DPoP` or `api_key`), `scope`, `client_id`, `sub`, `acct`, `exp`, for access tokens `iat`, `nbf`, `iss`, `aud` and `jti`, and for a token bound to a key (DPoP) `cnf` = `{\"jkt\": <the key's RFC 7638 thumbprint>}` (RFC 9449 §6.2)."),
        (status = 400, body = super::token_answer::TokenError, description = "No `token`."),
        (status = 401, body = super::token_answer::TokenError),
        (status = 429, body = super::token_answer::TokenError, description = "Too many failed authentications; see `Retry-After`.")))]
#[tracing::instrument(skip_all)]
pub async fn introspect(State(state): State<AppState>, req: Request) -> Response {
    let (params, p) = match caller(&state, req, true).await {
        Ok(c) => c,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(token) = params.get("token").cloned() else {
        return invalid_request("`token` is required").into_response();
    };
    match state.run(move |kw| kw.introspect(&p, &token)).await {
        Ok(answer) => no_store(Json(answer).into_response()),
        Err(e) => e.into_response(),
    }
}

/// Revokes an access token issued to the authenticated client (RFC 7009); it stops working on every
/// node at once. Answers 200 whether or not the token was valid or the client's own.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth2",
    request_body(content_type = "application/x-www-form-urlencoded", content = super::oauth::TokenForm, description = "`token`, optional `token_type_hint`."),
    responses((status = 200), (status = 400, body = super::token_answer::TokenError, description = "No `token`."),
              (status = 401, body = super::token_answer::TokenError),
              (status = 429, body = super::token_answer::TokenError, description = "Too many failed authentications; see `Retry-After`.")))]
#[tracing::instrument(skip_all)]
pub async fn revoke(State(state): State<AppState>, req: Request) -> Response {
    let (params, p) = match caller(&state, req, false).await {
        Ok(c) => c,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(token) = params.get("token").cloned() else {
        return invalid_request("`token` is required").into_response();
    };
    match state.run(move |kw| kw.revoke_access_token(&p, &token)).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => e.into_response(),
    }
}
