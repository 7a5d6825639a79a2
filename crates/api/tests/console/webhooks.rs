//! Webhooks in the console: an administrator adds an endpoint (its secret shown once), sees a
//! refusal next to its field, sees how deliveries went, and removes it.

use reqwest::StatusCode;
use serde_json::json;
use storage::testing::TestDb;

use crate::client::Browser;
use crate::common::receiver::TestReceiver;
use crate::common::spawn;

async fn an_administrator_adds_watches_and_removes_an_endpoint(db: TestDb) {
    let app = spawn(db).await;
    let receiver = TestReceiver::start().await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let mut browser = Browser::new(&app.base);
    browser.sign_in(&app.admin).await;
    let account_page = browser.get(&format!("/console/accounts/{acct}")).await;
    let page = format!("/console/accounts/{acct}/webhooks");
    assert!(account_page.html.contains(&format!("href=\"{page}\"")), "the account's page links to them");

    let empty = browser.get(&page).await;
    assert_eq!(empty.status, StatusCode::OK);
    let csrf = empty.csrf();
    let refused =
        browser.post(&page, &[("csrf", &csrf), ("url", "not a url"), ("event.credential.leaked", "on")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains(r#"data-field="url""#), "the problem shows next to its field");
    let none = browser.post(&page, &[("csrf", &csrf), ("url", &receiver.url)]).await;
    assert!(none.html.contains(r#"data-field="events""#), "at least one event must be ticked");

    let added = browser
        .post(
            &page,
            &[
                ("csrf", &csrf),
                ("url", &receiver.url),
                ("event.credential.leaked", "on"),
                ("event.credential.revoked", "on"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.html);
    assert!(added.html.contains("value=\"whsec_"), "the secret is shown once");
    assert!(!browser.get(&page).await.html.contains("whsec_"), "and never again");

    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let key = app.post(&keys, &app.admin, json!({"name": "k", "scopes": []})).await;
    let report = app.client.post(format!("{}/v1/credentials/revoke", app.base));
    report.json(&json!({"credentials": [key.body["secret"]]})).send().await.unwrap();
    let kw = app.keyward.clone();
    tokio::task::spawn_blocking(move || kw.deliver_due_webhooks(10)).await.unwrap().unwrap();
    let watched = browser.get(&page).await;
    assert!(watched.html.contains("<code>credential.leaked</code>"), "{}", watched.html);
    assert!(watched.html.contains(r#"<span class="badge active">delivered</span>"#));
    assert!(watched.html.contains("HTTP 204"));

    let id =
        regex::Regex::new(r"webhooks/([0-9a-f-]{36})/delete").unwrap().captures(&watched.html).unwrap()[1].to_owned();
    let removed = browser.post(&format!("{page}/{id}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let api = app.get(&format!("/v1/accounts/{acct}/webhooks"), &app.admin).await;
    assert_eq!(api.body["items"], json!([]), "removed for the API too");
}

http_tests!(an_administrator_adds_watches_and_removes_an_endpoint);
