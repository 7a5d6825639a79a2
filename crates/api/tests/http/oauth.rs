//! OAuth 2.0 client credentials, the JWKS and the metadata, checked the way a standard client and
//! an offline verifier would use them.

use chrono::Duration;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::{TestApp, spawn};

struct Client {
    id: String,
    secret: String,
    acct: String,
    sa: String,
}

async fn client(app: &TestApp, scopes: &[&str]) -> Client {
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let key = app
        .post(
            &format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys"),
            &app.admin,
            json!({"name": "client", "scopes": scopes}),
        )
        .await;
    Client {
        id: key.body["id"].as_str().unwrap().to_owned(),
        secret: key.body["secret"].as_str().unwrap().to_owned(),
        acct,
        sa,
    }
}

async fn token(app: &TestApp, c: &Client, form: &[(&str, &str)]) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let res = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.json().await.unwrap())
}

/// Verifies a token offline, from the JWKS and the metadata alone.
async fn verify_offline(app: &TestApp, token: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    domain::jwt::provider::install();
    let meta = app.metadata().await;
    let jwks: JwkSet = app.client.get(meta["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    let kid = jsonwebtoken::decode_header(token)?.kid.unwrap_or_default();
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[meta["issuer"].as_str().unwrap()]);
    validation.set_audience(&["keyward"]);
    // The server runs on a test clock in 2026; check expiry against that, not the wall clock.
    validation.validate_exp = false;
    Ok(jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
}

async fn a_standard_client_gets_a_token_and_anyone_verifies_it_offline(db: TestDb) {
    let app = spawn(db).await;
    let c = client(&app, &["service-accounts:read", "audit:read"]).await;
    let meta = app.metadata().await;
    assert_eq!(meta["issuer"], app.base);
    assert_eq!(meta["token_endpoint"], format!("{}/oauth2/token", app.base));
    assert_eq!(
        meta["grant_types_supported"],
        json!([
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ])
    );

    let (status, headers, body) =
        token(&app, &c, &[("grant_type", "client_credentials"), ("scope", "service-accounts:read")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!((body["token_type"].as_str(), body["expires_in"].as_i64()), (Some("Bearer"), Some(3600)));
    assert_eq!(body["scope"], "service-accounts:read");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"), "an RFC 9068 access token");
    let claims = verify_offline(&app, &access).await.unwrap();
    assert_eq!((claims["sub"].as_str(), claims["acct"].as_str()), (Some(c.sa.as_str()), Some(c.acct.as_str())));
    assert_eq!(
        (claims["client_id"].as_str(), claims["scope"].as_str()),
        (Some(c.id.as_str()), Some("service-accounts:read"))
    );
    for claim in ["exp", "iat", "nbf", "jti", "iss", "aud"] {
        assert!(claims.get(claim).is_some(), "{claim}");
    }

    let me = format!("/v1/accounts/{}/service-accounts/{}", c.acct, c.sa);
    assert_eq!(app.get(&me, &access).await.status, StatusCode::OK, "access tokens work as Bearer");
    assert_eq!(app.get(&format!("/v1/accounts/{}/audit-events", c.acct), &access).await.status, StatusCode::FORBIDDEN);

    let post = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .form(&[("grant_type", "client_credentials"), ("client_id", &c.id), ("client_secret", &c.secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::OK, "client_secret_post works too");

    // Every token gets the same small leeway past its `exp`, and none beyond it.
    app.clock.advance(Duration::seconds(3600 + domain::jwt::claims::LEEWAY_SECONDS - 1));
    assert_eq!(app.get(&me, &access).await.status, StatusCode::OK, "within the leeway");
    app.clock.advance(Duration::seconds(1));
    assert_eq!(app.get(&me, &access).await.status, StatusCode::UNAUTHORIZED, "expired");
}

async fn token_errors_follow_rfc_6749(db: TestDb) {
    let app = spawn(db).await;
    let c = client(&app, &["service-accounts:read"]).await;
    // Change the last character, to a different one whatever it was.
    let last = if c.secret.ends_with('0') { '1' } else { '0' };
    let wrong = Client { secret: format!("{}{last}", &c.secret[..110]), ..client_copy(&c) };
    let (status, headers, body) = token(&app, &wrong, &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    assert_eq!(headers["www-authenticate"], r#"Basic realm="keyward""#);
    assert!(!body.to_string().contains(&c.secret[39..103]));
    for (form, code) in [
        (vec![("grant_type", "password")], "unsupported_grant_type"),
        (vec![("scope", "x")], "invalid_request"),
        (vec![("grant_type", "client_credentials"), ("scope", "audit:read")], "invalid_scope"),
        (vec![("grant_type", "client_credentials"), ("scope", "NOT A SCOPE")], "invalid_scope"),
        (vec![("grant_type", "client_credentials"), ("grant_type", "client_credentials")], "invalid_request"),
        (vec![("grant_type", "client_credentials"), ("client_secret", "x")], "invalid_request"),
        (vec![("grant_type", "client_credentials"), ("client_assertion_type", "other")], "invalid_request"),
    ] {
        let (status, _, body) = token(&app, &c, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(body["error"], code, "{form:?}");
    }
    let json_body = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST);
    let anonymous = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    app.patch(&format!("/v1/accounts/{}/service-accounts/{}", c.acct, c.sa), &app.admin, json!({"active": false}))
        .await;
    let (status, _, body) = token(&app, &c, &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "disabled owner");
}

fn client_copy(c: &Client) -> Client {
    Client { id: c.id.clone(), secret: c.secret.clone(), acct: c.acct.clone(), sa: c.sa.clone() }
}

async fn tokens_survive_a_signing_key_rotation(db: TestDb) {
    let app = spawn(db).await;
    let c = client(&app, &["service-accounts:read"]).await;
    let before =
        token(&app, &c, &[("grant_type", "client_credentials")]).await.2["access_token"].as_str().unwrap().to_owned();
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();

    let rotated = app.post("/v1/signing-keys/rotate", &app.admin, json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let states: Vec<(String, String)> = rotated.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap().to_owned(), k["state"].as_str().unwrap().to_owned()))
        .collect();
    assert!(states.contains(&(old_kid.clone(), "retiring".to_owned())));
    assert_eq!(states.iter().filter(|(_, s)| s == "active").count(), 1);
    assert_eq!(states.iter().filter(|(_, s)| s == "next").count(), 1);

    assert!(
        verify_offline(&app, &before).await.is_ok(),
        "a token signed before the rotation still verifies from the JWKS"
    );
    let me = format!("/v1/accounts/{}/service-accounts/{}", c.acct, c.sa);
    assert_eq!(app.get(&me, &before).await.status, StatusCode::OK);
    let after =
        token(&app, &c, &[("grant_type", "client_credentials")]).await.2["access_token"].as_str().unwrap().to_owned();
    assert_ne!(jsonwebtoken::decode_header(&after).unwrap().kid.unwrap(), old_kid);

    app.post("/v1/signing-keys/rotate", &app.admin, json!({})).await;
    assert!(verify_offline(&app, &before).await.is_ok(), "still published while its tokens may live");
    app.clock.advance(Duration::seconds(3601));
    let third = app.post("/v1/signing-keys/rotate", &app.admin, json!({})).await;
    let old = third.body["items"].as_array().unwrap().iter().find(|k| k["kid"] == old_kid).cloned().unwrap();
    assert_eq!(old["state"], "retired");
    assert!(verify_offline(&app, &before).await.is_err(), "retired keys leave the JWKS");

    let (acct, _, _, outsider) = app.tenant("other", &["account:admin"]).await;
    assert_eq!(app.get("/v1/signing-keys", &outsider).await.status, StatusCode::FORBIDDEN);
    let _ = acct;
}

async fn forged_access_tokens_are_refused(db: TestDb) {
    let app = spawn(db).await;
    let c = client(&app, &["service-accounts:read"]).await;
    let real =
        token(&app, &c, &[("grant_type", "client_credentials")]).await.2["access_token"].as_str().unwrap().to_owned();
    let me = format!("/v1/accounts/{}/service-accounts/{}", c.acct, c.sa);
    let kid = jsonwebtoken::decode_header(&real).unwrap().kid.unwrap();
    let jwks: JwkSet =
        app.client.get(format!("{}/.well-known/jwks.json", app.base)).send().await.unwrap().json().await.unwrap();
    let public = match &jwks.find(&kid).unwrap().algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(okp) => okp.x.clone(),
        other => panic!("unexpected key {other:?}"),
    };
    // HS256 "signed" with the public key, naming the signing key's kid.
    domain::jwt::provider::install();
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&real).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.clone());
    let confused = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(public.as_bytes())).unwrap();
    assert_eq!(app.get(&me, &confused).await.status, StatusCode::UNAUTHORIZED);
    let mut parts: Vec<&str> = real.split('.').collect();
    let forged_payload = base64_claims(
        json!({"sub": c.sa, "scope": "account:admin", "client_id": c.id, "acct": c.acct, "aud": "keyward", "iss": app.base, "exp": 9_999_999_999_i64}),
    );
    parts[1] = &forged_payload;
    assert_eq!(
        app.get(&me, &parts.join(".")).await.status,
        StatusCode::UNAUTHORIZED,
        "a changed payload breaks the signature"
    );

    app.patch(
        &format!("/v1/accounts/{}/service-accounts/{}/secret-keys/{}", c.acct, c.sa, c.id),
        &app.admin,
        json!({"active": false}),
    )
    .await;
    assert_eq!(app.get(&me, &real).await.status, StatusCode::UNAUTHORIZED, "disabling the client stops its tokens");
}

fn base64_claims(v: Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn assertion(app: &TestApp, c: &Client, jti: &str, exp_in: i64) -> String {
    domain::jwt::provider::install();
    let now = app.keyward.now().timestamp();
    let claims =
        json!({"iss": c.id, "sub": c.id, "aud": format!("{}/oauth2/token", app.base), "exp": now + exp_in, "jti": jti});
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(c.secret.as_bytes()))
        .unwrap()
}

async fn client_secret_jwt_assertions_work_once(db: TestDb) {
    let app = spawn(db).await;
    let c = client(&app, &["service-accounts:read"]).await;
    let first = assertion(&app, &c, "a-1", 300);
    let (status, body) = app.assertion_grant(&first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());
    let (status, body) = app.assertion_grant(&first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "a replay is refused"
    );
    let (status, _) = app.assertion_grant(&assertion(&app, &c, "a-2", 7200)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "assertions live at most an hour");
    let forged = Client { secret: format!("{}x", c.secret), ..client_copy(&c) };
    let (status, _) = app.assertion_grant(&assertion(&app, &forged, "a-3", 300)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong key");
    let wrong_aud = {
        let claims = json!({"iss": c.id, "sub": c.id, "aud": "https://elsewhere.example/token", "exp": app.keyward.now().timestamp() + 60, "jti": "a-4"});
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(c.secret.as_bytes()))
            .unwrap()
    };
    assert_eq!(app.assertion_grant(&wrong_aud).await.0, StatusCode::UNAUTHORIZED, "another audience");
    let (status, _) = app.assertion_grant(&assertion(&app, &c, "a-5", 300)).await;
    assert_eq!(status, StatusCode::OK, "a fresh jti works");
}

async fn introspection_and_revocation(db: TestDb) {
    let app = spawn(db).await;
    let c = client(&app, &["service-accounts:read"]).await;
    let access =
        token(&app, &c, &[("grant_type", "client_credentials")]).await.2["access_token"].as_str().unwrap().to_owned();
    let introspect = |token: String, auth: Option<(String, String)>, bearer: Option<String>| {
        let mut req = app.client.post(format!("{}/oauth2/introspect", app.base)).form(&[("token", token)]);
        if let Some((id, secret)) = auth {
            req = req.basic_auth(id, Some(secret));
        }
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status(), res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let creds = Some((c.id.clone(), c.secret.clone()));
    let (status, body) = introspect(access.clone(), creds.clone(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["active"].as_bool(), body["token_type"].as_str()), (Some(true), Some("Bearer")));
    assert_eq!(
        (body["client_id"].as_str(), body["scope"].as_str()),
        (Some(c.id.as_str()), Some("service-accounts:read"))
    );
    let (_, api_key_view) = introspect(app.admin.clone(), None, Some(app.admin.clone())).await;
    assert_eq!((api_key_view["active"].as_bool(), api_key_view["token_type"].as_str()), (Some(true), Some("api_key")));
    let (_, junk) = introspect("junk".into(), creds.clone(), None).await;
    assert_eq!(junk, json!({"active": false}));
    let (status, _) = introspect(access.clone(), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "introspection needs an authenticated caller");
    let (_, foreign) = introspect(app.admin.clone(), creds.clone(), None).await;
    assert_eq!(foreign, json!({"active": false}), "another account's key looks inactive");

    let revoke = app
        .client
        .post(format!("{}/oauth2/revoke", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("token", &access)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    let me = format!("/v1/accounts/{}/service-accounts/{}", c.acct, c.sa);
    assert_eq!(app.get(&me, &access).await.status, StatusCode::UNAUTHORIZED, "a revoked token stops at once");
    assert_eq!(introspect(access.clone(), creds.clone(), None).await.1, json!({"active": false}));
    let again = app
        .client
        .post(format!("{}/oauth2/revoke", app.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("token", "nonsense")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK, "an invalid token is not an error");
    let audit = app.get(&format!("/v1/accounts/{}/audit-events?action=token.revoke", c.acct), &app.admin).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1);
}

/// Refused for too many failures, the token endpoint still answers RFC 6749's JSON, not a
/// problem: a standard client reads `error` whatever the status.
async fn too_many_failures_answer_rfc_6749_json(db: TestDb) {
    let app = crate::common::spawn_with(db, api::AuthLimits { free: 1, max: 2, ..api::AuthLimits::default() }).await;
    let c = client(&app, &[]).await;
    let wrong = Client { secret: format!("{}x", &c.secret[..c.secret.len() - 1]), ..c };
    let mut last = None;
    for _ in 0..4 {
        last = Some(token(&app, &wrong, &[("grant_type", "client_credentials")]).await);
    }
    let (status, headers, body) = last.unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
}

http_tests!(
    too_many_failures_answer_rfc_6749_json,
    client_secret_jwt_assertions_work_once,
    introspection_and_revocation,
    a_standard_client_gets_a_token_and_anyone_verifies_it_offline,
    token_errors_follow_rfc_6749,
    tokens_survive_a_signing_key_rotation,
    forged_access_tokens_are_refused,
);
