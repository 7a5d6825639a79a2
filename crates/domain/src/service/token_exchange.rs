//! Exchanging an external OIDC token for a Keyward access token (RFC 8693 token exchange, RFC 7523
//! JWT bearer): no client secret, the external token is the proof, and the federated credential
//! that trusts it says for which service account, with which scopes and for how long.

use std::net::IpAddr;

use super::Keyward;
use super::access_tokens::TokenHolder;
use super::oauth::AccessToken;
use super::reach::{Reach, with_storage};
use crate::audit::{Action, Outcome};
use crate::error::Error;
use crate::federation::{FederatedCredential, Issuer, PresentedToken};
use crate::principal::CredentialRef;
use crate::scope::Scopes;

/// Why an exchange was refused, in the terms of RFC 8693 §2.2.2 and RFC 6749 §5.2. The text says
/// what was wrong without repeating any policy's values: a policy belongs to another tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeRefusal {
    /// The request is malformed: the token cannot even be read (`invalid_request`).
    InvalidRequest(String),
    /// The token is not trusted: unknown issuer, bad signature, no matching active policy, a
    /// replay (`invalid_grant`).
    InvalidGrant(String),
    /// The `audience` names no federated credential or service account that matches
    /// (`invalid_target`).
    InvalidTarget(String),
    /// The `scope` asks for more than the federated credential allows (`invalid_scope`).
    InvalidScope(String),
    /// The issuer's keys could not be fetched; trying again later may work
    /// (`temporarily_unavailable`).
    Unavailable(String),
}

/// An access token minted for an external token, and the federated credential that trusted it.
#[derive(Debug)]
pub struct Exchanged {
    /// The access token.
    pub token: AccessToken,
    /// The federated credential.
    pub credential: FederatedCredential,
}

/// What an exchange asks for besides the token.
#[derive(Debug, Clone, Default)]
pub struct ExchangeRequest<'a> {
    /// The RFC 8693 `audience`: a federated credential's id or a service account's id, to choose
    /// among several that match.
    pub audience: Option<&'a str>,
    /// Space-separated scopes narrowing the federated credential's.
    pub scope: Option<&'a str>,
    /// The key to bind the token to, when the workload sent a DPoP proof.
    pub bound_to: Option<&'a crate::dpop::Thumbprint>,
}

/// The longest external subject written into an audit event, in characters.
const MAX_SUBJECT_CHARS: usize = 200;

impl Keyward {
    /// Exchanges `token`, an external issuer's JWT, for an access token of the service account
    /// whose federated credential trusts it. The token's lifetime is the smallest of the
    /// credential's maximum, the configured access-token lifetime and the external token's
    /// remaining life. Success and refusal are audited in the account of the credentials
    /// concerned, with the external `iss` and `sub`.
    pub fn exchange_token(
        &self,
        token: &str,
        request: &ExchangeRequest<'_>,
        ip: Option<IpAddr>,
    ) -> Result<Result<Exchanged, ExchangeRefusal>, Error> {
        let presented = match PresentedToken::read(token) {
            Ok(p) => p,
            Err(why) => return Ok(Err(ExchangeRefusal::InvalidRequest(why))),
        };
        let Some(issuer) = presented.issuer().and_then(|iss| Issuer::parse(iss, "iss").ok()) else {
            return Ok(Err(ExchangeRefusal::InvalidGrant("the token names no trusted issuer".to_owned())));
        };
        let candidates = self.repo.federated_credentials_for_issuer(&issuer)?;
        if candidates.is_empty() {
            return Ok(Err(ExchangeRefusal::InvalidGrant(
                "no federated credential trusts the token's issuer".to_owned(),
            )));
        }
        let keys = match self.issuer_keys_for(&presented, &issuer) {
            Ok(keys) => keys,
            Err(e) => return Ok(Err(ExchangeRefusal::Unavailable(e.to_string()))),
        };
        if !presented.check_signature(&keys).passed {
            return Ok(Err(ExchangeRefusal::InvalidGrant("the token's signature does not verify".to_owned())));
        }
        let now = self.now();
        let claims = presented.claims();
        let subject = claims.get("sub").and_then(|s| s.as_str()).unwrap_or("-");
        let actor: String = format!("external:{subject}@{issuer}").chars().take(MAX_SUBJECT_CHARS).collect();
        let chosen: Vec<&(FederatedCredential, bool)> = candidates
            .iter()
            .filter(|(f, _)| {
                request.audience.is_none_or(|aud| aud == f.id.to_string() || aud == f.service_account_id.to_string())
            })
            .collect();
        if chosen.is_empty() {
            return Ok(Err(ExchangeRefusal::InvalidTarget(
                "the `audience` names no federated credential or service account that trusts this issuer".to_owned(),
            )));
        }
        let matching: Vec<&FederatedCredential> = chosen
            .iter()
            .filter(|(f, owner_active)| {
                *owner_active && f.active && f.policy.check_claims(claims, now).iter().all(|c| c.passed)
            })
            .map(|(f, _)| f)
            .collect();
        let credential = match matching.as_slice() {
            [one] => (*one).clone(),
            [] => {
                for (f, owner_active) in chosen.iter().take(10) {
                    let checks = f.policy.check_claims(claims, now);
                    // Only the policies the token was meant for (its audience) hear of it.
                    if !checks.iter().any(|c| c.name == "audience" && c.passed) {
                        continue;
                    }
                    let mut failed: Vec<&str> = checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect();
                    if !f.active || !owner_active {
                        failed.insert(0, "active");
                    }
                    self.record_refused_exchange(f, &actor, ip, now, format!("failed checks: {}", failed.join(", ")))?;
                }
                return Ok(Err(ExchangeRefusal::InvalidGrant(
                    "the token matches no active federated credential (try the credential's dry run)".to_owned(),
                )));
            }
            _ => {
                return Ok(Err(ExchangeRefusal::InvalidTarget(
                    "several federated credentials match: name one (or its service account) in `audience`".to_owned(),
                )));
            }
        };
        let scopes = match request.scope.map(|s| s.split_whitespace().collect::<Vec<_>>()) {
            None => credential.scopes.clone(),
            Some(items) => match Scopes::parse(&items, "scope") {
                Ok(asked) if credential.scopes.covers_all(&asked) => asked,
                Ok(_) => {
                    return Ok(Err(ExchangeRefusal::InvalidScope(
                        "the scope exceeds the federated credential's".to_owned(),
                    )));
                }
                Err(_) => return Ok(Err(ExchangeRefusal::InvalidScope("the scope is malformed".to_owned()))),
            },
        };
        let exp =
            claims.get("exp").and_then(serde_json::Value::as_i64).and_then(|e| chrono::DateTime::from_timestamp(e, 0));
        let Some(ttl) = exp.and_then(|exp| credential.lifetime(self.access_token_ttl, exp, now)) else {
            return Ok(Err(ExchangeRefusal::InvalidGrant("the token has expired".to_owned())));
        };
        if credential.refuse_replay {
            let Some(jti) = claims.get("jti").and_then(|j| j.as_str()).filter(|j| !j.is_empty() && j.len() <= 256)
            else {
                return Ok(Err(ExchangeRefusal::InvalidGrant(
                    "the token has no `jti`, which this credential requires".to_owned(),
                )));
            };
            let until = exp.unwrap_or(now);
            if !self.repo.use_assertion(&format!("federated:{issuer}"), jti, until, now)? {
                self.record_refused_exchange(
                    &credential,
                    &actor,
                    ip,
                    now,
                    "the token was exchanged before".to_owned(),
                )?;
                return Ok(Err(ExchangeRefusal::InvalidGrant("the token was exchanged before".to_owned())));
            }
        }
        let holder = TokenHolder {
            credential: CredentialRef::Federated(credential.id),
            account_id: credential.account_id,
            service_account_id: credential.service_account_id,
        };
        let token = with_storage(self.sign_token(
            &holder,
            scopes,
            ttl,
            Some(credential.id.to_string()),
            request.bound_to,
            Reach::Storage,
        ))?;
        let mut event = self.audit_as(
            &actor,
            credential.account_id,
            Action::TokenExchange,
            format!("federated_credential:{}", credential.id),
            now,
        );
        event.ip = ip.map(|ip| ip.to_string());
        self.repo.insert_audit_event(&event)?;
        Ok(Ok(Exchanged { token, credential }))
    }

    /// Audits a refused exchange in the account of the credential it was tried against, with the
    /// reason, so that each tenant sees the attempts on its own policies.
    fn record_refused_exchange(
        &self,
        f: &FederatedCredential,
        actor: &str,
        ip: Option<IpAddr>,
        now: crate::Timestamp,
        reason: String,
    ) -> Result<(), Error> {
        let target = format!("federated_credential:{}", f.id);
        let mut event = self.audit_as(actor, f.account_id, Action::TokenExchange, target, now);
        event.ip = ip.map(|ip| ip.to_string());
        event.outcome = Outcome::Failure;
        event.reason = Some(reason);
        Ok(self.repo.insert_audit_event(&event)?)
    }
}
