//! The facade the API drives: each method checks who may do what, applies the domain's rules,
//! and calls the repository. It is synchronous; callers run it where blocking is allowed.

mod access_tokens;
mod accounts;
mod api_keys;
mod audit;
mod auth;
mod bootstrap;
mod bursts;
mod dpop;
mod expiry;
mod federated_credentials;
mod keys;
mod leaks;
mod limits;
mod oauth;
mod reach;
mod roles;
mod secret_key_jwt;
mod secret_keys;
mod service_accounts;
mod service_identities;
mod signing;
mod signing_cache;
mod token_exchange;
mod usage;
mod verify;
mod webhooks;

use std::net::IpAddr;
use std::sync::Arc;

use crate::audit::{Action, AuditEvent, Outcome};
use crate::federation::{IssuerKeys, NoIssuerKeys};
use crate::id::{AccountId, AuditEventId};
use crate::principal::Principal;
use crate::repository::Repository;
use crate::sealing::Sealer;
use crate::signing_key::SigningAlgorithm;
use crate::usage::UsageBuffer;
use crate::{Clock, Entropy, Timestamp};

pub use access_tokens::Introspection;
pub use api_keys::IssuedApiKey;
pub use bootstrap::Bootstrapped;
pub use dpop::{BoundRefusal, NONCE_PERIOD_SECONDS};
pub use federated_credentials::{FederatedCredentialChanges, NewFederatedCredential};
pub use keys::{Issued, KeyActions, KeyKind, NamesKey};
pub use limits::{Identifier, LimitRequest};
pub use oauth::{AccessToken, OAuthError, TokenTerms};
pub use secret_key_jwt::IssuedJwt;
pub use secret_keys::IssuedSecretKey;
pub use token_exchange::{ExchangeRefusal, ExchangeRequest, Exchanged};
pub use usage::DEFAULT_USAGE_RETENTION_DAYS;
pub use verify::Verification;
pub use webhooks::{DeliveryRound, NoWebhookSender, WebhookPolicy};

/// Refusals of one credential within a minute that make a burst its owner is told of.
pub const DEFAULT_FAILURE_BURST: u32 = 10;

/// Keyward's operations over some storage, clock and random source.
#[derive(Debug, Clone)]
pub struct Keyward {
    repo: Arc<dyn Repository>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    usage: Arc<UsageBuffer>,
    ledger: Arc<crate::limits::Ledger>,
    sealer: Arc<Sealer>,
    signing_algorithm: SigningAlgorithm,
    access_token_ttl: chrono::Duration,
    issuer: String,
    signing_cache: Arc<signing_cache::SigningCache>,
    usage_retention_days: u32,
    issuer_keys: Arc<dyn IssuerKeys>,
    scanner_keys: Arc<dyn crate::leak::ScannerKeys>,
    webhooks: webhooks::WebhookPolicy,
    failure_bursts: Arc<bursts::FailureBursts>,
    dpop_nonces: bool,
}

impl Keyward {
    /// Keyward over `repo`, reading time from `clock` and randomness from `entropy`.
    pub fn new(repo: Arc<dyn Repository>, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> Self {
        let sealer = Arc::new(Sealer::random(entropy.as_ref()));
        Self {
            repo,
            clock,
            entropy,
            usage: Arc::new(UsageBuffer::default()),
            ledger: Arc::default(),
            sealer,
            signing_algorithm: SigningAlgorithm::EdDsa,
            access_token_ttl: chrono::Duration::hours(1),
            issuer: "http://127.0.0.1:8080".to_owned(),
            signing_cache: Arc::default(),
            usage_retention_days: usage::DEFAULT_USAGE_RETENTION_DAYS,
            issuer_keys: Arc::new(NoIssuerKeys),
            scanner_keys: Arc::new(crate::leak::NoScannerKeys),
            webhooks: webhooks::WebhookPolicy::default(),
            failure_bursts: Arc::new(bursts::FailureBursts::new(DEFAULT_FAILURE_BURST)),
            dpop_nonces: false,
        }
    }

    /// The same, getting external issuers' signing keys (for federated credentials) from `keys`.
    pub fn with_issuer_keys(mut self, keys: Arc<dyn IssuerKeys>) -> Self {
        self.issuer_keys = keys;
        self
    }

    /// The same, naming itself `issuer` (its public base URL) in the tokens it signs.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into().trim_end_matches('/').to_owned();
        self
    }

    /// The same, keeping hourly usage counts for `days` days.
    pub fn with_usage_retention(mut self, days: u32) -> Self {
        self.usage_retention_days = days.max(1);
        self
    }

    /// The same, telling owners of a credential refused `threshold` times within a minute.
    pub fn with_failure_burst(mut self, threshold: u32) -> Self {
        self.failure_bursts = Arc::new(bursts::FailureBursts::new(threshold));
        self
    }

    /// How long access tokens live.
    pub fn access_token_ttl(&self) -> chrono::Duration {
        self.access_token_ttl
    }

    /// Records a refused credential in its account's audit trail.
    fn record_auth_failure(
        &self,
        account: AccountId,
        target: String,
        now: Timestamp,
        ip: Option<IpAddr>,
    ) -> Result<(), crate::Error> {
        let actor = ip.map_or_else(|| "anonymous".to_owned(), |ip| format!("ip:{ip}"));
        let burst = self.failure_bursts.note(&target, now);
        let mut event = self.audit_as(&actor, account, Action::AuthFailure, target, now);
        event.ip = ip.map(|ip| ip.to_string());
        if burst {
            event.notify = Some(crate::notification::EventType::AuthFailureBurst);
        }
        event.outcome = Outcome::Failure;
        Ok(self.repo.insert_audit_event(&event)?)
    }

    /// The same, with new signing keys of `algorithm` and access tokens valid for `ttl`.
    pub fn with_tokens(mut self, algorithm: SigningAlgorithm, ttl: chrono::Duration) -> Self {
        self.signing_algorithm = algorithm;
        self.access_token_ttl = ttl;
        self
    }

    /// The same, sealing secrets with `sealer` (keyed from the master key) instead of a random key.
    pub fn with_sealer(mut self, sealer: Sealer) -> Self {
        self.sealer = Arc::new(sealer);
        self
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Whether storage answers.
    pub fn ready(&self) -> Result<(), crate::Error> {
        Ok(self.repo.ping()?)
    }

    /// An audit event for a successful change made by `p`.
    fn audit(&self, p: &Principal, account: AccountId, action: Action, target: String, now: Timestamp) -> AuditEvent {
        let mut event = self.audit_as(&p.actor(), account, action, target, now);
        event.ip = p.ip.map(|ip| ip.to_string());
        event
    }

    /// An audit event for a successful change made by `actor`, such as `system:schedule`.
    fn audit_as(&self, actor: &str, account: AccountId, action: Action, target: String, now: Timestamp) -> AuditEvent {
        AuditEvent::success(AuditEventId::generate(now, self.entropy.as_ref()), account, actor, action, target, now)
    }
}
