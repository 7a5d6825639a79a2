//! Exchanging a platform's OIDC token for a Keyward access token (RFC 8693, RFC 7523 §2.1), with a
//! real issuer on loopback: the token works on Keyward's API for as long as its federated
//! credential allows, and each attack is refused with the right error.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::Clock as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::issuer::TestIssuer;
use crate::common::{TestApp, spawn};

const AUDIENCE: &str = "https://keyward.example";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

struct Setup {
    app: TestApp,
    issuer: TestIssuer,
    acct: String,
    sa: String,
    credential: String,
}

async fn setup(db: TestDb, extra: Value) -> Setup {
    let app = spawn(db).await;
    let issuer = TestIssuer::start().await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let mut body = json!({
        "name": "deploy", "issuer": issuer.url, "audiences": [AUDIENCE],
        "claims": {"repository_owner": "octo-org", "repository": "octo-org/*", "ref": "refs/heads/main"},
        "scopes": ["service-accounts:read", "api-keys:read"], "max_ttl_seconds": 900,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let made =
        app.post(&format!("/v1/accounts/{acct}/service-accounts/{sa}/federated-credentials"), &app.admin, body).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let credential = made.body["id"].as_str().unwrap().to_owned();
    Setup { app, issuer, acct, sa, credential }
}

impl Setup {
    fn now(&self) -> i64 {
        self.app.clock.now().timestamp()
    }

    fn good_token(&self) -> String {
        self.issuer.sign(&self.issuer.github_claims(AUDIENCE, self.now()))
    }

    /// The claims of a good token with `change` applied.
    fn claims_with(&self, change: Value) -> Value {
        let mut claims = self.issuer.github_claims(AUDIENCE, self.now());
        for (k, v) in change.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    }

    async fn exchange(&self, form: &[(&str, &str)]) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let res = self.app.client.post(format!("{}/oauth2/token", self.app.base)).form(form).send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        (status, headers, res.json().await.unwrap())
    }

    async fn exchange_token(&self, token: &str) -> (StatusCode, Value) {
        let (status, _, body) =
            self.exchange(&[("grant_type", EXCHANGE), ("subject_token", token), ("subject_token_type", JWT)]).await;
        (status, body)
    }
}

fn payload(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn a_workload_trades_its_platform_token_for_an_access_token(db: TestDb) {
    let s = setup(db, json!({})).await;
    let token = s.good_token();
    let (status, headers, body) = s
        .exchange(&[
            ("grant_type", EXCHANGE),
            ("subject_token", &token),
            ("subject_token_type", JWT),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("scope", "service-accounts:read"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token");
    assert_eq!((body["token_type"].as_str(), body["scope"].as_str()), (Some("Bearer"), Some("service-accounts:read")));
    assert_eq!(body["expires_in"], 300, "no longer than the external token's remaining life");
    let access = body["access_token"].as_str().unwrap();
    let claims = payload(access);
    assert_eq!(
        (claims["fed"].as_str(), claims["client_id"].as_str()),
        (Some(s.credential.as_str()), Some(s.credential.as_str()))
    );
    assert_eq!((claims["sub"].as_str(), claims["acct"].as_str()), (Some(s.sa.as_str()), Some(s.acct.as_str())));

    let own = format!("/v1/accounts/{}/service-accounts/{}", s.acct, s.sa);
    assert_eq!(s.app.get(&own, access).await.status, StatusCode::OK, "the token works on Keyward's API");
    let introspected: Value = s
        .app
        .client
        .post(format!("{}/oauth2/introspect", s.app.base))
        .bearer_auth(&s.app.admin)
        .form(&[("token", access)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&introspected["active"], introspected["client_id"].as_str()),
        (&json!(true), Some(s.credential.as_str()))
    );
    let write = s.app.patch(&own, access, json!({"description": "x"})).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "and carries only the scopes asked for");

    let bearer = s
        .exchange(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", &s.good_token())])
        .await;
    assert_eq!(bearer.0, StatusCode::OK, "{}", bearer.2);
    assert!(bearer.2.get("issued_token_type").is_none(), "RFC 7523 answers a plain token response");

    let trail = s.app.get(&format!("/v1/accounts/{}/audit-events?action=token.exchange", s.acct), &s.app.admin).await;
    let event = &trail.body["items"][0];
    assert_eq!(event["actor"], format!("external:repo:octo-org/octo-repo:ref:refs/heads/main@{}", s.issuer.url));
    assert_eq!(event["target"], format!("federated_credential:{}", s.credential));

    // Disabling the federated credential stops the tokens it minted.
    let one = format!("{own}/federated-credentials/{}", s.credential);
    assert_eq!(s.app.patch(&one, &s.app.admin, json!({"active": false})).await.status, StatusCode::OK);
    assert_eq!(s.app.get(&own, access).await.status, StatusCode::UNAUTHORIZED);
}

async fn each_attack_is_refused_with_its_error(db: TestDb) {
    let s = setup(db, json!({})).await;
    let at = s.now();
    let other = TestIssuer::start().await;
    let cases: Vec<(&str, String, &str)> = vec![
        ("wrong issuer", other.sign(&other.github_claims(AUDIENCE, at)), "invalid_grant"),
        ("a kid the JWKS lacks", s.issuer.sign_as("rotated-away", &s.claims_with(json!({}))), "invalid_grant"),
        ("expired", s.issuer.sign(&s.claims_with(json!({"exp": at - 120}))), "invalid_grant"),
        ("not yet valid", s.issuer.sign(&s.claims_with(json!({"nbf": at + 600}))), "invalid_grant"),
        ("wrong audience", s.issuer.sign(&s.claims_with(json!({"aud": "https://other.example"}))), "invalid_grant"),
        ("almost the glob", s.issuer.sign(&s.claims_with(json!({"repository": "octo-org-evil/app"}))), "invalid_grant"),
        ("another tenant", s.issuer.sign(&s.claims_with(json!({"repository_owner": "globex"}))), "invalid_grant"),
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&s.claims_with(json!({})))),
            "invalid_request",
        ),
        ("HS256 with the public key", hs256_with(&s.claims_with(json!({}))), "invalid_grant"),
        ("not a JWT", "garbage".to_owned(), "invalid_request"),
    ];
    for (attack, token, error) in cases {
        let (status, body) = s.exchange_token(&token).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some(error)), "{attack}: {body}");
    }
    let (status, _, body) = s
        .exchange(&[
            ("grant_type", EXCHANGE),
            ("subject_token", &s.good_token()),
            ("subject_token_type", JWT),
            ("scope", "audit:read"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope")),
        "a scope beyond the policy"
    );
    let (_, _, body) = s
        .exchange(&[
            ("grant_type", EXCHANGE),
            ("subject_token", &s.good_token()),
            ("subject_token_type", JWT),
            ("audience", "someone-else"),
        ])
        .await;
    assert_eq!(body["error"], "invalid_target");
    let (_, _, body) = s.exchange(&[("grant_type", EXCHANGE), ("subject_token", &s.good_token())]).await;
    assert_eq!(body["error"], "invalid_request", "subject_token_type is required");

    let own = format!("/v1/accounts/{}/service-accounts/{}", s.acct, s.sa);
    assert_eq!(s.app.patch(&own, &s.app.admin, json!({"active": false})).await.status, StatusCode::OK);
    assert_eq!(s.exchange_token(&s.good_token()).await.1["error"], "invalid_grant", "a disabled service account");
    assert_eq!(s.app.patch(&own, &s.app.admin, json!({"active": true})).await.status, StatusCode::OK);
    let one = format!("{own}/federated-credentials/{}", s.credential);
    assert_eq!(s.app.patch(&one, &s.app.admin, json!({"active": false})).await.status, StatusCode::OK);
    assert_eq!(s.exchange_token(&s.good_token()).await.1["error"], "invalid_grant", "a disabled policy");

    let trail = s.app.get(&format!("/v1/accounts/{}/audit-events?action=token.exchange", s.acct), &s.app.admin).await;
    let refused: Vec<&Value> =
        trail.body["items"].as_array().unwrap().iter().filter(|e| e["outcome"] == "failure").collect();
    assert!(refused.len() >= 3, "refusals meant for this account's policy are audited: {}", trail.body);
    let reasons: Vec<&str> = refused.iter().filter_map(|e| e["reason"].as_str()).collect();
    assert!(reasons.contains(&"failed checks: expiry"), "{reasons:?}");
    assert!(reasons.contains(&"failed checks: claims.repository"), "the glob that almost matched: {reasons:?}");
    assert!(reasons.contains(&"failed checks: active"), "the disabled policy: {reasons:?}");
    assert!(!reasons.iter().any(|r| r.contains("octo")), "a reason never repeats a value");
}

async fn a_workload_binds_its_exchanged_token_to_its_own_key(db: TestDb) {
    let s = setup(db, json!({})).await;
    let key = domain::dpop::testing::ProofKey::es256();
    let token_url = format!("{}/oauth2/token", s.app.base);
    let form = [("grant_type", EXCHANGE), ("subject_token", &s.good_token()), ("subject_token_type", JWT)];
    let res = s
        .app
        .client
        .post(&token_url)
        .header("dpop", key.proof("POST", &token_url, s.now(), None, None))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP", "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(payload(access)["cnf"]["jkt"], key.thumbprint());
    let own = format!("/v1/accounts/{}/service-accounts/{}", s.acct, s.sa);
    assert_eq!(s.app.get(&own, access).await.status, StatusCode::UNAUTHORIZED, "not as a bearer token");
    let proof = key.proof("GET", &format!("{}{own}", s.app.base), s.now(), Some(access), None);
    let auth = format!("DPoP {access}");
    let bound = s.app.send(reqwest::Method::GET, &own, &[("authorization", &auth), ("dpop", &proof)], None).await;
    assert_eq!(bound.status, StatusCode::OK, "{:?}", bound.body);
}

async fn a_replayed_token_is_refused_when_the_policy_says_so(db: TestDb) {
    let s = setup(db, json!({"refuse_replay": true})).await;
    let token = s.good_token();
    assert_eq!(s.exchange_token(&token).await.0, StatusCode::OK);
    let (status, body) = s.exchange_token(&token).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    let trail = s.app.get(&format!("/v1/accounts/{}/audit-events?action=token.exchange", s.acct), &s.app.admin).await;
    assert_eq!(trail.body["items"][0]["reason"], "the token was exchanged before", "{}", trail.body);
    assert_eq!(s.exchange_token(&s.good_token()).await.0, StatusCode::OK, "a new token (new jti) is fine");
}

async fn an_issuer_that_cannot_be_reached_is_a_clear_503(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let gone = "http://127.0.0.1:9";
    let made = app
        .post(
            &format!("/v1/accounts/{acct}/service-accounts/{sa}/federated-credentials"),
            &app.admin,
            json!({"name": "gone", "issuer": gone, "audiences": [AUDIENCE], "subject": "x"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let forger = TestIssuer::start().await;
    let mut claims = forger.github_claims(AUDIENCE, app.clock.now().timestamp());
    claims["iss"] = json!(gone);
    let form =
        [("grant_type", EXCHANGE), ("subject_token", &forger.sign(&claims) as &str), ("subject_token_type", JWT)];
    let res = app.client.post(format!("{}/oauth2/token", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["error_description"].as_str().unwrap().contains("could not be reached"), "{body}");
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A token "signed" with HS256 under a key an attacker knows: as if the issuer's public key.
fn hs256_with(claims: &Value) -> String {
    let input = format!("{}.{}", b64(&json!({"alg": "HS256", "kid": "test-key-1"})), b64(claims));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"the issuer's public key");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, input.as_bytes())))
}

http_tests!(
    a_workload_binds_its_exchanged_token_to_its_own_key,
    a_workload_trades_its_platform_token_for_an_access_token,
    each_attack_is_refused_with_its_error,
    a_replayed_token_is_refused_when_the_policy_says_so,
    an_issuer_that_cannot_be_reached_is_a_clear_503,
);
