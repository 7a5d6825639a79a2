//! Key lists with the filters, sorts and field selection of the seed products' list calls.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::{TestApp, spawn};

fn names(body: &Value) -> Vec<String> {
    body["items"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap().to_owned()).collect()
}

/// All names across every page, following cursors.
async fn all_names(app: &TestApp, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut url = format!("{path}&limit=2");
    loop {
        let page = app.get(&url, &app.admin).await;
        assert_eq!(page.status, StatusCode::OK, "{url}: {:?}", page.body);
        out.extend(names(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(c) => url = format!("{path}&limit=2&cursor={c}"),
            None => return out,
        }
    }
}

async fn filters_and_sorts_match_what_the_seeds_can_ask(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    // Created one minute apart: old (expires soon, underscore scope), mid (never expires), new (disabled).
    for (name, body) in [
        ("old", json!({"name": "old", "scopes": ["logs:read_all"], "ttl_seconds": 600})),
        ("mid", json!({"name": "mid", "scopes": ["logs:readxall"]})),
        ("new", json!({"name": "new", "scopes": ["metrics:write"], "ttl_seconds": 7200})),
    ] {
        app.clock.advance(Duration::minutes(1));
        assert_eq!(app.post(&keys, &app.admin, body).await.status, StatusCode::CREATED, "{name}");
    }
    app.patch(&format!("{keys}/new"), &app.admin, json!({"active": false})).await;
    let mid = app.post(&format!("{keys}/mid/rotate"), &app.admin, json!({"retain_period_seconds": 0})).await;
    let mid_secret = mid.body["secret"].as_str().unwrap().to_owned();
    app.get(&format!("/v1/accounts/{acct}"), &mid_secret).await;
    app.flush_usage().await;

    let q = |query: &str| format!("{keys}?{query}");
    assert_eq!(all_names(&app, &q("sort=name")).await, ["key", "mid", "new", "old"]);
    assert_eq!(all_names(&app, &q("sort=-created_at")).await, ["new", "mid", "old", "key"]);
    assert_eq!(all_names(&app, &q("scope=logs:read_all")).await, ["old"], "`_` is matched literally");
    assert_eq!(all_names(&app, &q("active=false")).await, ["new"]);
    assert_eq!(all_names(&app, &q("name=mid")).await, ["mid"]);
    assert_eq!(all_names(&app, &q("created_from=now-90s&sort=name")).await, ["mid", "new"]);
    assert_eq!(all_names(&app, &q("created_to=now-90s&sort=name")).await, ["key", "old"]);
    assert_eq!(all_names(&app, &q("last_used_from=now-1m")).await, ["mid"]);
    assert_eq!(all_names(&app, &q("sort=expires_at")).await, ["old", "new", "key", "mid"], "no expiry sorts last");
    assert_eq!(
        all_names(&app, &q("sort=-expires_at")).await,
        ["new", "old", "mid", "key"],
        "last in both directions, ties by id in the same direction"
    );
    assert_eq!(
        all_names(&app, &q("sort=-last_used_at")).await,
        ["mid", "new", "old", "key"],
        "never used: last, by id"
    );

    app.clock.advance(Duration::minutes(10));
    assert_eq!(all_names(&app, &q("expired=true")).await, ["old"]);
    assert_eq!(all_names(&app, &q("expired=false&sort=name")).await, ["key", "mid", "new"]);
    let wide = app.get(&format!("/v1/accounts/{acct}/api-keys?service_account_id={sa}&expired=true"), &app.admin).await;
    assert_eq!(names(&wide.body), ["old"]);
}

async fn fields_choose_what_each_item_holds(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, _) = app.tenant("acme", &["logs:read"]).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let slim = app.get(&format!("{keys}?fields=name,state"), &app.admin).await;
    let item = slim.body["items"][0].as_object().unwrap();
    let mut shown: Vec<&str> = item.keys().map(String::as_str).collect();
    shown.sort_unstable();
    assert_eq!(shown, ["id", "name", "state"]);
    let bad = app.get(&format!("{keys}?fields=name,secret"), &app.admin).await;
    assert_eq!((bad.status, bad.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("fields")));
    for (query, field) in [
        ("sort=colour", "sort"),
        ("scope=Not%20A%20Scope", "scope"),
        ("expired=soon", "expired"),
        ("created_from=last-week", "created_from"),
        ("last_used_to=now%2B1q", "last_used_to"),
        ("service_account_id=x", "service_account_id"),
    ] {
        let res = app.get(&format!("{keys}?{query}"), &app.admin).await;
        assert_eq!((res.status, res.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{query}");
    }
    let first = app.get(&format!("{keys}?sort=name&limit=1"), &app.admin).await;
    assert!(first.body["next_cursor"].is_null(), "one key, one page");
}

/// A service account's list filtered by another service account is empty, but only for a caller
/// who may read that list at all: the domain decides, after its permission and tenancy checks.
async fn another_service_accounts_filter_is_checked_before_it_empties_the_list(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, unprivileged) = app.tenant("acme", &["logs:read"]).await;
    let other = "0190f1c2-7a3b-7c4d-8e5f-0123456789ab";
    let filtered = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys?service_account_id={other}");

    let admin = app.get(&filtered, &app.admin).await;
    assert_eq!((admin.status, &admin.body), (StatusCode::OK, &json!({"items": [], "next_cursor": null})));

    let refused = app.get(&filtered, &unprivileged).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);

    let missing = format!("/v1/accounts/{acct}/service-accounts/{other}/api-keys?service_account_id={sa}");
    assert_eq!(app.get(&missing, &app.admin).await.status, StatusCode::NOT_FOUND, "no such service account");
}

http_tests!(
    filters_and_sorts_match_what_the_seeds_can_ask,
    fields_choose_what_each_item_holds,
    another_service_accounts_filter_is_checked_before_it_empties_the_list
);
