//! `.../api-keys/{key_id_or_name}/usage` and `.../service-accounts/{service_account_id}/usage`:
//! how often keys were used and refused, per hour or day.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::TimeBound;
use domain::usage::{Granularity, KeyUsage, ServiceAccountUsage, UsageSeries, UsageWindow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use web::error::{ApiError, ApiResult, Problem};
use web::extract::{ApiKeyPath, ApiQuery, Caller, ServiceAccountPath};
use web::state::AppState;

/// The window of a usage series.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// The start: RFC 3339, or relative such as `now-7d` (default `now-7d`). Rounded down to the
    /// start of its hour or day.
    #[param(value_type = Option<web::schema::TimeBoundText>)]
    pub from: Option<String>,
    /// The end (exclusive): RFC 3339, or relative. Rounded up to a whole hour or day. By default
    /// the window ends with the bucket that holds the present moment.
    #[param(value_type = Option<web::schema::TimeBoundText>)]
    pub to: Option<String>,
    /// `hour` (the default) or `day`, in UTC. A series holds at most 2400 buckets.
    #[param(value_type = Option<String>, pattern = "^(hour|day)$")]
    pub granularity: Option<String>,
}

impl UsageParams {
    /// The window these parameters name, as of `now`.
    pub(crate) fn window(&self, now: DateTime<Utc>) -> Result<UsageWindow, ApiError> {
        let bound = |raw: &Option<String>, field: &str, default: &str| -> Result<DateTime<Utc>, ApiError> {
            let raw = raw.as_deref().unwrap_or(default);
            Ok(TimeBound::parse(raw, field)?.resolve(now))
        };
        let granularity = match self.granularity.as_deref() {
            None | Some("hour") => Granularity::Hour,
            Some("day") => Granularity::Day,
            Some(_) => return Err(domain::ValidationError::new("granularity", "must be `hour` or `day`").into()),
        };
        let from = bound(&self.from, "from", "now-7d")?;
        match &self.to {
            Some(_) => Ok(UsageWindow::new(from, bound(&self.to, "to", "now")?, granularity)?),
            None => Ok(UsageWindow::through(from, now, granularity)?),
        }
    }
}

/// Uses and refusals within one hour or day.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBucketBody {
    /// The start of the bucket (UTC).
    pub start: DateTime<Utc>,
    /// Successful uses: requests it authenticated, and verifications that said yes.
    pub uses: u64,
    /// Refusals: a wrong secret with this key's id, or the key disabled, expired or lacking a scope.
    pub refusals: u64,
}

/// A usage series: every bucket of the window, oldest first, empty ones as zero.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageSeriesBody {
    /// The start of the first bucket.
    pub from: DateTime<Utc>,
    /// The end of the last bucket (exclusive).
    pub to: DateTime<Utc>,
    /// `hour` or `day`.
    #[schema(value_type = String, example = "hour")]
    pub granularity: Granularity,
    /// All uses in the window.
    pub uses: u64,
    /// All refusals in the window.
    pub refusals: u64,
    /// The buckets.
    pub buckets: Vec<UsageBucketBody>,
}

impl From<UsageSeries> for UsageSeriesBody {
    fn from(s: UsageSeries) -> Self {
        Self {
            from: s.window.from(),
            to: s.window.to(),
            granularity: s.window.granularity(),
            uses: s.uses(),
            refusals: s.refusals(),
            buckets: s
                .buckets
                .into_iter()
                .map(|b| UsageBucketBody { start: b.start, uses: b.uses, refusals: b.refusals })
                .collect(),
        }
    }
}

/// One key's totals within a service account's usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyUsageBody {
    /// The key's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its uses in the window.
    pub uses: u64,
    /// Its refusals in the window.
    pub refusals: u64,
    /// When it was last used, ever.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<KeyUsage> for KeyUsageBody {
    fn from(k: KeyUsage) -> Self {
        Self {
            id: k.key_id.to_string(),
            name: k.name.into(),
            uses: k.uses,
            refusals: k.refusals,
            last_used_at: k.last_used_at,
        }
    }
}

/// A service account's usage: all its current keys summed, and each key's totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAccountUsageBody {
    /// All keys together.
    #[serde(flatten)]
    pub series: UsageSeriesBody,
    /// Each current key's totals, most used first.
    pub keys: Vec<KeyUsageBody>,
}

impl From<ServiceAccountUsage> for ServiceAccountUsageBody {
    fn from(u: ServiceAccountUsage) -> Self {
        Self { series: u.series.into(), keys: u.keys.into_iter().map(Into::into).collect() }
    }
}

/// One key's uses and refusals per hour or day. Counts reach storage in batches, a few seconds
/// after the requests they count, and are kept for 90 days unless the operator says otherwise.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/api-keys/{key_id_or_name}/usage",
    tag = "api keys",
    params(ApiKeyPath,
           UsageParams),
    security(("bearer" = [])),
    responses((status = 200, body = UsageSeriesBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn api_key_usage(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ApiKeyPath,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> ApiResult<Json<UsageSeriesBody>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let key = path.key_id_or_name;
    let window = params.window(state.keyward().now())?;
    let series = state.run(move |kw| kw.api_key_usage(&p, account, sa, &key, window)).await?;
    Ok(Json(series.into()))
}

/// A service account's usage: its current keys' uses and refusals summed per hour or day, and
/// each key's totals over the window (a key with 0 uses was not used in it).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/usage",
    tag = "service accounts",
    params(ServiceAccountPath,
           UsageParams),
    security(("bearer" = [])),
    responses((status = 200, body = ServiceAccountUsageBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn service_account_usage(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ServiceAccountPath,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> ApiResult<Json<ServiceAccountUsageBody>> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let window = params.window(state.keyward().now())?;
    let usage = state.run(move |kw| kw.service_account_usage(&p, account, sa, window)).await?;
    Ok(Json(usage.into()))
}
