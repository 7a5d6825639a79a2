//! Listing API keys, per service account or account-wide: filters, sort and field selection.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use domain::TimeBound;
use domain::id::ServiceAccountId;
use domain::page::Direction;
use domain::repository::{ApiKeyQuery, ApiKeySort};
use domain::scope::Scope;
use domain::text::Name;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::api_keys::{ApiKeyBody, ApiKeyList, FIELDS, KEY_BYTES};
use web::answer::JsonAnswer;
use web::error::{ApiError, ApiResult, Problem};
use web::extract::{AccountPath, ApiQuery, Caller, ServiceAccountPath};
use web::list::{next_cursor, page_request, parse_bool};
use web::state::AppState;

/// Filters, sort, fields and paging of a key list. Times are RFC 3339, or relative to now such as
/// `now-7d` (units `s`, `m`, `h`, `d`, `w`).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApiKeyListParams {
    /// Only the keys of this service account (in a service account's own list: that one, or nothing).
    #[param(value_type = Option<web::schema::Id>)]
    pub service_account_id: Option<String>,
    /// Only the key with exactly this name.
    #[param(value_type = Option<web::schema::NameText>)]
    pub name: Option<String>,
    /// Only enabled (`true`) or disabled (`false`) keys.
    #[param(value_type = Option<bool>)]
    pub active: Option<String>,
    /// Only keys granted exactly this scope.
    #[param(value_type = Option<web::schema::ScopeText>)]
    pub scope: Option<String>,
    /// Only expired (`true`) or unexpired (`false`) keys.
    #[param(value_type = Option<bool>)]
    pub expired: Option<String>,
    /// Only keys created at or after this time.
    #[param(value_type = Option<web::schema::TimeBoundText>)]
    pub created_from: Option<String>,
    /// Only keys created before this time.
    #[param(value_type = Option<web::schema::TimeBoundText>)]
    pub created_to: Option<String>,
    /// Only keys last used at or after this time.
    #[param(value_type = Option<web::schema::TimeBoundText>)]
    pub last_used_from: Option<String>,
    /// Only keys last used before this time.
    #[param(value_type = Option<web::schema::TimeBoundText>)]
    pub last_used_to: Option<String>,
    /// `created_at` (default), `name`, `last_used_at` or `expires_at`; prefix `-` for descending.
    /// Ties are broken by id; keys never used, or that never expire, come last either way.
    #[param(pattern = r"^-?(created_at|name|last_used_at|expires_at)$")]
    pub sort: Option<String>,
    /// Comma-separated fields to return, such as `id,name,state`; `id` is always returned.
    pub fields: Option<String>,
    /// Items per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn parse_sort(sort: Option<&str>) -> ApiResult<(ApiKeySort, Direction)> {
    let Some(s) = sort else { return Ok(Default::default()) };
    let (direction, field) = s.strip_prefix('-').map_or((Direction::Asc, s), |f| (Direction::Desc, f));
    let field = match field {
        "created_at" => ApiKeySort::CreatedAt,
        "name" => ApiKeySort::Name,
        "last_used_at" => ApiKeySort::LastUsedAt,
        "expires_at" => ApiKeySort::ExpiresAt,
        _ => {
            return Err(ApiError::validation(
                "sort",
                "must be `created_at`, `name`, `last_used_at` or `expires_at`, optionally prefixed with `-`",
            ));
        }
    };
    Ok((field, direction))
}

fn parse_fields(fields: Option<&str>) -> ApiResult<Option<BTreeSet<String>>> {
    let Some(list) = fields else { return Ok(None) };
    let mut chosen = BTreeSet::from(["id".to_owned()]);
    for f in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if !FIELDS.contains(&f) {
            return Err(ApiError::validation(
                "fields",
                format!("unknown field `{f}`; fields are {}", FIELDS.join(", ")),
            ));
        }
        chosen.insert(f.to_owned());
    }
    Ok(Some(chosen))
}

/// A parsed key list request, before the clock resolves its relative times.
struct Request {
    list: String,
    fields: Option<BTreeSet<String>>,
    query: ApiKeyQuery,
    bounds: [Option<TimeBound>; 4],
}

fn parse(state: &AppState, base: String, q: ApiKeyListParams, sa: Option<ServiceAccountId>) -> ApiResult<Request> {
    let bound = |v: &Option<String>, field: &str| v.as_deref().map(|s| TimeBound::parse(s, field)).transpose();
    let bounds = [
        bound(&q.created_from, "created_from")?,
        bound(&q.created_to, "created_to")?,
        bound(&q.last_used_from, "last_used_from")?,
        bound(&q.last_used_to, "last_used_to")?,
    ];
    let (sort, direction) = parse_sort(q.sort.as_deref())?;
    let list = format!(
        "{base}?sa={sa:?}&name={:?}&active={:?}&scope={:?}&expired={:?}&created={:?}..{:?}&used={:?}..{:?}&sort={sort:?}{direction:?}",
        q.name, q.active, q.scope, q.expired, q.created_from, q.created_to, q.last_used_from, q.last_used_to
    );
    let query = ApiKeyQuery {
        service_account_id: sa,
        name: q.name.as_deref().map(|n| Name::parse(n, "name")).transpose()?,
        active: parse_bool(q.active.as_deref(), "active")?,
        scopes_any: q.scope.as_deref().map(|s| Scope::parse(s, "scope")).transpose()?.into_iter().collect(),
        expired: parse_bool(q.expired.as_deref(), "expired")?,
        sort,
        direction,
        page: page_request(state, &list, q.limit.as_deref(), q.cursor.as_deref())?,
        ..Default::default()
    };
    Ok(Request { list, fields: parse_fields(q.fields.as_deref())?, query, bounds })
}

/// Runs a parsed list request and shapes the answer.
async fn answer(
    state: &AppState,
    request: Request,
    run: impl FnOnce(
        &domain::service::Keyward,
        ApiKeyQuery,
    ) -> Result<domain::page::Page<domain::api_key::ApiKey>, domain::Error>
    + Send
    + 'static,
) -> ApiResult<Response> {
    let Request { list, fields, query, bounds } = request;
    let (page, now) = state
        .run(move |kw| {
            let now = kw.now();
            let [cf, ct, uf, ut] = bounds.map(|b| b.map(|b| b.resolve(now)));
            let query = ApiKeyQuery { created_from: cf, created_to: ct, last_used_from: uf, last_used_to: ut, ..query };
            run(kw, query).map(|p| (p, now))
        })
        .await?;
    let next_cursor = next_cursor(state, &list, page.next.as_ref());
    let items: Vec<ApiKeyBody> = page.items.into_iter().map(|k| ApiKeyBody::new(k, now)).collect();
    let capacity = 64 + items.len() * KEY_BYTES;
    let list = ApiKeyList { items, next_cursor };
    let Some(fields) = fields else {
        // Without `fields=`, the typed list is written straight out, with no JSON tree between.
        return Ok(JsonAnswer::new(list, capacity).into_response());
    };
    let mut body =
        serde_json::to_value(list).map_err(|e| ApiError::internal(format!("encoding the list failed: {e}")))?;
    if let Some(items) = body.get_mut("items").and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            item.retain(|k, _| fields.contains(k));
        }
    }
    Ok(Json(body).into_response())
}

/// Lists the keys of a service account, expired ones included, with filters and sort.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/service-accounts/{service_account_id}/api-keys", tag = "api keys",
    params(ServiceAccountPath, ApiKeyListParams),
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyList, description = "With `fields=`, each item holds only the fields asked for."),
              (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id, service_account_id = %path.service_account_id))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: ServiceAccountPath,
    ApiQuery(q): ApiQuery<ApiKeyListParams>,
) -> ApiResult<Response> {
    let (account, sa) = (path.account_id, path.service_account_id);
    let asked =
        q.service_account_id.as_deref().map(|s| ServiceAccountId::parse(s, "service_account_id")).transpose()?;
    let request = parse(&state, format!("/v1/accounts/{account}/service-accounts/{sa}/api-keys"), q, asked)?;
    answer(&state, request, move |kw, query| kw.list_api_keys(&p, account, sa, query)).await
}

/// Lists the keys of a whole account, with filters and sort.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/api-keys", tag = "api keys",
    params(AccountPath, ApiKeyListParams),
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyList, description = "With `fields=`, each item holds only the fields asked for."),
              (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn list_account_api_keys(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: AccountPath,
    ApiQuery(q): ApiQuery<ApiKeyListParams>,
) -> ApiResult<Response> {
    let account = path.account_id;
    let sa = q.service_account_id.as_deref().map(|s| ServiceAccountId::parse(s, "service_account_id")).transpose()?;
    let request = parse(&state, format!("/v1/accounts/{account}/api-keys"), q, sa)?;
    answer(&state, request, move |kw, query| kw.list_account_api_keys(&p, account, query)).await
}
