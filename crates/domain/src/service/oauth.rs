//! OAuth 2.0 client credentials: client authentication with a secret key, and access tokens signed
//! by Keyward's active signing key, verifiable by anyone from the JWKS. What happens to a token
//! once issued (its check, revocation and introspection) is in `access_tokens`.

use std::net::IpAddr;

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};

use super::Keyward;
use super::access_tokens::{TokenHolder, algorithm};
use super::reach::{Reach, Stop, from_memory, with_storage};
use crate::credential::{Credential, CredentialKind};
use crate::dpop::{Confirmation, Thumbprint};
use crate::error::Error;
use crate::id::SecretKeyId;
use crate::jwt::claims::{
    AUDIENCE, IssuedClaims, LEEWAY_SECONDS, MAX_JTI_BYTES, MAX_SECRET_KEY_JWT_SECONDS, header_acceptable, times_hold,
};
use crate::jwt::provider;
use crate::key::Rejection;
use crate::principal::{CredentialRef, Principal};
use crate::repository::SecretKeyForAuth;
use crate::scope::Scopes;
use crate::secret::SecretString;

/// Why a token request was refused, in RFC 6749 §5.2 terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// The client could not be authenticated.
    InvalidClient(&'static str),
    /// The requested scope is malformed or exceeds what the client holds.
    InvalidScope(&'static str),
    /// The client must bind its tokens to a key: it sent no DPoP proof (RFC 9449 §5).
    DpopRequired,
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
    /// The key it is bound to (DPoP), if it is bound to one.
    pub bound_to: Option<Thumbprint>,
}

fn state_rejection(
    key: &crate::secret_key::SecretKey,
    owner_active: bool,
    now: crate::Timestamp,
) -> Option<&'static str> {
    key.usable(owner_active, now).err().map(|r| match r {
        Rejection::Disabled => "the client is disabled",
        Rejection::Expired => "the client has expired",
        _ => "the client's service account is disabled",
    })
}

/// What a client asks of a token beyond who it is: the scope (space-separated, at most the key's
/// scopes; all of them when absent), the client key a DPoP proof binds the token to, and the
/// address the request came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenTerms<'a> {
    /// The scope asked for.
    pub scope: Option<&'a str>,
    /// The thumbprint of the key the client proved it holds (DPoP, RFC 9449).
    pub bound_to: Option<&'a Thumbprint>,
    /// The client's address.
    pub ip: Option<IpAddr>,
}

impl Keyward {
    /// The issuer (`iss`) of Keyward's access tokens: its public base URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Authenticates the secret key `client_id` by its `client_secret` (its `kw_sk_...` string),
    /// comparing in constant time with the current and any retained previous secret.
    fn authenticate_client(
        &self,
        client_id: &str,
        client_secret: &str,
        ip: Option<IpAddr>,
        reach: Reach,
    ) -> Result<Result<SecretKeyForAuth, OAuthError>, Stop> {
        let Ok(id) = SecretKeyId::parse(client_id, "client_id") else {
            return Ok(Err(OAuthError::InvalidClient("unknown client")));
        };
        let found = match reach {
            Reach::Storage => self.repo.secret_key_for_auth(id)?,
            Reach::Memory => self.repo.secret_key_for_auth_in_memory(id).ok_or(Stop::NeedsStorage)?,
        };
        let Some(found) = found else {
            return Ok(Err(OAuthError::InvalidClient("unknown client")));
        };
        let now = self.now();
        let presented = Credential::parse(client_secret)
            .ok()
            .filter(|c| c.kind() == CredentialKind::SecretKey && c.id() == *id.as_uuid());
        let matches = presented.is_some_and(|c| found.key.accepts(&self.sealer, c.secret_bytes(), now));
        if !matches {
            if reach == Reach::Memory {
                return Err(Stop::NeedsStorage);
            }
            self.record_auth_failure(found.key.account_id, format!("secret_key:{id}"), now, ip)?;
            return Ok(Err(OAuthError::InvalidClient("client authentication failed")));
        }
        if let Some(why) = state_rejection(&found.key, found.owner_active, now) {
            return Ok(Err(OAuthError::InvalidClient(why)));
        }
        // A use noted twice (a memory-first run that stops later, then its storage run) is the
        // same latest use.
        self.usage.record_secret(found.key.id, now);
        Ok(Ok(found))
    }

    /// Authenticates a client (a secret key's id and secret: OAuth introspection and revocation,
    /// Smooch's Basic authentication) and returns it as a caller.
    pub fn client_principal(
        &self,
        client_id: &str,
        client_secret: &str,
        ip: Option<IpAddr>,
    ) -> Result<Result<Principal, OAuthError>, Error> {
        with_storage(self.client_principal_within(client_id, client_secret, ip, Reach::Storage))
    }

    /// The same, from memory alone: `None` when it needs storage (the key is not cached, or a
    /// refusal must be written to the audit trail); then call [`Keyward::client_principal`].
    pub fn client_principal_from_memory(
        &self,
        client_id: &str,
        client_secret: &str,
        ip: Option<IpAddr>,
    ) -> Option<Result<Result<Principal, OAuthError>, Error>> {
        from_memory(self.client_principal_within(client_id, client_secret, ip, Reach::Memory))
    }

    fn client_principal_within(
        &self,
        client_id: &str,
        client_secret: &str,
        ip: Option<IpAddr>,
        reach: Reach,
    ) -> Result<Result<Principal, OAuthError>, Stop> {
        let found = self.authenticate_client(client_id, client_secret, ip, reach)?;
        Ok(found.map(|found| Principal {
            account_id: found.key.account_id,
            service_account_id: found.key.service_account_id,
            credential: CredentialRef::SecretKey(found.key.id),
            scopes: found.key.scopes.clone(),
            system: found.system,
            ip,
        }))
    }

    /// The client-credentials grant with `client_secret_basic` or `client_secret_post`: issues an
    /// access token on the client's `terms`. The outer error is a server failure.
    pub fn client_credentials(
        &self,
        client_id: &str,
        client_secret: &str,
        terms: TokenTerms<'_>,
    ) -> Result<Result<AccessToken, OAuthError>, Error> {
        with_storage(self.client_credentials_within(client_id, client_secret, terms, Reach::Storage))
    }

    /// The same, from memory alone: `None` when it needs storage (the client or the signing keys
    /// are not cached, or a refusal must be written to the audit trail); then call
    /// [`Keyward::client_credentials`]. It never blocks (it does sign, which takes microseconds).
    pub fn client_credentials_from_memory(
        &self,
        client_id: &str,
        client_secret: &str,
        terms: TokenTerms<'_>,
    ) -> Option<Result<Result<AccessToken, OAuthError>, Error>> {
        from_memory(self.client_credentials_within(client_id, client_secret, terms, Reach::Memory))
    }

    fn client_credentials_within(
        &self,
        client_id: &str,
        client_secret: &str,
        terms: TokenTerms<'_>,
        reach: Reach,
    ) -> Result<Result<AccessToken, OAuthError>, Stop> {
        match self.authenticate_client(client_id, client_secret, terms.ip, reach)? {
            Ok(found) => self.grant(&found.key, terms, reach),
            Err(e) => Ok(Err(e)),
        }
    }

    /// The client-credentials grant with `client_secret_jwt` (RFC 7523): the client signs an
    /// assertion with HS256 (HMAC key = its `kw_sk_...` string) with `iss` = `sub` = its id, `aud`
    /// naming this issuer or its token endpoint, `exp` at most an hour ahead and a `jti` that is
    /// accepted once. The token is issued on the client's `terms`.
    pub fn client_assertion(
        &self,
        client_id: Option<&str>,
        assertion: &str,
        terms: TokenTerms<'_>,
    ) -> Result<Result<AccessToken, OAuthError>, Error> {
        let ip = terms.ip;
        let refused = |why| Ok(Err(OAuthError::InvalidClient(why)));
        let Ok(header) = jsonwebtoken::decode_header(assertion) else { return refused("the assertion is malformed") };
        if header.alg != Algorithm::HS256 {
            return refused("the assertion must be signed with HS256");
        }
        if !header_acceptable(&header) {
            return refused("the assertion's header names an extension (crit) that Keyward does not support");
        }
        let Ok(unverified) = jsonwebtoken::dangerous::insecure_decode_claims::<AssertionClaims>(assertion) else {
            return refused("the assertion lacks iss, sub, aud, exp or jti");
        };
        if unverified.iss != unverified.sub || client_id.is_some_and(|c| c != unverified.sub) {
            return refused("the assertion's iss, sub and client_id must all name the client");
        }
        let Ok(id) = SecretKeyId::parse(&unverified.sub, "sub") else { return refused("unknown client") };
        let Some(found) = self.repo.secret_key_for_auth(id)? else { return refused("unknown client") };
        let now = self.now();
        provider::install();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let token_endpoint = format!("{}/oauth2/token", self.issuer);
        validation.set_audience(&[self.issuer.as_str(), token_endpoint.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let opened = found.key.open_secrets(&self.sealer, now).unwrap_or_default();
        let verified = super::secret_key_jwt::hmac_keys(&found.key, opened).iter().find_map(|secret| {
            jsonwebtoken::decode::<AssertionClaims>(assertion, &DecodingKey::from_secret(secret), &validation).ok()
        });
        let Some(claims) = verified.map(|d| d.claims) else {
            self.record_auth_failure(found.key.account_id, format!("secret_key:{id}"), now, ip)?;
            return refused("the assertion's signature or audience is wrong");
        };
        let now_s = now.timestamp();
        if !times_hold(claims.exp, claims.nbf, now_s)
            || claims.exp > now_s + MAX_SECRET_KEY_JWT_SECONDS + LEEWAY_SECONDS
        {
            return refused("the assertion is expired, not yet valid, or lives longer than an hour");
        }
        if claims.jti.len() > MAX_JTI_BYTES {
            return refused("the assertion's jti is longer than 256 bytes");
        }
        let expires = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
        if !self.repo.use_assertion(&id.to_string(), &claims.jti, expires, now)? {
            self.record_auth_failure(found.key.account_id, format!("secret_key:{id}"), now, ip)?;
            return refused("the assertion was used before");
        }
        if let Some(why) = state_rejection(&found.key, found.owner_active, now) {
            return refused(why);
        }
        with_storage(self.grant(&found.key, terms, Reach::Storage))
    }

    fn grant(
        &self,
        key: &crate::secret_key::SecretKey,
        terms: TokenTerms<'_>,
        reach: Reach,
    ) -> Result<Result<AccessToken, OAuthError>, Stop> {
        let TokenTerms { scope, bound_to, .. } = terms;
        if key.part.require_dpop && bound_to.is_none() {
            return Ok(Err(OAuthError::DpopRequired));
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
        let holder = TokenHolder {
            credential: CredentialRef::SecretKey(key.id),
            account_id: key.account_id,
            service_account_id: key.service_account_id,
        };
        Ok(Ok(self.sign_token(&holder, scopes, self.access_token_ttl.num_seconds(), None, bound_to, reach)?))
    }

    /// Logs in with an API key (the ZenML dialect's `zenml-api-key` grant): the key is
    /// authenticated as on any request (audit and usage included) and an access token is signed
    /// for it, carrying its scopes. The token stays bound to the key: it stops when the key is
    /// disabled, expires, is deleted, or is rotated without a retain period.
    pub fn login_with_api_key(&self, token: &str, ip: Option<IpAddr>) -> Result<Result<AccessToken, Rejection>, Error> {
        with_storage(self.login_within(token, ip, Reach::Storage))
    }

    /// The same, from memory alone: `None` when it needs storage (the key or the signing keys are
    /// not cached, or a refusal must be written to the audit trail); then call
    /// [`Keyward::login_with_api_key`]. It never blocks (it does sign, which takes microseconds).
    pub fn login_with_api_key_from_memory(
        &self,
        token: &str,
        ip: Option<IpAddr>,
    ) -> Option<Result<Result<AccessToken, Rejection>, Error>> {
        from_memory(self.login_within(token, ip, Reach::Memory))
    }

    fn login_within(
        &self,
        token: &str,
        ip: Option<IpAddr>,
        reach: Reach,
    ) -> Result<Result<AccessToken, Rejection>, Stop> {
        match Credential::parse(token) {
            Ok(c) if c.kind() == CredentialKind::ApiKey => {}
            _ => return Ok(Err(Rejection::Malformed)),
        }
        // Stop for the signing keys before authenticating, so that a use is never counted twice.
        self.signing_snapshot_within(reach)?;
        let p = match self.authenticate_within(token, ip, reach, crate::jwt::claims::JwtLifetime::Bounded)? {
            Ok(p) => p,
            Err(r) => return Ok(Err(r)),
        };
        let holder = TokenHolder {
            credential: p.credential,
            account_id: p.account_id,
            service_account_id: p.service_account_id,
        };
        Ok(Ok(self.sign_token(&holder, p.scopes, self.access_token_ttl.num_seconds(), None, None, reach)?))
    }

    /// Signs an access token for `holder` valid `ttl` seconds, naming the federated credential
    /// `fed` that minted it, if one did, and bound to the key `bound_to`, if the client asked.
    pub(super) fn sign_token(
        &self,
        holder: &TokenHolder,
        scopes: Scopes,
        ttl: i64,
        fed: Option<String>,
        bound_to: Option<&Thumbprint>,
        reach: Reach,
    ) -> Result<AccessToken, Stop> {
        let (signer, encoding) = self
            .signing_snapshot_within(reach)?
            .active
            .ok_or_else(|| Error::Unavailable("no active signing key".to_owned()))?;
        let now = self.now();
        let iat = now.timestamp();
        let claims = IssuedClaims {
            iss: self.issuer.clone(),
            sub: holder.service_account_id.to_string(),
            aud: AUDIENCE.to_owned(),
            exp: iat + ttl,
            iat,
            nbf: iat,
            jti: crate::id::new_v7(now, self.entropy.as_ref()).to_string(),
            scope: scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
            client_id: holder.credential.id(),
            acct: holder.account_id.to_string(),
            fed,
            cnf: bound_to.map(|jkt| Confirmation { jkt: jkt.clone() }),
        };
        provider::install();
        let mut header = Header::new(algorithm(signer.algorithm));
        header.kid = Some(signer.kid.to_string());
        header.typ = Some(crate::jwt::claims::ACCESS_TOKEN_TYPE.to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &encoding)
            .map_err(|e| Error::Unavailable(format!("signing failed: {e}")))?;
        Ok(AccessToken { token: SecretString::new(token), expires_in: ttl, scopes, bound_to: bound_to.cloned() })
    }
}

/// The claims of a client assertion (RFC 7523 §3).
#[derive(Debug, serde::Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    nbf: Option<i64>,
    jti: String,
}
