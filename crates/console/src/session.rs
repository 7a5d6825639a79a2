//! `Session`: the signed-in credential of a request, read from the session cookie, and the
//! cookies and CSRF tokens that go with it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::principal::Principal;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use web::error::ApiError;
use web::extract::auth::client_ip;
use web::state::AppState;

/// The cookie holding the session's access token.
pub(crate) const SESSION_COOKIE: &str = "kw_console";
/// The cookie holding the sign-in form's CSRF token, before there is a session.
pub(crate) const SIGN_IN_COOKIE: &str = "kw_console_csrf";

/// A signed-in person: the credential they signed in with, as a caller.
pub(crate) struct Session {
    /// Who is acting.
    pub principal: Principal,
    /// The session's access token (never rendered).
    pub(crate) token: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("credential", &self.principal.actor()).finish_non_exhaustive()
    }
}

/// The value of cookie `name`, if the request sent it.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value for the console's path: `HttpOnly`, `SameSite=Strict`, and `Secure` when
/// Keyward's public address is HTTPS.
pub(crate) fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.keyward().issuer().starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Why a request has no session: it must sign in (again), or the session could not be checked.
/// `layout` renders the second as an error page.
#[derive(Debug)]
pub(crate) enum NoSession {
    /// No session cookie, or one whose token is no longer accepted: to the sign-in page.
    SignIn(Response),
    /// The token could not be checked (storage unavailable, say).
    Failed(ApiError),
}

/// Where a request without a usable session goes.
fn to_sign_in(state: &AppState) -> NoSession {
    let mut res = Redirect::to("/console/sign-in").into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(state, SESSION_COOKIE, "", 0));
    NoSession::SignIn(res)
}

impl FromRequestParts<AppState> for Session {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, NoSession> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty() && !t.starts_with("kw_"))
        else {
            return Err(to_sign_in(state));
        };
        let ip = client_ip(parts, state);
        let presented = token.clone();
        match state.run(move |kw| kw.authenticate(&presented, ip)).await {
            Ok(Ok(principal)) => {
                tracing::Span::current().record("credential", principal.credential.audit_ref());
                let csrf = csrf_for(&token);
                Ok(Session { principal, token, csrf })
            }
            Ok(Err(_)) => Err(to_sign_in(state)),
            Err(e) => Err(NoSession::Failed(e)),
        }
    }
}

/// The CSRF token of the session whose access token is `token`: a hash of it, so that only a page
/// that could read the `HttpOnly` cookie's value (that is, one Keyward served) can know it.
pub(crate) fn csrf_for(token: &str) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"keyward console csrf\0");
    ctx.update(token.as_bytes());
    hex(ctx.finish().as_ref())
}

/// 32 random bytes, as hex: the sign-in form's CSRF token.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The system's random source does not fail on Linux; if it ever did, the token would be all
    // zeros and the sign-in form, not any session, would be what it guards.
    let _ = SystemRandom::new().fill(&mut bytes);
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
