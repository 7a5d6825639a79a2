//! Standard, unmodified libraries against Keyward: an OAuth 2.0 client (the `oauth2` crate) that
//! knows only the metadata URL, and a JWT library (`jsonwebtoken`) that knows only the JWKS.

use chrono::Duration;
use domain::signing_key::{SigningAlgorithm, SigningKeyState};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, HttpRequest, HttpResponse, Scope, TokenResponse, TokenUrl};
use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::spawn_signing_with;

/// The HTTP transport the `oauth2` crate asks its caller for; the library itself is untouched.
async fn transport(req: HttpRequest) -> Result<HttpResponse, reqwest::Error> {
    let client = reqwest::Client::new();
    let mut builder = client.request(req.method().clone(), req.uri().to_string()).body(req.body().clone());
    for (name, value) in req.headers() {
        builder = builder.header(name, value);
    }
    let res = builder.send().await?;
    let mut out = oauth2::http::Response::builder().status(res.status().as_u16());
    for (name, value) in res.headers() {
        out = out.header(name.as_str(), value.as_bytes());
    }
    let body = res.bytes().await?.to_vec();
    Ok(out.body(body).unwrap_or_default())
}

async fn libraries_get_a_token_and_verify_it_offline(db: TestDb, algorithm: SigningAlgorithm) {
    let app = spawn_signing_with(db, algorithm).await;
    let (acct, sa, id, secret) = app.secret_key_tenant(&["service-accounts:read", "audit:read"]).await;
    let meta = app.metadata().await;

    let client = BasicClient::new(ClientId::new(id.clone()))
        .set_client_secret(ClientSecret::new(secret))
        .set_token_uri(TokenUrl::new(meta["token_endpoint"].as_str().unwrap().to_owned()).unwrap());
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("service-accounts:read".to_owned()))
        .request_async(&transport)
        .await
        .unwrap();
    let access = token.access_token().secret().clone();
    assert_eq!(token.expires_in().map(|d| d.as_secs()), Some(3600));

    domain::jwt::provider::install();
    let jwks: JwkSet = app.client.get(meta["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(&access).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let alg = match algorithm {
        SigningAlgorithm::EdDsa => Algorithm::EdDSA,
        SigningAlgorithm::Es256 => Algorithm::ES256,
    };
    assert_eq!(header.alg, alg);
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[meta["issuer"].as_str().unwrap()]);
    validation.set_audience(&["keyward"]);
    validation.validate_exp = false;
    let claims =
        jsonwebtoken::decode::<Value>(&access, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap().claims;
    assert_eq!((claims["sub"].as_str(), claims["scope"].as_str()), (Some(sa.as_str()), Some("service-accounts:read")));
    assert_eq!(app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}"), &access).await.status, StatusCode::OK);
}

async fn with_eddsa(db: TestDb) {
    libraries_get_a_token_and_verify_it_offline(db, SigningAlgorithm::EdDsa).await;
}

async fn with_es256(db: TestDb) {
    libraries_get_a_token_and_verify_it_offline(db, SigningAlgorithm::Es256).await;
}

async fn tokens_for_another_audience_or_issuer_are_refused(db: TestDb) {
    let app = spawn_signing_with(db, SigningAlgorithm::EdDsa).await;
    let (acct, sa, id, _) = app.secret_key_tenant(&["service-accounts:read", "audit:read"]).await;
    // Sign with Keyward's real active key, as a token meant for another service would be.
    let (kid, pkcs8) = app.active_signing_key();
    let now = app.keyward.now().timestamp();
    let sign = |aud: &str, iss: &str| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        let claims = json!({"iss": iss, "aud": aud, "sub": sa, "exp": now + 600, "iat": now, "nbf": now, "jti": format!("{aud}{iss}"),
                            "scope": "service-accounts:read", "client_id": id, "acct": acct});
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&pkcs8)).unwrap()
    };
    let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    assert_eq!(app.get(&me, &sign("keyward", &app.base)).await.status, StatusCode::OK, "the control token works");
    assert_eq!(
        app.get(&me, &sign("billing-service", &app.base)).await.status,
        StatusCode::UNAUTHORIZED,
        "another audience"
    );
    assert_eq!(
        app.get(&me, &sign("keyward", "https://evil.example")).await.status,
        StatusCode::UNAUTHORIZED,
        "another issuer"
    );
}

async fn signing_keys_rotate_on_schedule(db: TestDb) {
    let app = spawn_signing_with(db, SigningAlgorithm::EdDsa).await;
    let period = Duration::days(30);
    let before = app.keyward.published_signing_keys().unwrap();
    assert!(!app.keyward.rotate_signing_keys_if_due(period).unwrap(), "not due yet");
    app.clock.advance(period);
    assert!(app.keyward.rotate_signing_keys_if_due(period).unwrap());
    let after = app.keyward.published_signing_keys().unwrap();
    let old_active = before.iter().find(|k| k.state == SigningKeyState::Active).unwrap();
    let old_next = before.iter().find(|k| k.state == SigningKeyState::Next).unwrap();
    assert_eq!(after.iter().find(|k| k.kid == old_active.kid).unwrap().state, SigningKeyState::Retiring);
    assert_eq!(after.iter().find(|k| k.kid == old_next.kid).unwrap().state, SigningKeyState::Active);
    assert!(!app.keyward.rotate_signing_keys_if_due(period).unwrap(), "the new active key is fresh");
    let audit = app
        .get(&format!("/v1/accounts/{}/audit-events?action=signing_key.rotate", app.system_account), &app.admin)
        .await;
    assert_eq!(audit.body["items"][0]["actor"], "system:schedule");
}

http_tests!(with_eddsa, with_es256, tokens_for_another_audience_or_issuer_are_refused, signing_keys_rotate_on_schedule);
