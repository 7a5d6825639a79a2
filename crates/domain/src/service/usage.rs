//! Key usage: writing what was collected, reading it back as series, and forgetting old counts.

use super::Keyward;
use crate::api_key::ApiKey;
use crate::audit::Action;
use crate::error::Error;
use crate::id::{AccountId, ServiceAccountId};
use crate::notification::network_of;
use crate::principal::{Permission, Principal};
use crate::repository::{KeyRef, NetworkUse};
use crate::usage::{KeyUsage, ServiceAccountUsage, UsageBatch, UsageSeries, UsageWindow};

/// How long hourly counts are kept when the operator does not say otherwise.
pub const DEFAULT_USAGE_RETENTION_DAYS: u32 = 90;

impl Keyward {
    /// Writes the usage collected since the last flush in one batch; returns how many keys (API
    /// keys and secret keys) it touched. On failure the batch is kept for the next flush, so none is lost to a passing fault.
    pub fn flush_usage(&self) -> Result<usize, Error> {
        let batch = self.usage.drain();
        if batch.is_empty() {
            return Ok(0);
        }
        let api_keys: std::collections::HashSet<_> =
            batch.latest.iter().map(|(key, _)| *key).chain(batch.hourly.iter().map(|h| h.key)).collect();
        let touched = api_keys.len() + batch.secret_latest.len();
        let networks = self.network_uses(&batch);
        match self.repo.record_api_key_usage(&batch, &networks) {
            Ok(()) => Ok(touched),
            Err(e) => {
                self.usage.restore(batch);
                Err(e.into())
            }
        }
    }

    /// The networks of the batch's latest uses, each with the event to write if it is new for its
    /// key. Only each key's latest use in a batch is seen: a key used from two networks within
    /// one flush (two seconds) is told of the later one only.
    fn network_uses(&self, batch: &UsageBatch) -> Vec<NetworkUse> {
        batch
            .latest
            .iter()
            .filter_map(|(key, usage)| {
                let ip = usage.ip?;
                let network = network_of(ip);
                let target = format!("api_key:{key}");
                let mut event = self.audit_as(
                    "system:usage",
                    AccountId::from_uuid(uuid::Uuid::nil()),
                    Action::CredentialNewNetwork,
                    target,
                    usage.at,
                );
                event.ip = Some(ip.to_string());
                event.reason = Some(format!("first use from {network}"));
                Some(NetworkUse { key: *key, network, event })
            })
            .collect()
    }

    /// Forgets hourly counts older than the retention period; returns how many were forgotten.
    pub fn forget_old_usage(&self) -> Result<u64, Error> {
        let now = self.now();
        let before = now - chrono::Duration::days(i64::from(self.usage_retention_days));
        let hours = self.repo.delete_api_key_usage_before(before)?;
        self.forget_old_counters(now)?;
        Ok(hours)
    }

    /// How many days hourly counts are kept.
    pub fn usage_retention_days(&self) -> u32 {
        self.usage_retention_days
    }

    /// One key's uses and refusals over `window`. Needs `api-keys:read`.
    pub fn api_key_usage(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        key: &KeyRef,
        window: UsageWindow,
    ) -> Result<UsageSeries, Error> {
        p.require(Permission::ApiKeysRead, account)?;
        let key = self.repo.api_key(account, sa, key)?;
        let hourly = self.repo.api_key_usage(&[key.id], window.from(), window.to())?;
        Ok(window.series(&hourly))
    }

    /// A service account's usage over `window`: its current keys' counts summed per bucket, and
    /// each key's totals, most used first. Needs `api-keys:read`.
    pub fn service_account_usage(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        window: UsageWindow,
    ) -> Result<ServiceAccountUsage, Error> {
        let keys = self.all_api_keys(p, account, sa)?;
        self.usage_of_keys(p, account, &keys, window)
    }

    /// The same for keys the caller already holds (say, a service account's, just listed): keys of
    /// other accounts are left out. Needs `api-keys:read`.
    pub fn usage_of_keys(
        &self,
        p: &Principal,
        account: AccountId,
        keys: &[ApiKey],
        window: UsageWindow,
    ) -> Result<ServiceAccountUsage, Error> {
        p.require(Permission::ApiKeysRead, account)?;
        let keys: Vec<&ApiKey> = keys.iter().filter(|k| k.account_id == account).collect();
        let ids: Vec<_> = keys.iter().map(|k| k.id).collect();
        let hourly = self.repo.api_key_usage(&ids, window.from(), window.to())?;
        let mut per_key: Vec<KeyUsage> = keys
            .into_iter()
            .map(|k| {
                let mine = hourly.iter().filter(|h| h.key == k.id && h.hour >= window.from() && h.hour < window.to());
                let (uses, refusals) = mine.fold((0u64, 0u64), |(u, r), h| (u + h.uses, r + h.refusals));
                KeyUsage { key_id: k.id, name: k.name.clone(), uses, refusals, last_used_at: k.last_used_at }
            })
            .collect();
        per_key.sort_by(|a, b| b.uses.cmp(&a.uses).then(a.name.as_str().cmp(b.name.as_str())));
        Ok(ServiceAccountUsage { series: window.series(&hourly), keys: per_key })
    }
}
