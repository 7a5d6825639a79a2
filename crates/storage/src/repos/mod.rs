//! The domain's repository traits, one module per aggregate, over [`Store`](crate::Store).
//!
//! Lookups of one row by a unique key use `get_result`, not `first`, which adds a needless
//! `LIMIT ?`. SQLite (3.50, bundled) would compile a bound `LIMIT` into the statement, so that
//! every new binding re-prepares it on its next step: a tenth of a key creation's CPU and an eighth
//! of a key list's went there. The build turns on SQLite's query planner stability guarantee
//! (`SQLITE_ENABLE_QPSG` in `.cargo/config.toml`), which stops that for the lists too.

mod accounts;
mod api_keys;
mod audit;
mod expiry;
mod federated_credentials;
mod roles;
mod secret_keys;
mod service_accounts;
mod settings;
mod signing_keys;
mod token_state;
mod usage;
mod usage_counters;
mod webhooks;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use domain::audit::AuditEvent;
use domain::error::Entity;
use domain::repository::{RepoResult, Repository};

use crate::Store;
use crate::auth_cache::Change;
use crate::change_feed::announce;
use crate::connection::{DbConnection, on_backend};
use crate::convert::AuditEventRow;
use crate::error::TxError;
use crate::schema::audit_events;

pub(crate) use api_keys::load_for_auth as api_key_for_auth;
pub(crate) use secret_keys::load_for_auth as secret_key_for_auth;

/// Writes an audit event on the connection of the transaction it belongs to, with the webhook
/// deliveries it calls for (see [`webhooks::enqueue`]).
fn record(conn: &mut DbConnection, event: &AuditEvent) -> QueryResult<usize> {
    let written = record_row(conn, &AuditEventRow::from(event))?;
    webhooks::enqueue(conn, event)?;
    Ok(written)
}

/// The same, for an event already in its row form (batched writes own their rows; they create
/// things, which no webhook event is about).
fn record_row(conn: &mut DbConnection, row: &AuditEventRow) -> QueryResult<usize> {
    on_backend!(conn, |c| diesel::insert_into(audit_events::table).values(row).execute(c))
}

/// Ends the transaction of a deletion that `deleted` rows: `entity` is not found when none was,
/// else every node is told of `change` and `audit` is recorded, both with the deletion or not at all.
fn removed(
    conn: &mut DbConnection,
    deleted: usize,
    entity: Entity,
    change: Change,
    audit: &AuditEvent,
) -> Result<(), TxError> {
    if deleted == 0 {
        return Err(TxError::Repo(domain::repository::RepoError::NotFound(entity)));
    }
    announce(conn, change)?;
    record(conn, audit)?;
    Ok(())
}

/// One more row than a page holds, to learn whether there is a next page.
fn fetch_limit(limit: domain::page::Limit) -> i64 {
    i64::try_from(limit.get()).unwrap_or(1000) + 1
}

impl Repository for Store {
    fn ping(&self) -> RepoResult<()> {
        self.read(Entity::Account, |c| Ok(c.batch_execute("SELECT 1")?))
    }
}
