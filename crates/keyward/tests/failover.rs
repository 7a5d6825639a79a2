//! A primary failover under load, on the highly available stack `cargo xtask ha up` starts:
//! three Patroni members with synchronous replication, a PgBouncer in front of each, and here
//! three `keyward serve` nodes through them. The primary's postmaster is killed with SIGKILL three
//! times, each time the new primary, while four writers and a verification load run.
//!
//! The cluster is found through `KEYWARD_HA_CLUSTER` (its `cluster.json`), which `cargo xtask
//! test` sets when it started one; without it the test says SKIPPED, unless
//! `KEYWARD_REQUIRE_HA` is set (as in CI), which makes that a failure.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use common::cluster::{cluster, database, drop_database, node, postmaster_pid, psql, settled};
use common::{Server, call, until_refused};

/// How many times the primary is killed.
const KILLS: usize = 3;
/// The nodes' pool timeout (4 s), PgBouncer's `query_wait_timeout` (3 s) and a margin: no
/// request may take longer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The nodes' freshness window.
const FRESHNESS: Duration = Duration::from_secs(1);

/// What each writer saw.
#[derive(Default)]
struct Writes {
    /// Names whose creation was answered 201.
    acknowledged: Vec<String>,
    /// When each answer came, and whether it was a 201.
    answers: Vec<(Instant, bool)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_killed_three_times_loses_no_acknowledged_write() {
    let Some(cluster) = cluster() else { return };
    let (database, pooled, direct) = database(&cluster, "failover").await;
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let freshness = FRESHNESS.as_millis().to_string();
    let nodes: Vec<Server> = (0..3)
        .map(|n| {
            let env = [("KEYWARD_CACHE_FRESHNESS_MS", freshness.as_str())];
            node(&dir.path().join(format!("node{n}")), &pooled, &direct, &master, &env)
        })
        .collect();
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let admin = std::fs::read_to_string(dir.path().join("node0").join("admin.key")).unwrap().trim().to_owned();
    let post = |base: &str, path: String, body: Value| {
        call(reqwest::Method::POST, format!("{base}{path}"), &admin, Some(body))
    };
    let (_, acct) = post(&bases[0], "/v1/accounts".into(), json!({"name": "acme"})).await;
    let acct = acct["id"].as_str().unwrap().to_owned();
    let (_, sa) = post(&bases[0], format!("/v1/accounts/{acct}/service-accounts"), json!({"name": "svc"})).await;
    let sa = sa["id"].as_str().unwrap().to_owned();
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let mut secrets = Vec::new();
    for k in 0..4 {
        let (status, key) =
            post(&bases[0], keys.clone(), json!({"name": format!("k{k}"), "scopes": ["service-accounts:read"]})).await;
        assert_eq!(status, 201, "{key}");
        secrets.push(key["secret"].as_str().unwrap().to_owned());
    }

    let client = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(Mutex::new(Writes::default()));
    // Four writers, each on its own node in turn, creating service accounts.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (client, bases, admin, stop, writes) =
                (client.clone(), bases.clone(), admin.clone(), stop.clone(), writes.clone());
            let url = format!("/v1/accounts/{acct}/service-accounts");
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let name = format!("w{w}-{i}");
                    let base = &bases[(w + i) % bases.len()];
                    let sent = client.post(format!("{base}{url}")).bearer_auth(&admin).json(&json!({"name": name}));
                    let answer = sent.send().await.unwrap_or_else(|e| panic!("write {name} got no answer: {e}"));
                    let status = answer.status().as_u16();
                    let body: Value = answer.json().await.unwrap_or(Value::Null);
                    assert!(status == 201 || status == 503, "write {name}: {status} {body}");
                    if status == 503 {
                        assert_eq!(body["status"], 503, "a 503 is problem+json: {body}");
                    }
                    let mut seen = writes.lock().await;
                    seen.answers.push((Instant::now(), status == 201));
                    if status == 201 {
                        seen.acknowledged.push(name);
                    }
                }
            })
        })
        .collect();
    // Verification of the four cached keys, on every node in turn: it must never fail.
    let verified = Arc::new(AtomicUsize::new(0));
    let verify_errors = Arc::new(AtomicUsize::new(0));
    let verify_failures = Arc::new(Mutex::new(Vec::new()));
    let verifiers: Vec<_> = (0..2)
        .map(|v| {
            let (client, bases, admin, stop, secrets) =
                (client.clone(), bases.clone(), admin.clone(), stop.clone(), secrets.clone());
            let (verified, errors, failures) = (verified.clone(), verify_errors.clone(), verify_failures.clone());
            tokio::spawn(async move {
                let mut i = v;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let base = &bases[i % bases.len()];
                    let body = json!({"key": secrets[i % secrets.len()]});
                    let sent = client.post(format!("{base}/v1/api-keys/verify")).bearer_auth(&admin).json(&body);
                    let failure = match sent.send().await {
                        Ok(answer) => {
                            let status = answer.status().as_u16();
                            let body = answer.text().await.unwrap_or_default();
                            let valid = serde_json::from_str::<Value>(&body).is_ok_and(|b| b["valid"] == true);
                            (status != 200 || !valid).then(|| format!("{base}: {status} {body}"))
                        }
                        Err(e) => Some(format!("{base}: {e}")),
                    };
                    verified.fetch_add(1, Ordering::SeqCst);
                    if let Some(failure) = failure {
                        errors.fetch_add(1, Ordering::SeqCst);
                        failures.lock().await.push(failure);
                    }
                }
            })
        })
        .collect();

    let mut report = Vec::new();
    let mut old_leader = None;
    for round in 1..=KILLS {
        // Steady load first: twenty more acknowledged writes.
        let before = writes.lock().await.acknowledged.len();
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        while writes.lock().await.acknowledged.len() < before + 20 {
            tick.tick().await;
        }
        let (leader, _, _) = settled(&cluster, old_leader.as_deref(), Duration::from_secs(120)).await;
        let member = cluster["members"].as_array().unwrap().iter().find(|m| m["name"] == leader.as_str()).unwrap();
        let pid = postmaster_pid(Path::new(member["data_dir"].as_str().unwrap()));
        let killed = Instant::now();
        assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
        let (new_leader, _, leading) = settled(&cluster, Some(&leader), Duration::from_secs(120)).await;
        // Writes succeed again within 30 s of the new leader.
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let back = loop {
            tick.tick().await;
            let seen = writes.lock().await;
            if let Some((at, _)) = seen.answers.iter().rev().take_while(|(at, _)| *at > leading).find(|(_, ok)| *ok) {
                break *at;
            }
            drop(seen);
            assert!(
                leading.elapsed() < Duration::from_secs(30),
                "no write succeeded within 30 s of {new_leader} leading"
            );
        };
        // The write gap: from the first refused write after the kill to the next acknowledged one.
        let seen = writes.lock().await;
        let first_refused = seen.answers.iter().find(|(at, ok)| *at > killed && !ok).map(|(at, _)| *at);
        let gap = first_refused.map_or(Duration::ZERO, |at| back.saturating_duration_since(at));
        let refused = seen.answers.iter().filter(|(at, ok)| *at > killed && *at <= back && !ok).count();
        drop(seen);
        report.push(format!(
            "round {round}: killed {leader}; {new_leader} led after {:.1} s; writes refused for {:.1} s ({refused} answered 503)",
            leading.duration_since(killed).as_secs_f64(),
            gap.as_secs_f64(),
        ));
        old_leader = Some(leader);
    }
    stop.store(true, Ordering::SeqCst);
    for task in writers.into_iter().chain(verifiers) {
        task.await.unwrap();
    }

    // Every acknowledged write is on the new primary.
    let (_, leader_port, _) = settled(&cluster, None, Duration::from_secs(120)).await;
    let stored: HashSet<String> =
        psql(leader_port, &database, &format!("SELECT name FROM service_accounts WHERE account_id = '{acct}'"))
            .lines()
            .map(str::to_owned)
            .collect();
    let writes = writes.lock().await;
    let lost: Vec<&String> = writes.acknowledged.iter().filter(|name| !stored.contains(*name)).collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    let (errors, total) = (verify_errors.load(Ordering::SeqCst), verified.load(Ordering::SeqCst));
    let failures = verify_failures.lock().await;
    assert_eq!(
        errors, 0,
        "verifications of cached keys failed during the failovers: {errors} of {total}: {failures:?}"
    );

    // A key revoked after the failovers is refused on every node within the freshness window.
    let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    for base in &bases {
        let (status, _) = call(reqwest::Method::GET, format!("{base}{me}"), &secrets[0], None).await;
        assert_eq!(status, 200, "the key works on {base} before it is revoked");
    }
    let (status, _) = call(reqwest::Method::DELETE, format!("{}{keys}/k0", bases[0]), &admin, None).await;
    assert_eq!(status, 204);
    let revoked = Instant::now();
    for base in &bases {
        until_refused(&format!("{base}{me}"), &secrets[0], revoked, FRESHNESS + Duration::from_millis(500)).await;
    }

    eprintln!(
        "failover report ({} writes acknowledged, all present; {total} verifications, {errors} failed):",
        writes.acknowledged.len()
    );
    for line in &report {
        eprintln!("  {line}");
    }
    for node in nodes {
        node.stop();
    }
    drop_database(&cluster, &database).await;
}
