//! The console's rules over plain HTTP: strict cookies, CSRF on every form, sign-out that revokes,
//! the limiter on failed sign-ins, field-level problems, and accounts kept apart.

use api::AuthLimits;
use domain::SeededEntropy;
use domain::credential::{Credential, CredentialKind};
use reqwest::StatusCode;
use storage::testing::TestDb;

use crate::client::Browser;
use crate::common::{TestApp, spawn, spawn_as, spawn_with};

/// What a team's operator holds: everything in their own account.
pub const OPERATOR: &[&str] = &[
    "service-accounts:read",
    "service-accounts:write",
    "api-keys:read",
    "api-keys:write",
    "secret-keys:read",
    "secret-keys:write",
    "audit:read",
];

/// A well-formed key with `key`'s id and another secret: found, then refused.
fn wrong_secret_for(key: &str) -> String {
    let id = key.split('_').nth(2).unwrap();
    let id = uuid::Uuid::parse_str(id).unwrap();
    Credential::generate(CredentialKind::ApiKey, id, &SeededEntropy::new(5)).reveal().expose().to_owned()
}

async fn audit_failures(app: &TestApp) -> usize {
    let events =
        app.get(&format!("/v1/accounts/{}/audit-events?action=auth.failure", app.system_account), &app.admin).await;
    events.body["items"].as_array().unwrap().len()
}

async fn signing_in_sets_a_strict_cookie_and_signing_out_revokes_it(db: TestDb) {
    let app = spawn(db).await;
    let mut me = Browser::new(&app.base);
    let home = me.get("/console").await;
    assert_eq!((home.status, home.location()), (StatusCode::SEE_OTHER, "/console/sign-in"));

    let form = me.get("/console/sign-in").await;
    assert_eq!(form.status, StatusCode::OK);
    let pre = me.last_set_cookies.join("\n");
    assert!(pre.contains("kw_console_csrf=") && pre.contains("HttpOnly") && pre.contains("SameSite=Strict"), "{pre}");

    let no_token = me.post("/console/sign-in", &[("key", &app.admin)]).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN, "a sign-in without its CSRF token is refused");
    assert!(!me.cookies.contains_key("kw_console"));

    let before = audit_failures(&app).await;
    let refused = me.sign_in(&wrong_secret_for(&app.admin)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.html.contains("That key was not accepted"));
    assert!(!me.cookies.contains_key("kw_console"));
    assert_eq!(audit_failures(&app).await, before + 1, "a refused sign-in is audited like any refused key");

    let signed_in = me.sign_in(&app.admin).await;
    assert_eq!((signed_in.status, signed_in.location()), (StatusCode::SEE_OTHER, "/console"));
    let session = me.last_set_cookies.iter().find(|c| c.starts_with("kw_console=")).unwrap().clone();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=3600"] {
        assert!(session.contains(attribute), "{attribute} in {session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: a Secure cookie would never come back");
    let token = me.cookies["kw_console"].clone();
    assert!(
        !token.contains("kw_ak_") && token.split('.').count() == 3,
        "the cookie holds an access token, not the key"
    );

    let home = me.get("/console").await;
    assert_eq!(home.location(), "/console/accounts", "a system admin lands on the accounts");
    for (name, value) in [("cache-control", "no-store"), ("x-content-type-options", "nosniff")] {
        assert_eq!(home.headers[name], value, "pages that may show a secret are never cached");
    }
    assert!(home.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let accounts = me.get("/console/accounts").await;
    assert_eq!(accounts.status, StatusCode::OK);
    assert!(accounts.html.contains("system") && !accounts.html.contains(&app.admin));

    let csrf = accounts.csrf();
    let out = me.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, "/console/sign-in?signed_out=1"));
    assert!(!me.cookies.contains_key("kw_console"), "the cookie is dropped");
    me.cookies.insert("kw_console".into(), token.clone());
    let replayed = me.get("/console/accounts").await;
    assert_eq!(replayed.location(), "/console/sign-in", "the old token was revoked, not just forgotten");
    let api = app.get("/v1/accounts", &token).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED, "and the API refuses it too");
}

async fn forms_without_their_csrf_token_change_nothing(db: TestDb) {
    let app = spawn(db).await;
    let (acct, _, _, key) = app.tenant("acme", OPERATOR).await;
    let mut me = Browser::new(&app.base);
    assert_eq!(me.sign_in(&key).await.status, StatusCode::SEE_OTHER);
    let page = me.get(&format!("/console/accounts/{acct}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.csrf();
    let missing = me.post(&format!("/console/accounts/{acct}"), &[("name", "sneaky")]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let wrong = "0".repeat(64);
    let forged = me.post(&format!("/console/accounts/{acct}"), &[("csrf", &wrong), ("name", "sneaky")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let listed = app.get(&format!("/v1/accounts/{acct}/service-accounts?name=sneaky"), &app.admin).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 0, "nothing was created");
    let made = me.post(&format!("/console/accounts/{acct}"), &[("csrf", &csrf), ("name", "honest")]).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER);
    let listed = app.get(&format!("/v1/accounts/{acct}/service-accounts?name=honest"), &app.admin).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

/// An operator of a new tenant, signed in to the console: the browser, the account, the service
/// account and the path of its page.
async fn on_service_account_page(app: &TestApp) -> (Browser, String, String, String) {
    let (acct, sa, _, key) = app.tenant("acme", OPERATOR).await;
    let mut me = Browser::new(&app.base);
    me.sign_in(&key).await;
    let base = format!("/console/accounts/{acct}/service-accounts/{sa}");
    (me, acct, sa, base)
}

/// A path whose ids do not parse answers the error page, with the person's navigation, on a page
/// and on a form, and a form without its CSRF token is refused before its path is read.
async fn a_malformed_path_answers_the_error_page(db: TestDb) {
    let app = spawn(db).await;
    let (mut me, acct, sa, base) = on_service_account_page(&app).await;
    let csrf = me.get(&base).await.csrf();
    let bad_sa = me.get(&format!("/console/accounts/{acct}/service-accounts/not-an-id")).await;
    assert_eq!(bad_sa.status, StatusCode::BAD_REQUEST);
    assert!(bad_sa.html.contains("Must be an id") && bad_sa.html.contains("sign-out"), "{}", bad_sa.html);
    let bad_account = me.post("/console/accounts/nope", &[("csrf", &csrf), ("name", "x")]).await;
    assert_eq!(bad_account.status, StatusCode::BAD_REQUEST);
    assert!(bad_account.html.contains("Must be an id"), "{}", bad_account.html);
    let unchecked = me.post("/console/accounts/nope", &[("name", "x")]).await;
    assert_eq!(unchecked.status, StatusCode::FORBIDDEN, "the CSRF check comes first");
    let no_kind = me.post(&format!("{base}/tokens"), &[("csrf", &csrf), ("name", "x")]).await;
    assert_eq!(no_kind.status, StatusCode::NOT_FOUND);
    let bad_key = me.post(&format!("{base}/api-keys/not-a-key/disable"), &[("csrf", &csrf)]).await;
    assert_eq!(bad_key.status, StatusCode::UNPROCESSABLE_ENTITY, "a key id is the action form's problem");
    let no_action = me.get(&format!("{base}/api-keys/not-a-key/rotate")).await;
    assert_eq!(no_action.status, StatusCode::NOT_FOUND, "only a deletion is confirmed on a page");
    let webhook = me.post(&format!("/console/accounts/{acct}/webhooks/nope/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(webhook.status, StatusCode::BAD_REQUEST, "{}", webhook.html);
    let keys = app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys"), &app.admin).await;
    assert_eq!(keys.body["items"].as_array().unwrap().len(), 1, "no refused form changed anything");
}

async fn problems_show_next_to_their_field(db: TestDb) {
    let app = spawn(db).await;
    let (mut me, acct, sa, base) = on_service_account_page(&app).await;
    let csrf = me.get(&base).await.csrf();
    let long = "x".repeat(101);
    let bad_name = me.post(&format!("{base}/api-keys"), &[("csrf", &csrf), ("name", &long)]).await;
    assert_eq!(bad_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_name.html.contains(r#"data-field="name""#), "{}", bad_name.html);
    let taken = me.post(&format!("{base}/api-keys"), &[("csrf", &csrf), ("name", "key")]).await;
    assert!(taken.html.contains(r#"data-field="name""#) && taken.html.contains("already exists"));
    let too_much = me.post(&format!("{base}/api-keys"), &[("csrf", &csrf), ("name", "k2"), ("scopes", "admin")]).await;
    assert_eq!(too_much.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_much.html.contains(r#"data-field="scopes""#) && too_much.html.contains("cannot be granted"));
    let ttl = me.post(&format!("{base}/secret-keys"), &[("csrf", &csrf), ("name", "s"), ("ttl_days", "-1")]).await;
    assert!(ttl.html.contains(r#"data-field="ttl_days""#));
    let keys = app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys"), &app.admin).await;
    assert_eq!(keys.body["items"].as_array().unwrap().len(), 1, "no refused form made a key");
}

async fn a_secret_key_can_bind_its_tokens_to_the_clients_key(db: TestDb) {
    let app = spawn(db).await;
    let (mut me, acct, sa, base) = on_service_account_page(&app).await;
    let csrf = me.get(&base).await.csrf();
    // A secret key whose tokens must be bound to the client's key, made and shown as such.
    let bound = [("csrf", csrf.as_str()), ("name", "bound"), ("require_dpop", "true")];
    assert_eq!(me.post(&format!("{base}/secret-keys"), &bound).await.status, StatusCode::CREATED);
    assert!(me.get(&base).await.html.contains("bound to the client's key (DPoP)\">DPoP</span>"));
    let secret_keys = app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys"), &app.admin).await;
    assert_eq!(secret_keys.body["items"][0]["require_dpop"], true, "{:?}", secret_keys.body);
}

async fn an_api_key_gets_usage_limits_from_the_form(db: TestDb) {
    let app = spawn(db).await;
    let (mut me, acct, sa, base) = on_service_account_page(&app).await;
    let csrf = me.get(&base).await.csrf();
    let refused =
        me.post(&format!("{base}/api-keys"), &[("csrf", &csrf), ("name", "metered"), ("per_minute", "0")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains(r#"data-field="per_minute""#), "{}", refused.html);
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "metered"),
        ("per_minute", "100"),
        ("uses", "1000"),
        ("permissions", "documents.read reports.read"),
    ];
    assert_eq!(me.post(&format!("{base}/api-keys"), &form).await.status, StatusCode::CREATED);
    assert!(me.get(&base).await.html.contains("100 a minute · 1000 uses · 2 permissions"));
    let key = app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys/metered"), &app.admin).await;
    assert_eq!(key.body["rate_limits"][0]["limit"], 100, "{:?}", key.body);
    assert_eq!(
        (key.body["remaining"]["uses"].as_u64(), key.body["permissions"].clone()),
        (Some(1000), serde_json::json!(["documents.read", "reports.read"]))
    );

    let shared =
        serde_json::json!({"rate_limits": [{"name": "team", "limit": 5, "window_seconds": 1, "strict": true}]});
    app.patch(&format!("/v1/accounts/{acct}/service-accounts/{sa}"), &app.admin, shared).await;
    assert!(me.get(&base).await.html.contains("Shared by all its API keys: 5 a second (strict)"));
}

async fn a_second_account_sees_nothing_of_the_first(db: TestDb) {
    let app = spawn(db).await;
    let (a, a_sa, a_key, _) = app.tenant("acme", OPERATOR).await;
    let (b, _, _, b_secret) = app.tenant("globex", OPERATOR).await;
    let mut them = Browser::new(&app.base);
    them.sign_in(&b_secret).await;
    let home = them.get("/console").await;
    assert_eq!(home.location(), format!("/console/accounts/{b}"));
    let own = them.get(&format!("/console/accounts/{b}")).await;
    assert!(own.html.contains("globex") && !own.html.contains("acme"));
    let csrf = own.csrf();
    for path in [
        format!("/console/accounts/{a}"),
        format!("/console/accounts/{a}/audit"),
        format!("/console/accounts/{a}/service-accounts/{a_sa}"),
        format!("/console/accounts/{a}/service-accounts/{a_sa}/api-keys/{a_key}/delete"),
    ] {
        let page = them.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.html.contains("acme"), "{path}");
    }
    let delete = format!("/console/accounts/{a}/service-accounts/{a_sa}/api-keys/{a_key}/delete");
    assert_eq!(them.post(&delete, &[("csrf", &csrf)]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(them.get("/console/accounts").await.status, StatusCode::FORBIDDEN, "only a system admin lists accounts");
    assert_eq!(them.get("/console/signing-keys").await.status, StatusCode::FORBIDDEN);
    let still = app.get(&format!("/v1/accounts/{a}/service-accounts/{a_sa}/api-keys/{a_key}"), &app.admin).await;
    assert_eq!(still.status, StatusCode::OK, "the other account's key is untouched");
}

async fn failed_sign_ins_meet_the_limiter(db: TestDb) {
    let app = spawn_with(db, AuthLimits { free: 1, max: 3, ..AuthLimits::default() }).await;
    let mut me = Browser::new(&app.base);
    let wrong = wrong_secret_for(&app.admin);
    for _ in 0..3 {
        assert_eq!(me.sign_in(&wrong).await.status, StatusCode::UNAUTHORIZED);
    }
    let limited = me.sign_in(&wrong).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.html.contains("Too many failed sign-ins"));
}

async fn a_secret_key_signs_in_too_and_unused_keys_are_listed(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, _, _) = app.tenant("acme", OPERATOR).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    let made = app
        .post(&format!("{keys}/secret-keys"), &app.admin, serde_json::json!({"name": "console", "scopes": OPERATOR}))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let (id, secret) = (made.body["id"].as_str().unwrap(), made.body["secret"].as_str().unwrap());
    app.post(&format!("{keys}/api-keys"), &app.admin, serde_json::json!({"name": "forgotten"})).await;
    let mut me = Browser::new(&app.base);
    let form = me.get("/console/sign-in").await;
    let wrong =
        me.post("/console/sign-in", &[("csrf", &form.csrf()), ("client_id", id), ("client_secret", "nope")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let form = me.get("/console/sign-in").await;
    let ok = me.post("/console/sign-in", &[("csrf", &form.csrf()), ("client_id", id), ("client_secret", secret)]).await;
    assert_eq!((ok.status, ok.location()), (StatusCode::SEE_OTHER, "/console"));
    let page = me.get(&format!("/console/accounts/{acct}/service-accounts/{sa}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let unused = page.html.split(r#"id="unused""#).nth(1).unwrap().split("</ul>").next().unwrap();
    assert!(unused.contains("forgotten") && unused.contains("never"), "{unused}");
    assert!(page.html.contains(&format!("secret_key:{id}")), "the page names the credential in use");
}

async fn service_accounts_are_searched_and_paged(db: TestDb) {
    let app = spawn(db).await;
    let (acct, _, _, key) = app.tenant("acme", OPERATOR).await;
    for i in 0..24 {
        let name = if i % 2 == 0 { format!("worker-{i:02}") } else { format!("cron-{i:02}") };
        let made = app
            .post(&format!("/v1/accounts/{acct}/service-accounts"), &app.admin, serde_json::json!({"name": name}))
            .await;
        assert_eq!(made.status, StatusCode::CREATED);
    }
    let mut me = Browser::new(&app.base);
    me.sign_in(&key).await;
    let first = me.get(&format!("/console/accounts/{acct}")).await;
    assert!(first.html.contains("25 of 25 service accounts") && first.html.contains("Page 1 of 2"));
    let second = me.get(&format!("/console/accounts/{acct}?page=2")).await;
    assert_eq!(second.html.matches("/service-accounts/").count(), 5, "twenty on the first page, five on the second");
    let found = me.get(&format!("/console/accounts/{acct}?q=WORKER")).await;
    assert!(found.html.contains("12 of 25 service accounts"), "search ignores case");
    assert!(found.html.contains("worker-00") && !found.html.contains("cron-01"));
}

async fn behind_tls_the_cookies_are_secure(db: TestDb) {
    let app = spawn_as(db, "https://keyward.example.com").await;
    let mut me = Browser::new(&app.base);
    me.get("/console/sign-in").await;
    assert!(me.last_set_cookies.iter().all(|c| c.contains("; Secure")), "{:?}", me.last_set_cookies);
    let signed_in = me.sign_in(&app.admin).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let session = me.last_set_cookies.iter().find(|c| c.starts_with("kw_console=")).unwrap();
    assert!(session.contains("; Secure") && session.contains("HttpOnly") && session.contains("SameSite=Strict"));
}

http_tests!(
    behind_tls_the_cookies_are_secure,
    service_accounts_are_searched_and_paged,
    a_secret_key_signs_in_too_and_unused_keys_are_listed,
    signing_in_sets_a_strict_cookie_and_signing_out_revokes_it,
    forms_without_their_csrf_token_change_nothing,
    problems_show_next_to_their_field,
    a_malformed_path_answers_the_error_page,
    a_secret_key_can_bind_its_tokens_to_the_clients_key,
    an_api_key_gets_usage_limits_from_the_form,
    a_second_account_sees_nothing_of_the_first,
    failed_sign_ins_meet_the_limiter,
);
