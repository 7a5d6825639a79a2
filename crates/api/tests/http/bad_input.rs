//! Hostile and careless input: every kind gets a clear problem naming the field, and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::{TestApp, spawn};

/// Everything a rejected request could have changed.
async fn state_of(app: &TestApp, acct: &str, sa: &str) -> Value {
    json!({
        "accounts": app.get("/v1/accounts", &app.admin).await.body,
        "service_accounts": app.get(&format!("/v1/accounts/{acct}/service-accounts"), &app.admin).await.body,
        "keys": app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys"), &app.admin).await.body,
        "audit": app.get(&format!("/v1/accounts/{acct}/audit-events"), &app.admin).await.body,
        "system_audit": app.get(&format!("/v1/accounts/{}/audit-events", app.system_account), &app.admin).await.body,
    })
}

async fn invalid_bodies_name_the_field_and_change_nothing(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, key, _) = app.tenant("acme", &[]).await;
    let before = state_of(&app, &acct, &sa).await;
    let sas = format!("/v1/accounts/{acct}/service-accounts");
    let keys = format!("{sas}/{sa}/api-keys");
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (Method::POST, "/v1/accounts".into(), json!({"name": 5}), "name"),
        (Method::POST, "/v1/accounts".into(), json!({"name": ""}), "name"),
        (Method::POST, "/v1/accounts".into(), json!({"name": "x".repeat(101)}), "name"),
        (Method::POST, "/v1/accounts".into(), json!({"name": "tab\there"}), "name"),
        (Method::POST, "/v1/accounts".into(), json!({"name": "ok", "extra": true}), "extra"),
        (Method::POST, "/v1/accounts".into(), json!({}), "body"),
        (Method::POST, "/v1/accounts".into(), json!([1, 2]), "[0]"),
        (Method::PATCH, format!("/v1/accounts/{acct}"), json!({"name": null, "owner": "me"}), "owner"),
        (Method::POST, sas.clone(), json!({"name": "n", "active": "yes"}), "active"),
        (Method::POST, sas.clone(), json!({"name": "n", "metadata": {"bad key": "v"}}), "metadata"),
        (Method::POST, sas.clone(), json!({"name": "n", "metadata": {"k": 1}}), "metadata.k"),
        (Method::POST, sas.clone(), json!({"name": "n", "description": "d".repeat(1001)}), "description"),
        (Method::POST, sas.clone(), json!({"name": "0190f1c2-7a3b-7c4d-8e5f-0123456789ab"}), "name"),
        (Method::PATCH, format!("{sas}/{sa}"), json!({"metadata": "flat"}), "metadata"),
        (Method::POST, keys.clone(), json!({"name": "k", "scopes": ["not a scope"]}), "scopes[0]"),
        (Method::POST, keys.clone(), json!({"name": "k", "scopes": "api-keys:read"}), "scopes"),
        (Method::POST, keys.clone(), json!({"name": "k", "ttl_seconds": -5}), "ttl_seconds"),
        (Method::POST, keys.clone(), json!({"name": "k", "ttl_seconds": 99_999_999_999_i64}), "ttl_seconds"),
        (
            Method::POST,
            keys.clone(),
            json!({"name": "k", "ttl_seconds": 60, "expires_at": "2030-01-01T00:00:00Z"}),
            "ttl_seconds",
        ),
        (Method::POST, keys.clone(), json!({"name": "k", "expires_at": "2020-01-01T00:00:00Z"}), "expires_at"),
        (Method::POST, keys.clone(), json!({"name": "k", "expires_at": "tomorrow"}), "expires_at"),
    ];
    for (method, path, body, field) in cases {
        let res = app.call(method.clone(), &path, Some(&app.admin), Some(body.clone())).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{method} {path} {body}: {:?}", res.body);
        assert_eq!(res.headers["content-type"], "application/problem+json");
        assert_eq!(res.code(), "validation_failed", "{body}");
        assert_eq!(res.body["field"], field, "{body}: {:?}", res.body);
        assert!(!res.body["detail"].as_str().unwrap().is_empty());
    }
    let example = app.post("/v1/accounts", &app.admin, json!({"name": ""})).await;
    insta::assert_json_snapshot!("problem_validation", example.body);
    let dup = app.post(&sas, &app.admin, json!({"name": "svc"})).await;
    insta::assert_json_snapshot!("problem_conflict", dup.body);
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "name_taken"));
    let dup_key = app.post(&keys, &app.admin, json!({"name": "key"})).await;
    assert_eq!(dup_key.code(), "name_taken");
    let _ = key;
    assert_eq!(state_of(&app, &acct, &sa).await, before, "no rejected request changed anything");
}

async fn wrong_shapes_of_request_are_refused(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let before = state_of(&app, &acct, &sa).await;

    let not_json = app.raw(Method::POST, "/v1/accounts", "application/json", b"{\"name\": ".to_vec()).await;
    assert_eq!((not_json.status, not_json.code()), (StatusCode::BAD_REQUEST, "malformed_json"));
    let text = app.raw(Method::POST, "/v1/accounts", "text/plain", br#"{"name":"t"}"#.to_vec()).await;
    assert_eq!((text.status, text.code()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    let huge = format!(r#"{{"name": "big", "description": "{}"}}"#, "x".repeat(200_000));
    let too_big = app
        .raw(Method::POST, &format!("/v1/accounts/{acct}/service-accounts"), "application/json", huge.into_bytes())
        .await;
    assert_eq!((too_big.status, too_big.code()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
    // Nesting deeper than the limit (32 by default) is refused before it is parsed, also inside
    // a field that would be refused anyway; brackets inside strings do not count.
    let deep = format!(r#"{{"name": "deep", "metadata": {{"a": {}1{}}}}}"#, "[".repeat(40), "]".repeat(40));
    let deep = app.raw(Method::POST, "/v1/accounts", "application/json", deep.into_bytes()).await;
    assert_eq!((deep.status, deep.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("body")), "{:?}", deep.body);
    assert!(deep.body["detail"].as_str().unwrap().contains("32 levels"));
    let trailing = app.raw(Method::POST, "/v1/accounts", "application/json", br#"{"name":"t"} {}"#.to_vec()).await;
    assert_eq!(trailing.code(), "malformed_json");

    for (path, field) in [
        ("/v1/accounts/not-an-id".to_owned(), "account_id"),
        (format!("/v1/accounts/{acct}/service-accounts/123"), "service_account_id"),
        (format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys/{}", "x".repeat(101)), "key_id_or_name"),
        ("/v1/accounts?limit=0".to_owned(), "limit"),
        ("/v1/accounts?limit=abc".to_owned(), "limit"),
        ("/v1/accounts?color=red".to_owned(), "color"),
        (format!("/v1/accounts/{acct}/service-accounts?active=maybe"), "active"),
        (format!("/v1/accounts/{acct}/service-accounts?sort=colour"), "sort"),
        (format!("/v1/accounts/{acct}/audit-events?from=yesterday"), "from"),
        (format!("/v1/accounts/{acct}/audit-events?action=delete_everything"), "action"),
        (format!("/v1/accounts/{acct}/api-keys?service_account_id=nope"), "service_account_id"),
    ] {
        let res = app.get(&path, &app.admin).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(res.body["field"], field, "{path}: {:?}", res.body);
    }
    let unknown = app
        .get(&format!("/v1/accounts/{acct}/service-accounts/0190f1c2-7a3b-7c4d-8e5f-0123456789ab"), &app.admin)
        .await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "not_found"));
    let no_route = app.get("/v2/nothing", &app.admin).await;
    assert_eq!((no_route.status, no_route.code()), (StatusCode::NOT_FOUND, "not_found"));
    let wrong_method = app.call(Method::PUT, "/v1/accounts", Some(&app.admin), Some(json!({}))).await;
    assert_eq!((wrong_method.status, wrong_method.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    assert_eq!(state_of(&app, &acct, &sa).await, before, "no rejected request changed anything");
    let brackets = format!(r#"{{"name": "{}"}}"#, "[".repeat(60));
    let brackets = app.raw(Method::POST, "/v1/accounts", "application/json", brackets.into_bytes()).await;
    assert_eq!(brackets.status, StatusCode::CREATED, "brackets in a string are text: {:?}", brackets.body);
}

http_tests!(invalid_bodies_name_the_field_and_change_nothing, wrong_shapes_of_request_are_refused);

/// A handler that panics answers 500 problem+json, and the panic's message (which could hold a
/// secret) is not in it.
#[tokio::test]
async fn a_panicking_handler_answers_500_without_its_message() {
    let secret = format!("kw_ak_{}_{}", "0".repeat(32), "1".repeat(72));
    let message = secret.clone();
    let app = axum::Router::new()
        .route(
            "/boom",
            axum::routing::get(move || {
                let message = message.clone();
                async move {
                    if !message.is_empty() {
                        panic!("{message}");
                    }
                    "never"
                }
            }),
        )
        .layer(api::catch_panics());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let res = reqwest::get(format!("http://{addr}/boom")).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body = res.text().await.unwrap();
    assert!(body.contains("\"code\":\"internal\"") && !body.contains("kw_ak_"), "{body}");
}
