//! Federated credentials in the console: an administrator adds one, tries a token against it,
//! sees a refusal next to its field, and removes it.

use domain::Clock as _;
use reqwest::StatusCode;
use storage::testing::TestDb;

use crate::client::Browser;
use crate::common::issuer::TestIssuer;
use crate::common::spawn;

async fn an_administrator_adds_tries_and_removes_a_federated_credential(db: TestDb) {
    let app = spawn(db).await;
    let issuer = TestIssuer::start().await;
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let mut browser = Browser::new(&app.base);
    assert_eq!(browser.sign_in(&app.admin).await.status, StatusCode::SEE_OTHER);
    let owner = browser.get(&format!("/console/accounts/{acct}/service-accounts/{sa}")).await;
    let page = format!("/console/accounts/{acct}/service-accounts/{sa}/federated-credentials");
    assert!(owner.html.contains(&format!("href=\"{page}\"")), "the service account's page links to them");

    let list = browser.get(&page).await;
    assert_eq!(list.status, StatusCode::OK);
    let csrf = list.csrf();
    let form = |name: &'static str, owner_claim: &'static str| {
        vec![
            ("name", name.to_owned()),
            ("issuer", issuer.url.clone()),
            ("audiences", "https://keyward.example".to_owned()),
            ("claims", format!("repository_owner={owner_claim}\nref=refs/heads/*")),
            ("scopes", "service-accounts:read".to_owned()),
        ]
    };
    let with_csrf = |fields: Vec<(&'static str, String)>| {
        let mut all = vec![("csrf", csrf.clone())];
        all.extend(fields);
        all
    };

    let mut bad = form("ci", "octo-org");
    bad[2].1 = String::new();
    let refused = browser.post(&page, &as_refs(&with_csrf(bad))).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains(r#"data-field="audiences""#), "the problem shows next to its field");

    let added = browser.post(&page, &as_refs(&with_csrf(form("ci", "octo-org")))).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.html);
    assert!(added.html.contains(r#"data-credential="ci""#));
    let id = regex::Regex::new(r"federated-credentials/([0-9a-f-]{36})/test").unwrap().captures(&added.html).unwrap()
        [1]
    .to_owned();

    let token = issuer.sign(&issuer.github_claims("https://keyward.example", app.clock.now().timestamp()));
    let tried = browser.post(&format!("{page}/{id}/test"), &[("csrf", &csrf), ("token", &token)]).await;
    assert_eq!(tried.status, StatusCode::OK);
    assert!(tried.html.contains("This token would be exchanged."), "{}", tried.html);
    let other = issuer.sign(&issuer.github_claims("https://elsewhere.example", app.clock.now().timestamp()));
    let tried = browser.post(&format!("{page}/{id}/test"), &[("csrf", &csrf), ("token", &other)]).await;
    assert!(tried.html.contains("This token would be refused."));
    assert!(tried.html.contains(r#"data-check="audience""#));

    let removed = browser.post(&format!("{page}/{id}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let api = app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}/federated-credentials"), &app.admin).await;
    assert_eq!(api.body["items"], serde_json::json!([]), "removed for the API too");
}

fn as_refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

http_tests!(an_administrator_adds_tries_and_removes_a_federated_credential);
