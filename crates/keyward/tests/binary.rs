//! The `keyward` binary as an operator runs it: real processes, real signals, real databases.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Server, call, keyward};

use serde_json::{Value, json};
use storage::testing::TestDb;

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn first_start_then_restart(db: Option<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, db.as_ref());
    let admin_path = data.join("admin.key");
    let admin = std::fs::read_to_string(&admin_path).unwrap().trim().to_owned();
    assert!(admin.starts_with("kw_ak_"));
    #[cfg(unix)]
    {
        assert_eq!(mode(&admin_path), 0o600);
        assert_eq!(mode(&data.join("master.key")), 0o600);
        assert_eq!(mode(&data), 0o700, "the data directory is private");
    }
    let (status, acct) =
        call(reqwest::Method::POST, format!("{}/v1/accounts", server.base), &admin, Some(json!({"name": "acme"})))
            .await;
    assert_eq!(status, 201);
    let log = server.stop();
    let log = log.join("\n");
    assert!(log.contains("admin.key"), "the log says where the admin key is");
    assert!(!log.contains(&admin), "the log never shows the key");
    assert!(!log.contains(&admin[39..103]), "not even its secret part");
    assert!(log.contains("stopped"), "{log}");

    let again = Server::start(&data, db.as_ref());
    assert_eq!(std::fs::read_to_string(&admin_path).unwrap().trim(), admin, "a restart does not bootstrap again");
    let (status, fetched) = call(
        reqwest::Method::GET,
        format!("{}/v1/accounts/{}", again.base, acct["id"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(fetched["name"], "acme");
    again.stop();
}

async fn acknowledged_writes_survive_a_crash(db: Option<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, db.as_ref());
    let admin = std::fs::read_to_string(data.join("admin.key")).unwrap().trim().to_owned();
    let mut ids = Vec::new();
    for i in 0..20 {
        let (status, acct) = call(
            reqwest::Method::POST,
            format!("{}/v1/accounts", server.base),
            &admin,
            Some(json!({"name": format!("t{i}")})),
        )
        .await;
        assert_eq!(status, 201);
        ids.push(acct["id"].as_str().unwrap().to_owned());
    }
    server.crash();
    let again = Server::start(&data, db.as_ref());
    for id in ids {
        let (status, _) = call(reqwest::Method::GET, format!("{}/v1/accounts/{id}", again.base), &admin, None).await;
        assert_eq!(status, 200, "account {id} was acknowledged, so it must survive");
    }
    again.stop();
}

fn a_wrong_master_key_stops_the_start(db: Option<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = keyward(&data, db.as_ref()).arg("init").output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    std::fs::write(data.join("master.key"), format!("{}\n", "ab".repeat(32))).unwrap();
    let out = keyward(&data, db.as_ref()).args(["serve", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert!(!out.status.success(), "the server must not start with another master key");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master key does not match"), "{err}");
    std::fs::write(data.join("master.key"), "not hex\n").unwrap();
    let out = keyward(&data, db.as_ref()).args(["serve", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hexadecimal digits"));
}

fn init_prints_the_admin_key_once(db: Option<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let migrate = keyward(&data, db.as_ref()).arg("migrate").output().unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    assert!(String::from_utf8_lossy(&migrate.stdout).contains("schema up to date"));
    let first = keyward(&data, db.as_ref()).arg("init").output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let key = String::from_utf8(first.stdout).unwrap();
    assert!(key.trim().starts_with("kw_ak_") && key.trim().len() == 111);
    assert!(!String::from_utf8_lossy(&first.stderr).contains(key.trim()), "the key goes to stdout only");
    assert!(!data.join("admin.key").exists(), "init prints the key instead of writing it");
    let second = keyward(&data, db.as_ref()).arg("init").output().unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already initialized"));
    assert!(second.stdout.is_empty());
}

/// Following the README top to bottom in one directory (SQLite first, then PostgreSQL with the
/// same data dir) must not cost the first database its admin key.
fn a_second_database_never_overwrites_the_admin_key(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sqlite = Server::start(&data, None);
    let first = std::fs::read_to_string(data.join("admin.key")).unwrap();
    sqlite.stop();
    let postgres = Server::start(&data, Some(&db));
    let log = postgres.stop();
    assert_eq!(std::fs::read_to_string(data.join("admin.key")).unwrap(), first, "admin.key is never overwritten");
    let written: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("admin.") && n != "admin.key")
        .collect();
    assert_eq!(written.len(), 1, "the new database's key has a file of its own: {written:?}");
    assert!(log.iter().any(|l| l.contains(&written[0])), "the log names the file: {log:#?}");
    let second = std::fs::read_to_string(data.join(&written[0])).unwrap();
    assert!(second.starts_with("kw_ak_") && second != first);
}

fn one_process_per_sqlite_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, None);
    let second = keyward(&data, None).args(["serve", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert!(!second.status.success(), "a second serve on the same data dir must not start");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("another keyward process is using the data directory"), "{err}");
    let migrate = keyward(&data, None).arg("migrate").output().unwrap();
    assert!(!migrate.status.success(), "nor may a migration run under it");
    server.stop();
    let after = keyward(&data, None).arg("migrate").output().unwrap();
    assert!(after.status.success(), "the lock is gone with the process: {}", String::from_utf8_lossy(&after.stderr));
}

/// A read replica beside SQLite is refused at start-up, saying why, without the replica URL's
/// password.
fn a_read_replica_beside_sqlite_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = keyward(&dir.path().join("data"), None)
        .env("KEYWARD_READ_DATABASE_URL", "postgres://kw:hunter2@127.0.0.1:1/kw")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a read replica needs PostgreSQL"), "{err}");
    assert!(!err.contains("hunter2"), "no password in the error: {err}");
}

fn a_taken_address_stops_start_up_before_anything_is_created() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = keyward(&data, None).args(["serve", "--listen", &addr]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listening on"), "{}", String::from_utf8_lossy(&out.stderr));
    for file in ["admin.key", "master.key", "keyward.db"] {
        assert!(!data.join(file).exists(), "{file} must not be created");
    }
}

fn a_refused_master_key_leaves_no_key_file(db: Option<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = keyward(&data, db.as_ref()).arg("init").output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let elsewhere = dir.path().join("other.key");
    let out = keyward(&data, db.as_ref())
        .env("KEYWARD_MASTER_KEY_FILE", &elsewhere)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("master key does not match"));
    assert!(!elsewhere.exists(), "a key the database refused is not left behind");
}

async fn admin_reset_key_makes_a_new_admin_key(db: Option<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = keyward(&data, db.as_ref()).arg("init").output().unwrap();
    let old = String::from_utf8(first.stdout).unwrap().trim().to_owned();
    let kept = keyward(&data, db.as_ref()).args(["admin", "reset-key"]).output().unwrap();
    assert!(kept.status.success(), "{}", String::from_utf8_lossy(&kept.stderr));
    let spare = String::from_utf8(kept.stdout).unwrap().trim().to_owned();
    let reset = keyward(&data, db.as_ref()).args(["admin", "reset-key", "--revoke-old"]).output().unwrap();
    assert!(reset.status.success(), "{}", String::from_utf8_lossy(&reset.stderr));
    let new = String::from_utf8(reset.stdout).unwrap().trim().to_owned();
    assert!(new.starts_with("kw_ak_") && new != old && new != spare);
    assert!(!String::from_utf8_lossy(&reset.stderr).contains(&new), "the key goes to stdout only");

    let server = Server::start(&data, db.as_ref());
    let (status, accounts) = call(reqwest::Method::GET, format!("{}/v1/accounts", server.base), &new, None).await;
    assert_eq!(status, 200, "the new key is a system administrator's");
    for revoked in [&old, &spare] {
        let (status, _) = call(reqwest::Method::GET, format!("{}/v1/accounts", server.base), revoked, None).await;
        assert_eq!(status, 401, "--revoke-old disabled the others");
    }
    let system = accounts["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, events) = call(
        reqwest::Method::GET,
        format!("{}/v1/accounts/{system}/audit-events?actor=system:break-glass", server.base),
        &new,
        None,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 4, "two keys made, two disabled: {events}");
    server.stop();
}

fn a_hanging_request_is_cut_at_the_shutdown_deadline() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = keyward(&data, None);
    cmd.env("KEYWARD_SHUTDOWN_TIMEOUT", "1");
    let mut server = Server::start_cmd(cmd);
    // A request whose body never finishes arriving: in flight until the deadline cuts it.
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(
        b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=",
    )
    .unwrap();
    // Connections are accepted in order: once a later request is answered, the slow one is in.
    let mut probe = std::net::TcpStream::connect(&addr).unwrap();
    probe.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut probe, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let started = std::time::Instant::now();
    Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    let exit = server.child.wait().unwrap();
    assert!(!exit.success(), "cutting requests is not a clean exit: {exit}");
    assert!(started.elapsed() < Duration::from_secs(20), "the deadline holds: {:?}", started.elapsed());
    server.drain();
    let log = server.seen.join("\n");
    assert!(log.contains("recorded the last key usage"), "usage is flushed first: {log}");
    assert!(log.contains("cut at the shutdown deadline"), "{log}");
}

/// A TCP relay to PostgreSQL that a test can cut, as a database outage would.
fn relay_to(target: &str) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let down = std::sync::Arc::new(AtomicBool::new(false));
    let (flag, target) = (down.clone(), target.to_owned());
    std::thread::spawn(move || {
        let mut open: Vec<std::net::TcpStream> = Vec::new();
        for client in listener.incoming().flatten() {
            if flag.load(Ordering::SeqCst) {
                drop(client);
                for c in open.drain(..) {
                    let _ = c.shutdown(std::net::Shutdown::Both);
                }
                continue;
            }
            let Ok(upstream) = std::net::TcpStream::connect(&target) else { continue };
            let (mut a, mut b) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            open.push(client.try_clone().unwrap());
            open.push(upstream.try_clone().unwrap());
            let (mut c, mut u) = (client, upstream);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut a, &mut u);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut b, &mut c);
            });
        }
    });
    (addr, down)
}

/// PostgreSQL cut under a running node (every connection through a relay dropped, new ones
/// refused), then back: `/readyz` answers 503 and writes 503 problem+json within the pool's
/// connection timeout; a key verified just before keeps verifying from memory past the freshness
/// window for the unavailability window, no longer; when the database returns the node recovers without a restart, listens to
/// the change feed again and forgets what it cached.
async fn an_outage_is_reported_bounded_and_recovered_from(db: TestDb) {
    use std::sync::atomic::Ordering;
    use std::time::Instant;
    const FRESHNESS: Duration = Duration::from_secs(10);
    const STALE_IF_UNAVAILABLE: Duration = Duration::from_secs(5);
    let url = db.url_string();
    let host_port = url.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap().to_owned();
    let (relay, down) = relay_to(&host_port);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = keyward(&data, None);
    cmd.env("KEYWARD_DATABASE_URL", url.replacen(&host_port, &relay, 1))
        .env("KEYWARD_CACHE_FRESHNESS_MS", FRESHNESS.as_millis().to_string())
        .env("KEYWARD_CACHE_STALE_IF_UNAVAILABLE_MS", STALE_IF_UNAVAILABLE.as_millis().to_string());
    let server = Server::start_cmd(cmd);
    let admin = std::fs::read_to_string(data.join("admin.key")).unwrap().trim().to_owned();
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let status = |path: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move { client.get(format!("{base}{path}")).send().await.unwrap().status().as_u16() }
    };
    let post = |path: String, body: Value| call(reqwest::Method::POST, format!("{base}{path}"), &admin, Some(body));
    let (_, acct) = post("/v1/accounts".into(), json!({"name": "acme"})).await;
    let acct = acct["id"].as_str().unwrap().to_owned();
    let sas = format!("/v1/accounts/{acct}/service-accounts");
    let (_, sa) = post(sas.clone(), json!({"name": "svc"})).await;
    let keys = format!("{sas}/{}/api-keys", sa["id"].as_str().unwrap());
    let (_, key) = post(keys.clone(), json!({"name": "k"})).await;
    let secret = key["secret"].as_str().unwrap().to_owned();
    let verify = || post("/v1/api-keys/verify".into(), json!({"key": secret}));
    assert_eq!(verify().await.1["valid"], true, "verified, and now in memory");

    down.store(true, Ordering::SeqCst);
    let _ = std::net::TcpStream::connect(&relay); // The relay cuts what it holds when poked.
    let cut = Instant::now();
    let mut last_verified = None;
    loop {
        let (code, answer) = verify().await;
        if code == 200 && answer["valid"] == true {
            last_verified = Some(cut.elapsed());
        } else {
            assert_eq!(code, 503, "once memory is stale, verification says the database is gone: {answer}");
            break;
        }
        assert!(cut.elapsed() < FRESHNESS * 3, "still verifying from memory long after the window");
        tokio::task::yield_now().await; // Each round is an HTTP request: no sleep needed.
    }
    let last_verified = last_verified.expect("a key verified just before the cut is still verified from memory");
    // Past the freshness window, the last read answers while the database cannot be reached,
    // for the unavailability window and no longer.
    assert!(
        last_verified > FRESHNESS && last_verified <= FRESHNESS + STALE_IF_UNAVAILABLE + Duration::from_secs(1),
        "verified from memory {last_verified:?} into the outage"
    );
    let before = Instant::now();
    let (code, problem) = post(sas.clone(), json!({"name": "during-the-outage"})).await;
    let took = before.elapsed();
    assert_eq!((code, problem["code"].as_str()), (503, Some("unavailable")), "{problem}");
    assert!(took < Duration::from_secs(8), "a write waits at most the pool's 4 s, not forever: {took:?}");
    eprintln!("verified from memory until {last_verified:?} into the outage; a write was refused after {took:?}");
    assert_eq!(status("/readyz").await, 503);
    assert_eq!(status("/healthz").await, 200, "while the process is up");

    down.store(false, Ordering::SeqCst);
    let back = Instant::now();
    while status("/readyz").await != 200 {
        assert!(back.elapsed() < Duration::from_secs(60), "the node did not recover without a restart");
        tokio::task::yield_now().await; // Each round is an HTTP request: no sleep needed.
    }
    let (code, _) = post(sas.clone(), json!({"name": "after-the-outage"})).await;
    assert_eq!(code, 201, "writes work again");

    // Listening again: a change made by another node reaches this one at once, well inside the
    // freshness window (and before the background re-read at half of it).
    let mut other = keyward(&dir.path().join("other"), Some(&db));
    other.env("KEYWARD_MASTER_KEY_FILE", data.join("master.key"));
    let other = Server::start_cmd(other);
    while !server_metric(&server.base, "keyward_change_feed_reconnects_total").await.is_some_and(|n| n >= 1.0) {
        assert!(back.elapsed() < Duration::from_secs(60), "the change feed did not listen again");
        tokio::task::yield_now().await; // Each round is an HTTP request: no sleep needed.
    }
    assert_eq!(verify().await.1["valid"], true, "in memory again");
    let (code, _) =
        call(reqwest::Method::PATCH, format!("{}{keys}/k", other.base), &admin, Some(json!({"active": false}))).await;
    assert_eq!(code, 200);
    let disabled = Instant::now();
    while verify().await.1["valid"] == true {
        assert!(disabled.elapsed() < FRESHNESS / 4, "a change on another node was not heard");
        tokio::task::yield_now().await;
    }
    other.stop();
    server.crash();
}

/// The value of an unlabelled counter or gauge in a node's `/metrics`.
async fn server_metric(base: &str, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("{base}/metrics")).await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
}

/// The connection limits, each set low: a client trickling its headers, or sending none, is cut at
/// the header read timeout; a head over the header limit gets 431, a body over the body limit
/// 413; at the connection cap a further client waits until a connection closes.
async fn connection_limits_hold() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = keyward(&dir.path().join("data"), None);
    cmd.env("KEYWARD_HEADER_READ_TIMEOUT_MS", "500")
        .env("KEYWARD_MAX_HEADER_BYTES", "2048")
        .env("KEYWARD_MAX_BODY_BYTES", "2048")
        .env("KEYWARD_MAX_CONNECTIONS", "2");
    let server = Server::start_cmd(cmd);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let admin = std::fs::read_to_string(dir.path().join("data/admin.key")).unwrap().trim().to_owned();

    // A client that trickles a header byte every 100 ms never finishes it: cut within the timeout.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
    let start = Instant::now();
    while slow.write_all(b"a").is_ok() {
        let mut probe = [0u8; 1];
        slow.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        if matches!(slow.read(&mut probe), Ok(0)) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "a trickling client held its connection for 5 s");
    }
    assert!(start.elapsed() >= Duration::from_millis(400), "cut before the timeout: {:?}", start.elapsed());
    drop(slow);

    let client = reqwest::Client::new();
    let big_head = client.get(format!("{}/healthz", server.base)).header("x-big", "h".repeat(4000)).send().await;
    assert_eq!(big_head.unwrap().status().as_u16(), 431, "a head over the limit");
    let big_body = client
        .post(format!("{}/v1/accounts", server.base))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(format!(r#"{{"name": "{}"}}"#, "b".repeat(4000)))
        .send()
        .await
        .unwrap();
    assert_eq!(big_body.status().as_u16(), 413, "a body over the limit");
    drop(client);

    // Two idle connections fill the cap: a third client is not served until one closes. The
    // listener accepts in connection order, so the idle two are taken before the third.
    let idle = [TcpStream::connect(&addr).unwrap(), TcpStream::connect(&addr).unwrap()];
    let fresh = || reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let waiting = fresh().get(format!("{}/healthz", server.base)).send().await;
    assert!(waiting.is_err(), "served past the connection cap: {waiting:?}");
    drop(idle);
    let served = Instant::now();
    loop {
        let res = fresh().get(format!("{}/healthz", server.base)).send().await;
        if res.as_ref().is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(served.elapsed() < Duration::from_secs(5), "never served after the cap freed up: {res:?}");
    }
    server.stop();
}

/// Start, use and stop keyward over TLS to PostgreSQL many times (`KEYWARD_TLS_CYCLES`, 50 by
/// default), serving and as admin commands: every exit is 0. A connection still in its TLS
/// handshake on another thread when the process exits used to crash it (SIGSEGV in OpenSSL's
/// exit handler, about one run in twenty): r2d2 made idle connections ahead of need on its own
/// threads, and the change feed and cache reader were not waited for.
async fn exits_cleanly_with_tls_to_postgres(db: TestDb) {
    let url = db.url_string();
    let sep = if url.contains('?') { '&' } else { '?' };
    let tls = format!("{url}{sep}sslmode=require");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let with_tls = |cmd: &mut Command| {
        cmd.env("KEYWARD_DATABASE_URL", &tls);
    };
    let mut probe = keyward(&data, None);
    with_tls(&mut probe);
    let out = probe.arg("migrate").output().unwrap();
    if String::from_utf8_lossy(&out.stderr).contains("does not support SSL") {
        eprintln!("SKIPPED: this PostgreSQL server has TLS off, so TLS shutdowns cannot be tested");
        return;
    }
    assert!(out.status.success(), "migrate over TLS: {}", String::from_utf8_lossy(&out.stderr));
    let cycles: usize = std::env::var("KEYWARD_TLS_CYCLES").ok().and_then(|n| n.parse().ok()).unwrap_or(50);
    for cycle in 0..cycles {
        let mut cmd = keyward(&data, None);
        with_tls(&mut cmd);
        let server = Server::start_cmd(cmd);
        let ready = reqwest::get(format!("{}/readyz", server.base)).await.unwrap();
        assert_eq!(ready.status(), 200, "cycle {cycle}");
        server.stop(); // Asserts exit 0.
        let mut admin = keyward(&data, None);
        with_tls(&mut admin);
        let out = admin.args(["admin", "accounts", "list", "--json"]).output().unwrap();
        assert!(
            out.status.success(),
            "cycle {cycle}: admin exited {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs `keyward admin ARGS --json` and returns its JSON answer.
fn admin_json(data: &Path, db: Option<&TestDb>, args: &[&str]) -> Value {
    let out = keyward(data, db).arg("admin").args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn admin_commands_work_on_the_database_with_the_apis_rules(db: Option<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = keyward(&data, db.as_ref()).arg("init").output().unwrap();
    let admin = String::from_utf8(init.stdout).unwrap().trim().to_owned();
    let account = admin_json(&data, db.as_ref(), &["accounts", "create", "acme"])[0]["id"].as_str().unwrap().to_owned();
    let sa = admin_json(&data, db.as_ref(), &["service-accounts", "create", "--account", &account, "ci"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = admin_json(
        &data,
        db.as_ref(),
        &[
            "api-keys",
            "create",
            "--account",
            &account,
            "--service-account",
            &sa,
            "deploy",
            "--scope",
            "service-accounts:read",
        ],
    );
    let secret = key[0]["secret"].as_str().unwrap().to_owned();
    let listed = admin_json(&data, db.as_ref(), &["api-keys", "list", "--account", &account]);
    assert_eq!((listed[0]["name"].as_str(), listed[0]["state"].as_str()), (Some("deploy"), Some("active")));
    assert!(listed[0].get("secret").is_none(), "a secret is shown once");
    let bad = keyward(&data, db.as_ref()).args(["admin", "accounts", "create", ""]).output().unwrap();
    assert!(!bad.status.success(), "the API's rules hold: an empty name is refused");
    let table = keyward(&data, db.as_ref())
        .args(["admin", "service-accounts", "list", "--account", &account])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).starts_with("ID "), "a table by default");
    let rotated = admin_json(&data, db.as_ref(), &["signing-keys", "rotate"]);
    assert!(rotated.as_array().unwrap().iter().any(|k| k["state"] == "active"));

    let server = Server::start(&data, db.as_ref());
    let me = format!("{}/v1/accounts/{account}/service-accounts/{sa}", server.base);
    assert_eq!(call(reqwest::Method::GET, me.clone(), &secret, None).await.0, 200, "the key made by the CLI works");
    let (_, events) = call(
        reqwest::Method::GET,
        format!("{}/v1/accounts/{account}/audit-events?actor=system:cli", server.base),
        &admin,
        None,
    )
    .await;
    assert!(events["items"].as_array().unwrap().len() >= 2, "the CLI's changes are audited as system:cli: {events}");
    if db.is_none() {
        let beside = keyward(&data, None)
            .args(["admin", "api-keys", "revoke", "--account", &account, "--service-account", &sa, "deploy"])
            .output()
            .unwrap();
        assert!(!beside.status.success(), "a writing admin command refuses to run beside a SQLite server");
        let read = keyward(&data, None).args(["admin", "accounts", "list"]).output().unwrap();
        assert!(read.status.success(), "a listing may: {}", String::from_utf8_lossy(&read.stderr));
    }
    server.stop();
    admin_json(&data, db.as_ref(), &["api-keys", "revoke", "--account", &account, "--service-account", &sa, "deploy"]);
    let server = Server::start(&data, db.as_ref());
    let me = format!("{}/v1/accounts/{account}/service-accounts/{sa}", server.base);
    assert_eq!(call(reqwest::Method::GET, me, &secret, None).await.0, 401, "a revoked key stops");
    server.stop();
}

async fn json_logs_are_one_object_per_line_with_client_credential_and_latency() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = keyward(&data, None);
    cmd.env("KEYWARD_LOG_FORMAT", "json").env("KEYWARD_TRUSTED_PROXIES", "127.0.0.1");
    let server = Server::start_cmd(cmd);
    let admin = std::fs::read_to_string(data.join("admin.key")).unwrap().trim().to_owned();
    let res = reqwest::Client::new()
        .get(format!("{}/v1/accounts", server.base))
        .bearer_auth(&admin)
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let log = server.stop();
    let lines: Vec<Value> = log
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}")))
        .collect();
    let answered = lines.iter().find(|l| l["message"] == "answered" && l["status"] == 200).expect("a request line");
    assert_eq!(answered["span"]["client"], "198.51.100.7", "the forwarded client, from a trusted proxy");
    assert!(answered["span"]["credential"].as_str().unwrap().starts_with("api_key:"));
    assert!(answered["latency_ms"].is_number());
    assert!(!log.iter().any(|l| l.contains(&admin)), "never the secret");
}

async fn the_master_key_rotates_and_every_secret_still_opens(db: Option<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, db.as_ref());
    let admin = std::fs::read_to_string(data.join("admin.key")).unwrap().trim().to_owned();
    let base = server.base.clone();
    let (_, accounts) = call(reqwest::Method::GET, format!("{base}/v1/accounts"), &admin, None).await;
    let system = accounts["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, sas) =
        call(reqwest::Method::GET, format!("{base}/v1/accounts/{system}/service-accounts"), &admin, None).await;
    let root = sas["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, sk) = call(
        reqwest::Method::POST,
        format!("{base}/v1/accounts/{system}/service-accounts/{root}/secret-keys"),
        &admin,
        Some(json!({"name": "client"})),
    )
    .await;
    let (client_id, client_secret) = (sk["id"].as_str().unwrap().to_owned(), sk["secret"].as_str().unwrap().to_owned());
    let (_, tokens) =
        call(reqwest::Method::POST, format!("{base}/api/v2/apitoken/serviceaccount/root"), &admin, Some(json!({})))
            .await;
    let wavefront = tokens["response"][0]["tokenID"].as_str().unwrap().to_owned();
    let jwks = reqwest::get(format!("{base}/.well-known/jwks.json")).await.unwrap().text().await.unwrap();
    server.stop();

    let old_key = std::fs::read_to_string(data.join("master.key")).unwrap();
    let out = keyward(&data, db.as_ref()).args(["admin", "rotate-master-key"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-sealed"));
    let new_key = std::fs::read_to_string(data.join("master.key")).unwrap();
    assert_ne!(new_key, old_key);
    assert_eq!(std::fs::read_to_string(data.join("master.key.old")).unwrap(), old_key, "the previous key is kept");

    let server = Server::start(&data, db.as_ref());
    let base = server.base.clone();
    let grant = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 200, "the secret key opens, and the signing key signs");
    let (_, listed) =
        call(reqwest::Method::GET, format!("{base}/api/v2/apitoken/serviceaccount/root"), &admin, None).await;
    assert_eq!(listed["response"][0]["tokenID"], wavefront.as_str(), "a retrievable token opens");
    let again = reqwest::get(format!("{base}/.well-known/jwks.json")).await.unwrap().text().await.unwrap();
    assert_eq!(again, jwks, "the same signing keys");
    server.stop();

    let stale = keyward(&data, db.as_ref())
        .env("KEYWARD_MASTER_KEY_FILE", data.join("master.key.old"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!stale.status.success(), "a node with the old key refuses to start");
    assert!(String::from_utf8_lossy(&stale.stderr).contains("master key does not match"));
}

fn a_bad_database_url_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = keyward(dir.path(), None).env("KEYWARD_DATABASE_URL", "mysql://h/db").arg("migrate").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
    let out = keyward(dir.path(), None)
        .env("KEYWARD_DATABASE_URL", "postgres://nobody:hunter2@127.0.0.1:1/none")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open the database"), "{err}");
    assert!(!err.contains("hunter2"), "passwords never reach the output");
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connection_limits_hold() {
        super::connection_limits_hold().await;
    }
    #[tokio::test]
    async fn first_start_then_restart() {
        super::first_start_then_restart(None).await;
    }
    #[tokio::test]
    async fn acknowledged_writes_survive_a_crash() {
        super::acknowledged_writes_survive_a_crash(None).await;
    }
    #[test]
    fn init_prints_the_admin_key_once() {
        super::init_prints_the_admin_key_once(None);
    }
    #[test]
    fn a_bad_database_url_fails_clearly() {
        super::a_bad_database_url_fails_clearly();
    }
    #[test]
    fn a_read_replica_beside_sqlite_is_refused() {
        super::a_read_replica_beside_sqlite_is_refused();
    }
    #[test]
    fn a_wrong_master_key_stops_the_start() {
        super::a_wrong_master_key_stops_the_start(None);
    }
    #[tokio::test]
    async fn admin_reset_key_makes_a_new_admin_key() {
        super::admin_reset_key_makes_a_new_admin_key(None).await;
    }
    #[test]
    fn one_process_per_sqlite_data_dir() {
        super::one_process_per_sqlite_data_dir();
    }
    #[test]
    fn a_taken_address_stops_start_up_before_anything_is_created() {
        super::a_taken_address_stops_start_up_before_anything_is_created();
    }
    #[test]
    fn a_refused_master_key_leaves_no_key_file() {
        super::a_refused_master_key_leaves_no_key_file(None);
    }
    #[tokio::test]
    async fn admin_commands_work_on_the_database_with_the_apis_rules() {
        super::admin_commands_work_on_the_database_with_the_apis_rules(None).await;
    }
    #[tokio::test]
    async fn json_logs_are_one_object_per_line_with_client_credential_and_latency() {
        super::json_logs_are_one_object_per_line_with_client_credential_and_latency().await;
    }
    #[tokio::test]
    async fn the_master_key_rotates_and_every_secret_still_opens() {
        super::the_master_key_rotates_and_every_secret_still_opens(None).await;
    }
    #[test]
    fn a_hanging_request_is_cut_at_the_shutdown_deadline() {
        super::a_hanging_request_is_cut_at_the_shutdown_deadline();
    }
}

mod postgres {
    use storage::testing::TestDb;

    #[tokio::test]
    async fn first_start_then_restart() {
        if let Some(db) = TestDb::postgres() {
            super::first_start_then_restart(Some(db)).await;
        }
    }
    #[tokio::test]
    async fn acknowledged_writes_survive_a_crash() {
        if let Some(db) = TestDb::postgres() {
            super::acknowledged_writes_survive_a_crash(Some(db)).await;
        }
    }
    #[test]
    fn init_prints_the_admin_key_once() {
        if let Some(db) = TestDb::postgres() {
            super::init_prints_the_admin_key_once(Some(db));
        }
    }
    #[test]
    fn a_wrong_master_key_stops_the_start() {
        if let Some(db) = TestDb::postgres() {
            super::a_wrong_master_key_stops_the_start(Some(db));
        }
    }
    #[tokio::test]
    async fn admin_reset_key_makes_a_new_admin_key() {
        if let Some(db) = TestDb::postgres() {
            super::admin_reset_key_makes_a_new_admin_key(Some(db)).await;
        }
    }
    #[tokio::test]
    async fn admin_commands_work_on_the_database_with_the_apis_rules() {
        if let Some(db) = TestDb::postgres() {
            super::admin_commands_work_on_the_database_with_the_apis_rules(Some(db)).await;
        }
    }
    #[tokio::test]
    async fn the_master_key_rotates_and_every_secret_still_opens() {
        if let Some(db) = TestDb::postgres() {
            super::the_master_key_rotates_and_every_secret_still_opens(Some(db)).await;
        }
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exits_cleanly_with_tls_to_postgres() {
        if let Some(db) = TestDb::postgres() {
            super::exits_cleanly_with_tls_to_postgres(db).await;
        }
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outage_is_reported_bounded_and_recovered_from() {
        if let Some(db) = TestDb::postgres() {
            super::an_outage_is_reported_bounded_and_recovered_from(db).await;
        }
    }
    #[test]
    fn a_second_database_never_overwrites_the_admin_key() {
        if let Some(db) = TestDb::postgres() {
            super::a_second_database_never_overwrites_the_admin_key(db);
        }
    }
    #[test]
    fn a_refused_master_key_leaves_no_key_file() {
        if let Some(db) = TestDb::postgres() {
            super::a_refused_master_key_leaves_no_key_file(Some(db));
        }
    }
}
