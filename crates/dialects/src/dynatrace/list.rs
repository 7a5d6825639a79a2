//! `GET /api/v2/apiTokens`: the account's tokens with Dynatrace's selector, fields, time range,
//! sort and `nextPageKey` paging.
//!
//! A `nextPageKey` carries the whole query it continues (Dynatrace asks clients to send it alone)
//! and Keyward's signed cursor, which is bound to that query and to the caller's account: a key
//! edited to ask for another query, or replayed by another account, is refused.

use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::page::{Limit, PageRequest};
use domain::repository::ApiKeyQuery;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::query::{Selector, parse_fields, parse_sort, parse_time};
use super::wire::{ApiToken, ApiTokenList, DynatraceError};
use super::{Dynatrace, TAG};
use crate::{DialectCaller, DialectResult, Query};
use web::error::ApiError;
use web::state::AppState;

/// The query of a token list.
#[derive(Debug, Default, Clone, Deserialize, Serialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// The key of the next page, from the previous answer; sent alone, without other parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_key: Option<String>,
    /// Tokens per page, 100 to 10000 (default 200).
    #[param(value_type = Option<u16>, minimum = 100, maximum = 10000)]
    pub page_size: Option<String>,
    /// `owner("name")`, `personalAccessToken(false)`, `scope("a","b")` (any of them), separated by
    /// commas; all must hold.
    pub api_token_selector: Option<String>,
    /// `+x` / `-x` to add to or remove from the default fields (id, name, enabled, owner,
    /// creationDate), or a plain list of fields; `id` is always returned.
    pub fields: Option<String>,
    /// Only tokens last used at or after this time: UTC milliseconds, ISO 8601, or `now-NU[/A]`.
    pub from: Option<String>,
    /// Only tokens last used before this time (no bound when absent, which for past uses is now).
    pub to: Option<String>,
    /// `name`, `lastUsedDate`, `creationDate` or `expirationDate`, prefixed `+` (default) or `-`;
    /// `-creationDate` when absent. Tokens never used, or that never expire, come last.
    pub sort: Option<String>,
}

/// The page key: the query and Keyward's cursor within it.
#[derive(Debug, Serialize, Deserialize)]
struct PageKey {
    q: ListParams,
    c: String,
}

/// The list a cursor is bound to: this account's tokens under exactly this query.
fn list_id(account: domain::id::AccountId, q: &ListParams) -> String {
    format!("dynatrace:/api/v2/apiTokens?account={account}&{}", serde_json::to_string(q).unwrap_or_default())
}

fn page_key_error() -> ApiError {
    ApiError::validation("nextPageKey", "is not a page key of this list; start again without it")
}

/// Reads a `nextPageKey` into the query it continues and the position to resume from.
fn resume(state: &AppState, account: domain::id::AccountId, key: &str) -> Result<(ListParams, PageRequest), ApiError> {
    let bytes = URL_SAFE_NO_PAD.decode(key).map_err(|_| page_key_error())?;
    let PageKey { q, c } = serde_json::from_slice(&bytes).map_err(|_| page_key_error())?;
    let after = state.cursors().decode(&list_id(account, &q), &c).map_err(|_| page_key_error())?;
    let limit = page_size(q.page_size.as_deref())?;
    Ok((q, PageRequest { limit, after: Some(after), skip: 0, may_lag: true }))
}

fn page_size(raw: Option<&str>) -> Result<Limit, ApiError> {
    Ok(raw.map(|s| Limit::parse_between(s, 100, 10_000, "pageSize")).transpose()?.unwrap_or(DEFAULT_PAGE_SIZE))
}

/// Dynatrace's default page size.
const DEFAULT_PAGE_SIZE: Limit = Limit::of(std::num::NonZeroU16::new(200).expect("200 is not zero"));

/// Lists the tokens of the caller's account.
#[utoipa::path(get, path = "/api/v2/apiTokens", tag = TAG, params(ListParams),
    security(("api_token" = [])),
    responses((status = 200, body = ApiTokenList, description = "A page of tokens, each with the fields `fields` selects."),
              (status = "4XX", body = DynatraceError, description = "Refused: bad parameters (400), no or a bad token (401), a missing scope (403).")))]
#[tracing::instrument(skip_all)]
pub async fn list_api_tokens(
    State(state): State<AppState>,
    DialectCaller(p, _): DialectCaller<Dynatrace>,
    Query(params, _): Query<Dynatrace, ListParams>,
) -> DialectResult<axum::Json<ApiTokenList>, Dynatrace> {
    let account = p.account_id;
    let (q, page) = match params.next_page_key.as_deref() {
        Some(key) => {
            let rest = ListParams { next_page_key: None, ..params.clone() };
            if serde_json::to_value(&rest).ok() != serde_json::to_value(ListParams::default()).ok() {
                return Err(
                    ApiError::validation("nextPageKey", "send nextPageKey alone, without other parameters").into()
                );
            }
            resume(&state, account, key)?
        }
        None => {
            let limit = page_size(params.page_size.as_deref())?;
            (params, PageRequest { limit, after: None, skip: 0, may_lag: true })
        }
    };
    let selector = q.api_token_selector.as_deref().map(Selector::parse).transpose()?.unwrap_or_default();
    let fields = parse_fields(q.fields.as_deref())?;
    let (sort, direction) = parse_sort(q.sort.as_deref())?;
    let from = q.from.as_deref().map(|s| parse_time(s, "from")).transpose()?;
    let to = q.to.as_deref().map(|s| parse_time(s, "to")).transpose()?;
    let page_size = u16::try_from(page.limit.get()).unwrap_or(u16::MAX);
    let list = list_id(account, &q);
    let personal_only = selector.personal == Some(true);
    let query =
        ApiKeyQuery { owner: selector.owner, scopes_any: selector.scopes, sort, direction, page, ..Default::default() };
    let (keys, next, owners) = state
        .run(move |kw| {
            let now = kw.now();
            let query = ApiKeyQuery {
                last_used_from: from.map(|b| b.resolve(now)),
                last_used_to: to.map(|b| b.resolve(now)),
                ..query
            };
            let page = kw.list_account_api_keys(&p, account, query)?;
            // Keyward has no personal access tokens: `personalAccessToken(true)` selects none.
            let keys = if personal_only { Vec::new() } else { page.items };
            let owners = kw.key_owners(&p, account, &keys.iter().collect::<Vec<_>>())?;
            Ok((keys, if personal_only { None } else { page.next }, owners))
        })
        .await?;
    let next_page_key = next.map(|position| {
        let key = PageKey { c: state.cursors().encode(&list, &position), q };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&key).unwrap_or_default())
    });
    let api_tokens = keys
        .into_iter()
        .map(|k| {
            let owner = owners.iter().find(|sa| sa.id == k.service_account_id).map(|sa| sa.name.as_str().to_owned());
            let mut value = serde_json::to_value(ApiToken::new(k, owner.unwrap_or_default())).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.retain(|name, _| fields.contains(name.as_str()));
            }
            value
        })
        .collect();
    Ok(axum::Json(ApiTokenList { page_size, next_page_key, api_tokens }))
}
