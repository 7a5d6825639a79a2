//! All of Keyward's outbound HTTP. [`IssuerKeyFetcher`] fetches from external OIDC issuers the
//! discovery document and the signing keys (JWKS) that a federated credential's tokens are
//! checked against; it implements the domain's [`IssuerKeys`] port.
//!
//! Every fetch is bounded: a connect and a total time-out, a size limit, no redirects, and a JWKS
//! URL that must be https (plain http only on loopback addresses, for tests). Keys are cached for
//! the JWKS answer's `Cache-Control: max-age` (between one minute and a day; five minutes when it
//! says nothing), and fetched again early when a token names a key the cache lacks, at most once
//! per half minute per issuer, so that a stream of tokens with made-up key ids cannot make
//! Keyward hammer an issuer.
//!
//! [`ScannerKeyFetcher`] does the same for a secret-scanning partner's public keys (GitHub's),
//! which sign the leak reports it sends, and [`WebhookPoster`] sends webhook deliveries: all of
//! Keyward's outbound HTTP is here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use domain::federation::{Issuer, IssuerKeys, KeysUnavailable, fetchable};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde_json::Value;

mod delivery;
mod http;
mod scanning;

pub use delivery::WebhookPoster;
pub use http::Limits;
#[cfg(test)]
use http::max_age;
use http::{Http, cache_lifetime};
pub use scanning::{GITHUB_SECRET_SCANNING_KEYS, ScannerKeyFetcher};

/// One issuer's keys as last fetched.
#[derive(Debug, Clone)]
struct Fetched {
    keys: JwkSet,
    at: Instant,
    fresh_for: Duration,
}

/// Fetches issuers' keys over HTTP and caches them.
#[derive(Debug)]
pub struct IssuerKeyFetcher {
    http: Http,
    cache: Mutex<HashMap<String, Fetched>>,
}

impl IssuerKeyFetcher {
    /// A fetcher with `limits`.
    pub fn new(limits: Limits) -> Result<Self, String> {
        Ok(Self { http: Http::new(limits), cache: Mutex::new(HashMap::new()) })
    }

    fn cached(&self, issuer: &Issuer) -> Option<Fetched> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(issuer.as_str()).cloned()
    }

    /// Fetches the discovery document, then the JWKS it names.
    fn fetch(&self, issuer: &Issuer) -> Result<Fetched, KeysUnavailable> {
        let (discovery, _) = self.http.get_json(&issuer.discovery_url())?;
        if discovery.get("issuer").and_then(Value::as_str) != Some(issuer.as_str()) {
            return Err(KeysUnavailable("the discovery document names another issuer".to_owned()));
        }
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| KeysUnavailable("the discovery document has no `jwks_uri`".to_owned()))?;
        if !fetchable(jwks_uri) {
            return Err(KeysUnavailable("the `jwks_uri` is not https (plain http only on loopback)".to_owned()));
        }
        let (jwks, max_age) = self.http.get_json(jwks_uri)?;
        let keys: Vec<Jwk> = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| KeysUnavailable("the JWKS has no `keys`".to_owned()))?
            .iter()
            // A key of a type Keyward does not know is skipped, not a reason to refuse the rest.
            .filter_map(|k| serde_json::from_value(k.clone()).ok())
            .collect();
        Ok(Fetched { keys: JwkSet { keys }, at: Instant::now(), fresh_for: cache_lifetime(max_age) })
    }
}

impl IssuerKeys for IssuerKeyFetcher {
    fn keys(&self, issuer: &Issuer, refresh: bool) -> Result<JwkSet, KeysUnavailable> {
        let now = Instant::now();
        if let Some(cached) = self.cached(issuer) {
            let age = now.duration_since(cached.at);
            let fresh = age < cached.fresh_for;
            // An unknown key fetches again, but not more often than the limit allows.
            if fresh && (!refresh || age < self.http.limits.refresh_after) {
                return Ok(cached.keys);
            }
        }
        let fetched = match self.fetch(issuer) {
            Ok(fetched) => fetched,
            Err(e) => {
                tracing::warn!(issuer = %issuer, error = %e, "fetching an issuer's keys failed");
                // Keys still fresh answer a refresh that failed; expired ones never do.
                return match self.cached(issuer) {
                    Some(cached) if now.duration_since(cached.at) < cached.fresh_for => Ok(cached.keys),
                    _ => Err(e),
                };
            }
        };
        let keys = fetched.keys.clone();
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(issuer.as_str().to_owned(), fetched);
        Ok(keys)
    }
}

#[cfg(test)]
mod tests;
