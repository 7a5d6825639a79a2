//! `ApiQuery<T>`: the query string deserialized with the name of the offending parameter.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Query parameters of type `T`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let msg = e.into_inner().to_string();
            // Unknown parameters are reported by serde at the top level; name them from the message.
            let field = if path == "." {
                msg.split('`').nth(1).map_or_else(|| "query".to_owned(), str::to_owned)
            } else {
                path
            };
            ApiError::validation(field, msg)
        })
    }
}
