//! Read replicas (`KEYWARD_READ_DATABASE_URL`) on the HA cluster `cargo xtask ha up` starts: the
//! reads that may lag go to the hot standbys while they are current within the bound, to the
//! primary once they fall behind it, and a revocation is never undone by a replica that has not
//! replayed it yet.
//!
//! Skipped, and saying so, without a cluster (see `failover.rs`); the two never run at once
//! (`.config/nextest.toml`).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::call;
use common::cluster::{cluster, database, drop_database, members, node, psql};

/// The replica's lag bound, and the nodes' freshness window.
const MAX_LAG: Duration = Duration::from_secs(5);
const FRESHNESS: Duration = Duration::from_secs(1);

/// Reads that went to the replica (`to="replica"`) or to the primary because of lag
/// (`to="primary",why="lag"`), from a node's `/metrics`.
async fn replica_reads(base: &str, to: &str, why: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("keyward_db_replica_reads_total{"))
        .filter(|l| l.contains(&format!("to=\"{to}\"")) && l.contains(&format!("why=\"{why}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// An unlabelled counter from a node's `/metrics` (0 before its first increment).
async fn counter(base: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0.0)
}

/// Holds back every standby's replay while it lives: a transaction on each standby reads a table
/// that the primary then drops, and replaying the drop waits for those readers (up to the
/// standby's `max_standby_streaming_delay`, 30 s), and everything after it with it. (Patroni undoes
/// both a paused replay and a `recovery_min_apply_delay` within its loop.) Dropped, the readers end.
struct ReplayBlocked(Vec<std::process::Child>);

impl ReplayBlocked {
    async fn on(cluster: &Value, database: &str) -> Self {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let now = members(cluster).await;
        let leader = now.iter().find(|(_, role, _, _)| role == "leader").unwrap().3;
        let standbys: Vec<u64> = now.iter().filter(|(_, role, _, _)| role != "leader").map(|m| m.3).collect();
        psql(leader, database, "CREATE TABLE replay_barrier (x int)");
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let has_table = "SELECT count(*) FROM pg_class WHERE relname = 'replay_barrier'";
        let idle = format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND state = 'idle in transaction'"
        );
        let mut readers = Vec::new();
        for port in &standbys {
            while psql(*port, database, has_table).trim() != "1" {
                tick.tick().await;
            }
            let mut reader = Command::new("psql")
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-d", database, "-q"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let stdin = reader.stdin.as_mut().unwrap();
            stdin.write_all(b"BEGIN;\nSELECT count(*) FROM replay_barrier;\n").unwrap();
            stdin.flush().unwrap();
            while psql(*port, "postgres", &idle).trim() != "1" {
                tick.tick().await;
            }
            readers.push(reader);
        }
        psql(leader, database, "DROP TABLE replay_barrier");
        Self(readers)
    }
}

impl Drop for ReplayBlocked {
    fn drop(&mut self) {
        for reader in &mut self.0 {
            let _ = reader.kill();
            let _ = reader.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_that_may_lag_go_to_a_current_replica_and_never_undo_a_revocation() {
    let Some(cluster) = cluster() else { return };
    let (database, pooled, direct) = database(&cluster, "replicas").await;
    let standbys = direct.replace("target_session_attrs=read-write", "target_session_attrs=prefer-standby");
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let (lag, freshness) = (MAX_LAG.as_millis().to_string(), FRESHNESS.as_millis().to_string());
    let primary_only = node(&dir.path().join("one"), &pooled, &direct, &master, &[]);
    let started = Instant::now();
    let with_replica = node(
        &dir.path().join("two"),
        &pooled,
        &direct,
        &master,
        &[
            ("KEYWARD_READ_DATABASE_URL", standbys.as_str()),
            ("KEYWARD_READ_MAX_LAG_MS", lag.as_str()),
            ("KEYWARD_CACHE_FRESHNESS_MS", freshness.as_str()),
        ],
    );
    let (one, two) = (primary_only.base.clone(), with_replica.base.clone());
    let admin = std::fs::read_to_string(dir.path().join("one").join("admin.key")).unwrap().trim().to_owned();
    let post = |base: &str, path: String, body: Value| {
        call(reqwest::Method::POST, format!("{base}{path}"), &admin, Some(body))
    };
    let (_, acct) = post(&one, "/v1/accounts".into(), json!({"name": "acme"})).await;
    let acct = acct["id"].as_str().unwrap().to_owned();
    let (_, sa) = post(&one, format!("/v1/accounts/{acct}/service-accounts"), json!({"name": "svc"})).await;
    let sa = sa["id"].as_str().unwrap().to_owned();
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let names = |list: &Value| -> Vec<String> {
        list["items"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap().to_owned()).collect()
    };

    // A current replica answers lists, and the cache misses of verification.
    let (status, key) = post(&one, keys.clone(), json!({"name": "first", "scopes": ["service-accounts:read"]})).await;
    assert_eq!(status, 201, "{key}");
    let first = key["secret"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let (status, list) = call(reqwest::Method::GET, format!("{two}{keys}"), &admin, None).await;
        assert_eq!(status, 200, "{list}");
        // Until the watcher has measured the replica, lists go to the primary.
        if names(&list).contains(&"first".to_owned()) && replica_reads(&two, "replica", "current").await >= 1.0 {
            break;
        }
        assert!(start.elapsed() < MAX_LAG * 3, "no list from a current replica: {list}");
    }
    // For the bound after its change feed starts listening, a node reads every key from the
    // primary: a change made just before it started may not be on the replica yet.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while started.elapsed() < MAX_LAG + Duration::from_millis(200) {
        tick.tick().await;
    }
    let before = replica_reads(&two, "replica", "current").await;
    let (status, verified) = post(&two, "/v1/api-keys/verify".into(), json!({"key": first})).await;
    assert_eq!((status, verified["valid"].as_bool()), (200, Some(true)), "{verified}");
    assert!(replica_reads(&two, "replica", "current").await > before, "the key's lookup went to the replica");

    // Replay held back, and a key revoked on another node while the replica is still within its
    // bound: this node heard of the change, so it reads that key from the primary and refuses it
    // within the freshness window, although the replica still holds the key.
    let blocked = ReplayBlocked::on(&cluster, &database).await;
    let held = Instant::now();
    let heard = counter(&two, "keyward_change_feed_notifications_total").await;
    let (status, _) = call(reqwest::Method::DELETE, format!("{one}{keys}/first"), &admin, None).await;
    assert_eq!(status, 204);
    let revoked = Instant::now();
    while counter(&two, "keyward_change_feed_notifications_total").await <= heard {
        assert!(revoked.elapsed() < FRESHNESS, "the revocation was not announced");
    }
    // The first verification after the announcement: a key lookup from the lagging replica (or
    // the cache) would still find the key.
    let (_, verified) = post(&two, "/v1/api-keys/verify".into(), json!({"key": first})).await;
    assert_eq!(
        (verified["valid"].as_bool(), verified["code"].as_str()),
        (Some(false), Some("NOT_FOUND")),
        "{verified}"
    );
    let standby = members(&cluster).await.into_iter().find(|(_, role, _, _)| role != "leader").unwrap().3;
    let on_replica = psql(standby, &database, "SELECT count(*) FROM api_keys WHERE name = 'first'");
    assert_eq!(on_replica.trim(), "1", "the replica has not replayed the revocation");
    assert!(held.elapsed() < MAX_LAG / 2, "the revocation was checked while the replica was within its bound");

    // Past the bound the reads go to the primary, so what the primary has is listed within it.
    let (status, _) = post(&one, keys.clone(), json!({"name": "while-held"})).await;
    assert_eq!(status, 201);
    loop {
        let (_, list) = call(reqwest::Method::GET, format!("{two}{keys}"), &admin, None).await;
        if names(&list).contains(&"while-held".to_owned()) {
            break;
        }
        assert!(held.elapsed() < MAX_LAG * 2, "a lagging replica still answers past its bound: {list}");
    }
    assert!(replica_reads(&two, "primary", "lag").await >= 1.0, "the lagging replica was passed over");

    // Replay let go: the replica is current again and answers again.
    drop(blocked);
    let before = replica_reads(&two, "replica", "current").await;
    let resumed = Instant::now();
    loop {
        let (status, _) = call(reqwest::Method::GET, format!("{two}{keys}"), &admin, None).await;
        assert_eq!(status, 200);
        if replica_reads(&two, "replica", "current").await > before {
            break;
        }
        assert!(resumed.elapsed() < Duration::from_secs(10), "the replica did not answer again once current");
    }
    primary_only.stop();
    with_replica.stop();
    drop_database(&cluster, &database).await;
}
