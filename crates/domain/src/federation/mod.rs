//! Workload identity federation: trust policies ("federated credentials") that let a workload
//! trade its platform's OIDC token (a GitHub Actions job's, a Kubernetes pod's) for a Keyward
//! access token, with no stored secret.
//!
//! A policy names an issuer, the audiences it accepts and what the token must say of itself (its
//! `sub`, other string claims exactly or by glob). Checking a presented token is pure: its
//! signature against the issuer's keys (fetched outside the domain, see [`IssuerKeys`]), then its
//! claims against the policy and the clock, each check reported on its own so that a dry run can
//! say which pass.

mod issuer;
mod pattern;
mod token;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub use issuer::{Issuer, fetchable, is_loopback};
pub use pattern::ClaimPattern;
pub use token::{IssuerKeys, KeysUnavailable, NoIssuerKeys, PresentedToken};

use crate::id::{AccountId, FederatedCredentialId, ServiceAccountId};
use crate::scope::Scopes;
use crate::text::Name;
use crate::{Timestamp, ValidationError};

/// Claims a policy may not bind through `claims`: the standard ones it checks by their own rules
/// (`iss`, `aud`, the times, and `sub` through `subject`).
const RESERVED_CLAIMS: &[&str] = &["iss", "aud", "exp", "nbf", "iat", "jti", "sub"];

/// How far a presented token's times may be off Keyward's clock.
pub const CLOCK_LEEWAY_SECONDS: i64 = 60;

/// What a presented token must be to match: its issuer, an accepted audience, and what it says of
/// itself. Valid by construction (see [`TrustPolicy::new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    issuer: Issuer,
    audiences: Vec<String>,
    subject: Option<String>,
    claims: BTreeMap<String, ClaimPattern>,
}

impl TrustPolicy {
    /// The most audiences and claims a policy may list.
    pub const MAX_AUDIENCES: usize = 10;
    /// The most claims a policy may bind.
    pub const MAX_CLAIMS: usize = 20;

    /// A policy, checked: at least one audience; a subject, or at least one claim (a policy that
    /// trusts everything an issuer signs is refused); and for an issuer that signs for every
    /// tenant of a shared platform, its owner claim bound exactly.
    pub fn new(
        issuer: Issuer,
        audiences: Vec<String>,
        subject: Option<String>,
        claims: BTreeMap<String, String>,
    ) -> Result<Self, ValidationError> {
        if audiences.is_empty() || audiences.len() > Self::MAX_AUDIENCES {
            return Err(ValidationError::new("audiences", "give 1 to 10 accepted `aud` values"));
        }
        for aud in &audiences {
            plain_text(aud, "audiences")?;
        }
        if let Some(sub) = &subject {
            plain_text(sub, "subject")?;
        }
        if claims.len() > Self::MAX_CLAIMS {
            return Err(ValidationError::new("claims", "bind at most 20 claims"));
        }
        let mut patterns = BTreeMap::new();
        for (name, pattern) in claims {
            let field = format!("claims.{name}");
            if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
                return Err(ValidationError::new("claims", "claim names are 1 to 100 characters"));
            }
            if RESERVED_CLAIMS.contains(&name.as_str()) {
                return Err(ValidationError::new(
                    &field,
                    "is checked by its own rule: use `issuer`, `audiences` or `subject`",
                ));
            }
            patterns.insert(name, ClaimPattern::parse(&pattern, &field)?);
        }
        if subject.is_none() && patterns.is_empty() {
            return Err(ValidationError::new(
                "subject",
                "give a `subject` or at least one claim: a policy must say which of the issuer's tokens it trusts",
            ));
        }
        let owners = issuer.owner_claims();
        if !owners.is_empty() && !owners.iter().any(|o| patterns.get(*o).is_some_and(|p| !p.is_glob())) {
            return Err(ValidationError::new(
                "claims",
                format!(
                    "{issuer} signs tokens for all of its users: bind `{}` exactly, or anyone's workflow could match",
                    owners[0]
                ),
            ));
        }
        Ok(Self { issuer, audiences, subject, claims: patterns })
    }

    /// The issuer.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The accepted `aud` values.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The exact `sub` required, if any.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The other claims required, by name.
    pub fn claims(&self) -> &BTreeMap<String, ClaimPattern> {
        &self.claims
    }

    /// Checks a token's claims (its signature is checked apart) against this policy at `now`:
    /// issuer, expiry, not-before, audience, subject, then each bound claim.
    pub fn check_claims(&self, claims: &Map<String, Value>, now: Timestamp) -> Vec<Check> {
        let now = now.timestamp();
        let mut checks = Vec::with_capacity(5 + self.claims.len());
        let iss = claims.get("iss").and_then(Value::as_str);
        checks.push(Check::new("issuer", iss == Some(self.issuer.as_str()), format!("`iss` must be {}", self.issuer)));
        let exp = claims.get("exp").and_then(Value::as_i64);
        checks.push(Check::new(
            "expiry",
            exp.is_some_and(|exp| now < exp.saturating_add(CLOCK_LEEWAY_SECONDS)),
            "`exp` must be present and in the future",
        ));
        let early =
            |name: &str| claims.get(name).and_then(Value::as_i64).is_some_and(|t| t > now + CLOCK_LEEWAY_SECONDS);
        checks.push(Check::new(
            "not_before",
            !early("nbf") && !early("iat"),
            "`nbf` and `iat` must not be in the future",
        ));
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => self.audiences.contains(aud),
            Some(Value::Array(auds)) => {
                auds.iter().filter_map(Value::as_str).any(|a| self.audiences.iter().any(|b| a == b))
            }
            _ => false,
        };
        checks.push(Check::new("audience", audience_ok, format!("`aud` must include one of {:?}", self.audiences)));
        if let Some(subject) = &self.subject {
            let sub = claims.get("sub").and_then(Value::as_str);
            checks.push(Check::new("subject", sub == Some(subject.as_str()), format!("`sub` must be `{subject}`")));
        }
        for (name, pattern) in &self.claims {
            let matched = claim_text(lookup(claims, name)).is_some_and(|value| pattern.matches(&value));
            let how = if pattern.is_glob() { "match" } else { "be" };
            checks.push(Check::new(&format!("claims.{name}"), matched, format!("`{name}` must {how} `{pattern}`")));
        }
        checks
    }
}

/// The claim `name`: a top-level claim of that name, else a path into nested objects with `/`
/// between the names (`kubernetes.io/namespace` reads `{"kubernetes.io": {"namespace": ...}}`).
fn lookup<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(name) {
        return Some(value);
    }
    let mut parts = name.split('/');
    let first = claims.get(parts.next()?)?;
    parts.try_fold(first, |value, part| value.as_object()?.get(part))
}

/// A claim's value as text, if it is a string, a number or a boolean.
fn claim_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// 1 to 255 characters without control characters.
fn plain_text(s: &str, field: &str) -> Result<(), ValidationError> {
    if s.is_empty() || s.len() > 255 || s.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "each must be 1 to 255 characters, without control characters"));
    }
    Ok(())
}

/// One check of a presented token, and whether it passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked: `signature`, `issuer`, `expiry`, `not_before`, `audience`, `subject` or
    /// `claims.<name>`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What the check requires, for people reading a dry run. Never the token's own values.
    pub requirement: String,
}

impl Check {
    /// A check named `name` with its outcome.
    pub fn new(name: &str, passed: bool, requirement: impl Into<String>) -> Self {
        Self { name: name.to_owned(), passed, requirement: requirement.into() }
    }
}

/// The longest lifetime a federated access token may be given, in seconds: a day.
pub const MAX_TTL_SECONDS: i64 = 86_400;

/// A service account's trust in one external issuer: which of its tokens may be exchanged for an
/// access token of the service account, with which scopes and for how long.
#[derive(Debug, Clone)]
pub struct FederatedCredential {
    /// Its id; access tokens minted through it name it in their `fed` claim.
    pub id: FederatedCredentialId,
    /// The account of its service account.
    pub account_id: AccountId,
    /// The service account whose tokens it mints.
    pub service_account_id: ServiceAccountId,
    /// Its name, unique per service account.
    pub name: Name,
    /// Which external tokens it accepts.
    pub policy: TrustPolicy,
    /// The scopes a minted token may carry (a request may narrow them).
    pub scopes: Scopes,
    /// The longest life of a minted token, in seconds.
    pub max_ttl_seconds: i64,
    /// Whether it may be used.
    pub active: bool,
    /// Whether an external token may be exchanged only once (by its `jti`) within its life.
    pub refuse_replay: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

impl FederatedCredential {
    /// The lifetime of a token minted at `now` from an external token that expires at
    /// `external_exp`: the smallest of this credential's maximum, `access_ttl` and the external
    /// token's remaining life. `None` if nothing is left of it.
    pub fn lifetime(&self, access_ttl: chrono::Duration, external_exp: Timestamp, now: Timestamp) -> Option<i64> {
        let secs = self.max_ttl_seconds.min(access_ttl.num_seconds()).min((external_exp - now).num_seconds());
        (secs > 0).then_some(secs)
    }
}

/// Checks a `max_ttl_seconds`: 1 to a day, 3600 when absent.
pub fn parse_max_ttl(seconds: Option<i64>) -> Result<i64, ValidationError> {
    match seconds {
        None => Ok(3600),
        Some(s) if (1..=MAX_TTL_SECONDS).contains(&s) => Ok(s),
        Some(_) => Err(ValidationError::new("max_ttl_seconds", "must be from 1 to 86400 (a day)")),
    }
}

#[cfg(test)]
mod tests;
