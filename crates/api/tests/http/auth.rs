//! Authentication, scopes, tenancy and the failed-authentication limiter.

use std::time::Duration;

use api::AuthLimits;
use reqwest::{Method, StatusCode};
use serde_json::json;
use storage::testing::TestDb;

use crate::common::{spawn, spawn_with};

async fn missing_or_malformed_credentials_get_401_with_a_challenge(db: TestDb) {
    let app = spawn(db).await;
    let none = app.call(Method::GET, "/v1/accounts", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers["www-authenticate"], r#"Bearer realm="keyward""#);
    assert_eq!(none.headers["content-type"], "application/problem+json");
    assert_eq!(none.code(), "unauthenticated");
    insta::assert_json_snapshot!("problem_unauthenticated", none.body);

    let basic = app.client.get(format!("{}/v1/accounts", app.base)).basic_auth("u", Some("p")).send().await.unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

    let mut forged = app.admin.clone();
    forged.replace_range(50..51, if &forged[50..51] == "a" { "b" } else { "a" });
    for bad in ["nope", forged.as_str(), "kw_ak_0000"] {
        let res = app.get("/v1/accounts", bad).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(res.headers["www-authenticate"], r#"Bearer realm="keyward", error="invalid_token""#);
        assert!(!res.body.to_string().contains(bad), "an error never repeats the credential");
    }
}

async fn scopes_decide_what_a_key_may_do(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, reader) = app.tenant("acme", &["service-accounts:read"]).await;
    assert_eq!(app.get(&format!("/v1/accounts/{acct}/service-accounts"), &reader).await.status, StatusCode::OK);
    let write = app.post(&format!("/v1/accounts/{acct}/service-accounts"), &reader, json!({"name": "x"})).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.code(), "insufficient_scope");
    assert!(write.headers["www-authenticate"].to_str().unwrap().contains(r#"scope="service-accounts:write""#));
    let keys = app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys"), &reader).await;
    assert_eq!(keys.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/v1/accounts", &reader).await.status,
        StatusCode::FORBIDDEN,
        "only system admins list accounts"
    );
    assert_eq!(
        app.get(&format!("/v1/accounts/{acct}"), &reader).await.status,
        StatusCode::OK,
        "a key sees its own account"
    );
}

async fn nobody_grants_scopes_they_do_not_hold(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, writer) = app.tenant("acme", &["api-keys:write"]).await;
    let path = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let escalate = app.post(&path, &writer, json!({"name": "boss", "scopes": ["account:admin"]})).await;
    assert_eq!(escalate.status, StatusCode::FORBIDDEN);
    assert_eq!(escalate.code(), "scope_not_grantable");
    let same = app.post(&path, &writer, json!({"name": "peer", "scopes": ["api-keys:write"]})).await;
    assert_eq!(same.status, StatusCode::CREATED);
    let admin = app.post(&path, &app.admin, json!({"name": "root-ish", "scopes": ["admin"]})).await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN, "`admin` is only for the system account");
    let listed = app.get(&path, &app.admin).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2, "refused keys were not created");
}

async fn other_accounts_answer_404_never_403(db: TestDb) {
    let app = spawn(db).await;
    let (a, _, _, key_a) = app.tenant("a", &["account:admin"]).await;
    let (b, sa_b, key_b_id, _) = app.tenant("b", &["account:admin"]).await;
    for path in [
        format!("/v1/accounts/{b}"),
        format!("/v1/accounts/{b}/service-accounts"),
        format!("/v1/accounts/{b}/service-accounts/{sa_b}"),
        format!("/v1/accounts/{b}/service-accounts/{sa_b}/api-keys/{key_b_id}"),
        format!("/v1/accounts/{b}/api-keys"),
        format!("/v1/accounts/{b}/audit-events"),
        format!("/v1/accounts/{a}/service-accounts/{sa_b}"),
        format!("/v1/accounts/{a}/service-accounts/{sa_b}/api-keys/{key_b_id}"),
    ] {
        let res = app.get(&path, &key_a).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.code(), "not_found");
    }
    let del = app.delete(&format!("/v1/accounts/{a}/service-accounts/{sa_b}"), &key_a).await;
    assert_eq!(del.status, StatusCode::NOT_FOUND);
    let rename = app.patch(&format!("/v1/accounts/{b}"), &key_a, json!({"name": "pwned"})).await;
    assert_eq!(rename.status, StatusCode::NOT_FOUND);
    let still = app.get(&format!("/v1/accounts/{b}/service-accounts/{sa_b}"), &app.admin).await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(app.get(&format!("/v1/accounts/{b}"), &app.admin).await.body["name"], "b");
}

async fn expired_and_disabled_credentials_stop_working(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let path = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let short = app
        .post(&path, &app.admin, json!({"name": "short", "scopes": ["service-accounts:read"], "ttl_seconds": 60}))
        .await;
    let secret = short.body["secret"].as_str().unwrap().to_owned();
    let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    assert_eq!(app.get(&me, &secret).await.status, StatusCode::OK);

    let off = app.patch(&me, &app.admin, json!({"active": false})).await;
    assert_eq!(off.status, StatusCode::OK);
    let refused = app.get(&me, &secret).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.body["detail"], "the credential's service account is disabled");
    app.patch(&me, &app.admin, json!({"active": true})).await;
    assert_eq!(app.get(&me, &secret).await.status, StatusCode::OK, "enabling the service account restores its keys");

    app.clock.advance(chrono::Duration::seconds(60));
    let expired = app.get(&me, &secret).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.body["detail"], "the credential has expired");
    let listed = app.get(&path, &app.admin).await;
    let short = listed.body["items"].as_array().unwrap().iter().find(|k| k["name"] == "short").cloned().unwrap();
    assert_eq!(short["state"], "expired", "expired keys stay listed with their state");
}

async fn a_caller_cannot_remove_its_own_credential(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, key, secret) = app.tenant("acme", &["api-keys:write", "service-accounts:write"]).await;
    let own = app.delete(&format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys/{key}"), &secret).await;
    assert_eq!(own.status, StatusCode::CONFLICT);
    assert_eq!(own.code(), "own_credential");
    let disable =
        app.patch(&format!("/v1/accounts/{acct}/service-accounts/{sa}"), &secret, json!({"active": false})).await;
    assert_eq!(disable.code(), "own_credential");
    let delete_sa = app.delete(&format!("/v1/accounts/{acct}/service-accounts/{sa}"), &secret).await;
    assert_eq!(delete_sa.code(), "own_credential");
    assert_eq!(app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}"), &secret).await.status, StatusCode::OK);
    let system = app.delete(&format!("/v1/accounts/{}", app.system_account), &app.admin).await;
    assert_eq!(system.code(), "system_account");
}

async fn repeated_failures_are_slowed_then_refused(db: TestDb) {
    let limits = AuthLimits { free: 1, max: 3, window: Duration::from_secs(600), step: Duration::from_millis(1) };
    let app = spawn_with(db, limits).await;
    for _ in 0..3 {
        assert_eq!(app.get("/v1/accounts", "kw_wrong").await.status, StatusCode::UNAUTHORIZED);
    }
    let refused = app.get("/v1/accounts", "kw_wrong").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "further failures are refused");
    assert_eq!(refused.code(), "too_many_failed_attempts");
    assert!(refused.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    let good = app.get("/v1/accounts", &app.admin).await;
    assert_eq!(good.status, StatusCode::OK, "a valid key from that address is still served");
}

async fn bad_keys_never_lock_out_a_good_one_and_forwarded_clients_count_apart(db: TestDb) {
    let limits = AuthLimits { free: 2, max: 5, window: Duration::from_secs(600), step: Duration::from_millis(1) };
    let app = spawn_with(db, limits).await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    let bad = |ip: &'static str, n: u32| {
        let app = &app;
        async move {
            let mut last = StatusCode::OK;
            for i in 0..n {
                let key = format!("kw_ak_{:032x}_{}", i, "0".repeat(72));
                let auth = format!("Bearer {key}");
                last =
                    app.send(Method::GET, "/v1/accounts", &[from(ip)[0], ("authorization", &auth)], None).await.status;
            }
            last
        }
    };
    assert_eq!(bad("198.51.100.1", 50).await, StatusCode::TOO_MANY_REQUESTS, "50 bad keys through the proxy");
    let admin = format!("Bearer {}", app.admin);
    let good = app.send(Method::GET, "/v1/accounts", &[from("198.51.100.1")[0], ("authorization", &admin)], None).await;
    assert_eq!(good.status, StatusCode::OK, "a good key from the same address is served at once");
    let neighbour = app
        .send(Method::GET, "/v1/accounts", &[from("198.51.100.2")[0], ("authorization", "Bearer kw_wrong")], None)
        .await;
    assert_eq!(neighbour.status, StatusCode::UNAUTHORIZED, "another forwarded client is counted apart");
    let spoofing = app.send(Method::GET, "/v1/accounts", &[("authorization", "Bearer kw_wrong")], None).await;
    assert_eq!(spoofing.status, StatusCode::UNAUTHORIZED, "the proxy itself is another client");
}

http_tests!(
    missing_or_malformed_credentials_get_401_with_a_challenge,
    scopes_decide_what_a_key_may_do,
    nobody_grants_scopes_they_do_not_hold,
    other_accounts_answer_404_never_403,
    expired_and_disabled_credentials_stop_working,
    a_caller_cannot_remove_its_own_credential,
    repeated_failures_are_slowed_then_refused,
    bad_keys_never_lock_out_a_good_one_and_forwarded_clients_count_apart,
);
