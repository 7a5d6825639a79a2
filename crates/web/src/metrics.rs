//! Metrics in the Prometheus text format at `GET /metrics`: the `metrics` facade records them
//! wherever they happen (handlers here, the key cache and pool in storage), and the exporter's
//! recorder, installed once per process, renders them.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use; `None` if another recorder was installed
/// first (then `/metrics` says so instead of lying).
fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            metrics::gauge!("keyward_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Some(handle)
        })
        .as_ref()
}

/// Installs the recorder, so that what happens before the first scrape is counted.
pub fn install() {
    let _ = handle();
}

/// Folds recorded histogram samples into their buckets every `period`. The recorder keeps each
/// sample until a scrape or an upkeep drains it, so without this a node nobody scrapes grows by
/// every request's latency (about 20 MiB a minute at 10,000 requests a second).
pub async fn upkeep_periodically(period: std::time::Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Some(handle) = handle() {
            handle.run_upkeep();
        }
    }
}

/// `GET /metrics`: every series in the Prometheus text format (0.0.4).
pub async fn scrape() -> Response {
    match handle() {
        Some(handle) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
        }
        None => {
            crate::error::ApiError::internal("another metrics recorder is installed in this process").into_response()
        }
    }
}

/// Counts each request by route template, method and status, and records its latency.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("keyward_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("keyward_http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    res
}

/// Counts a token issued by `grant` (`client_credentials`, `zenml-api-key`, `service-identity`).
pub fn token_issued(grant: &'static str) {
    metrics::counter!("keyward_tokens_issued_total", "grant" => grant).increment(1);
}

/// Counts a token request refused with `error`.
pub fn token_refused(grant: &'static str, error: &'static str) {
    metrics::counter!("keyward_tokens_refused_total", "grant" => grant, "error" => error).increment(1);
}

/// Counts a signing-key rotation (`request` or `schedule`).
pub fn signing_key_rotated(trigger: &'static str) {
    metrics::counter!("keyward_signing_key_rotations_total", "trigger" => trigger).increment(1);
}

/// Counts one leak report (`source`: `public` or `github`) and what it found: how many of its
/// strings were live keys now revoked, already leaked, or not Keyward's.
pub fn leak_report(source: &'static str, revoked: usize, already: usize, not_ours: usize) {
    metrics::counter!("keyward_leak_reports_total", "source" => source).increment(1);
    for (verdict, n) in [("revoked", revoked), ("already_leaked", already), ("not_ours", not_ours)] {
        metrics::counter!("keyward_leaked_credentials_total", "source" => source, "verdict" => verdict)
            .increment(n as u64);
    }
}
