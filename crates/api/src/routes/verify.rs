//! `/v1/api-keys/verify` and `/v1/api-keys/lookup`: the data plane other services call.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::ValidationError;
use domain::limits::{Ask, LimitName, PermissionQuery, RateLimitAnswer};
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
    /// The key's rate limits to apply, each at its cost; absent: those marked `auto_apply`, at
    /// cost 1. Naming a limit the key does not have is a 400.
    #[serde(default)]
    pub ratelimits: Option<Vec<AskedRateLimit>>,
    /// What this verification spends of the key's uses left (default 1; 0 asks without
    /// spending).
    #[serde(default, deserialize_with = "web::whole_number::optional_unsigned")]
    #[schema(minimum = 0)]
    pub cost: Option<u64>,
    /// A query the key's permissions must satisfy: names joined by `and` and `or`, with
    /// parentheses (`documents.read and (documents.write or admin)`).
    #[serde(default)]
    #[schema(example = "documents.read and (documents.write or admin)")]
    pub permissions: Option<String>,
}

/// A rate limit a verification applies, and at what cost.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskedRateLimit {
    /// The limit's name on the key.
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,64}$")]
    pub name: String,
    /// The cost to spend (default 1; 0 asks without spending).
    #[serde(default = "one", deserialize_with = "web::whole_number::unsigned")]
    #[schema(minimum = 0)]
    pub cost: u64,
}

fn one() -> u64 {
    1
}

impl VerifyRequest {
    /// What the request asks of the key's usage limits, read.
    fn ask(&self) -> Result<Ask, ValidationError> {
        let rate_limits = match &self.ratelimits {
            None => None,
            Some(asked) => Some(
                asked
                    .iter()
                    .enumerate()
                    .map(|(i, a)| Ok((LimitName::parse(&a.name, &format!("ratelimits[{i}].name"))?, a.cost)))
                    .collect::<Result<Vec<_>, ValidationError>>()?,
            ),
        };
        let permissions = self.permissions.as_deref().map(|q| PermissionQuery::parse(q, "permissions")).transpose()?;
        Ok(Ask { rate_limits, cost: self.cost, permissions })
    }
}

/// One rate limit's answer to a verification.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitAnswerBody {
    /// The limit's name.
    pub name: String,
    /// The cost its window admits.
    pub limit: u64,
    /// The cost its window still admits after this verification.
    pub remaining: u64,
    /// When the window ends and the next starts.
    #[serde(serialize_with = "answer::time")]
    pub reset_at: DateTime<Utc>,
    /// Whether this limit refused the verification.
    pub exceeded: bool,
}

/// The verdict on a presented key.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    /// Whether the key may be used for the request.
    pub valid: bool,
    /// `VALID`, `NOT_FOUND`, `EXPIRED`, `DISABLED`, `OWNER_DISABLED`, `INSUFFICIENT_SCOPE`,
    /// `MALFORMED`, `INSUFFICIENT_PERMISSIONS`, `RATE_LIMITED` or `USAGE_EXCEEDED`.
    #[schema(example = "VALID")]
    pub code: &'static str,
    /// The key's metadata; `null` when the key is malformed or not found.
    pub key: Option<ApiKeyBody>,
    /// The answer of each rate limit applied (absent when none was): a refused verification
    /// spent nothing, on any of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ratelimits: Vec<RateLimitAnswerBody>,
    /// The key's uses left after this verification (absent when they are not counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    /// For `INSUFFICIENT_PERMISSIONS`: the parts of the query that do not hold, as text: each
    /// missing permission of an `and`, or an `or` none of whose parts holds (`b or c`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_permissions: Vec<String>,
}

impl WriteJson for VerifyResponse {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"valid\":");
        answer::boolean(out, self.valid);
        out.extend_from_slice(b",\"code\":");
        answer::text(out, self.code);
        out.extend_from_slice(b",\"key\":");
        self.key.write_json(out);
        if !self.ratelimits.is_empty() {
            // Written by hand too: a metered key's every verification answers them.
            out.extend_from_slice(b",\"ratelimits\":[");
            for (i, l) in self.ratelimits.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"name\":");
                // A limit's name is made of `[A-Za-z0-9._:-]` only.
                answer::plain(out, &l.name);
                out.extend_from_slice(b",\"limit\":");
                answer::unsigned(out, l.limit);
                out.extend_from_slice(b",\"remaining\":");
                answer::unsigned(out, l.remaining);
                out.extend_from_slice(b",\"reset_at\":");
                answer::instant(out, &l.reset_at);
                out.extend_from_slice(b",\"exceeded\":");
                answer::boolean(out, l.exceeded);
                out.push(b'}');
            }
            out.push(b']');
        }
        if let Some(left) = self.remaining {
            out.extend_from_slice(b",\"remaining\":");
            answer::unsigned(out, left);
        }
        if !self.missing_permissions.is_empty() {
            out.extend_from_slice(b",\"missing_permissions\":");
            answer::by_serde(out, &self.missing_permissions);
        }
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
///
/// Usage limits are checked after the key's state and scopes, in this order: `permissions`, then
/// the rate limits and uses left together (all or nothing: a refusal spends nothing on any). Each
/// node decides from memory and adds its spending to the shared counters every two seconds; see
/// `docs/usage-limits.md` for the bound that puts on overshoot across nodes.
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
    let ask = body.ask()?;
    let verdict = match kw.verify_api_key_from_memory(&p, body.key.expose(), &body.required_scopes, &ask) {
        Some(verdict) => verdict?,
        None => state.run(move |kw| kw.verify_api_key(&p, body.key.expose(), &body.required_scopes, &ask)).await?,
    };
    let code = verdict.outcome.err().map_or("VALID", |r| r.code());
    count_verification(code);
    let (ratelimits, remaining) = match verdict.limits {
        Some(limits) => (limits.rate_limits.into_iter().map(rate_limit_answer).collect(), limits.remaining),
        None => (Vec::new(), None),
    };
    let answer = VerifyResponse {
        valid: verdict.outcome.is_ok(),
        code,
        key: verdict.key.map(|k| ApiKeyBody::new(k, verdict.at)),
        ratelimits,
        remaining,
        missing_permissions: verdict.missing_permissions,
    };
    Ok(JsonAnswer::new(answer, 128 + super::api_keys::KEY_BYTES).into_response())
}

fn rate_limit_answer(a: RateLimitAnswer) -> RateLimitAnswerBody {
    RateLimitAnswerBody {
        name: a.name.as_str().to_owned(),
        limit: a.decision.limit,
        remaining: a.decision.remaining,
        reset_at: DateTime::from_timestamp(a.decision.reset_at, 0).unwrap_or_default(),
        exceeded: !a.decision.admitted,
    }
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
            limited in proptest::collection::vec(("[A-Za-z0-9._:-]{1,8}", any::<u64>(), any::<bool>(), any::<i32>()), 0..3),
            remaining in proptest::option::of(any::<u64>()),
            missing in proptest::collection::vec("[a-z.]{1,8}", 0..3),
        ) {
            same_as_serde(&VerifyResponse {
                valid,
                code,
                key: key.flatten(),
                ratelimits: limited.into_iter().map(|(n, remaining, exceeded, at)| RateLimitAnswerBody {
                    name: n,
                    limit: remaining / 2,
                    remaining,
                    reset_at: DateTime::from_timestamp(i64::from(at), 0).unwrap_or_default(),
                    exceeded,
                }).collect(),
                remaining,
                missing_permissions: missing,
            })?;
        }
    }
}
