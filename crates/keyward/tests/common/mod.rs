//! The harness the binary's tests share: a real `keyward serve` process with its log, and a JSON
//! call to it.

#![allow(dead_code)]

pub mod cluster;
pub mod pgbouncer;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use storage::testing::TestDb;

/// A running `keyward serve`, with its log lines collected as they arrive.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

pub fn keyward(data_dir: &Path, db: Option<&TestDb>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyward"));
    cmd.env_clear().env("KEYWARD_DATA_DIR", data_dir).env("KEYWARD_LOG", "info");
    if let Some(db) = db {
        cmd.env("KEYWARD_DATABASE_URL", db.url_string());
    }
    cmd
}

impl Server {
    pub fn start(data_dir: &Path, db: Option<&TestDb>) -> Server {
        Self::start_cmd(keyward(data_dir, db))
    }

    pub fn start_cmd(mut cmd: Command) -> Server {
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not log that it listens; it logged: {seen:#?}");
            };
            seen.push(line.clone());
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
                    .collect();
                return Server { child, base: format!("http://{addr}"), log: rx, seen };
            }
        }
    }

    /// Collects what the exited process logged, up to the end of its output (the reader thread
    /// may still be forwarding its last lines when `wait` returns).
    pub fn drain(&mut self) {
        while let Ok(line) = self.log.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns everything the server logged.
    pub fn stop(mut self) -> Vec<String> {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "a graceful shutdown exits 0, got {exit}");
        self.drain();
        self.seen
    }

    /// Kills the process without warning, as a crash would.
    pub fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

pub async fn call(method: reqwest::Method, url: String, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

/// Calls `url` with `token` until it is refused (401), which must happen within `within` of
/// `since`; the request itself is the wait, so a refusal is seen as soon as it holds.
pub async fn until_refused(url: &str, token: &str, since: std::time::Instant, within: Duration) {
    loop {
        let (status, _) = call(reqwest::Method::GET, url.to_owned(), token, None).await;
        if status == 401 {
            return;
        }
        assert!(since.elapsed() < within, "{url} still accepts the credential after {within:?}");
    }
}
