//! A leaked key in the console: its state shows, and only the "leak handled" action enables it.

use reqwest::StatusCode;
use serde_json::json;
use storage::testing::TestDb;

use crate::client::Browser;
use crate::common::spawn;

async fn a_leaked_key_shows_as_leaked_and_is_enabled_on_purpose(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let created = app.post(&keys, &app.admin, json!({"name": "exposed", "scopes": []})).await;
    let (id, secret) = (created.body["id"].as_str().unwrap(), created.body["secret"].as_str().unwrap());
    let reported =
        app.client.post(format!("{}/v1/credentials/revoke", app.base)).json(&json!({"credentials": [secret]})).send();
    assert_eq!(reported.await.unwrap().status(), StatusCode::ACCEPTED);

    let mut browser = Browser::new(&app.base);
    browser.sign_in(&app.admin).await;
    let page = format!("/console/accounts/{acct}/service-accounts/{sa}");
    let owner = browser.get(&page).await;
    assert!(owner.html.contains(r#"<span class="badge leaked""#), "{}", owner.html);
    let enable = format!("{page}/api-keys/{id}/enable-after-leak");
    assert!(owner.html.contains(&format!(r#"action="{enable}""#)), "the one way to enable it");
    assert!(!owner.html.contains(&format!(r#"action="{page}/api-keys/{id}/enable""#)));

    let done = browser.post(&enable, &[("csrf", &owner.csrf())]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("{keys}/{id}"), &app.admin).await.body["state"], "active");
}

http_tests!(a_leaked_key_shows_as_leaked_and_is_enabled_on_purpose);
