//! `/v1/api-keys/verify` and `/v1/api-keys/lookup`: the data plane other services call.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use domain::scope::Scopes;
use domain::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api_keys::ApiKeyBody;
use web::answer::{self, JsonAnswer, WriteJson};
use web::error::{ApiResult, Problem};
use web::extract::{ApiJson, Caller};
use web::state::AppState;

/// A key presented to another service, and the scopes its request needs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The presented credential string.
    #[schema(value_type = String)]
    pub key: SecretString,
    /// Scopes the request needs; every one must be granted (a granted `x:*` covers `x:...`).
    #[serde(default)]
    #[schema(value_type = Vec<web::schema::ScopeText>, example = json!(["metrics:write"]))]
    pub required_scopes: Scopes,
}

/// The verdict on a presented key.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    /// Whether the key may be used for the request.
    pub valid: bool,
    /// `VALID`, `NOT_FOUND`, `EXPIRED`, `DISABLED`, `OWNER_DISABLED`, `INSUFFICIENT_SCOPE` or `MALFORMED`.
    #[schema(example = "VALID")]
    pub code: &'static str,
    /// The key's metadata; `null` when the key is malformed or not found.
    pub key: Option<ApiKeyBody>,
}

impl WriteJson for VerifyResponse {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"valid\":");
        answer::boolean(out, self.valid);
        out.extend_from_slice(b",\"code\":");
        answer::text(out, self.code);
        out.extend_from_slice(b",\"key\":");
        self.key.write_json(out);
        out.push(b'}');
    }
}

/// A presented key to look up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// The presented credential string.
    #[schema(value_type = String)]
    pub key: SecretString,
}

/// Verifies a presented API key. Needs `api-keys:verify`; keys of other accounts answer
/// `NOT_FOUND` (except to a system administrator). A malformed key is answered from its checksum
/// alone. A valid answer counts as a use of the key (`last_used_at`).
#[utoipa::path(post, path = "/v1/api-keys/verify", tag = "verification", request_body = VerifyRequest,
    security(("bearer" = [])),
    responses((status = 200, body = VerifyResponse), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all)]
pub async fn verify_api_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> ApiResult<Response> {
    let kw = state.keyward();
    let verdict = match kw.verify_api_key_from_memory(&p, body.key.expose(), &body.required_scopes) {
        Some(verdict) => verdict?,
        None => state.run(move |kw| kw.verify_api_key(&p, body.key.expose(), &body.required_scopes)).await?,
    };
    let code = verdict.outcome.err().map_or("VALID", |r| r.code());
    count_verification(code);
    let answer = VerifyResponse {
        valid: verdict.outcome.is_ok(),
        code,
        key: verdict.key.map(|k| ApiKeyBody::new(k, verdict.at)),
    };
    Ok(JsonAnswer::new(answer, 128 + super::api_keys::KEY_BYTES).into_response())
}

/// Counts a verification by its code; the common one through a handle looked up once.
fn count_verification(code: &'static str) {
    static VALID: std::sync::OnceLock<metrics::Counter> = std::sync::OnceLock::new();
    if code == "VALID" {
        VALID.get_or_init(|| metrics::counter!("keyward_verifications_total", "code" => "VALID")).increment(1);
    } else {
        metrics::counter!("keyward_verifications_total", "code" => code).increment(1);
    }
}

/// The metadata of the key a presented secret belongs to, whatever its state; 404 if it is unknown,
/// malformed, or in another account. Needs `api-keys:verify`.
#[utoipa::path(post, path = "/v1/api-keys/lookup", tag = "verification", request_body = LookupRequest,
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all)]
pub async fn lookup_api_key(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiJson(body): ApiJson<LookupRequest>,
) -> ApiResult<Json<ApiKeyBody>> {
    let (key, now) = state.run(move |kw| kw.lookup_api_key(&p, body.key.expose()).map(|k| (k, kw.now()))).await?;
    Ok(Json(ApiKeyBody::new(key, now)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::routes::api_key_json::tests::{key_body, same_as_serde};

    proptest! {
        #[test]
        fn a_verdict_is_written_as_serde_writes_it(
            valid in any::<bool>(),
            code in prop_oneof![Just("VALID"), Just("NOT_FOUND"), Just("INSUFFICIENT_SCOPE")],
            key in proptest::option::of(key_body()),
        ) {
            same_as_serde(&VerifyResponse { valid, code, key: key.flatten() })?;
        }
    }
}
