//! `/console/accounts/{account}/service-accounts/{sa}`: one service account, its API keys and
//! secret keys with what can be done to them, and its keys' usage over the last week.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::id::{AccountId, ServiceAccountId};
use domain::key::KeyState;
use domain::limits::UsageLimits;
use domain::scope::Scopes;
use domain::usage::{Granularity, ServiceAccountUsage, UsageWindow};
use maud::{Markup, html};

use super::chart;
use super::kind::Kind;
use super::layout::{self, FieldErrors, Notice, field_error, page, when};
use super::place::{ServiceAccountPlace, SignedIn};
use super::session::Session;
use web::state::AppState;

/// Keys unused for this many days are listed as such.
const UNUSED_DAYS: i64 = 30;

/// A secret shown once, right after it was made.
#[derive(Debug)]
pub(crate) struct Revealed {
    /// Which kind of key.
    pub kind: Kind,
    /// The key's name.
    pub name: String,
    /// The credential string.
    pub secret: domain::secret::SecretString,
}

/// What a page shows beyond the service account itself.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    /// A secret to show once.
    pub revealed: Option<Revealed>,
    /// Problems with a form.
    pub errors: FieldErrors,
    /// A message at the top.
    pub notice: Option<Notice>,
}

/// `?done=...` after an action, naming what was done.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

/// Shows a service account.
pub(crate) async fn show(
    State(state): State<AppState>,
    signed_in: SignedIn<ServiceAccountPlace>,
    axum::extract::Query(done): axum::extract::Query<Done>,
) -> Response {
    let SignedIn { session, place: ServiceAccountPlace { account, sa } } = signed_in;
    let notice = done.done.as_deref().and_then(done_notice).map(Notice::Done);
    render(&state, &session, account, sa, Extra { notice, ..Extra::default() }, StatusCode::OK).await
}

fn done_notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "disabled" => "The key is disabled: it is refused until enabled again.",
        "enabled" => "The key is enabled.",
        "re-enabled" => "The key is enabled again; its leak report is acknowledged.",
        "deleted" => "The key is deleted.",
        _ => return None,
    })
}

/// The row of an API key or a secret key: both have these fields, under these names.
macro_rules! key_row {
    ($k:expr, $now:expr) => {
        KeyRow {
            id: $k.id.to_string(),
            name: $k.name.as_str().to_owned(),
            state: $k.state($now),
            scopes: $k.scopes.clone(),
            expires_at: $k.expires_at,
            last_used_at: $k.last_used_at,
            created_at: $k.created_at,
            bound: false,
            limits: None,
        }
    };
}
/// The page, with `extra`; `status` lets a form with errors answer 422.
pub(crate) async fn render(
    state: &AppState,
    session: &Session,
    account: AccountId,
    sa: ServiceAccountId,
    extra: Extra,
    status: StatusCode,
) -> Response {
    let p = session.principal.clone();
    let window = UsageWindow::last_days(state.keyward().now(), 7, Granularity::Hour);
    let loaded = state
        .run(move |kw| {
            let owner = kw.get_service_account(&p, account, sa)?;
            let api_keys = kw.all_api_keys(&p, account, sa)?;
            // A key without `secret-keys:read` still sees the rest of the page.
            let secret_keys = match kw.all_secret_keys(&p, account, sa) {
                Ok(keys) => keys,
                Err(domain::Error::Forbidden(_)) => Vec::new(),
                Err(e) => return Err(e),
            };
            let usage = kw.usage_of_keys(&p, account, &api_keys, window)?;
            Ok::<_, domain::Error>((owner, api_keys, secret_keys, usage, kw.now()))
        })
        .await;
    let (owner, api_keys, secret_keys, usage, now) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return layout::error_page(Some(session), &e),
    };
    let base = format!("/console/accounts/{account}/service-accounts/{sa}");
    let api_rows: Vec<KeyRow> =
        api_keys.iter().map(|k| KeyRow { limits: limits_summary(&k.part.limits), ..key_row!(k, now) }).collect();
    let secret_rows: Vec<KeyRow> =
        secret_keys.iter().map(|k| KeyRow { bound: k.part.require_dpop, ..key_row!(k, now) }).collect();
    let body = html! {
        p.crumbs {
            a href=(format!("/console/accounts/{account}")) { "Service accounts" } " › " (owner.name.as_str())
        }
        h1 {
            (owner.name.as_str()) " "
            @if owner.active { span.badge.active { "active" } } @else { span.badge.disabled { "disabled" } }
        }
        @if !owner.description.as_str().is_empty() { p.muted { (owner.description.as_str()) } }
        @if let Some(shared) = limits_summary(&owner.limits) {
            p #shared-limits { "Shared by all its API keys: " (shared) }
        }
        p { a href=(format!("{base}/federated-credentials")) { "Federated credentials" } " · trust a CI system's or a cluster's tokens instead of storing a key" }
        @if let Some(n) = &extra.notice { (layout::notice(n)) }
        @if let Some(r) = &extra.revealed { (revealed(r)) }
        (usage_card(&usage, now))
        (keys_card(session, &base, Kind::Api, &api_rows, &extra.errors))
        (keys_card(session, &base, Kind::Secret, &secret_rows, &extra.errors))
    };
    (status, page(owner.name.as_str(), Some(session), body)).into_response()
}

/// A key as the tables show it, whichever kind.
struct KeyRow {
    id: String,
    name: String,
    state: KeyState,
    scopes: Scopes,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    /// Whether its tokens must be bound to the client's key (DPoP): secret keys only.
    bound: bool,
    /// Its usage limits in a few words, if it has any: API keys only.
    limits: Option<String>,
}

/// Usage limits in a few words: `100 a minute · 1000 uses · 2 permissions`.
fn limits_summary(limits: &UsageLimits) -> Option<String> {
    if limits.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = limits
        .rate_limits
        .iter()
        .map(|l| {
            let per = match l.window.seconds() {
                1 => "a second".to_owned(),
                60 => "a minute".to_owned(),
                3600 => "an hour".to_owned(),
                86_400 => "a day".to_owned(),
                s => format!("per {s} s"),
            };
            format!("{} {per}{}", l.limit, if l.strict { " (strict)" } else { "" })
        })
        .collect();
    if let Some(r) = &limits.remaining {
        parts.push(format!("{} uses{}", r.amount, if r.refill.is_some() { ", refilled" } else { "" }));
    }
    let granted = limits.permissions.len() + limits.roles.len();
    if granted > 0 {
        parts.push(format!("{granted} permission{}", if granted == 1 { "" } else { "s" }));
    }
    Some(parts.join(" · "))
}

fn revealed(r: &Revealed) -> Markup {
    html! {
        section.card.secret aria-live="polite" {
            h2 { "Copy the secret of " (r.kind.singular()) " “" (r.name) "” now" }
            p { strong { "This is the only time it is shown." } " Keyward keeps only a hash of it; if it is lost, rotate the key." }
            div.value {
                input #new-secret type="text" readonly value=(r.secret.expose()) aria-label="The new secret";
                button type="button" data-copy="new-secret" { "Copy" }
            }
            p.copied #new-secret-status role="status" {}
        }
    }
}

fn usage_card(usage: &ServiceAccountUsage, now: DateTime<Utc>) -> Markup {
    let peak = usage.keys.iter().map(|k| k.uses).max().unwrap_or(0).max(1);
    let cutoff = now - chrono::Duration::days(UNUSED_DAYS);
    let unused: Vec<_> = usage.keys.iter().filter(|k| k.last_used_at.is_none_or(|t| t < cutoff)).collect();
    html! {
        section.card #usage {
            h2 { "Uses over the last 7 days" }
            (chart::bars(&usage.series, "Uses and refusals of this service account's API keys per hour, last 7 days"))
            @if !usage.keys.is_empty() {
                div.table-wrap { table {
                    thead { tr { th { "API key" } th { "Uses" } th { "Refusals" } th.wide {} } }
                    tbody {
                        @for k in &usage.keys {
                            tr {
                                td { (k.name.as_str()) }
                                td { (k.uses) }
                                td { (k.refusals) }
                                td.wide {
                                    svg.bar viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true" {
                                        rect width="100" height="8" fill="#dbe4fb" {}
                                        rect width=(k.uses * 100 / peak) height="8" fill="#2f5bd3" {}
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            h2 { "Not used in " (UNUSED_DAYS) " days" }
            @if unused.is_empty() {
                p.muted #unused { "Every API key was used in the last " (UNUSED_DAYS) " days." }
            } @else {
                ul #unused {
                    @for k in &unused {
                        li { strong { (k.name.as_str()) } " · last used " (when(k.last_used_at)) }
                    }
                }
            }
        }
    }
}

fn state_badge(state: KeyState) -> Markup {
    match state {
        KeyState::Active => html! { span.badge.active { "active" } },
        KeyState::Disabled => html! { span.badge.disabled { "disabled" } },
        KeyState::Expired => html! { span.badge.expired { "expired" } },
        KeyState::Leaked => {
            html! { span.badge.leaked title="Reported leaked and disabled: rotate it, then enable it again" { "leaked" } }
        }
    }
}

fn keys_card(session: &Session, base: &str, kind: Kind, rows: &[KeyRow], errors: &FieldErrors) -> Markup {
    let form = kind.form();
    let prefix = kind.segment();
    html! {
        section.card id=(prefix) {
            h2 { (kind.plural_title()) }
            @if rows.is_empty() { p.muted { "None yet." } } @else {
                div.table-wrap { table.stack {
                    thead { tr {
                        th { "Name" } th { "State" } th { "Scopes" } th.wide { "Expires" }
                        th.wide { "Last used" } th.wide { "Created" } th { "" }
                    } }
                    tbody {
                        @for k in rows {
                            tr data-key=(k.name) {
                                td { (k.name) br; code.muted title="Id" { (k.id) } }
                                td {
                                    (state_badge(k.state))
                                    @if k.bound {
                                        " " span.badge.active title="Its access tokens are bound to the client's key (DPoP)" { "DPoP" }
                                    }
                                    @if let Some(limits) = &k.limits {
                                        br; small.muted.limits title="Checked when the key is verified" { (limits) }
                                    }
                                }
                                td { div.scopes { @for s in k.scopes.iter() { code { (s.as_str()) } } } }
                                td.wide data-label="Expires" { (when(k.expires_at)) }
                                td.wide data-label="Last used" { (when(k.last_used_at)) }
                                td.wide data-label="Created" { (when(Some(k.created_at))) }
                                td { (key_actions(session, base, kind, k)) }
                            }
                        }
                    }
                } }
            }
            @if let Some(m) = errors.general(form) { p.notice.problem role="alert" { (m) } }
            details open[errors.form == form] {
                summary { "New " (kind.singular()) }
                form method="post" action=(format!("{base}/{prefix}")) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label for=(format!("{prefix}-name")) { "Name" }
                    input id=(format!("{prefix}-name")) type="text" name="name" required maxlength="100";
                    (field_error(errors, form, "name"))
                    label for=(format!("{prefix}-scopes")) { "Scopes" }
                    input id=(format!("{prefix}-scopes")) type="text" name="scopes" placeholder="service-accounts:read api-keys:verify";
                    p.hint { "Separated by spaces. You can grant only scopes your own key holds." }
                    (field_error(errors, form, "scopes"))
                    label for=(format!("{prefix}-ttl")) { "Expires after (days)" }
                    input id=(format!("{prefix}-ttl")) type="number" name="ttl_days" min="1" max="3660" placeholder="Never";
                    (field_error(errors, form, "ttl_days"))
                    @if kind == Kind::Api {
                        label for="api-per-minute" { "Verifications a minute" }
                        input #api-per-minute type="number" name="per_minute" min="1" placeholder="No limit";
                        (field_error(errors, form, "per_minute"))
                        label for="api-uses" { "Uses" }
                        input #api-uses type="number" name="uses" min="0" placeholder="Not counted";
                        (field_error(errors, form, "uses"))
                        label for="api-permissions" { "Permissions" }
                        input #api-permissions type="text" name="permissions" placeholder="documents.read reports.read";
                        p.hint { "Checked by a verification's permission query, not by Keyward's own API. The API sets more: named limits, refills, roles." }
                        (field_error(errors, form, "permissions"))
                    }
                    @if kind == Kind::Secret {
                        label.check {
                            input type="checkbox" name="require_dpop" value="true";
                            " Bind its access tokens to the client's key (DPoP)"
                        }
                        p.hint { "A stolen token is then useless without that key; the client must send a DPoP proof." }
                    }
                    button.primary type="submit" { "Create " (kind.singular()) }
                }
            }
        }
    }
}

fn key_actions(session: &Session, base: &str, kind: Kind, k: &KeyRow) -> Markup {
    let at = format!("{base}/{}/{}", kind.segment(), k.id);
    html! {
        div.actions {
            form.inline method="post" action=(format!("{at}/rotate")) {
                input type="hidden" name="csrf" value=(session.csrf);
                select name="retain_period_seconds" aria-label=(format!("How long the old secret of {} keeps working", k.name)) {
                    option value="0" { "old secret stops now" }
                    option value="3600" { "old secret works 1 hour" }
                    option value="86400" { "old secret works 1 day" }
                    option value="604800" { "old secret works 7 days" }
                }
                button type="submit" { "Rotate" }
            }
            @if k.state == KeyState::Leaked {
                form.inline method="post" action=(format!("{at}/enable-after-leak")) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" title="Rotate the key first: its old secret is public" { "Enable (leak handled)" }
                }
            } @else if k.state == KeyState::Disabled {
                form.inline method="post" action=(format!("{at}/enable")) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Enable" }
                }
            } @else {
                form.inline method="post" action=(format!("{at}/disable")) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Disable" }
                }
            }
            a.button href=(format!("{at}/delete")) { "Delete…" }
        }
    }
}
