//! The console in a real headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver: what a person does, start to finish, with screenshots of the main pages at a
//! laptop's and a phone's width written to `target/console-screenshots/` (or
//! `KEYWARD_SCREENSHOTS_DIR`). Without chromedriver the test says SKIPPED, unless
//! `KEYWARD_REQUIRE_BROWSER=1` (CI) makes that a failure.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::json;
use storage::testing::TestDb;

use crate::common::{TestApp, spawn};
use crate::rules::OPERATOR;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const LAPTOP: (u32, u32) = (1280, 860);
const PHONE: (u32, u32) = (390, 844);

/// A chromedriver process, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts chromedriver on a free port and waits until it says it is listening.
fn start_driver() -> Option<Driver> {
    let path = std::env::var("KEYWARD_CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.to_owned());
    if !std::path::Path::new(&path).exists() {
        assert!(
            std::env::var("KEYWARD_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "KEYWARD_REQUIRE_BROWSER=1 but {path} is missing (apt-get install chromium chromium-driver)"
        );
        eprintln!("SKIPPED: the console's browser test needs {path} (apt-get install chromium chromium-driver)");
        return None;
    }
    // Port 0: chromedriver picks a free port and says which, so no other process can take it first.
    let mut child = Command::new(path).arg("--port=0").stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let port = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("started successfully on port ").nth(1).map(|p| p.trim_end_matches('.').parse::<u16>()))
        .expect("chromedriver did not start")
        .unwrap();
    // Keep draining its output so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Some(Driver { child, port })
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    let binary = std::env::var("KEYWARD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": binary,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", format!("--window-size={},{}", LAPTOP.0, LAPTOP.1)],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap()
}

fn screenshots() -> PathBuf {
    let dir = std::env::var_os("KEYWARD_SCREENSHOTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves the current page at a laptop's width and at a phone's, full height.
async fn shoot(c: &Client, name: &str) {
    for (label, (w, h)) in [("laptop", LAPTOP), ("phone", PHONE)] {
        c.set_window_size(w, h).await.unwrap();
        let height = c.execute("return document.documentElement.scrollHeight", vec![]).await.unwrap();
        let height = height.as_u64().unwrap_or(u64::from(h)).clamp(u64::from(h), 4000) as u32;
        c.set_window_size(w, height).await.unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(screenshots().join(format!("{name}-{label}.png")), png).unwrap();
    }
    c.set_window_size(LAPTOP.0, LAPTOP.1).await.unwrap();
}

async fn fill(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Clicks what submits a form or follows a link, and waits for the next page: the current one is
/// marked first, so that nothing is read from it after the click.
async fn submit(c: &Client, css: &str) {
    c.execute("document.body.dataset.left = 'yes'", vec![]).await.unwrap();
    click(c, css).await;
    c.wait().for_element(Locator::Css("body:not([data-left])")).await.unwrap();
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

/// The new secret the page shows once.
async fn shown_secret(c: &Client) -> String {
    c.find(Locator::Css("#new-secret")).await.unwrap().prop("value").await.unwrap().unwrap()
}

async fn works(app: &TestApp, sa_path: &str, secret: &str) -> StatusCode {
    app.get(sa_path, secret).await.status
}

async fn a_person_manages_keys_in_the_browser(db: TestDb) {
    let Some(driver) = start_driver() else { return };
    let app = spawn(db).await;
    let (acct, _, _, operator) = app.tenant("acme", OPERATOR).await;
    let (other_acct, other_sa, _, _) = app.tenant("globex", OPERATOR).await;
    let c = browser(&driver).await;

    // A wrong key is refused; the right one signs in.
    c.goto(&format!("{}/console", app.base)).await.unwrap();
    assert_eq!(path(&c).await, "/console/sign-in");
    shoot(&c, "sign-in").await;
    let (body, last) = operator.split_at(operator.len() - 1);
    let typo = format!("{body}{}", if last == "0" { "1" } else { "0" });
    fill(&c, "#key", &typo).await;
    submit(&c, "button.primary").await;
    assert!(text(&c, ".notice.problem").await.contains("not accepted"));
    fill(&c, "#key", &operator).await;
    submit(&c, "button.primary").await;
    assert_eq!(path(&c).await, format!("/console/accounts/{acct}"));

    // A service account, then a key for it: the secret is shown once, copies, and works.
    fill(&c, "#sa-name", "billing").await;
    fill(&c, "#sa-description", "Charges customers every night").await;
    submit(&c, "#new-service-account button.primary").await;
    let sa_page = path(&c).await;
    assert!(sa_page.starts_with(&format!("/console/accounts/{acct}/service-accounts/")), "{sa_page}");
    let sa = sa_page.rsplit('/').next().unwrap().to_owned();
    let api_sa = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    click(&c, "#api-keys details summary").await;
    fill(&c, "#api-keys-name", "deploy").await;
    fill(&c, "#api-keys-scopes", "service-accounts:read").await;
    fill(&c, "#api-keys-ttl", "30").await;
    submit(&c, "#api-keys form button.primary").await;
    click(&c, "button[data-copy='new-secret']").await;
    let copied = c.wait().for_element(Locator::Css("#new-secret-status:not(:empty)")).await.unwrap();
    assert!(!copied.text().await.unwrap().is_empty(), "the copy button answers");
    let first = shown_secret(&c).await;
    assert!(first.starts_with("kw_ak_"));
    assert_eq!(works(&app, &api_sa, &first).await, StatusCode::OK, "the copied secret works against the API");
    shoot(&c, "new-key").await;

    // Its uses show on the service account's page.
    for _ in 0..12 {
        app.get(&api_sa, &first).await;
    }
    app.flush_usage().await;
    c.goto(&format!("{}{sa_page}", app.base)).await.unwrap();
    let caption = text(&c, "#usage figcaption").await;
    assert!(caption.contains("13 uses"), "the chart counts the first check and the twelve uses: {caption}");
    assert!(!c.source().await.unwrap().contains(&first), "the secret is never shown again");
    shoot(&c, "service-account").await;

    // Trust a CI system's tokens instead of storing a key: the federated credentials page.
    submit(&c, "a[href$='/federated-credentials']").await;
    click(&c, "#new-federated-credential summary").await;
    fill(&c, "#fc-name", "github-deploy").await;
    fill(&c, "#fc-issuer", "https://token.actions.githubusercontent.com").await;
    fill(&c, "#fc-audiences", "https://keyward.example").await;
    fill(&c, "#fc-claims", "repository_owner=octo-org\nref=refs/heads/main").await;
    submit(&c, "#new-federated-credential button[type=submit]").await;
    assert!(text(&c, ".notice.done").await.contains("added"));
    assert!(text(&c, "section[data-credential='github-deploy']").await.contains("refs/heads/main"));
    shoot(&c, "federated-credentials").await;
    c.goto(&format!("{}{sa_page}", app.base)).await.unwrap();

    // Rotate with no retain period: the new secret works, the old one stops.
    let row = "tr[data-key='deploy']";
    c.find(Locator::Css(&format!("{row} select"))).await.unwrap().select_by_value("0").await.unwrap();
    submit(&c, &format!("{row} form[action$='/rotate'] button")).await;
    let second = shown_secret(&c).await;
    assert_ne!(first, second);
    assert_eq!(works(&app, &api_sa, &first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(works(&app, &api_sa, &second).await, StatusCode::OK);

    // Disable, enable, delete (after a confirmation page).
    submit(&c, &format!("{row} form[action$='/disable'] button")).await;
    assert!(text(&c, ".notice.done").await.contains("disabled"));
    assert_eq!(works(&app, &api_sa, &second).await, StatusCode::UNAUTHORIZED);
    submit(&c, &format!("{row} form[action$='/enable'] button")).await;
    assert_eq!(works(&app, &api_sa, &second).await, StatusCode::OK);
    submit(&c, &format!("{row} a.button")).await;
    assert!(text(&c, "h1").await.contains("Delete API key “deploy”?"));
    shoot(&c, "confirm-delete").await;
    submit(&c, "button.danger").await;
    assert!(text(&c, ".notice.done").await.contains("deleted"));
    assert_eq!(works(&app, &api_sa, &second).await, StatusCode::UNAUTHORIZED);

    // The audit trail, filtered.
    c.goto(&format!("{}/console/accounts/{acct}/audit?action=api_key.rotate", app.base)).await.unwrap();
    let events = text(&c, "#events tbody").await;
    assert!(events.contains("api_key.rotate") && !events.contains("api_key.create"), "{events}");
    c.goto(&format!("{}/console/accounts/{acct}/audit", app.base)).await.unwrap();
    shoot(&c, "audit").await;

    // A form whose CSRF token was taken out is refused, and changes nothing.
    c.goto(&format!("{}{sa_page}", app.base)).await.unwrap();
    c.execute("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())", vec![]).await.unwrap();
    click(&c, "#secret-keys details summary").await;
    fill(&c, "#secret-keys-name", "sneaky").await;
    submit(&c, "#secret-keys form button.primary").await;
    assert!(text(&c, "h1").await.contains("This form has expired"));
    let secret_keys = app.get(&format!("{api_sa}/secret-keys"), &app.admin).await;
    assert_eq!(secret_keys.body["items"].as_array().unwrap().len(), 0);

    // Another account's pages are not there for this person.
    c.goto(&format!("{}/console/accounts/{other_acct}/service-accounts/{other_sa}", app.base)).await.unwrap();
    assert_eq!(text(&c, "h1").await, "Not found");
    assert!(!c.source().await.unwrap().contains("globex"));

    // The list at a phone's width, then sign out.
    c.goto(&format!("{}/console/accounts/{acct}", app.base)).await.unwrap();
    shoot(&c, "service-accounts").await;
    submit(&c, "form.sign-out button").await;
    assert!(text(&c, ".notice.done").await.contains("signed out"));
    c.goto(&format!("{}{sa_page}", app.base)).await.unwrap();
    assert_eq!(path(&c).await, "/console/sign-in", "signed out means signed out");

    // A system admin's pages.
    fill(&c, "#key", &app.admin).await;
    submit(&c, "button.primary").await;
    assert_eq!(path(&c).await, "/console/accounts");
    assert!(text(&c, "table").await.contains("globex"));
    shoot(&c, "accounts").await;
    c.goto(&format!("{}/console/signing-keys", app.base)).await.unwrap();
    let before = c.find_all(Locator::Css("#signing-keys tbody tr")).await.unwrap().len();
    submit(&c, "button.primary").await;
    let after = c.find_all(Locator::Css("#signing-keys tbody tr")).await.unwrap().len();
    assert_eq!(after, before + 1, "rotation adds the next key");
    shoot(&c, "signing-keys").await;
    c.close().await.unwrap();
}

http_tests!(a_person_manages_keys_in_the_browser);
