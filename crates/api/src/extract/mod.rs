//! Extractors that turn request parts into domain values, answering bad input with a problem.

mod auth;
mod json;
mod path;
mod query;

pub use auth::Caller;
pub use json::ApiJson;
pub use path::ApiPath;
pub use query::ApiQuery;
