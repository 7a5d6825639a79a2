//! Webhooks: the endpoints an account registers to be told of events on its credentials, the
//! events, and the deliveries that carry them (at least once, from an outbox written in the same
//! transaction as the event).

mod delivery;
mod signature;
mod url;

use crate::Timestamp;
use crate::audit::AuditEvent;
use crate::id::{AccountId, WebhookId};

pub use crate::notification::{EventType, EventTypes};
pub use delivery::{Delivery, DeliveryState, WebhookSender, next_attempt};
pub use signature::{SigningSecret, sign};
pub use url::{WebhookUrl, is_private};

/// A webhook endpoint of an account.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// The account whose events it is told of.
    pub account_id: AccountId,
    /// Where deliveries are POSTed.
    pub url: WebhookUrl,
    /// The events it is told of.
    pub events: EventTypes,
    /// Whether it is told of anything.
    pub active: bool,
    /// Its signing secret, sealed under the master key (`SigningSecret::seal_context`).
    pub sealed_secret: Vec<u8>,
    /// When it was created.
    pub created_at: Timestamp,
}

/// What a caller supplies to create a webhook, as sent: parsed once the caller may create one, so
/// that a caller of another account learns only "not found".
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// Where deliveries go (`url`).
    pub url: String,
    /// The events to be told of (`events`).
    pub events: Vec<String>,
    /// Whether it starts active.
    pub active: bool,
}

/// The JSON body of a delivery (the Standard Webhooks shape: `type`, `timestamp`, `data`), made
/// from the audit event it tells of. It holds references and addresses, never a secret.
pub fn payload(event: &AuditEvent, t: EventType) -> String {
    let data = serde_json::json!({
        "type": t.as_str(),
        "timestamp": event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {
            "account_id": event.account_id.to_string(),
            "target": event.target,
            "actor": event.actor,
            "ip": event.ip,
            "reason": event.reason,
            "audit_event_id": event.id.to_string(),
        }
    });
    data.to_string()
}
