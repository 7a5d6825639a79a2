//! A crash between an event and its delivery loses nothing: a key is rotated (acknowledged) while
//! its webhook's receiver is down, the server is killed with SIGKILL, the receiver comes up, and
//! the restarted server delivers the event, signed as Standard Webhooks says.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use storage::testing::TestDb;

fn start(data: &Path, db: Option<&TestDb>) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyward"));
    cmd.env_clear()
        .env("KEYWARD_DATA_DIR", data)
        .env("KEYWARD_LOG", "warn,keyward=info")
        .env("KEYWARD_WEBHOOKS_ALLOW_PRIVATE", "true");
    if let Some(db) = db {
        cmd.env("KEYWARD_DATABASE_URL", db.url_string());
    }
    let mut child =
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not say it listens");
        };
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr: String =
                rest.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':')).collect();
            return (child, format!("http://{addr}"));
        }
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
    let (mut server, base) = start(&data, db.as_ref());
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
    server.kill().unwrap();
    server.wait().unwrap();

    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (mut restarted, _) = start(&data, db.as_ref());
    // A delivery claimed just before the crash waits out its 60-second claim.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(receive(&listener)));
    let received = rx.recv_timeout(Duration::from_secs(90));
    restarted.kill().unwrap();
    restarted.wait().unwrap();
    let (head, body) = received.expect("the restarted server delivered the event");

    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["type"], "credential.rotated");
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let signed = format!("{}.{}.{body}", header(&head, "webhook-id"), header(&head, "webhook-timestamp"));
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key), signed.as_bytes());
    assert_eq!(header(&head, "webhook-signature"), format!("v1,{}", STANDARD.encode(tag.as_ref())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite() {
    a_crash_between_an_event_and_its_delivery_loses_nothing(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres() {
    if let Some(db) = TestDb::postgres() {
        a_crash_between_an_event_and_its_delivery_loses_nothing(Some(db)).await;
    }
}
