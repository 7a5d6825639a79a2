//! A service account's federated credentials: creating, reading, changing and deleting its trust
//! policies for external issuers, and the dry run that says which checks a token passes.

use std::collections::BTreeMap;

use super::Keyward;
use crate::audit::Action;
use crate::error::Error;
use crate::federation::{Check, FederatedCredential, Issuer, KeysUnavailable, PresentedToken, TrustPolicy};
use crate::id::{AccountId, FederatedCredentialId, ServiceAccountId};
use crate::page::{Page, PageRequest};
use crate::principal::{Permission, Principal};
use crate::scope::Scopes;
use crate::text::Name;
use crate::{Timestamp, ValidationError};

/// What a caller supplies to create a federated credential. The policy's parts are checked as a
/// whole ([`TrustPolicy::new`]) after the caller's permission and the service account are, so that
/// a probe of another account's service account learns nothing from a validation error.
#[derive(Debug, Clone)]
pub struct NewFederatedCredential {
    /// Its name, unique per service account.
    pub name: Name,
    /// The issuer URL, exactly as its tokens' `iss` says.
    pub issuer: String,
    /// The accepted `aud` values.
    pub audiences: Vec<String>,
    /// The exact `sub` required, if any.
    pub subject: Option<String>,
    /// Other claims required: exact values or globs.
    pub claims: BTreeMap<String, String>,
    /// What a minted token may carry; the caller must be able to grant each.
    pub scopes: Scopes,
    /// The longest life of a minted token, in seconds (see [`crate::federation::parse_max_ttl`]).
    pub max_ttl_seconds: Option<i64>,
    /// Whether it may be used at once.
    pub active: bool,
    /// Whether an external token may be exchanged only once.
    pub refuse_replay: bool,
}

/// Changes to a federated credential; `None` leaves a field as it is. The policy's parts are
/// checked again together, as a new policy would be.
#[derive(Debug, Clone, Default)]
pub struct FederatedCredentialChanges {
    /// A new name.
    pub name: Option<Name>,
    /// A new issuer URL.
    pub issuer: Option<String>,
    /// New accepted audiences.
    pub audiences: Option<Vec<String>>,
    /// A new required subject, or `Some(None)` for none.
    pub subject: Option<Option<String>>,
    /// New required claims, replacing the old ones.
    pub claims: Option<BTreeMap<String, String>>,
    /// New scopes; the caller must be able to grant each.
    pub scopes: Option<Scopes>,
    /// A new maximum lifetime, in seconds.
    pub max_ttl_seconds: Option<i64>,
    /// Enable or disable it.
    pub active: Option<bool>,
    /// Refuse replayed external tokens, or not.
    pub refuse_replay: Option<bool>,
}

impl FederatedCredentialChanges {
    /// Applies the changes to `f` as of `now`.
    pub fn apply(&self, f: &mut FederatedCredential, now: Timestamp) -> Result<(), ValidationError> {
        if self.issuer.is_some() || self.audiences.is_some() || self.subject.is_some() || self.claims.is_some() {
            let old = &f.policy;
            let claims = old.claims().iter().map(|(k, p)| (k.clone(), p.as_str().to_owned())).collect();
            let issuer = match &self.issuer {
                Some(text) => Issuer::parse(text, "issuer")?,
                None => old.issuer().clone(),
            };
            f.policy = TrustPolicy::new(
                issuer,
                self.audiences.clone().unwrap_or_else(|| old.audiences().to_vec()),
                self.subject.clone().unwrap_or_else(|| old.subject().map(str::to_owned)),
                self.claims.clone().unwrap_or(claims),
            )?;
        }
        if let Some(name) = &self.name {
            f.name = name.clone();
        }
        if let Some(scopes) = &self.scopes {
            f.scopes = scopes.clone();
        }
        if let Some(ttl) = self.max_ttl_seconds {
            f.max_ttl_seconds = crate::federation::parse_max_ttl(Some(ttl))?;
        }
        if let Some(active) = self.active {
            f.active = active;
        }
        if let Some(refuse) = self.refuse_replay {
            f.refuse_replay = refuse;
        }
        f.updated_at = now;
        Ok(())
    }
}

fn target(id: FederatedCredentialId) -> String {
    format!("federated_credential:{id}")
}

impl Keyward {
    /// Creates a federated credential for a service account.
    pub fn create_federated_credential(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        new: NewFederatedCredential,
    ) -> Result<FederatedCredential, Error> {
        p.require(Permission::ServiceAccountsWrite, account)?;
        let (owner_account, owner) = self.repo.service_account_with_owner(account, sa)?;
        let policy = TrustPolicy::new(Issuer::parse(&new.issuer, "issuer")?, new.audiences, new.subject, new.claims)?;
        let max_ttl_seconds = crate::federation::parse_max_ttl(new.max_ttl_seconds)?;
        p.require_grantable(&new.scopes, owner_account.system)?;
        let now = self.now();
        let credential = FederatedCredential {
            id: FederatedCredentialId::generate(now, self.entropy.as_ref()),
            account_id: account,
            service_account_id: owner.id,
            name: new.name,
            policy,
            scopes: new.scopes,
            max_ttl_seconds,
            active: new.active,
            refuse_replay: new.refuse_replay,
            created_at: now,
            updated_at: now,
        };
        let audit = self.audit(p, account, Action::FederatedCredentialCreate, target(credential.id), now);
        self.repo.insert_federated_credential(&credential, &audit)?;
        Ok(credential)
    }

    /// The federated credentials of a service account, oldest first.
    pub fn list_federated_credentials(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        page: &PageRequest,
    ) -> Result<Page<FederatedCredential>, Error> {
        p.require(Permission::ServiceAccountsRead, account)?;
        let page = self.repo.list_federated_credentials(account, sa, page)?;
        if page.items.is_empty() {
            self.repo.service_account(account, sa)?;
        }
        Ok(page)
    }

    /// Every federated credential of a service account (no paging), oldest first: the console's
    /// page.
    pub fn all_federated_credentials(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
    ) -> Result<Vec<FederatedCredential>, Error> {
        p.require(Permission::ServiceAccountsRead, account)?;
        self.repo.service_account(account, sa)?;
        Ok(Page::collect_all(|page| self.repo.list_federated_credentials(account, sa, &page))?)
    }

    /// One federated credential.
    pub fn get_federated_credential(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: FederatedCredentialId,
    ) -> Result<FederatedCredential, Error> {
        p.require(Permission::ServiceAccountsRead, account)?;
        Ok(self.repo.federated_credential(account, sa, id)?)
    }

    /// Changes a federated credential; new scopes must be grantable by the caller.
    pub fn update_federated_credential(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: FederatedCredentialId,
        changes: FederatedCredentialChanges,
    ) -> Result<FederatedCredential, Error> {
        p.require(Permission::ServiceAccountsWrite, account)?;
        if let Some(scopes) = &changes.scopes {
            p.require_grantable(scopes, self.repo.account(account)?.system)?;
        }
        let now = self.now();
        self.repo.update_federated_credential(account, sa, id, &mut |f| {
            changes.apply(f, now)?;
            Ok(self.audit(p, account, Action::FederatedCredentialUpdate, target(id), now))
        })
    }

    /// Deletes a federated credential. Access tokens it minted stay valid until they expire (at
    /// most its `max_ttl_seconds`), unless revoked.
    pub fn delete_federated_credential(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: FederatedCredentialId,
    ) -> Result<(), Error> {
        p.require(Permission::ServiceAccountsWrite, account)?;
        let audit = self.audit(p, account, Action::FederatedCredentialDelete, target(id), self.now());
        Ok(self.repo.delete_federated_credential(account, sa, id, &audit)?)
    }

    /// The dry run: which checks `token` passes against the credential (active, signature,
    /// issuer, expiry, not-before, audience, subject, each claim), minting nothing. A token that
    /// cannot even be read fails every check; keys that cannot be fetched fail the signature.
    pub fn test_federated_credential(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: FederatedCredentialId,
        token: &str,
    ) -> Result<Vec<Check>, Error> {
        p.require(Permission::ServiceAccountsRead, account)?;
        let credential = self.repo.federated_credential(account, sa, id)?;
        let policy = &credential.policy;
        let Ok(presented) = PresentedToken::read(token) else {
            return Ok(vec![Check::new("token", false, "a compact signed JWT of at most 16 KiB")]);
        };
        let signature = match presented.issuer() {
            Some(iss) if iss == policy.issuer().as_str() => self.check_signature(&presented, policy.issuer()),
            _ => Check::new("signature", false, "signed by the policy's issuer"),
        };
        let owner_active = self.repo.service_account(account, sa)?.active;
        let active = Check::new(
            "active",
            credential.active && owner_active,
            "the federated credential and its service account must be active",
        );
        let mut checks = vec![active, signature];
        checks.extend(policy.check_claims(presented.claims(), self.now()));
        Ok(checks)
    }

    /// Checks a presented token's signature against its issuer's keys; see
    /// [`Keyward::issuer_keys_for`].
    fn check_signature(&self, presented: &PresentedToken<'_>, issuer: &Issuer) -> Check {
        match self.issuer_keys_for(presented, issuer) {
            Ok(keys) => presented.check_signature(&keys),
            Err(e) => Check::new("signature", false, e.to_string()),
        }
    }

    /// The issuer's keys for checking `presented`, fetched again once when the token names a key
    /// the cached ones lack (a rotation at the issuer).
    pub(super) fn issuer_keys_for(
        &self,
        presented: &PresentedToken<'_>,
        issuer: &Issuer,
    ) -> Result<jsonwebtoken::jwk::JwkSet, KeysUnavailable> {
        match self.issuer_keys.keys(issuer, false) {
            Ok(keys) if presented.names_a_key_in(&keys) => Ok(keys),
            Ok(_) => self.issuer_keys.keys(issuer, true),
            Err(e) => Err(e),
        }
    }
}
