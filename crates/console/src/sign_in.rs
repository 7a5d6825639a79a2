//! Signing in to the console and out of it: the sign-in page, the exchange of a key for a session,
//! and the revocation of the session's token.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::service::{AccessToken, TokenTerms};
use maud::html;
use serde::Deserialize;

use super::form::{PreSessionForm, SignedForm};
use super::layout::{self, Notice};
use super::session::{SESSION_COOKIE, SIGN_IN_COOKIE, Session, cookie, random_token, set_cookie};
use web::extract::auth::client_ip;
use web::limiter::named_credential;
use web::state::AppState;

/// `?signed_out` after signing out.
#[derive(Debug, Deserialize)]
pub(crate) struct SignInQuery {
    signed_out: Option<String>,
}

/// The sign-in page.
pub(crate) async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<SignInQuery>,
) -> Response {
    let notice = q.signed_out.map(|_| Notice::Done("You are signed out; the session's token is revoked."));
    sign_in_form(&state, &headers, StatusCode::OK, notice)
}

fn sign_in_form(state: &AppState, headers: &HeaderMap, status: StatusCode, notice: Option<Notice>) -> Response {
    let csrf = cookie(headers, SIGN_IN_COOKIE).filter(|c| c.len() == 64).unwrap_or_else(random_token);
    let body = html! {
        section.card.narrow {
            h1 { "Sign in to Keyward" }
            p.muted { "Use an API key, or a secret key's id and secret. The console trades it for a short-lived token; the key is not kept in your browser." }
            @if let Some(n) = &notice { (layout::notice(n)) }
            form method="post" action="/console/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                label for="key" { "API key" }
                input #key type="password" name="key" autocomplete="off" spellcheck="false" placeholder="kw_ak_…";
                details {
                    summary { "Sign in with a secret key instead" }
                    label for="client_id" { "Secret key id" }
                    input #client_id type="text" name="client_id" autocomplete="off" spellcheck="false";
                    label for="client_secret" { "Secret" }
                    input #client_secret type="password" name="client_secret" autocomplete="off";
                }
                button.primary type="submit" { "Sign in" }
            }
        }
    };
    let mut res = (status, layout::page("Sign in", None, body)).into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(state, SIGN_IN_COOKIE, &csrf, 3600));
    res
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub(crate) struct SignIn {
    #[serde(default)]
    key: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("key", &"[REDACTED]")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .finish()
    }
}

/// Exchanges a key for a session. A refusal counts toward the failed-authentication limiter.
#[tracing::instrument(skip_all, fields(credential = tracing::field::Empty))]
pub(crate) async fn sign_in(State(state): State<AppState>, form: PreSessionForm<SignIn>) -> Response {
    let PreSessionForm { parts, fields } = form;
    let ip = client_ip(&parts, &state);
    let key = fields.key.trim().to_owned();
    let (client_id, client_secret) = (fields.client_id.trim().to_owned(), fields.client_secret.trim().to_owned());
    let named = if key.is_empty() { Some(client_id.clone()) } else { named_credential(&key) };
    let outcome = state
        .run(move |kw| -> Result<Option<AccessToken>, domain::Error> {
            if !key.is_empty() {
                Ok(kw.login_with_api_key(&key, ip)?.ok())
            } else if !client_id.is_empty() {
                Ok(kw.client_credentials(&client_id, &client_secret, TokenTerms { ip, ..TokenTerms::default() })?.ok())
            } else {
                Ok(None)
            }
        })
        .await;
    match outcome {
        Ok(Some(token)) => {
            let mut res = Redirect::to("/console").into_response();
            let cookie = set_cookie(&state, SESSION_COOKIE, token.token.expose(), token.expires_in);
            res.headers_mut().append(header::SET_COOKIE, cookie);
            res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SIGN_IN_COOKIE, "", 0));
            res
        }
        Ok(None) => {
            tracing::info!("console sign-in refused");
            let refused = web::error::ApiError::unauthenticated("the key was not accepted", true);
            let answer = state.limiter().refuse(ip, named.as_deref(), refused).await;
            let notice = match answer.retry_after() {
                Some(secs) => Notice::Problem(format!("Too many failed sign-ins. Try again in {secs} seconds.")),
                None => Notice::Problem("That key was not accepted. Check it and try again.".to_owned()),
            };
            sign_in_form(&state, &parts.headers, answer.status(), Some(notice))
        }
        Err(e) => layout::error_page(None, &e),
    }
}

/// Signs out: revokes the session's token and forgets the cookie.
pub(crate) async fn sign_out(State(state): State<AppState>, form: SignedForm<layout::Empty>) -> Response {
    let Session { principal, token, .. } = form.session;
    if let Err(e) = state.run(move |kw| kw.revoke_access_token(&principal, &token)).await {
        return layout::error_page(None, &e);
    }
    to_sign_out(&state)
}

fn to_sign_out(state: &AppState) -> Response {
    let mut res = Redirect::to("/console/sign-in?signed_out=1").into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(state, SESSION_COOKIE, "", 0));
    res
}

#[cfg(test)]
mod tests {
    use super::SignIn;

    #[test]
    fn the_sign_in_form_never_shows_its_secrets() {
        let form = SignIn { key: "kw_ak_secret".into(), client_id: "id".into(), client_secret: "kw_sk_secret".into() };
        let shown = format!("{form:?}");
        assert!(!shown.contains("secret\"") && !shown.contains("kw_"), "{shown}");
    }
}
