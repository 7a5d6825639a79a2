//! Sends due webhook deliveries from the outbox in the background, and counts them in `/metrics`;
//! gives keys' expiry notices, which become deliveries.

use std::time::Duration;

use domain::service::{DeliveryRound, Keyward};

/// How often the outbox is looked at.
pub const DELIVER_EVERY: Duration = Duration::from_secs(1);

/// How many deliveries one round sends at most.
const PER_ROUND: u32 = 100;

/// Sends the deliveries due now, one attempt each.
pub async fn deliver(keyward: &Keyward) -> Result<DeliveryRound, domain::Error> {
    let kw = keyward.clone();
    let round = tokio::task::spawn_blocking(move || kw.deliver_due_webhooks(PER_ROUND))
        .await
        .map_err(|e| domain::Error::Unavailable(format!("the webhook delivery task failed: {e}")))??;
    for (outcome, n) in [("delivered", round.delivered), ("retrying", round.retrying), ("failed", round.failed)] {
        if n > 0 {
            metrics::counter!("keyward_webhook_deliveries_total", "outcome" => outcome).increment(n as u64);
        }
    }
    Ok(round)
}

/// How often keys near their expiry are looked for.
pub const NOTICE_EVERY: Duration = Duration::from_secs(60);

/// Gives the expiry notices due now (their deliveries go out with the next round).
pub async fn give_expiry_notices(keyward: &Keyward) -> Result<usize, domain::Error> {
    let kw = keyward.clone();
    tokio::task::spawn_blocking(move || kw.give_expiry_notices())
        .await
        .map_err(|e| domain::Error::Unavailable(format!("the expiry notice task failed: {e}")))?
}

/// Gives expiry notices every [`NOTICE_EVERY`] and sends due deliveries every `period`, forever;
/// run it as a background task.
pub async fn deliver_periodically(keyward: Keyward, period: Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_notice: Option<tokio::time::Instant> = None;
    loop {
        ticker.tick().await;
        if last_notice.is_none_or(|at| at.elapsed() >= NOTICE_EVERY) {
            last_notice = Some(tokio::time::Instant::now());
            match give_expiry_notices(&keyward).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(notices = n, "gave expiry notices"),
                Err(e) => tracing::warn!(error = %e, "giving expiry notices failed; will retry"),
            }
        }
        match deliver(&keyward).await {
            Ok(round) if round == DeliveryRound::default() => {}
            Ok(round) => tracing::info!(
                delivered = round.delivered,
                retrying = round.retrying,
                failed = round.failed,
                "sent webhook deliveries"
            ),
            Err(e) => tracing::warn!(error = %e, "sending webhook deliveries failed; will retry"),
        }
    }
}
