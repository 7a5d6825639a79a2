//! Expiry notices: a key's owners are told 7 days and 1 day before it expires, and when it has
//! expired (`credential.expiring`, `credential.expired`), each once, by whichever node looks first.

use super::Keyward;
use crate::audit::Action;
use crate::error::Error;
use crate::repository::ExpiringKey;

/// How many keys one round looks at, at most.
const PER_ROUND: u32 = 500;

/// The notices before expiry: name and how long before.
const AHEAD: [(&str, i64); 2] = [("7d", 7), ("1d", 1)];

impl Keyward {
    /// Gives the expiry notices due now; answers how many it gave. A notice missed for more than
    /// a day (no node ran) is not given late.
    pub fn give_expiry_notices(&self) -> Result<usize, Error> {
        let now = self.now();
        let mut given = 0;
        for key in
            self.repo.keys_expiring(now - chrono::Duration::days(1), now + chrono::Duration::days(7), PER_ROUND)?
        {
            let due = if key.expires_at <= now {
                Some(("expired", Action::CredentialExpired))
            } else {
                AHEAD
                    .iter()
                    .filter(|(_, days)| key.expires_at <= now + chrono::Duration::days(*days))
                    .min_by_key(|(_, days)| *days)
                    .map(|(name, _)| (*name, Action::CredentialExpiring))
            };
            let Some((notice, action)) = due else { continue };
            if self.notice(&key, notice, action)? {
                given += 1;
            }
        }
        Ok(given)
    }

    fn notice(&self, key: &ExpiringKey, notice: &str, action: Action) -> Result<bool, Error> {
        let mut audit = self.audit_as("system:schedule", key.account_id, action, key.target.clone(), self.now());
        audit.reason = Some(match notice {
            "expired" => format!("expired at {}", key.expires_at.to_rfc3339()),
            _ => format!("expires at {} (notice {notice})", key.expires_at.to_rfc3339()),
        });
        Ok(self.repo.record_expiry_notice(key, notice, &audit)?)
    }
}
