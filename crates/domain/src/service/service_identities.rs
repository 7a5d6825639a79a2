//! Service identities: a service account with one secret key, made and regenerated together, for
//! the Service Identity dialect (whose `client_id` is the key's id and `client_token` its secret).

use super::Keyward;
use super::secret_keys::IssuedSecretKey;
use crate::api_key::RetainPeriod;
use crate::error::{Entity, Error};
use crate::id::{AccountId, ServiceAccountId};
use crate::principal::{Permission, Principal};
use crate::service_account::{NewServiceAccount, ServiceAccount};
use crate::text::{Description, Metadata, Name};

/// The name of the secret key a service identity holds.
pub const SERVICE_IDENTITY_KEY: &str = "service-identity";

impl Keyward {
    /// Creates a service account named `name` with one secret key whose scopes are inherited from
    /// the caller. If the key cannot be made, the service account is removed again, so a refused
    /// request leaves nothing behind.
    pub fn create_service_identity(
        &self,
        p: &Principal,
        account: AccountId,
        name: Name,
        description: Description,
    ) -> Result<(ServiceAccount, IssuedSecretKey), Error> {
        p.require(Permission::ServiceAccountsWrite, account)?;
        p.require(Permission::SecretKeysWrite, account)?;
        let new = NewServiceAccount {
            name,
            description,
            active: true,
            metadata: Metadata::default(),
            limits: Default::default(),
        };
        let sa = self.create_service_account(p, account, new)?;
        let key_name = Name::parse(SERVICE_IDENTITY_KEY, "name")?;
        match self.create_inheriting_secret_key(p, account, sa.id, key_name) {
            Ok(issued) => Ok((sa, issued)),
            Err(e) => {
                // Best effort: the error the caller sees is the one that stopped the creation.
                let _ = self.delete_service_account(p, account, sa.id);
                Err(e)
            }
        }
    }

    /// Gives a service identity's secret key a new secret; the old one stops working at once.
    pub fn regenerate_service_identity(
        &self,
        p: &Principal,
        account: AccountId,
        id: ServiceAccountId,
    ) -> Result<(ServiceAccount, IssuedSecretKey), Error> {
        p.require(Permission::SecretKeysWrite, account)?;
        let sa = self.repo.service_account(account, id)?;
        let keys = self.all_secret_keys(p, account, id)?;
        let key = keys
            .iter()
            .find(|k| k.name.as_str() == SERVICE_IDENTITY_KEY)
            .or_else(|| keys.first())
            .ok_or(Error::NotFound(Entity::SecretKey))?;
        let issued = self.rotate_key(p, account, id, &key.id, RetainPeriod::parse(0, "retain_period_seconds")?)?;
        Ok((sa, issued))
    }
}
