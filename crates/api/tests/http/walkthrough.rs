//! The first five minutes of a new user, with snapshots of every response shape.

use insta::assert_json_snapshot;
use reqwest::StatusCode;
use serde_json::json;
use storage::testing::TestDb;

use crate::common::spawn;

async fn first_five_minutes(db: TestDb) {
    let app = spawn(db).await;
    let admin = app.admin.clone();

    let account = app.post("/v1/accounts", &admin, json!({"name": "acme"})).await;
    assert_eq!(account.status, StatusCode::CREATED);
    assert_json_snapshot!("account", account.body, { ".id" => "[id]", ".created_at" => "[time]", ".updated_at" => "[time]" });
    let acct = account.body["id"].as_str().unwrap();

    let sa = app
        .post(
            &format!("/v1/accounts/{acct}/service-accounts"),
            &admin,
            json!({"name": "billing", "description": "Bills customers", "metadata": {"team": "payments"}}),
        )
        .await;
    assert_eq!(sa.status, StatusCode::CREATED);
    assert_json_snapshot!("service_account", sa.body, {
        ".id" => "[id]", ".account_id" => "[id]", ".created_at" => "[time]", ".updated_at" => "[time]"
    });
    let sa_id = sa.body["id"].as_str().unwrap();

    let key = app
        .post(
            &format!("/v1/accounts/{acct}/service-accounts/{sa_id}/api-keys"),
            &admin,
            json!({"name": "ci", "scopes": ["service-accounts:read", "api-keys:write"], "ttl_seconds": 3600}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED);
    let secret = key.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("kw_ak_") && secret.len() == 111);
    assert_json_snapshot!("issued_api_key", key.body, {
        ".id" => "[id]", ".account_id" => "[id]", ".service_account_id" => "[id]", ".secret" => "[secret]",
        ".created_at" => "[time]", ".updated_at" => "[time]", ".expires_at" => "[time]"
    });
    let key_id = key.body["id"].as_str().unwrap();

    // The new key works, within its own account and scopes.
    let listed = app.get(&format!("/v1/accounts/{acct}/service-accounts"), &secret).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_json_snapshot!("service_account_list", listed.body, {
        ".items[].id" => "[id]", ".items[].account_id" => "[id]", ".items[].created_at" => "[time]", ".items[].updated_at" => "[time]"
    });

    // The secret is never shown again.
    let fetched = app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa_id}/api-keys/{key_id}"), &admin).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert!(fetched.body.get("secret").is_none());
    assert!(!fetched.body.to_string().contains(&secret[39..103]));
    let by_name = app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa_id}/api-keys/ci"), &admin).await;
    assert_eq!(by_name.body, fetched.body);
    assert_json_snapshot!("api_key", fetched.body, {
        ".id" => "[id]", ".account_id" => "[id]", ".service_account_id" => "[id]",
        ".created_at" => "[time]", ".updated_at" => "[time]", ".expires_at" => "[time]"
    });

    let renamed = app
        .patch(&format!("/v1/accounts/{acct}/service-accounts/{sa_id}"), &admin, json!({"description": "Bills"}))
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.body["description"], "Bills");
    assert_eq!(renamed.body["metadata"]["team"], "payments", "absent fields stay as they are");

    let audit = app.get(&format!("/v1/accounts/{acct}/audit-events?limit=10"), &admin).await;
    assert_eq!(audit.status, StatusCode::OK);
    let actions: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["service_account.update", "api_key.create", "service_account.create"]);
    assert_json_snapshot!("audit_event", audit.body["items"][0], {
        ".id" => "[id]", ".account_id" => "[id]", ".actor" => "[actor]", ".target" => "[target]", ".at" => "[time]"
    });

    let deleted = app.delete(&format!("/v1/accounts/{acct}/service-accounts/{sa_id}/api-keys/ci"), &admin).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.get(&format!("/v1/accounts/{acct}/service-accounts"), &secret).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED, "a deleted key stops working at once");
    assert_eq!(app.delete(&format!("/v1/accounts/{acct}"), &admin).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/v1/accounts/{acct}"), &admin).await.status, StatusCode::NOT_FOUND);
}

async fn operations_endpoints_answer(db: TestDb) {
    let app = spawn(db).await;
    let health = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().contains_key("x-request-id"));
    let ready = app.client.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let doc: serde_json::Value =
        app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/v1/accounts/{account_id}/service-accounts"].is_object());
    let echoed =
        app.client.get(format!("{}/healthz", app.base)).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
}

http_tests!(first_five_minutes, operations_endpoints_answer);
