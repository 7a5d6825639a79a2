//! `/console/accounts/{account}/service-accounts/{sa}/federated-credentials`: a service account's
//! trust in external OIDC issuers. An administrator adds one, tries a token against it (the dry
//! run) and removes it.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::federation::{Check, FederatedCredential};
use domain::id::{AccountId, FederatedCredentialId, ServiceAccountId};
use domain::scope::Scopes;
use domain::service::NewFederatedCredential;
use domain::text::Name;
use maud::{Markup, html};
use serde::Deserialize;

use super::form::SignedForm;
use super::layout::{self, Empty, FieldErrors, Notice, field_error, page, when};
use super::place::{CredentialPlace, ServiceAccountPlace, SignedIn};
use super::session::Session;
use web::error::ApiError;
use web::state::AppState;

/// The form's name, for its errors.
const FORM: &str = "federated-credentials";

/// What a page shows beyond the list.
#[derive(Debug, Default)]
struct Extra {
    errors: FieldErrors,
    notice: Option<Notice>,
    /// A dry run: which credential, and its checks.
    tried: Option<(FederatedCredentialId, Vec<Check>)>,
}

/// The new-credential form. Audiences and scopes are separated by spaces; claims are one
/// `name=pattern` a line.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateForm {
    name: String,
    issuer: String,
    audiences: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    claims: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    max_ttl_seconds: String,
}

impl CreateForm {
    fn parse(self) -> Result<NewFederatedCredential, ApiError> {
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let mut claims = BTreeMap::new();
        for line in self.claims.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Some((name, pattern)) = line.split_once('=') else {
                return Err(ApiError::validation("claims", "write one `name=pattern` a line"));
            };
            claims.insert(name.trim().to_owned(), pattern.trim().to_owned());
        }
        let max_ttl_seconds = match self.max_ttl_seconds.trim() {
            "" => None,
            s => Some(s.parse().map_err(|_| ApiError::validation("max_ttl_seconds", "must be a whole number"))?),
        };
        let subject = Some(self.subject.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(NewFederatedCredential {
            name: Name::parse(self.name.trim(), "name")?,
            issuer: self.issuer.trim().to_owned(),
            audiences: words(&self.audiences),
            subject,
            claims,
            scopes: Scopes::parse(&words(&self.scopes), "scopes")?,
            max_ttl_seconds,
            active: true,
            refuse_replay: false,
        })
    }
}

/// The dry-run form.
#[derive(Deserialize)]
pub(crate) struct TestForm {
    #[serde(default)]
    token: String,
}

/// The token is a bearer credential until it expires: `Debug` never shows it.
impl std::fmt::Debug for TestForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestForm { token: [REDACTED] }")
    }
}

/// Shows the federated credentials of a service account.
pub(crate) async fn list(State(state): State<AppState>, signed_in: SignedIn<ServiceAccountPlace>) -> Response {
    let SignedIn { session, place: ServiceAccountPlace { account, sa } } = signed_in;
    render(&state, &session, account, sa, Extra::default(), StatusCode::OK).await
}

/// Adds a federated credential.
pub(crate) async fn create(
    State(state): State<AppState>,
    form: SignedForm<CreateForm, ServiceAccountPlace>,
) -> Response {
    let SignedForm { session, place: ServiceAccountPlace { account, sa }, fields } = form;
    let p = session.principal.clone();
    let made = async {
        let new = fields.parse()?;
        state.run(move |kw| kw.create_federated_credential(&p, account, sa, new)).await
    }
    .await;
    let extra = match made {
        Ok(_) => Extra { notice: Some(Notice::Done("The federated credential is added.")), ..Extra::default() },
        Err(e) if e.status().is_client_error() && e.status() != StatusCode::NOT_FOUND => {
            let extra = Extra { errors: FieldErrors::from_api(FORM, &e), ..Extra::default() };
            return render(&state, &session, account, sa, extra, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(e) => return layout::error_page(Some(&session), &e),
    };
    render(&state, &session, account, sa, extra, StatusCode::CREATED).await
}

/// Tries a token against a federated credential, minting nothing.
pub(crate) async fn test(State(state): State<AppState>, form: SignedForm<TestForm, CredentialPlace>) -> Response {
    let SignedForm { session, place: CredentialPlace { account, sa, id }, fields } = form;
    let p = session.principal.clone();
    let token = fields.token.trim().to_owned();
    match state.run(move |kw| kw.test_federated_credential(&p, account, sa, id, &token)).await {
        Ok(checks) => {
            let extra = Extra { tried: Some((id, checks)), ..Extra::default() };
            render(&state, &session, account, sa, extra, StatusCode::OK).await
        }
        Err(e) => layout::error_page(Some(&session), &e),
    }
}

/// Removes a federated credential.
pub(crate) async fn delete(State(state): State<AppState>, form: SignedForm<Empty, CredentialPlace>) -> Response {
    let SignedForm { session, place: CredentialPlace { account, sa, id }, .. } = form;
    let p = session.principal.clone();
    match state.run(move |kw| kw.delete_federated_credential(&p, account, sa, id)).await {
        Ok(()) => Redirect::to(&format!("/console/accounts/{account}/service-accounts/{sa}/federated-credentials"))
            .into_response(),
        Err(e) => layout::error_page(Some(&session), &e),
    }
}

async fn render(
    state: &AppState,
    session: &Session,
    account: AccountId,
    sa: ServiceAccountId,
    extra: Extra,
    status: StatusCode,
) -> Response {
    let p = session.principal.clone();
    let loaded = state
        .run(move |kw| {
            let owner = kw.get_service_account(&p, account, sa)?;
            let credentials = kw.all_federated_credentials(&p, account, sa)?;
            Ok::<_, domain::Error>((owner, credentials))
        })
        .await;
    let (owner, credentials) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return layout::error_page(Some(session), &e),
    };
    let base = format!("/console/accounts/{account}/service-accounts/{sa}");
    let body = html! {
        p.crumbs {
            a href=(format!("/console/accounts/{account}")) { "Service accounts" } " › "
            a href=(base) { (owner.name.as_str()) } " › Federated credentials"
        }
        h1 { "Federated credentials of " (owner.name.as_str()) }
        p.muted { "Workloads whose platform token matches one of these get access tokens of this service account, with no stored secret. See docs/federation.md." }
        @if let Some(n) = &extra.notice { (layout::notice(n)) }
        @for f in &credentials { (credential_card(session, &base, f, &extra)) }
        @if credentials.is_empty() { p.muted { "None yet." } }
        (create_card(session, &base, &extra.errors))
    };
    (status, page("Federated credentials", Some(session), body)).into_response()
}

fn credential_card(session: &Session, base: &str, f: &FederatedCredential, extra: &Extra) -> Markup {
    let at = format!("{base}/federated-credentials/{}", f.id);
    let tried = extra.tried.as_ref().filter(|(id, _)| *id == f.id).map(|(_, checks)| checks);
    html! {
        section.card data-credential=(f.name.as_str()) {
            h2 {
                (f.name.as_str()) " "
                @if f.active { span.badge.active { "active" } } @else { span.badge.disabled { "disabled" } }
            }
            dl {
                dt { "Issuer" } dd { code { (f.policy.issuer().as_str()) } }
                dt { "Audiences" } dd { @for a in f.policy.audiences() { code { (a) } " " } }
                @if let Some(sub) = f.policy.subject() { dt { "Subject" } dd { code { (sub) } } }
                @for (name, pattern) in f.policy.claims() { dt { (name) } dd { code { (pattern.as_str()) } } }
                dt { "Scopes" } dd {
                    @if f.scopes.is_empty() { span.muted { "none" } }
                    div.scopes { @for s in f.scopes.iter() { code { (s.as_str()) } } }
                }
                dt { "Longest token" } dd { (f.max_ttl_seconds) " s" }
                dt { "Created" } dd { (when(Some(f.created_at))) }
            }
            @if let Some(checks) = tried { (checks_table(checks)) }
            details {
                summary { "Try a token" }
                form method="post" action=(format!("{at}/test")) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label for=(format!("token-{}", f.id)) { "The platform's token (a JWT); it is not stored" }
                    textarea id=(format!("token-{}", f.id)) name="token" rows="4" required {}
                    button type="submit" { "Try it" }
                }
            }
            details {
                summary { "Remove…" }
                form method="post" action=(format!("{at}/delete")) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    p { "Workloads matching it get no new tokens; tokens it minted stop at once." }
                    button.danger type="submit" { "Remove it" }
                }
            }
        }
    }
}

fn checks_table(checks: &[Check]) -> Markup {
    let passed = checks.iter().all(|c| c.passed);
    html! {
        div #dry-run role="status" {
            @if passed { p.notice.done { "This token would be exchanged." } }
            @else { p.notice.problem { "This token would be refused." } }
            div.table-wrap { table {
                thead { tr { th { "Check" } th { "Result" } th.wide { "Requires" } } }
                tbody {
                    @for c in checks {
                        tr data-check=(c.name) {
                            td { code { (c.name) } }
                            td { @if c.passed { span.badge.active { "passes" } } @else { span.badge.disabled { "fails" } } }
                            td.wide { (c.requirement) }
                        }
                    }
                }
            } }
        }
    }
}

fn create_card(session: &Session, base: &str, errors: &FieldErrors) -> Markup {
    html! {
        section.card #new-federated-credential {
            @if let Some(m) = errors.general(FORM) { p.notice.problem role="alert" { (m) } }
            details open[errors.form == FORM] {
                summary { "Trust an issuer" }
                form method="post" action=(format!("{base}/federated-credentials")) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label for="fc-name" { "Name" }
                    input #fc-name type="text" name="name" required maxlength="100";
                    (field_error(errors, FORM, "name"))
                    label for="fc-issuer" { "Issuer" }
                    input #fc-issuer type="url" name="issuer" required placeholder="https://token.actions.githubusercontent.com";
                    (field_error(errors, FORM, "issuer"))
                    label for="fc-audiences" { "Audiences" }
                    input #fc-audiences type="text" name="audiences" required placeholder="https://keyward.example.com";
                    (field_error(errors, FORM, "audiences"))
                    label for="fc-subject" { "Subject (exact, optional)" }
                    input #fc-subject type="text" name="subject" placeholder="system:serviceaccount:ci:deployer";
                    (field_error(errors, FORM, "subject"))
                    label for="fc-claims" { "Claims, one name=pattern a line (* matches anything)" }
                    textarea #fc-claims name="claims" rows="3" placeholder="repository_owner=octo-org\nref=refs/heads/main" {}
                    (field_error(errors, FORM, "claims"))
                    label for="fc-scopes" { "Scopes" }
                    input #fc-scopes type="text" name="scopes" placeholder="service-accounts:read";
                    (field_error(errors, FORM, "scopes"))
                    label for="fc-ttl" { "Longest token (seconds)" }
                    input #fc-ttl type="number" name="max_ttl_seconds" min="1" max="86400" placeholder="3600";
                    (field_error(errors, FORM, "max_ttl_seconds"))
                    button.primary type="submit" { "Add federated credential" }
                }
            }
        }
    }
}
