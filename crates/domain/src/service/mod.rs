//! The facade the API drives: each method checks who may do what, applies the domain's rules,
//! and calls the repository. It is synchronous; callers run it where blocking is allowed.

mod accounts;
mod api_keys;
mod audit;
mod auth;
mod bootstrap;
mod secret_key_jwt;
mod secret_keys;
mod service_accounts;
mod usage;
mod verify;

use std::sync::Arc;

use crate::audit::{Action, AuditEvent, Outcome};
use crate::id::{AccountId, AuditEventId};
use crate::principal::Principal;
use crate::repository::Repository;
use crate::sealing::Sealer;
use crate::usage::UsageBuffer;
use crate::{Clock, Entropy, Timestamp};

pub use api_keys::IssuedApiKey;
pub use bootstrap::Bootstrapped;
pub use secret_key_jwt::IssuedJwt;
pub use secret_keys::IssuedSecretKey;
pub use verify::Verification;

/// Keyward's operations over some storage, clock and random source.
#[derive(Debug, Clone)]
pub struct Keyward {
    repo: Arc<dyn Repository>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    usage: Arc<UsageBuffer>,
    sealer: Arc<Sealer>,
}

impl Keyward {
    /// Keyward over `repo`, reading time from `clock` and randomness from `entropy`.
    pub fn new(repo: Arc<dyn Repository>, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> Self {
        let sealer = Arc::new(Sealer::random(entropy.as_ref()));
        Self { repo, clock, entropy, usage: Arc::new(UsageBuffer::default()), sealer }
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
        AuditEvent {
            id: AuditEventId::generate(now, self.entropy.as_ref()),
            account_id: account,
            actor: p.actor(),
            action,
            target,
            at: now,
            ip: p.ip.clone(),
            outcome: Outcome::Success,
        }
    }
}
