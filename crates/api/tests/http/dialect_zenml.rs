//! The ZenML dialect through the real HTTP stack: server info, login with an API key, the
//! service-account and API-key routes with ZenML's filters and pages, its errors and tenancy.

use insta::assert_json_snapshot;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::{Answer, TestApp, spawn};

const SAS: &str = "/api/v1/service_accounts";

async fn login(app: &TestApp, key: &str) -> Answer {
    let res = app
        .client
        .post(format!("{}/api/v1/login", app.base))
        .form(&[("grant_type", "zenml-api-key"), ("password", key)])
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    Answer { status, headers, body: res.json().await.unwrap() }
}

async fn zen(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Answer {
    app.send(method, path, &[("authorization", &format!("Bearer {token}"))], body).await
}

async fn a_client_logs_in_and_manages_service_accounts_and_keys(db: TestDb) {
    let app = spawn(db).await;
    let (_, _, _, key) = app.tenant("acme", &["service-accounts:write", "api-keys:write"]).await;
    let info = app.send(Method::GET, "/api/v1/info", &[], None).await;
    assert_json_snapshot!("zenml_info", info.body, {".id" => "[id]", ".server_url" => "[url]"});

    let session = login(&app, &key).await;
    assert_eq!(session.status, StatusCode::OK, "{:?}", session.body);
    assert_json_snapshot!("zenml_login", session.body, {".access_token" => "[jwt]"});
    let token = session.body["access_token"].as_str().unwrap().to_owned();

    let me = zen(&app, Method::GET, "/api/v1/current-user", &token, None).await;
    assert_eq!((me.body["name"].as_str(), me.body["body"]["is_service_account"].as_bool()), (Some("svc"), Some(true)));

    let sa =
        zen(&app, Method::POST, SAS, &token, Some(json!({"name": "ci", "full_name": "CI bot", "active": true}))).await;
    assert_eq!(sa.status, StatusCode::OK, "{:?}", sa.body);
    assert_json_snapshot!("zenml_service_account", sa.body, {".id" => "[id]", ".body.created" => "[time]", ".body.updated" => "[time]"});
    let sa_id = sa.body["id"].as_str().unwrap().to_owned();
    assert_eq!(zen(&app, Method::GET, &format!("{SAS}/ci"), &token, None).await.body["id"], sa_id.as_str());

    let keys = format!("{SAS}/{sa_id}/api_keys");
    let made = zen(&app, Method::POST, &keys, &token, Some(json!({"name": "deploy", "description": "deploys"}))).await;
    assert_json_snapshot!("zenml_api_key_created", made.body, {
        ".id" => "[id]", ".body.created" => "[time]", ".body.updated" => "[time]", ".body.key" => "[key]",
        ".body.service_account.id" => "[id]", ".body.service_account.body.created" => "[time]", ".body.service_account.body.updated" => "[time]"
    });
    for i in 0..3 {
        zen(&app, Method::POST, &keys, &token, Some(json!({"name": format!("k{i}")}))).await;
    }
    let page =
        zen(&app, Method::GET, &format!("{keys}?sort_by=asc:name&size=2&page=2&hydrate=false"), &token, None).await;
    assert_eq!(
        (
            page.body["index"].as_u64(),
            page.body["total"].as_u64(),
            page.body["total_pages"].as_u64(),
            page.body["max_size"].as_u64()
        ),
        (Some(2), Some(4), Some(2), Some(2))
    );
    let names: Vec<&str> = page.body["items"].as_array().unwrap().iter().filter_map(|k| k["name"].as_str()).collect();
    assert_eq!(names, ["k1", "k2"]);
    let filtered = zen(
        &app,
        Method::GET,
        &format!("{keys}?name=startswith:k&description=deploys&logical_operator=or"),
        &token,
        None,
    )
    .await;
    assert_eq!(filtered.body["total"], 4);
    let none = zen(&app, Method::GET, &format!("{keys}?active=false"), &token, None).await;
    assert_eq!(none.body["total"], 0);

    let rotated =
        zen(&app, Method::PUT, &format!("{keys}/deploy/rotate"), &token, Some(json!({"retain_period_minutes": 15})))
            .await;
    assert_eq!(rotated.body["metadata"]["retain_period_minutes"], 15, "{:?}", rotated.body);
    assert!(rotated.body["body"]["key"].as_str().unwrap().starts_with("kw_ak_"));
    let off = zen(&app, Method::PUT, &format!("{keys}/deploy"), &token, Some(json!({"active": false}))).await;
    assert_eq!(off.body["body"]["active"], false);
    let refused = login(&app, rotated.body["body"]["key"].as_str().unwrap()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "a disabled key cannot log in");
    assert_json_snapshot!("zenml_unauthorized", refused.body);
    assert_eq!(refused.headers["www-authenticate"], "Bearer");

    let own = zen(&app, Method::PUT, &format!("{SAS}/svc"), &token, Some(json!({"active": false}))).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    assert_json_snapshot!("zenml_own_service_account", own.body);
    assert_eq!(zen(&app, Method::DELETE, &format!("{keys}/deploy"), &token, None).await.body, Value::Null);
    let gone = zen(&app, Method::GET, &format!("{keys}/deploy"), &token, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_json_snapshot!("zenml_not_found", gone.body);
    let bad = zen(&app, Method::GET, &format!("{keys}?size=10001"), &token, None).await;
    assert_eq!((bad.status, bad.body["detail"][0].as_str()), (StatusCode::BAD_REQUEST, Some("ValueError")));
    let password = app
        .client
        .post(format!("{}/api/v1/login", app.base))
        .form(&[("username", "alice"), ("password", "hunter2")])
        .send()
        .await
        .unwrap();
    assert_eq!(password.status(), StatusCode::UNAUTHORIZED);
}

async fn another_accounts_service_accounts_are_not_found(db: TestDb) {
    let app = spawn(db).await;
    let (_, a_sa, _, _) = app.tenant("acme", &[]).await;
    let (_, _, _, b) = app.tenant("globex", &["service-accounts:write", "api-keys:write"]).await;
    let token = login(&app, &b).await.body["access_token"].as_str().unwrap().to_owned();
    for (method, path) in [
        (Method::GET, format!("{SAS}/{a_sa}")),
        (Method::PUT, format!("{SAS}/{a_sa}")),
        (Method::DELETE, format!("{SAS}/{a_sa}")),
        (Method::GET, format!("{SAS}/{a_sa}/api_keys")),
        (Method::POST, format!("{SAS}/{a_sa}/api_keys")),
        (Method::GET, format!("{SAS}/{a_sa}/api_keys/key")),
        (Method::PUT, format!("{SAS}/{a_sa}/api_keys/key/rotate")),
    ] {
        let answer = zen(&app, method.clone(), &path, &token, Some(json!({"name": "x"}))).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}: {:?}", answer.body);
    }
    let listed = zen(&app, Method::GET, SAS, &token, None).await;
    assert_eq!(listed.body["total"], 1, "only globex's own service account");
}

async fn the_account_is_the_one_project_with_one_empty_stack(db: TestDb) {
    let app = spawn(db).await;
    let (account, _, _, key) = app.tenant("acme", &[]).await;
    let (other, _, _, b) = app.tenant("globex", &[]).await;
    let token = login(&app, &key).await.body["access_token"].as_str().unwrap().to_owned();
    let b_token = login(&app, &b).await.body["access_token"].as_str().unwrap().to_owned();

    let projects = zen(&app, Method::GET, "/api/v1/projects", &token, None).await;
    assert_eq!(projects.status, StatusCode::OK, "{:?}", projects.body);
    assert_json_snapshot!("zenml_projects", projects.body, {
        ".items[].id" => "[id]", ".items[].body.created" => "[time]", ".items[].body.updated" => "[time]"
    });
    assert_eq!(projects.body["items"][0]["id"], account.as_str(), "the project is the account");
    for name_or_id in ["default", account.as_str()] {
        let one = zen(&app, Method::GET, &format!("/api/v1/projects/{name_or_id}?hydrate=True"), &token, None).await;
        assert_eq!((one.status, one.body["body"]["display_name"].as_str()), (StatusCode::OK, Some("acme")));
    }

    let stacks = zen(&app, Method::GET, "/api/v1/stacks?name=default", &token, None).await;
    assert_json_snapshot!("zenml_stacks", stacks.body, {
        ".items[].id" => "[id]", ".items[].body.created" => "[time]", ".items[].body.updated" => "[time]"
    });
    let stack_id = stacks.body["items"][0]["id"].as_str().unwrap().to_owned();
    let stack = zen(&app, Method::GET, &format!("/api/v1/stacks/{stack_id}"), &token, None).await;
    assert_eq!((stack.status, stack.body["name"].as_str()), (StatusCode::OK, Some("default")));
    let none = zen(&app, Method::GET, "/api/v1/stacks?name=gpu", &token, None).await;
    assert_eq!(none.body["total"], 0, "filters apply: there is no stack `gpu`");
    let stacks_again = zen(&app, Method::GET, "/api/v1/stacks", &token, None).await;
    assert_eq!(stacks_again.body["items"][0]["id"], stack_id.as_str(), "the stack's id is stable");

    // Another account sees its own project and stack, never acme's.
    for path in [format!("/api/v1/projects/{account}"), format!("/api/v1/stacks/{stack_id}")] {
        let answer = zen(&app, Method::GET, &path, &b_token, None).await;
        assert_eq!((answer.status, answer.body["detail"][0].as_str()), (StatusCode::NOT_FOUND, Some("KeyError")));
    }
    let theirs = zen(&app, Method::GET, "/api/v1/projects", &b_token, None).await;
    assert_eq!(theirs.body["items"][0]["id"], other.as_str());
    let theirs = zen(&app, Method::GET, "/api/v1/stacks", &b_token, None).await;
    assert_ne!(theirs.body["items"][0]["id"], stack_id.as_str());
    let anonymous = app.send(Method::GET, "/api/v1/stacks", &[], None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

http_tests!(
    a_client_logs_in_and_manages_service_accounts_and_keys,
    another_accounts_service_accounts_are_not_found,
    the_account_is_the_one_project_with_one_empty_stack
);
