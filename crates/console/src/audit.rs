//! `/console/accounts/{account}/audit`: the audit trail, newest first, with filters.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::audit::{Action, Outcome};
use maud::html;
use serde::Deserialize;

use super::layout::{self, FieldErrors, field_error, page, when};
use super::place::{AccountPlace, SignedIn};
use super::service_accounts::urlencode;
use domain::audit_filter::AuditFilter;
use web::error::ApiError;
use web::list::{next_cursor, page_request};
use web::state::AppState;

/// The filters, as typed; empty means "any".
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    cursor: Option<String>,
}

impl Filters {
    fn query_string(&self) -> String {
        format!(
            "action={}&actor={}&target={}&from={}&to={}",
            urlencode(&self.action),
            urlencode(&self.actor),
            urlencode(&self.target),
            urlencode(&self.from),
            urlencode(&self.to)
        )
    }
}

/// The audit trail of an account.
pub(crate) async fn list(
    State(state): State<AppState>,
    signed_in: SignedIn<AccountPlace>,
    Query(f): Query<Filters>,
) -> Response {
    let SignedIn { session, place: AccountPlace { account } } = signed_in;
    let list = format!("console:audit:{account}?{}", f.query_string());
    let parsed =
        AuditFilter::parse(Some(&f.action), Some(f.actor.clone()), Some(f.target.clone()), Some(&f.from), Some(&f.to))
            .map_err(ApiError::from)
            .and_then(|filter| Ok((filter, page_request(&state, &list, Some("50"), f.cursor.as_deref())?)));
    let (events, errors) = match parsed {
        Ok((filter, page)) => {
            let p = session.principal.clone();
            let result = state.run(move |kw| kw.list_audit_events(&p, account, &filter.query(kw.now(), page))).await;
            match result {
                Ok(events) => (Some(events), FieldErrors::default()),
                Err(e) if e.status() == StatusCode::BAD_REQUEST => (None, FieldErrors::from_api("audit", &e)),
                Err(e) => return layout::error_page(Some(&session), &e),
            }
        }
        Err(e) => (None, FieldErrors::from_api("audit", &e)),
    };
    let next = events.as_ref().and_then(|e| next_cursor(&state, &list, e.next.as_ref()));
    let status = if events.is_some() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let body = html! {
        p.crumbs { a href=(format!("/console/accounts/{account}")) { "Service accounts" } " › Audit trail" }
        h1 { "Audit trail" }
        section.card {
            form.filters method="get" action=(format!("/console/accounts/{account}/audit")) {
                div {
                    label for="action" { "Action" }
                    select #action name="action" {
                        option value="" { "Any" }
                        @for a in Action::ALL { option value=(a.as_str()) selected[a.as_str() == f.action] { (a.as_str()) } }
                    }
                    (field_error(&errors, "audit", "action"))
                }
                div { label for="actor" { "Actor" } input #actor type="text" name="actor" value=(f.actor) placeholder="api_key:…"; }
                div { label for="target" { "Target" } input #target type="text" name="target" value=(f.target) placeholder="service_account:…"; }
                div {
                    label for="from" { "From" } input #from type="text" name="from" value=(f.from) placeholder="now-7d";
                    (field_error(&errors, "audit", "from"))
                }
                div {
                    label for="to" { "To" } input #to type="text" name="to" value=(f.to) placeholder="now";
                    (field_error(&errors, "audit", "to"))
                }
                div { button type="submit" { "Filter" } }
            }
            @if let Some(m) = errors.general("audit") { p.notice.problem role="alert" { (m) } }
        }
        @if let Some(events) = &events {
            section.card {
                @if events.items.is_empty() { p.muted { "No events match." } }
                @else {
                    div.table-wrap { table.stack #events {
                        thead { tr { th { "When" } th { "Action" } th { "Outcome" } th.wide { "Actor" } th.wide { "Target" } th.wide { "Address" } } }
                        tbody {
                            @for e in &events.items {
                                tr {
                                    td { (when(Some(e.at))) }
                                    td { code { (e.action.as_str()) } }
                                    td { @match e.outcome { Outcome::Success => span.badge.active { "success" }, Outcome::Failure => span.badge.failure { "failure" } } }
                                    td.wide data-label="Actor" { code { (e.actor) } }
                                    td.wide data-label="Target" { code { (e.target) } }
                                    td.wide.muted data-label="Address" { (e.ip.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    } }
                }
                div.pager {
                    span {}
                    @if let Some(next) = next {
                        a href=(format!("/console/accounts/{account}/audit?{}&cursor={next}", f.query_string())) { "Older →" }
                    }
                }
            }
        }
    };
    (status, page("Audit trail", Some(&session), body)).into_response()
}
