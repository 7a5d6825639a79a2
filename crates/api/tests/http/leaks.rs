//! Leak reports: a public report and GitHub's signed secret-scanning report disable every live
//! key among their strings, say nothing about which to the public, and change nothing else.

use domain::credential::Credential;
use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::scanner::TestScanner;
use crate::common::{Setup, TestApp, spawn, spawn_setup};

const REVOKE: &str = "/v1/credentials/revoke";
const GITHUB: &str = "/v1/secret-scanning/github";

/// An unauthenticated JSON POST, as a reporter sends it.
async fn report(app: &TestApp, body: Value) -> (StatusCode, String) {
    let res = app.client.post(format!("{}{REVOKE}", app.base)).json(&body).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

/// A body signed by `scanner` (or with `signature` instead), as GitHub sends it.
async fn github(app: &TestApp, scanner: &TestScanner, body: &str, signature: Option<&str>) -> (StatusCode, Value) {
    let signature = signature.map_or_else(|| scanner.sign(body.as_bytes()), str::to_owned);
    let res = app
        .client
        .post(format!("{}{GITHUB}", app.base))
        .header("content-type", "application/json")
        .header("Github-Public-Key-Identifier", &scanner.key_id)
        .header("Github-Public-Key-Signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A string of the right shape and checksum for the key `secret` names, with another secret.
fn forged(secret: &str) -> String {
    let real = Credential::parse(secret).unwrap();
    Credential::from_parts(real.kind(), real.id(), [7; Credential::SECRET_BYTES]).reveal().expose().to_owned()
}

async fn a_public_report_disables_live_keys_and_answers_the_same_for_anything(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let base = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    let leaked = app.post(&format!("{base}/api-keys"), &app.admin, json!({"name": "leaked", "scopes": []})).await;
    let (leaked_id, leaked_secret) =
        (leaked.body["id"].as_str().unwrap().to_owned(), leaked.body["secret"].as_str().unwrap().to_owned());
    let safe = app.post(&format!("{base}/api-keys"), &app.admin, json!({"name": "safe", "scopes": []})).await;
    let safe_secret = safe.body["secret"].as_str().unwrap().to_owned();
    let sk = app.post(&format!("{base}/secret-keys"), &app.admin, json!({"name": "client", "scopes": []})).await;
    let (sk_id, sk_secret) =
        (sk.body["id"].as_str().unwrap().to_owned(), sk.body["secret"].as_str().unwrap().to_owned());

    // Strings that are not live keys get exactly the answer real ones get.
    let nothing = report(&app, json!({"credentials": ["not a key", forged(&safe_secret), "kw_ak_00"]})).await;
    let real = report(&app, json!({"credentials": [leaked_secret, sk_secret, "garbage"]})).await;
    assert_eq!(nothing.0, StatusCode::ACCEPTED);
    assert_eq!(nothing, real, "the answer says nothing about which strings were real");

    let key = app.get(&format!("{base}/api-keys/{leaked_id}"), &app.admin).await;
    assert_eq!((key.body["state"].as_str(), key.body["active"].as_bool()), (Some("leaked"), Some(false)));
    let secret_key = app.get(&format!("{base}/secret-keys/{sk_id}"), &app.admin).await;
    assert_eq!(secret_key.body["state"], "leaked");
    let safe_now = app.get(&format!("{base}/api-keys/safe"), &app.admin).await;
    assert_eq!(safe_now.body["state"], "active", "a string with the right id but not its secret changes nothing");

    let verdict = app.post("/v1/api-keys/verify", &app.admin, json!({"key": leaked_secret})).await;
    assert_eq!((verdict.body["valid"].as_bool(), verdict.body["code"].as_str()), (Some(false), Some("DISABLED")));
    let token = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .form(&[("grant_type", "client_credentials"), ("client_id", &sk_id), ("client_secret", &sk_secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::UNAUTHORIZED, "a leaked secret key gets no token");
    assert_eq!(token.json::<Value>().await.unwrap()["error"], "invalid_client");

    let audit = app.get(&format!("/v1/accounts/{acct}/audit-events?action=credential.leaked"), &app.admin).await;
    let events = audit.body["items"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    for event in events {
        assert_eq!((event["actor"].as_str(), event["ip"].as_str()), (Some("leak-report"), Some("127.0.0.1")));
        assert_eq!(event["reason"], "public report");
    }
    let again = report(&app, json!({"credentials": [leaked_secret]})).await;
    assert_eq!(again.0, StatusCode::ACCEPTED);
    let audit = app.get(&format!("/v1/accounts/{acct}/audit-events?action=credential.leaked"), &app.admin).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 2, "a second report of a leaked key changes nothing");
}

async fn a_leaked_key_is_enabled_again_only_on_purpose_and_never_keeps_its_old_secret(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let created = app.post(&keys, &app.admin, json!({"name": "k", "scopes": ["service-accounts:read"]})).await;
    let old = created.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(report(&app, json!({"credentials": [old]})).await.0, StatusCode::ACCEPTED);

    let refused = app.patch(&format!("{keys}/k"), &app.admin, json!({"active": true})).await;
    assert_eq!((refused.status, refused.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("acknowledge_leak")));
    assert_eq!(app.get(&format!("{keys}/k"), &app.admin).await.body["state"], "leaked", "the refusal changed nothing");

    let rotated = app.post(&format!("{keys}/k/rotate"), &app.admin, json!({"retain_period_seconds": 3600})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    let enabled = app.patch(&format!("{keys}/k"), &app.admin, json!({"active": true, "acknowledge_leak": true})).await;
    assert_eq!(enabled.body["state"], "active", "{:?}", enabled.body);
    let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    assert_eq!(app.get(&me, &new).await.status, StatusCode::OK);
    assert_eq!(app.get(&me, &old).await.status, StatusCode::UNAUTHORIZED, "the leaked secret was not retained");
}

async fn bad_reports_are_refused_and_reporters_are_limited(db: TestDb) {
    let app = spawn_setup(db, Setup { leak_reports_per_minute: 3, ..Setup::default() }).await;
    let too_many: Vec<String> = (0..1001).map(|i| format!("kw_ak_{i}")).collect();
    let (status, body) = report(&app, json!({"credentials": too_many})).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("credentials")));
    let (status, body) = report(&app, json!({"keys": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = report(&app, json!({"credentials": []})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = report(&app, json!({"credentials": []})).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the fourth report in a minute from one address, bad ones counted"
    );
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], "too_many_requests");
}

async fn githubs_signed_reports_are_believed_and_labelled_and_others_are_not(db: TestDb) {
    let scanner = TestScanner::start().await;
    let app = spawn_setup(db, Setup { scanner_keys_url: Some(scanner.keys_url.clone()), ..Setup::default() }).await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let created = app.post(&keys, &app.admin, json!({"name": "k", "scopes": []})).await;
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let url = "https://github.com/octo-org/octo-repo/blob/abc/config.env";
    let body = json!([
        {"token": secret, "type": "keyward_api_key", "url": url, "source": "content"},
        {"token": forged(&secret), "type": "keyward_api_key", "url": url, "source": "content"},
    ])
    .to_string();

    let (status, answer) = github(&app, &scanner, &body, Some(&scanner.sign(b"another body"))).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_signature")));
    assert_eq!(
        app.get(&format!("{keys}/k"), &app.admin).await.body["state"],
        "active",
        "a bad signature changes nothing"
    );

    let (status, answer) = github(&app, &scanner, &body, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!([
            {"token_raw": secret, "token_type": "keyward_api_key", "label": "true_positive"},
            {"token_raw": forged(&secret), "token_type": "keyward_api_key", "label": "false_positive"},
        ])
    );
    assert_eq!(app.get(&format!("{keys}/k"), &app.admin).await.body["state"], "leaked");
    let audit = app.get(&format!("/v1/accounts/{acct}/audit-events?action=credential.leaked"), &app.admin).await;
    assert_eq!(audit.body["items"][0]["reason"], format!("github secret scanning (content): {url}"));

    let (status, answer) = github(&app, &scanner, &body, None).await;
    assert_eq!(
        (status, answer[0]["label"].as_str()),
        (StatusCode::OK, Some("true_positive")),
        "a replay is answered alike"
    );
    let unsigned = app.client.post(format!("{}{GITHUB}", app.base)).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);

    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"keyward_leaked_credentials_total{source="github",verdict="revoked"} 1"#), "{metrics}");
}

async fn without_the_scanners_keys_a_report_is_not_believed(db: TestDb) {
    // The default URL is GitHub's, which a test server may not fetch (loopback only).
    let app = spawn(db).await;
    let scanner = TestScanner::start().await;
    let (status, answer) = github(&app, &scanner, "[]", None).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")));
}

http_tests!(
    a_public_report_disables_live_keys_and_answers_the_same_for_anything,
    a_leaked_key_is_enabled_again_only_on_purpose_and_never_keeps_its_old_secret,
    bad_reports_are_refused_and_reporters_are_limited,
    githubs_signed_reports_are_believed_and_labelled_and_others_are_not,
    without_the_scanners_keys_a_report_is_not_believed,
);
