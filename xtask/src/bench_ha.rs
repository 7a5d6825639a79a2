//! `cargo xtask bench --ha`: verification and key reads on the highly available stack, next to one
//! node on one PostgreSQL, in one run.
//!
//! Three topologies, each loaded by wrk with 64 connections in all: one node on the PostgreSQL the
//! tests use (a fresh schema); three nodes through the PgBouncers of the `cargo xtask ha` cluster
//! (one wrk per node, the rates summed); the same three nodes reading from the standbys
//! (`KEYWARD_READ_DATABASE_URL`). Every rate is given against the one node's `/healthz`, measured
//! first in the same run. On one machine all three topologies share its two cores with the load
//! generator: the figures compare the topologies' costs, not what N machines would serve.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::bench::{Measured, Scenario, field, post_json, run_wrk, start_server_with};
use crate::{exec, ha};

/// wrk's connections for a topology, shared among its nodes.
const CONNECTIONS: u32 = 64;

/// Runs the table.
pub fn run(exe: &Path, dir: &Path, seconds: u32) -> Result<()> {
    ha::available()?;
    let started = !ha::cluster_file().exists();
    if started {
        ha::up(0)?;
    }
    let outcome = table(exe, dir, seconds);
    if started {
        ha::down()?;
    }
    outcome
}

fn table(exe: &Path, dir: &Path, seconds: u32) -> Result<()> {
    let cluster: Value = serde_json::from_str(&std::fs::read_to_string(ha::cluster_file())?)?;
    let url = |key: &str| cluster[key].as_str().map(str::to_owned).context("cluster.json");
    let (pooled, direct) = (url("database_url")?, url("change_feed_database_url")?);
    let leader = leader_port(&cluster)?;
    let database = format!("keyward_bench_ha_{}", std::process::id());
    let psql = |port: &str, sql: &str| {
        exec(Command::new("psql").args(["-h", "127.0.0.1", "-p", port, "-U", "postgres", "-q", "-c", sql]))
    };
    psql(&leader, &format!("CREATE DATABASE {database}"))?;
    let on = |url: &str| url.replace("/keyward?", &format!("/{database}?"));
    // libpq tries the next host only when a connection fails, not when a server refuses it: every
    // member must have replayed the new database first.
    let exists = format!("SELECT count(*) FROM pg_database WHERE datname = '{database}'");
    for member in cluster["members"].as_array().into_iter().flatten() {
        let port = member["postgres_port"].to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let out = Command::new("psql")
                .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-tAc", &exists])
                .output()?;
            if String::from_utf8_lossy(&out.stdout).trim() == "1" {
                break;
            }
            if std::time::Instant::now() > deadline {
                bail!("member on {port} did not replay the new database within 30 s");
            }
        }
    }
    let master = dir.join("ha-master.key");
    let cluster_env = |n: u16, replicas: bool| {
        let mut env = vec![
            ("KEYWARD_DATABASE_URL".to_owned(), on(&pooled)),
            ("KEYWARD_DATABASE_PREPARED_STATEMENTS".to_owned(), "false".to_owned()),
            ("KEYWARD_CHANGE_FEED_DATABASE_URL".to_owned(), on(&direct)),
            ("KEYWARD_MASTER_KEY_FILE".to_owned(), master.display().to_string()),
            ("KEYWARD_DATA_DIR".to_owned(), dir.join(format!("ha-node{n}")).display().to_string()),
        ];
        if replicas {
            let standbys = on(&direct).replace("read-write", "prefer-standby");
            env.push(("KEYWARD_READ_DATABASE_URL".to_owned(), standbys));
        }
        env
    };

    // One node on one PostgreSQL: the test server, a schema of its own.
    let admin_url = crate::postgres::for_tests()?;
    let schema = format!("keyward_bench_ha_{}", std::process::id());
    exec(Command::new("psql").args([admin_url.as_str(), "-q", "-c", &format!("CREATE SCHEMA {schema}")]))?;
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    let single_url = format!("{admin_url}{sep}options=-c%20search_path%3D{schema}");
    let single_dir = dir.join("ha-single");
    let single_env = vec![
        ("KEYWARD_DATABASE_URL".to_owned(), single_url),
        ("KEYWARD_DATA_DIR".to_owned(), single_dir.display().to_string()),
    ];
    let result = (|| -> Result<()> {
        let mut single = Nodes::start(exe, &[single_env])?;
        let one = Setup::make(&single.bases[0], &single_dir, "single")?;
        println!("\n## Three nodes through PgBouncer on Patroni, against one node on one PostgreSQL");
        println!(
            "\n| topology | scenario | requests/s | × one node's healthz | errors |\n| --- | --- | ---: | ---: | --- |"
        );
        let baseline = single.load(&Scenario::get("healthz (baseline)", "/healthz", vec![]), seconds, dir)?;
        row("one node, one PostgreSQL", "healthz (baseline)", &baseline, baseline.rps);
        for s in one.scenarios() {
            let m = single.load(&s, seconds, dir)?;
            row("one node, one PostgreSQL", s.name, &m, baseline.rps);
        }
        single.stop();
        for (label, replicas) in [("3 nodes, PgBouncer", false), ("3 nodes, PgBouncer, read replicas", true)] {
            let mut nodes = Nodes::start(exe, &(1..=3).map(|n| cluster_env(n, replicas)).collect::<Vec<_>>())?;
            let account = if replicas { "replicas" } else { "pgbouncer" };
            let setup = Setup::make(&nodes.bases[0], &dir.join("ha-node1"), account)?;
            for s in setup.scenarios() {
                let m = nodes.load(&s, seconds, dir)?;
                row(label, s.name, &m, baseline.rps);
            }
            nodes.stop();
        }
        Ok(())
    })();
    let _ = exec(Command::new("psql").args([admin_url.as_str(), "-q", "-c", &format!("DROP SCHEMA {schema} CASCADE")]));
    let _ = psql(&leader_port(&cluster)?, &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
    result
}

fn row(topology: &str, scenario: &str, m: &Measured, baseline: f64) {
    println!("| {topology} | {scenario} | {:.0} | {:.2} | {} |", m.rps, m.rps / baseline, m.errors);
}

/// The port of the cluster's leader.
fn leader_port(cluster: &Value) -> Result<String> {
    for member in cluster["members"].as_array().into_iter().flatten() {
        let port = member["postgres_port"].to_string();
        let out = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-tAc", "SELECT pg_is_in_recovery()"])
            .output()?;
        if String::from_utf8_lossy(&out.stdout).trim() == "f" {
            return Ok(port);
        }
    }
    bail!("the cluster has no leader")
}

/// Running nodes, each with the environment given.
struct Nodes {
    children: Vec<Child>,
    bases: Vec<String>,
}

impl Nodes {
    fn start(exe: &Path, envs: &[Vec<(String, String)>]) -> Result<Self> {
        let mut nodes = Self { children: Vec::new(), bases: Vec::new() };
        for env in envs {
            let (child, base) = start_server_with(exe, env)?;
            nodes.children.push(child);
            nodes.bases.push(base);
        }
        Ok(nodes)
    }

    /// `s` on every node at once, the connections shared among them; the rates are summed and the
    /// latencies are the first node's.
    fn load(&self, s: &Scenario, seconds: u32, dir: &Path) -> Result<Measured> {
        let share = CONNECTIONS / u32::try_from(self.bases.len()).unwrap_or(1);
        let runs: Vec<Result<Measured>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .bases
                .iter()
                .enumerate()
                .map(|(i, base)| {
                    let own: PathBuf = dir.join(format!("wrk-{i}"));
                    scope.spawn(move || {
                        std::fs::create_dir_all(&own)?;
                        run_wrk(base, s, seconds, &own, share)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("wrk thread")))).collect()
        });
        let mut all = runs.into_iter().collect::<Result<Vec<_>>>()?;
        let rps = all.iter().map(|m| m.rps).sum();
        let errors = all.iter().map(|m| m.errors.as_str()).filter(|e| !e.is_empty()).collect::<Vec<_>>().join("; ");
        let mut first = all.swap_remove(0);
        first.rps = rps;
        first.errors = errors;
        Ok(first)
    }

    fn stop(&mut self) {
        for child in &mut self.children {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the scenarios need, made through the first node's API in an account of their own: a
/// verifier, a key to verify, and fifty keys to list.
struct Setup {
    keys: String,
    verifier: String,
    presented: String,
    admin: String,
}

impl Setup {
    fn make(base: &str, data: &Path, account: &str) -> Result<Self> {
        let admin = std::fs::read_to_string(data.join("admin.key"))?.trim().to_owned();
        let post = |path: &str, body: &str| post_json(base, path, &admin, body);
        let acct = field(&post("/v1/accounts", &format!(r#"{{"name":"{account}"}}"#))?, "id")?;
        let sa = field(&post(&format!("/v1/accounts/{acct}/service-accounts"), r#"{"name":"svc"}"#)?, "id")?;
        let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
        let verifier =
            field(&post(&keys, r#"{"name":"verifier","scopes":["api-keys:verify","api-keys:read"]}"#)?, "secret")?;
        let presented = field(&post(&keys, r#"{"name":"presented","scopes":["metrics:write"]}"#)?, "secret")?;
        for i in 0..48 {
            post(&keys, &format!(r#"{{"name":"listed-{i}"}}"#))?;
        }
        Ok(Self { keys, verifier, presented, admin })
    }

    fn scenarios(&self) -> Vec<Scenario> {
        let bearer = |token: &str| vec![("Authorization".to_owned(), format!("Bearer {token}"))];
        let json = ("Content-Type".to_owned(), "application/json".to_owned());
        vec![
            Scenario::post(
                "api-key verify",
                "/v1/api-keys/verify",
                [bearer(&self.verifier), vec![json]].concat(),
                format!(r#"{{"key":"{}","required_scopes":["metrics:write"]}}"#, self.presented),
            ),
            Scenario::get("list 50 keys", format!("{}?limit=50", self.keys), bearer(&self.admin)),
        ]
    }
}
