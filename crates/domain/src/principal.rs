//! Who is calling, and the rules of what they may do: scopes, tenancy and granting.

use std::net::IpAddr;

use crate::error::{Entity, Error};
use crate::id::{AccountId, ApiKeyId, FederatedCredentialId, SecretKeyId, ServiceAccountId};
use crate::scope::{Scope, Scopes};

/// The credential a caller authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialRef {
    /// An API key.
    ApiKey(ApiKeyId),
    /// A JWT signed with a secret key.
    SecretKey(SecretKeyId),
    /// An access token minted through a federated credential, for an external token.
    Federated(FederatedCredentialId),
    /// An operator at the server's machine, through `keyward admin` (no credential at all).
    Operator,
}

impl CredentialRef {
    /// The credential's id, as text (the `client_id` of the access tokens it obtains).
    pub fn id(&self) -> String {
        match self {
            CredentialRef::ApiKey(id) => id.to_string(),
            CredentialRef::SecretKey(id) => id.to_string(),
            CredentialRef::Federated(id) => id.to_string(),
            CredentialRef::Operator => "operator".to_owned(),
        }
    }

    /// The reference written into audit events, such as `api_key:<id>`.
    pub fn audit_ref(&self) -> String {
        match self {
            CredentialRef::ApiKey(id) => format!("api_key:{id}"),
            CredentialRef::SecretKey(id) => format!("secret_key:{id}"),
            CredentialRef::Federated(id) => format!("federated_credential:{id}"),
            CredentialRef::Operator => "system:cli".to_owned(),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account the credential belongs to.
    pub account_id: AccountId,
    /// The service account the credential belongs to.
    pub service_account_id: ServiceAccountId,
    /// The credential used.
    pub credential: CredentialRef,
    /// The credential's scopes.
    pub scopes: Scopes,
    /// Whether the credential belongs to the system account.
    pub system: bool,
    /// The address the request came from, when known.
    pub ip: Option<IpAddr>,
}

/// Something a caller may be allowed to do inside an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read service accounts.
    ServiceAccountsRead,
    /// Create, change and delete service accounts.
    ServiceAccountsWrite,
    /// Read API keys.
    ApiKeysRead,
    /// Create, change, rotate and delete API keys.
    ApiKeysWrite,
    /// Verify and look up API keys presented to other services.
    ApiKeysVerify,
    /// Read secret keys.
    SecretKeysRead,
    /// Create, change, rotate and delete secret keys.
    SecretKeysWrite,
    /// Read audit events.
    AuditRead,
    /// Change the account itself.
    AccountAdmin,
}

impl Permission {
    /// The scope that grants it.
    pub fn scope(self) -> &'static str {
        match self {
            Permission::ServiceAccountsRead => "service-accounts:read",
            Permission::ServiceAccountsWrite => "service-accounts:write",
            Permission::ApiKeysRead => "api-keys:read",
            Permission::ApiKeysWrite => "api-keys:write",
            Permission::ApiKeysVerify => "api-keys:verify",
            Permission::SecretKeysRead => "secret-keys:read",
            Permission::SecretKeysWrite => "secret-keys:write",
            Permission::AuditRead => "audit:read",
            Permission::AccountAdmin => Scope::ACCOUNT_ADMIN,
        }
    }

    /// Other scopes that also grant it: writing implies reading, and the Dynatrace token scopes
    /// (`apiTokens.read`, `apiTokens.write`) are accepted alongside Keyward's own, so that tokens
    /// made for Dynatrace clients work as they would there. Dynatrace's token lookup needs only
    /// `apiTokens.read`, so that scope also grants verification.
    fn implied_by(self) -> &'static [&'static str] {
        match self {
            Permission::ServiceAccountsRead => &["service-accounts:write"],
            Permission::ApiKeysRead => &["api-keys:write", "apiTokens.read", "apiTokens.write"],
            Permission::ApiKeysWrite => &["apiTokens.write"],
            Permission::ApiKeysVerify => &["apiTokens.read", "apiTokens.write"],
            Permission::SecretKeysRead => &["secret-keys:write"],
            _ => &[],
        }
    }
}

impl Principal {
    /// Whether the caller is a system administrator: a system-account credential with `admin`.
    pub fn is_system_admin(&self) -> bool {
        self.system && self.scopes.contains(Scope::ADMIN)
    }

    /// The actor written into audit events.
    pub fn actor(&self) -> String {
        self.credential.audit_ref()
    }

    /// Whether the caller holds `scope`, directly or through a wildcard.
    fn holds(&self, scope: &'static str) -> bool {
        self.scopes.covers_known(scope)
    }

    /// Checks that the caller may see `account` at all. Another account answers "not found", never
    /// "forbidden", so ids cannot be probed.
    pub fn require_account(&self, account: AccountId) -> Result<(), Error> {
        if self.is_system_admin() || self.account_id == account {
            Ok(())
        } else {
            Err(Error::NotFound(Entity::Account))
        }
    }

    /// Checks that the caller may do `permission` inside `account`.
    pub fn require(&self, permission: Permission, account: AccountId) -> Result<(), Error> {
        self.require_account(account)?;
        let allowed = self.is_system_admin()
            || self.holds(Scope::ACCOUNT_ADMIN)
            || self.holds(permission.scope())
            || permission.implied_by().iter().any(|s| self.holds(s));
        if allowed { Ok(()) } else { Err(Error::Forbidden(permission.scope().to_owned())) }
    }

    /// Checks that the caller is a system administrator.
    pub fn require_system_admin(&self) -> Result<(), Error> {
        if self.is_system_admin() { Ok(()) } else { Err(Error::Forbidden(Scope::ADMIN.to_owned())) }
    }

    /// Checks that the caller may grant `scopes` to a credential in an account that is (or is not)
    /// the system account. Nobody grants what they do not hold; `admin` is granted only by a system
    /// administrator, and only to credentials of the system account.
    pub fn require_grantable(&self, scopes: &Scopes, target_is_system: bool) -> Result<(), Error> {
        for scope in scopes.iter() {
            let ok = if scope.as_str() == Scope::ADMIN {
                self.is_system_admin() && target_is_system
            } else {
                self.is_system_admin() || self.holds(Scope::ACCOUNT_ADMIN) || self.scopes.covers(scope)
            };
            if !ok {
                return Err(Error::ScopeNotGrantable(scope.as_str().to_owned()));
            }
        }
        Ok(())
    }

    /// The caller's own scopes that it may grant to a credential in an account that is (or is not)
    /// the system account: what a credential made through a vendor dialect without scopes
    /// (Wavefront) inherits from the credential that made it, never more.
    pub fn inheritable_scopes(&self, target_is_system: bool) -> Scopes {
        self.scopes
            .iter()
            .filter(|s| self.require_grantable(&Scopes::from_iter([(*s).clone()]), target_is_system).is_ok())
            .cloned()
            .collect()
    }

    /// Whether the caller may do `permission` inside `account`.
    pub fn may(&self, permission: Permission, account: AccountId) -> bool {
        self.require(permission, account).is_ok()
    }

    /// Checks that `credential` is not the one the caller is using.
    pub fn require_not_self(&self, credential: CredentialRef) -> Result<(), Error> {
        if self.credential == credential { Err(Error::OwnCredential) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, SeededEntropy, SystemClock};

    fn principal(scopes: &[&str], system: bool) -> Principal {
        let e = SeededEntropy::new(4);
        let now = SystemClock.now();
        Principal {
            account_id: AccountId::generate(now, &e),
            service_account_id: ServiceAccountId::generate(now, &e),
            credential: CredentialRef::ApiKey(ApiKeyId::generate(now, &e)),
            scopes: Scopes::parse(scopes, "scopes").unwrap(),
            system,
            ip: None,
        }
    }

    #[test]
    fn other_accounts_are_invisible_rather_than_forbidden() {
        let p = principal(&["account:admin"], false);
        let other = AccountId::generate(SystemClock.now(), &SeededEntropy::new(99));
        assert!(matches!(p.require(Permission::ApiKeysRead, other), Err(Error::NotFound(Entity::Account))));
        assert!(p.require(Permission::ApiKeysRead, p.account_id).is_ok());
    }

    #[test]
    fn admin_counts_only_in_the_system_account() {
        let outsider = principal(&["admin"], false);
        assert!(!outsider.is_system_admin());
        assert!(outsider.require(Permission::AuditRead, outsider.account_id).is_err());
        let root = principal(&["admin"], true);
        let other = AccountId::generate(SystemClock.now(), &SeededEntropy::new(98));
        assert!(root.require(Permission::AuditRead, other).is_ok());
    }

    #[test]
    fn write_implies_read_and_wildcards_apply() {
        let p = principal(&["api-keys:write", "service-accounts:*"], false);
        assert!(p.require(Permission::ApiKeysRead, p.account_id).is_ok());
        assert!(p.require(Permission::ServiceAccountsWrite, p.account_id).is_ok());
        assert!(
            matches!(p.require(Permission::AuditRead, p.account_id), Err(Error::Forbidden(s)) if s == "audit:read")
        );
    }

    #[test]
    fn dynatrace_token_scopes_grant_key_permissions() {
        let reader = principal(&["apiTokens.read"], false);
        assert!(reader.may(Permission::ApiKeysRead, reader.account_id));
        assert!(reader.may(Permission::ApiKeysVerify, reader.account_id));
        assert!(!reader.may(Permission::ApiKeysWrite, reader.account_id));
        let writer = principal(&["apiTokens.write"], false);
        assert!(writer.may(Permission::ApiKeysWrite, writer.account_id));
        assert!(!writer.may(Permission::ServiceAccountsRead, writer.account_id));
        assert!(!principal(&["apitokens.write"], false).may(Permission::ApiKeysWrite, writer.account_id));
    }

    #[test]
    fn inherited_scopes_never_exceed_what_the_caller_may_grant() {
        let p = principal(&["api-keys:write", "metrics.read"], false);
        let inherited = p.inheritable_scopes(false);
        assert_eq!(inherited, Scopes::parse(&["api-keys:write", "metrics.read"], "scopes").unwrap());
        let root = principal(&["admin"], true);
        assert!(root.inheritable_scopes(false).is_empty());
        assert!(root.inheritable_scopes(true).contains("admin"));
    }

    #[test]
    fn nobody_grants_more_than_they_hold() {
        let p = principal(&["api-keys:write", "metrics:*"], false);
        let ok = Scopes::parse(&["metrics:read", "api-keys:write"], "scopes").unwrap();
        assert!(p.require_grantable(&ok, false).is_ok());
        let escalation = Scopes::parse(&["account:admin"], "scopes").unwrap();
        assert!(p.require_grantable(&escalation, false).is_err());
        let account_admin = principal(&["account:admin"], false);
        assert!(account_admin.require_grantable(&escalation, false).is_ok());
        let admin = Scopes::parse(&["admin"], "scopes").unwrap();
        assert!(account_admin.require_grantable(&admin, false).is_err());
        let root = principal(&["admin"], true);
        assert!(root.require_grantable(&admin, false).is_err());
        assert!(root.require_grantable(&admin, true).is_ok());
    }
}
