//! The Service Identity dialect through the real HTTP stack, following the seed's three calls: create
//! an identity, exchange its credentials for a token that verifies offline from the JWKS, and
//! regenerate them so that the old client token fails.

use insta::assert_json_snapshot;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::{spawn, spawn_with};

async fn an_identity_is_made_exchanged_for_a_token_and_regenerated(db: TestDb) {
    let app = spawn(db).await;
    let (acct, _, _, key) = app.tenant("acme", &["service-accounts:write", "secret-keys:write", "audit:read"]).await;

    let created = app
        .send(
            Method::POST,
            &format!("/api/accounts/{acct}/service-identity"),
            &[("x-api-key", &key)],
            Some(json!({"name": "billing-worker", "description": "runs invoices"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_json_snapshot!("service_identity_created", created.body, {
        ".id" => "[id]", ".account_id" => "[id]", ".client_id" => "[id]", ".client_token" => "[secret]", ".created_at" => "[time]"
    });
    assert_eq!(created.body["account_id"], acct.as_str());
    let (id, client_id) = (created.body["id"].as_str().unwrap(), created.body["client_id"].as_str().unwrap());
    let client_token = created.body["client_token"].as_str().unwrap().to_owned();

    let exchange = |token: String| {
        let app = &app;
        let client_id = client_id.to_owned();
        async move {
            app.send(
                Method::POST,
                "/service-identity/generate-token",
                &[],
                Some(json!({"client_id": client_id, "client_token": token})),
            )
            .await
        }
    };
    let token = exchange(client_token.clone()).await;
    assert_eq!(token.status, StatusCode::OK, "{:?}", token.body);
    assert_json_snapshot!("service_identity_token", token.body, {".token" => "[jwt]"});
    let access = token.body["token"].as_str().unwrap().to_owned();

    // A standard JWT library verifies it from the JWKS alone.
    domain::jwt::provider::install();
    let jwks: JwkSet =
        app.client.get(format!("{}/.well-known/jwks.json", app.base)).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(&access).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["keyward"]);
    validation.validate_exp = false;
    let claims =
        jsonwebtoken::decode::<Value>(&access, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap().claims;
    assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some(id), Some(client_id)));
    assert_eq!(
        app.get(&format!("/v1/accounts/{acct}/audit-events"), &access).await.status,
        StatusCode::OK,
        "inherited scopes"
    );

    let regenerated = app
        .send(
            Method::GET,
            &format!("/api/accounts/service-identity:regenerate/{id}"),
            &[("authorization", &format!("Bearer {key}"))],
            None,
        )
        .await;
    assert_eq!(regenerated.status, StatusCode::OK, "{:?}", regenerated.body);
    assert_eq!(regenerated.body["client_id"], client_id);
    let new_token = regenerated.body["client_token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, client_token);
    let old = exchange(client_token).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "the old client token fails at once");
    assert_json_snapshot!("service_identity_unauthorized", old.body);
    assert_eq!(exchange(new_token).await.status, StatusCode::OK);

    let taken = app
        .send(
            Method::POST,
            &format!("/api/accounts/{acct}/service-identity"),
            &[("x-api-key", &key)],
            Some(json!({"name": "billing-worker"})),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    let nameless = app
        .send(
            Method::POST,
            &format!("/api/accounts/{acct}/service-identity"),
            &[("x-api-key", &key)],
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
    assert!(nameless.body["error"].as_str().unwrap().starts_with("name"), "{:?}", nameless.body);
    let anonymous = app
        .send(Method::POST, &format!("/api/accounts/{acct}/service-identity"), &[], Some(json!({"name": "x"})))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn other_accounts_identities_are_not_found(db: TestDb) {
    let app = spawn(db).await;
    let (a_acct, _, _, a) = app.tenant("acme", &["service-accounts:write", "secret-keys:write"]).await;
    let (_, _, _, b) = app.tenant("globex", &["service-accounts:write", "secret-keys:write"]).await;
    let made = app
        .send(
            Method::POST,
            &format!("/api/accounts/{a_acct}/service-identity"),
            &[("x-api-key", &a)],
            Some(json!({"name": "worker"})),
        )
        .await;
    let id = made.body["id"].as_str().unwrap();
    let in_a = app
        .send(
            Method::POST,
            &format!("/api/accounts/{a_acct}/service-identity"),
            &[("x-api-key", &b)],
            Some(json!({"name": "intruder"})),
        )
        .await;
    assert_eq!(in_a.status, StatusCode::NOT_FOUND, "{:?}", in_a.body);
    let regenerate = app
        .send(Method::GET, &format!("/api/accounts/service-identity:regenerate/{id}"), &[("x-api-key", &b)], None)
        .await;
    assert_eq!(regenerate.status, StatusCode::NOT_FOUND);
}

async fn failed_exchanges_count_toward_the_limiter(db: TestDb) {
    let app = spawn_with(db, api::AuthLimits { free: 2, max: 3, ..api::AuthLimits::default() }).await;
    let body = json!({"client_id": "0190f1c2-7a3b-7c4d-8e5f-0123456789ab", "client_token": "nope"});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.send(Method::POST, "/service-identity/generate-token", &[], Some(body.clone())).await.status);
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
}

/// This dialect has no way to send a DPoP proof: an identity whose key was set to require one
/// gets no token here (the native token endpoint still serves it, with a proof).
async fn a_key_that_requires_dpop_gets_no_token_here(db: TestDb) {
    let app = spawn(db).await;
    let (acct, _, _, key) = app.tenant("acme", &["service-accounts:write", "secret-keys:write"]).await;
    let created = app
        .send(
            Method::POST,
            &format!("/api/accounts/{acct}/service-identity"),
            &[("x-api-key", &key)],
            Some(json!({"name": "bound-worker"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let (id, client_id) = (created.body["id"].as_str().unwrap(), created.body["client_id"].as_str().unwrap());
    let client_token = created.body["client_token"].as_str().unwrap();
    let key_path = format!("/v1/accounts/{acct}/service-accounts/{id}/secret-keys/{client_id}");
    let bound = app.patch(&key_path, &app.admin, json!({"require_dpop": true})).await;
    assert_eq!(bound.status, StatusCode::OK, "{:?}", bound.body);
    let token = app
        .send(
            Method::POST,
            "/service-identity/generate-token",
            &[],
            Some(json!({"client_id": client_id, "client_token": client_token})),
        )
        .await;
    assert_eq!(token.status, StatusCode::UNAUTHORIZED, "{:?}", token.body);
    assert!(token.body["error"].as_str().unwrap().contains("/oauth2/token with a DPoP header"), "{:?}", token.body);
    assert!(token.body.get("token").is_none());
}

http_tests!(
    a_key_that_requires_dpop_gets_no_token_here,
    an_identity_is_made_exchanged_for_a_token_and_regenerated,
    other_accounts_identities_are_not_found,
    failed_exchanges_count_toward_the_limiter,
);
