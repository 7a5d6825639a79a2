//! The state every handler shares, and the bridge from async handlers to the blocking domain.

use std::sync::Arc;

use domain::page::CursorCodec;
use domain::service::Keyward;

use crate::client_addr::TrustedProxies;
use crate::error::{ApiError, ApiResult};
use crate::limiter::{AuthLimits, FailureLimiter, RequestLimiter};

/// What the API needs to run.
#[derive(Debug)]
pub struct ApiConfig {
    /// The domain facade over storage.
    pub keyward: Keyward,
    /// The key that signs list cursors; the same on every node (derived from the master key).
    pub cursor_key: Vec<u8>,
    /// Thresholds for failed authentication.
    pub auth_limits: AuthLimits,
    /// How many leak reports (public and from secret scanning) one address may send a minute.
    pub leak_reports_per_minute: u32,
    /// The proxies whose `Forwarded` / `X-Forwarded-For` headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Limits on request bodies.
    pub body_limits: BodyLimits,
    /// How many blocking domain operations may run at once (`storage::blocking_slots` says how
    /// many for a backend); the rest wait on the event loop instead of crowding the database pool.
    pub blocking_slots: usize,
}

/// Limits on request bodies: size, and how deep JSON may nest.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// The largest body accepted, in bytes; larger ones get 413.
    pub max_bytes: usize,
    /// The deepest nesting of JSON arrays and objects accepted; deeper bodies get 400.
    pub max_json_depth: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self { max_bytes: 64 * 1024, max_json_depth: 32 }
    }
}

/// Shared, cheaply cloned handler state.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    keyward: Keyward,
    cursors: CursorCodec,
    limiter: FailureLimiter,
    leak_reports: RequestLimiter,
    trusted_proxies: TrustedProxies,
    /// Blocking domain operations allowed to run at once; the rest wait here, on the event loop.
    slots: tokio::sync::Semaphore,
}

impl AppState {
    /// State from a configuration.
    pub fn new(config: ApiConfig) -> Self {
        Self(Arc::new(Inner {
            keyward: config.keyward,
            cursors: CursorCodec::new(&config.cursor_key),
            limiter: FailureLimiter::new(config.auth_limits),
            leak_reports: RequestLimiter::new(config.leak_reports_per_minute, std::time::Duration::from_secs(60)),
            trusted_proxies: config.trusted_proxies,
            slots: tokio::sync::Semaphore::new(config.blocking_slots.max(1)),
        }))
    }

    /// The cursor codec.
    pub fn cursors(&self) -> &CursorCodec {
        &self.0.cursors
    }

    /// The proxies whose forwarding headers are believed.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.0.trusted_proxies
    }

    /// The failed-authentication limiter.
    pub fn limiter(&self) -> &FailureLimiter {
        &self.0.limiter
    }

    /// The limiter of leak reports per address.
    pub fn leak_report_limiter(&self) -> &RequestLimiter {
        &self.0.leak_reports
    }

    /// The domain facade, for the operations that never block (the `*_from_memory` ones, which
    /// answer from in-process caches or say they cannot): the hot paths try them on the event loop
    /// first and skip the hop to a blocking thread.
    pub fn keyward(&self) -> &Keyward {
        &self.0.keyward
    }

    /// Runs a domain operation on a blocking thread (the domain and storage are synchronous).
    pub async fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Keyward) -> Result<T, domain::Error> + Send + 'static,
    {
        // Waiting here, not on a blocking thread: dozens of threads queued on eight connections
        // and one SQLite writer cost more in wake-ups than the work itself (p99 of key creation
        // 60 ms → 22 ms under 64 connections).
        let _slot =
            self.0.slots.acquire().await.map_err(|_| ApiError::internal("the request could not be completed"))?;
        let inner = self.0.clone();
        tokio::task::spawn_blocking(move || f(&inner.keyward))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "a domain task failed");
                ApiError::internal("the request could not be completed")
            })?
            .map_err(ApiError::from)
    }
}
