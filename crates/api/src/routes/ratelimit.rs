//! `POST /v1/ratelimit`: Keyward's rate limiter for any identifier, without a key.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::limits::{LimitName, WindowLength};
use domain::service::{Identifier, LimitRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use web::answer;
use web::error::{ApiResult, Problem};
use web::extract::{ApiJson, Caller};
use web::state::AppState;

/// May `identifier` spend `cost` now, at most `limit` per `window_seconds`?
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRequest {
    /// Where the identifier is counted: 1 to 64 characters from `[A-Za-z0-9._:-]`. Each account
    /// has its own namespaces.
    #[schema(example = "email.outbound", pattern = "^[A-Za-z0-9._:-]{1,64}$")]
    pub namespace: String,
    /// What is limited, such as a user id or an address: 1 to 256 characters.
    #[schema(example = "user_123", min_length = 1, max_length = 256)]
    pub identifier: String,
    /// The cost a window admits, 1 or more.
    #[serde(deserialize_with = "web::whole_number::unsigned")]
    #[schema(minimum = 1, example = 10)]
    pub limit: u64,
    /// The window's length, 1 to 2592000 seconds; windows are aligned to the Unix epoch.
    #[serde(deserialize_with = "web::whole_number::required")]
    #[schema(minimum = 1, maximum = 2_592_000, example = 60)]
    pub window_seconds: i64,
    /// The cost of this request (default 1; 0 asks without spending).
    #[serde(default = "one", deserialize_with = "web::whole_number::unsigned")]
    #[schema(minimum = 0)]
    pub cost: u64,
}

fn one() -> u64 {
    1
}

/// The limiter's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitResponse {
    /// Whether the cost fitted, and was spent.
    pub success: bool,
    /// The cost a window admits.
    pub limit: u64,
    /// The cost the window still admits.
    pub remaining: u64,
    /// When the window ends and the next starts.
    #[serde(serialize_with = "answer::time")]
    pub reset_at: DateTime<Utc>,
}

/// Counts `cost` against `identifier` in `namespace`, fixed windows of `window_seconds`, and
/// answers whether it fitted. Needs `api-keys:verify`. Counts are kept as a key's rate limits
/// are: exact on one node, and across nodes within the bound `docs/usage-limits.md` states.
#[utoipa::path(post, path = "/v1/ratelimit", tag = "verification", request_body = RateLimitRequest,
    security(("bearer" = [])),
    responses((status = 200, body = RateLimitResponse), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all)]
pub async fn ratelimit(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiJson(body): ApiJson<RateLimitRequest>,
) -> ApiResult<Json<RateLimitResponse>> {
    let request = LimitRequest {
        namespace: LimitName::parse(&body.namespace, "namespace")?,
        identifier: Identifier::parse(&body.identifier, "identifier")?,
        limit: body.limit,
        window: WindowLength::parse(body.window_seconds, "window_seconds")?,
        cost: body.cost,
    };
    let decision = match state.keyward().ratelimit_from_memory(&p, &request) {
        Some(decision) => decision?,
        None => state.run(move |kw| kw.ratelimit(&p, &request)).await?,
    };
    Ok(Json(RateLimitResponse {
        success: decision.admitted,
        limit: decision.limit,
        remaining: decision.remaining,
        reset_at: DateTime::from_timestamp(decision.reset_at, 0).unwrap_or_default(),
    }))
}
