//! `/console` and `/console/accounts`: where a person lands, and the accounts (system admin).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::account::{Account, NewAccount};
use domain::text::Name;
use maud::{Markup, html};
use serde::Deserialize;

use super::form::SignedForm;
use super::layout::{self, FieldErrors, field_error, page, when};
use super::session::Session;
use web::list::{next_cursor, page_request};
use web::state::AppState;

const LIST: &str = "console:accounts";

/// `/console`: a system admin starts at the accounts, everyone else at their own account.
pub(crate) async fn home(session: Session) -> Redirect {
    if session.principal.is_system_admin() {
        Redirect::to("/console/accounts")
    } else {
        Redirect::to(&format!("/console/accounts/{}", session.principal.account_id))
    }
}

/// Paging of the accounts list.
#[derive(Debug, Deserialize)]
pub(crate) struct Paging {
    cursor: Option<String>,
}

/// Every account (system admin).
pub(crate) async fn list(State(state): State<AppState>, session: Session, Query(q): Query<Paging>) -> Response {
    render(&state, &session, q.cursor.as_deref(), &FieldErrors::default(), StatusCode::OK).await
}

async fn render(
    state: &AppState,
    session: &Session,
    cursor: Option<&str>,
    errors: &FieldErrors,
    status: StatusCode,
) -> Response {
    let request = match page_request(state, LIST, Some("25"), cursor) {
        Ok(r) => r,
        Err(e) => return layout::error_page(Some(session), &e),
    };
    let p = session.principal.clone();
    let accounts = match state.run(move |kw| kw.list_accounts(&p, &request)).await {
        Ok(page) => page,
        Err(e) => return layout::error_page(Some(session), &e),
    };
    let next = next_cursor(state, LIST, accounts.next.as_ref());
    let body = html! {
        h1 { "Accounts" }
        div.grid {
            section.card {
                div.table-wrap { table {
                    thead { tr { th { "Name" } th { "Kind" } th.wide { "Created" } } }
                    tbody { @for a in &accounts.items { (row(a)) } }
                } }
                div.pager {
                    span {}
                    @if let Some(next) = next { a href=(format!("/console/accounts?cursor={next}")) { "Next page →" } }
                }
            }
            section.card {
                h2 { "New account" }
                @if let Some(m) = errors.general("account") { p.notice.problem role="alert" { (m) } }
                form method="post" action="/console/accounts" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label for="account-name" { "Name" }
                    input #account-name type="text" name="name" required maxlength="100";
                    (field_error(errors, "account", "name"))
                    button.primary type="submit" { "Create account" }
                }
            }
        }
    };
    (status, page("Accounts", Some(session), body)).into_response()
}

fn row(a: &Account) -> Markup {
    html! {
        tr {
            td { a href=(format!("/console/accounts/{}", a.id)) { (a.name.as_str()) } }
            td { @if a.system { span.badge { "system" } } @else { span.muted { "tenant" } } }
            td.wide { (when(Some(a.created_at))) }
        }
    }
}

/// The new-account form.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateAccount {
    name: String,
}

/// Creates an account (system admin), then shows it.
pub(crate) async fn create(State(state): State<AppState>, form: SignedForm<CreateAccount>) -> Response {
    let SignedForm { session, fields, .. } = form;
    let p = session.principal.clone();
    let created = async {
        let name = Name::parse(fields.name.trim(), "name")?;
        state.run(move |kw| kw.create_account(&p, NewAccount { name })).await
    }
    .await;
    match created {
        Ok(a) => Redirect::to(&format!("/console/accounts/{}", a.id)).into_response(),
        Err(e) if e.status().is_client_error() && e.status() != StatusCode::FORBIDDEN => {
            let errors = FieldErrors::from_api("account", &e);
            render(&state, &session, None, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => layout::error_page(Some(&session), &e),
    }
}
