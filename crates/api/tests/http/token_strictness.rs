//! Every check a JWT passes, through the real HTTP stack: `crit`, the one small leeway, `aud` and
//! `iss` of client-signed tokens, `aud` arrays, client assertions' `nbf` and `jti`, and
//! introspection giving the Bearer path's verdict.

use domain::jwt::claims::LEEWAY_SECONDS;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::{TestApp, spawn};

/// A JWT signed with the secret key, `kid` = its id, with `claims` and, if given, a `crit` header.
fn signed(id: &str, secret: &str, claims: &Value, crit: bool) -> String {
    domain::jwt::provider::install();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(id.to_owned());
    if crit {
        header.crit = Some(vec!["urn:example:unknown".to_owned()]);
    }
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn introspect(app: &TestApp, token: &str) -> Value {
    let res = app
        .client
        .post(format!("{}/oauth2/introspect", app.base))
        .bearer_auth(&app.admin)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    res.json().await.unwrap()
}

async fn client_signed_tokens_pass_every_check_and_introspect_alike(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, id, secret) = app.secret_key_tenant(&["service-accounts:read"]).await;
    let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    let now = app.keyward.now().timestamp();
    let cases: Vec<(&str, Value, bool, StatusCode)> = vec![
        ("the control", json!({"exp": now + 300}), false, StatusCode::OK),
        ("crit names an unknown extension", json!({"exp": now + 300}), true, StatusCode::UNAUTHORIZED),
        ("expired within the leeway", json!({"exp": now - LEEWAY_SECONDS + 1}), false, StatusCode::OK),
        ("expired by the leeway", json!({"exp": now - LEEWAY_SECONDS}), false, StatusCode::UNAUTHORIZED),
        (
            "nbf beyond the leeway",
            json!({"exp": now + 300, "nbf": now + LEEWAY_SECONDS + 1}),
            false,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "aud of another service",
            json!({"exp": now + 300, "aud": "billing-service"}),
            false,
            StatusCode::UNAUTHORIZED,
        ),
        ("aud of Keyward's issuer", json!({"exp": now + 300, "aud": app.base}), false, StatusCode::OK),
        ("aud keyward among others", json!({"exp": now + 300, "aud": ["billing", "keyward"]}), false, StatusCode::OK),
        ("aud without Keyward", json!({"exp": now + 300, "aud": ["billing", "crm"]}), false, StatusCode::UNAUTHORIZED),
        ("iss of another", json!({"exp": now + 300, "iss": "someone-else"}), false, StatusCode::UNAUTHORIZED),
        ("iss = the key id", json!({"exp": now + 300, "iss": id}), false, StatusCode::OK),
    ];
    for (what, claims, crit, expected) in cases {
        let token = signed(&id, &secret, &claims, crit);
        let bearer = app.get(&me, &token).await;
        assert_eq!(bearer.status, expected, "Bearer: {what}: {:?}", bearer.body);
        let verdict = introspect(&app, &token).await;
        assert_eq!(verdict["active"], expected == StatusCode::OK, "introspection agrees: {what}: {verdict}");
        if expected == StatusCode::OK {
            assert_eq!(
                (verdict["client_id"].as_str(), verdict["sub"].as_str()),
                (Some(id.as_str()), Some(sa.as_str()))
            );
        }
    }

    // The JWTs Keyward signs with a secret key pass the same checks.
    let issued = app.post(&format!("{me}/secret-keys/{id}/jwt"), &app.admin, json!({"ttl_seconds": 60})).await;
    let issued = issued.body["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&me, &issued).await.status, StatusCode::OK);
    assert_eq!(introspect(&app, &issued).await["active"], true);
}

async fn access_tokens_accept_an_audience_array_and_refuse_crit(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, id, _) = app.secret_key_tenant(&["service-accounts:read"]).await;
    let (kid, pkcs8) = app.active_signing_key();
    let now = app.keyward.now().timestamp();
    let sign = |aud: Value, crit: bool| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        if crit {
            header.crit = Some(vec!["urn:example:unknown".to_owned()]);
        }
        let claims = json!({"iss": app.base, "aud": aud, "sub": sa, "exp": now + 600, "iat": now, "nbf": now,
                            "jti": format!("{crit}{now}"), "scope": "service-accounts:read", "client_id": id, "acct": acct});
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&pkcs8)).unwrap()
    };
    let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    let array = sign(json!(["keyward", "billing"]), false);
    assert_eq!(app.get(&me, &array).await.status, StatusCode::OK, "an aud array holding keyward");
    assert_eq!(introspect(&app, &array).await["active"], true);
    let foreign = sign(json!(["billing", "crm"]), false);
    assert_eq!(app.get(&me, &foreign).await.status, StatusCode::UNAUTHORIZED);
    let crit = sign(json!("keyward"), true);
    assert_eq!(app.get(&me, &crit).await.status, StatusCode::UNAUTHORIZED, "crit");
    assert_eq!(introspect(&app, &crit).await["active"], false);
}

async fn client_assertions_refuse_future_nbf_long_jti_and_crit(db: TestDb) {
    let app = spawn(db).await;
    let (_, _, id, secret) = app.secret_key_tenant(&["service-accounts:read"]).await;
    let now = app.keyward.now().timestamp();
    let token_endpoint = format!("{}/oauth2/token", app.base);
    let assert_with = |extra: Value, crit: bool| {
        let mut claims =
            json!({"iss": id, "sub": id, "aud": token_endpoint, "exp": now + 300, "jti": format!("j-{}", extra)});
        if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        domain::jwt::provider::install();
        let mut header = Header::new(Algorithm::HS256);
        if crit {
            header.crit = Some(vec!["urn:example:unknown".to_owned()]);
        }
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    };
    assert_eq!(app.assertion_grant(&assert_with(json!({}), false)).await.0, StatusCode::OK, "the control");
    assert_eq!(
        app.assertion_grant(&assert_with(json!({"nbf": now + LEEWAY_SECONDS + 60}), false)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.assertion_grant(&assert_with(json!({"nbf": now}), false)).await.0,
        StatusCode::OK,
        "a present nbf is fine"
    );
    let (status, body) = app.assertion_grant(&assert_with(json!({"jti": "x".repeat(10 * 1024)}), false)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "a 10 KB jti");
    assert_eq!(
        app.assertion_grant(&assert_with(json!({"jti": "y".repeat(256)}), false)).await.0,
        StatusCode::OK,
        "256 bytes is the cap"
    );
    assert_eq!(
        app.assertion_grant(&assert_with(json!({"jti": "crit"}), true)).await.0,
        StatusCode::UNAUTHORIZED,
        "crit"
    );
}

http_tests!(
    client_signed_tokens_pass_every_check_and_introspect_alike,
    access_tokens_accept_an_audience_array_and_refuse_crit,
    client_assertions_refuse_future_nbf_long_jti_and_crit,
);
