//! Secret keys over HTTP: shown once, the `kw_sk_` format, scopes, rotation and tenancy.

use chrono::Duration;
use insta::assert_json_snapshot;
use reqwest::StatusCode;
use serde_json::json;
use storage::testing::TestDb;

use crate::common::spawn;

async fn secret_keys_live_and_rotate_like_api_keys(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, writer) = app.tenant("acme", &["secret-keys:write", "tokens:*"]).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys");
    let created =
        app.post(&keys, &writer, json!({"name": "issuer", "scopes": ["tokens:mint"], "ttl_seconds": 3600})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("kw_sk_") && secret.len() == 111);
    assert_json_snapshot!("issued_secret_key", created.body, {
        ".id" => "[id]", ".account_id" => "[id]", ".service_account_id" => "[id]", ".secret" => "[secret]",
        ".created_at" => "[time]", ".updated_at" => "[time]", ".expires_at" => "[time]"
    });
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(&secret[6..38], id.replace('-', ""), "the credential carries the key id (the client_id)");

    let fetched = app.get(&format!("{keys}/{id}"), &writer).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert!(fetched.body.get("secret").is_none() && !fetched.body.to_string().contains(&secret[39..103]));
    let listed = app.get(&keys, &writer).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    let changed = app.patch(&format!("{keys}/{id}"), &writer, json!({"name": "minter", "expires_at": null})).await;
    assert_eq!((changed.body["name"].as_str(), changed.body["expires_at"].is_null()), (Some("minter"), true));
    let escalate = app.patch(&format!("{keys}/{id}"), &writer, json!({"scopes": ["account:admin"]})).await;
    assert_eq!(escalate.code(), "scope_not_grantable");

    let rotated = app.post(&format!("{keys}/{id}/rotate"), &writer, json!({"retain_period_seconds": 60})).await;
    assert_eq!(rotated.status, StatusCode::OK);
    assert_ne!(rotated.body["secret"], created.body["secret"]);
    assert!(rotated.body["last_rotated_at"].is_string());

    app.clock.advance(Duration::hours(2));
    let still = app.get(&format!("{keys}/{id}"), &writer).await;
    assert_eq!(still.body["state"], "active", "the expiry was removed");
    assert_eq!(app.delete(&format!("{keys}/{id}"), &writer).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("{keys}/{id}"), &writer).await.code(), "not_found");

    let audit = app.get(&format!("/v1/accounts/{acct}/audit-events?target=secret_key:{id}"), &app.admin).await;
    let actions: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["secret_key.delete", "secret_key.rotate", "secret_key.update", "secret_key.create"]);
}

async fn secret_keys_need_their_scopes_and_stay_in_their_account(db: TestDb) {
    let app = spawn(db).await;
    let (a, sa_a, _, api_writer) = app.tenant("a", &["api-keys:write"]).await;
    let (b, sa_b, _, _) = app.tenant("b", &[]).await;
    let keys_a = format!("/v1/accounts/{a}/service-accounts/{sa_a}/secret-keys");
    let refused = app.post(&keys_a, &api_writer, json!({"name": "x"})).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "insufficient_scope"));
    let in_b = app
        .post(&format!("/v1/accounts/{b}/service-accounts/{sa_b}/secret-keys"), &app.admin, json!({"name": "x"}))
        .await;
    let id_b = in_b.body["id"].as_str().unwrap();
    let (_, _, _, reader_a) = app.tenant("a2", &["secret-keys:read"]).await;
    let probe = app.get(&format!("/v1/accounts/{b}/service-accounts/{sa_b}/secret-keys/{id_b}"), &reader_a).await;
    assert_eq!(probe.status, StatusCode::NOT_FOUND);
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "k", "scopes": ["Bad"]}), "scopes[0]"),
        (json!({"name": "k", "ttl_seconds": 0}), "ttl_seconds"),
        (json!({"name": "k", "secret": "mine"}), "secret"),
    ] {
        let res = app.post(&keys_a, &app.admin, body.clone()).await;
        assert_eq!((res.status, res.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{body}");
    }
    let bad_id = app.get(&format!("{keys_a}/not-an-id"), &app.admin).await;
    assert_eq!(bad_id.body["field"], "key_id");
    assert_eq!(app.get(&keys_a, &app.admin).await.body["items"].as_array().unwrap().len(), 0, "nothing was created");
}

http_tests!(secret_keys_live_and_rotate_like_api_keys, secret_keys_need_their_scopes_and_stay_in_their_account);
