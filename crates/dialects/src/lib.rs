//! The vendor dialects: each seed product's own API at its own paths, so that its existing SDKs
//! work against Keyward unchanged.
//!
//! A dialect is a translation table: its wire types, the domain call each route makes, and one
//! function that renders an error in the vendor's shape. It holds no rule of its own: tenancy,
//! scopes and audit are the domain's, exactly as for the native route that does the same thing.
//! The extractors here let a dialect say how its clients present a credential and how a refusal
//! looks, without re-implementing authentication or body parsing.

pub mod dynatrace;
pub mod service_identity;
pub mod smooch;
pub mod wavefront;
pub mod zenml;

use std::marker::PhantomData;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::jwt::claims::JwtLifetime;
use domain::principal::Principal;
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;

use web::error::ApiError;
use web::extract::{ApiJson, ApiPath, ApiQuery, authenticate, client_ip, refused};
use web::state::AppState;

/// A credential as a request presents it. `Debug` shows which kind, never the credential.
pub enum Presented<'a> {
    /// A credential string: an API key or a JWT.
    Token(&'a str),
    /// A secret key's id and secret, as HTTP Basic credentials (Smooch).
    Basic {
        /// The secret key's id.
        id: String,
        /// Its `kw_sk_...` secret.
        secret: String,
    },
}

impl std::fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Presented::Token(_) => "Presented::Token([REDACTED])",
            Presented::Basic { .. } => "Presented::Basic([REDACTED])",
        })
    }
}

/// `Debug` for wire types that carry a secret (a token, a client token, a key shown once): the
/// type's name only, so that no `{:?}` anywhere can print one.
macro_rules! secret_debug {
    ($($t:ident),* $(,)?) => {
        $(impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($t), " { [REDACTED] }"))
            }
        })*
    };
}
pub(crate) use secret_debug;

/// What makes one vendor's API: how its clients present a credential, and its error shape.
pub trait Dialect: Send + Sync + 'static {
    /// How a secret-key JWT's lifetime is checked in this dialect.
    const JWT_LIFETIME: JwtLifetime = JwtLifetime::Bounded;

    /// The credential a request presents, if it presents one the vendor's way.
    fn credential(parts: &Parts) -> Option<Presented<'_>>;

    /// The vendor's answer for a failed request.
    fn error(status: StatusCode, message: String) -> Response;

    /// The status the vendor uses where Keyward's differs (for example 409 for a credential
    /// changing itself, which some vendors answer with 400).
    fn status(e: &ApiError) -> StatusCode {
        e.status()
    }
}

/// Every dialect's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(dynatrace::router())
        .merge(wavefront::router())
        .merge(smooch::router())
        .merge(service_identity::router())
        .merge(zenml::router())
}

/// HTTP Basic credentials (`Authorization: Basic base64(id:secret)`), as a secret key's id and
/// secret.
pub(crate) fn basic(parts: &Parts) -> Option<Presented<'static>> {
    use base64::Engine as _;
    let encoded = authorization(parts, "Basic")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(Presented::Basic { id: id.to_owned(), secret: secret.to_owned() })
}

/// The value of an `Authorization` header with the given scheme (case-insensitive).
pub(crate) fn authorization<'a>(parts: &'a Parts, scheme: &str) -> Option<&'a str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, token) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| token.trim())
}

/// A failed request, rendered in dialect `D`'s shape.
#[derive(Debug)]
pub struct DialectError<D>(pub ApiError, PhantomData<D>);

impl<D> From<ApiError> for DialectError<D> {
    fn from(e: ApiError) -> Self {
        Self(e, PhantomData)
    }
}

impl<D> From<domain::Error> for DialectError<D> {
    fn from(e: domain::Error) -> Self {
        Self(e.into(), PhantomData)
    }
}

impl<D> From<domain::ValidationError> for DialectError<D> {
    fn from(e: domain::ValidationError) -> Self {
        Self(e.into(), PhantomData)
    }
}

impl<D: Dialect> IntoResponse for DialectError<D> {
    fn into_response(self) -> Response {
        let mut res = D::error(D::status(&self.0), self.0.message());
        if let Some(secs) = self.0.retry_after() {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// The result of a dialect's handler.
pub type DialectResult<T, D> = Result<T, DialectError<D>>;

/// The caller, authenticated the way dialect `D`'s clients present credentials.
#[derive(Debug)]
pub struct DialectCaller<D>(pub Principal, PhantomData<D>);

impl<D: Dialect> FromRequestParts<AppState> for DialectCaller<D> {
    type Rejection = DialectError<D>;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented =
            D::credential(parts).ok_or_else(|| ApiError::unauthenticated("no credential was presented", false))?;
        let principal = match presented {
            Presented::Token(token) => authenticate(parts, state, token, D::JWT_LIFETIME).await?,
            Presented::Basic { id, secret } => {
                let ip = client_ip(parts, state);
                let named = id.clone();
                // Memory first, as native Bearer authentication: a cached key needs no blocking hop.
                let answer = match state.keyward().client_principal_from_memory(&id, &secret, ip) {
                    Some(answer) => answer?,
                    None => state.run(move |kw| kw.client_principal(&id, &secret, ip)).await?,
                };
                match answer {
                    Ok(principal) => {
                        tracing::Span::current().record("credential", principal.credential.audit_ref());
                        principal
                    }
                    Err(_) => {
                        let e = ApiError::unauthenticated("the credential is not valid", true);
                        return Err(refused(parts, state, Some(&named), e).await.into());
                    }
                }
            }
        };
        Ok(Self(principal, PhantomData))
    }
}

/// A JSON body, refused in dialect `D`'s shape.
#[derive(Debug)]
pub struct Json<D, T>(pub T, PhantomData<D>);

impl<D: Dialect, S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<D, T> {
    type Rejection = DialectError<D>;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(value) = ApiJson::from_request(req, state).await?;
        Ok(Self(value, PhantomData))
    }
}

/// A JSON body that may be missing or empty (some SDKs send none, others `{}`), refused in dialect
/// `D`'s shape when it is there but wrong. Reading it also keeps the connection reusable.
#[derive(Debug)]
pub struct OptionalJson<D, T>(pub Option<T>, PhantomData<D>);

impl<D: Dialect, S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<D, T> {
    type Rejection = DialectError<D>;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let depth = web::extract::limits_of(&req).max_json_depth;
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::body_too_large()
            } else {
                ApiError::malformed_json(e.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None, PhantomData));
        }
        // `null` is no body too: the document says the body is optional.
        Ok(Self(web::extract::parse_json::<Option<T>>(&bytes, depth)?, PhantomData))
    }
}

/// Query parameters, refused in dialect `D`'s shape.
#[derive(Debug)]
pub struct Query<D, T>(pub T, PhantomData<D>);

impl<D: Dialect, S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<D, T> {
    type Rejection = DialectError<D>;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiQuery(value) = ApiQuery::from_request_parts(parts, state).await?;
        Ok(Self(value, PhantomData))
    }
}

/// Path parameters, refused in dialect `D`'s shape.
#[derive(Debug)]
pub struct Path<D, T>(pub T, PhantomData<D>);

impl<D: Dialect, S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<D, T> {
    type Rejection = DialectError<D>;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiPath(value) = ApiPath::from_request_parts(parts, state).await?;
        Ok(Self(value, PhantomData))
    }
}

/// The key a vendor path or body names: its id, or its whole credential string (Dynatrace and
/// Wavefront accept either). `field` names the input in the error. A string shaped like a
/// credential that is not a valid API key (a mistyped checksum, a secret key) names no key: not
/// found, as for an id that names nothing.
pub(crate) fn key_id(raw: &str, field: &str) -> Result<domain::id::ApiKeyId, domain::Error> {
    use domain::credential::{Credential, CredentialKind};
    match Credential::parse(raw) {
        Ok(c) if c.kind() == CredentialKind::ApiKey => Ok(domain::id::ApiKeyId::from_uuid(c.id())),
        _ if raw.starts_with("kw_") => Err(domain::Error::NotFound(domain::error::Entity::ApiKey)),
        _ => Ok(domain::id::ApiKeyId::parse(raw, field)?),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_never_prints_a_secret() {
        let secret = "kw_ak_0190f1c27a3b7c4d8e5f0123456789ab_secretsecret";
        let created = super::dynatrace::ApiTokenCreated { id: "i".into(), token: secret.into(), expiration_date: None };
        let request =
            super::service_identity::GenerateTokenRequest { client_id: "c".into(), client_token: secret.into() };
        let presented = super::Presented::Basic { id: "k".into(), secret: secret.into() };
        for shown in [
            format!("{created:?}"),
            format!("{request:?}"),
            format!("{presented:?}"),
            format!("{:?}", super::Presented::Token(secret)),
        ] {
            assert!(!shown.contains("secret"), "{shown}");
        }
    }
}
