//! The data plane: `/v1/api-keys/verify` and `/v1/api-keys/lookup`.

use chrono::Duration;
use insta::assert_json_snapshot;
use reqwest::StatusCode;
use serde_json::json;
use storage::testing::TestDb;

use crate::common::spawn;

async fn verify_answers_every_code(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, verifier) = app.tenant("acme", &["api-keys:verify"]).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let presented =
        app.post(&keys, &app.admin, json!({"name": "client", "scopes": ["metrics:*"], "ttl_seconds": 60})).await;
    let presented = presented.body["secret"].as_str().unwrap().to_owned();
    let verify = |key: &str, scopes: serde_json::Value| json!({"key": key, "required_scopes": scopes});

    let ok = app.post("/v1/api-keys/verify", &verifier, verify(&presented, json!(["metrics:write"]))).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!((ok.body["valid"].as_bool(), ok.body["code"].as_str()), (Some(true), Some("VALID")));
    assert_json_snapshot!("verify_valid", ok.body, {
        ".key.id" => "[id]", ".key.account_id" => "[id]", ".key.service_account_id" => "[id]",
        ".key.created_at" => "[time]", ".key.updated_at" => "[time]", ".key.expires_at" => "[time]"
    });
    let scope = app.post("/v1/api-keys/verify", &verifier, verify(&presented, json!(["logs:read"]))).await;
    assert_eq!(scope.body["code"], "INSUFFICIENT_SCOPE");
    assert!(scope.body["key"].is_object());

    let mut typo = presented.clone();
    typo.replace_range(60..61, if &typo[60..61] == "a" { "b" } else { "a" });
    let malformed = app.post("/v1/api-keys/verify", &verifier, verify(&typo, json!([]))).await;
    assert_eq!((malformed.body["valid"].as_bool(), malformed.body["code"].as_str()), (Some(false), Some("MALFORMED")));
    assert_json_snapshot!("verify_malformed", malformed.body);
    let unknown =
        app.post("/v1/api-keys/verify", &verifier, verify(&app.admin.replace("kw_ak", "kw_sk"), json!([]))).await;
    assert_eq!(unknown.body["code"], "MALFORMED", "changing the kind breaks the checksum");

    app.patch(
        &format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys/client"),
        &app.admin,
        json!({"active": false}),
    )
    .await;
    assert_eq!(
        app.post("/v1/api-keys/verify", &verifier, verify(&presented, json!([]))).await.body["code"],
        "DISABLED"
    );
    app.patch(
        &format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys/client"),
        &app.admin,
        json!({"active": true}),
    )
    .await;
    app.clock.advance(Duration::seconds(60));
    assert_eq!(app.post("/v1/api-keys/verify", &verifier, verify(&presented, json!([]))).await.body["code"], "EXPIRED");
    let lookup = app.post("/v1/api-keys/lookup", &verifier, json!({"key": presented})).await;
    assert_eq!(
        (lookup.status, lookup.body["state"].as_str()),
        (StatusCode::OK, Some("expired")),
        "lookup shows any state"
    );
}

async fn verify_sees_only_its_own_account(db: TestDb) {
    let app = spawn(db).await;
    let (a, sa_a, _, verifier_a) = app.tenant("a", &["api-keys:verify"]).await;
    let (_, _, _, key_b) = app.tenant("b", &["metrics:read"]).await;
    let foreign = app.post("/v1/api-keys/verify", &verifier_a, json!({"key": key_b})).await;
    assert_eq!((foreign.body["valid"].as_bool(), foreign.body["code"].as_str()), (Some(false), Some("NOT_FOUND")));
    assert!(foreign.body["key"].is_null(), "nothing about another account's key");
    let lookup = app.post("/v1/api-keys/lookup", &verifier_a, json!({"key": key_b})).await;
    assert_eq!((lookup.status, lookup.code()), (StatusCode::NOT_FOUND, "not_found"));
    let by_admin = app.post("/v1/api-keys/verify", &app.admin, json!({"key": key_b})).await;
    assert_eq!(by_admin.body["code"], "VALID", "a system administrator verifies any key");

    let owner_off = app.post(&format!("/v1/accounts/{a}/service-accounts"), &app.admin, json!({"name": "other"})).await;
    let other = owner_off.body["id"].as_str().unwrap();
    let presented = app
        .post(&format!("/v1/accounts/{a}/service-accounts/{other}/api-keys"), &app.admin, json!({"name": "x"}))
        .await;
    let presented = presented.body["secret"].as_str().unwrap().to_owned();
    app.patch(&format!("/v1/accounts/{a}/service-accounts/{other}"), &app.admin, json!({"active": false})).await;
    let answer = app.post("/v1/api-keys/verify", &verifier_a, json!({"key": presented})).await;
    assert_eq!(answer.body["code"], "OWNER_DISABLED");

    let (_, _, _, plain) = app.tenant("c", &["metrics:read"]).await;
    let forbidden = app.post("/v1/api-keys/verify", &plain, json!({"key": key_b})).await;
    assert_eq!((forbidden.status, forbidden.code()), (StatusCode::FORBIDDEN, "insufficient_scope"));
    let bad =
        app.post("/v1/api-keys/verify", &verifier_a, json!({"key": key_b, "required_scopes": ["BAD SCOPE"]})).await;
    assert_eq!((bad.status, bad.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("required_scopes[0]")));
    let _ = sa_a;
}

http_tests!(verify_answers_every_code, verify_sees_only_its_own_account);
