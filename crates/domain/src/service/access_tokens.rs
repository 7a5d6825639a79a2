//! Keyward's access tokens once issued: verified when presented to its API, revoked (RFC 7009),
//! and introspected (RFC 7662), each against the credential the token was issued to.

use std::net::IpAddr;

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};

use super::Keyward;
use crate::credential::Credential;
use crate::dpop::{Confirmation, Thumbprint};
use crate::error::Error;
use crate::id::{ApiKeyId, SecretKeyId, SigningKeyId};
use crate::jwt::claims::{AUDIENCE, IssuedClaims, header_acceptable, times_hold};
use crate::jwt::provider;
use crate::key::Rejection;
use crate::principal::{CredentialRef, Principal};
use crate::scope::Scopes;
use crate::signing_key::{SigningAlgorithm, SigningKey};

pub(super) fn algorithm(a: SigningAlgorithm) -> Algorithm {
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

impl Keyward {
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
                if found.key.usable(found.owner_active, now).is_err() {
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
