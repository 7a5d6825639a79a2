//! Usage control at verify time: a key's rate limits, uses left and permissions, and the
//! standalone limiter at `/v1/ratelimit`.

use chrono::Duration;
use insta::assert_json_snapshot;
use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::{TestApp, spawn};

/// A tenant with a verifier key, and the path of its service account's keys.
async fn tenant(app: &TestApp) -> (String, String) {
    let (acct, sa, _, verifier) = app.tenant("acme", &["api-keys:verify"]).await;
    (verifier, format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys"))
}

async fn verify(app: &TestApp, verifier: &str, body: Value) -> Value {
    let answer = app.post("/v1/api-keys/verify", verifier, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

async fn a_key_carries_its_limits_and_a_change_replaces_them(db: TestDb) {
    let app = spawn(db).await;
    let (_, keys) = tenant(&app).await;
    let made = app
        .post(
            &keys,
            &app.admin,
            json!({
                "name": "metered",
                "rate_limits": [
                    {"name": "requests", "limit": 3, "window_seconds": 60},
                    {"name": "tokens", "limit": 1000, "window_seconds": 3600, "auto_apply": false}
                ],
                "remaining": {"uses": 5, "refill": {"amount": 100, "interval": "monthly", "day": 31}},
                "permissions": ["documents.read", "documents.write"]
            }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_json_snapshot!("key_with_limits", made.body, {
        ".id" => "[id]", ".account_id" => "[id]", ".service_account_id" => "[id]", ".secret" => "[secret]",
        ".created_at" => "[time]", ".updated_at" => "[time]", ".remaining.set_at" => "[time]"
    });
    let plain = app.post(&keys, &app.admin, json!({"name": "plain"})).await;
    for absent in ["rate_limits", "remaining", "permissions"] {
        assert!(plain.body.get(absent).is_none(), "a key without limits leaves out {absent}");
    }

    let key = format!("{keys}/metered");
    let refused = app
        .patch(
            &key,
            &app.admin,
            json!({"rate_limits": [{"name": "a", "limit": 1, "window_seconds": 1}, {"name": "a", "limit": 2, "window_seconds": 2}]}),
        )
        .await;
    assert_eq!((refused.status, refused.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("rate_limits")));
    for (body, field) in [
        (json!({"rate_limits": [{"name": "bad name", "limit": 1, "window_seconds": 1}]}), "rate_limits[0].name"),
        (
            json!({"rate_limits": [{"name": "a", "limit": 1, "window_seconds": 2_592_001}]}),
            "rate_limits[0].window_seconds",
        ),
        (
            json!({"remaining": {"uses": 1, "refill": {"amount": 1, "interval": "daily", "day": 2}}}),
            "remaining.refill.day",
        ),
        (json!({"permissions": ["ok", "not ok"]}), "permissions[1]"),
    ] {
        let refused = app.patch(&key, &app.admin, body).await;
        assert_eq!((refused.status, refused.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)));
    }
    let unchanged = app.get(&key, &app.admin).await;
    assert_eq!(unchanged.body["rate_limits"].as_array().map(Vec::len), Some(2), "a refused change changes nothing");

    let changed =
        app.patch(&key, &app.admin, json!({"rate_limits": [], "remaining": null, "permissions": ["admin"]})).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert!(changed.body.get("rate_limits").is_none() && changed.body.get("remaining").is_none());
    assert_eq!(changed.body["permissions"], json!(["admin"]));
}

async fn verify_spends_rate_limits_and_uses_left_all_or_nothing(db: TestDb) {
    let app = spawn(db).await;
    let (verifier, keys) = tenant(&app).await;
    let made = app
        .post(
            &keys,
            &app.admin,
            json!({
                "name": "metered",
                "rate_limits": [
                    {"name": "requests", "limit": 3, "window_seconds": 60},
                    {"name": "tokens", "limit": 100, "window_seconds": 3600, "auto_apply": false}
                ],
                "remaining": {"uses": 5}
            }),
        )
        .await;
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    let plain = json!({"key": secret});

    for left in [4, 3, 2] {
        let ok = verify(&app, &verifier, plain.clone()).await;
        assert_eq!((ok["code"].as_str(), ok["remaining"].as_u64()), (Some("VALID"), Some(left)));
    }
    let limited = verify(&app, &verifier, plain.clone()).await;
    assert_json_snapshot!("verify_rate_limited", limited, {
        ".key" => "[key]", ".ratelimits[].reset_at" => "[time]"
    });
    assert_eq!(limited["remaining"], 2, "a refusal by a rate limit spends no use");

    // The clock starts on a whole hour: a minute on, the per-minute window is new.
    app.clock.advance(Duration::seconds(60));
    let named = json!({"key": secret, "ratelimits": [{"name": "tokens", "cost": 60}], "cost": 2});
    let ok = verify(&app, &verifier, named.clone()).await;
    assert_eq!((ok["code"].as_str(), ok["remaining"].as_u64()), (Some("VALID"), Some(0)));
    assert_eq!(ok["ratelimits"][0]["remaining"], 40, "only the named limit applied, at its cost");
    assert_eq!(ok["ratelimits"].as_array().map(Vec::len), Some(1));
    let exhausted =
        verify(&app, &verifier, json!({"key": secret, "ratelimits": [{"name": "tokens", "cost": 1}]})).await;
    assert_eq!((exhausted["valid"].as_bool(), exhausted["code"].as_str()), (Some(false), Some("USAGE_EXCEEDED")));
    assert_eq!(exhausted["ratelimits"][0]["remaining"], 40, "a refusal by uses left spends nothing on rate limits");
    let asked = verify(&app, &verifier, json!({"key": secret, "cost": 0})).await;
    assert_eq!((asked["code"].as_str(), asked["remaining"].as_u64()), (Some("VALID"), Some(0)), "a cost of 0 asks");

    let unknown =
        app.post("/v1/api-keys/verify", &verifier, json!({"key": secret, "ratelimits": [{"name": "nope"}]})).await;
    assert_eq!((unknown.status, unknown.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("ratelimits[0].name")));

    // Refusals are counted in usage like any other.
    app.flush_usage().await;
    let usage = app.get(&format!("{keys}/metered/usage?from=now-1d&granularity=day"), &app.admin).await;
    assert_eq!((usage.body["uses"].as_u64(), usage.body["refusals"].as_u64()), (Some(5), Some(2)), "{}", usage.body);
}

async fn a_strict_limit_is_decided_in_the_database(db: TestDb) {
    let app = spawn(db).await;
    let (verifier, keys) = tenant(&app).await;
    let made = app
        .post(
            &keys,
            &app.admin,
            json!({
                "name": "strict",
                "rate_limits": [
                    {"name": "exact", "limit": 2, "window_seconds": 60, "strict": true},
                    {"name": "loose", "limit": 10, "window_seconds": 60}
                ],
                "remaining": {"uses": 5}
            }),
        )
        .await;
    assert_eq!(made.body["rate_limits"][0]["strict"], true);
    assert!(made.body["rate_limits"][1].get("strict").is_none(), "false is left out");
    let plain = json!({"key": made.body["secret"]});
    for left in [4, 3] {
        let ok = verify(&app, &verifier, plain.clone()).await;
        assert_eq!((ok["code"].as_str(), ok["remaining"].as_u64()), (Some("VALID"), Some(left)), "{ok}");
    }
    let refused = verify(&app, &verifier, plain.clone()).await;
    assert_eq!(refused["code"], "RATE_LIMITED");
    assert_eq!(refused["remaining"], 3, "the uses spent in memory were given back");
    let answers = refused["ratelimits"].as_array().unwrap();
    let loose = answers.iter().find(|a| a["name"] == "loose").unwrap();
    let exact = answers.iter().find(|a| a["name"] == "exact").unwrap();
    assert_eq!((loose["remaining"].as_u64(), loose["exceeded"].as_bool()), (Some(8), Some(false)), "{refused}");
    assert_eq!((exact["remaining"].as_u64(), exact["exceeded"].as_bool()), (Some(0), Some(true)));
    app.clock.advance(Duration::seconds(60));
    assert_eq!(verify(&app, &verifier, plain).await["code"], "VALID", "a new window");
}

async fn uses_left_refill_at_their_boundary(db: TestDb) {
    let app = spawn(db).await;
    let (verifier, keys) = tenant(&app).await;
    let made = app
        .post(
            &keys,
            &app.admin,
            json!({"name": "daily", "remaining": {"uses": 1, "refill": {"amount": 2, "interval": "daily"}}}),
        )
        .await;
    let plain = json!({"key": made.body["secret"]});
    assert_eq!(verify(&app, &verifier, plain.clone()).await["remaining"], 0);
    assert_eq!(verify(&app, &verifier, plain.clone()).await["code"], "USAGE_EXCEEDED");
    // The test clock stands at 09:00 UTC; midnight is 15 hours on, and not a second sooner.
    app.clock.advance(Duration::hours(15) - Duration::seconds(1));
    assert_eq!(verify(&app, &verifier, plain.clone()).await["code"], "USAGE_EXCEEDED");
    app.clock.advance(Duration::seconds(1));
    let refilled = verify(&app, &verifier, plain.clone()).await;
    assert_eq!((refilled["code"].as_str(), refilled["remaining"].as_u64()), (Some("VALID"), Some(1)));
}

async fn verify_checks_a_permission_query(db: TestDb) {
    let app = spawn(db).await;
    let (verifier, keys) = tenant(&app).await;
    let made =
        app.post(&keys, &app.admin, json!({"name": "reader", "permissions": ["documents.read", "reports.read"]})).await;
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    let ask = |query: &str| json!({"key": secret, "permissions": query});
    let ok = verify(&app, &verifier, ask("documents.read and (documents.write or reports.read)")).await;
    assert_eq!(ok["code"], "VALID");
    let refused = verify(&app, &verifier, ask("documents.read and (documents.write or admin)")).await;
    assert_eq!((refused["valid"].as_bool(), refused["code"].as_str()), (Some(false), Some("INSUFFICIENT_PERMISSIONS")));
    assert_eq!(refused["missing_permissions"], json!(["documents.write or admin"]), "the part that does not hold");
    let refused = verify(&app, &verifier, ask("admin and documents.read and billing")).await;
    assert_eq!(refused["missing_permissions"], json!(["admin", "billing"]));
    let bad = app.post("/v1/api-keys/verify", &verifier, ask("documents.read and")).await;
    assert_eq!((bad.status, bad.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("permissions")));
}

async fn a_service_accounts_keys_share_its_limits(db: TestDb) {
    let app = spawn(db).await;
    let (verifier, keys) = tenant(&app).await;
    let sa = keys.trim_end_matches("/api-keys").to_owned();
    let mut secrets = Vec::new();
    for name in ["one", "two"] {
        let made = app
            .post(
                &keys,
                &app.admin,
                json!({"name": name, "rate_limits": [{"name": "own", "limit": 100, "window_seconds": 60}]}),
            )
            .await;
        secrets.push(made.body["secret"].as_str().unwrap().to_owned());
        // Verified once before the service account has limits: its key is cached meanwhile.
        assert_eq!(verify(&app, &verifier, json!({"key": secrets.last()})).await["code"], "VALID");
    }
    let refused =
        app.patch(&sa, &app.admin, json!({"rate_limits": [{"name": "x", "limit": 0, "window_seconds": 1}]})).await;
    assert_eq!(
        (refused.status, refused.body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("rate_limits[0].limit"))
    );
    let changed = app
        .patch(
            &sa,
            &app.admin,
            json!({"rate_limits": [{"name": "shared", "limit": 3, "window_seconds": 60}], "remaining": {"uses": 4}}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(
        (changed.body["rate_limits"][0]["name"].as_str(), changed.body["remaining"]["uses"].as_u64()),
        (Some("shared"), Some(4))
    );

    // Three verifications in the minute, whichever key: the fourth is refused, for both keys.
    for (i, left) in [(0, 3), (1, 2), (0, 1)] {
        let ok = verify(&app, &verifier, json!({"key": secrets[i]})).await;
        assert_eq!((ok["code"].as_str(), ok["remaining"].as_u64()), (Some("VALID"), Some(left)), "{ok}");
        assert_eq!(ok["ratelimits"].as_array().map(Vec::len), Some(2), "the key's own limit and the shared one");
    }
    for secret in &secrets {
        let limited = verify(&app, &verifier, json!({"key": secret})).await;
        assert_eq!(limited["code"], "RATE_LIMITED");
        assert_eq!(
            limited["ratelimits"][1],
            json!({"name": "shared", "limit": 3, "remaining": 0, "reset_at": limited["ratelimits"][1]["reset_at"], "exceeded": true})
        );
    }
    app.clock.advance(Duration::seconds(60));
    assert_eq!(verify(&app, &verifier, json!({"key": secrets[1]})).await["remaining"], 0);
    assert_eq!(
        verify(&app, &verifier, json!({"key": secrets[0]})).await["code"],
        "USAGE_EXCEEDED",
        "the shared uses are spent"
    );

    let cleared = app.patch(&sa, &app.admin, json!({"rate_limits": [], "remaining": null})).await;
    assert!(cleared.body.get("rate_limits").is_none() && cleared.body.get("remaining").is_none());
    assert_eq!(verify(&app, &verifier, json!({"key": secrets[0]})).await["code"], "VALID");
}

async fn a_keys_roles_grant_their_permissions_until_they_change(db: TestDb) {
    let app = spawn(db).await;
    let (verifier, keys) = tenant(&app).await;
    let roles = format!("{}/roles", keys.split("/service-accounts").next().unwrap());
    let made = app
        .post(&roles, &app.admin, json!({"name": "editor", "permissions": ["documents.write", "documents.read"]}))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_json_snapshot!("role", made.body, { ".created_at" => "[time]", ".updated_at" => "[time]" });
    let again = app.post(&roles, &app.admin, json!({"name": "editor"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let bad = app.post(&roles, &app.admin, json!({"name": "no spaces"})).await;
    assert_eq!((bad.status, bad.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("name")));

    let key = app
        .post(
            &keys,
            &app.admin,
            json!({"name": "writer", "permissions": ["reports.read"], "roles": ["editor", "later"]}),
        )
        .await;
    assert_eq!(key.body["roles"], json!(["editor", "later"]));
    let ask = json!({"key": key.body["secret"], "permissions": "documents.write and reports.read"});
    assert_eq!(verify(&app, &verifier, ask.clone()).await["code"], "VALID", "its own permission and its role's");

    let changed = app.patch(&format!("{roles}/editor"), &app.admin, json!({"permissions": ["documents.read"]})).await;
    assert_eq!(changed.body["permissions"], json!(["documents.read"]));
    let refused = verify(&app, &verifier, ask.clone()).await;
    assert_eq!(
        (refused["code"].as_str(), refused["missing_permissions"].clone()),
        (Some("INSUFFICIENT_PERMISSIONS"), json!(["documents.write"]))
    );
    let later = app.post(&roles, &app.admin, json!({"name": "later", "permissions": ["documents.write"]})).await;
    assert_eq!(later.status, StatusCode::CREATED);
    assert_eq!(
        verify(&app, &verifier, ask.clone()).await["code"],
        "VALID",
        "a role named before it existed grants once it does"
    );
    assert_eq!(app.delete(&format!("{roles}/later"), &app.admin).await.status, StatusCode::NO_CONTENT);
    assert_eq!(verify(&app, &verifier, ask).await["code"], "INSUFFICIENT_PERMISSIONS", "a deleted role grants nothing");

    let listed = app.get(&roles, &app.admin).await;
    assert_eq!(
        listed.body["items"].as_array().map(|i| i.iter().map(|r| r["name"].clone()).collect::<Vec<_>>()),
        Some(vec![json!("editor")])
    );
    assert_eq!(app.get(&format!("{roles}/later"), &app.admin).await.status, StatusCode::NOT_FOUND);
    let audit = app
        .get(
            &format!("{}/audit-events?action=role.update", keys.split("/service-accounts").next().unwrap()),
            &app.admin,
        )
        .await;
    assert_eq!(audit.body["items"][0]["target"], "role:editor");
}

async fn the_standalone_limiter_counts_each_identifier_apart(db: TestDb) {
    let app = spawn(db).await;
    let (verifier, _) = tenant(&app).await;
    let (_, _, _, other) = app.tenant("globex", &["api-keys:verify"]).await;
    let ask = |who: &str| json!({"namespace": "email.outbound", "identifier": who, "limit": 2, "window_seconds": 10});
    for (token, who, success, remaining) in [
        (&verifier, "alice", true, 1),
        (&verifier, "alice", true, 0),
        (&verifier, "alice", false, 0),
        (&verifier, "bob", true, 1),
        (&other, "alice", true, 1),
    ] {
        let answer = app.post("/v1/ratelimit", token, ask(who)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(
            (answer.body["success"].as_bool(), answer.body["remaining"].as_u64()),
            (Some(success), Some(remaining))
        );
    }
    app.clock.advance(Duration::seconds(10));
    let next = app.post("/v1/ratelimit", &verifier, ask("alice")).await;
    assert_eq!(next.body["success"], true, "a new window");
    assert_json_snapshot!("ratelimit", next.body, { ".reset_at" => "[time]" });
    let bad = app
        .post(
            "/v1/ratelimit",
            &verifier,
            json!({"namespace": "x y", "identifier": "a", "limit": 1, "window_seconds": 1}),
        )
        .await;
    assert_eq!((bad.status, bad.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("namespace")));
    let unauthorized = app.post("/v1/ratelimit", &app.tenant("initech", &[]).await.3, ask("alice")).await;
    assert_eq!(unauthorized.status, StatusCode::FORBIDDEN);
}

http_tests!(
    a_key_carries_its_limits_and_a_change_replaces_them,
    verify_spends_rate_limits_and_uses_left_all_or_nothing,
    a_strict_limit_is_decided_in_the_database,
    uses_left_refill_at_their_boundary,
    verify_checks_a_permission_query,
    a_service_accounts_keys_share_its_limits,
    a_keys_roles_grant_their_permissions_until_they_change,
    the_standalone_limiter_counts_each_identifier_apart,
);
