//! The console's frame: the page layout, navigation, notices, field errors and error pages.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::session::{NoSession, Session};
use web::error::ApiError;

/// A form with no fields but its CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct Empty {}

/// A message at the top of a page.
#[derive(Debug)]
pub(crate) enum Notice {
    /// Something was done.
    Done(&'static str),
    /// Something went wrong, not tied to one field.
    Problem(String),
}

/// A problem tied to one field of one form, shown next to it.
#[derive(Debug, Default)]
pub(crate) struct FieldErrors {
    /// Which form (`service_account`, `api-keys`, ...).
    pub form: &'static str,
    /// The field and what is wrong with it.
    pub field: Option<(String, String)>,
    /// What is wrong, when no field is at fault.
    pub general: Option<String>,
}

impl FieldErrors {
    /// The errors of `form` from a domain answer: a name already taken is the `name` field's
    /// problem, a scope that cannot be granted the `scopes` field's.
    pub fn from_api(form: &'static str, e: &ApiError) -> Self {
        let field = match (e.field(), e.code()) {
            (Some(f), _) => Some(f.to_owned()),
            (None, "name_taken") => Some("name".to_owned()),
            (None, "scope_not_grantable") => Some("scopes".to_owned()),
            _ => None,
        };
        match field {
            Some(f) => Self { form, field: Some((f, sentence(e.detail()))), general: None },
            None => Self { form, field: None, general: Some(sentence(e.detail())) },
        }
    }

    /// The message for `field` of `form`, if it has one.
    pub fn on(&self, form: &str, field: &str) -> Option<&str> {
        match &self.field {
            Some((f, message)) if self.form == form && f == field => Some(message),
            _ => None,
        }
    }

    /// The message for `form` that no field it shows holds, if any.
    pub fn general(&self, form: &str) -> Option<&str> {
        if self.form != form {
            return None;
        }
        if let Some(general) = &self.general {
            return Some(general);
        }
        match &self.field {
            Some((f, message)) if !KNOWN_FIELDS.contains(&f.as_str()) => Some(message),
            _ => None,
        }
    }
}

/// The fields the console's forms show, so that an error about any other lands at the form's top.
const KNOWN_FIELDS: &[&str] = &[
    "name",
    "description",
    "scopes",
    "ttl_days",
    "retain_period_seconds",
    "expires_at",
    "ttl_seconds",
    "issuer",
    "audiences",
    "subject",
    "claims",
    "max_ttl_seconds",
];

/// A message as a sentence: capital first letter, full stop.
pub(crate) fn sentence(s: &str) -> String {
    let mut out: String = s.chars().take(1).flat_map(char::to_uppercase).chain(s.chars().skip(1)).collect();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// The error under a field, if any.
pub(crate) fn field_error(errors: &FieldErrors, form: &str, field: &str) -> Markup {
    html! {
        @if let Some(message) = errors.on(form, field) {
            p.field-error role="alert" data-field=(field) { (message) }
        }
    }
}

/// A notice box.
pub(crate) fn notice(n: &Notice) -> Markup {
    match n {
        Notice::Done(text) => html! { p.notice.done role="status" { (text) } },
        Notice::Problem(text) => html! { p.notice.problem role="alert" { (text) } },
    }
}

/// A time as people read it, in UTC.
pub(crate) fn when(t: Option<DateTime<Utc>>) -> Markup {
    match t {
        Some(t) => html! { time datetime=(t.to_rfc3339()) title=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M")) } },
        None => html! { span.muted { "never" } },
    }
}

/// A whole page: the frame, the navigation for `session` (none on the sign-in page) and `body`.
pub(crate) fn page(title: &str, session: Option<&Session>, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Keyward" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/console" { "Keyward" }
                    @if let Some(s) = session {
                        nav {
                            a href=(format!("/console/accounts/{}", s.principal.account_id)) { "Service accounts" }
                            a href=(format!("/console/accounts/{}/audit", s.principal.account_id)) { "Audit" }
                            @if s.principal.is_system_admin() {
                                a href="/console/accounts" { "Accounts" }
                                a href="/console/signing-keys" { "Signing keys" }
                            }
                        }
                        form.sign-out method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            span.who title="The credential you signed in with" { (s.principal.actor()) }
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    Html(markup.into_string())
}

/// A page for an error that ends the request: not found, forbidden, storage unavailable.
pub(crate) fn error_page(session: Option<&Session>, e: &ApiError) -> Response {
    let title = match e.status() {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
        _ => "Something went wrong",
    };
    let body = html! {
        section.card.narrow {
            h1 { (title) }
            p { (sentence(e.detail())) }
            p { a href="/console" { "Back to the console" } }
        }
    };
    (e.status(), page(title, session, body)).into_response()
}

/// A request without a session: to the sign-in page, or an error page when the session could not
/// be checked.
impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        match self {
            NoSession::SignIn(to_sign_in) => to_sign_in,
            NoSession::Failed(e) => error_page(None, &e),
        }
    }
}
