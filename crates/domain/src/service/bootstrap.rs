//! The first start: the system account, its `root` service account and the first admin key.

use super::Keyward;
use crate::account::Account;
use crate::api_key::{ApiKey, ApiKeyPart, StoredSecret};
use crate::audit::{Action, AuditEvent};
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
            limits: Default::default(),
        };
        let (key, credential) = admin_key(account.id, root.id, fixed("admin")?, Description::default(), now, e);
        let key_id = key.id;
        let event = |action, target| {
            AuditEvent::success(AuditEventId::generate(now, e), account.id, "system:bootstrap", action, target, now)
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

    /// Break-glass: a new admin API key for the system account's `root` service account, made
    /// without any caller (by an operator on the server's machine) and audited as
    /// `system:break-glass`. With `revoke_others`, every other key of `root` is disabled.
    pub fn reset_admin_key(&self, revoke_others: bool) -> Result<Bootstrapped, Error> {
        let now = self.now();
        let e = self.entropy.as_ref();
        let (account, root) = self.root_service_account()?;
        let name = Name::parse(&format!("admin-{}", now.format("%Y%m%dT%H%M%S%.6fZ")), "name")?;
        let description = Description::parse("Made by `keyward admin reset-key`.", "description")?;
        let (key, credential) = admin_key(account, root.id, name, description, now, e);
        let key_id = key.id;
        let actor = "system:break-glass";
        self.repo.insert_api_key(
            &key,
            &self.audit_as(actor, account, Action::ApiKeyCreate, format!("api_key:{key_id}"), now),
        )?;
        if revoke_others {
            let query = crate::repository::ApiKeyQuery { service_account_id: Some(root.id), now, ..Default::default() };
            let others = crate::page::Page::collect_all(|page| {
                self.repo.list_api_keys(account, &crate::repository::ApiKeyQuery { page, ..query.clone() })
            })?;
            for other in others.iter().filter(|k| k.id != key_id && k.active) {
                self.repo.update_api_key(account, root.id, &crate::repository::KeyRef::Id(other.id), &mut |k| {
                    k.active = false;
                    k.updated_at = now;
                    Ok(self.audit_as(actor, account, Action::ApiKeyUpdate, format!("api_key:{}", k.id), now))
                })?;
            }
        }
        Ok(Bootstrapped { account_id: account, admin_key: credential.reveal() })
    }

    /// The operator at the server's machine (`keyward admin`), acting as a system administrator:
    /// the same rules and audit as the HTTP API, with `system:cli` as the actor.
    pub fn operator(&self) -> Result<crate::principal::Principal, Error> {
        let (account, root) = self.root_service_account()?;
        Ok(crate::principal::Principal {
            account_id: account,
            service_account_id: root.id,
            credential: crate::principal::CredentialRef::Operator,
            scopes: std::iter::once(Scope::known(Scope::ADMIN)).collect::<Scopes>(),
            system: true,
            ip: None,
        })
    }

    /// The system account's id and its `root` service account.
    fn root_service_account(&self) -> Result<(AccountId, ServiceAccount), Error> {
        let account = self.repo.system_account()?;
        let by_name =
            crate::repository::ServiceAccountQuery { name: Some(Name::parse("root", "name")?), ..Default::default() };
        let root = self.repo.list_service_accounts(account, &by_name)?.items.into_iter().next();
        Ok((account, root.ok_or(Error::NotFound(crate::error::Entity::ServiceAccount))?))
    }
}

/// A new admin API key (scope `admin`) of the system account's `root`, and its credential.
fn admin_key(
    account: AccountId,
    root: ServiceAccountId,
    name: Name,
    description: Description,
    now: crate::Timestamp,
    e: &dyn crate::Entropy,
) -> (ApiKey, Credential) {
    let id = ApiKeyId::generate(now, e);
    let credential = Credential::generate(CredentialKind::ApiKey, *id.as_uuid(), e);
    let secret = StoredSecret { current: credential.secret_hash(), previous: None, sealed: None };
    let key = ApiKey {
        part: ApiKeyPart { description, ..ApiKeyPart::default() },
        scopes: std::iter::once(Scope::known(Scope::ADMIN)).collect::<Scopes>(),
        ..ApiKey::issued(id, account, root, name, now, secret)
    };
    (key, credential)
}
