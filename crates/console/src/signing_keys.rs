//! `/console/signing-keys`: Keyward's own token-signing keys and their rotation (system admin).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use domain::signing_key::SigningKeyState;
use maud::html;

use super::form::SignedForm;
use super::layout::{self, Empty, page, when};
use super::session::Session;
use web::state::AppState;

/// The signing keys, newest first.
pub(crate) async fn list(State(state): State<AppState>, session: Session) -> Response {
    let p = session.principal.clone();
    let mut keys = match state.run(move |kw| kw.list_signing_keys(&p)).await {
        Ok(keys) => keys,
        Err(e) => return layout::error_page(Some(&session), &e),
    };
    keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
    let body = html! {
        h1 { "Signing keys" }
        section.card {
            p.muted { "These keys sign access tokens. Rotating makes the next key active at once; the old one stays published (retiring) until the tokens it signed have expired." }
            div.table-wrap { table #signing-keys {
                thead { tr { th { "Key id" } th { "Algorithm" } th { "State" } th.wide { "Created" } th.wide { "Signing since" } th.wide { "Stopped" } } }
                tbody {
                    @for k in &keys {
                        tr {
                            td { code { (k.kid.to_string()) } }
                            td { (k.algorithm.as_str()) }
                            td { @match k.state {
                                SigningKeyState::Active => span.badge.active { "active" },
                                SigningKeyState::Next => span.badge { "next" },
                                SigningKeyState::Retiring => span.badge.disabled { "retiring" },
                                SigningKeyState::Retired => span.badge.expired { "retired" },
                            } }
                            td.wide { (when(Some(k.created_at))) }
                            td.wide { (when(k.activated_at)) }
                            td.wide { (when(k.deactivated_at)) }
                        }
                    }
                }
            } }
            form method="post" action="/console/signing-keys/rotate" {
                input type="hidden" name="csrf" value=(session.csrf);
                button.primary type="submit" { "Rotate now" }
            }
        }
    };
    page("Signing keys", Some(&session), body).into_response()
}

/// Rotates the signing keys now (system admin).
pub(crate) async fn rotate(State(state): State<AppState>, form: SignedForm<Empty>) -> Response {
    let p = form.session.principal.clone();
    match state.run(move |kw| kw.rotate_signing_keys(&p)).await {
        Ok(_) => Redirect::to("/console/signing-keys").into_response(),
        Err(e) => layout::error_page(Some(&form.session), &e),
    }
}
