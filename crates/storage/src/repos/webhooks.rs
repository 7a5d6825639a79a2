//! Webhook endpoints and the outbox of their deliveries: rows, the repository, and `enqueue`,
//! which every audited change calls in its own transaction.

use diesel::prelude::*;
use domain::Timestamp;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::id::{AccountId, DeliveryId, WebhookId};
use domain::page::{Page, PageRequest, Position, SortKey};
use domain::repository::{RepoError, RepoResult, WebhookRepository};
use domain::webhook::{self, Delivery, DeliveryState, EventType, EventTypes, Webhook, WebhookUrl};

use super::{fetch_limit, record};
use crate::Store;
use crate::connection::DbConnection;
use crate::convert::{corrupt, micros, opt_time, time, uuid};
use crate::error::TxError;
use crate::schema::webhook_deliveries::{self, dsl as deliveries};
use crate::schema::webhooks::{self, dsl};

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhooks)]
pub(crate) struct WebhookRow {
    pub id: String,
    pub account_id: String,
    pub url: String,
    /// The event types as " a b c ", so that one `LIKE` finds the subscribers of one.
    pub events: String,
    pub active: bool,
    pub sealed_secret: Vec<u8>,
    pub created_at: i64,
}

impl From<&Webhook> for WebhookRow {
    fn from(w: &Webhook) -> Self {
        let events: String = w.events.iter().map(|t| format!(" {t}")).collect();
        Self {
            id: w.id.to_string(),
            account_id: w.account_id.to_string(),
            url: w.url.as_str().to_owned(),
            events: format!("{events} "),
            active: w.active,
            sealed_secret: w.sealed_secret.clone(),
            created_at: micros(w.created_at),
        }
    }
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = RepoError;
    fn try_from(r: WebhookRow) -> RepoResult<Self> {
        let names: Vec<&str> = r.events.split_whitespace().collect();
        Ok(Webhook {
            id: WebhookId::from_uuid(uuid(&r.id)?),
            account_id: AccountId::from_uuid(uuid(&r.account_id)?),
            url: WebhookUrl::parse(&r.url, "url").map_err(|_| corrupt("webhook url"))?,
            events: EventTypes::parse(&names, "events").map_err(|_| corrupt("webhook events"))?,
            active: r.active,
            sealed_secret: r.sealed_secret,
            created_at: time(r.created_at)?,
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub(crate) struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub account_id: String,
    pub event_type: String,
    pub payload: String,
    pub created_at: i64,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

impl From<&Delivery> for DeliveryRow {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            webhook_id: d.webhook_id.to_string(),
            account_id: d.account_id.to_string(),
            event_type: d.event_type.as_str().to_owned(),
            payload: d.payload.clone(),
            created_at: micros(d.created_at),
            state: d.state.as_str().to_owned(),
            attempts: i64::from(d.attempts),
            next_attempt_at: d.next_attempt_at.map(micros),
            last_attempt_at: d.last_attempt_at.map(micros),
            last_status: d.last_status.map(i64::from),
            last_error: d.last_error.clone(),
        }
    }
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = RepoError;
    fn try_from(r: DeliveryRow) -> RepoResult<Self> {
        Ok(Delivery {
            id: DeliveryId::from_uuid(uuid(&r.id)?),
            webhook_id: WebhookId::from_uuid(uuid(&r.webhook_id)?),
            account_id: AccountId::from_uuid(uuid(&r.account_id)?),
            event_type: EventType::parse(&r.event_type).ok_or_else(|| corrupt("delivery event type"))?,
            payload: r.payload,
            created_at: time(r.created_at)?,
            state: DeliveryState::parse(&r.state).ok_or_else(|| corrupt("delivery state"))?,
            attempts: u32::try_from(r.attempts).map_err(|_| corrupt("delivery attempts"))?,
            next_attempt_at: opt_time(r.next_attempt_at)?,
            last_attempt_at: opt_time(r.last_attempt_at)?,
            last_status: r.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: r.last_error,
        })
    }
}

/// Queues a delivery of `event` to every active endpoint of its account that subscribes to it,
/// on the connection of the event's own transaction: the event and its deliveries commit
/// together or not at all.
pub(super) fn enqueue(c: &mut DbConnection, event: &AuditEvent) -> QueryResult<()> {
    let Some(t) = event.notification() else { return Ok(()) };
    let subscribers: Vec<String> = webhooks::table
        .filter(dsl::account_id.eq(event.account_id.to_string()))
        .filter(dsl::active.eq(true))
        .filter(dsl::events.like(format!("% {} %", t.as_str().replace('_', "\\_"))).escape('\\'))
        .select(dsl::id)
        .load(c)?;
    for id in subscribers {
        let Ok(webhook) = WebhookId::parse(&id, "id") else { continue };
        let delivery = Delivery {
            id: Delivery::id_for(event.id, webhook),
            webhook_id: webhook,
            account_id: event.account_id,
            event_type: t,
            payload: webhook::payload(event, t),
            created_at: event.at,
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: Some(event.at),
            last_attempt_at: None,
            last_status: None,
            last_error: None,
        };
        diesel::insert_into(webhook_deliveries::table).values(DeliveryRow::from(&delivery)).execute(c)?;
    }
    Ok(())
}

fn read_webhook(c: &mut DbConnection, account: AccountId, id: WebhookId) -> Result<WebhookRow, TxError> {
    Ok(webhooks::table
        .filter(dsl::id.eq(id.to_string()))
        .filter(dsl::account_id.eq(account.to_string()))
        .select(WebhookRow::as_select())
        .get_result(c)?)
}

impl WebhookRepository for Store {
    fn insert_webhook(&self, webhook: &Webhook, audit: &AuditEvent) -> RepoResult<()> {
        let row = WebhookRow::from(webhook);
        self.write(Entity::Webhook, |c| {
            diesel::insert_into(webhooks::table).values(&row).execute(c)?;
            record(c, audit)?;
            Ok(())
        })
    }

    fn webhook(&self, account: AccountId, id: WebhookId) -> RepoResult<Webhook> {
        self.read(Entity::Webhook, |c| Ok(Webhook::try_from(read_webhook(c, account, id)?)?))
    }

    fn list_webhooks(&self, account: AccountId, page: &PageRequest) -> RepoResult<Page<Webhook>> {
        let rows = self.read_lagging(page.may_lag, Entity::Webhook, |c| {
            let mut q = webhooks::table
                .filter(dsl::account_id.eq(account.to_string()))
                .select(WebhookRow::as_select())
                .order(dsl::id.asc())
                .limit(fetch_limit(page.limit))
                .into_boxed();
            if let Some(after) = &page.after {
                q = q.filter(dsl::id.gt(after.id.hyphenated().to_string()));
            }
            let rows: Vec<WebhookRow> = q.load(c)?;
            Ok(rows.into_iter().map(Webhook::try_from).collect::<RepoResult<Vec<_>>>()?)
        })?;
        Ok(Page::from_rows(rows, page.limit, |w| Position { key: SortKey::Id, id: *w.id.as_uuid() }))
    }

    fn delete_webhook(&self, account: AccountId, id: WebhookId, audit: &AuditEvent) -> RepoResult<()> {
        self.write(Entity::Webhook, |c| {
            read_webhook(c, account, id)?;
            diesel::delete(webhook_deliveries::table.filter(deliveries::webhook_id.eq(id.to_string()))).execute(c)?;
            diesel::delete(webhooks::table.filter(dsl::id.eq(id.to_string()))).execute(c)?;
            record(c, audit)?;
            Ok(())
        })
    }

    fn list_deliveries(
        &self,
        account: AccountId,
        webhook: WebhookId,
        page: &PageRequest,
    ) -> RepoResult<Page<Delivery>> {
        let rows = self.read_lagging(page.may_lag, Entity::Webhook, |c| {
            let mut q = webhook_deliveries::table
                .filter(deliveries::webhook_id.eq(webhook.to_string()))
                .filter(deliveries::account_id.eq(account.to_string()))
                .select(DeliveryRow::as_select())
                .order(deliveries::id.desc())
                .limit(fetch_limit(page.limit))
                .into_boxed();
            if let Some(after) = &page.after {
                q = q.filter(deliveries::id.lt(after.id.hyphenated().to_string()));
            }
            let rows: Vec<DeliveryRow> = q.load(c)?;
            Ok(rows.into_iter().map(Delivery::try_from).collect::<RepoResult<Vec<_>>>()?)
        })?;
        Ok(Page::from_rows(rows, page.limit, |d| Position { key: SortKey::Id, id: *d.id.as_uuid() }))
    }

    fn claim_due_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> RepoResult<Vec<(Delivery, Webhook)>> {
        // Most rounds find nothing due: a read says so without taking the write lock.
        let any_due = self.read(Entity::Webhook, |c| {
            let due: Option<String> = webhook_deliveries::table
                .filter(deliveries::state.eq(DeliveryState::Pending.as_str()))
                .filter(deliveries::next_attempt_at.le(micros(now)))
                .select(deliveries::id)
                .first(c)
                .optional()?;
            Ok(due.is_some())
        })?;
        if !any_due {
            return Ok(Vec::new());
        }
        self.write(Entity::Webhook, |c| {
            let due: Vec<(DeliveryRow, WebhookRow)> = webhook_deliveries::table
                .inner_join(webhooks::table)
                .filter(deliveries::state.eq(DeliveryState::Pending.as_str()))
                .filter(deliveries::next_attempt_at.le(micros(now)))
                .select((DeliveryRow::as_select(), WebhookRow::as_select()))
                .order(deliveries::next_attempt_at.asc())
                .limit(i64::from(limit))
                .load(c)?;
            let mut claimed = Vec::with_capacity(due.len());
            for (delivery, webhook) in due {
                // Claimed only if no other node moved it since it was read.
                let taken = diesel::update(
                    webhook_deliveries::table
                        .filter(deliveries::id.eq(&delivery.id))
                        .filter(deliveries::next_attempt_at.eq(delivery.next_attempt_at)),
                )
                .set(deliveries::next_attempt_at.eq(micros(lease_until)))
                .execute(c)?;
                if taken == 1 {
                    claimed.push((Delivery::try_from(delivery)?, Webhook::try_from(webhook)?));
                }
            }
            Ok(claimed)
        })
    }

    fn record_attempt(&self, delivery: &Delivery) -> RepoResult<()> {
        let row = DeliveryRow::from(delivery);
        self.write(Entity::Webhook, |c| {
            diesel::update(webhook_deliveries::table.filter(deliveries::id.eq(&row.id)))
                .set((
                    deliveries::state.eq(&row.state),
                    deliveries::attempts.eq(row.attempts),
                    deliveries::next_attempt_at.eq(row.next_attempt_at),
                    deliveries::last_attempt_at.eq(row.last_attempt_at),
                    deliveries::last_status.eq(row.last_status),
                    deliveries::last_error.eq(&row.last_error),
                ))
                .execute(c)?;
            Ok(())
        })
    }
}
