//! Tells the other nodes sharing a PostgreSQL database about changes that make their cached key
//! lookups wrong, and hears theirs, over `LISTEN`/`NOTIFY`. SQLite has one node and needs none.
//!
//! A change is announced inside the transaction that makes it, so it is delivered exactly when the
//! change commits and never for a change that rolled back. Each node keeps one connection that
//! listens, polled every [`POLL`]; when that connection breaks, announcements may have been lost,
//! so the node forgets every cached entry once it listens again. Entries expire at the end of the
//! freshness window whatever happens here: a lost announcement costs staleness, never more.

use std::sync::Weak;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::Text;
use diesel::{QueryResult, RunQueryDsl};

use crate::auth_cache::{Change, Tables};
use crate::background::{self, Background, StopSignal};
use crate::connection::DbConnection;

/// The notification channel.
const CHANNEL: &str = "keyward_auth_changes";
/// How often the listening connection is asked for new notifications.
const POLL: Duration = Duration::from_millis(50);
/// How long to wait before listening again after the connection failed.
const RECONNECT: Duration = Duration::from_secs(1);

/// Announces `change` to every node when the surrounding transaction commits.
pub(crate) fn announce(conn: &mut DbConnection, change: Change) -> QueryResult<()> {
    if let DbConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(CHANNEL)
            .bind::<Text, _>(change.to_payload())
            .execute(pg)?;
    }
    Ok(())
}

/// Listens on `url` for the changes of every node and forgets them in `tables`, on a thread of
/// its own, until the returned handle (or `tables`) is dropped; dropping the handle waits for the
/// thread to close its connection.
pub(crate) fn listen(url: String, tables: Weak<Tables>) -> Option<Background> {
    let feed = background::spawn("keyward-change-feed", move |signal: &StopSignal| run(&url, &tables, signal));
    if feed.is_none() {
        tracing::error!("cannot listen for other nodes' changes; cached keys will expire instead");
    }
    feed
}

fn run(url: &str, tables: &Weak<Tables>, signal: &StopSignal) {
    loop {
        match subscribe(url) {
            Ok(mut conn) => {
                // Whatever was announced while nobody listened is unknown.
                let Some(live) = tables.upgrade() else { return };
                live.read_all_again();
                live.set_listening(true);
                drop(live);
                if !relay(&mut conn, tables, signal) {
                    return;
                }
                if let Some(live) = tables.upgrade() {
                    live.set_listening(false);
                }
                tracing::warn!("the change feed's connection broke; listening again");
                metrics::counter!("keyward_change_feed_reconnects_total").increment(1);
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for other nodes' changes; trying again"),
        }
        let until = Instant::now() + RECONNECT;
        while Instant::now() < until {
            if tables.strong_count() == 0 || signal.stopped() {
                return;
            }
            std::thread::sleep(POLL);
        }
    }
}

fn subscribe(url: &str) -> Result<PgConnection, String> {
    let mut conn = crate::connection::connect_postgres(url).map_err(|e| e.to_string())?;
    conn.batch_execute(&format!("LISTEN {CHANNEL}")).map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Forgets announced changes as they arrive. Answers `false` when the cache is gone (stop), `true`
/// when the connection broke (listen again).
fn relay(conn: &mut PgConnection, tables: &Weak<Tables>, signal: &StopSignal) -> bool {
    for round in 0u64.. {
        if signal.stopped() {
            return false;
        }
        let Some(live) = tables.upgrade() else { return false };
        for notification in conn.notifications_iter() {
            match notification {
                Ok(n) => {
                    metrics::counter!("keyward_change_feed_notifications_total").increment(1);
                    live.forget(Change::from_payload(&n.payload));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "reading notifications failed");
                    return true;
                }
            }
        }
        drop(live);
        // A notification poll alone may not notice a server that went away; a query does.
        if round % 20 == 19 && conn.batch_execute("SELECT 1").is_err() {
            return true;
        }
        std::thread::sleep(POLL);
    }
    true
}
