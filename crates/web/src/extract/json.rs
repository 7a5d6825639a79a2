//! `ApiJson<T>`: a JSON body checked for content type and size and deserialized with the path of
//! the offending field, with unknown fields refused by the request types themselves.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::BodyLimits;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let suffix = subtype.len().checked_sub(5).and_then(|at| subtype.get(at..));
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || suffix.is_some_and(|s| s.eq_ignore_ascii_case("+json")))
}

/// Removes serde_json's " at line L column C" suffix, which means nothing to an API client.
fn without_position(msg: &str) -> &str {
    msg.rsplit_once(" at line ").map_or(msg, |(m, _)| m)
}

/// The deepest nesting of arrays and objects in `bytes`, found without parsing (text inside
/// strings does not count), so that a deep body is refused before it costs anything.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The body limits of the request (`BodyLimits::default()` when the app set none).
pub fn limits_of(req: &Request) -> BodyLimits {
    req.extensions().get::<BodyLimits>().copied().unwrap_or_default()
}

/// Parses a JSON document into `T`, naming the field at fault; refuses nesting deeper than
/// `max_depth`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], max_depth: usize) -> Result<T, ApiError> {
    // Each level opens with a bracket: a body with few of them (a quick count) cannot be too deep.
    let openings = bytes.iter().filter(|&&b| b == b'[' || b == b'{').count();
    if openings > max_depth && nesting_depth(bytes) > max_depth {
        return Err(ApiError::validation(
            "body",
            format!("must not nest arrays and objects deeper than {max_depth} levels"),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // Most bodies are valid: read them without tracking the path, and read a refused body again
    // with the path tracked to name the field at fault (the same input fails the same way).
    if let Ok(value) = T::deserialize(&mut de) {
        de.end().map_err(|_| ApiError::malformed_json("the body has trailing characters after the JSON value"))?;
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            ApiError::malformed_json(format!("the body is not valid JSON: {}", without_position(&msg)))
        } else {
            let field = if path == "." { "body".to_owned() } else { path };
            // A rule of a domain type reports "field: message"; keep only the message.
            let detail = without_position(&msg);
            let detail = detail.strip_prefix(&format!("{field}: ")).unwrap_or(detail);
            ApiError::validation(field, detail)
        }
    })?;
    de.end().map_err(|_| ApiError::malformed_json("the body has trailing characters after the JSON value"))?;
    Ok(value)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(&req) {
            return Err(ApiError::unsupported_media_type());
        }
        let depth = limits_of(&req).max_json_depth;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::body_too_large()
            } else {
                ApiError::malformed_json(e.body_text())
            }
        })?;
        parse_json(&bytes, depth).map(ApiJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(content_type: &str) -> Request {
        axum::http::Request::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(axum::body::Body::empty())
            .unwrap_or_default()
    }

    #[test]
    fn json_media_types_are_recognised_in_any_case() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " application/json ",
            "application/merge-patch+json",
            "APPLICATION/VND.API+JSON",
        ] {
            assert!(is_json(&with_type(ok)), "{ok}");
        }
        for refused in [
            "text/plain",
            "application/jsonx",
            "application/+jso",
            "json",
            "text/json",
            "application/x-www-form-urlencoded",
            "",
        ] {
            assert!(!is_json(&with_type(refused)), "{refused}");
        }
        let none = axum::http::Request::builder().body(axum::body::Body::empty()).unwrap_or_default();
        assert!(!is_json(&none));
    }
}
