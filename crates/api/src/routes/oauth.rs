//! `/oauth2/token`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4), with client
//! authentication by `client_secret_basic`, `client_secret_post` or `client_secret_jwt`, and the
//! federated grants (`token_exchange`). Errors follow RFC 6749 §5.2.

use std::net::SocketAddr;

use axum::Json;
use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::service::{OAuthError, TokenTerms};
use utoipa::ToSchema;

use super::token_answer::{
    Refusal, TokenError, TokenResponse, dpop_refused, error, invalid_request, no_store, token_type, with_nonce,
};
use domain::dpop::{ProofRequest, Thumbprint};
use web::state::AppState;

/// A token request (`application/x-www-form-urlencoded`), as documented; the handler reads the
/// form itself, so that it can tell RFC 6749's errors apart.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ClientCredentialsForm {
    /// `client_credentials`, `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693) or
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1).
    #[schema(
        pattern = "^(client_credentials|urn:ietf:params:oauth:grant-type:token-exchange|urn:ietf:params:oauth:grant-type:jwt-bearer)$"
    )]
    grant_type: String,
    /// Token exchange: the external token (a JWT from the issuer a federated credential trusts).
    subject_token: Option<String>,
    /// Token exchange: `urn:ietf:params:oauth:token-type:jwt` or `urn:ietf:params:oauth:token-type:id_token`.
    subject_token_type: Option<String>,
    /// Token exchange: `urn:ietf:params:oauth:token-type:access_token` if given.
    requested_token_type: Option<String>,
    /// Token exchange: a federated credential's id or its service account's id, to choose among
    /// several that match the token.
    audience: Option<String>,
    /// JWT bearer: the external token.
    assertion: Option<String>,
    /// Space-separated scopes to narrow the token to (default: all of the client's, or of the
    /// federated credential's).
    #[schema(pattern = r"^[A-Za-z0-9:._*/-]{1,64}( [A-Za-z0-9:._*/-]{1,64})*$")]
    scope: Option<String>,
    /// A secret key's id, with `client_secret` (unless sent with HTTP Basic).
    client_id: Option<String>,
    /// The secret key (`kw_sk_...`).
    client_secret: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, with `client_assertion`.
    client_assertion_type: Option<String>,
    /// A JWT signed with the secret key (RFC 7523).
    client_assertion: Option<String>,
}

/// A token to introspect or revoke (`application/x-www-form-urlencoded`), as documented.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct TokenForm {
    /// The token (an access token, or for introspection also an API key).
    token: String,
    /// `access_token` or `api_key`: a hint, which may be wrong.
    token_type_hint: Option<String>,
}

/// `client_id` and `client_secret` from an `Authorization: Basic` header, whose parts are
/// form-encoded before base64 (RFC 6749 §2.3.1).
fn basic(headers: &HeaderMap) -> Option<Result<(String, String), Refusal>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bad = || error(StatusCode::UNAUTHORIZED, "invalid_client", "the Basic credentials are malformed");
    let Some(decoded) = STANDARD.decode(encoded.trim()).ok().and_then(|b| String::from_utf8(b).ok()) else {
        return Some(Err(bad()));
    };
    let Some((id, secret)) = decoded.split_once(':') else { return Some(Err(bad())) };
    let unescape = |s: &str| {
        // Keyward's ids and secrets need no escaping: only a part with an escape (or a character
        // the form syntax gives a meaning) goes through the form decoder.
        if !s.bytes().any(|b| matches!(b, b'%' | b'+' | b'&')) {
            return Some(s.to_owned());
        }
        form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
    };
    match (unescape(id), unescape(secret)) {
        (Some(id), Some(secret)) => Some(Ok((id, secret))),
        _ => Some(Err(bad())),
    }
}

/// The client assertion type of RFC 7523.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `client_id` and `client_secret` from HTTP Basic or from the form, refusing both at once.
pub(super) fn client_auth(
    headers: &HeaderMap,
    params: &std::collections::BTreeMap<String, String>,
) -> Result<Option<(String, String)>, Refusal> {
    match (basic(headers).transpose()?, params.get("client_id"), params.get("client_secret")) {
        (Some(_), _, Some(_)) => Err(invalid_request("use one client authentication method, not two")),
        (Some(pair), _, _) => Ok(Some(pair)),
        (None, Some(id), Some(secret)) => Ok(Some((id.clone(), secret.clone()))),
        (None, _, _) => Ok(None),
    }
}

/// The parameters the OAuth endpoints read; each may appear at most once (RFC 6749 §3.2).
/// Others are ignored, as RFC 6749 §3.1 asks, even when repeated.
const KNOWN_PARAMETERS: &[&str] = &[
    "grant_type",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion_type",
    "client_assertion",
    "token",
    "token_type_hint",
    // The federated grants (RFC 8693, RFC 7523 §2.1).
    "subject_token",
    "subject_token_type",
    "requested_token_type",
    "actor_token",
    "actor_token_type",
    "audience",
    "assertion",
];

/// The form parameters the endpoints read, each at most once.
pub(super) fn form(body: &[u8]) -> Result<std::collections::BTreeMap<String, String>, Refusal> {
    let mut params = std::collections::BTreeMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if !KNOWN_PARAMETERS.contains(&k.as_ref()) {
            continue;
        }
        if params.insert(k.clone().into_owned(), v.into_owned()).is_some() {
            return Err(invalid_request(format!("the parameter `{k}` is repeated")));
        }
    }
    Ok(params)
}

/// Issues an access token for a secret key (grant `client_credentials`). Authenticate with HTTP
/// Basic (`client_id` = the key's id, `client_secret` = its `kw_sk_...` string), with the same two
/// form parameters, or with a `client_secret_jwt` assertion (RFC 7523: HS256 with the `kw_sk_...`
/// string as HMAC key, `iss` = `sub` = client id, `aud` = the issuer or this endpoint, a single-use
/// `jti`); `scope` narrows the key's scopes.
///
/// Or exchanges an external OIDC token for an access token of the service account whose
/// federated credential trusts it, with no client authentication: grant
/// `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693: `subject_token`,
/// `subject_token_type` a JWT or ID token, optional `audience` naming the federated credential or
/// its service account, `scope`, `requested_token_type`) or
/// `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1: `assertion`). Refused tokens
/// answer `invalid_grant`, an `audience` that matches nothing `invalid_target`; they count toward
/// the failure limiter and are audited (`token.exchange`) in the accounts whose policies the token
/// was meant for.
///
/// Any grant may carry a `DPoP` proof header (RFC 9449): the token is then bound to the proof's
/// key and is accepted on Keyward's API only as `Authorization: DPoP <token>` with a fresh proof
/// by that key. A bad proof answers 400 `invalid_dpop_proof`; when the server requires nonces
/// (`KEYWARD_DPOP_NONCES`), a proof without a current one answers 400 `use_dpop_nonce` with the
/// nonce in `DPoP-Nonce`. A secret key with `require_dpop` is refused without a proof.
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth2",
    request_body(content_type = "application/x-www-form-urlencoded", content = ClientCredentialsForm,
        description = "`grant_type=client_credentials`, optional `scope`, and `client_id` + `client_secret` (unless sent with HTTP Basic) or `client_assertion_type` + `client_assertion`; or a federated grant with `subject_token` + `subject_token_type` (token exchange) or `assertion` (JWT bearer)."),
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449): a JWT typed `dpop+jwt`, signed with ES256 or EdDSA by the key in its `jwk` header, with `jti`, `htm` = `POST`, `htu` = this endpoint's URL, `iat` and, when the server requires nonces, `nonce`. The token is then bound to that key (`cnf.jkt`) and its `token_type` is `DPoP`.")),
    responses((status = 200, body = TokenResponse, headers(("DPoP-Nonce" = String, description = "A fresh nonce for the next DPoP proof, when the server requires nonces."))),
              (status = 400, body = TokenError, headers(("DPoP-Nonce" = String, description = "With `use_dpop_nonce`: the nonce to put in the proof."))),
              (status = 401, body = TokenError),
              (status = 429, body = TokenError, description = "Too many failed authentications from this address or against this client; see `Retry-After`."),
              (status = 503, body = TokenError, description = "`temporarily_unavailable`: an external issuer's keys could not be fetched, or storage is unavailable.")))]
#[tracing::instrument(skip_all)]
pub async fn token(State(state): State<AppState>, req: Request) -> Response {
    match grant(&state, req).await {
        Ok(res) => res,
        Err(refusal) => refusal.into_response(),
    }
}

async fn grant(state: &AppState, req: Request) -> Result<Response, Refusal> {
    let request = read(state, req).await?;
    let bound_to = bind(state, &request.headers).await?;
    let nonce = state.keyward().dpop_nonces_required().then(|| state.keyward().dpop_nonce());
    if let Some(federated) = request.federated {
        let res = super::token_exchange::grant(state, federated, request.params, bound_to, request.ip).await?;
        return Ok(with_nonce(res, nonce));
    }
    let client = Client::from_request(&request)?;
    let token = issue(state, client, request.params.get("scope").cloned(), bound_to, request.ip).await?;
    web::metrics::token_issued("client_credentials");
    let answer = TokenResponse {
        access_token: token.token.expose().to_owned(),
        issued_token_type: None,
        token_type: token_type(&token),
        expires_in: token.expires_in,
        scope: token.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
    };
    Ok(with_nonce(no_store(Json(answer).into_response()), nonce))
}

/// The key a token request asks its token to be bound to: the one its `DPoP` proof is signed
/// with, once the proof is accepted for this endpoint. No proof, no binding.
async fn bind(state: &AppState, headers: &HeaderMap) -> Result<Option<Thumbprint>, Refusal> {
    let mut proofs = headers.get_all(web::extract::DPOP).iter();
    let Some(proof) = proofs.next() else { return Ok(None) };
    let invalid = |why| dpop_refused(&domain::dpop::ProofRefusal::Invalid(why), None);
    if proofs.next().is_some() {
        return Err(invalid("send one `DPoP` header, not several"));
    }
    let proof = proof.to_str().map_err(|_| invalid("the DPoP proof is not a JWT"))?.to_owned();
    let url = format!("{}/oauth2/token", state.keyward().issuer());
    let outcome = state
        .run(move |kw| kw.accept_proof(&ProofRequest { proof: &proof, method: "POST", url: &url, access_token: None }))
        .await?;
    match outcome {
        Ok(thumbprint) => Ok(Some(thumbprint)),
        Err(refusal) => {
            web::metrics::token_refused("client_credentials", refusal.code());
            let nonce = (refusal == domain::dpop::ProofRefusal::UseNonce).then(|| state.keyward().dpop_nonce());
            Err(dpop_refused(&refusal, nonce))
        }
    }
}

/// A token request as read from the wire: its form, its headers and the client's address.
struct TokenRequest {
    headers: HeaderMap,
    params: std::collections::BTreeMap<String, String>,
    ip: Option<std::net::IpAddr>,
    /// The federated grant type it asks for, if it is not `client_credentials`.
    federated: Option<&'static str>,
}

/// Reads a token request: a form body with a supported `grant_type`.
async fn read(state: &AppState, req: Request) -> Result<TokenRequest, Refusal> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = state.trusted_proxies().client(peer, req.headers());
    let headers = req.headers().clone();
    let form_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    if !form_type {
        return Err(invalid_request("send the request as application/x-www-form-urlencoded"));
    }
    let limit = web::extract::limits_of(&req).max_bytes;
    let Ok(body) = to_bytes(req.into_body(), limit).await else {
        return Err(invalid_request("the request body is too large or unreadable"));
    };
    let params = form(&body)?;
    match params.get("grant_type").map(String::as_str) {
        None => Err(invalid_request("`grant_type` is required")),
        Some("client_credentials") => Ok(TokenRequest { headers, params, ip, federated: None }),
        Some(super::token_exchange::TOKEN_EXCHANGE) => {
            Ok(TokenRequest { headers, params, ip, federated: Some(super::token_exchange::TOKEN_EXCHANGE) })
        }
        Some(super::token_exchange::JWT_BEARER_GRANT) => {
            Ok(TokenRequest { headers, params, ip, federated: Some(super::token_exchange::JWT_BEARER_GRANT) })
        }
        Some(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "the grant types are `client_credentials`, token exchange (RFC 8693) and JWT bearer (RFC 7523)",
        )),
    }
}

/// How the client proves who it is: its secret, or an assertion signed with it (RFC 7523).
enum Client {
    Secret { id: String, secret: String },
    Assertion { id: Option<String>, assertion: String },
}

impl Client {
    /// The one client authentication a request carries; two, or none, are refused.
    fn from_request(request: &TokenRequest) -> Result<Self, Refusal> {
        let params = &request.params;
        if !params.contains_key("client_assertion") && !params.contains_key("client_assertion_type") {
            return match client_auth(&request.headers, params)? {
                Some((id, secret)) => Ok(Client::Secret { id, secret }),
                None => Err(error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication is required")),
            };
        }
        if params.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
            return Err(invalid_request(format!("`client_assertion_type` must be `{JWT_BEARER}`")));
        }
        if basic(&request.headers).is_some() || params.contains_key("client_secret") {
            return Err(invalid_request("use one client authentication method, not two"));
        }
        let Some(assertion) = params.get("client_assertion").cloned() else {
            return Err(invalid_request("`client_assertion` is required with `client_assertion_type`"));
        };
        Ok(Client::Assertion { id: params.get("client_id").cloned(), assertion })
    }

    /// The credential id the failure limiter counts a refusal against.
    fn named(&self) -> Option<String> {
        match self {
            Client::Secret { id, .. } => Some(id.clone()),
            Client::Assertion { id, assertion } => web::limiter::named_credential(assertion).or_else(|| id.clone()),
        }
    }
}

/// Authenticates the client and issues its token, from memory when the key is cached. A failed
/// authentication counts toward the failure limiter, which may slow or refuse it.
async fn issue(
    state: &AppState,
    client: Client,
    scope: Option<String>,
    bound_to: Option<Thumbprint>,
    ip: Option<std::net::IpAddr>,
) -> Result<domain::service::AccessToken, Refusal> {
    let named = client.named();
    let outcome = match client {
        Client::Assertion { id, assertion } => {
            state
                .run(move |kw| {
                    let terms = TokenTerms { scope: scope.as_deref(), bound_to: bound_to.as_ref(), ip };
                    kw.client_assertion(id.as_deref(), &assertion, terms)
                })
                .await?
        }
        Client::Secret { id, secret } => {
            let terms = TokenTerms { scope: scope.as_deref(), bound_to: bound_to.as_ref(), ip };
            match state.keyward().client_credentials_from_memory(&id, &secret, terms) {
                Some(outcome) => outcome.map_err(web::ApiError::from)?,
                None => {
                    state
                        .run(move |kw| {
                            let terms = TokenTerms { scope: scope.as_deref(), bound_to: bound_to.as_ref(), ip };
                            kw.client_credentials(&id, &secret, terms)
                        })
                        .await?
                }
            }
        }
    };
    match outcome {
        Ok(token) => Ok(token),
        Err(OAuthError::InvalidClient(why)) => {
            web::metrics::token_refused("client_credentials", "invalid_client");
            // Only failures are limited: a client with good credentials is served.
            match state.limiter().fail(ip, named.as_deref()) {
                web::limiter::Verdict::Refuse(retry_after) => Err(web::ApiError::too_many_failures(retry_after).into()),
                web::limiter::Verdict::Delay(delay) => {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    Err(error(StatusCode::UNAUTHORIZED, "invalid_client", why))
                }
            }
        }
        Err(OAuthError::InvalidScope(why)) => {
            web::metrics::token_refused("client_credentials", "invalid_scope");
            Err(error(StatusCode::BAD_REQUEST, "invalid_scope", why))
        }
        Err(OAuthError::DpopRequired) => {
            web::metrics::token_refused("client_credentials", "invalid_dpop_proof");
            Err(dpop_refused(
                &domain::dpop::ProofRefusal::Invalid(
                    "this client's tokens must be bound to a key: send a `DPoP` proof",
                ),
                None,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn basic_credentials_read_with_or_without_escapes(
            id in "[A-Za-z0-9_.:-]{1,40}",
            secret in "[ -~]{1,40}",
        ) {
            let mut headers = HeaderMap::new();
            // RFC 6749 §2.3.1: each part form-encoded, then base64 of `id:secret`.
            let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", encode(&id), encode(&secret));
            let value = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(pair)))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            headers.insert(header::AUTHORIZATION, value);
            let read = basic(&headers).map(|r| r.map_err(|_| "refused"));
            prop_assert_eq!(read, Some(Ok((id, secret))));
        }
    }
}
