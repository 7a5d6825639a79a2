//! The HA cluster that `cargo xtask ha up` starts, as the failover and read-replica tests use it:
//! where its parts are, what Patroni says of its members, and a database of a test's own on it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The cluster `cargo xtask ha up` described, or `None` (SKIPPED) when none was started.
pub fn cluster() -> Option<Value> {
    let Ok(path) = std::env::var("KEYWARD_HA_CLUSTER") else {
        assert!(
            std::env::var("KEYWARD_REQUIRE_HA").is_err(),
            "the HA cluster is required (KEYWARD_REQUIRE_HA) but KEYWARD_HA_CLUSTER is not set: run `cargo xtask test`"
        );
        eprintln!(
            "SKIPPED: the failover test, no HA cluster (`cargo xtask test` starts one when etcd, PgBouncer and Python are installed)"
        );
        return None;
    };
    Some(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

/// The members as Patroni sees them: (name, role, state, port).
pub async fn members(cluster: &Value) -> Vec<(String, String, String, u64)> {
    for member in cluster["members"].as_array().unwrap() {
        let url = format!("http://127.0.0.1:{}/cluster", member["patroni_port"]);
        let Ok(answer) = reqwest::get(&url).await else { continue };
        let Ok(body) = answer.json::<Value>().await else { continue };
        return body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let text = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
                (text("name"), text("role"), text("state"), m["port"].as_u64().unwrap_or_default())
            })
            .collect();
    }
    Vec::new()
}

/// Waits until a member other than `not` leads, and the others stream from it, one of them
/// synchronously (Patroni promotes only a synchronous standby, so the next kill can fail over); returns the leader's name and port and
/// when it was first seen leading.
pub async fn settled(cluster: &Value, not: Option<&str>, within: Duration) -> (String, u64, Instant) {
    let start = Instant::now();
    let mut leading_since = None;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let now = members(cluster).await;
        let leader = now.iter().find(|(n, r, s, _)| r == "leader" && s == "running" && Some(n.as_str()) != not);
        if let Some((name, _, _, port)) = leader {
            let since = *leading_since.get_or_insert_with(Instant::now);
            let streaming = now.iter().filter(|(_, _, s, _)| s == "streaming").count();
            if streaming == now.len() - 1 && now.iter().any(|(_, r, _, _)| r == "sync_standby") {
                return (name.clone(), *port, since);
            }
        }
        assert!(start.elapsed() < within, "the cluster did not settle within {within:?}: {now:?}");
    }
}

pub fn psql(port: u64, database: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-d", database, "-tAc", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The cluster's URL with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (hosts, query) = url.split_once('?').unwrap();
    let (hosts, _) = hosts.rsplit_once('/').unwrap();
    format!("{hosts}/{database}?{query}")
}

pub fn postmaster_pid(data: &Path) -> String {
    std::fs::read_to_string(data.join("postmaster.pid")).unwrap().lines().next().unwrap().trim().to_owned()
}

/// A database of the test's own on the cluster, named after `test`, once every member has
/// replayed it: libpq tries the next host only when a connection fails, not when a server refuses
/// it for a database it does not have yet. Returns its name and the URLs through PgBouncer and
/// straight to the members.
pub async fn database(cluster: &Value, test: &str) -> (String, String, String) {
    let (_, leader_port, _) = settled(cluster, None, Duration::from_secs(120)).await;
    let database = format!("{test}_{}", std::process::id());
    psql(leader_port, "postgres", &format!("DROP DATABASE IF EXISTS {database}"));
    psql(leader_port, "postgres", &format!("CREATE DATABASE {database}"));
    let exists = format!("SELECT count(*) FROM pg_database WHERE datname = '{database}'");
    for member in cluster["members"].as_array().unwrap() {
        let port = member["postgres_port"].as_u64().unwrap();
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        while psql(port, "postgres", &exists).trim() != "1" {
            tick.tick().await;
        }
    }
    let pooled = with_database(cluster["database_url"].as_str().unwrap(), &database);
    let direct = with_database(cluster["change_feed_database_url"].as_str().unwrap(), &database);
    (database, pooled, direct)
}

/// Drops a test's database, its sessions cut.
pub async fn drop_database(cluster: &Value, database: &str) {
    let (_, leader_port, _) = settled(cluster, None, Duration::from_secs(120)).await;
    psql(leader_port, "postgres", &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
}

/// A node through the PgBouncers (`pooled`), its change feed straight to the members (`direct`),
/// with the master key in `master`.
pub fn node(dir: &Path, pooled: &str, direct: &str, master: &Path, env: &[(&str, &str)]) -> super::Server {
    let mut cmd = super::keyward(dir, None);
    cmd.env("KEYWARD_DATABASE_URL", pooled)
        .env("KEYWARD_DATABASE_PREPARED_STATEMENTS", "false")
        .env("KEYWARD_CHANGE_FEED_DATABASE_URL", direct)
        .env("KEYWARD_MASTER_KEY_FILE", master);
    for (k, v) in env {
        cmd.env(k, v);
    }
    super::Server::start_cmd(cmd)
}
