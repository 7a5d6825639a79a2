//! A real server on a free port over a real database, and a real HTTP client to talk to it.

#![allow(dead_code, clippy::unwrap_used)]

pub mod issuer;
pub mod receiver;
pub mod scanner;

use std::net::SocketAddr;
use std::sync::Arc;

use api::{ApiConfig, AuthLimits};
use chrono::{TimeZone, Utc};
use domain::sealing::Sealer;
use domain::service::Keyward;
use domain::signing_key::SigningAlgorithm;
use domain::{ManualClock, SystemEntropy};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use storage::testing::TestDb;

/// A running server.
pub struct TestApp {
    pub base: String,
    pub admin: String,
    pub system_account: String,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub keyward: Keyward,
    pub db: TestDb,
}

/// An answer: status, headers and the JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The problem `code` of an error answer.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

pub async fn spawn(db: TestDb) -> TestApp {
    spawn_setup(db, Setup::default()).await
}

/// How a test server is set up, where a test needs more than the defaults.
pub struct Setup<'a> {
    pub auth_limits: AuthLimits,
    pub algorithm: SigningAlgorithm,
    /// Its public address, if not its own.
    pub issuer: Option<&'a str>,
    /// Where the secret-scanning partner's keys are published (a loopback test scanner).
    pub scanner_keys_url: Option<String>,
    pub leak_reports_per_minute: u32,
    /// Whether webhooks may target loopback (the test receivers are there).
    pub webhooks_allow_private: bool,
    /// Whether DPoP proofs must carry a server nonce.
    pub dpop_nonces: bool,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Self {
            auth_limits: AuthLimits { free: 1000, max: 1000, ..AuthLimits::default() },
            algorithm: SigningAlgorithm::EdDsa,
            issuer: None,
            scanner_keys_url: None,
            leak_reports_per_minute: 1000,
            webhooks_allow_private: true,
            dpop_nonces: false,
        }
    }
}

/// The key the test servers seal secrets with, so that tests can open what the database holds.
pub const SEALING_KEY: [u8; 32] = [9; 32];

pub async fn spawn_with(db: TestDb, auth_limits: AuthLimits) -> TestApp {
    spawn_setup(db, Setup { auth_limits, ..Setup::default() }).await
}

/// A server whose public address (`KEYWARD_ISSUER`) is `issuer`, as behind a TLS proxy.
pub async fn spawn_as(db: TestDb, issuer: &str) -> TestApp {
    spawn_setup(db, Setup { issuer: Some(issuer), ..Setup::default() }).await
}

/// A server whose signing keys use `algorithm`.
pub async fn spawn_signing_with(db: TestDb, algorithm: SigningAlgorithm) -> TestApp {
    spawn_setup(db, Setup { algorithm, ..Setup::default() }).await
}

/// How the test servers deliver webhooks: for real, over loopback when `allow_private`.
pub fn webhook_policy(allow_private: bool) -> domain::service::WebhookPolicy {
    let limits = outbound::Limits { loopback_only: true, ..outbound::Limits::default() };
    domain::service::WebhookPolicy {
        sender: Arc::new(outbound::WebhookPoster::new(limits, allow_private)),
        allow_private,
    }
}

/// A server set up as `setup` says.
pub async fn spawn_setup(db: TestDb, setup: Setup<'_>) -> TestApp {
    let Setup {
        auth_limits,
        algorithm,
        issuer,
        scanner_keys_url,
        leak_reports_per_minute,
        webhooks_allow_private,
        dpop_nonces,
    } = setup;
    let loopback = outbound::Limits { loopback_only: true, ..outbound::Limits::default() };
    let store = db.store();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()));
    let keyward = Keyward::new(Arc::new(store), clock.clone(), Arc::new(SystemEntropy::new()))
        .with_issuer(issuer.map_or_else(|| format!("http://{addr}"), str::to_owned))
        .with_sealer(Sealer::new(&SEALING_KEY))
        .with_tokens(algorithm, chrono::Duration::hours(1))
        // Tests never send anything off the machine, whatever issuer a test names.
        .with_issuer_keys(Arc::new(outbound::IssuerKeyFetcher::new(loopback).unwrap()))
        .with_scanner_keys(Arc::new(outbound::ScannerKeyFetcher::new(
            scanner_keys_url.unwrap_or_else(|| outbound::GITHUB_SECRET_SCANNING_KEYS.to_owned()),
            loopback,
        )))
        .with_webhooks(webhook_policy(webhooks_allow_private))
        .with_dpop_nonces(dpop_nonces);
    let boot = keyward.bootstrap().unwrap().unwrap();
    keyward.ensure_signing_keys().unwrap();
    let trusted_proxies = "127.0.0.1".parse().unwrap();
    let app = api::app(ApiConfig {
        body_limits: api::BodyLimits::default(),
        keyward: keyward.clone(),
        cursor_key: b"test cursor key".to_vec(),
        auth_limits,
        leak_reports_per_minute,
        trusted_proxies,
        blocking_slots: 8,
    });
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    TestApp {
        base: format!("http://{addr}"),
        admin: boot.admin_key.expose().to_owned(),
        system_account: boot.account_id.to_string(),
        clock,
        client: reqwest::Client::new(),
        keyward,
        db,
    }
}

impl TestApp {
    /// The id and private key (PKCS#8) of Keyward's active signing key, to sign a token as
    /// Keyward would (for another audience, say).
    pub fn active_signing_key(&self) -> (String, Vec<u8>) {
        let keys = self.keyward.published_signing_keys().unwrap();
        let active = keys.into_iter().find(|k| k.state == domain::signing_key::SigningKeyState::Active).unwrap();
        domain::jwt::provider::install();
        (active.kid.to_string(), active.private_key(&Sealer::new(&SEALING_KEY)).unwrap())
    }

    /// The token endpoint's answer to a client-credentials grant authenticated by `assertion`
    /// (`client_secret_jwt` or `private_key_jwt`).
    pub async fn assertion_grant(&self, assertion: &str) -> (StatusCode, Value) {
        let res = self
            .client
            .post(format!("{}/oauth2/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ])
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap())
    }

    /// Writes collected key usage now, as the background task would; returns how many keys.
    pub async fn flush_usage(&self) -> usize {
        api::usage::flush(&self.keyward).await.unwrap()
    }

    /// Sends a request with `token` (if any) as `Bearer` and a JSON body (if any).
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| ("authorization", a)).into_iter().collect();
        self.send(method, path, &headers, body).await
    }

    /// Sends a request with the given headers (a vendor's way of presenting a credential) and a
    /// JSON body (if any).
    pub async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<Value>) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        Answer { status, headers, body }
    }

    /// The RFC 8414 metadata, as a client discovering the server reads it.
    pub async fn metadata(&self) -> serde_json::Value {
        let url = format!("{}/.well-known/oauth-authorization-server", self.base);
        self.client.get(url).send().await.unwrap().json().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Sends raw bytes with a given content type, on a connection of its own: a server that
    /// refuses a body unread (413) closes the connection, which a pooled client could otherwise
    /// pick for the next request.
    pub async fn raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let res = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        Answer { status, headers, body }
    }

    /// A tenant `acme` with a secret key `client` holding `scopes`: (account, service account,
    /// key id, secret).
    pub async fn secret_key_tenant(&self, scopes: &[&str]) -> (String, String, String, String) {
        let (acct, sa, _, _) = self.tenant("acme", &[]).await;
        let key = self
            .post(
                &format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys"),
                &self.admin,
                serde_json::json!({"name": "client", "scopes": scopes}),
            )
            .await;
        assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
        (acct, sa, key.body["id"].as_str().unwrap().to_owned(), key.body["secret"].as_str().unwrap().to_owned())
    }

    /// Creates an account, a service account in it and a key with `scopes`; returns
    /// (account id, service account id, key id, secret).
    pub async fn tenant(&self, name: &str, scopes: &[&str]) -> (String, String, String, String) {
        let acct = self.post("/v1/accounts", &self.admin, serde_json::json!({"name": name})).await;
        assert_eq!(acct.status, StatusCode::CREATED, "{:?}", acct.body);
        let acct = acct.body["id"].as_str().unwrap().to_owned();
        let sa = self
            .post(&format!("/v1/accounts/{acct}/service-accounts"), &self.admin, serde_json::json!({"name": "svc"}))
            .await;
        let sa = sa.body["id"].as_str().unwrap().to_owned();
        let key = self
            .post(
                &format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys"),
                &self.admin,
                serde_json::json!({"name": "key", "scopes": scopes}),
            )
            .await;
        assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
        (acct, sa, key.body["id"].as_str().unwrap().to_owned(), key.body["secret"].as_str().unwrap().to_owned())
    }
}

/// Runs each named async test function, which takes a [`TestDb`], on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! http_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(storage::testing::TestDb::sqlite()).await; } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   if let Some(db) = storage::testing::TestDb::postgres() { super::$name(db).await; }
               } )*
        }
    };
}
