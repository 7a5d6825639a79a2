//! Webhook endpoints (managed by account administrators) and the delivery round that sends what
//! the outbox holds.

use std::sync::Arc;

use super::Keyward;
use crate::ValidationError;
use crate::audit::Action;
use crate::error::Error;
use crate::id::{AccountId, WebhookId};
use crate::page::{Page, PageRequest};
use crate::principal::{Permission, Principal};
use crate::secret::SecretString;
use crate::webhook::{
    Delivery, DeliveryState, EventTypes, NewWebhook, SigningSecret, Webhook, WebhookSender, WebhookUrl, next_attempt,
    sign,
};

/// How long a claimed delivery is left to the node that claimed it before another may try.
const LEASE_SECONDS: i64 = 60;

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    /// Deliveries answered 2xx.
    pub delivered: usize,
    /// Deliveries that failed and will be tried again.
    pub retrying: usize,
    /// Deliveries given up on.
    pub failed: usize,
}

/// How webhooks are delivered: the sender, and whether private addresses may be targets.
#[derive(Debug, Clone)]
pub struct WebhookPolicy {
    /// What sends deliveries.
    pub sender: Arc<dyn WebhookSender>,
    /// Whether an endpoint may name a loopback or private address (tests and trials only).
    pub allow_private: bool,
}

/// A sender for a Keyward that delivers nothing: every attempt fails and is retried.
#[derive(Debug)]
pub struct NoWebhookSender;

impl WebhookSender for NoWebhookSender {
    fn post(&self, _: &str, _: &[(&'static str, String)], _: &str) -> Result<u16, String> {
        Err("this Keyward sends no webhooks".to_owned())
    }
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        Self { sender: Arc::new(NoWebhookSender), allow_private: false }
    }
}

impl Keyward {
    /// The same, delivering webhooks as `policy` says.
    pub fn with_webhooks(mut self, policy: WebhookPolicy) -> Self {
        self.webhooks = policy;
        self
    }

    /// Adds a webhook endpoint to an account; answers it with its signing secret, shown once.
    pub fn create_webhook(
        &self,
        p: &Principal,
        account: AccountId,
        new: NewWebhook,
    ) -> Result<(Webhook, SecretString), Error> {
        p.require(Permission::AccountAdmin, account)?;
        self.repo.account(account)?;
        let url = WebhookUrl::parse(&new.url, "url")?;
        let events = EventTypes::parse(&new.events, "events")?;
        if !self.webhooks.allow_private && url.names_private_host() {
            return Err(ValidationError::new(
                "url",
                "must not name a loopback or private address (KEYWARD_WEBHOOKS_ALLOW_PRIVATE allows it)",
            )
            .into());
        }
        let now = self.now();
        let id = WebhookId::generate(now, self.entropy.as_ref());
        let secret = SigningSecret::generate(self.entropy.as_ref());
        let sealed_secret =
            self.sealer.seal(secret.as_bytes(), &SigningSecret::seal_context(id), self.entropy.as_ref());
        let webhook =
            Webhook { id, account_id: account, url, events, active: new.active, sealed_secret, created_at: now };
        let audit = self.audit(p, account, Action::WebhookCreate, format!("webhook:{id}"), now);
        self.repo.insert_webhook(&webhook, &audit)?;
        Ok((webhook, secret.reveal()))
    }

    /// One webhook endpoint.
    pub fn get_webhook(&self, p: &Principal, account: AccountId, id: WebhookId) -> Result<Webhook, Error> {
        p.require(Permission::AccountAdmin, account)?;
        Ok(self.repo.webhook(account, id)?)
    }

    /// The webhook endpoints of an account.
    pub fn list_webhooks(&self, p: &Principal, account: AccountId, page: &PageRequest) -> Result<Page<Webhook>, Error> {
        p.require(Permission::AccountAdmin, account)?;
        let page = self.repo.list_webhooks(account, page)?;
        if page.items.is_empty() {
            self.repo.account(account)?;
        }
        Ok(page)
    }

    /// Removes a webhook endpoint and its deliveries.
    pub fn delete_webhook(&self, p: &Principal, account: AccountId, id: WebhookId) -> Result<(), Error> {
        p.require(Permission::AccountAdmin, account)?;
        let audit = self.audit(p, account, Action::WebhookDelete, format!("webhook:{id}"), self.now());
        Ok(self.repo.delete_webhook(account, id, &audit)?)
    }

    /// The deliveries to a webhook endpoint, newest first.
    pub fn list_deliveries(
        &self,
        p: &Principal,
        account: AccountId,
        id: WebhookId,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, Error> {
        p.require(Permission::AccountAdmin, account)?;
        self.repo.webhook(account, id)?;
        Ok(self.repo.list_deliveries(account, id, page)?)
    }

    /// Sends up to `limit` due deliveries, one attempt each, and stores each outcome.
    pub fn deliver_due_webhooks(&self, limit: u32) -> Result<DeliveryRound, Error> {
        let now = self.now();
        let lease = now + chrono::Duration::seconds(LEASE_SECONDS);
        let mut round = DeliveryRound::default();
        for (mut delivery, webhook) in self.repo.claim_due_deliveries(now, lease, limit)? {
            let outcome = self.attempt(&delivery, &webhook);
            let now = self.now();
            delivery.attempts = delivery.attempts.saturating_add(1);
            delivery.last_attempt_at = Some(now);
            (delivery.last_status, delivery.last_error) = match &outcome {
                Ok(status) => (Some(*status), None),
                Err(why) => (None, Some(why.clone())),
            };
            if matches!(outcome, Ok(status) if (200..300).contains(&status)) {
                (delivery.state, delivery.next_attempt_at) = (DeliveryState::Delivered, None);
                round.delivered += 1;
            } else if let Some(at) = next_attempt(delivery.created_at, delivery.attempts, now) {
                (delivery.state, delivery.next_attempt_at) = (DeliveryState::Pending, Some(at));
                round.retrying += 1;
            } else {
                (delivery.state, delivery.next_attempt_at) = (DeliveryState::Failed, None);
                round.failed += 1;
            }
            self.repo.record_attempt(&delivery)?;
        }
        Ok(round)
    }

    /// One attempt: the signed POST, as Standard Webhooks describes it.
    fn attempt(&self, delivery: &Delivery, webhook: &Webhook) -> Result<u16, String> {
        if !webhook.active {
            return Err("the webhook is inactive".to_owned());
        }
        let secret = self
            .sealer
            .open(&webhook.sealed_secret, &SigningSecret::seal_context(webhook.id))
            .map_err(|_| "the webhook's secret cannot be opened with this master key".to_owned())?;
        let secret = SigningSecret::from_bytes(secret);
        let id = delivery.id.to_string();
        let timestamp = self.now().timestamp();
        let signature = sign(&secret, &id, timestamp, &delivery.payload);
        let headers = [
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
            ("content-type", "application/json".to_owned()),
        ];
        self.webhooks.sender.post(webhook.url.as_str(), &headers, &delivery.payload)
    }
}
