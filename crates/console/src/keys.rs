//! What a person does to a service account's keys from the console: create, rotate (with a
//! retain period), disable, enable and delete (after a confirmation page), for API keys and
//! secret keys alike.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::api_key::{NewApiKey, NewApiKeyPart, RetainPeriod};
use domain::id::{AccountId, ApiKeyId, SecretKeyId, ServiceAccountId};
use domain::key::Expiry;
use domain::key::KeyChanges;
use domain::limits::{LimitName, LimitSettings, Permission, RateLimit, RemainingSetting, WindowLength};
use domain::principal::Principal;
use domain::repository::KeyRef;
use domain::scope::Scopes;
use domain::secret::SecretString;
use domain::secret_key::{NewSecretKey, NewSecretKeyPart};
use domain::service::{Keyward, NamesKey};
use domain::text::Name;
use maud::html;
use serde::Deserialize;

use super::form::SignedForm;
use super::kind::Kind;
use super::layout::{self, FieldErrors, page};
use super::place::{KeyPlace, SignedIn};
use super::service_account::{Extra, Revealed, render};
use super::session::Session;
use web::error::ApiError;
use web::state::AppState;

/// The new-key form.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateKey {
    name: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    ttl_days: String,
    /// Present (`true`) when the box is ticked: secret keys only.
    #[serde(default)]
    require_dpop: Option<String>,
    /// Verifications a minute, empty for no rate limit: API keys only.
    #[serde(default)]
    per_minute: String,
    /// Uses left, empty for not counted: API keys only.
    #[serde(default)]
    uses: String,
    /// Permissions, separated by spaces: API keys only.
    #[serde(default)]
    permissions: String,
}

impl CreateKey {
    fn parse(&self) -> Result<(Name, Scopes, Expiry), ApiError> {
        let name = Name::parse(self.name.trim(), "name")?;
        let scopes: Vec<&str> = self.scopes.split([' ', ',', '\n']).filter(|s| !s.is_empty()).collect();
        let scopes = Scopes::parse(&scopes, "scopes")?;
        let ttl = match self.ttl_days.trim() {
            "" => None,
            days => match days.parse::<i64>() {
                Ok(d) if (1..=3660).contains(&d) => Some(d * 86_400),
                _ => return Err(ApiError::validation("ttl_days", "must be a whole number of days from 1 to 3660")),
            },
        };
        Ok((name, scopes, Expiry::parse(None, ttl)?))
    }

    /// The usage limits of a new API key: one rate limit a minute, uses left, permissions.
    fn limits(&self) -> Result<LimitSettings, ApiError> {
        let count = |text: &str, field: &str, min: u64| -> Result<Option<u64>, ApiError> {
            match text.trim() {
                "" => Ok(None),
                n => match n.parse::<u64>() {
                    Ok(n) if n >= min => Ok(Some(n)),
                    _ => Err(ApiError::validation(field, format!("must be a whole number, {min} or more"))),
                },
            }
        };
        let rate_limits = match count(&self.per_minute, "per_minute", 1)? {
            None => Vec::new(),
            Some(limit) => vec![RateLimit {
                name: LimitName::parse("requests", "per_minute")?,
                limit,
                window: WindowLength::parse(60, "per_minute")?,
                auto_apply: true,
                strict: false,
            }],
        };
        let remaining = count(&self.uses, "uses", 0)?.map(|uses| RemainingSetting { uses, refill: None });
        let permissions = self
            .permissions
            .split([' ', ',', '\n'])
            .filter(|s| !s.is_empty())
            .map(|p| Permission::parse(p, "permissions"))
            .collect::<Result<_, _>>()?;
        Ok(LimitSettings { rate_limits, remaining, permissions, roles: Default::default() })
    }
}

/// Creates a key and shows its secret, once.
pub(crate) async fn create(State(state): State<AppState>, form: SignedForm<CreateKey, KeyPlace>) -> Response {
    let SignedForm { session, place: KeyPlace { account, sa, kind, .. }, fields } = form;
    let p = session.principal.clone();
    let created = async {
        let (name, scopes, expiry) = fields.parse()?;
        let limits = fields.limits()?;
        let require_dpop = fields.require_dpop.is_some();
        state
            .run(move |kw| -> Result<(String, SecretString), domain::Error> {
                Ok(match kind {
                    Kind::Api => {
                        let part = NewApiKeyPart { limits, ..NewApiKeyPart::default() };
                        let new = NewApiKey { part, ..NewApiKey::new(name, scopes, expiry) };
                        let issued = kw.create_key(&p, account, sa, new)?;
                        (issued.key.name.into(), issued.secret)
                    }
                    Kind::Secret => {
                        let issued = kw.create_key(
                            &p,
                            account,
                            sa,
                            NewSecretKey {
                                part: NewSecretKeyPart { require_dpop },
                                ..NewSecretKey::new(name, scopes, expiry)
                            },
                        )?;
                        (issued.key.name.into(), issued.secret)
                    }
                })
            })
            .await
    }
    .await;
    match created {
        Ok((name, secret)) => {
            let extra = Extra { revealed: Some(Revealed { kind, name, secret }), ..Extra::default() };
            render(&state, &session, account, sa, extra, StatusCode::CREATED).await
        }
        Err(e) => form_problem(&state, &session, account, sa, kind, &e).await,
    }
}

/// A refused form: shown next to its field on the service account's page (422), unless the
/// problem ends the request (not found, storage down).
async fn form_problem(
    state: &AppState,
    session: &Session,
    account: AccountId,
    sa: ServiceAccountId,
    kind: Kind,
    e: &ApiError,
) -> Response {
    if !e.status().is_client_error() || e.status() == StatusCode::NOT_FOUND {
        return layout::error_page(Some(session), e);
    }
    let extra = Extra { errors: FieldErrors::from_api(kind.form(), e), ..Extra::default() };
    render(state, session, account, sa, extra, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// The fields of an action's form: only rotation has one.
#[derive(Debug, Deserialize)]
pub(crate) struct Action {
    #[serde(default)]
    retain_period_seconds: Option<String>,
}

/// Asks before deleting: `GET .../{kind}/{key}/delete`.
pub(crate) async fn confirm(State(state): State<AppState>, signed_in: SignedIn<KeyPlace>) -> Response {
    let SignedIn { session, place: KeyPlace { account, sa, kind, key, action } } = signed_in;
    if action != "delete" {
        return layout::error_page(Some(&session), &ApiError::no_route());
    }
    let p = session.principal.clone();
    let key_text = key.clone();
    let name = state
        .run(move |kw| -> Result<String, domain::Error> {
            Ok(match kind {
                Kind::Api => {
                    kw.get_api_key(&p, account, sa, &KeyRef::Id(ApiKeyId::parse(&key_text, "key")?))?.name.into()
                }
                Kind::Secret => kw.get_secret_key(&p, account, sa, SecretKeyId::parse(&key_text, "key")?)?.name.into(),
            })
        })
        .await;
    let name = match name {
        Ok(name) => name,
        Err(e) => return layout::error_page(Some(&session), &e),
    };
    let base = format!("/console/accounts/{account}/service-accounts/{sa}");
    let body = html! {
        section.card.narrow {
            h1 { "Delete " (kind.singular()) " “" (name) "”?" }
            p { "Anything still using it will be refused at once. This cannot be undone; disabling is the reversible choice." }
            form method="post" action=(format!("{base}/{}/{key}/delete", kind.segment())) {
                input type="hidden" name="csrf" value=(session.csrf);
                div.actions {
                    button.danger type="submit" { "Delete it" }
                    a.button href=(base) { "Keep it" }
                }
            }
        }
    };
    page("Delete a key", Some(&session), body).into_response()
}

/// What an action produced.
enum Outcome {
    /// A rotation: the new secret.
    Rotated(String, SecretString),
    /// Anything else: which notice to show.
    Done(&'static str),
}

/// Carries out `rotate`, `disable`, `enable`, `enable-after-leak` or `delete` on one key.
pub(crate) async fn act(State(state): State<AppState>, form: SignedForm<Action, KeyPlace>) -> Response {
    let SignedForm { session, place: KeyPlace { account, sa, kind, key, action }, fields } = form;
    let p = session.principal.clone();
    let done = async {
        let retain = match fields.retain_period_seconds.as_deref().map(str::trim) {
            None | Some("") => RetainPeriod::parse(0, "retain_period_seconds")?,
            Some(s) => RetainPeriod::parse(
                s.parse().map_err(|_| ApiError::validation("retain_period_seconds", "must be a whole number"))?,
                "retain_period_seconds",
            )?,
        };
        let target = match kind {
            Kind::Api => Target::Api(ApiKeyId::parse(&key, "key")?),
            Kind::Secret => Target::Secret(SecretKeyId::parse(&key, "key")?),
        };
        let action = action.clone();
        state.run(move |kw| target.apply(kw, &p, account, sa, &action, retain)).await
    }
    .await;
    let base = format!("/console/accounts/{account}/service-accounts/{sa}");
    match done {
        Ok(Outcome::Rotated(name, secret)) => {
            let extra = Extra { revealed: Some(Revealed { kind, name, secret }), ..Extra::default() };
            render(&state, &session, account, sa, extra, StatusCode::OK).await
        }
        Ok(Outcome::Done(what)) => Redirect::to(&format!("{base}?done={what}#{}", kind.segment())).into_response(),
        Err(e) => form_problem(&state, &session, account, sa, kind, &e).await,
    }
}

/// The key an action is for.
#[derive(Debug, Clone, Copy)]
enum Target {
    Api(ApiKeyId),
    Secret(SecretKeyId),
}

impl Target {
    fn apply(
        self,
        kw: &Keyward,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        action: &str,
        retain: RetainPeriod,
    ) -> Result<Outcome, domain::Error> {
        match self {
            Target::Api(id) => act_on(kw, p, account, sa, &KeyRef::Id(id), action, retain),
            Target::Secret(id) => act_on(kw, p, account, sa, &id, action, retain),
        }
    }
}

/// Carries out `action` on the key `key` names, of either kind: one lifecycle for both.
fn act_on<R: NamesKey>(
    kw: &Keyward,
    p: &Principal,
    account: AccountId,
    sa: ServiceAccountId,
    key: &R,
    action: &str,
    retain: RetainPeriod,
) -> Result<Outcome, domain::Error> {
    Ok(match action {
        "rotate" => {
            let issued = kw.rotate_key(p, account, sa, key, retain)?;
            Outcome::Rotated(issued.key.name.to_string(), issued.secret)
        }
        "disable" | "enable" => {
            kw.update_key(p, account, sa, key, KeyChanges::activate(action == "enable"))?;
            Outcome::Done(if action == "enable" { "enabled" } else { "disabled" })
        }
        "enable-after-leak" => {
            kw.update_key(p, account, sa, key, KeyChanges::enable_after_leak())?;
            Outcome::Done("re-enabled")
        }
        "delete" => {
            kw.delete_key(p, account, sa, key)?;
            Outcome::Done("deleted")
        }
        _ => return Err(domain::Error::NotFound(domain::error::Entity::ApiKey)),
    })
}
