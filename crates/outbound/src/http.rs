//! Bounded HTTP GETs of JSON documents, shared by every fetcher: time-outs, a size limit, no
//! redirects, and (for tests and trials) loopback only.

use std::time::Duration;

use domain::federation::{Issuer, KeysUnavailable};
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

/// How long an answer with `max_age` (from its `Cache-Control`) is kept.
pub(crate) fn cache_lifetime(max_age: Option<Duration>) -> Duration {
    max_age.map_or(DEFAULT_CACHE, |age| age.clamp(MIN_CACHE, MAX_CACHE))
}

/// An HTTP client with Keyward's limits.
#[derive(Debug)]
pub(crate) struct Http {
    agent: ureq::Agent,
    pub(crate) limits: Limits,
}

impl Http {
    /// A client with `limits`.
    pub(crate) fn new(limits: Limits) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(limits.connect))
            .timeout_global(Some(limits.total))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent, limits }
    }

    /// GETs `url` as JSON within the limits; answers it with its `Cache-Control: max-age`.
    pub(crate) fn get_json(&self, url: &str) -> Result<(Value, Option<Duration>), KeysUnavailable> {
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

impl Http {
    /// POSTs `body` to `url` with `headers`; answers the status (redirects are not followed), or
    /// why there was none. The answer's body is not read.
    pub(crate) fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> Result<u16, String> {
        let mut request = self.agent.post(url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send(body) {
            Ok(response) => Ok(response.status().as_u16()),
            Err(ureq::Error::Timeout(_)) => Err("timed out".to_owned()),
            Err(_) => Err("could not be reached".to_owned()),
        }
    }
}

/// The `max-age` of a `Cache-Control` header (`no-store` and `no-cache` count as 0).
pub(crate) fn max_age(header: &str) -> Option<Duration> {
    header.split(',').map(str::trim).find_map(|directive| {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        let (name, value) = directive.split_once('=')?;
        name.trim().eq_ignore_ascii_case("max-age").then(|| value.trim().parse().ok().map(Duration::from_secs))?
    })
}
