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
        (json!({"name": "k", "scopes": ["Bad scope"]}), "scopes[0]"),
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

mod jwt {
    use chrono::Duration;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use reqwest::StatusCode;
    use serde_json::{Value, json};
    use storage::testing::TestDb;

    use crate::common::{TestApp, spawn};

    /// A JWT the client signs itself: HS256, `kid` = key id, HMAC key = the whole credential string.
    fn self_signed(kid: &str, secret: &str, claims: Value) -> String {
        domain::jwt::provider::install();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.to_owned());
        encode(&header, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    }

    struct Setup {
        app: TestApp,
        acct: String,
        sa: String,
        kid: String,
        secret: String,
    }

    async fn setup(db: TestDb) -> Setup {
        let app = spawn(db).await;
        let (acct, sa, _, _) = app.tenant("acme", &[]).await;
        let key = app
            .post(
                &format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys"),
                &app.admin,
                json!({"name": "issuer", "scopes": ["service-accounts:read", "secret-keys:write"]}),
            )
            .await;
        let kid = key.body["id"].as_str().unwrap().to_owned();
        let secret = key.body["secret"].as_str().unwrap().to_owned();
        Setup { app, acct, sa, kid, secret }
    }

    async fn a_client_signed_jwt_is_accepted_within_its_rules(db: TestDb) {
        let Setup { app, acct, sa, kid, secret } = setup(db).await;
        let now = app.keyward.now().timestamp();
        let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
        let good = self_signed(&kid, &secret, json!({"exp": now + 600}));
        assert_eq!(app.get(&me, &good).await.status, StatusCode::OK);
        let narrowed = self_signed(&kid, &secret, json!({"exp": now + 600, "scope": "secret-keys:write"}));
        assert_eq!(app.get(&me, &narrowed).await.status, StatusCode::FORBIDDEN, "scope narrows the key's scopes");

        for (label, token) in [
            ("too far ahead", self_signed(&kid, &secret, json!({"exp": now + 7200}))),
            ("no exp", self_signed(&kid, &secret, json!({"sub": "x"}))),
            ("wrong secret", self_signed(&kid, &format!("{secret}x"), json!({"exp": now + 600}))),
            ("unknown kid", self_signed("0190f1c2-7a3b-7c4d-8e5f-0123456789ab", &secret, json!({"exp": now + 600}))),
            ("not yet valid", self_signed(&kid, &secret, json!({"exp": now + 900, "nbf": now + 600}))),
        ] {
            assert_eq!(app.get(&me, &token).await.status, StatusCode::UNAUTHORIZED, "{label}");
        }
        let mut parts: Vec<&str> = good.split('.').collect();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        parts[0] = none_header;
        parts[2] = "";
        assert_eq!(app.get(&me, &parts.join(".")).await.status, StatusCode::UNAUTHORIZED, "alg none");

        app.clock.advance(Duration::seconds(700));
        assert_eq!(app.get(&me, &good).await.status, StatusCode::UNAUTHORIZED, "expired");
    }

    async fn keyward_issues_jwts_that_carry_at_most_the_keys_scopes(db: TestDb) {
        let Setup { app, acct, sa, kid, secret } = setup(db).await;
        let path = format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys/{kid}/jwt");
        let issued =
            app.post(&path, &app.admin, json!({"scopes": ["service-accounts:read"], "ttl_seconds": 300})).await;
        assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
        assert_eq!(
            (issued.body["token_type"].as_str(), issued.body["expires_in"].as_i64()),
            (Some("Bearer"), Some(300))
        );
        let token = issued.body["token"].as_str().unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref(), header.typ.as_deref()),
            (Algorithm::HS256, Some(kid.as_str()), Some("at+jwt"))
        );
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap();
        assert_eq!((claims["sub"].as_str(), claims["acct"].as_str()), (Some(sa.as_str()), Some(acct.as_str())));
        assert_eq!(
            (claims["client_id"].as_str(), claims["scope"].as_str()),
            (Some(kid.as_str()), Some("service-accounts:read"))
        );
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
        assert_eq!(app.get(&format!("/v1/accounts/{acct}/service-accounts"), token).await.status, StatusCode::OK);
        let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys");
        assert_eq!(app.get(&keys, token).await.status, StatusCode::FORBIDDEN, "the token carries only what was asked");

        let wider = app.post(&path, &app.admin, json!({"scopes": ["audit:read"]})).await;
        assert_eq!((wider.status, wider.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("scopes")));
        let long = app.post(&path, &app.admin, json!({"ttl_seconds": 7200})).await;
        assert_eq!(long.body["field"], "ttl_seconds");

        // A JWT cannot remove the key it was signed with.
        let own = self_signed(&kid, &secret, json!({"exp": app.keyward.now().timestamp() + 60}));
        assert_eq!(app.delete(&format!("{keys}/{kid}"), &own).await.code(), "own_credential");
        app.patch(&format!("{keys}/{kid}"), &app.admin, json!({"active": false})).await;
        assert_eq!(
            app.get(&format!("/v1/accounts/{acct}/service-accounts"), token).await.status,
            StatusCode::UNAUTHORIZED
        );
        let refused = app.post(&path, &app.admin, json!({})).await;
        assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "credential_unusable"));
    }

    async fn rotation_keeps_old_signatures_for_the_retain_period(db: TestDb) {
        let Setup { app, acct, sa, kid, secret } = setup(db).await;
        let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys");
        let rotated =
            app.post(&format!("{keys}/{kid}/rotate"), &app.admin, json!({"retain_period_seconds": 120})).await;
        let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
        let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
        let exp = app.keyward.now().timestamp() + 3000;
        let old = self_signed(&kid, &secret, json!({"exp": exp}));
        let new = self_signed(&kid, &new_secret, json!({"exp": exp}));
        assert_eq!(app.get(&me, &old).await.status, StatusCode::OK);
        assert_eq!(app.get(&me, &new).await.status, StatusCode::OK);
        app.clock.advance(Duration::seconds(120));
        assert_eq!(app.get(&me, &old).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.get(&me, &new).await.status, StatusCode::OK);
        let owner_off = app.patch(&me, &app.admin, json!({"active": false})).await;
        assert_eq!(owner_off.status, StatusCode::OK);
        assert_eq!(app.get(&me, &new).await.status, StatusCode::UNAUTHORIZED, "a disabled service account's keys stop");
    }

    http_tests!(
        a_client_signed_jwt_is_accepted_within_its_rules,
        keyward_issues_jwts_that_carry_at_most_the_keys_scopes,
        rotation_keeps_old_signatures_for_the_retain_period,
    );
}
