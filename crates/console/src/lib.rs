//! The web console at `/console`: server-rendered pages and plain forms over the same domain
//! calls as the API, acting as the credential a person signed in with.
//!
//! A person signs in with an API key (or a secret key's id and secret); the console exchanges it
//! for a short-lived access token kept in an `HttpOnly`, `SameSite=Strict` cookie, so the key
//! itself never reaches the browser's storage. Every form carries a CSRF token derived from that
//! cookie. Pages work without JavaScript; `console.js` only adds copy buttons.

mod accounts;
mod assets;
mod audit;
mod chart;
mod federation;
mod form;
mod keys;
mod kind;
mod layout;
mod place;
mod service_account;
mod service_accounts;
mod session;
mod sign_in;
mod signing_keys;
mod webhooks;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

use web::state::AppState;

/// Every console route, under `/console`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(accounts::home))
        .route("/console/", get(accounts::home))
        .route("/console/assets/{file}", get(assets::serve))
        .route("/console/sign-in", get(sign_in::sign_in_page).post(sign_in::sign_in))
        .route("/console/sign-out", post(sign_in::sign_out))
        .route("/console/accounts", get(accounts::list).post(accounts::create))
        .route("/console/accounts/{account}", get(service_accounts::list).post(service_accounts::create))
        .route("/console/accounts/{account}/audit", get(audit::list))
        .route("/console/accounts/{account}/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/console/accounts/{account}/webhooks/{id}/delete", post(webhooks::delete))
        .route("/console/accounts/{account}/service-accounts/{sa}", get(service_account::show))
        .route(
            "/console/accounts/{account}/service-accounts/{sa}/federated-credentials",
            get(federation::list).post(federation::create),
        )
        .route(
            "/console/accounts/{account}/service-accounts/{sa}/federated-credentials/{id}/test",
            post(federation::test),
        )
        .route(
            "/console/accounts/{account}/service-accounts/{sa}/federated-credentials/{id}/delete",
            post(federation::delete),
        )
        .route("/console/accounts/{account}/service-accounts/{sa}/{kind}", post(keys::create))
        .route(
            "/console/accounts/{account}/service-accounts/{sa}/{kind}/{key}/{action}",
            get(keys::confirm).post(keys::act),
        )
        .route("/console/signing-keys", get(signing_keys::list))
        .route("/console/signing-keys/rotate", post(signing_keys::rotate))
        .layer(axum::middleware::map_response(protect))
}

/// What every console answer carries: pages are never cached (one may hold a secret shown once),
/// never framed, and load scripts and styles from Keyward only.
async fn protect(mut res: Response) -> Response {
    let headers = res.headers_mut();
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    res
}
