//! The first start: the system account, its `root` service account and the first admin key.

use super::Keyward;
use crate::account::Account;
use crate::api_key::{ApiKey, StoredSecret};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::credential::{Credential, CredentialKind};
use crate::error::Error;
use crate::id::{AccountId, ApiKeyId, AuditEventId, ServiceAccountId};
use crate::scope::{Scope, Scopes};
use crate::secret::SecretString;
use crate::service_account::ServiceAccount;
use crate::text::{Description, Metadata, Name};

/// What the first start created.
#[derive(Debug)]
pub struct Bootstrapped {
    /// The system account's id.
    pub account_id: AccountId,
    /// The admin key's credential string, to be handed to the operator once.
    pub admin_key: SecretString,
}

impl Keyward {
    /// On an empty store, creates the system account, its `root` service account and an admin API
    /// key with the `admin` scope. Answers `None`, changing nothing, if that was already done.
    pub fn bootstrap(&self) -> Result<Option<Bootstrapped>, Error> {
        let now = self.now();
        let e = self.entropy.as_ref();
        let fixed = |s: &str| Name::parse(s, "name");
        let account = Account {
            id: AccountId::generate(now, e),
            name: fixed("system")?,
            system: true,
            created_at: now,
            updated_at: now,
        };
        let root = ServiceAccount {
            id: ServiceAccountId::generate(now, e),
            account_id: account.id,
            name: fixed("root")?,
            description: Description::parse("Created at first start; holds the first admin key.", "description")?,
            active: true,
            metadata: Metadata::default(),
            created_at: now,
            updated_at: now,
        };
        let key_id = ApiKeyId::generate(now, e);
        let credential = Credential::generate(CredentialKind::ApiKey, *key_id.as_uuid(), e);
        let key = ApiKey {
            id: key_id,
            account_id: account.id,
            service_account_id: root.id,
            name: fixed("admin")?,
            description: Description::default(),
            scopes: std::iter::once(Scope::known(Scope::ADMIN)).collect::<Scopes>(),
            active: true,
            expires_at: None,
            created_at: now,
            updated_at: now,
            last_used_at: None,
            last_used_ip: None,
            last_rotated_at: None,
            secret: StoredSecret { current: credential.secret_hash(), previous: None, sealed: None },
        };
        let event = |action, target: String| AuditEvent {
            id: AuditEventId::generate(now, e),
            account_id: account.id,
            actor: "system:bootstrap".to_owned(),
            action,
            target,
            at: now,
            ip: None,
            outcome: Outcome::Success,
        };
        let audit = [
            event(Action::AccountCreate, format!("account:{}", account.id)),
            event(Action::ServiceAccountCreate, format!("service_account:{}", root.id)),
            event(Action::ApiKeyCreate, format!("api_key:{key_id}")),
        ];
        if self.repo.bootstrap(&account, &root, &key, &audit)? {
            Ok(Some(Bootstrapped { account_id: account.id, admin_key: credential.reveal() }))
        } else {
            Ok(None)
        }
    }
}
