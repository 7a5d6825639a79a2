//! The Smooch dialect through the real HTTP stack: service accounts and secret keys, Basic and
//! JWT authentication as Smooch clients use them, its error shape and its tenancy.

use base64::Engine as _;
use insta::assert_json_snapshot;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::{Answer, TestApp, spawn};

const SAS: &str = "/v1.1/serviceaccounts";

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

async fn smooch(app: &TestApp, method: Method, path: &str, auth: &str, body: Option<Value>) -> Answer {
    app.send(method, path, &[("authorization", auth)], body).await
}

/// A tenant whose credential is a secret key, as Smooch clients hold: (account, sa, key id, secret).
async fn tenant(app: &TestApp, name: &str, scopes: &[&str]) -> (String, String, String, String) {
    let (acct, sa, _, _) = app.tenant(name, &[]).await;
    let key = app
        .post(
            &format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys"),
            &app.admin,
            json!({"name": "smooch", "scopes": scopes}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    (acct, sa, key.body["id"].as_str().unwrap().to_owned(), key.body["secret"].as_str().unwrap().to_owned())
}

/// A JWT as Smooch's documentation has clients sign it: HS256, `kid`, `scope: "account"`, no `exp`.
fn smooch_jwt(id: &str, secret: &str) -> String {
    domain::jwt::provider::install();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(id.to_owned());
    jsonwebtoken::encode(&header, &json!({"scope": "account"}), &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn service_accounts_and_secret_keys_live_through_the_smooch_api(db: TestDb) {
    let app = spawn(db).await;
    let (acct, own_sa, key_id, secret) =
        tenant(&app, "acme", &["service-accounts:write", "secret-keys:write", "metrics:read"]).await;
    let auth = basic(&key_id, &secret);

    let created = smooch(&app, Method::POST, SAS, &auth, Some(json!({"name": "integration"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_json_snapshot!("smooch_service_account", created.body, {".serviceAccount._id" => "[id]"});
    let sa = created.body["serviceAccount"]["_id"].as_str().unwrap().to_owned();

    let key = smooch(&app, Method::POST, &format!("{SAS}/{sa}/keys"), &auth, Some(json!({"name": "main"}))).await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    assert_json_snapshot!("smooch_key_created", key.body, {".key._id" => "[id]", ".key.secret" => "[secret]"});
    let new_id = key.body["key"]["_id"].as_str().unwrap().to_owned();
    let new_secret = key.body["key"]["secret"].as_str().unwrap().to_owned();
    let native = app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys/{new_id}"), &app.admin).await;
    assert_eq!(
        native.body["scopes"],
        json!(["metrics:read", "secret-keys:write", "service-accounts:write"]),
        "inherited"
    );

    let got = smooch(&app, Method::GET, &format!("{SAS}/{sa}/keys/{new_id}"), &auth, None).await;
    assert_json_snapshot!("smooch_key", got.body, {".key._id" => "[id]"});
    let listed = smooch(&app, Method::GET, &format!("{SAS}/{sa}/keys"), &auth, None).await;
    assert_eq!(listed.body["keys"].as_array().unwrap().len(), 1);
    assert!(!listed.body.to_string().contains("kw_sk_"), "a secret is shown once");

    let jwt = smooch(&app, Method::GET, &format!("{SAS}/{sa}/keys/{new_id}/jwt"), &auth, None).await;
    let jwt = jwt.body["jwt"].as_str().unwrap().to_owned();
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::HS256, Some(new_id.as_str())));
    let bearer = format!("Bearer {jwt}");
    assert_eq!(smooch(&app, Method::GET, SAS, &bearer, None).await.status, StatusCode::OK, "the /jwt JWT works here");
    let native_use = app.get(&format!("/v1/accounts/{acct}/service-accounts"), &jwt).await;
    assert_eq!(native_use.status, StatusCode::OK, "and on the native API, with the key's scopes");

    let own = format!("Bearer {}", smooch_jwt(&new_id, &new_secret));
    assert_eq!(
        smooch(&app, Method::GET, &format!("{SAS}/{sa}"), &own, None).await.status,
        StatusCode::OK,
        "a Smooch-signed JWT"
    );
    let no_exp_native =
        app.get(&format!("/v1/accounts/{acct}/service-accounts"), &smooch_jwt(&new_id, &new_secret)).await;
    assert_eq!(no_exp_native.status, StatusCode::UNAUTHORIZED, "the native API still wants exp");

    let renamed = smooch(&app, Method::PUT, &format!("{SAS}/{sa}"), &auth, Some(json!({"name": "renamed"}))).await;
    assert_eq!(renamed.body["serviceAccount"]["name"], "renamed");
    let page = smooch(&app, Method::GET, &format!("{SAS}?limit=1&offset=1"), &auth, None).await;
    assert_json_snapshot!("smooch_list", page.body, {".serviceAccounts[]._id" => "[id]"});
    let first = smooch(&app, Method::GET, &format!("{SAS}?limit=1"), &auth, None).await;
    assert_eq!(
        (first.body["hasMore"].as_bool(), first.body["serviceAccounts"][0]["_id"].as_str()),
        (Some(true), Some(own_sa.as_str()))
    );

    let itself = smooch(&app, Method::DELETE, &format!("{SAS}/{own_sa}/keys/{key_id}"), &auth, None).await;
    assert_eq!(itself.status, StatusCode::CONFLICT);
    assert_json_snapshot!("smooch_own_key", itself.body);
    let deleted = smooch(&app, Method::DELETE, &format!("{SAS}/{sa}/keys/{new_id}"), &auth, None).await;
    assert_eq!((deleted.status, deleted.body.clone()), (StatusCode::OK, json!({})));
    assert_eq!(
        smooch(&app, Method::GET, SAS, &own, None).await.status,
        StatusCode::UNAUTHORIZED,
        "a deleted key's JWTs stop"
    );
    let gone = smooch(&app, Method::GET, &format!("{SAS}/{sa}/keys/{new_id}"), &auth, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_json_snapshot!("smooch_not_found", gone.body);
    let removed = smooch(&app, Method::DELETE, &format!("{SAS}/{sa}"), &auth, None).await;
    assert_eq!(removed.status, StatusCode::OK);
}

async fn wrong_credentials_are_refused_in_smooch_shape(db: TestDb) {
    let app = spawn(db).await;
    let (_, _, key_id, secret) = tenant(&app, "acme", &["service-accounts:read"]).await;
    let wrong = secret.replace(&secret[secret.len() - 12..], "000000000000");
    let refused = smooch(&app, Method::GET, SAS, &basic(&key_id, &wrong), None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_json_snapshot!("smooch_unauthorized", refused.body);
    let forged = format!("Bearer {}", smooch_jwt(&key_id, &wrong));
    assert_eq!(smooch(&app, Method::GET, SAS, &forged, None).await.status, StatusCode::UNAUTHORIZED);
    let narrow = smooch(&app, Method::POST, SAS, &basic(&key_id, &secret), Some(json!({"name": "x"}))).await;
    assert_eq!((narrow.status, narrow.body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    for bad in ["limit=0", "limit=101", "offset=-1", "colour=red"] {
        let answer = smooch(&app, Method::GET, &format!("{SAS}?{bad}"), &basic(&key_id, &secret), None).await;
        assert_eq!(
            (answer.status, answer.body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{bad}"
        );
    }
}

async fn another_accounts_service_accounts_are_not_found(db: TestDb) {
    let app = spawn(db).await;
    let (_, a_sa, a_key, _) = tenant(&app, "acme", &["service-accounts:write", "secret-keys:write"]).await;
    let (_, _, b_key, b_secret) = tenant(&app, "globex", &["service-accounts:write", "secret-keys:write"]).await;
    let b = basic(&b_key, &b_secret);
    for (method, path, body) in [
        (Method::GET, format!("{SAS}/{a_sa}"), None),
        (Method::PUT, format!("{SAS}/{a_sa}"), Some(json!({"name": "mine"}))),
        (Method::DELETE, format!("{SAS}/{a_sa}"), None),
        (Method::GET, format!("{SAS}/{a_sa}/keys"), None),
        (Method::POST, format!("{SAS}/{a_sa}/keys"), Some(json!({"name": "mine"}))),
        (Method::GET, format!("{SAS}/{a_sa}/keys/{a_key}"), None),
        (Method::GET, format!("{SAS}/{a_sa}/keys/{a_key}/jwt"), None),
        (Method::DELETE, format!("{SAS}/{a_sa}/keys/{a_key}"), None),
    ] {
        let answer = smooch(&app, method.clone(), &path, &b, body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}: {:?}", answer.body);
    }
    let listed = smooch(&app, Method::GET, SAS, &b, None).await;
    assert!(!listed.body.to_string().contains(&a_sa));
}

http_tests!(
    service_accounts_and_secret_keys_live_through_the_smooch_api,
    wrong_credentials_are_refused_in_smooch_shape,
    another_accounts_service_accounts_are_not_found,
);
