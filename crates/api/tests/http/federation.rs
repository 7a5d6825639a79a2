//! Federated credentials over HTTP: managed like other resources, refused when they would trust
//! too much, and tried with a dry run against a real issuer on loopback.

use domain::Clock as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::issuer::TestIssuer;
use crate::common::{TestApp, spawn};

const AUDIENCE: &str = "https://keyward.example";

fn credentials(acct: &str, sa: &str) -> String {
    format!("/v1/accounts/{acct}/service-accounts/{sa}/federated-credentials")
}

fn policy(issuer: &str) -> Value {
    json!({
        "name": "deploy", "issuer": issuer, "audiences": [AUDIENCE],
        "claims": {"repository_owner": "octo-org", "repository": "octo-org/*", "ref": "refs/heads/main"},
        "scopes": ["service-accounts:read"], "max_ttl_seconds": 900,
    })
}

fn now(app: &TestApp) -> i64 {
    app.clock.now().timestamp()
}

async fn federated_credentials_are_managed_like_any_resource(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let list = credentials(&acct, &sa);
    let made = app.post(&list, &app.admin, policy("https://token.actions.githubusercontent.com")).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    insta::assert_json_snapshot!("federated_credential", made.body, {
        ".id" => "[id]", ".account_id" => "[id]", ".service_account_id" => "[id]",
        ".created_at" => "[time]", ".updated_at" => "[time]",
    });
    let one = format!("{list}/{}", made.body["id"].as_str().unwrap());
    assert_eq!(app.get(&one, &app.admin).await.body, made.body);
    let listed = app.get(&list, &app.admin).await;
    assert_eq!((listed.body["items"].as_array().map(Vec::len), &listed.body["next_cursor"]), (Some(1), &Value::Null));

    let changed = app
        .patch(&one, &app.admin, json!({"active": false, "subject": "repo:octo-org/octo-repo:environment:prod"}))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(
        (&changed.body["active"], &changed.body["subject"]),
        (&json!(false), &json!("repo:octo-org/octo-repo:environment:prod"))
    );
    let cleared = app.patch(&one, &app.admin, json!({"subject": null})).await;
    assert_eq!(cleared.body["subject"], Value::Null);

    let (other, other_sa, _, _) = app.tenant("globex", &["account:admin"]).await;
    let elsewhere = format!("{}/{}", credentials(&other, &other_sa), made.body["id"].as_str().unwrap());
    assert_eq!(app.get(&elsewhere, &app.admin).await.status, StatusCode::NOT_FOUND, "another account's path");

    assert_eq!(app.delete(&one, &app.admin).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&one, &app.admin).await.status, StatusCode::NOT_FOUND);
    let trail =
        app.get(&format!("/v1/accounts/{acct}/audit-events?action=federated_credential.delete"), &app.admin).await;
    assert_eq!(trail.body["items"].as_array().map(Vec::len), Some(1), "{:?}", trail.body);
}

async fn policies_that_trust_too_much_are_refused_naming_the_field(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, reader) = app.tenant("acme", &["service-accounts:read"]).await;
    let list = credentials(&acct, &sa);
    let github = "https://token.actions.githubusercontent.com";
    let cases = [
        (json!({"issuer": "http://issuer.example.com"}), "issuer"),
        (json!({"issuer": github, "claims": {"repository": "octo-org/*"}}), "claims"),
        (json!({"issuer": github, "claims": {"repository_owner": "octo-*"}}), "claims"),
        (json!({"audiences": []}), "audiences"),
        (json!({"claims": {}}), "subject"),
        (json!({"claims": {"ref": "*"}}), "claims.ref"),
        (json!({"claims": {"aud": "x"}}), "claims.aud"),
        (json!({"max_ttl_seconds": 0}), "max_ttl_seconds"),
        (json!({"scopes": ["Not A Scope"]}), "scopes[0]"),
    ];
    for (change, field) in cases {
        let mut body = policy("https://issuer.example");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let refused = app.post(&list, &app.admin, body).await;
        assert_eq!(
            (refused.status, refused.body["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{change}"
        );
    }
    let not_allowed = app.post(&list, &reader, policy("https://issuer.example")).await;
    assert_eq!(not_allowed.status, StatusCode::FORBIDDEN, "creating needs service-accounts:write");
    assert_eq!(app.get(&list, &app.admin).await.body["items"], json!([]), "nothing refused was stored");
}

async fn a_dry_run_says_which_checks_a_token_passes(db: TestDb) {
    let app = spawn(db).await;
    let issuer = TestIssuer::start().await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let made = app.post(&credentials(&acct, &sa), &app.admin, policy(&issuer.url)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let test = format!("{}/{}/test", credentials(&acct, &sa), made.body["id"].as_str().unwrap());
    let failed = |body: &Value| -> Vec<String> {
        body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["passed"] == false)
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };

    let good = issuer.sign(&issuer.github_claims(AUDIENCE, now(&app)));
    let run = app.post(&test, &app.admin, json!({"token": good})).await;
    assert_eq!((run.status, &run.body["passed"]), (StatusCode::OK, &json!(true)), "{:?}", run.body);
    let names: Vec<&str> = run.body["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "active",
            "signature",
            "issuer",
            "expiry",
            "not_before",
            "audience",
            "claims.ref",
            "claims.repository",
            "claims.repository_owner"
        ]
    );

    let mut claims = issuer.github_claims("https://other.example", now(&app));
    claims["repository"] = json!("octo-org-evil/octo-repo");
    let run = app.post(&test, &app.admin, json!({"token": issuer.sign(&claims)})).await;
    assert_eq!(
        (&run.body["passed"], failed(&run.body)),
        (&json!(false), vec!["audience".to_owned(), "claims.repository".to_owned()])
    );

    let unknown_key = issuer.sign_as("not-published", &issuer.github_claims(AUDIENCE, now(&app)));
    let run = app.post(&test, &app.admin, json!({"token": unknown_key})).await;
    assert_eq!(failed(&run.body), ["signature"]);

    let run = app.post(&test, &app.admin, json!({"token": "not-a-jwt"})).await;
    assert_eq!(failed(&run.body), ["token"]);
}

http_tests!(
    federated_credentials_are_managed_like_any_resource,
    policies_that_trust_too_much_are_refused_naming_the_field,
    a_dry_run_says_which_checks_a_token_passes,
);
