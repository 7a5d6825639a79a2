//! PostgreSQL as highly available deployments run it: a server that turns read-only under
//! Keyward (a demoted primary), a connection string naming several hosts, and PgBouncer in
//! transaction pooling in front. Each test has a database of its own.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use storage::testing::TestDb;

use common::pgbouncer::PgBouncer;
use common::{Server, call, keyward, until_refused};

/// A node on `db` (or on `url`, when given), with `env` set, in `dir`.
fn node(dir: &Path, db: &TestDb, url: Option<&str>, env: &[(&str, &str)]) -> Server {
    let mut cmd = keyward(dir, Some(db));
    if let Some(url) = url {
        cmd.env("KEYWARD_DATABASE_URL", url);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    Server::start_cmd(cmd)
}

fn admin_key(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("admin.key")).unwrap().trim().to_owned()
}

async fn create_account(base: &str, admin: &str, name: &str) -> (u16, Value) {
    call(reqwest::Method::POST, format!("{base}/v1/accounts"), admin, Some(json!({"name": name}))).await
}

/// A primary demoted under a running node: its writes answer 503 problem+json (never 500) while
/// reads go on, and once a writable server is back the node writes again without a restart,
/// having replaced every connection that had landed on the read-only one.
async fn a_read_only_server_answers_503_and_its_connections_are_replaced(db: TestDb) {
    let name = db.database_name().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let server = node(dir.path(), &db, None, &[]);
    let admin = admin_key(dir.path());
    assert_eq!(create_account(&server.base, &admin, "before").await.0, 201);

    // Demote: new sessions are read-only, and every open one is cut, as a failover cuts them.
    db.as_admin(&format!("ALTER DATABASE {name} SET default_transaction_read_only = on"));
    db.as_admin(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"));
    for i in 0..5 {
        let (status, body) = create_account(&server.base, &admin, &format!("during-{i}")).await;
        assert_eq!(status, 503, "a write on a read-only server: {body}");
        assert_eq!(body["status"], 503, "problem+json: {body}");
    }
    let (status, _) = call(reqwest::Method::GET, format!("{}/v1/accounts", server.base), &admin, None).await;
    assert_eq!(status, 200, "reads go on");

    // A writable server again: the node recovers on its own. A connection that failed is checked
    // before its next use and replaced when it is read-only, so each of the pool's connections
    // fails at most one write. (Kept, they failed 262 writes in a row here, until the pool
    // happened to retire them.)
    db.as_admin(&format!("ALTER DATABASE {name} RESET default_transaction_read_only"));
    let pool = storage::blocking_slots(storage::Backend::Postgres);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (status, body) = create_account(&server.base, &admin, &format!("after-{attempts}")).await;
        if status == 201 {
            break;
        }
        assert_eq!(status, 503, "never a 500: {body}");
        assert!(attempts <= pool, "still refused after {attempts} writes, more than the pool's {pool} connections");
    }
    let (_, list) = call(reqwest::Method::GET, format!("{}/v1/accounts?limit=100", server.base), &admin, None).await;
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().filter_map(|a| a["name"].as_str()).collect();
    assert!(names.contains(&"before") && !names.iter().any(|n| n.starts_with("during")), "{names:?}");
    server.stop();
}

/// A connection string naming several hosts (libpq's `host1:port1,host2:port2` with
/// `target_session_attrs=read-write`): the first refuses connections, the node uses the second.
async fn a_multi_host_url_reaches_the_writable_server(db: TestDb) {
    let url = db.url_string();
    let (scheme_user, rest) = url.split_once('@').unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let sep = if path.contains('?') { '&' } else { '?' };
    // Port 1 on loopback refuses at once. The test server trusts every password, so one is given
    // here only to check that no log line shows it.
    let multi = format!("{scheme_user}:hunter2@127.0.0.1:1,{host}/{path}{sep}target_session_attrs=read-write");
    let dir = tempfile::tempdir().unwrap();
    let server = node(dir.path(), &db, Some(&multi), &[]);
    let admin = admin_key(dir.path());
    assert_eq!(create_account(&server.base, &admin, "acme").await.0, 201);
    let logs = server.stop();
    assert!(
        !logs.iter().any(|l| l.contains("127.0.0.1:1,") && l.contains("postgres@")),
        "no URL with its user in logs"
    );
}

/// Two nodes through PgBouncer in transaction pooling (prepared statements off, the change feed
/// straight to the server): migrations, concurrent writes and reads go through PgBouncer, and a
/// key deleted on one node is refused at once by the other.
async fn keyward_works_through_pgbouncer_in_transaction_pooling(db: TestDb) {
    let Some(bouncer) = PgBouncer::start(&db) else { return };
    let direct = db.url_string();
    let pooled = bouncer.url_for(&direct);
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let master = master.to_str().unwrap();
    let env = [
        ("KEYWARD_MASTER_KEY_FILE", master),
        ("KEYWARD_DATABASE_PREPARED_STATEMENTS", "false"),
        ("KEYWARD_CHANGE_FEED_DATABASE_URL", direct.as_str()),
        ("KEYWARD_CACHE_FRESHNESS_MS", "600000"),
    ];
    // Both nodes migrate through PgBouncer: the second must not wait on a lock the first left
    // held on a server connection.
    let one = node(&dir.path().join("one"), &db, Some(&pooled), &env);
    let two = node(&dir.path().join("two"), &db, Some(&pooled), &env);
    let admin = admin_key(&dir.path().join("one"));
    let post = |base: &str, path: String, body: Value| {
        call(reqwest::Method::POST, format!("{base}{path}"), &admin, Some(body))
    };
    let (status, acct) = post(&one.base, "/v1/accounts".into(), json!({"name": "acme"})).await;
    assert_eq!(status, 201, "{acct}");
    let acct = acct["id"].as_str().unwrap().to_owned();
    let (_, sa) = post(&one.base, format!("/v1/accounts/{acct}/service-accounts"), json!({"name": "svc"})).await;
    let sa = sa["id"].as_str().unwrap().to_owned();
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    // Eight writers at once over three server connections: each transaction may land on another
    // server connection than the last, which named prepared statements would not survive.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (base, keys, admin) = (one.base.clone(), keys.clone(), admin.clone());
            tokio::spawn(async move {
                for i in 0..5 {
                    let body = json!({"name": format!("k{w}-{i}"), "scopes": ["service-accounts:read"]});
                    let (status, answer) =
                        call(reqwest::Method::POST, format!("{base}{keys}"), &admin, Some(body)).await;
                    assert_eq!(status, 201, "write {w}-{i} through PgBouncer: {answer}");
                    let (status, answer) =
                        call(reqwest::Method::GET, format!("{base}{keys}?limit=5"), &admin, None).await;
                    assert_eq!(status, 200, "read {w}-{i} through PgBouncer: {answer}");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let (_, key) = post(&one.base, keys.clone(), json!({"name": "doomed", "scopes": ["service-accounts:read"]})).await;
    let secret = key["secret"].as_str().unwrap().to_owned();
    let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    let (status, _) = call(reqwest::Method::GET, format!("{}{me}", one.base), &secret, None).await;
    assert_eq!(status, 200, "the key works, and is now in the pooled node's cache");
    let (status, _) = call(reqwest::Method::DELETE, format!("{}{keys}/doomed", two.base), &admin, None).await;
    assert_eq!(status, 204);
    until_refused(&format!("{}{me}", one.base), &secret, Instant::now(), Duration::from_secs(10)).await;
    let (status, list) = call(reqwest::Method::GET, format!("{}{keys}?limit=100", one.base), &admin, None).await;
    assert_eq!((status, list["items"].as_array().map(Vec::len)), (200, Some(40)), "{list}");
    one.stop();
    two.stop();
}

mod postgres {
    use storage::testing::TestDb;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_only_server_answers_503_and_its_connections_are_replaced() {
        if let Some(db) = TestDb::postgres_database() {
            super::a_read_only_server_answers_503_and_its_connections_are_replaced(db).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_multi_host_url_reaches_the_writable_server() {
        if let Some(db) = TestDb::postgres() {
            super::a_multi_host_url_reaches_the_writable_server(db).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keyward_works_through_pgbouncer_in_transaction_pooling() {
        if let Some(db) = TestDb::postgres_database() {
            super::keyward_works_through_pgbouncer_in_transaction_pooling(db).await;
        }
    }
}
