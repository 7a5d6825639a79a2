//! Nothing secret leaks: a real server, logging at `debug`, is driven through every operation that
//! takes or returns a secret — native and dialects, with good and bad credentials and forced
//! errors — and then every log line, every error body and every file in the data directory
//! (other than the database and the key files) is searched for every secret and signature seen.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::{Client, Method};
use serde_json::{Value, json};
use storage::testing::TestDb;

/// Everything secret the test saw, and every error body it got.
#[derive(Default)]
struct Seen {
    secrets: Vec<String>,
    errors: Vec<String>,
}

impl Seen {
    /// Notes the secrets in an answer: credential strings, JWTs and their signatures.
    fn harvest(&mut self, text: &str) {
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
            if word.starts_with("kw_ak_") || word.starts_with("kw_sk_") || word.starts_with("whsec_") {
                self.secrets.push(word.to_owned());
            } else if word.starts_with("eyJ") && word.matches('.').count() == 2 {
                self.secrets.push(word.to_owned());
                if let Some(signature) = word.rsplit('.').next().filter(|s| s.len() > 20) {
                    self.secrets.push(signature.to_owned());
                }
            }
        }
    }
}

struct Session {
    base: String,
    client: Client,
    seen: Seen,
}

impl Session {
    /// Sends `req`, notes the secrets in the answer and keeps it if it is an error.
    async fn answer(&mut self, req: reqwest::RequestBuilder) -> Value {
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        self.seen.harvest(&text);
        if !status.is_success() {
            self.seen.errors.push(text.clone());
        }
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn send(&mut self, method: Method, path: &str, headers: &[(&str, String)], body: Option<Value>) -> Value {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.answer(req).await
    }

    async fn form(&mut self, path: &str, auth: Option<(&str, &str)>, form: &[(&str, &str)]) -> Value {
        let mut req = self.client.post(format!("{}{path}", self.base)).form(form);
        if let Some((id, secret)) = auth {
            req = req.basic_auth(id, Some(secret));
        }
        self.answer(req).await
    }
}

fn bearer(t: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {t}"))]
}

/// The same string with its last characters changed: a wrong secret of the right shape.
fn wrong(secret: &str) -> String {
    format!("{}{}", &secret[..secret.len() - 6], if secret.ends_with("000000") { "111111" } else { "000000" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_an_error_or_a_file_on_sqlite() {
    no_secret_reaches_a_log_an_error_or_a_file(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_an_error_or_a_file_on_postgres() {
    if let Some(db) = TestDb::postgres() {
        no_secret_reaches_a_log_an_error_or_a_file(Some(db)).await;
    }
}

async fn no_secret_reaches_a_log_an_error_or_a_file(db: Option<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyward"));
    cmd.env_clear().env("KEYWARD_DATA_DIR", &data).env("KEYWARD_LOG", "debug");
    if let Some(db) = &db {
        cmd.env("KEYWARD_DATABASE_URL", db.url_string());
    }
    let mut child =
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut log = Vec::new();
    let base = loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        log.push(line.clone());
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr: String =
                rest.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':')).collect();
            break format!("http://{addr}");
        }
    };
    let admin = std::fs::read_to_string(data.join("admin.key")).unwrap().trim().to_owned();
    let mut s = Session { base, client: Client::new(), seen: Seen::default() };
    s.seen.secrets.push(admin.clone());

    // Native: accounts, keys, rotation, secret keys, JWTs, OAuth.
    let account = s.send(Method::POST, "/v1/accounts", &bearer(&admin), Some(json!({"name": "acme"}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sa = s
        .send(
            Method::POST,
            &format!("/v1/accounts/{account}/service-accounts"),
            &bearer(&admin),
            Some(json!({"name": "svc"})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let keys = format!("/v1/accounts/{account}/service-accounts/{sa}");
    let scopes =
        json!(["service-accounts:write", "api-keys:write", "secret-keys:write", "apiTokens.write", "api-keys:verify"]);
    let key = s
        .send(Method::POST, &format!("{keys}/api-keys"), &bearer(&admin), Some(json!({"name": "k", "scopes": scopes})))
        .await;
    let key = key["secret"].as_str().unwrap().to_owned();
    let rotated = s
        .send(
            Method::POST,
            &format!("{keys}/api-keys/k/rotate"),
            &bearer(&admin),
            Some(json!({"retain_period_seconds": 60})),
        )
        .await;
    let key2 = rotated["secret"].as_str().unwrap().to_owned();
    for k in [&key, &key2] {
        s.send(Method::GET, &keys, &bearer(k), None).await;
        s.send(Method::GET, &keys, &bearer(&wrong(k)), None).await;
        s.send(Method::POST, "/v1/api-keys/verify", &bearer(&key2), Some(json!({"key": wrong(k)}))).await;
        s.send(Method::POST, "/v1/api-keys/lookup", &bearer(&key2), Some(json!({"key": k}))).await;
    }
    s.send(
        Method::POST,
        &format!("{keys}/api-keys"),
        &bearer(&admin),
        Some(json!({"name": "bad", "secret": key.clone()})),
    )
    .await;
    let sk = s
        .send(
            Method::POST,
            &format!("{keys}/secret-keys"),
            &bearer(&admin),
            Some(json!({"name": "sk", "scopes": ["service-accounts:read"]})),
        )
        .await;
    let (sk_id, sk_secret) = (sk["id"].as_str().unwrap().to_owned(), sk["secret"].as_str().unwrap().to_owned());
    s.send(
        Method::POST,
        &format!("{keys}/secret-keys/{sk_id}/rotate"),
        &bearer(&admin),
        Some(json!({"retain_period_seconds": 60})),
    )
    .await;
    let jwt = s.send(Method::POST, &format!("{keys}/secret-keys/{sk_id}/jwt"), &bearer(&admin), Some(json!({}))).await;
    let jwt = jwt["token"].as_str().unwrap_or_default().to_owned();
    s.send(Method::GET, &keys, &bearer(&jwt), None).await;
    s.send(Method::GET, &keys, &bearer(&format!("{jwt}x")), None).await;
    let token = s.form("/oauth2/token", Some((&sk_id, &sk_secret)), &[("grant_type", "client_credentials")]).await;
    s.form("/oauth2/token", Some((&sk_id, &wrong(&sk_secret))), &[("grant_type", "client_credentials")]).await;
    s.form(
        "/oauth2/token",
        None,
        &[("grant_type", "client_credentials"), ("client_id", &sk_id), ("client_secret", &wrong(&sk_secret))],
    )
    .await;
    let access = token["access_token"].as_str().unwrap_or_default().to_owned();
    s.form("/oauth2/introspect", Some((&sk_id, &sk_secret)), &[("token", &access)]).await;
    s.form("/oauth2/introspect", Some((&sk_id, &wrong(&sk_secret))), &[("token", &access)]).await;
    s.form("/oauth2/revoke", Some((&sk_id, &sk_secret)), &[("token", &access)]).await;

    // A leak report of a real key, a forged one and garbage, and a GitHub report that fails its
    // signature check: the reported strings appear in no log line or error.
    let exposed = s
        .send(
            Method::POST,
            &format!("{keys}/api-keys"),
            &bearer(&admin),
            Some(json!({"name": "exposed", "scopes": []})),
        )
        .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    // A webhook's signing secret is a secret too.
    let hooks = format!("/v1/accounts/{account}/webhooks");
    let hook = json!({"url": "https://hooks.example.com/keyward", "events": ["credential.leaked"]});
    s.send(Method::POST, &hooks, &bearer(&admin), Some(hook)).await;
    let report = json!({"credentials": [exposed, wrong(&exposed), "kw_ak_garbage"]});
    s.send(Method::POST, "/v1/credentials/revoke", &[], Some(report)).await;
    let github =
        json!([{"token": wrong(&exposed), "type": "keyward_api_key", "url": "https://x", "source": "content"}]);
    let signed = [("github-public-key-identifier", "k".to_owned()), ("github-public-key-signature", "c2ln".to_owned())];
    s.send(Method::POST, "/v1/secret-scanning/github", &signed, Some(github)).await;

    // Dialects: Dynatrace, Wavefront (secrets in paths and lists), Smooch, Service Identity, ZenML.
    let dt = vec![("authorization", format!("Api-Token {key2}"))];
    let made = s
        .send(Method::POST, "/api/v2/apiTokens", &dt, Some(json!({"name": "dt", "scopes": ["apiTokens.write"]})))
        .await;
    let dt_token = made["token"].as_str().unwrap().to_owned();
    s.send(Method::POST, "/api/v2/apiTokens/lookup", &dt, Some(json!({"token": wrong(&dt_token)}))).await;
    s.send(Method::GET, &format!("/api/v2/apiTokens/{dt_token}"), &dt, None).await;
    s.send(Method::DELETE, &format!("/api/v2/apiTokens/{dt_token}"), &dt, None).await;
    let wf = vec![("x-auth-token", key2.clone())];
    s.send(Method::POST, "/api/v2/account/serviceaccount", &wf, Some(json!({"identifier": "sa::ci"}))).await;
    let tokens = s.send(Method::POST, "/api/v2/apitoken/serviceaccount/sa::ci", &wf, Some(json!({}))).await;
    let wf_token = tokens["response"][0]["tokenID"].as_str().unwrap().to_owned();
    s.send(Method::GET, "/api/v2/apitoken", &[("x-auth-token", wrong(&wf_token))], None).await;
    s.send(Method::DELETE, &format!("/api/v2/apitoken/serviceaccount/sa::ci/{wf_token}"), &wf, Some(json!({}))).await;
    let basic = vec![("authorization", format!("Basic {}", base64_basic(&sk_id, &wrong(&sk_secret))))];
    s.send(Method::GET, "/v1.1/serviceaccounts", &basic, None).await;
    let si = s
        .send(
            Method::POST,
            &format!("/api/accounts/{account}/service-identity"),
            &[("x-api-key", key2.clone())],
            Some(json!({"name": "worker"})),
        )
        .await;
    let (client_id, client_token) =
        (si["client_id"].as_str().unwrap().to_owned(), si["client_token"].as_str().unwrap().to_owned());
    for t in [client_token.clone(), wrong(&client_token)] {
        s.send(
            Method::POST,
            "/service-identity/generate-token",
            &[],
            Some(json!({"client_id": client_id, "client_token": t})),
        )
        .await;
    }
    s.form("/api/v1/login", None, &[("grant_type", "zenml-api-key"), ("password", &key2)]).await;
    s.form("/api/v1/login", None, &[("grant_type", "zenml-api-key"), ("password", &wrong(&key2))]).await;

    // The console: sign in with the key and with a wrong one; the session's token is a secret too.
    let browser = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let before = s.seen.secrets.len();
    for presented in [key2.clone(), wrong(&key2)] {
        let page = browser.get(format!("{}/console/sign-in", s.base)).send().await.unwrap();
        let csrf = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .find_map(|v| v.to_str().ok()?.split(';').next()?.strip_prefix("kw_console_csrf=").map(str::to_owned))
            .unwrap();
        let res = browser
            .post(format!("{}/console/sign-in", s.base))
            .header("cookie", format!("kw_console_csrf={csrf}"))
            .form(&[("csrf", csrf.as_str()), ("key", presented.as_str())])
            .send()
            .await
            .unwrap();
        for cookie in res.headers().get_all("set-cookie") {
            let pair = cookie.to_str().unwrap().split(';').next().unwrap();
            if let Some(token) = pair.strip_prefix("kw_console=").filter(|t| !t.is_empty()) {
                s.seen.secrets.push(token.to_owned());
                s.seen.secrets.extend(token.rsplit('.').next().map(str::to_owned));
            }
        }
        let status = res.status();
        let text = res.text().await.unwrap();
        if !status.is_redirection() {
            s.seen.errors.push(text);
        }
    }
    assert!(s.seen.secrets.len() > before, "the console handed out a session token to look for");

    // Stop, then search.
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
    // Up to the end of the server's output: the readers may still be forwarding its last lines.
    drop(tx);
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        log.push(line);
    }
    let secrets: Vec<String> = {
        let mut all = s.seen.secrets.clone();
        let wrongs: Vec<String> = all.iter().filter(|x| x.starts_with("kw_")).map(|x| wrong(x)).collect();
        all.extend(wrongs);
        all.sort();
        all.dedup();
        all
    };
    assert!(secrets.len() >= 20, "the test saw too few secrets to prove anything: {}", secrets.len());
    let mut files = String::new();
    for entry in std::fs::read_dir(&data).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let kept = name.starts_with("keyward.db") || name == "master.key" || name.starts_with("admin.");
        if !kept {
            files.push_str(&String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()));
        }
    }
    let places = [("the log", log.join("\n")), ("an error body", s.seen.errors.join("\n")), ("a data-dir file", files)];
    for secret in &secrets {
        for (place, text) in &places {
            assert!(!text.contains(secret.as_str()), "a secret reached {place}: {}…", &secret[..12.min(secret.len())]);
        }
    }
    assert!(log.len() > 50, "the server logged at debug: {} lines", log.len());
    // Panic messages go to the same captured output; none may have happened unnoticed.
    assert!(!log.iter().any(|l| l.contains("panicked")), "the server panicked during the run");
}

fn base64_basic(id: &str, secret: &str) -> String {
    use std::io::Write;
    let mut raw = Vec::new();
    write!(raw, "{id}:{secret}").unwrap();
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in raw.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
