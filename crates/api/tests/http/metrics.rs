//! `GET /metrics` after known traffic: the expected series, with the expected counts. Every test
//! server in this process shares one registry, so the checks compare before and after.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;
use storage::testing::TestDb;

use crate::common::{TestApp, spawn};

/// Every sample of a scrape, by its series (`name{labels}`), labels sorted.
async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let res = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line}"));
        let series = match series.split_once('{') {
            Some((name, labels)) => {
                let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                labels.sort_unstable();
                format!("{name}{{{}}}", labels.join(","))
            }
            None => series.to_owned(),
        };
        samples.insert(series, value.parse::<f64>().unwrap_or_else(|_| panic!("a number: {line}")));
    }
    samples
}

fn get(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

async fn known_traffic_shows_in_the_scrape(db: TestDb) {
    let app = spawn(db).await;
    let (_, _, _, verifier) = app.tenant("acme", &["api-keys:verify"]).await;
    let before = scrape(&app).await;
    for _ in 0..3 {
        assert_eq!(app.get("/v1/accounts", &app.admin).await.status, StatusCode::OK);
    }
    assert_eq!(app.get("/v1/accounts", "kw_wrong").await.status, StatusCode::UNAUTHORIZED);
    app.post("/v1/api-keys/verify", &verifier, json!({"key": app.admin})).await;
    app.post("/v1/api-keys/verify", &verifier, json!({"key": "kw_nonsense"})).await;
    let after = scrape(&app).await;
    let delta = |series: &str| get(&after, series) - get(&before, series);

    assert_eq!(delta(r#"keyward_http_requests_total{method="GET",route="/v1/accounts",status="200"}"#), 3.0);
    assert_eq!(delta(r#"keyward_http_requests_total{method="GET",route="/v1/accounts",status="401"}"#), 1.0);
    assert!(delta(r#"keyward_http_request_duration_seconds_count{method="GET",route="/v1/accounts"}"#) >= 4.0);
    assert_eq!(delta(r#"keyward_verifications_total{code="MALFORMED"}"#), 1.0);
    assert_eq!(delta(r#"keyward_verifications_total{code="NOT_FOUND"}"#), 1.0, "another account's key");
    assert!(delta("keyward_auth_failures_total") >= 1.0);
    assert!(
        delta(r#"keyward_key_cache_hits_total{kind="api_key"}"#) >= 2.0,
        "the admin key is read once, then served from memory"
    );
    assert_eq!(get(&after, r#"keyward_build_info{version="0.1.0"}"#), 1.0);
    assert!(after.contains_key("keyward_db_pool_connections"));
    assert!(after.contains_key("keyward_db_pool_wait_seconds_count"));
}

http_tests!(known_traffic_shows_in_the_scrape);
