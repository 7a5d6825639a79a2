//! The routes of the native API, one module per resource.

pub mod accounts;
mod api_key_json;
pub mod api_key_lists;
pub mod api_keys;
pub mod audit;
pub mod federated_credentials;
pub mod health;
pub mod leak_reports;
pub mod oauth;
pub mod oauth_tokens;
pub mod ratelimit;
pub mod roles;
pub mod secret_keys;
pub mod service_accounts;
pub mod signing_keys;
pub mod token_answer;
pub mod token_exchange;
pub mod usage;
pub mod usage_limits;
pub mod verify;
pub mod webhooks;
pub mod well_known;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use web::state::AppState;

/// Every documented route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(accounts::create_account, accounts::list_accounts))
        .routes(routes!(accounts::get_account, accounts::update_account, accounts::delete_account))
        .routes(routes!(service_accounts::create_service_account, service_accounts::list_service_accounts))
        .routes(routes!(
            service_accounts::get_service_account,
            service_accounts::update_service_account,
            service_accounts::delete_service_account
        ))
        .routes(routes!(api_keys::create_api_key, api_key_lists::list_api_keys))
        .routes(routes!(api_keys::get_api_key, api_keys::update_api_key, api_keys::delete_api_key))
        .routes(routes!(api_keys::rotate_api_key))
        .routes(routes!(usage::api_key_usage))
        .routes(routes!(usage::service_account_usage))
        .routes(routes!(api_key_lists::list_account_api_keys))
        .routes(routes!(secret_keys::create_secret_key, secret_keys::list_secret_keys))
        .routes(routes!(secret_keys::get_secret_key, secret_keys::update_secret_key, secret_keys::delete_secret_key))
        .routes(routes!(secret_keys::rotate_secret_key))
        .routes(routes!(secret_keys::issue_jwt))
        .routes(routes!(
            federated_credentials::create_federated_credential,
            federated_credentials::list_federated_credentials
        ))
        .routes(routes!(
            federated_credentials::get_federated_credential,
            federated_credentials::update_federated_credential,
            federated_credentials::delete_federated_credential
        ))
        .routes(routes!(federated_credentials::test_federated_credential))
        .routes(routes!(verify::verify_api_key))
        .routes(routes!(ratelimit::ratelimit))
        .routes(routes!(verify::lookup_api_key))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(webhooks::get_webhook, webhooks::delete_webhook))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(roles::create_role, roles::list_roles))
        .routes(routes!(roles::get_role, roles::update_role, roles::delete_role))
        .routes(routes!(audit::list_audit_events))
        .routes(routes!(signing_keys::list_signing_keys))
        .routes(routes!(signing_keys::rotate_signing_keys))
        .routes(routes!(oauth::token))
        .routes(routes!(oauth_tokens::introspect))
        .routes(routes!(oauth_tokens::revoke))
        .routes(routes!(well_known::jwks))
        .routes(routes!(well_known::metadata))
        .routes(routes!(well_known::openid_configuration))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .merge(leak_reports())
}

/// The leak-report routes, which take up to 1000 credential strings and so a larger body than
/// the server-wide limit.
fn leak_reports() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(leak_reports::report_leaked_credentials))
        .routes(routes!(leak_reports::github_secret_scanning))
        .layer(axum::extract::DefaultBodyLimit::max(leak_reports::MAX_BODY_BYTES))
}
