//! `/v1/accounts/{account_id}/webhooks`: endpoints told of events on the account's credentials
//! (Standard Webhooks, signed with a per-endpoint secret), and their deliveries.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::webhook::{Delivery, NewWebhook, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use web::error::{ApiResult, Problem};
use web::extract::{AccountPath, ApiJson, ApiQuery, Caller, WebhookPath};
use web::list::{PageParams, list_body, next_cursor, page_request};
use web::state::AppState;

/// A webhook endpoint, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookBody {
    /// Its id.
    pub id: String,
    /// The account whose events it is told of.
    pub account_id: String,
    /// Where deliveries are POSTed.
    #[schema(example = "https://hooks.example.com/keyward")]
    pub url: String,
    /// The events it is told of.
    #[schema(example = json!(["credential.leaked", "credential.revoked"]))]
    pub events: Vec<String>,
    /// Whether it is told of anything.
    pub active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookBody {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id.to_string(),
            account_id: w.account_id.to_string(),
            url: w.url.as_str().to_owned(),
            events: w.events.iter().map(|t| t.as_str().to_owned()).collect(),
            active: w.active,
            created_at: w.created_at,
        }
    }
}

// `Debug` (below) hides the secret.
/// A webhook endpoint just created, with its signing secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookBody,
    /// The signing secret, `whsec_<base64>`, as Standard Webhooks libraries take it. Keyward
    /// keeps it sealed under its master key.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

impl std::fmt::Debug for CreatedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedWebhook").field("webhook", &self.webhook).field("secret", &"[REDACTED]").finish()
    }
}

/// A new webhook endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// An absolute `https` (or `http`) URL with no credentials in it. Loopback and private
    /// addresses are refused unless the deployment allows them (`KEYWARD_WEBHOOKS_ALLOW_PRIVATE`).
    #[schema(value_type = String, example = "https://hooks.example.com/keyward")]
    pub url: String,
    /// The events to be told of: `credential.leaked`, `credential.expiring`, `credential.expired`,
    /// `credential.rotated`, `credential.revoked`, `service_account.disabled`,
    /// `auth.failure_burst`, `credential.new_network`.
    #[schema(example = json!(["credential.leaked", "credential.revoked"]))]
    pub events: Vec<String>,
    /// Whether it starts active (default true).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// One attempt to tell an endpoint of one event, and how it went.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryBody {
    /// Its id, also the `webhook-id` header (the same on every attempt).
    pub id: String,
    /// The event type.
    #[schema(example = "credential.leaked")]
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (a day of attempts went unanswered).
    #[schema(example = "delivered")]
    pub state: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due, for a pending delivery.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer, if one came.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, if no answer came.
    pub last_error: Option<String>,
    /// The JSON body, exactly as sent.
    pub payload: String,
}

impl From<Delivery> for DeliveryBody {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            event_type: d.event_type.as_str().to_owned(),
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            created_at: d.created_at,
            next_attempt_at: d.next_attempt_at,
            last_attempt_at: d.last_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            payload: d.payload,
        }
    }
}

list_body!(WebhookList, WebhookBody);
list_body!(DeliveryList, DeliveryBody);

/// Adds a webhook endpoint. Needs `account:admin`. The answer holds its signing secret, once.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/webhooks", tag = "webhooks",
    request_body = CreateWebhook,
    params(AccountPath),
    security(("bearer" = [])),
    responses((status = 201, body = CreatedWebhook), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn create_webhook(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: AccountPath,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    let new = NewWebhook { url: body.url, events: body.events, active: body.active };
    let account = path.account_id;
    let (webhook, secret) = state.run(move |kw| kw.create_webhook(&p, account, new)).await?;
    let created = CreatedWebhook { webhook: webhook.into(), secret: secret.expose().to_owned() };
    Ok((StatusCode::CREATED, Json(created)))
}

/// Lists an account's webhook endpoints. Needs `account:admin`.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/webhooks", tag = "webhooks",
    params(AccountPath, PageParams),
    security(("bearer" = [])),
    responses((status = 200, body = WebhookList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: AccountPath,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<WebhookList>> {
    let account = path.account_id;
    let list = format!("/v1/accounts/{account}/webhooks");
    let page = page_request(&state, &list, q.limit.as_deref(), q.cursor.as_deref())?;
    let found = state.run(move |kw| kw.list_webhooks(&p, account, &page)).await?;
    let next_cursor = next_cursor(&state, &list, found.next.as_ref());
    Ok(Json(WebhookList { items: found.items.into_iter().map(Into::into).collect(), next_cursor }))
}

/// One webhook endpoint. Needs `account:admin`.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/webhooks/{webhook_id}", tag = "webhooks",
    params(WebhookPath),
    security(("bearer" = [])),
    responses((status = 200, body = WebhookBody), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn get_webhook(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: WebhookPath,
) -> ApiResult<Json<WebhookBody>> {
    let WebhookPath { account_id, webhook_id } = path;
    let found = state.run(move |kw| kw.get_webhook(&p, account_id, webhook_id)).await?;
    Ok(Json(found.into()))
}

/// Removes a webhook endpoint and its deliveries. Needs `account:admin`.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/webhooks/{webhook_id}", tag = "webhooks",
    params(WebhookPath),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: WebhookPath,
) -> ApiResult<StatusCode> {
    let WebhookPath { account_id, webhook_id } = path;
    state.run(move |kw| kw.delete_webhook(&p, account_id, webhook_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The deliveries to a webhook endpoint, newest first, with each one's attempts and last answer.
/// Needs `account:admin`.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/webhooks/{webhook_id}/deliveries", tag = "webhooks",
    params(WebhookPath, PageParams),
    security(("bearer" = [])),
    responses((status = 200, body = DeliveryList), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
#[tracing::instrument(skip_all, fields(account_id = %path.account_id))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    Caller(p): Caller,
    path: WebhookPath,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<DeliveryList>> {
    let WebhookPath { account_id, webhook_id } = path;
    let list = format!("/v1/accounts/{account_id}/webhooks/{webhook_id}/deliveries");
    let page = page_request(&state, &list, q.limit.as_deref(), q.cursor.as_deref())?;
    let found = state.run(move |kw| kw.list_deliveries(&p, account_id, webhook_id, &page)).await?;
    let next_cursor = next_cursor(&state, &list, found.next.as_ref());
    Ok(Json(DeliveryList { items: found.items.into_iter().map(Into::into).collect(), next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::{CreatedWebhook, WebhookBody};

    #[test]
    fn a_created_webhooks_debug_never_shows_the_secret() {
        let webhook = WebhookBody {
            id: "w".to_owned(),
            account_id: "a".to_owned(),
            url: "https://hooks.example.com/".to_owned(),
            events: vec![],
            active: true,
            created_at: chrono::DateTime::UNIX_EPOCH,
        };
        let created = CreatedWebhook { webhook, secret: "whsec_c2VjcmV0".to_owned() };
        assert!(!format!("{created:?}").contains("whsec_c2VjcmV0"));
    }
}
