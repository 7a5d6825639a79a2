//! A secret-scanning partner's public keys (GitHub's format: `{"public_keys": [{"key_identifier",
//! "key" (PEM), "is_current"}]}`), fetched within the same limits as issuers' keys and cached
//! likewise; implements the domain's [`ScannerKeys`] port.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use domain::leak::{ScannerKeys, ScannerKeysUnavailable};
use serde_json::Value;

use crate::http::{Http, Limits, cache_lifetime};

/// Where GitHub publishes the keys that sign its secret-scanning reports.
pub const GITHUB_SECRET_SCANNING_KEYS: &str = "https://api.github.com/meta/public_keys/secret_scanning";

/// The keys as last fetched: DER public keys by identifier.
#[derive(Debug, Clone)]
struct Fetched {
    keys: HashMap<String, Vec<u8>>,
    at: Instant,
    fresh_for: Duration,
}

/// Fetches a scanner's public keys from one URL and caches them.
#[derive(Debug)]
pub struct ScannerKeyFetcher {
    http: Http,
    url: String,
    cache: Mutex<Option<Fetched>>,
}

impl ScannerKeyFetcher {
    /// A fetcher of the keys published at `url`, within `limits`.
    pub fn new(url: impl Into<String>, limits: Limits) -> Self {
        Self { http: Http::new(limits), url: url.into(), cache: Mutex::new(None) }
    }

    fn cached(&self) -> Option<Fetched> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn fetch(&self) -> Result<Fetched, ScannerKeysUnavailable> {
        let (document, max_age) = self.http.get_json(&self.url).map_err(|e| ScannerKeysUnavailable(e.0))?;
        let listed = document
            .get("public_keys")
            .and_then(Value::as_array)
            .ok_or_else(|| ScannerKeysUnavailable(format!("{} has no `public_keys`", self.url)))?;
        let keys = listed
            .iter()
            .filter_map(|k| {
                let id = k.get("key_identifier")?.as_str()?;
                let der = pem_body(k.get("key")?.as_str()?)?;
                Some((id.to_owned(), der))
            })
            .collect();
        Ok(Fetched { keys, at: Instant::now(), fresh_for: cache_lifetime(max_age) })
    }
}

/// The DER bytes of a PEM `PUBLIC KEY` block.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let body = pem.trim().strip_prefix("-----BEGIN PUBLIC KEY-----")?.strip_suffix("-----END PUBLIC KEY-----")?;
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(base64).ok()
}

impl ScannerKeys for ScannerKeyFetcher {
    fn public_key(&self, identifier: &str, refresh: bool) -> Result<Option<Vec<u8>>, ScannerKeysUnavailable> {
        let now = Instant::now();
        if let Some(cached) = self.cached() {
            let age = now.duration_since(cached.at);
            if age < cached.fresh_for && (!refresh || age < self.http.limits.refresh_after) {
                return Ok(cached.keys.get(identifier).cloned());
            }
        }
        let fetched = match self.fetch() {
            Ok(fetched) => fetched,
            Err(e) => {
                tracing::warn!(url = %self.url, error = %e, "fetching the secret-scanning keys failed");
                return match self.cached() {
                    Some(cached) if now.duration_since(cached.at) < cached.fresh_for => {
                        Ok(cached.keys.get(identifier).cloned())
                    }
                    _ => Err(e),
                };
            }
        };
        let found = fetched.keys.get(identifier).cloned();
        *self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fetched);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_public_key_reads_as_its_der_bytes() {
        let pem = "-----BEGIN PUBLIC KEY-----\nAAEC\nAwQ=\n-----END PUBLIC KEY-----\n";
        assert_eq!(pem_body(pem), Some(vec![0, 1, 2, 3, 4]));
        assert_eq!(pem_body("-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----"), None);
        assert_eq!(pem_body("-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----"), None);
    }
}
