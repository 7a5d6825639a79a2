//! The whole life of an API key: change, rotate with a retain period, usage, and audit.

use chrono::Duration;
use domain::SystemEntropy;
use domain::credential::{Credential, CredentialKind};
use insta::assert_json_snapshot;
use reqwest::StatusCode;
use serde_json::json;
use storage::testing::TestDb;

use crate::common::spawn;

async fn keys_can_be_changed_but_not_beyond_what_the_caller_holds(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, key, secret) = app.tenant("acme", &["api-keys:write", "metrics:*"]).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let other = app.post(&keys, &app.admin, json!({"name": "other", "scopes": ["metrics:read"]})).await;
    let other_id = other.body["id"].as_str().unwrap();
    let at = (app.keyward.now() + Duration::days(1)).to_rfc3339();

    let changed = app
        .patch(
            &format!("{keys}/other"),
            &secret,
            json!({"name": "renamed", "description": "d", "scopes": ["metrics:write"], "expires_at": at}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(
        (changed.body["name"].as_str(), changed.body["scopes"][0].as_str()),
        (Some("renamed"), Some("metrics:write"))
    );
    assert!(changed.body["expires_at"].is_string());
    let cleared = app.patch(&format!("{keys}/{other_id}"), &secret, json!({"expires_at": null})).await;
    assert!(cleared.body["expires_at"].is_null(), "null removes the expiry");
    assert_eq!(cleared.body["scopes"][0], "metrics:write", "absent fields stay as they are");

    let escalate = app.patch(&format!("{keys}/{other_id}"), &secret, json!({"scopes": ["account:admin"]})).await;
    assert_eq!(escalate.code(), "scope_not_grantable");
    let past = app.patch(&format!("{keys}/{other_id}"), &secret, json!({"expires_at": "2000-01-01T00:00:00Z"})).await;
    assert_eq!((past.status, past.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("expires_at")));
    let taken = app.patch(&format!("{keys}/{other_id}"), &secret, json!({"name": "key"})).await;
    assert_eq!(taken.code(), "name_taken");
    let own = app.patch(&format!("{keys}/{key}"), &secret, json!({"active": false})).await;
    assert_eq!(own.code(), "own_credential");

    let disabled = app.patch(&format!("{keys}/{other_id}"), &secret, json!({"active": false})).await;
    assert_eq!(disabled.body["state"], "disabled");
    let unchanged = app.get(&format!("{keys}/{other_id}"), &app.admin).await;
    assert_eq!(unchanged.body["scopes"][0], "metrics:write", "refused changes changed nothing");
}

async fn rotation_keeps_the_old_secret_for_the_retain_period_only(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let created = app.post(&keys, &app.admin, json!({"name": "svc-key", "scopes": ["service-accounts:read"]})).await;
    let first = created.body["secret"].as_str().unwrap().to_owned();
    let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");

    let rotated = app.post(&format!("{keys}/svc-key/rotate"), &app.admin, json!({"retain_period_seconds": 300})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let second = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(&first[..38], &second[..38], "the key keeps its id");
    assert!(rotated.body["last_rotated_at"].is_string());
    assert_json_snapshot!("rotated_api_key", rotated.body, {
        ".id" => "[id]", ".account_id" => "[id]", ".service_account_id" => "[id]", ".secret" => "[secret]",
        ".created_at" => "[time]", ".updated_at" => "[time]", ".last_rotated_at" => "[time]"
    });
    assert_eq!(app.get(&me, &first).await.status, StatusCode::OK, "the old secret works during the retain period");
    assert_eq!(app.get(&me, &second).await.status, StatusCode::OK);
    app.clock.advance(Duration::seconds(299));
    assert_eq!(app.get(&me, &first).await.status, StatusCode::OK);
    app.clock.advance(Duration::seconds(1));
    assert_eq!(app.get(&me, &first).await.status, StatusCode::UNAUTHORIZED, "and stops when it ends");
    assert_eq!(app.get(&me, &second).await.status, StatusCode::OK);

    let third = app.post(&format!("{keys}/svc-key/rotate"), &app.admin, json!({"retain_period_seconds": 600})).await;
    let third = third.body["secret"].as_str().unwrap().to_owned();
    let fourth = app.post(&format!("{keys}/svc-key/rotate"), &app.admin, json!({"retain_period_seconds": 600})).await;
    let fourth = fourth.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&me, &second).await.status, StatusCode::UNAUTHORIZED, "only one previous secret is kept");
    assert_eq!(app.get(&me, &third).await.status, StatusCode::OK);
    assert_eq!(app.get(&me, &fourth).await.status, StatusCode::OK);
    let now = app.post(&format!("{keys}/svc-key/rotate"), &app.admin, json!({"retain_period_seconds": 0})).await;
    assert_eq!(now.status, StatusCode::OK);
    assert_eq!(
        app.get(&me, &fourth).await.status,
        StatusCode::UNAUTHORIZED,
        "a zero period ends the old secret at once"
    );

    for bad in [
        json!({"retain_period_seconds": -1}),
        json!({"retain_period_seconds": 2_592_001}),
        json!({"retain_period_seconds": "1h"}),
    ] {
        let res = app.post(&format!("{keys}/svc-key/rotate"), &app.admin, bad.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let before = app.post(&format!("{keys}/svc-key/rotate"), &app.admin, json!({"retain_period_seconds": 0})).await;
    let before = before.body["secret"].as_str().unwrap().to_owned();
    let default = app.post(&format!("{keys}/svc-key/rotate"), &app.admin, json!({})).await;
    assert_eq!(default.status, StatusCode::OK, "retain_period_seconds defaults to 0");
    assert_eq!(app.get(&me, &before).await.status, StatusCode::UNAUTHORIZED, "so the old secret stops at once");
}

async fn a_key_cannot_rotate_itself(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, key, secret) = app.tenant("acme", &["api-keys:write"]).await;
    let own = app
        .post(
            &format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys/{key}/rotate"),
            &secret,
            json!({"retain_period_seconds": 60}),
        )
        .await;
    assert_eq!((own.status, own.code()), (StatusCode::CONFLICT, "own_credential"));
    let unchanged = app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys/{key}"), &secret).await;
    assert!(unchanged.body["last_rotated_at"].is_null(), "the refused rotation changed nothing");
    assert_eq!(app.get("/v1/accounts", &secret).await.status, StatusCode::FORBIDDEN, "and the key still works");
}

async fn uses_are_recorded_in_batches(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, key, secret) = app.tenant("acme", &["service-accounts:read"]).await;
    let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    app.flush_usage().await;
    for _ in 0..50 {
        assert_eq!(app.get(&me, &secret).await.status, StatusCode::OK);
    }
    let before = app.get(&format!("{me}/api-keys/{key}"), &app.admin).await;
    assert!(before.body["last_used_at"].is_null(), "nothing is written on the request path");
    assert_eq!(app.flush_usage().await, 2, "fifty uses of one key and one of the admin key: two row updates");
    let after = app.get(&format!("{me}/api-keys/{key}"), &app.admin).await;
    let used: chrono::DateTime<chrono::Utc> = after.body["last_used_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(used, app.keyward.now());
    assert_eq!(after.body["last_used_ip"], "127.0.0.1");
    assert_eq!(app.flush_usage().await, 1, "only the admin key's read was new");
}

async fn every_change_and_failed_authentication_is_audited(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, key, _) = app.tenant("acme", &[]).await;
    let k = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys/{key}");
    app.patch(&k, &app.admin, json!({"description": "x"})).await;
    let rotated = app.post(&format!("{k}/rotate"), &app.admin, json!({"retain_period_seconds": 0})).await;
    assert_eq!(rotated.status, StatusCode::OK);
    // A well-formed credential for the same key id, with another secret.
    let id = uuid::Uuid::parse_str(&key).unwrap();
    let wrong = Credential::generate(CredentialKind::ApiKey, id, &SystemEntropy::new()).reveal();
    let wrong = wrong.expose();
    assert_eq!(app.get("/v1/accounts", wrong).await.status, StatusCode::UNAUTHORIZED);
    app.delete(&k, &app.admin).await;
    let audit = app.get(&format!("/v1/accounts/{acct}/audit-events?target=api_key:{key}"), &app.admin).await;
    let actions: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["api_key.delete", "auth.failure", "api_key.rotate", "api_key.update", "api_key.create"]);
    let failure = &audit.body["items"][1];
    assert_eq!((failure["outcome"].as_str(), failure["actor"].as_str()), (Some("failure"), Some("ip:127.0.0.1")));
}

/// Creations at the same moment over HTTP (on SQLite they share write batches): each gets its own
/// answer, a name taken in the same moment is refused alone with 409, and every created key works.
async fn concurrent_creations_each_get_their_own_answer(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, verifier) = app.tenant("acme", &["api-keys:verify"]).await;
    let url = format!("{}/v1/accounts/{acct}/service-accounts/{sa}/api-keys", app.base);
    let requests: Vec<_> = (0..24)
        .map(|i| {
            let (client, url, admin) = (app.client.clone(), url.clone(), app.admin.clone());
            // Every third request asks for the same name; the others for their own.
            let name = if i % 3 == 0 { "same".to_owned() } else { format!("own-{i}") };
            tokio::spawn(async move {
                let sent =
                    client.post(&url).bearer_auth(admin).json(&json!({"name": name, "scopes": ["metrics:write"]}));
                let answer = sent.send().await.unwrap();
                let status = answer.status();
                (name, status, answer.json::<serde_json::Value>().await.unwrap())
            })
        })
        .collect();
    let (mut secrets, mut same) = (Vec::new(), 0);
    for request in requests {
        let (name, status, body) = request.await.unwrap();
        match status {
            StatusCode::CREATED => {
                same += usize::from(name == "same");
                secrets.push(body["secret"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => assert_eq!((name.as_str(), body["code"].as_str()), ("same", Some("name_taken"))),
            other => panic!("{name}: {other} {body}"),
        }
    }
    assert_eq!((same, secrets.len()), (1, 17), "one request won the shared name; every other one was created");
    for secret in &secrets {
        let verdict = app
            .post("/v1/api-keys/verify", &verifier, json!({"key": secret, "required_scopes": ["metrics:write"]}))
            .await;
        assert_eq!(verdict.body["valid"], true, "{:?}", verdict.body);
    }
}

http_tests!(
    concurrent_creations_each_get_their_own_answer,
    keys_can_be_changed_but_not_beyond_what_the_caller_holds,
    rotation_keeps_the_old_secret_for_the_retain_period_only,
    a_key_cannot_rotate_itself,
    uses_are_recorded_in_batches,
    every_change_and_failed_authentication_is_audited,
);
