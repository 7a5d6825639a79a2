//! `/console/accounts/{account}`: an account's service accounts, with search and paging, and the
//! form that creates one.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::id::AccountId;
use domain::service_account::{NewServiceAccount, ServiceAccount};
use domain::text::{Description, Metadata, Name};
use maud::{Markup, html};
use serde::Deserialize;

use super::form::SignedForm;
use super::layout::{self, FieldErrors, field_error, page, when};
use super::place::{AccountPlace, SignedIn};
use super::session::Session;
use web::state::AppState;

/// Service accounts per page.
const PER_PAGE: usize = 20;

/// Search and paging of the list.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Search {
    /// Part of a name or description, any case.
    #[serde(default)]
    q: String,
    /// Which page, from 1.
    page: Option<usize>,
}

/// An account's service accounts.
pub(crate) async fn list(
    State(state): State<AppState>,
    signed_in: SignedIn<AccountPlace>,
    Query(search): Query<Search>,
) -> Response {
    let SignedIn { session, place: AccountPlace { account } } = signed_in;
    render(&state, &session, account, &search, &FieldErrors::default(), StatusCode::OK).await
}

async fn render(
    state: &AppState,
    session: &Session,
    account: AccountId,
    search: &Search,
    errors: &FieldErrors,
    status: StatusCode,
) -> Response {
    let p = session.principal.clone();
    let found = state
        .run(move |kw| {
            let name = kw.get_account(&p, account)?.name;
            Ok::<_, domain::Error>((name, kw.all_service_accounts(&p, account)?))
        })
        .await;
    let (name, all) = match found {
        Ok(found) => found,
        Err(e) => return layout::error_page(Some(session), &e),
    };
    let needle = search.q.trim().to_lowercase();
    let matching: Vec<&ServiceAccount> = all
        .iter()
        .filter(|sa| {
            needle.is_empty()
                || sa.name.as_str().to_lowercase().contains(&needle)
                || sa.description.as_str().to_lowercase().contains(&needle)
        })
        .collect();
    let pages = matching.len().div_ceil(PER_PAGE).max(1);
    let current = search.page.unwrap_or(1).clamp(1, pages);
    let shown = matching.iter().skip((current - 1) * PER_PAGE).take(PER_PAGE);
    let link = |n: usize| format!("/console/accounts/{account}?q={}&page={n}", urlencode(search.q.trim()));
    let body = html! {
        p.crumbs { "Account " strong { (name.as_str()) } " · " a href=(format!("/console/accounts/{account}/audit")) { "audit trail" } " · " a href=(format!("/console/accounts/{account}/webhooks")) { "webhooks" } }
        h1 { "Service accounts" }
        div.grid {
            section.card {
                form.filters method="get" action=(format!("/console/accounts/{account}")) role="search" {
                    div {
                        label for="q" { "Search" }
                        input #q type="search" name="q" value=(search.q) placeholder="Name or description";
                    }
                    div { button type="submit" { "Search" } }
                }
                p.muted { (matching.len()) " of " (all.len()) " service accounts" }
                div.table-wrap { table {
                    thead { tr { th { "Name" } th { "State" } th.wide { "Description" } th.wide { "Created" } } }
                    tbody { @for sa in shown { (row(sa)) } }
                } }
                div.pager {
                    @if current > 1 { a href=(link(current - 1)) { "← Previous" } } @else { span {} }
                    span.muted { "Page " (current) " of " (pages) }
                    @if current < pages { a href=(link(current + 1)) { "Next →" } } @else { span {} }
                }
            }
            section.card {
                h2 { "New service account" }
                @if let Some(m) = errors.general("service_account") { p.notice.problem role="alert" { (m) } }
                form #new-service-account method="post" action=(format!("/console/accounts/{account}")) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label for="sa-name" { "Name" }
                    input #sa-name type="text" name="name" required maxlength="100" placeholder="billing-worker";
                    (field_error(errors, "service_account", "name"))
                    label for="sa-description" { "Description" }
                    input #sa-description type="text" name="description" maxlength="1000";
                    (field_error(errors, "service_account", "description"))
                    button.primary type="submit" { "Create service account" }
                }
            }
        }
    };
    (status, page("Service accounts", Some(session), body)).into_response()
}

fn row(sa: &ServiceAccount) -> Markup {
    html! {
        tr {
            td { a href=(format!("/console/accounts/{}/service-accounts/{}", sa.account_id, sa.id)) { (sa.name.as_str()) } }
            td { @if sa.active { span.badge.active { "active" } } @else { span.badge.disabled { "disabled" } } }
            td.wide.muted { (sa.description.as_str()) }
            td.wide { (when(Some(sa.created_at))) }
        }
    }
}

/// A query-string value, percent-encoded.
pub(crate) fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The new-service-account form.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateServiceAccount {
    name: String,
    #[serde(default)]
    description: String,
}

/// Creates a service account, then shows it.
pub(crate) async fn create(
    State(state): State<AppState>,
    form: SignedForm<CreateServiceAccount, AccountPlace>,
) -> Response {
    let SignedForm { session, place: AccountPlace { account }, fields } = form;
    let p = session.principal.clone();
    let created = async {
        let new = NewServiceAccount {
            name: Name::parse(fields.name.trim(), "name")?,
            description: Description::parse(fields.description.trim(), "description")?,
            active: true,
            metadata: Metadata::default(),
            limits: Default::default(),
        };
        state.run(move |kw| kw.create_service_account(&p, account, new)).await
    }
    .await;
    match created {
        Ok(sa) => Redirect::to(&format!("/console/accounts/{account}/service-accounts/{}", sa.id)).into_response(),
        Err(e) if e.status().is_client_error() && e.status() != StatusCode::FORBIDDEN => {
            let errors = FieldErrors::from_api("service_account", &e);
            render(&state, &session, account, &Search::default(), &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => layout::error_page(Some(&session), &e),
    }
}
