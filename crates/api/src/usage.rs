//! Writes collected key usage (`last_used_at`, `last_used_ip`) in the background.

use std::time::Duration;

use domain::service::Keyward;

/// How often collected uses are written when the binary does not say otherwise.
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// Writes collected uses once; returns how many keys were updated.
pub async fn flush(keyward: &Keyward) -> Result<usize, domain::Error> {
    let kw = keyward.clone();
    tokio::task::spawn_blocking(move || kw.flush_usage())
        .await
        .map_err(|e| domain::Error::Unavailable(format!("the usage flush task failed: {e}")))?
}

/// Writes collected uses every `period`, forever; run it as a background task and call [`flush`]
/// once more at shutdown.
pub async fn flush_periodically(keyward: Keyward, period: Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match flush(&keyward).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(keys = n, "recorded key usage"),
            Err(e) => tracing::warn!(error = %e, "recording key usage failed; will retry"),
        }
    }
}
