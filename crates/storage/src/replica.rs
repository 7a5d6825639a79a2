//! An optional read replica (a hot standby, `KEYWARD_READ_DATABASE_URL`). The reads that may lag a
//! little go to it while it is known to lag the primary by at most the bound: cache misses of
//! authentication and verification for keys this node has not seen change, and the lists clients
//! ask for. Everything else, and everything read inside a write, goes to the primary.
//!
//! How far behind the replica may be is measured, not estimated: a watcher reads the primary's
//! WAL position, then the replica's replayed position, every quarter of the bound. Once the
//! replica has replayed what the primary had written at an instant, it holds every commit up to
//! that instant; a read goes to it only if that instant is less than the bound ago.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::r2d2::{Pool, PooledConnection};
use diesel::{QueryableByName, RunQueryDsl};

use crate::background::{self, Background, StopSignal};
use crate::connection::{DbConnection, Manager};

/// How long a read waits for a replica connection before it goes to the primary instead.
const WAIT: Duration = Duration::from_millis(500);

/// The replica's pool and how current it is.
pub(crate) struct Replica {
    pool: Pool<Manager>,
    freshness: Arc<Freshness>,
    /// The watcher's thread; dropping it stops the thread and waits for it.
    _watcher: Option<Background>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica").field("max_lag", &self.freshness.max_lag).finish_non_exhaustive()
    }
}

/// The instant as of which the replica was last known to hold every commit.
struct Freshness {
    /// When the store started; instants are kept as microseconds since it.
    start: Instant,
    /// Microseconds since `start`, plus one; 0 while it was never known.
    as_of: AtomicU64,
    max_lag: Duration,
}

impl Freshness {
    fn record(&self, as_of: Instant) {
        let micros = u64::try_from(as_of.saturating_duration_since(self.start).as_micros()).unwrap_or(u64::MAX - 1);
        self.as_of.fetch_max(micros + 1, Ordering::Relaxed);
    }

    /// Whether the replica holds every commit older than the bound.
    fn within_bound(&self) -> bool {
        let as_of = self.as_of.load(Ordering::Relaxed);
        as_of != 0 && self.start + Duration::from_micros(as_of - 1) + self.max_lag >= Instant::now()
    }
}

impl Replica {
    /// A replica on `pool`, watched against `primary` on a thread of its own if `background`
    /// (without a watcher it is never known to be current, and every read goes to the primary).
    pub(crate) fn new(pool: Pool<Manager>, primary: Pool<Manager>, max_lag: Duration, background: bool) -> Self {
        let freshness = Arc::new(Freshness { start: Instant::now(), as_of: AtomicU64::new(0), max_lag });
        let watcher = background.then(|| {
            let (replica, freshness) = (pool.clone(), freshness.clone());
            background::spawn("keyward-replica-lag", move |signal: &StopSignal| {
                watch(&primary, &replica, &freshness, signal);
            })
        });
        Self { pool, freshness, _watcher: watcher.flatten() }
    }

    /// A replica connection for a read that may lag, or `None` when it must go to the primary:
    /// the replica lags too far, or gave no connection in time.
    pub(crate) fn connection(&self) -> Option<PooledConnection<Manager>> {
        let counted = |to: &'static str, why: &'static str| {
            metrics::counter!("keyward_db_replica_reads_total", "to" => to, "why" => why).increment(1);
        };
        if !self.freshness.within_bound() {
            counted("primary", "lag");
            return None;
        }
        match self.pool.get_timeout(WAIT) {
            Ok(conn) => {
                counted("replica", "current");
                Some(conn)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no read replica connection; reading from the primary");
                counted("primary", "unavailable");
                None
            }
        }
    }
}

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    lsn: Option<String>,
}

/// A WAL position (`16/B374D848`) as a number.
fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?)
}

/// Runs `sql`, which answers one WAL position (or NULL), on a PostgreSQL connection.
fn position(pool: &Pool<Manager>, sql: &str) -> Option<Option<u64>> {
    let mut conn = pool.get_timeout(Duration::from_secs(1)).ok()?;
    let DbConnection::Postgresql(pg) = &mut **conn else { return None };
    let row: Position = diesel::sql_query(sql).get_result(pg).ok()?;
    Some(row.lsn.as_deref().and_then(parse_lsn))
}

/// Measures the replica against the primary until stopped.
fn watch(primary: &Pool<Manager>, replica: &Pool<Manager>, freshness: &Freshness, signal: &StopSignal) {
    let tick = (freshness.max_lag / 4).clamp(Duration::from_millis(25), Duration::from_secs(1));
    while !signal.stopped() {
        let asked = Instant::now();
        let written = position(primary, "SELECT pg_current_wal_lsn()::text AS lsn").flatten();
        // NULL: the server is not in recovery, so it is a primary itself, and current.
        let replayed = position(replica, "SELECT pg_last_wal_replay_lsn()::text AS lsn");
        match (written, replayed) {
            (Some(_), Some(None)) => freshness.record(asked),
            (Some(written), Some(Some(replayed))) if replayed >= written => freshness.record(asked),
            other => tracing::debug!(positions = ?other, "the read replica is behind, or unknown"),
        }
        let until = asked + tick;
        while Instant::now() < until && !signal.stopped() {
            std::thread::sleep(Duration::from_millis(5).min(tick));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_positions_are_read_as_numbers() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert!(parse_lsn("16/B374D848") > parse_lsn("16/B374D847"));
        assert!(parse_lsn("17/0") > parse_lsn("16/FFFFFFFF"));
        assert_eq!(parse_lsn("nonsense"), None);
    }

    #[test]
    fn a_replica_is_current_for_the_bound_after_it_was_last_known_to_be() {
        let max_lag = Duration::from_secs(2);
        let start = Instant::now().checked_sub(Duration::from_secs(60)).unwrap();
        let freshness = Freshness { start, as_of: AtomicU64::new(0), max_lag };
        assert!(!freshness.within_bound(), "never measured");
        freshness.record(Instant::now().checked_sub(Duration::from_secs(3)).unwrap());
        assert!(!freshness.within_bound(), "known current 3 s ago, past the 2 s bound");
        freshness.record(Instant::now().checked_sub(Duration::from_secs(1)).unwrap());
        assert!(freshness.within_bound());
        freshness.record(Instant::now().checked_sub(Duration::from_secs(10)).unwrap());
        assert!(freshness.within_bound(), "an older measurement never moves it back");
    }
}
