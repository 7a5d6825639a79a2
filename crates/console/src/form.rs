//! Console forms: URL-encoded bodies that must carry the right CSRF token, checked before the
//! handler runs, so that no handler can forget it.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::layout;
use super::place::{self, Place};
use super::session::{SIGN_IN_COOKIE, Session, cookie};
use web::state::AppState;

fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[derive(Deserialize)]
struct Csrf {
    #[serde(default)]
    csrf: String,
}

/// The page for a form that failed its CSRF check: nothing was changed.
fn forbidden() -> Response {
    let body = maud::html! {
        section.card.narrow {
            h1 { "This form has expired" }
            p { "The form was sent without its security token, so nothing was changed. Go back, reload the page and try again." }
            p { a href="/console" { "Back to the console" } }
        }
    };
    (StatusCode::FORBIDDEN, layout::page("Form refused", None, body)).into_response()
}

/// The fields of a form body and its CSRF token; an unreadable body answers 400.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<(String, T), Box<Response>> {
    let fields = serde_urlencoded::from_bytes::<T>(body).map_err(|_| {
        // The parser's message may quote what was typed, which may be a key: say nothing of it.
        let body = maud::html! {
            section.card.narrow { h1 { "The form could not be read" } p { "Go back, reload the page and try again." } }
        };
        Box::new((StatusCode::BAD_REQUEST, layout::page("Bad form", None, body)).into_response())
    })?;
    let csrf = serde_urlencoded::from_bytes::<Csrf>(body).map(|c| c.csrf).unwrap_or_default();
    Ok((csrf, fields))
}

async fn body(req: Request, state: &AppState) -> Result<(Parts, Bytes), Response> {
    let (parts, body) = req.into_parts();
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((parts, bytes))
}

/// A form posted by a signed-in person, with its session and the place its path names; refused
/// (403) unless it carries the session's CSRF token, which is checked before the path is read.
#[derive(Debug)]
pub(crate) struct SignedForm<T, P = ()> {
    /// Who posted it.
    pub session: Session,
    /// What its path names.
    pub place: P,
    /// Its fields.
    pub fields: T,
}

impl<T: DeserializeOwned + Send, P: Place + Send> FromRequest<AppState> for SignedForm<T, P> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, bytes) = body(req, state).await?;
        let session = Session::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
        let (csrf, fields) = parse::<T>(&bytes).map_err(|r| *r)?;
        if !same(&csrf, &session.csrf) {
            tracing::warn!("console form refused: missing or wrong CSRF token");
            return Err(forbidden());
        }
        let place = place::read(&mut parts, state, &session).await?;
        Ok(Self { session, place, fields })
    }
}

/// The sign-in form: refused (403) unless its CSRF token matches the one its page set in a cookie.
pub(crate) struct PreSessionForm<T> {
    /// The request's head, for the client's address.
    pub parts: Parts,
    /// Its fields.
    pub fields: T,
}

/// Shows the fields only (their own `Debug` hides secrets), never the request head and its cookies.
impl<T: std::fmt::Debug> std::fmt::Debug for PreSessionForm<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreSessionForm").field("fields", &self.fields).finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for PreSessionForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, bytes) = body(req, state).await?;
        let (csrf, fields) = parse::<T>(&bytes).map_err(|r| *r)?;
        let expected = cookie(&parts.headers, SIGN_IN_COOKIE).unwrap_or_default();
        if !same(&csrf, &expected) {
            tracing::warn!("console sign-in refused: missing or wrong CSRF token");
            return Err(forbidden());
        }
        Ok(Self { parts, fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{csrf_for, random_token};

    #[test]
    fn csrf_tokens_differ_per_session_and_compare_exactly() {
        let a = csrf_for("token-a");
        assert_eq!(a.len(), 64);
        assert_ne!(a, csrf_for("token-b"));
        assert!(same(&a, &csrf_for("token-a")));
        assert!(!same("", ""));
        assert!(!same(&a, &a[..63]));
        assert_ne!(random_token(), random_token());
    }
}
