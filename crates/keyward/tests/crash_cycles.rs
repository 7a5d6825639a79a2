//! Crash durability under load: four concurrent writers (service accounts created and deleted,
//! keys created and rotated) against a real server, `kill -9` at a moment chosen by a random
//! number of acknowledged writes, restart on the same data, and check that every acknowledged
//! change is there and nothing unacknowledged is half-there. Repeated for
//! `KEYWARD_CRASH_CYCLES` cycles (3 by default; 20 on SQLite and 10 on PostgreSQL for the long
//! form, see docs/reliability.md). And the webhook outbox: an event acknowledged while its
//! receiver is down is delivered by the server restarted after `kill -9`.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Client, Method};
use serde_json::{Value, json};
use storage::testing::TestDb;

use common::pgbouncer::PgBouncer;
use common::{Server, keyward};

/// A server on `data`, whose webhook receivers may listen on loopback; and its base URL. With
/// `pooled`, it reaches `db` through that PgBouncer URL instead (prepared statements off, the
/// change feed straight to the server).
fn start(data: &Path, db: Option<&TestDb>, pooled: Option<&str>) -> (Server, String) {
    let mut cmd = keyward(data, db);
    cmd.env("KEYWARD_LOG", "warn,keyward=info").env("KEYWARD_WEBHOOKS_ALLOW_PRIVATE", "true");
    if let (Some(pooled), Some(db)) = (pooled, db) {
        cmd.env("KEYWARD_DATABASE_URL", pooled)
            .env("KEYWARD_DATABASE_PREPARED_STATEMENTS", "false")
            .env("KEYWARD_CHANGE_FEED_DATABASE_URL", db.url_string());
    }
    let server = Server::start_cmd(cmd);
    let base = server.base.clone();
    (server, base)
}

/// What the writers were told succeeded.
#[derive(Default, Clone)]
struct Acknowledged {
    created: Vec<String>,
    /// Deletions sent, acknowledged or not: an unacknowledged one may or may not have happened.
    deleting: Vec<String>,
    deleted: Vec<String>,
    rotated: Vec<(String, String)>,
}

async fn call(client: &Client, method: Method, url: String, token: &str, body: Option<Value>) -> Option<(u16, Value)> {
    let mut req = client.request(method, url).bearer_auth(token).timeout(Duration::from_secs(10));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.ok()?;
    let status = res.status().as_u16();
    Some((status, res.json().await.unwrap_or(Value::Null)))
}

async fn crash_cycles(db: Option<TestDb>, through: Option<&PgBouncer>) {
    let cycles: usize = std::env::var("KEYWARD_CRASH_CYCLES").ok().and_then(|c| c.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pooled = through.zip(db.as_ref()).map(|(bouncer, db)| bouncer.url_for(&db.url_string()));
    let (mut node, mut base) = start(&data, db.as_ref(), pooled.as_deref());
    let admin = std::fs::read_to_string(data.join("admin.key")).unwrap().trim().to_owned();
    let client = Client::new();
    let (_, account) =
        call(&client, Method::POST, format!("{base}/v1/accounts"), &admin, Some(json!({"name": "load"})))
            .await
            .unwrap();
    let account = account["id"].as_str().unwrap().to_owned();
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let mut seed = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
    for cycle in 0..cycles {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = 20 + usize::try_from(seed % 60).unwrap_or(0);
        let count = Arc::new(AtomicUsize::new(0));
        let mut writers = Vec::new();
        for w in 0..4 {
            let (client, base, admin, account, acked, count) =
                (client.clone(), base.clone(), admin.clone(), account.clone(), acked.clone(), count.clone());
            writers.push(tokio::spawn(async move {
                for i in 0.. {
                    let sas = format!("{base}/v1/accounts/{account}/service-accounts");
                    let name = format!("c{cycle}-w{w}-{i}");
                    let Some((201, sa)) =
                        call(&client, Method::POST, sas.clone(), &admin, Some(json!({"name": name}))).await
                    else {
                        return;
                    };
                    let sa = sa["id"].as_str().unwrap().to_owned();
                    acked.lock().unwrap().created.push(sa.clone());
                    count.fetch_add(1, Ordering::SeqCst);
                    match w {
                        // Delete what was just made.
                        0 => {
                            acked.lock().unwrap().deleting.push(sa.clone());
                            let Some((204, _)) =
                                call(&client, Method::DELETE, format!("{sas}/{sa}"), &admin, None).await
                            else {
                                return;
                            };
                            acked.lock().unwrap().deleted.push(sa);
                        }
                        // Make a key and rotate it.
                        1 => {
                            let keys = format!("{sas}/{sa}/api-keys");
                            let body = json!({"name": "k", "scopes": ["service-accounts:read"]});
                            let Some((201, _)) = call(&client, Method::POST, keys.clone(), &admin, Some(body)).await
                            else {
                                return;
                            };
                            let Some((200, rotated)) =
                                call(&client, Method::POST, format!("{keys}/k/rotate"), &admin, Some(json!({}))).await
                            else {
                                return;
                            };
                            acked.lock().unwrap().rotated.push((sa, rotated["secret"].as_str().unwrap().to_owned()));
                        }
                        _ => {}
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }));
        }
        while count.load(Ordering::SeqCst) < kill_after {
            tokio::task::yield_now().await;
        }
        node.crash();
        for w in writers {
            w.await.unwrap();
        }
        (node, base) = start(&data, db.as_ref(), pooled.as_deref());

        let seen = acked.lock().unwrap().clone();
        let sas = format!("{base}/v1/accounts/{account}/service-accounts");
        let (_, listed) = call(&client, Method::GET, format!("{sas}?limit=1000"), &admin, None).await.unwrap();
        let present: Vec<String> =
            listed["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
        for id in &seen.created {
            if seen.deleted.contains(id) {
                assert!(!present.contains(id), "cycle {cycle}: an acknowledged deletion of {id} was undone");
            } else if !seen.deleting.contains(id) {
                assert!(present.contains(id), "cycle {cycle}: an acknowledged creation of {id} was lost");
            }
        }
        for (sa, secret) in &seen.rotated {
            let (status, _) = call(&client, Method::GET, format!("{sas}/{sa}"), secret, None).await.unwrap();
            assert_eq!(status, 200, "cycle {cycle}: an acknowledged rotation's secret works after the crash");
        }
        // Nothing half-there: every service account present has its creation in the audit trail.
        let (_, events) = call(
            &client,
            Method::GET,
            format!("{base}/v1/accounts/{account}/audit-events?action=service_account.create&limit=1000"),
            &admin,
            None,
        )
        .await
        .unwrap();
        let audited: Vec<&str> =
            events["items"].as_array().unwrap().iter().filter_map(|e| e["target"].as_str()).collect();
        for id in &present {
            assert!(
                audited.contains(&format!("service_account:{id}").as_str()),
                "cycle {cycle}: {id} has no audit event"
            );
        }
    }
    node.crash();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_writes_survive_kill_9_under_load() {
    crash_cycles(None, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_writes_survive_kill_9_under_load() {
    if let Some(db) = TestDb::postgres() {
        crash_cycles(Some(db), None).await;
    }
}

/// The same through Debian's PgBouncer in transaction pooling (a database of its own: PgBouncer
/// refuses the `options` that give a schema).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_acknowledged_writes_survive_kill_9_under_load() {
    if let Some(db) = TestDb::postgres_database() {
        let Some(bouncer) = PgBouncer::start(&db) else { return };
        crash_cycles(Some(db), Some(&bouncer)).await;
    }
}

async fn post(base: &str, path: &str, token: &str, body: Value) -> Value {
    let res = reqwest::Client::new().post(format!("{base}{path}")).bearer_auth(token).json(&body).send().await.unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap()
}

/// One HTTP request received on `listener`: its head and body. Answers 204.
fn receive(listener: &TcpListener) -> (String, String) {
    let (mut stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").unwrap();
    (head, String::from_utf8(body).unwrap())
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines().find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name))).unwrap().1.trim()
}

async fn a_crash_between_an_event_and_its_delivery_loses_nothing(db: Option<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The receiver's port, taken and let go: nothing listens there until after the crash.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (server, base) = start(&data, db.as_ref(), None);
    let admin = std::fs::read_to_string(data.join("admin.key")).unwrap().trim().to_owned();
    let account = post(&base, "/v1/accounts", &admin, json!({"name": "acme"})).await["id"].as_str().unwrap().to_owned();
    let sa =
        post(&base, &format!("/v1/accounts/{account}/service-accounts"), &admin, json!({"name": "svc"})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let keys = format!("/v1/accounts/{account}/service-accounts/{sa}/api-keys");
    post(&base, &keys, &admin, json!({"name": "k", "scopes": []})).await;
    let url = format!("http://127.0.0.1:{port}/hooks/keyward");
    let hook = post(
        &base,
        &format!("/v1/accounts/{account}/webhooks"),
        &admin,
        json!({"url": url, "events": ["credential.rotated"]}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();

    post(&base, &format!("{keys}/k/rotate"), &admin, json!({})).await;
    server.crash();

    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (restarted, _) = start(&data, db.as_ref(), None);
    // A delivery claimed just before the crash waits out its 60-second claim.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(receive(&listener)));
    let received = rx.recv_timeout(Duration::from_secs(90));
    restarted.crash();
    let (head, body) = received.expect("the restarted server delivered the event");

    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["type"], "credential.rotated");
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let signed = format!("{}.{}.{body}", header(&head, "webhook-id"), header(&head, "webhook-timestamp"));
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key), signed.as_bytes());
    assert_eq!(header(&head, "webhook-signature"), format!("v1,{}", STANDARD.encode(tag.as_ref())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_crash_between_an_event_and_its_delivery_loses_nothing() {
    a_crash_between_an_event_and_its_delivery_loses_nothing(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_crash_between_an_event_and_its_delivery_loses_nothing() {
    if let Some(db) = TestDb::postgres() {
        a_crash_between_an_event_and_its_delivery_loses_nothing(Some(db)).await;
    }
}
