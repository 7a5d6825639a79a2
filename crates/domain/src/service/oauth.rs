//! OAuth 2.0 client credentials: client authentication with a secret key, and access tokens signed
//! by Keyward's active signing key, verifiable by anyone from the JWKS.

use std::net::IpAddr;

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};

use super::Keyward;
use super::reach::{Reach, Stop, from_memory, with_storage};
use crate::credential::{Credential, CredentialKind};
use crate::dpop::{Confirmation, Thumbprint};
use crate::error::Error;
use crate::id::{ApiKeyId, SecretKeyId, SigningKeyId};
use crate::jwt::claims::{
    AUDIENCE, IssuedClaims, LEEWAY_SECONDS, MAX_JTI_BYTES, MAX_SECRET_KEY_JWT_SECONDS, header_acceptable, times_hold,
};
use crate::jwt::provider;
use crate::key::Rejection;
use crate::principal::{CredentialRef, Principal};
use crate::repository::SecretKeyForAuth;
use crate::scope::Scopes;
use crate::secret::SecretString;
use crate::signing_key::{SigningAlgorithm, SigningKey};

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

    /// Verifies an access token Keyward signed: a published signing key, this issuer, this
    /// audience, unexpired by Keyward's clock, and not revoked.
    fn verify_access_token(&self, token: &str, header: &Header) -> Result<Result<IssuedClaims, Rejection>, Error> {
        if !header_acceptable(header) {
            return Ok(Err(Rejection::Malformed));
        }
        let Some(kid) = header.kid.as_deref().and_then(|k| SigningKeyId::parse(k, "kid").ok()) else {
            return Ok(Err(Rejection::NotFound));
        };
        let snapshot = self.signing_snapshot()?;
        let Some(signer) = snapshot.published.iter().find(|k| k.kid == kid) else {
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
        let Ok(data) = jsonwebtoken::decode::<IssuedClaims>(token, &decoding_key(signer), &validation) else {
            return Ok(Err(Rejection::NotFound));
        };
        let claims = data.claims;
        if !times_hold(claims.exp, Some(claims.nbf), self.now().timestamp()) {
            return Ok(Err(Rejection::Expired));
        }
        if self.repo.is_revoked(&claims.jti)? {
            return Ok(Err(Rejection::Disabled));
        }
        Ok(Ok(claims))
    }

    /// The credential an access token was issued to (a secret key, or an API key that logged in),
    /// if it is still usable, with the scopes the token carries that it still holds.
    fn token_client(&self, claims: &IssuedClaims) -> Result<Result<(TokenHolder, Scopes, bool), Rejection>, Error> {
        let Ok(client) = uuid::Uuid::try_parse(&claims.client_id) else {
            return Ok(Err(Rejection::NotFound));
        };
        let now = self.now();
        let (holder, held, system) =
            if let Some(found) = self.repo.secret_key_for_auth(SecretKeyId::from_uuid(client))? {
                if state_rejection(&found.key, found.owner_active, now).is_some() {
                    return Ok(Err(Rejection::Disabled));
                }
                let k = found.key;
                let holder = TokenHolder {
                    credential: CredentialRef::SecretKey(k.id),
                    account_id: k.account_id,
                    service_account_id: k.service_account_id,
                };
                (holder, k.scopes, found.system)
            } else if let Some(found) = self.repo.api_key_for_auth(ApiKeyId::from_uuid(client))? {
                let k = found.key;
                if k.usable(found.owner_active, now).is_err() || k.rotated_since(issued_at(claims), now) {
                    return Ok(Err(Rejection::Disabled));
                }
                let holder = TokenHolder {
                    credential: CredentialRef::ApiKey(k.id),
                    account_id: k.account_id,
                    service_account_id: k.service_account_id,
                };
                (holder, k.scopes, found.system)
            } else if let Some((f, owner_active, system)) =
                self.repo.federated_credential_for_auth(crate::id::FederatedCredentialId::from_uuid(client))?
            {
                // A minted token stops with its federated credential (disabled or deleted) and
                // with its service account; its scopes stay within the credential's.
                if !f.active || !owner_active || claims.fed.as_deref() != Some(claims.client_id.as_str()) {
                    return Ok(Err(Rejection::Disabled));
                }
                let holder = TokenHolder {
                    credential: CredentialRef::Federated(f.id),
                    account_id: f.account_id,
                    service_account_id: f.service_account_id,
                };
                (holder, f.scopes, system)
            } else {
                return Ok(Err(Rejection::NotFound));
            };
        let items: Vec<&str> = claims.scope.split_whitespace().collect();
        let Ok(carried) = Scopes::parse(&items, "scope") else {
            return Ok(Err(Rejection::Malformed));
        };
        let scopes = carried.iter().filter(|s| held.covers(s)).cloned().collect();
        Ok(Ok((holder, scopes, system)))
    }

    /// Authenticates an access token Keyward signed, for a request to its own API. `proof_key` is
    /// the key of the DPoP proof that came with it: a token bound to a key needs a proof by that
    /// key, and a token bound to none is a bearer token, never presented with a proof.
    pub(super) fn authenticate_access_token(
        &self,
        token: &str,
        header: &Header,
        ip: Option<IpAddr>,
        proof_key: Option<&Thumbprint>,
    ) -> Result<Result<Principal, Rejection>, Error> {
        let claims = match self.verify_access_token(token, header)? {
            Ok(c) => c,
            Err(r) => return Ok(Err(r)),
        };
        match (claims.cnf.as_ref(), proof_key) {
            (None, None) => {}
            (Some(cnf), Some(key)) if cnf.jkt == *key => {}
            (Some(_), None) => return Ok(Err(Rejection::ProofRequired)),
            // Bound to another key, or a bearer token sent as if bound: either way not this
            // caller's token.
            (Some(_) | None, Some(_)) => return Ok(Err(Rejection::NotFound)),
        }
        let (holder, scopes, system) = match self.token_client(&claims)? {
            Ok(f) => f,
            Err(r) => return Ok(Err(r)),
        };
        Ok(Ok(Principal {
            account_id: holder.account_id,
            service_account_id: holder.service_account_id,
            credential: holder.credential,
            scopes,
            system,
            ip,
        }))
    }

    /// Revokes an access token issued to the client `p` (RFC 7009). A token that is not valid, or
    /// was issued to another client, is left alone: the answer is the same either way.
    pub fn revoke_access_token(&self, p: &Principal, token: &str) -> Result<(), Error> {
        let Ok(header) = jsonwebtoken::decode_header(token) else { return Ok(()) };
        let Ok(claims) = self.verify_access_token(token, &header)? else { return Ok(()) };
        if p.credential.id() != claims.client_id {
            return Ok(());
        }
        let now = self.now();
        let expires = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
        let audit =
            self.audit(p, p.account_id, crate::audit::Action::TokenRevoke, format!("token:{}", claims.jti), now);
        Ok(self.repo.revoke_token(&claims.jti, expires, &audit)?)
    }

    /// What a token is and whether it is active (RFC 7662), for access tokens and API keys. A token
    /// of another account is reported inactive unless `p` is a system administrator.
    pub fn introspect(&self, p: &Principal, token: &str) -> Result<Introspection, Error> {
        let now = self.now();
        let visible = |account: crate::id::AccountId| p.is_system_admin() || p.account_id == account;
        if token.starts_with("kw_ak_") {
            let Ok(credential) = Credential::parse(token) else { return Ok(Introspection::inactive()) };
            let id = crate::id::ApiKeyId::from_uuid(credential.id());
            let Some(found) = self.repo.api_key_for_auth(id)? else { return Ok(Introspection::inactive()) };
            if !visible(found.key.account_id)
                || found.key.check(&credential.secret_hash(), found.owner_active, now).is_err()
            {
                return Ok(Introspection::inactive());
            }
            return Ok(Introspection {
                active: true,
                token_type: Some("api_key"),
                scope: Some(found.key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
                client_id: Some(id.to_string()),
                sub: Some(found.key.service_account_id.to_string()),
                acct: Some(found.key.account_id.to_string()),
                exp: found.key.expires_at.map(|t| t.timestamp()),
                ..Introspection::inactive()
            });
        }
        let Ok(header) = jsonwebtoken::decode_header(token) else { return Ok(Introspection::inactive()) };
        if header.alg == Algorithm::HS256 {
            // A JWT signed with a secret key: the same verdict as the Bearer path gives it.
            let Some((key, scopes)) = self.peek_secret_key_jwt(token, &header)? else {
                return Ok(Introspection::inactive());
            };
            if !visible(key.account_id) {
                return Ok(Introspection::inactive());
            }
            let claims =
                jsonwebtoken::dangerous::insecure_decode_claims::<crate::jwt::claims::PresentedClaims>(token).ok();
            return Ok(Introspection {
                active: true,
                token_type: Some("Bearer"),
                scope: Some(scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
                client_id: Some(key.id.to_string()),
                sub: Some(key.service_account_id.to_string()),
                acct: Some(key.account_id.to_string()),
                exp: claims.and_then(|c| c.exp),
                ..Introspection::inactive()
            });
        }
        if !matches!(header.alg, Algorithm::EdDSA | Algorithm::ES256) {
            return Ok(Introspection::inactive());
        }
        let Ok(claims) = self.verify_access_token(token, &header)? else { return Ok(Introspection::inactive()) };
        let Ok((holder, scopes, _)) = self.token_client(&claims)? else { return Ok(Introspection::inactive()) };
        if !visible(holder.account_id) {
            return Ok(Introspection::inactive());
        }
        Ok(Introspection {
            active: true,
            token_type: Some(if claims.cnf.is_some() { "DPoP" } else { "Bearer" }),
            cnf: claims.cnf,
            scope: Some(scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
            client_id: Some(claims.client_id),
            sub: Some(claims.sub),
            acct: Some(claims.acct),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: Some(claims.nbf),
            iss: Some(claims.iss),
            aud: Some(claims.aud),
            jti: Some(claims.jti),
        })
    }
}

/// The credential an access token speaks for.
#[derive(Debug, Clone)]
pub(super) struct TokenHolder {
    pub(super) credential: CredentialRef,
    pub(super) account_id: crate::id::AccountId,
    pub(super) service_account_id: crate::id::ServiceAccountId,
}

/// When a token was issued, to the millisecond where its `jti` (a UUIDv7) says, else to the
/// second of its `iat`.
fn issued_at(claims: &IssuedClaims) -> crate::Timestamp {
    let from_jti = uuid::Uuid::try_parse(&claims.jti).ok().and_then(|u| u.get_timestamp()).and_then(|ts| {
        let (secs, nanos) = ts.to_unix();
        chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
    });
    from_jti.or_else(|| chrono::DateTime::from_timestamp(claims.iat, 0)).unwrap_or_default()
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

/// An introspection answer (RFC 7662 §2.2); only `active` when the token is not active.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Introspection {
    /// Whether the token is usable now.
    pub active: bool,
    /// `Bearer` for an access token, `DPoP` for one bound to a key, `api_key` for an API key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Its scopes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The credential it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The service account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acct: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// For a token bound to a key (DPoP): `{"jkt": <the key's thumbprint>}` (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

impl Introspection {
    /// The answer for anything that is not an active token.
    pub fn inactive() -> Self {
        Self::default()
    }
}
