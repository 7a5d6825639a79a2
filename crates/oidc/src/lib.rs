//! What Keyward fetches from external OIDC issuers: the discovery document and the signing keys
//! (JWKS) that a federated credential's tokens are checked against. [`IssuerKeyFetcher`]
//! implements the domain's [`IssuerKeys`] port.
//!
//! Every fetch is bounded: a connect and a total time-out, a size limit, no redirects, and a JWKS
//! URL that must be https (plain http only on loopback addresses, for tests). Keys are cached for
//! the JWKS answer's `Cache-Control: max-age` (between one minute and a day; five minutes when it
//! says nothing), and fetched again early when a token names a key the cache lacks, at most once
//! per half minute per issuer, so that a stream of tokens with made-up key ids cannot make
//! Keyward hammer an issuer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use domain::federation::{Issuer, IssuerKeys, KeysUnavailable, fetchable};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde_json::Value;

/// The limits of every fetch.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long connecting may take.
    pub connect: Duration,
    /// How long a whole request may take.
    pub total: Duration,
    /// The largest answer read, in bytes.
    pub max_bytes: u64,
    /// How soon after a fetch an unknown key may trigger another.
    pub refresh_after: Duration,
    /// Fetch from loopback addresses only: for test suites and trials that must send nothing
    /// off the machine, whatever issuer a federated credential names.
    pub loopback_only: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            total: Duration::from_secs(5),
            max_bytes: 256 * 1024,
            refresh_after: Duration::from_secs(30),
            loopback_only: false,
        }
    }
}

/// The shortest and longest time keys are cached, and the time when the issuer says nothing.
const MIN_CACHE: Duration = Duration::from_secs(60);
const MAX_CACHE: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_CACHE: Duration = Duration::from_secs(300);

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
    agent: ureq::Agent,
    limits: Limits,
    cache: Mutex<HashMap<String, Fetched>>,
}

impl IssuerKeyFetcher {
    /// A fetcher with `limits`.
    pub fn new(limits: Limits) -> Result<Self, String> {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(limits.connect))
            .timeout_global(Some(limits.total))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Self { agent, limits, cache: Mutex::new(HashMap::new()) })
    }

    fn cached(&self, issuer: &Issuer) -> Option<Fetched> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(issuer.as_str()).cloned()
    }

    /// Fetches the discovery document, then the JWKS it names.
    fn fetch(&self, issuer: &Issuer) -> Result<Fetched, KeysUnavailable> {
        let (discovery, _) = self.get_json(&issuer.discovery_url())?;
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
        let (jwks, max_age) = self.get_json(jwks_uri)?;
        let keys: Vec<Jwk> = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| KeysUnavailable("the JWKS has no `keys`".to_owned()))?
            .iter()
            // A key of a type Keyward does not know is skipped, not a reason to refuse the rest.
            .filter_map(|k| serde_json::from_value(k.clone()).ok())
            .collect();
        let fresh_for = max_age.map_or(DEFAULT_CACHE, |age| age.clamp(MIN_CACHE, MAX_CACHE));
        Ok(Fetched { keys: JwkSet { keys }, at: Instant::now(), fresh_for })
    }

    /// GETs `url` as JSON within the limits; answers it with its `Cache-Control: max-age`.
    fn get_json(&self, url: &str) -> Result<(Value, Option<Duration>), KeysUnavailable> {
        if self.limits.loopback_only && !Issuer::parse(url, "url").is_ok_and(|u| u.is_loopback()) {
            return Err(KeysUnavailable(format!(
                "{url} is not on this machine, and this Keyward fetches only from loopback"
            )));
        }
        let mut response = self.agent.get(url).call().map_err(|e| {
            let why = if matches!(e, ureq::Error::Timeout(_)) { "timed out" } else { "could not be reached" };
            KeysUnavailable(format!("{url} {why}"))
        })?;
        if !response.status().is_success() {
            return Err(KeysUnavailable(format!("{url} answered {}", response.status().as_u16())));
        }
        let max_age = response.headers().get("cache-control").and_then(|v| v.to_str().ok()).and_then(max_age);
        let body = response.body_mut().with_config().limit(self.limits.max_bytes).read_to_vec().map_err(|e| {
            let why = if matches!(e, ureq::Error::BodyExceedsLimit(_)) {
                format!("answered more than {} bytes", self.limits.max_bytes)
            } else {
                "could not be read".to_owned()
            };
            KeysUnavailable(format!("{url} {why}"))
        })?;
        let json = serde_json::from_slice(&body).map_err(|_| KeysUnavailable(format!("{url} did not answer JSON")))?;
        Ok((json, max_age))
    }
}

impl IssuerKeys for IssuerKeyFetcher {
    fn keys(&self, issuer: &Issuer, refresh: bool) -> Result<JwkSet, KeysUnavailable> {
        let now = Instant::now();
        if let Some(cached) = self.cached(issuer) {
            let age = now.duration_since(cached.at);
            let fresh = age < cached.fresh_for;
            // An unknown key fetches again, but not more often than the limit allows.
            if fresh && (!refresh || age < self.limits.refresh_after) {
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

/// The `max-age` of a `Cache-Control` header (`no-store` and `no-cache` count as 0).
fn max_age(header: &str) -> Option<Duration> {
    header.split(',').map(str::trim).find_map(|directive| {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        let (name, value) = directive.split_once('=')?;
        name.trim().eq_ignore_ascii_case("max-age").then(|| value.trim().parse().ok().map(Duration::from_secs))?
    })
}

#[cfg(test)]
mod tests;
