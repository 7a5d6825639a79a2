//! What the OAuth endpoints answer: the token response and RFC 6749's JSON refusals, always with
//! `Cache-Control: no-store`. The token endpoint's grants (`oauth`, `token_exchange`) and
//! introspection and revocation (`oauth_tokens`) all answer through these.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A successful token response (RFC 6749 §5.1; RFC 8693 §2.2.1 for token exchange).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token: a JWT signed by Keyward's active signing key (EdDSA by default), with the
    /// claims `iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti`, `scope`, `client_id` and `acct`,
    /// and `fed` (the federated credential's id) when it was minted for an external token.
    pub access_token: String,
    /// `urn:ietf:params:oauth:token-type:access_token`, for token exchange only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
    /// `DPoP` when the request carried a DPoP proof and the token is bound to its key
    /// (`cnf.jkt`); else `Bearer`.
    #[schema(example = "Bearer", pattern = "^(Bearer|DPoP)$")]
    pub token_type: &'static str,
    /// Seconds until the token expires. For an exchanged token: the smallest of the federated
    /// credential's maximum, the configured access-token lifetime and the external token's
    /// remaining life.
    pub expires_in: i64,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// An error response (RFC 6749 §5.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenError {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`, `invalid_scope`, for the
    /// federated grants `invalid_grant`, `invalid_target` and `temporarily_unavailable`, and for
    /// DPoP `invalid_dpop_proof` and `use_dpop_nonce` (with a `DPoP-Nonce` header).
    #[schema(example = "invalid_client")]
    pub error: &'static str,
    /// A sentence for the developer; never repeats a secret.
    pub error_description: String,
}

pub(super) fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// A refused token request, answered as RFC 6749 §5.2 says.
#[derive(Debug)]
pub(super) struct Refusal {
    status: StatusCode,
    body: TokenError,
    retry_after: Option<u64>,
    dpop_nonce: Option<String>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="keyward""#));
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        with_nonce(no_store(res), self.dpop_nonce)
    }
}

impl Refusal {
    /// The same refusal under another RFC 6749 error code.
    pub(super) fn with_error(mut self, error: &'static str) -> Self {
        self.body.error = error;
        self
    }
}

pub(super) fn error(status: StatusCode, error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal {
        status,
        body: TokenError { error, error_description: description.into() },
        retry_after: None,
        dpop_nonce: None,
    }
}

/// A refused DPoP proof (RFC 9449 §5, §8): 400 `invalid_dpop_proof`, or `use_dpop_nonce` with the
/// nonce to use.
pub(super) fn dpop_refused(refusal: &domain::dpop::ProofRefusal, nonce: Option<String>) -> Refusal {
    Refusal { dpop_nonce: nonce, ..error(StatusCode::BAD_REQUEST, refusal.code(), refusal.detail()) }
}

/// Adds a `DPoP-Nonce` header, when there is a nonce to hand out.
pub(super) fn with_nonce(mut res: Response, nonce: Option<String>) -> Response {
    if let Some(v) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
        res.headers_mut().insert(web::error::DPOP_NONCE, v);
    }
    res
}

/// The `token_type` of a token answer: `DPoP` for a token bound to a key.
pub(super) fn token_type(token: &domain::service::AccessToken) -> &'static str {
    if token.bound_to.is_some() { "DPoP" } else { "Bearer" }
}

/// An error from outside the grant's own rules (too many failures, storage unavailable) in RFC
/// 6749's shape, with the status and `Retry-After` the problem would have had: `invalid_client`
/// for the failure limiter (only failed client authentications are limited), else RFC 6749
/// §4.1.2.1's `temporarily_unavailable` (503) or `server_error`.
impl From<web::ApiError> for Refusal {
    fn from(e: web::ApiError) -> Self {
        let status = e.status();
        let code = match status {
            StatusCode::TOO_MANY_REQUESTS => "invalid_client",
            StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
            s if s.is_client_error() => "invalid_request",
            _ => "server_error",
        };
        Refusal { retry_after: e.retry_after(), ..error(status, code, e.detail().to_owned()) }
    }
}

pub(super) fn invalid_request(description: impl Into<String>) -> Refusal {
    error(StatusCode::BAD_REQUEST, "invalid_request", description)
}
