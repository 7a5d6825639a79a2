//! Usage over time: `.../api-keys/{key}/usage` and `.../service-accounts/{sa}/usage`.

use chrono::Duration;
use domain::SeededEntropy;
use domain::credential::{Credential, CredentialKind};
use insta::assert_json_snapshot;
use reqwest::StatusCode;
use storage::testing::TestDb;

use crate::common::spawn;

async fn usage_is_counted_per_hour_and_day(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, key, secret) = app.tenant("acme", &["service-accounts:read"]).await;
    let me = format!("/v1/accounts/{acct}/service-accounts/{sa}");
    for _ in 0..30 {
        assert_eq!(app.get(&me, &secret).await.status, StatusCode::OK);
    }
    let id = uuid::Uuid::parse_str(&key).unwrap();
    let wrong = Credential::generate(CredentialKind::ApiKey, id, &SeededEntropy::new(7)).reveal();
    for _ in 0..2 {
        assert_eq!(app.get(&me, wrong.expose()).await.status, StatusCode::UNAUTHORIZED);
    }
    app.clock.advance(Duration::days(1));
    for _ in 0..5 {
        assert_eq!(app.get(&me, &secret).await.status, StatusCode::OK);
    }
    app.flush_usage().await;

    let days = app
        .get(
            &format!("{me}/api-keys/{key}/usage?from=2026-05-31T00:00:00Z&to=2026-06-02T12:00:00Z&granularity=day"),
            &app.admin,
        )
        .await;
    assert_eq!(days.status, StatusCode::OK, "{:?}", days.body);
    assert_json_snapshot!("usage_key_by_day", days.body);

    let hours = app.get(&format!("{me}/api-keys/key/usage"), &app.admin).await;
    assert_eq!(hours.status, StatusCode::OK, "by name, the last 7 days by hour by default");
    assert_eq!(hours.body["granularity"], "hour");
    assert_eq!(hours.body["buckets"].as_array().unwrap().len(), 7 * 24 + 1, "the current hour is a whole bucket");
    assert_eq!((hours.body["uses"].as_u64(), hours.body["refusals"].as_u64()), (Some(35), Some(2)));

    let whole = app.get(&format!("{me}/usage?from=now-2d&granularity=day"), &app.admin).await;
    assert_eq!(whole.status, StatusCode::OK, "{:?}", whole.body);
    assert_eq!(whole.body["uses"], 35);
    assert_eq!(whole.body["keys"][0]["id"], key.as_str());
    assert_eq!(
        (whole.body["keys"][0]["uses"].as_u64(), whole.body["keys"][0]["refusals"].as_u64()),
        (Some(35), Some(2))
    );
}

async fn usage_windows_are_checked_and_accounts_kept_apart(db: TestDb) {
    let app = spawn(db).await;
    let (acct, sa, key, _) = app.tenant("acme", &[]).await;
    let (_, _, _, other) = app.tenant("globex", &["api-keys:read"]).await;
    let usage = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys/{key}/usage");
    for (query, field) in [
        ("granularity=week", "granularity"),
        ("from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z", "from"),
        ("from=yesterday", "from"),
        ("from=now-200d&granularity=hour", "to"),
        ("step=1", "step"),
    ] {
        let bad = app.get(&format!("{usage}?{query}"), &app.admin).await;
        assert_eq!((bad.status, bad.body["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{query}");
    }
    assert!(app.get(&format!("{usage}?from=now-200d&granularity=day"), &app.admin).await.status.is_success());
    let theirs = app.get(&usage, &other).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "another account's key usage is not visible");
    let whole = app.get(&format!("/v1/accounts/{acct}/service-accounts/{sa}/usage"), &other).await;
    assert_eq!(whole.status, StatusCode::NOT_FOUND);
}

http_tests!(usage_is_counted_per_hour_and_day, usage_windows_are_checked_and_accounts_kept_apart);
