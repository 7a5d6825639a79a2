//! Sends due webhook deliveries from the outbox in the background, and counts them in `/metrics`.

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

/// Sends due deliveries every `period`, forever; run it as a background task.
pub async fn deliver_periodically(keyward: Keyward, period: Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
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
