//! The one error type of the HTTP API and its one JSON shape: RFC 9457 `application/problem+json`
//! with a stable machine-readable `code`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::Error;
use domain::key::Rejection;
use serde::Serialize;
use utoipa::ToSchema;

/// A problem report (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:keyward:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the problem type.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this case. Never contains a secret.
    pub detail: String,
    /// A stable, machine-readable code.
    #[schema(example = "validation_failed")]
    pub code: &'static str,
    /// The request field at fault, for validation errors (`name`, `metadata.team`, `limit`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error answer: a status, a problem body and, where the protocol wants them, headers.
/// Boxed, so that results carrying it stay small.
#[derive(Debug)]
pub struct ApiError(Box<Parts>);

#[derive(Debug)]
struct Parts {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    field: Option<String>,
    www_authenticate: Option<String>,
    retry_after: Option<u64>,
    /// A fresh server nonce for the client's next DPoP proof (RFC 9449 §8).
    dpop_nonce: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(Parts {
            status,
            code,
            title,
            detail: detail.into(),
            field: None,
            www_authenticate: None,
            retry_after: None,
            dpop_nonce: None,
        }))
    }

    /// A request field failed to parse or broke a rule.
    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "validation_failed", "Invalid request", detail);
        e.0.field = Some(field.into());
        e
    }

    /// The body is not JSON at all.
    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON body", detail)
    }

    /// The body is over the size limit.
    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "Request body too large",
            "the request body is over 64 KiB",
        )
    }

    /// The body is not JSON by its content type.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "send the body as JSON with `Content-Type: application/json`",
        )
    }

    /// No usable credential was presented.
    pub fn unauthenticated(detail: impl Into<String>, invalid_token: bool) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Authentication required", detail);
        e.0.www_authenticate = Some(if invalid_token {
            r#"Bearer realm="keyward", error="invalid_token""#.to_owned()
        } else {
            r#"Bearer realm="keyward""#.to_owned()
        });
        e
    }

    /// A presented credential was refused.
    pub fn rejected(rejection: Rejection) -> Self {
        if rejection == Rejection::ProofRequired {
            let mut e = Self::unauthenticated(
                "the access token is bound to a key: send it as `Authorization: DPoP <token>` with a `DPoP` proof",
                true,
            );
            e.0.www_authenticate = Some(dpop_challenge("invalid_token", None));
            return e;
        }
        let detail = match rejection {
            Rejection::Malformed | Rejection::NotFound => "the credential is not valid",
            Rejection::Expired => "the credential has expired",
            Rejection::Disabled => "the credential is disabled",
            Rejection::OwnerDisabled => "the credential's service account is disabled",
            Rejection::InsufficientScope => "the credential lacks a required scope",
            // Usage limits are decided at verification only; an API caller is never refused so.
            Rejection::InsufficientPermissions => "the credential lacks a required permission",
            Rejection::RateLimited => "the credential is rate limited",
            Rejection::UsageExceeded => "the credential has no uses left",
            Rejection::ProofRequired => "the credential must be presented with a DPoP proof",
        };
        Self::unauthenticated(detail, true)
    }

    /// The same refusal, challenging the client to present a DPoP-bound token (RFC 9449 §7.1).
    pub fn challenged_with_dpop(mut self) -> Self {
        self.0.www_authenticate = Some(dpop_challenge("invalid_token", None));
        self
    }

    /// 401: a DPoP proof was refused (RFC 9449 §7.1), with the challenge that says why and, for
    /// `use_dpop_nonce`, the nonce to put in the next proof.
    pub fn dpop_refused(refusal: &domain::dpop::ProofRefusal, nonce: Option<String>) -> Self {
        let mut e = Self::unauthenticated(refusal.detail(), false);
        e.0.code = refusal.code();
        e.0.www_authenticate = Some(dpop_challenge(refusal.code(), Some(refusal.detail())));
        e.0.dpop_nonce = nonce;
        e
    }

    /// Too many failed authentications from one address.
    pub fn too_many_failures(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_failed_attempts",
            "Too many failed authentication attempts",
            format!("too many failed authentication attempts from this address; retry in {retry_after_secs} s"),
        );
        e.0.retry_after = Some(retry_after_secs);
        e
    }

    /// 429: this address sent more requests of this kind than a window allows.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests",
            format!("too many requests of this kind from this address; retry in {retry_after_secs} s"),
        );
        e.0.retry_after = Some(retry_after_secs);
        e
    }

    /// 401: a signed request whose signature does not verify (no bearer challenge applies).
    pub fn bad_signature(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_signature", "Invalid signature", detail)
    }

    /// 503: something Keyward fetches from elsewhere (a partner's public keys) could not be had.
    pub fn dependency_unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", detail)
    }

    /// No route at this path.
    pub fn no_route() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found", "no such route")
    }

    /// No such thing at this path, for resources the domain does not know (a dialect's fixtures).
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found", format!("no such {what}"))
    }

    /// The route exists but not with this method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
            "this route does not accept this method",
        )
    }

    /// Something failed that the client cannot fix.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", detail)
    }

    /// The code, for tests and logs.
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// What went wrong, naming the field at fault if there is one: the message a vendor dialect
    /// renders in its own error shape. Never contains a secret.
    pub fn message(&self) -> String {
        match &self.0.field {
            Some(field) => format!("{field}: {}", self.0.detail),
            None => self.0.detail.clone(),
        }
    }

    /// What went wrong, without the field's name.
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// The request field at fault, if there is one.
    pub fn field(&self) -> Option<&str> {
        self.0.field.as_deref()
    }

    /// Seconds a refused client should wait, for 429 answers.
    pub fn retry_after(&self) -> Option<u64> {
        self.0.retry_after
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let detail = e.to_string();
        match e {
            Error::Validation(v) => ApiError::validation(v.field, v.message),
            Error::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found", detail),
            Error::NameTaken(_) => ApiError::new(StatusCode::CONFLICT, "name_taken", "Name already taken", detail),
            Error::Forbidden(scope) => {
                let mut e = ApiError::new(StatusCode::FORBIDDEN, "insufficient_scope", "Insufficient scope", detail);
                e.0.www_authenticate =
                    Some(format!(r#"Bearer realm="keyward", error="insufficient_scope", scope="{scope}""#));
                e
            }
            Error::ScopeNotGrantable(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "scope_not_grantable", "Scope not grantable", detail)
            }
            Error::OwnCredential => ApiError::new(StatusCode::CONFLICT, "own_credential", "Own credential", detail),
            Error::Unusable(_) => {
                ApiError::new(StatusCode::CONFLICT, "credential_unusable", "Credential unusable", detail)
            }
            Error::SystemAccount => ApiError::new(StatusCode::CONFLICT, "system_account", "System account", detail),
            Error::WrongMasterKey => {
                tracing::error!("{detail}");
                ApiError::internal("the server is misconfigured; its operator has been told")
            }
            Error::Unavailable(_) => {
                tracing::error!(error = %detail, "storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "storage is unavailable; try again",
                )
            }
        }
    }
}

impl From<domain::ValidationError> for ApiError {
    fn from(e: domain::ValidationError) -> Self {
        ApiError::validation(e.field, e.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Parts { status, code, title, detail, field, www_authenticate, retry_after, dpop_nonce } = *self.0;
        let body = Problem {
            type_uri: format!("urn:keyward:problem:{code}"),
            title,
            status: status.as_u16(),
            detail,
            code,
            field,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut res = (status, json).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(v) = www_authenticate.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(v) = dpop_nonce.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(DPOP_NONCE, v);
        }
        res
    }
}

/// The header that carries a server nonce for DPoP proofs (RFC 9449 §8).
pub const DPOP_NONCE: header::HeaderName = header::HeaderName::from_static("dpop-nonce");

/// A `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1) naming the accepted algorithms.
pub fn dpop_challenge(error: &str, description: Option<&str>) -> String {
    let algs = domain::dpop::ALGORITHMS.join(" ");
    match description {
        // The descriptions are Keyward's own sentences, which hold no quote or backslash.
        Some(d) => format!(r#"DPoP algs="{algs}", error="{error}", error_description="{d}""#),
        None => format!(r#"DPoP algs="{algs}", error="{error}""#),
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
