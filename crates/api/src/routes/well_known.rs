//! `/.well-known/jwks.json` and `/.well-known/oauth-authorization-server` (RFC 8414).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::signing_key::{SigningAlgorithm, SigningKey};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use web::error::ApiResult;
use web::state::AppState;

/// A JSON Web Key Set (RFC 7517).
#[derive(Debug, Serialize, ToSchema)]
pub struct Jwks {
    /// The public keys that verify Keyward's access tokens: the next, active and retiring signing keys.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<Value>,
}

fn jwk(key: &SigningKey) -> Value {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    match key.algorithm {
        SigningAlgorithm::EdDsa => json!({
            "kty": "OKP", "crv": "Ed25519", "x": b64(&key.public_key),
            "kid": key.kid.to_string(), "alg": "EdDSA", "use": "sig",
        }),
        SigningAlgorithm::Es256 => {
            // An uncompressed P-256 point: 0x04, then 32 bytes of x and 32 of y.
            let point = key.public_key.get(1..).unwrap_or_default();
            let (x, y) = point.split_at(point.len() / 2);
            json!({
                "kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y),
                "kid": key.kid.to_string(), "alg": "ES256", "use": "sig",
            })
        }
    }
}

/// The keys that verify Keyward's access tokens. A key is published before it signs and stays
/// published while tokens it signed may be alive, so a verifier may cache this for minutes.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "oauth2", responses((status = 200, body = Jwks)))]
pub async fn jwks(State(state): State<AppState>) -> ApiResult<Response> {
    let keys = state.run(|kw| kw.published_signing_keys()).await?;
    let mut res = Json(Jwks { keys: keys.iter().map(jwk).collect() }).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(res)
}

/// Authorization server metadata (RFC 8414).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth2",
    responses((status = 200, description = "RFC 8414 metadata", body = Object)))]
pub async fn metadata(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    document(&state).await
}

/// The same metadata at the path OpenID Connect discovery looks first, which many client
/// libraries try before RFC 8414's. Keyward issues no ID tokens: it is an OAuth 2.0 server for
/// machines, so the document names no authorization endpoint and no response types.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oauth2",
    responses((status = 200, description = "The RFC 8414 metadata, for discovery clients that look here first", body = Object)))]
pub async fn openid_configuration(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    document(&state).await
}

async fn document(state: &AppState) -> ApiResult<Json<Value>> {
    let (issuer, algorithm) = state.run(|kw| Ok((kw.issuer().to_owned(), kw.signing_algorithm().as_str()))).await?;
    Ok(Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "grant_types_supported": [
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["HS256"],
        // Introspection also takes any credential Keyward accepts as `Bearer`.
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "bearer"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": [
            "account:admin", "service-accounts:read", "service-accounts:write", "api-keys:read",
            "api-keys:write", "api-keys:verify", "secret-keys:read", "secret-keys:write", "audit:read"
        ],
        "token_signing_alg_values_supported": [algorithm],
        // RFC 9449 §5.1: the algorithms DPoP proofs may be signed with.
        "dpop_signing_alg_values_supported": domain::dpop::ALGORITHMS,
        "service_documentation": format!("{issuer}/openapi.json"),
    })))
}
