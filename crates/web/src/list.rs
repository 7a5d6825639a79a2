//! List plumbing shared by every collection: `limit`, `cursor` and `next_cursor`.

use domain::page::{Limit, PageRequest, Position};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Builds the page request from the raw `limit` and `cursor` parameters. `list` identifies the
/// list (path, filters and sort), so that a cursor from another list is refused.
pub fn page_request(state: &AppState, list: &str, limit: Option<&str>, cursor: Option<&str>) -> ApiResult<PageRequest> {
    let limit = limit.map(Limit::parse).transpose()?.unwrap_or_default();
    let after = match cursor {
        Some(c) => Some(state.cursors().decode(list, c).map_err(|e| ApiError::validation(e.field, e.message))?),
        None => None,
    };
    Ok(PageRequest { limit, after, skip: 0, may_lag: true })
}

/// The cursor for the next page, if there is one.
pub fn next_cursor(state: &AppState, list: &str, next: Option<&Position>) -> Option<String> {
    next.map(|p| state.cursors().encode(list, p))
}

/// The query of a list that only pages (in creation order): `limit` and `cursor`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u16>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Declares a list body type `{ items: [...], next_cursor }` for an item type.
#[macro_export]
macro_rules! list_body {
    ($name:ident, $item:ty) => {
        #[doc = concat!("A page of `", stringify!($item), "` items.")]
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            /// The items of this page.
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; `null` on the last page.
            pub next_cursor: Option<String>,
        }
    };
}
pub use crate::list_body;

/// Parses an optional boolean query parameter.
pub fn parse_bool(value: Option<&str>, field: &str) -> ApiResult<Option<bool>> {
    match value {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::validation(field, "must be `true` or `false`")),
    }
}
