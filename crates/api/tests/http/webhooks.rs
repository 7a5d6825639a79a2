//! Webhooks: an account administrator adds endpoints, events reach them signed as Standard
//! Webhooks says, failed deliveries are retried with backoff for a day, and the outbox keeps what
//! a process did not get to send.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use domain::SystemEntropy;
use domain::sealing::Sealer;
use domain::service::Keyward;
use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::testing::TestDb;

use crate::common::receiver::{Received, TestReceiver};
use crate::common::{SEALING_KEY, Setup, TestApp, spawn, spawn_setup, webhook_policy};

/// Sends what is due, as the background task does every second.
async fn deliver(kw: &Keyward) -> domain::service::DeliveryRound {
    let kw = kw.clone();
    tokio::task::spawn_blocking(move || kw.deliver_due_webhooks(100)).await.unwrap().unwrap()
}

/// Whether `received` carries a valid Standard Webhooks signature under `secret` (`whsec_...`).
fn signed_by(received: &Received, secret: &str) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let header = |name: &str| received.headers[name].to_str().unwrap().to_owned();
    let signed = format!("{}.{}.{}", header("webhook-id"), header("webhook-timestamp"), received.body);
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key), signed.as_bytes());
    header("webhook-signature") == format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

/// An account with a key and an endpoint for `events` at `receiver`; answers the account, the
/// key's path and secret, the endpoint's id and its secret.
async fn account_with_webhook(
    app: &TestApp,
    receiver: &TestReceiver,
    events: &[&str],
) -> (String, String, String, String, String) {
    let (acct, sa, _, _) = app.tenant("acme", &[]).await;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let key = app.post(&keys, &app.admin, json!({"name": "k", "scopes": []})).await;
    let secret = key.body["secret"].as_str().unwrap().to_owned();
    let hook = app
        .post(&format!("/v1/accounts/{acct}/webhooks"), &app.admin, json!({"url": receiver.url, "events": events}))
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{:?}", hook.body);
    let (id, hook_secret) =
        (hook.body["id"].as_str().unwrap().to_owned(), hook.body["secret"].as_str().unwrap().to_owned());
    (acct, format!("{keys}/k"), secret, id, hook_secret)
}

async fn endpoints_are_managed_by_account_administrators(db: TestDb) {
    let app = spawn_setup(db, Setup { webhooks_allow_private: false, ..Setup::default() }).await;
    let (acct, _, _, writer) = app.tenant("acme", &["api-keys:write"]).await;
    let hooks = format!("/v1/accounts/{acct}/webhooks");
    let body =
        json!({"url": "https://hooks.example.com/keyward", "events": ["credential.leaked", "credential.revoked"]});
    assert_eq!(app.post(&hooks, &writer, body.clone()).await.status, StatusCode::FORBIDDEN);

    let created = app.post(&hooks, &app.admin, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert!(created.body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created.body["events"], json!(["credential.leaked", "credential.revoked"]));
    let id = created.body["id"].as_str().unwrap();
    let one = app.get(&format!("{hooks}/{id}"), &app.admin).await;
    assert_eq!((one.status, one.body.get("secret")), (StatusCode::OK, None), "the secret is shown once");
    let list = app.get(&hooks, &app.admin).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);

    for (bad, field) in [
        (json!({"url": "ftp://x", "events": ["credential.leaked"]}), "url"),
        (json!({"url": "http://127.0.0.1:9/x", "events": ["credential.leaked"]}), "url"),
        (json!({"url": "https://hooks.example.com/", "events": ["credential.stolen"]}), "events"),
        (json!({"url": "https://hooks.example.com/", "events": []}), "events"),
    ] {
        let refused = app.post(&hooks, &app.admin, bad).await;
        assert_eq!((refused.status, refused.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)));
    }
    assert_eq!(app.get(&hooks, &app.admin).await.body["items"].as_array().unwrap().len(), 1, "refusals add nothing");

    assert_eq!(app.delete(&format!("{hooks}/{id}"), &app.admin).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("{hooks}/{id}"), &app.admin).await.status, StatusCode::NOT_FOUND);
}

async fn a_leak_reaches_the_owner_signed_and_without_the_secret(db: TestDb) {
    let app = spawn(db).await;
    let receiver = TestReceiver::start().await;
    let (acct, key, secret, hook, hook_secret) =
        account_with_webhook(&app, &receiver, &["credential.leaked", "credential.rotated"]).await;
    let reported =
        app.client.post(format!("{}/v1/credentials/revoke", app.base)).json(&json!({"credentials": [secret]}));
    assert_eq!(reported.send().await.unwrap().status(), StatusCode::ACCEPTED);
    let deliveries = format!("/v1/accounts/{acct}/webhooks/{hook}/deliveries");
    let pending = app.get(&deliveries, &app.admin).await;
    assert_eq!(pending.body["items"][0]["state"], "pending", "queued with the event: {:?}", pending.body);

    assert_eq!(deliver(&app.keyward).await.delivered, 1);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(signed_by(&got[0], &hook_secret), "a valid Standard Webhooks signature");
    assert_eq!(got[0].headers["webhook-id"], pending.body["items"][0]["id"].as_str().unwrap());
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "credential.leaked");
    let key_id = app.get(&key, &app.admin).await.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (body["data"]["target"].clone(), body["data"]["reason"].clone()),
        (json!(format!("api_key:{key_id}")), json!("public report"))
    );
    assert!(!got[0].body.contains(&secret[6..]), "the leaked secret is not in the body");

    let done = app.get(&deliveries, &app.admin).await;
    assert_eq!(
        (done.body["items"][0]["state"].as_str(), done.body["items"][0]["last_status"].as_u64()),
        (Some("delivered"), Some(204))
    );
    assert_eq!(deliver(&app.keyward).await, domain::service::DeliveryRound::default(), "delivered once");

    // Events the endpoint did not subscribe to are not sent; those it did are.
    app.patch(&key, &app.admin, json!({"active": true, "acknowledge_leak": true})).await;
    app.delete(&key, &app.admin).await;
    assert_eq!(deliver(&app.keyward).await.delivered, 0, "credential.revoked was not asked for");
}

async fn failed_deliveries_back_off_then_give_up_after_a_day(db: TestDb) {
    let app = spawn(db).await;
    let receiver = TestReceiver::start().await;
    receiver.answer(503);
    let (acct, key, _, hook, _) =
        account_with_webhook(&app, &receiver, &["credential.revoked", "credential.rotated"]).await;
    app.post(&format!("{key}/rotate"), &app.admin, json!({})).await;
    let deliveries = format!("/v1/accounts/{acct}/webhooks/{hook}/deliveries");

    assert_eq!(deliver(&app.keyward).await.retrying, 1);
    let first = app.get(&deliveries, &app.admin).await.body["items"][0].clone();
    assert_eq!(
        (first["state"].as_str(), first["attempts"].as_u64(), first["last_status"].as_u64()),
        (Some("pending"), Some(1), Some(503))
    );
    assert_eq!(deliver(&app.keyward).await.retrying, 0, "not due again for 5 seconds");
    app.clock.advance(Duration::seconds(5));
    receiver.answer(200);
    assert_eq!(deliver(&app.keyward).await.delivered, 1, "the retry gets through");
    assert_eq!(receiver.received().len(), 2);
    let ids: Vec<_> = receiver.received().iter().map(|r| r.headers["webhook-id"].clone()).collect();
    assert_eq!(ids[0], ids[1], "a retry carries the same webhook-id");

    // A disabled key is a revoked one; this time the endpoint never answers well.
    receiver.answer(500);
    app.patch(&key, &app.admin, json!({"active": false})).await;
    let mut attempts = 0;
    for _ in 0..20 {
        let round = deliver(&app.keyward).await;
        attempts += round.retrying + round.failed;
        if round.failed == 1 {
            break;
        }
        app.clock.advance(Duration::hours(3));
    }
    let last = app.get(&deliveries, &app.admin).await.body["items"][0].clone();
    assert_eq!((last["event_type"].as_str(), last["state"].as_str()), (Some("credential.revoked"), Some("failed")));
    assert!((5..=8).contains(&attempts), "a day of attempts with backoff, then failed: {attempts}");
}

async fn what_one_process_queued_another_delivers(db: TestDb) {
    let app = spawn(db).await;
    let receiver = TestReceiver::start().await;
    let (_, key, _, _, hook_secret) = account_with_webhook(&app, &receiver, &["credential.rotated"]).await;
    app.post(&format!("{key}/rotate"), &app.admin, json!({})).await;
    // This process stops before sending anything; another one, over the same database and master
    // key, sends what the outbox holds.
    let other = Keyward::new(Arc::new(app.db.store()), app.clock.clone(), Arc::new(SystemEntropy::new()))
        .with_sealer(Sealer::new(&SEALING_KEY))
        .with_webhooks(webhook_policy(true));
    assert_eq!(deliver(&other).await.delivered, 1);
    assert!(signed_by(&receiver.received()[0], &hook_secret));
}

/// The event types of an endpoint's deliveries, oldest first.
async fn delivered_types(app: &TestApp, acct: &str, hook: &str) -> Vec<String> {
    let list = app.get(&format!("/v1/accounts/{acct}/webhooks/{hook}/deliveries"), &app.admin).await;
    let mut types: Vec<String> =
        list.body["items"].as_array().unwrap().iter().map(|d| d["event_type"].as_str().unwrap().to_owned()).collect();
    types.reverse();
    types
}

async fn owners_hear_of_expiry_a_week_and_a_day_ahead_and_when_it_happens(db: TestDb) {
    let app = spawn(db).await;
    let receiver = TestReceiver::start().await;
    let (acct, key, _, hook, _) =
        account_with_webhook(&app, &receiver, &["credential.expiring", "credential.expired"]).await;
    let at = (app.keyward.now() + Duration::days(3)).to_rfc3339();
    app.patch(&key, &app.admin, json!({"expires_at": at})).await;
    let notices = |kw: Keyward| async move {
        tokio::task::spawn_blocking(move || kw.give_expiry_notices()).await.unwrap().unwrap()
    };

    assert_eq!(notices(app.keyward.clone()).await, 1, "3 days ahead: the 7-day notice");
    assert_eq!(notices(app.keyward.clone()).await, 0, "given once");
    app.clock.advance(Duration::hours(50));
    assert_eq!(notices(app.keyward.clone()).await, 1, "22 hours ahead: the 1-day notice");
    app.clock.advance(Duration::hours(22));
    assert_eq!(notices(app.keyward.clone()).await, 1, "expired");
    assert_eq!(notices(app.keyward.clone()).await, 0);
    assert_eq!(
        delivered_types(&app, &acct, &hook).await,
        ["credential.expiring", "credential.expiring", "credential.expired"]
    );
    let audit = app.get(&format!("/v1/accounts/{acct}/audit-events?action=credential.expiring"), &app.admin).await;
    assert_eq!(audit.body["items"][0]["actor"], "system:schedule");
    assert_eq!(deliver(&app.keyward).await.delivered, 3);
}

async fn a_burst_of_refusals_is_told_once_a_minute(db: TestDb) {
    let app = spawn(db).await;
    let receiver = TestReceiver::start().await;
    let (acct, _, secret, hook, _) = account_with_webhook(&app, &receiver, &["auth.failure_burst"]).await;
    // Well formed, checksum and all, with another secret: a guess, refused and audited.
    let real = domain::credential::Credential::parse(&secret).unwrap();
    let wrong =
        domain::credential::Credential::from_parts(real.kind(), real.id(), [7; 32]).reveal().expose().to_owned();
    let me = format!("/v1/accounts/{acct}/service-accounts");
    for _ in 0..(domain::service::DEFAULT_FAILURE_BURST * 2) {
        assert_eq!(app.get(&me, &wrong).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(delivered_types(&app, &acct, &hook).await, ["auth.failure_burst"], "one notice for the minute");
    deliver(&app.keyward).await;
    let body: Value = serde_json::from_str(&receiver.received()[0].body).unwrap();
    assert!(body["data"]["target"].as_str().unwrap().starts_with("api_key:"), "{body}");
}

async fn a_key_used_from_a_new_network_is_told(db: TestDb) {
    let app = spawn(db).await;
    let receiver = TestReceiver::start().await;
    let (acct, _, secret, hook, _) = account_with_webhook(&app, &receiver, &["credential.new_network"]).await;
    let me = format!("/v1/accounts/{acct}/service-accounts");
    // The test server believes its loopback proxy's X-Forwarded-For.
    let from = |ip: &'static str| {
        let auth = format!("Bearer {secret}");
        let (app, me) = (&app, &me);
        async move {
            let headers = [("authorization", auth.as_str()), ("x-forwarded-for", ip)];
            // Authenticated (a key without scopes is then refused the list: 403, not 401).
            assert_eq!(app.send(reqwest::Method::GET, me, &headers, None).await.status, StatusCode::FORBIDDEN);
            app.flush_usage().await;
        }
    };
    from("203.0.113.5").await;
    assert!(delivered_types(&app, &acct, &hook).await.is_empty(), "the first network is where the key lives");
    from("203.0.113.99").await;
    assert!(delivered_types(&app, &acct, &hook).await.is_empty(), "the same /24");
    from("198.51.100.7").await;
    from("2001:db8:1:2::5").await;
    from("2001:db8:1:ffff::9").await;
    assert_eq!(delivered_types(&app, &acct, &hook).await, ["credential.new_network", "credential.new_network"]);
    let audit = app.get(&format!("/v1/accounts/{acct}/audit-events?action=credential.new_network"), &app.admin).await;
    let reasons: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().map(|e| e["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["first use from 2001:db8:1::/48", "first use from 198.51.100.0/24"]);
}

http_tests!(
    a_key_used_from_a_new_network_is_told,
    owners_hear_of_expiry_a_week_and_a_day_ahead_and_when_it_happens,
    a_burst_of_refusals_is_told_once_a_minute,
    endpoints_are_managed_by_account_administrators,
    a_leak_reaches_the_owner_signed_and_without_the_secret,
    failed_deliveries_back_off_then_give_up_after_a_day,
    what_one_process_queued_another_delivers,
);
