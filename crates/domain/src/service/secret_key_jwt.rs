//! JWTs signed with a secret key (HS256, `kid` = key id): issued by Keyward on request, or signed
//! by the client itself, and accepted as `Bearer` on the management API.

use std::net::IpAddr;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

use super::Keyward;
use super::reach::{Reach, Stop};
use crate::credential::{Credential, CredentialKind};
use crate::error::Error;
use crate::id::{AccountId, SecretKeyId, ServiceAccountId};
use crate::jwt::claims::{
    AUDIENCE, IssuedClaims, JwtLifetime, LEEWAY_SECONDS, MAX_SECRET_KEY_JWT_SECONDS, PresentedClaims, WHOLE_KEY_SCOPE,
    times_hold,
};
use crate::jwt::provider;
use crate::key::Rejection;
use crate::principal::{CredentialRef, Permission, Principal};
use crate::repository::SecretKeyForAuth;
use crate::scope::Scopes;
use crate::secret::SecretString;
use crate::secret_key::SecretKey;
use crate::{Timestamp, ValidationError};

/// A JWT just issued.
#[derive(Debug)]
pub struct IssuedJwt {
    /// The token.
    pub token: SecretString,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The scopes it carries.
    pub scopes: Scopes,
}

/// The HMAC keys of a secret key: each accepted secret's whole credential string, as bytes, which
/// is what a client holds and hands to its JWT library.
pub(super) fn hmac_keys(key: &SecretKey, opened: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    opened
        .into_iter()
        .filter_map(|bytes| <[u8; Credential::SECRET_BYTES]>::try_from(bytes.as_slice()).ok())
        .map(|secret| {
            let credential = Credential::from_parts(CredentialKind::SecretKey, *key.id.as_uuid(), secret);
            credential.reveal().expose().as_bytes().to_vec()
        })
        .collect()
}

/// Refuses to sign a bearer JWT with a key whose tokens must be bound to a client key (DPoP).
fn refuse_bearer_jwt(key: &SecretKey) -> Result<(), Error> {
    if key.part.require_dpop {
        return Err(Error::Unusable(Rejection::ProofRequired.code()));
    }
    Ok(())
}

impl Keyward {
    /// Signs a JWT with a secret key for its holder: HS256, `kid` = key id, at most the key's
    /// scopes, for at most an hour. Needs `secret-keys:write`, since it is as good as the secret.
    pub fn issue_secret_key_jwt(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
        scopes: Option<Scopes>,
        ttl_seconds: Option<i64>,
    ) -> Result<IssuedJwt, Error> {
        p.require(Permission::SecretKeysWrite, account)?;
        let ttl = ttl_seconds.unwrap_or(MAX_SECRET_KEY_JWT_SECONDS);
        if !(1..=MAX_SECRET_KEY_JWT_SECONDS).contains(&ttl) {
            return Err(ValidationError::new("ttl_seconds", "must be from 1 to 3600").into());
        }
        let key = self.repo.secret_key(account, sa, id)?;
        let owner = self.repo.service_account(account, sa)?;
        let now = self.now();
        key.usable(owner.active, now).map_err(|r| Error::Unusable(r.code()))?;
        refuse_bearer_jwt(&key)?;
        let scopes = match scopes {
            Some(s) if !key.scopes.covers_all(&s) => {
                return Err(ValidationError::new("scopes", "must be covered by the key's own scopes").into());
            }
            Some(s) => s,
            None => key.scopes.clone(),
        };
        let scope = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
        let token = self.sign_with_secret_key(&key, scope, ttl, now)?;
        Ok(IssuedJwt { token, expires_in: ttl, scopes })
    }

    /// Signs a JWT with a secret key that stands for the whole key (`scope: "account"`, as Smooch's
    /// account-scoped JWTs do), valid for an hour. Needs `secret-keys:write`.
    pub fn issue_whole_key_jwt(
        &self,
        p: &Principal,
        account: AccountId,
        sa: ServiceAccountId,
        id: SecretKeyId,
    ) -> Result<SecretString, Error> {
        p.require(Permission::SecretKeysWrite, account)?;
        let key = self.repo.secret_key(account, sa, id)?;
        let owner = self.repo.service_account(account, sa)?;
        let now = self.now();
        key.usable(owner.active, now).map_err(|r| Error::Unusable(r.code()))?;
        refuse_bearer_jwt(&key)?;
        self.sign_with_secret_key(&key, WHOLE_KEY_SCOPE.to_owned(), MAX_SECRET_KEY_JWT_SECONDS, now)
    }

    /// Signs HS256 claims for `key` (HMAC key = its current `kw_sk_...` string, `kid` = its id).
    fn sign_with_secret_key(
        &self,
        key: &SecretKey,
        scope: String,
        ttl: i64,
        now: Timestamp,
    ) -> Result<SecretString, Error> {
        let opened = key.open_secrets(&self.sealer, now).map_err(|_| Error::WrongMasterKey)?;
        let secret = hmac_keys(key, opened).into_iter().next().ok_or(Error::WrongMasterKey)?;
        let iat = now.timestamp();
        let jti = crate::id::new_v7(now, self.entropy.as_ref()).to_string();
        // The issuer of a JWT signed with a secret key is the key (as for a client assertion):
        // only its holder, or Keyward on its behalf, can sign one.
        let claims = IssuedClaims {
            iss: key.id.to_string(),
            sub: key.service_account_id.to_string(),
            aud: AUDIENCE.to_owned(),
            exp: iat + ttl,
            iat,
            nbf: iat,
            jti,
            scope,
            client_id: key.id.to_string(),
            fed: None,
            acct: key.account_id.to_string(),
            cnf: None,
        };
        provider::install();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.id.to_string());
        header.typ = Some(crate::jwt::claims::ACCESS_TOKEN_TYPE.to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret))
            .map_err(|e| Error::Unavailable(format!("signing failed: {e}")))?;
        Ok(SecretString::new(token))
    }

    /// Authenticates a JWT signed with a secret key (HS256, `kid` = the key's id, `exp` at most an
    /// hour ahead). Any other algorithm, an unknown `kid`, a bad signature or a bad time is refused.
    /// With [`Reach::Memory`] it stops for storage when the key is not cached or the JWT is
    /// refused (a refusal is written to the audit trail).
    pub(super) fn authenticate_secret_key_jwt(
        &self,
        token: &str,
        header: &Header,
        ip: Option<IpAddr>,
        lifetime: JwtLifetime,
        reach: Reach,
    ) -> Result<Result<Principal, Rejection>, Stop> {
        if header.alg != Algorithm::HS256 {
            return Ok(Err(Rejection::NotFound));
        }
        let Some(id) = header.kid.as_deref().and_then(|kid| SecretKeyId::parse(kid, "kid").ok()) else {
            return Ok(Err(Rejection::NotFound));
        };
        let found = match reach {
            Reach::Storage => self.repo.secret_key_for_auth(id)?,
            Reach::Memory => self.repo.secret_key_for_auth_in_memory(id).ok_or(Stop::NeedsStorage)?,
        };
        let Some(SecretKeyForAuth { key, owner_active, system }) = found else {
            return Ok(Err(Rejection::NotFound));
        };
        let now = self.now();
        let verdict = self.check_secret_key_jwt(token, &key, owner_active, now, lifetime);
        let scopes = match verdict {
            Ok(scopes) => scopes,
            Err(_) if reach == Reach::Memory => return Err(Stop::NeedsStorage),
            Err(rejection) => {
                self.record_auth_failure(key.account_id, format!("secret_key:{id}"), now, ip)?;
                return Ok(Err(rejection));
            }
        };
        self.usage.record_secret(id, now);
        Ok(Ok(Principal {
            account_id: key.account_id,
            service_account_id: key.service_account_id,
            credential: CredentialRef::SecretKey(id),
            scopes,
            system,
            ip,
        }))
    }

    /// What a secret-key JWT would be granted as `Bearer` on the native API, without recording
    /// anything: for introspection, which must give the same verdict.
    pub(super) fn peek_secret_key_jwt(
        &self,
        token: &str,
        header: &Header,
    ) -> Result<Option<(SecretKey, Scopes)>, Error> {
        if header.alg != Algorithm::HS256 || !crate::jwt::claims::header_acceptable(header) {
            return Ok(None);
        }
        let Some(id) = header.kid.as_deref().and_then(|kid| SecretKeyId::parse(kid, "kid").ok()) else {
            return Ok(None);
        };
        let Some(SecretKeyForAuth { key, owner_active, .. }) = self.repo.secret_key_for_auth(id)? else {
            return Ok(None);
        };
        let verdict = self.check_secret_key_jwt(token, &key, owner_active, self.now(), JwtLifetime::Bounded);
        Ok(verdict.ok().map(|scopes| (key, scopes)))
    }

    /// Checks a JWT against a secret key and returns the scopes it grants.
    fn check_secret_key_jwt(
        &self,
        token: &str,
        key: &SecretKey,
        owner_active: bool,
        now: Timestamp,
        lifetime: JwtLifetime,
    ) -> Result<Scopes, Rejection> {
        // A stored secret that does not open was changed in the database (or sealed under another
        // master key, which start-up rules out): refuse, as for a wrong signature.
        let opened = key.open_secrets(&self.sealer, now).map_err(|_| Rejection::NotFound)?;
        provider::install();
        let mut validation = Validation::new(Algorithm::HS256);
        // Times are checked below against Keyward's clock, not the library's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims::<&str>(&[]);
        let claims = hmac_keys(key, opened)
            .iter()
            .find_map(|secret| {
                jsonwebtoken::decode::<PresentedClaims>(token, &DecodingKey::from_secret(secret), &validation).ok()
            })
            .ok_or(Rejection::NotFound)?
            .claims;
        let now_s = now.timestamp();
        let whole_key = claims.scope.as_deref() == Some(WHOLE_KEY_SCOPE);
        // A token minted for another service, or naming another issuer, is not for Keyward.
        let key_id = key.id.to_string();
        if claims.iss.as_deref().is_some_and(|iss| iss != key_id)
            || claims.aud.as_ref().is_some_and(|aud| !aud.includes(&self.issuer) && !aud.includes(AUDIENCE))
        {
            return Err(Rejection::NotFound);
        }
        match claims.exp {
            None if whole_key && lifetime == JwtLifetime::AccountScopedUnbounded => {}
            None => return Err(Rejection::Malformed),
            Some(exp) if exp > now_s + MAX_SECRET_KEY_JWT_SECONDS + LEEWAY_SECONDS => {
                return Err(Rejection::Malformed);
            }
            Some(exp) if !times_hold(exp, claims.nbf, now_s) => return Err(Rejection::Expired),
            Some(_) => {}
        }
        if claims.nbf.is_some_and(|nbf| nbf > now_s + LEEWAY_SECONDS) {
            return Err(Rejection::Expired);
        }
        key.usable(owner_active, now)?;
        if key.part.require_dpop {
            // A JWT signed with the key is a bearer token, which such a key never accepts.
            return Err(Rejection::ProofRequired);
        }
        match claims.scope {
            None => Ok(key.scopes.clone()),
            Some(_) if whole_key => Ok(key.scopes.clone()),
            Some(scope) => {
                let items: Vec<&str> = scope.split_whitespace().collect();
                let requested = Scopes::parse(&items, "scope").map_err(|_| Rejection::InsufficientScope)?;
                Ok(requested.iter().filter(|s| key.scopes.covers(s)).cloned().collect())
            }
        }
    }
}
