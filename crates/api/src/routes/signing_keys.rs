//! `/v1/signing-keys`: Keyward's own signing keys, for system administrators.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::signing_key::SigningKey;
use serde::Serialize;
use utoipa::ToSchema;

use web::error::{ApiResult, Problem};
use web::extract::Caller;
use web::state::AppState;

/// A signing key, without its private half.
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeyBody {
    /// Its id, the JWT `kid`.
    pub kid: String,
    /// `EdDSA` or `ES256`.
    pub algorithm: &'static str,
    /// `next`, `active`, `retiring` or `retired`.
    pub state: &'static str,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it started signing.
    pub activated_at: Option<DateTime<Utc>>,
    /// When it stopped being published.
    pub retired_at: Option<DateTime<Utc>>,
}

impl From<SigningKey> for SigningKeyBody {
    fn from(k: SigningKey) -> Self {
        Self {
            kid: k.kid.to_string(),
            algorithm: k.algorithm.as_str(),
            state: k.state.as_str(),
            created_at: k.created_at,
            activated_at: k.activated_at,
            retired_at: k.retired_at,
        }
    }
}

/// Every signing key.
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeyList {
    /// The keys, oldest first.
    pub items: Vec<SigningKeyBody>,
}

/// Keyward's signing keys and their states. System administrators only.
#[utoipa::path(get, path = "/v1/signing-keys", tag = "oauth2", security(("bearer" = [])),
    responses((status = 200, body = SigningKeyList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all)]
pub async fn list_signing_keys(State(state): State<AppState>, Caller(p): Caller) -> ApiResult<Json<SigningKeyList>> {
    let keys = state.run(move |kw| kw.list_signing_keys(&p)).await?;
    Ok(Json(SigningKeyList { items: keys.into_iter().map(Into::into).collect() }))
}

/// Rotates now: next → active, active → retiring (still published while its tokens may live),
/// and a new next key. System administrators only.
#[utoipa::path(post, path = "/v1/signing-keys/rotate", tag = "oauth2", security(("bearer" = [])),
    responses((status = 200, body = SigningKeyList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all)]
pub async fn rotate_signing_keys(State(state): State<AppState>, Caller(p): Caller) -> ApiResult<Json<SigningKeyList>> {
    let keys = state.run(move |kw| kw.rotate_signing_keys(&p)).await?;
    web::metrics::signing_key_rotated("request");
    Ok(Json(SigningKeyList { items: keys.into_iter().map(Into::into).collect() }))
}
