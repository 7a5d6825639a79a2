//! The Dynatrace API tokens v2 dialect through the real HTTP stack: its wire shapes, its
//! selector, fields, times, sort and paging, its self-protection rule and its tenancy.

use insta::assert_json_snapshot;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::{Answer, TestApp, spawn};

const TOKENS: &str = "/api/v2/apiTokens";

async fn dt(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> Answer {
    app.send(method, path, &[("authorization", &format!("Api-Token {token}"))], body).await
}

fn names(list: &Answer) -> Vec<String> {
    list.body["apiTokens"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap_or("").to_owned()).collect()
}

async fn a_token_lives_its_whole_life_through_the_dynatrace_api(db: TestDb) {
    let app = spawn(db).await;
    let (_, _, manager_id, manager) = app.tenant("acme", &["apiTokens.read", "apiTokens.write", "metrics.read"]).await;

    let created = dt(
        &app,
        Method::POST,
        TOKENS,
        &manager,
        Some(json!({"name": "ingest", "scopes": ["metrics.read"], "expirationDate": "now+14d", "personalAccessToken": null})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_json_snapshot!("dynatrace_created", created.body, {".id" => "[id]", ".token" => "[token]", ".expirationDate" => "[time]"});
    let id = created.body["id"].as_str().unwrap().to_owned();
    let token = created.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("kw_ak_"));

    let got = dt(&app, Method::GET, &format!("{TOKENS}/{id}"), &manager, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_json_snapshot!("dynatrace_token", got.body, {".id" => "[id]", ".creationDate" => "[time]", ".expirationDate" => "[time]"});
    let by_secret = dt(&app, Method::GET, &format!("{TOKENS}/{token}"), &manager, None).await;
    assert_eq!(by_secret.body["id"], id.as_str(), "the token itself names it too");

    let renamed =
        dt(&app, Method::PUT, &format!("{TOKENS}/{id}"), &manager, Some(json!({"name": "ingest-2", "enabled": false})))
            .await;
    assert_eq!(renamed.status, StatusCode::NO_CONTENT, "{:?}", renamed.body);
    let looked_up = dt(&app, Method::POST, &format!("{TOKENS}/lookup"), &manager, Some(json!({"token": token}))).await;
    assert_eq!((looked_up.body["name"].as_str(), looked_up.body["enabled"].as_bool()), (Some("ingest-2"), Some(false)));
    let refused = dt(&app, Method::GET, TOKENS, &token, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "a disabled token no longer authenticates");
    assert_json_snapshot!("dynatrace_unauthorized", refused.body);

    let itself = dt(&app, Method::DELETE, &format!("{TOKENS}/{manager_id}"), &manager, None).await;
    assert_eq!(itself.status, StatusCode::BAD_REQUEST, "a token cannot delete itself");
    assert_json_snapshot!("dynatrace_own_token", itself.body);
    let disable_itself =
        dt(&app, Method::PUT, &format!("{TOKENS}/{manager_id}"), &manager, Some(json!({"enabled": false}))).await;
    assert_eq!(disable_itself.status, StatusCode::BAD_REQUEST, "nor disable itself");

    let escalation =
        dt(&app, Method::POST, TOKENS, &manager, Some(json!({"name": "x", "scopes": ["DataExport"]}))).await;
    assert_eq!(escalation.status, StatusCode::FORBIDDEN, "{:?}", escalation.body);
    let personal =
        dt(&app, Method::POST, TOKENS, &manager, Some(json!({"name": "x", "scopes": [], "personalAccessToken": true})))
            .await;
    assert_eq!(personal.status, StatusCode::BAD_REQUEST);
    assert!(personal.body["error"]["message"].as_str().unwrap().starts_with("personalAccessToken"));

    let deleted = dt(&app, Method::DELETE, &format!("{TOKENS}/{id}"), &manager, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = dt(&app, Method::GET, &format!("{TOKENS}/{id}"), &manager, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["error"]["code"], 404);
    let bearer = app.get(TOKENS, &manager).await;
    assert_eq!(bearer.status, StatusCode::OK, "Bearer works as well as Api-Token");
    let events = app
        .get(&format!("/v1/accounts/{}/audit-events?limit=100", created_account(&app, &manager).await), &app.admin)
        .await;
    let actions: Vec<&str> =
        events.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"api_key.delete") && actions.contains(&"api_key.update"), "{actions:?}");
}

/// The account of the key `secret`, from its own view of its tokens.
async fn created_account(app: &TestApp, secret: &str) -> String {
    let me = app.post("/v1/api-keys/lookup", &app.admin, json!({"key": secret})).await;
    me.body["account_id"].as_str().unwrap().to_owned()
}

async fn lists_take_every_dynatrace_parameter(db: TestDb) {
    let app = spawn(db).await;
    let (acct, _, _, manager) = app.tenant("acme", &["apiTokens.write", "metrics.read", "logs.read"]).await;
    let other_sa =
        app.post(&format!("/v1/accounts/{acct}/service-accounts"), &app.admin, json!({"name": "batch"})).await;
    let other_sa = other_sa.body["id"].as_str().unwrap();
    app.post(
        &format!("/v1/accounts/{acct}/service-accounts/{other_sa}/api-keys"),
        &app.admin,
        json!({"name": "batch-key", "scopes": ["logs.read"]}),
    )
    .await;
    for (name, scope) in [("alpha", "metrics.read"), ("beta", "logs.read"), ("gamma", "metrics.read")] {
        let made = dt(&app, Method::POST, TOKENS, &manager, Some(json!({"name": name, "scopes": [scope]}))).await;
        assert_eq!(made.status, StatusCode::CREATED);
    }
    let beta =
        dt(&app, Method::GET, &format!("{TOKENS}?apiTokenSelector=owner(%22svc%22)&sort=name"), &manager, None).await;
    assert_eq!(names(&beta), ["alpha", "beta", "gamma", "key"], "owner() is the service account's name");
    assert_json_snapshot!("dynatrace_list", beta.body, {".apiTokens[].id" => "[id]", ".apiTokens[].creationDate" => "[time]"});

    let by_scope =
        dt(&app, Method::GET, &format!("{TOKENS}?apiTokenSelector=scope(%22logs.read%22)&sort=-name"), &manager, None)
            .await;
    assert_eq!(names(&by_scope), ["key", "beta", "batch-key"], "the manager's own key holds logs.read too");
    let either = dt(
        &app,
        Method::GET,
        &format!("{TOKENS}?apiTokenSelector=scope(%22logs.read%22,%22metrics.read%22),owner(%22svc%22)&sort=%2Bname"),
        &manager,
        None,
    )
    .await;
    assert_eq!(names(&either), ["alpha", "beta", "gamma", "key"], "scopes OR, criteria AND");
    let personal =
        dt(&app, Method::GET, &format!("{TOKENS}?apiTokenSelector=personalAccessToken(true)"), &manager, None).await;
    assert_eq!(names(&personal), Vec::<String>::new());

    let fields =
        dt(&app, Method::GET, &format!("{TOKENS}?fields=%2Bscopes,-owner,-creationDate&sort=name"), &manager, None)
            .await;
    let first = fields.body["apiTokens"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["enabled", "id", "name", "scopes"]);
    let explicit = dt(&app, Method::GET, &format!("{TOKENS}?fields=name"), &manager, None).await;
    assert_eq!(explicit.body["apiTokens"][0].as_object().unwrap().len(), 2, "id is always returned");

    // Use one token, then filter on last use with each time format.
    let gamma = dt(
        &app,
        Method::GET,
        &format!("{TOKENS}?apiTokenSelector=owner(%22svc%22)&fields=name&sort=name"),
        &manager,
        None,
    )
    .await;
    assert_eq!(gamma.status, StatusCode::OK);
    app.flush_usage().await;
    let now_ms = app.keyward.now().timestamp_millis();
    for from in
        ["now-1h", "now-1d/d", &(now_ms - 1000).to_string(), "2026-06-01 08:00", "2026-06-01T10:00:00.000+01:00"]
    {
        let used = dt(&app, Method::GET, &format!("{TOKENS}?from={}", urlencode(from)), &manager, None).await;
        assert_eq!(names(&used), ["key"], "from={from}: {:?}", used.body);
    }
    let before = dt(&app, Method::GET, &format!("{TOKENS}?from=now-1y&to={}", now_ms - 1000), &manager, None).await;
    assert_eq!(names(&before), Vec::<String>::new());
    let sorted = dt(&app, Method::GET, &format!("{TOKENS}?sort=-lastUsedDate&fields=name"), &manager, None).await;
    assert_eq!(names(&sorted)[0], "key", "most recently used first");

    for bad in [
        "pageSize=99",
        "pageSize=10001",
        "sort=owner",
        "fields=%2Bsecret",
        "from=yesterday",
        "apiTokenSelector=color(1)",
        "colour=red",
    ] {
        let refused = dt(&app, Method::GET, &format!("{TOKENS}?{bad}"), &manager, None).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", refused.body);
        assert_eq!(refused.body["error"]["code"], 400);
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(' ', "%20").replace(':', "%3A")
}

async fn pages_follow_next_page_key_alone(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, manager) = app.tenant("acme", &["apiTokens.read"]).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    for i in 0..130 {
        let made = app.post(&keys, &app.admin, json!({"name": format!("k{i:03}")})).await;
        assert_eq!(made.status, StatusCode::CREATED);
    }
    let first = dt(&app, Method::GET, &format!("{TOKENS}?pageSize=100&sort=name&fields=name"), &manager, None).await;
    assert_eq!((first.body["apiTokens"].as_array().unwrap().len(), first.body["pageSize"].as_u64()), (100, Some(100)));
    let key = first.body["nextPageKey"].as_str().unwrap().to_owned();
    let second = dt(&app, Method::GET, &format!("{TOKENS}?nextPageKey={key}"), &manager, None).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    let mut all = names(&first);
    all.extend(names(&second));
    assert_eq!(all.len(), 131);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "the second page continues the first's sort");
    assert!(second.body.get("nextPageKey").is_none());
    assert!(second.body["apiTokens"][0].get("owner").is_none(), "the page key carries the fields too");

    let with_more = dt(&app, Method::GET, &format!("{TOKENS}?nextPageKey={key}&pageSize=100"), &manager, None).await;
    assert_eq!(with_more.status, StatusCode::BAD_REQUEST);
    let tampered =
        dt(&app, Method::GET, &format!("{TOKENS}?nextPageKey={}x", &key[..key.len() - 1]), &manager, None).await;
    assert_eq!(tampered.status, StatusCode::BAD_REQUEST);
    let (_, _, _, stranger) = app.tenant("globex", &["apiTokens.read"]).await;
    let replayed = dt(&app, Method::GET, &format!("{TOKENS}?nextPageKey={key}"), &stranger, None).await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST, "a page key works only in its own account");
}

async fn another_accounts_tokens_are_not_found(db: TestDb) {
    let app = spawn(db).await;
    let (_, _, a_key_id, a) = app.tenant("acme", &["apiTokens.read", "apiTokens.write"]).await;
    let (_, _, _, b) = app.tenant("globex", &["apiTokens.read", "apiTokens.write"]).await;
    for (method, path, body) in [
        (Method::GET, format!("{TOKENS}/{a_key_id}"), None),
        (Method::PUT, format!("{TOKENS}/{a_key_id}"), Some(json!({"name": "mine"}))),
        (Method::DELETE, format!("{TOKENS}/{a_key_id}"), None),
        (Method::POST, format!("{TOKENS}/lookup"), Some(json!({"token": a}))),
    ] {
        let answer = dt(&app, method.clone(), &path, &b, body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}: {:?}", answer.body);
    }
    let list = dt(&app, Method::GET, TOKENS, &b, None).await;
    assert_eq!(names(&list), ["key"], "only globex's own key");
    let still = dt(&app, Method::GET, &format!("{TOKENS}/{a_key_id}"), &a, None).await;
    assert_eq!(still.body["name"], "key", "nothing of acme's changed");
}

http_tests!(
    a_token_lives_its_whole_life_through_the_dynatrace_api,
    lists_take_every_dynatrace_parameter,
    pages_follow_next_page_key_alone,
    another_accounts_tokens_are_not_found,
);
