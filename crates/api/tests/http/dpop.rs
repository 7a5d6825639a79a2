//! DPoP (RFC 9449): tokens bound to a client's key at the token endpoint, refused on Keyward's API
//! without a proof by that key for the same method, URL and token, and never accepted twice.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::{Answer, Setup, TestApp, spawn, spawn_setup};
use domain::dpop::testing::ProofKey;

/// A secret key of a fresh tenant: (account, service account, client id, client secret).
async fn client(app: &TestApp, require_dpop: bool) -> (String, String, String, String) {
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let key = app
        .post(
            &format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys"),
            &app.admin,
            json!({"name": "client", "scopes": ["service-accounts:read"], "require_dpop": require_dpop}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    assert_eq!(key.body["require_dpop"], require_dpop);
    (acct, sa, key.body["id"].as_str().unwrap().to_owned(), key.body["secret"].as_str().unwrap().to_owned())
}

/// A token request with client credentials and the given `DPoP` headers.
async fn token(app: &TestApp, id: &str, secret: &str, proofs: &[&str]) -> Answer {
    let mut req = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")]);
    for proof in proofs {
        req = req.header("dpop", *proof);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    Answer { status, headers, body: res.json().await.unwrap() }
}

/// A call to Keyward's API with `Authorization: DPoP <token>` and `proof`.
async fn bound_call(app: &TestApp, method: Method, path: &str, token: &str, proof: &str) -> Answer {
    let auth = format!("DPoP {token}");
    app.send(method, path, &[("authorization", &auth), ("dpop", proof)], None).await
}

fn now(app: &TestApp) -> i64 {
    domain::Clock::now(app.clock.as_ref()).timestamp()
}

fn claims_of(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims::<Value>(token).unwrap()
}

async fn a_proof_binds_the_token_to_the_clients_key(db: TestDb) {
    let app = spawn(db).await;
    assert_eq!(app.metadata().await["dpop_signing_alg_values_supported"], json!(["ES256", "EdDSA", "Ed25519"]));
    let (acct, _, id, secret) = client(&app, false).await;
    let token_url = format!("{}/oauth2/token", app.base);
    let path = format!("/v1/accounts/{acct}/service-accounts");
    let url = format!("{}{path}", app.base);
    for key in [ProofKey::es256(), ProofKey::eddsa()] {
        let issued = token(&app, &id, &secret, &[&key.proof("POST", &token_url, now(&app), None, None)]).await;
        assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
        assert_eq!(issued.body["token_type"], "DPoP");
        let access = issued.body["access_token"].as_str().unwrap();
        let cnf = &claims_of(access)["cnf"];
        assert_eq!(cnf["jkt"], key.thumbprint(), "{cnf}");

        let proof = key.proof("GET", &url, now(&app), Some(access), None);
        let ok = bound_call(&app, Method::GET, &path, access, &proof).await;
        assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);

        // The same proof again is a replay.
        let replay = bound_call(&app, Method::GET, &path, access, &proof).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
        assert_eq!(replay.code(), "invalid_dpop_proof");
        assert!(replay.body["detail"].as_str().unwrap().contains("used before"), "{:?}", replay.body);
        let challenge = replay.headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("DPoP ") && challenge.contains(r#"algs="ES256 EdDSA Ed25519""#), "{challenge}");

        // As a bearer token, stolen without the key, it is worth nothing.
        let stolen = app.get(&path, access).await;
        assert_eq!(stolen.status, StatusCode::UNAUTHORIZED);
        assert!(stolen.headers["www-authenticate"].to_str().unwrap().starts_with("DPoP "));
        assert!(stolen.body["detail"].as_str().unwrap().contains("bound to a key"), "{:?}", stolen.body);

        // A proof by another key, for another URL or method, or without `ath`, is refused.
        let thief = ProofKey::es256();
        let other_key = thief.proof("GET", &url, now(&app), Some(access), None);
        assert_eq!(bound_call(&app, Method::GET, &path, access, &other_key).await.code(), "unauthenticated");
        let other_url = key.proof("GET", &format!("{}/v1/accounts", app.base), now(&app), Some(access), None);
        assert_eq!(bound_call(&app, Method::GET, &path, access, &other_url).await.code(), "invalid_dpop_proof");
        let other_method = key.proof("POST", &url, now(&app), Some(access), None);
        assert_eq!(bound_call(&app, Method::GET, &path, access, &other_method).await.code(), "invalid_dpop_proof");
        let no_ath = key.proof("GET", &url, now(&app), None, None);
        assert_eq!(bound_call(&app, Method::GET, &path, access, &no_ath).await.code(), "invalid_dpop_proof");
        let stale = key.proof("GET", &url, now(&app) - 301, Some(access), None);
        assert_eq!(bound_call(&app, Method::GET, &path, access, &stale).await.code(), "invalid_dpop_proof");
        let no_proof = app.send(Method::GET, &path, &[("authorization", &format!("DPoP {access}"))], None).await;
        assert_eq!(no_proof.code(), "invalid_dpop_proof");

        // Introspection tells a resource server the token is bound, and to which key.
        let seen = introspect(&app, &id, &secret, access).await;
        assert_eq!(seen["active"], true, "{seen}");
        assert_eq!(seen["token_type"], "DPoP");
        assert_eq!(seen["cnf"], *cnf);
    }
}

async fn introspect(app: &TestApp, id: &str, secret: &str, token: &str) -> Value {
    let res = app
        .client
        .post(format!("{}/oauth2/introspect", app.base))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn a_bad_proof_at_the_token_endpoint_gets_no_token(db: TestDb) {
    let app = spawn(db).await;
    let (_, _, id, secret) = client(&app, false).await;
    let token_url = format!("{}/oauth2/token", app.base);
    let key = ProofKey::eddsa();
    let refused = |answer: &Answer| {
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{:?}", answer.body);
        assert_eq!(answer.body["error"], "invalid_dpop_proof", "{:?}", answer.body);
        assert_eq!(answer.headers["cache-control"], "no-store");
        assert!(answer.body.get("access_token").is_none());
    };
    refused(
        &token(&app, &id, &secret, &[&key.proof("POST", &format!("{}/oauth2/other", app.base), now(&app), None, None)])
            .await,
    );
    refused(&token(&app, &id, &secret, &[&key.proof("GET", &token_url, now(&app), None, None)]).await);
    refused(&token(&app, &id, &secret, &["not a proof"]).await);
    let proof = key.proof("POST", &token_url, now(&app), None, None);
    refused(&token(&app, &id, &secret, &[&proof, &proof]).await);
    assert_eq!(token(&app, &id, &secret, &[&proof]).await.status, StatusCode::OK);
    refused(&token(&app, &id, &secret, &[&proof]).await);
    // A bearer token sent as if it were bound is refused: there is no key to prove.
    let bearer = token(&app, &id, &secret, &[]).await;
    assert_eq!(bearer.body["token_type"], "Bearer");
    let access = bearer.body["access_token"].as_str().unwrap();
    assert!(claims_of(access).get("cnf").is_none());
    let path = "/v1/accounts";
    let proof = key.proof("GET", &format!("{}{path}", app.base), now(&app), Some(access), None);
    assert_eq!(bound_call(&app, Method::GET, path, access, &proof).await.status, StatusCode::UNAUTHORIZED);
}

async fn nonces_when_the_server_requires_them(db: TestDb) {
    let app = spawn_setup(db, Setup { dpop_nonces: true, ..Setup::default() }).await;
    let (acct, _, id, secret) = client(&app, false).await;
    let token_url = format!("{}/oauth2/token", app.base);
    let key = ProofKey::es256();
    let first = token(&app, &id, &secret, &[&key.proof("POST", &token_url, now(&app), None, None)]).await;
    assert_eq!(first.status, StatusCode::BAD_REQUEST, "{:?}", first.body);
    assert_eq!(first.body["error"], "use_dpop_nonce");
    let nonce = first.headers["dpop-nonce"].to_str().unwrap().to_owned();
    let issued = token(&app, &id, &secret, &[&key.proof("POST", &token_url, now(&app), None, Some(&nonce))]).await;
    assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
    assert!(issued.headers.contains_key("dpop-nonce"), "a fresh nonce comes with every token");
    let access = issued.body["access_token"].as_str().unwrap();

    let path = format!("/v1/accounts/{acct}/service-accounts");
    let url = format!("{}{path}", app.base);
    let without =
        bound_call(&app, Method::GET, &path, access, &key.proof("GET", &url, now(&app), Some(access), None)).await;
    assert_eq!(without.status, StatusCode::UNAUTHORIZED);
    assert_eq!(without.code(), "use_dpop_nonce");
    assert!(without.headers["www-authenticate"].to_str().unwrap().contains(r#"error="use_dpop_nonce""#));
    let fresh = without.headers["dpop-nonce"].to_str().unwrap().to_owned();
    let with =
        bound_call(&app, Method::GET, &path, access, &key.proof("GET", &url, now(&app), Some(access), Some(&fresh)))
            .await;
    assert_eq!(with.status, StatusCode::OK, "{:?}", with.body);

    // A nonce lives one to two periods of five minutes; then the client is asked for a new one.
    app.clock.advance(Duration::minutes(10));
    let stale =
        bound_call(&app, Method::GET, &path, access, &key.proof("GET", &url, now(&app), Some(access), Some(&fresh)))
            .await;
    assert_eq!(stale.code(), "use_dpop_nonce", "{:?}", stale.body);
    let forged =
        bound_call(&app, Method::GET, &path, access, &key.proof("GET", &url, now(&app), Some(access), Some("bm9uY2U")))
            .await;
    assert_eq!(forged.code(), "use_dpop_nonce");
}

async fn a_secret_key_can_require_dpop(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, id, secret) = client(&app, true).await;
    let key_path = format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys/{id}");
    let token_url = format!("{}/oauth2/token", app.base);
    let unbound = token(&app, &id, &secret, &[]).await;
    assert_eq!(unbound.status, StatusCode::BAD_REQUEST, "{:?}", unbound.body);
    assert_eq!(unbound.body["error"], "invalid_dpop_proof");
    let key = ProofKey::eddsa();
    let bound = token(&app, &id, &secret, &[&key.proof("POST", &token_url, now(&app), None, None)]).await;
    assert_eq!(bound.status, StatusCode::OK, "{:?}", bound.body);
    assert_eq!(bound.body["token_type"], "DPoP");

    // A JWT signed with the key is a bearer token: Keyward neither signs one nor accepts one.
    let jwt = app.post(&format!("{key_path}/jwt"), &app.admin, json!({})).await;
    assert_eq!(jwt.status, StatusCode::CONFLICT, "{:?}", jwt.body);
    let self_signed = {
        domain::jwt::provider::install();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(id.clone());
        let exp = now(&app) + 60;
        jsonwebtoken::encode(&header, &json!({"exp": exp}), &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()))
            .unwrap()
    };
    let refused = app.get(&format!("/v1/accounts/{acct}/service-accounts"), &self_signed).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{:?}", refused.body);

    // Bad input names the field and changes nothing.
    let bad = app.patch(&key_path, &app.admin, json!({"require_dpop": "yes"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "require_dpop", "{:?}", bad.body);
    assert_eq!(app.get(&key_path, &app.admin).await.body["require_dpop"], true);

    let relaxed = app.patch(&key_path, &app.admin, json!({"require_dpop": false})).await;
    assert_eq!(relaxed.status, StatusCode::OK, "{:?}", relaxed.body);
    assert_eq!(relaxed.body["require_dpop"], false);
    assert_eq!(token(&app, &id, &secret, &[]).await.status, StatusCode::OK);
}

http_tests!(
    a_proof_binds_the_token_to_the_clients_key,
    a_bad_proof_at_the_token_endpoint_gets_no_token,
    nonces_when_the_server_requires_them,
    a_secret_key_can_require_dpop,
);
