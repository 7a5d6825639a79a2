//! OAuth 2.0 client credentials: client authentication with a secret key, and access tokens signed
//! by Keyward's active signing key, verifiable by anyone from the JWKS.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use subtle::ConstantTimeEq;

use super::Keyward;
use crate::api_key::{KeyState, Rejection};
use crate::credential::{Credential, CredentialKind};
use crate::error::Error;
use crate::id::{SecretKeyId, SigningKeyId};
use crate::jwt::claims::{AUDIENCE, IssuedClaims, LEEWAY_SECONDS};
use crate::jwt::provider;
use crate::principal::{CredentialRef, Principal};
use crate::repository::SecretKeyForAuth;
use crate::scope::Scopes;
use crate::secret::SecretString;
use crate::signing_key::{SigningAlgorithm, SigningKey, SigningKeyState};

/// Why a token request was refused, in RFC 6749 §5.2 terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// The client could not be authenticated.
    InvalidClient(&'static str),
    /// The requested scope is malformed or exceeds what the client holds.
    InvalidScope(&'static str),
}

/// An access token just issued.
#[derive(Debug)]
pub struct AccessToken {
    /// The signed JWT.
    pub token: SecretString,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The scopes it carries.
    pub scopes: Scopes,
}

fn algorithm(a: SigningAlgorithm) -> Algorithm {
    match a {
        SigningAlgorithm::EdDsa => Algorithm::EdDSA,
        SigningAlgorithm::Es256 => Algorithm::ES256,
    }
}

fn decoding_key(key: &SigningKey) -> DecodingKey {
    match key.algorithm {
        SigningAlgorithm::EdDsa => DecodingKey::from_ed_der(&key.public_key),
        SigningAlgorithm::Es256 => DecodingKey::from_ec_der(&key.public_key),
    }
}

fn state_rejection(
    key: &crate::secret_key::SecretKey,
    owner_active: bool,
    now: crate::Timestamp,
) -> Option<&'static str> {
    match key.state(now) {
        KeyState::Disabled => Some("the client is disabled"),
        KeyState::Expired => Some("the client has expired"),
        KeyState::Active if !owner_active => Some("the client's service account is disabled"),
        KeyState::Active => None,
    }
}

impl Keyward {
    /// The issuer (`iss`) of Keyward's access tokens: its public base URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client-credentials grant: authenticates the secret key `client_id` with `client_secret`
    /// (its `kw_sk_...` string) and issues an access token for `scope` (space-separated; at most the
    /// key's scopes; all of them when absent). The outer error is a server failure.
    pub fn client_credentials(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
        ip: Option<String>,
    ) -> Result<Result<AccessToken, OAuthError>, Error> {
        let Ok(id) = SecretKeyId::parse(client_id, "client_id") else {
            return Ok(Err(OAuthError::InvalidClient("unknown client")));
        };
        let Some(SecretKeyForAuth { key, owner_active, .. }) = self.repo.secret_key_for_auth(id)? else {
            return Ok(Err(OAuthError::InvalidClient("unknown client")));
        };
        let now = self.now();
        let presented = Credential::parse(client_secret)
            .ok()
            .filter(|c| c.kind() == CredentialKind::SecretKey && c.id() == *id.as_uuid());
        let opened = key.open_secrets(&self.sealer, now).unwrap_or_default();
        let matches = presented.is_some_and(|c| {
            opened.iter().fold(false, |found, secret| found | bool::from(secret.as_slice().ct_eq(c.secret_bytes())))
        });
        if !matches {
            self.record_auth_failure(key.account_id, format!("secret_key:{id}"), now, ip)?;
            return Ok(Err(OAuthError::InvalidClient("client authentication failed")));
        }
        if let Some(why) = state_rejection(&key, owner_active, now) {
            return Ok(Err(OAuthError::InvalidClient(why)));
        }
        let scopes = match scope {
            None => key.scopes.clone(),
            Some(s) => {
                let items: Vec<&str> = s.split_whitespace().collect();
                match Scopes::parse(&items, "scope") {
                    Ok(requested) if key.scopes.covers_all(&requested) => requested,
                    Ok(_) => return Ok(Err(OAuthError::InvalidScope("the scope exceeds what the client holds"))),
                    Err(_) => return Ok(Err(OAuthError::InvalidScope("the scope is malformed"))),
                }
            }
        };
        Ok(Ok(self.sign_access_token(&key, scopes)?))
    }

    fn sign_access_token(&self, key: &crate::secret_key::SecretKey, scopes: Scopes) -> Result<AccessToken, Error> {
        let signer = self
            .repo
            .signing_keys()?
            .into_iter()
            .find(|k| k.state == SigningKeyState::Active)
            .ok_or_else(|| Error::Unavailable("no active signing key".to_owned()))?;
        let pkcs8 = signer.private_key(&self.sealer).map_err(|_| Error::WrongMasterKey)?;
        let encoding = match signer.algorithm {
            SigningAlgorithm::EdDsa => EncodingKey::from_ed_der(&pkcs8),
            SigningAlgorithm::Es256 => EncodingKey::from_ec_der(&pkcs8),
        };
        let now = self.now();
        let ttl = self.access_token_ttl.num_seconds();
        let iat = now.timestamp();
        let claims = IssuedClaims {
            iss: self.issuer.clone(),
            sub: key.service_account_id.to_string(),
            aud: AUDIENCE.to_owned(),
            exp: iat + ttl,
            iat,
            nbf: iat,
            jti: crate::id::new_v7(now, self.entropy.as_ref()).to_string(),
            scope: scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
            client_id: key.id.to_string(),
            acct: key.account_id.to_string(),
        };
        provider::install();
        let mut header = Header::new(algorithm(signer.algorithm));
        header.kid = Some(signer.kid.to_string());
        let token = jsonwebtoken::encode(&header, &claims, &encoding)
            .map_err(|e| Error::Unavailable(format!("signing failed: {e}")))?;
        Ok(AccessToken { token: SecretString::new(token), expires_in: ttl, scopes })
    }

    /// Authenticates an access token Keyward signed: a published signing key, this issuer, this
    /// audience, unexpired by Keyward's clock, and a client that is still usable.
    pub(super) fn authenticate_access_token(
        &self,
        token: &str,
        header: &Header,
        ip: Option<String>,
    ) -> Result<Result<Principal, Rejection>, Error> {
        let Some(kid) = header.kid.as_deref().and_then(|k| SigningKeyId::parse(k, "kid").ok()) else {
            return Ok(Err(Rejection::NotFound));
        };
        let Some(signer) = self.published_signing_keys()?.into_iter().find(|k| k.kid == kid) else {
            return Ok(Err(Rejection::NotFound));
        };
        if header.alg != algorithm(signer.algorithm) {
            return Ok(Err(Rejection::NotFound));
        }
        provider::install();
        let mut validation = Validation::new(algorithm(signer.algorithm));
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let Ok(data) = jsonwebtoken::decode::<IssuedClaims>(token, &decoding_key(&signer), &validation) else {
            return Ok(Err(Rejection::NotFound));
        };
        let claims = data.claims;
        let now = self.now();
        let now_s = now.timestamp();
        if claims.exp <= now_s || claims.nbf > now_s + LEEWAY_SECONDS {
            return Ok(Err(Rejection::Expired));
        }
        let Ok(client) = SecretKeyId::parse(&claims.client_id, "client_id") else {
            return Ok(Err(Rejection::NotFound));
        };
        let Some(SecretKeyForAuth { key, owner_active, system }) = self.repo.secret_key_for_auth(client)? else {
            return Ok(Err(Rejection::NotFound));
        };
        if state_rejection(&key, owner_active, now).is_some() {
            return Ok(Err(Rejection::Disabled));
        }
        let items: Vec<&str> = claims.scope.split_whitespace().collect();
        let Ok(carried) = Scopes::parse(&items, "scope") else {
            return Ok(Err(Rejection::Malformed));
        };
        let _ = ip.as_deref();
        Ok(Ok(Principal {
            account_id: key.account_id,
            service_account_id: key.service_account_id,
            credential: CredentialRef::SecretKey(client),
            scopes: carried.iter().filter(|s| key.scopes.covers(s)).cloned().collect(),
            system,
            ip,
        }))
    }
}
