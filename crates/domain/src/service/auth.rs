//! Authentication: turning a presented credential string into a [`Principal`].

use std::net::IpAddr;

use super::Keyward;
use super::reach::{Reach, Stop, from_memory, with_storage};
use crate::api_key::compare_with_nothing;
use crate::credential::{Credential, CredentialKind};
use crate::error::Error;
use crate::id::ApiKeyId;
use crate::jwt::claims::JwtLifetime;
use crate::key::Rejection;
use crate::principal::{CredentialRef, Principal};
use crate::usage::Usage;

impl Keyward {
    /// Authenticates a bearer credential presented from `ip`: an API key, or a JWT signed with a
    /// secret key.
    ///
    /// A malformed string is refused from its checksum alone, without touching storage. A refused
    /// credential whose key exists is recorded as an `auth.failure` audit event in that key's
    /// account. The outer error is a storage failure; the inner one says why the credential was
    /// refused.
    pub fn authenticate(&self, token: &str, ip: Option<IpAddr>) -> Result<Result<Principal, Rejection>, Error> {
        self.authenticate_with(token, ip, JwtLifetime::Bounded)
    }

    /// The same, checking the lifetime of a secret-key JWT by `lifetime` (the Smooch dialect lets
    /// an account-scoped JWT carry no `exp`).
    pub fn authenticate_with(
        &self,
        token: &str,
        ip: Option<IpAddr>,
        lifetime: JwtLifetime,
    ) -> Result<Result<Principal, Rejection>, Error> {
        with_storage(self.authenticate_within(token, ip, Reach::Storage, lifetime))
    }

    /// The same, from memory alone: `None` when the answer needs storage (the key is not cached,
    /// the credential is a JWT, or a refusal must be written to the audit trail); then call
    /// [`Keyward::authenticate`]. It never blocks.
    pub fn authenticate_from_memory(
        &self,
        token: &str,
        ip: Option<IpAddr>,
    ) -> Option<Result<Result<Principal, Rejection>, Error>> {
        self.authenticate_from_memory_with(token, ip, JwtLifetime::Bounded)
    }

    /// The same, checking a secret-key JWT's lifetime by `lifetime`.
    pub fn authenticate_from_memory_with(
        &self,
        token: &str,
        ip: Option<IpAddr>,
        lifetime: JwtLifetime,
    ) -> Option<Result<Result<Principal, Rejection>, Error>> {
        from_memory(self.authenticate_within(token, ip, Reach::Memory, lifetime))
    }

    pub(super) fn authenticate_within(
        &self,
        token: &str,
        ip: Option<IpAddr>,
        reach: Reach,
        lifetime: JwtLifetime,
    ) -> Result<Result<Principal, Rejection>, Stop> {
        if !token.starts_with("kw_") && token.bytes().filter(|&b| b == b'.').count() == 2 {
            let Ok(header) = jsonwebtoken::decode_header(token) else {
                return Ok(Err(Rejection::Malformed));
            };
            if !crate::jwt::claims::header_acceptable(&header) {
                return Ok(Err(Rejection::Malformed));
            }
            return match header.alg {
                // A JWT signed with a secret key is checked against the cached key, like an API key.
                jsonwebtoken::Algorithm::HS256 => self.authenticate_secret_key_jwt(token, &header, ip, lifetime, reach),
                // Access tokens ask storage whether they were revoked.
                jsonwebtoken::Algorithm::EdDSA | jsonwebtoken::Algorithm::ES256 if reach == Reach::Memory => {
                    Err(Stop::NeedsStorage)
                }
                jsonwebtoken::Algorithm::EdDSA | jsonwebtoken::Algorithm::ES256 => {
                    Ok(self.authenticate_access_token(token, &header, ip, None)?)
                }
                _ => Ok(Err(Rejection::NotFound)),
            };
        }
        let Ok(credential) = Credential::parse(token) else {
            return Ok(Err(Rejection::Malformed));
        };
        let presented = credential.secret_hash();
        if credential.kind() != CredentialKind::ApiKey {
            compare_with_nothing(&presented);
            return Ok(Err(Rejection::NotFound));
        }
        let id = ApiKeyId::from_uuid(credential.id());
        let Some(found) = self.api_key_for_auth(id, reach)? else {
            compare_with_nothing(&presented);
            return Ok(Err(Rejection::NotFound));
        };
        let now = self.now();
        if let Err(rejection) = found.key.check(&presented, found.owner_active, now) {
            if reach == Reach::Memory {
                return Err(Stop::NeedsStorage);
            }
            self.record_auth_failure(found.key.account_id, format!("api_key:{id}"), now, ip)?;
            self.usage.record_refusal(id, now);
            return Ok(Err(rejection));
        }
        self.usage.record(id, Usage { at: now, ip });
        Ok(Ok(Principal {
            account_id: found.key.account_id,
            service_account_id: found.key.service_account_id,
            credential: CredentialRef::ApiKey(id),
            scopes: found.key.scopes,
            system: found.system,
            ip,
        }))
    }
}
