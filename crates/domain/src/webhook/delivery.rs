//! Deliveries: one per event and endpoint, written to the outbox with the event, sent at least
//! once, retried with backoff for a day, then marked failed.

use std::fmt;

use ring::digest;
use uuid::Uuid;

use super::EventType;
use crate::Timestamp;
use crate::id::{AccountId, AuditEventId, DeliveryId, WebhookId};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not yet answered 2xx; another attempt is due at `next_attempt_at`.
    Pending,
    /// Answered 2xx.
    Delivered,
    /// Given up on: a day of attempts went unanswered.
    Failed,
}

impl DeliveryState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    /// The state with this wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed].into_iter().find(|d| d.as_str() == s)
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Its id, also the `webhook-id` header (the same on every attempt, so receivers can
    /// deduplicate).
    pub id: DeliveryId,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// The account.
    pub account_id: AccountId,
    /// What happened.
    pub event_type: EventType,
    /// The JSON body, as sent.
    pub payload: String,
    /// When the event happened and the delivery was queued.
    pub created_at: Timestamp,
    /// Where it stands.
    pub state: DeliveryState,
    /// How many attempts were made.
    pub attempts: u32,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<Timestamp>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<Timestamp>,
    /// The HTTP status the last attempt got, if it got one.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
}

impl Delivery {
    /// The delivery of the audit event `event` to the webhook `webhook`: its id is derived from
    /// both, so writing it twice is writing it once, and it sorts by the event's time.
    pub fn id_for(event: AuditEventId, webhook: WebhookId) -> DeliveryId {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(event.as_uuid().as_bytes());
        ctx.update(webhook.as_uuid().as_bytes());
        let hash = ctx.finish();
        // The event id's time and sequence (its first 8 bytes, version included), then the hash.
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&event.as_uuid().as_bytes()[..8]);
        bytes[8..].copy_from_slice(&hash.as_ref()[..8]);
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        DeliveryId::from_uuid(Uuid::from_bytes(bytes))
    }
}

/// The waits after the first, second, ... failed attempt (the Standard Webhooks schedule).
const BACKOFF_SECONDS: [i64; 7] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];
/// How long a delivery is retried before it is marked failed.
pub const RETRY_FOR_HOURS: i64 = 24;

/// When to try a delivery created at `created` again after its `attempts`-th failed attempt at
/// `now`; `None` once that would be more than a day after it was created.
pub fn next_attempt(created: Timestamp, attempts: u32, now: Timestamp) -> Option<Timestamp> {
    let index = usize::try_from(attempts.max(1) - 1).unwrap_or(usize::MAX).min(BACKOFF_SECONDS.len() - 1);
    let at = now + chrono::Duration::seconds(BACKOFF_SECONDS[index]);
    (at <= created + chrono::Duration::hours(RETRY_FOR_HOURS)).then_some(at)
}

/// Sends a delivery over HTTP: a port that the `outbound` crate implements.
pub trait WebhookSender: Send + Sync + fmt::Debug {
    /// POSTs `body` (JSON) to `url` with `headers`; answers the status, or why none came.
    fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> Result<u16, String>;
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;

    #[test]
    fn attempts_back_off_and_stop_after_a_day() {
        let created = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        assert_eq!(next_attempt(created, 1, created), Some(created + Duration::seconds(5)));
        assert_eq!(next_attempt(created, 2, created), Some(created + Duration::minutes(5)));
        let late = created + Duration::hours(20);
        assert_eq!(next_attempt(created, 6, late), None, "ten more hours would pass the day");
        assert_eq!(next_attempt(created, 40, created), Some(created + Duration::hours(10)), "the last wait repeats");
    }

    #[test]
    fn a_deliverys_id_follows_from_its_event_and_endpoint() {
        let event = AuditEventId::from_uuid(Uuid::parse_str("0190f1c2-7a3b-7c4d-8e5f-0123456789ab").unwrap());
        let (a, b) = (WebhookId::from_uuid(Uuid::from_u128(1)), WebhookId::from_uuid(Uuid::from_u128(2)));
        assert_eq!(Delivery::id_for(event, a), Delivery::id_for(event, a));
        assert_ne!(Delivery::id_for(event, a), Delivery::id_for(event, b));
        let id = Delivery::id_for(event, a);
        assert_eq!(id.as_uuid().get_version_num(), 7);
        assert_eq!(&id.as_uuid().as_bytes()[..8], &event.as_uuid().as_bytes()[..8], "ordered as the events are");
    }
}
