//! `/console/accounts/{account}/webhooks`: an account's webhook endpoints and how their
//! deliveries went. An administrator adds one (its secret shown once) and removes one.

use std::collections::BTreeMap;
use std::num::NonZeroU16;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::id::AccountId;
use domain::notification::EventType;
use domain::page::{Limit, Page, PageRequest};
use domain::webhook::{Delivery, NewWebhook, Webhook};
use maud::{Markup, html};
use serde::Deserialize;

use super::form::SignedForm;
use super::layout::{self, Empty, FieldErrors, Notice, field_error, page, when};
use super::place::{AccountPlace, SignedIn, WebhookPlace};
use super::session::Session;
use web::state::AppState;

/// The form's name, for its errors.
const FORM: &str = "webhooks";

/// How many of an endpoint's latest deliveries the page shows.
const LATEST: NonZeroU16 = NonZeroU16::new(10).expect("ten is not zero");

/// What a page shows beyond the list.
#[derive(Debug, Default)]
struct Extra {
    errors: FieldErrors,
    notice: Option<Notice>,
    /// A new endpoint's secret, shown once.
    secret: Option<domain::secret::SecretString>,
}

/// The new-endpoint form: the URL, and a field `event.<type>` for every event type ticked.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateForm {
    url: String,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

impl CreateForm {
    /// The event types ticked.
    fn events(&self) -> Vec<String> {
        self.rest.keys().filter_map(|k| k.strip_prefix("event.")).map(str::to_owned).collect()
    }
}

/// Shows an account's webhook endpoints.
pub(crate) async fn list(State(state): State<AppState>, signed_in: SignedIn<AccountPlace>) -> Response {
    let SignedIn { session, place: AccountPlace { account } } = signed_in;
    render(&state, &session, account, Extra::default(), StatusCode::OK).await
}

/// Adds a webhook endpoint.
pub(crate) async fn create(State(state): State<AppState>, form: SignedForm<CreateForm, AccountPlace>) -> Response {
    let SignedForm { session, place: AccountPlace { account }, fields } = form;
    let p = session.principal.clone();
    let new = NewWebhook { url: fields.url.trim().to_owned(), events: fields.events(), active: true };
    match state.run(move |kw| kw.create_webhook(&p, account, new)).await {
        Ok((_, secret)) => {
            let extra = Extra { secret: Some(secret), ..Extra::default() };
            render(&state, &session, account, extra, StatusCode::CREATED).await
        }
        Err(e) if e.status().is_client_error() && e.status() != StatusCode::NOT_FOUND => {
            let extra = Extra { errors: FieldErrors::from_api(FORM, &e), ..Extra::default() };
            render(&state, &session, account, extra, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => layout::error_page(Some(&session), &e),
    }
}

/// Removes a webhook endpoint.
pub(crate) async fn delete(State(state): State<AppState>, form: SignedForm<Empty, WebhookPlace>) -> Response {
    let SignedForm { session, place: WebhookPlace { account, id }, .. } = form;
    let p = session.principal.clone();
    match state.run(move |kw| kw.delete_webhook(&p, account, id)).await {
        Ok(()) => Redirect::to(&format!("/console/accounts/{account}/webhooks")).into_response(),
        Err(e) => layout::error_page(Some(&session), &e),
    }
}

async fn render(state: &AppState, session: &Session, account: AccountId, extra: Extra, status: StatusCode) -> Response {
    let p = session.principal.clone();
    let loaded = state
        .run(move |kw| {
            let latest = PageRequest { limit: Limit::of(LATEST), after: None, skip: 0, may_lag: false };
            let hooks = Page::collect_all(|page| kw.list_webhooks(&p, account, &page))?;
            let mut shown = Vec::with_capacity(hooks.len());
            for hook in hooks {
                let deliveries = kw.list_deliveries(&p, account, hook.id, &latest)?.items;
                shown.push((hook, deliveries));
            }
            Ok::<_, domain::Error>(shown)
        })
        .await;
    let hooks = match loaded {
        Ok(hooks) => hooks,
        Err(e) => return layout::error_page(Some(session), &e),
    };
    let base = format!("/console/accounts/{account}/webhooks");
    let body = html! {
        p.crumbs { a href=(format!("/console/accounts/{account}")) { "Service accounts" } " › Webhooks" }
        h1 { "Webhooks" }
        p.muted { "Endpoints told of leaks, rotations, revocations and expiries of this account's keys, signed as Standard Webhooks says. See docs/webhooks.md." }
        @if let Some(n) = &extra.notice { (layout::notice(n)) }
        @if let Some(secret) = &extra.secret {
            section.card.secret aria-live="polite" {
                h2 { "Copy the endpoint's signing secret now" }
                p { "It is shown only this once; the receiver verifies every delivery with it." }
                div.reveal {
                    input #new-secret type="text" readonly value=(secret.expose()) aria-label="The signing secret";
                    button type="button" data-copy="new-secret" { "Copy" }
                }
                p.copied #new-secret-status role="status" {}
            }
        }
        @for (hook, deliveries) in &hooks { (hook_card(session, &base, hook, deliveries)) }
        @if hooks.is_empty() { p.muted { "None yet." } }
        (create_card(session, &base, &extra.errors))
    };
    (status, page("Webhooks", Some(session), body)).into_response()
}

fn hook_card(session: &Session, base: &str, hook: &Webhook, deliveries: &[Delivery]) -> Markup {
    html! {
        section.card data-webhook=(hook.id) {
            h2 {
                code { (hook.url.as_str()) } " "
                @if hook.active { span.badge.active { "active" } } @else { span.badge.disabled { "inactive" } }
            }
            p { @for t in hook.events.iter() { code { (t.as_str()) } " " } }
            @if deliveries.is_empty() { p.muted { "No deliveries yet." } } @else {
                div.table-wrap { table {
                    thead { tr { th { "Event" } th { "State" } th { "Attempts" } th.wide { "Last answer" } th.wide { "When" } } }
                    tbody {
                        @for d in deliveries {
                            tr data-delivery=(d.id) {
                                td { code { (d.event_type.as_str()) } }
                                td { (delivery_badge(d)) }
                                td { (d.attempts) }
                                td.wide {
                                    @if let Some(status) = d.last_status { "HTTP " (status) }
                                    @else if let Some(e) = &d.last_error { (e) }
                                    @else { span.muted { "none yet" } }
                                }
                                td.wide { (when(Some(d.created_at))) }
                            }
                        }
                    }
                } }
            }
            details {
                summary { "Remove…" }
                form method="post" action=(format!("{base}/{}/delete", hook.id)) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    p { "Its pending deliveries are dropped." }
                    button.danger type="submit" { "Remove it" }
                }
            }
        }
    }
}

fn delivery_badge(d: &Delivery) -> Markup {
    use domain::webhook::DeliveryState;
    match d.state {
        DeliveryState::Delivered => html! { span.badge.active { "delivered" } },
        DeliveryState::Pending => html! { span.badge.disabled { "pending" } },
        DeliveryState::Failed => html! { span.badge.failure { "failed" } },
    }
}

fn create_card(session: &Session, base: &str, errors: &FieldErrors) -> Markup {
    html! {
        section.card #new-webhook {
            @if let Some(m) = errors.general(FORM) { p.notice.problem role="alert" { (m) } }
            details open[errors.form == FORM] {
                summary { "Add an endpoint" }
                form method="post" action=(base) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label for="wh-url" { "URL" }
                    input #wh-url type="url" name="url" required placeholder="https://hooks.example.com/keyward";
                    (field_error(errors, FORM, "url"))
                    fieldset {
                        legend { "Events" }
                        @for t in EventType::ALL {
                            label.check {
                                input type="checkbox" name=(format!("event.{}", t.as_str())) value="on" checked;
                                " " code { (t.as_str()) }
                            }
                        }
                    }
                    (field_error(errors, FORM, "events"))
                    button.primary type="submit" { "Add endpoint" }
                }
            }
        }
    }
}
