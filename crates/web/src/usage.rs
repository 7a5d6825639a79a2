//! Writes collected key usage (`last_used_at`, `last_used_ip`, hourly counts) and usage-limit
//! counters in the background,
//! and forgets hourly counts older than the retention period.

use std::time::Duration;

use domain::service::Keyward;

/// How often hourly counts past the retention period are forgotten.
pub const FORGET_EVERY: Duration = Duration::from_secs(3600);

/// Writes collected uses once, and what this node spent of usage limits (reading back every
/// node's counts); returns how many keys and counters were updated.
pub async fn flush(keyward: &Keyward) -> Result<usize, domain::Error> {
    let kw = keyward.clone();
    tokio::task::spawn_blocking(move || {
        // Both are tried, so that a failure of one does not hold back the other.
        let uses = kw.flush_usage();
        let counters = kw.flush_limits();
        Ok(uses? + counters?)
    })
    .await
    .map_err(|e| domain::Error::Unavailable(format!("the usage flush task failed: {e}")))?
}

/// Writes collected uses every `period`, and forgets old hourly counts at start and then every
/// [`FORGET_EVERY`], forever; run it as a background task and call [`flush`] once more at shutdown.
pub async fn flush_periodically(keyward: Keyward, period: Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_forget: Option<tokio::time::Instant> = None;
    loop {
        ticker.tick().await;
        match flush(&keyward).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(keys = n, "recorded key usage"),
            Err(e) => tracing::warn!(error = %e, "recording key usage failed; will retry"),
        }
        if last_forget.is_none_or(|at| at.elapsed() >= FORGET_EVERY) {
            last_forget = Some(tokio::time::Instant::now());
            let kw = keyward.clone();
            match tokio::task::spawn_blocking(move || kw.forget_old_usage()).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(hours = n, "forgot key usage past its retention"),
                Ok(Err(e)) => tracing::warn!(error = %e, "forgetting old key usage failed; will retry"),
                Err(e) => tracing::warn!(error = %e, "the usage retention task failed"),
            }
        }
    }
}
