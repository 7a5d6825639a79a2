//! The claims of the JWTs Keyward issues and accepts.

use serde::{Deserialize, Serialize};

/// The audience of tokens meant for Keyward's own API. (The issuer is the configured public URL.)
pub const AUDIENCE: &str = "keyward";
/// The longest lifetime of a JWT signed with a secret key, whoever signed it: one hour.
pub const MAX_SECRET_KEY_JWT_SECONDS: i64 = 3600;
/// Clock skew tolerated on `exp` and `nbf`, the same for every token Keyward verifies: five
/// seconds.
pub const LEEWAY_SECONDS: i64 = 5;
/// The longest `jti` a client assertion may carry, in bytes: longer ones are refused, not stored.
pub const MAX_JTI_BYTES: usize = 256;

/// Whether a JWT's time claims hold at `now` (seconds): not expired, allowing [`LEEWAY_SECONDS`],
/// and not before its `nbf`, allowing the same.
pub fn times_hold(exp: i64, nbf: Option<i64>, now: i64) -> bool {
    exp > now - LEEWAY_SECONDS && nbf.is_none_or(|nbf| nbf <= now + LEEWAY_SECONDS)
}

/// The `typ` header of every access token Keyward issues (RFC 9068 §2.1), so that a resource
/// server can tell an access token from any other JWT. Keyward still accepts its own tokens
/// typed `JWT` (issued before this), and clients' self-signed JWTs carry any type.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Whether a JWT's header asks for nothing Keyward does not understand: RFC 7515 §4.1.11 says a
/// token whose `crit` names an extension the recipient does not support must be refused, and
/// Keyward supports none.
pub fn header_acceptable(header: &jsonwebtoken::Header) -> bool {
    header.crit.is_none()
}

/// An `aud` claim: one string or an array of them (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` is one of the audiences.
    pub fn includes(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(all) => all.iter().any(|a| a == aud),
        }
    }
}

/// Reads an `aud` that may be an array into the one entry that names Keyward (or the first), for
/// claims whose audience has already been checked.
fn one_audience<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Audience::deserialize(d)? {
        Audience::One(a) => a,
        Audience::Many(all) => all.iter().find(|a| *a == AUDIENCE).or(all.first()).cloned().unwrap_or_default(),
    })
}

/// The claims of a token Keyward signs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuedClaims {
    /// The issuer: Keyward's public base URL.
    pub iss: String,
    /// The service account the token speaks for.
    pub sub: String,
    /// The audience, [`AUDIENCE`] (an array holding it is read as it).
    #[serde(deserialize_with = "one_audience")]
    pub aud: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// A unique id of this token.
    pub jti: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The credential the token was issued to (the OAuth 2.0 `client_id`).
    pub client_id: String,
    /// The account of the service account.
    pub acct: String,
    /// For a token minted for an external token: the federated credential that trusted it (also
    /// its `client_id`). Absent on every other token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fed: Option<String>,
    /// For a token bound to a client's key (DPoP, RFC 9449 §6.1): that key's thumbprint. Such a
    /// token is accepted only with a proof signed by the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<crate::dpop::Confirmation>,
}

/// The `scope` of a secret-key JWT that stands for every scope of its key: Smooch's account-scoped
/// JWTs carry `scope: "account"`, and mean the whole key by it.
pub const WHOLE_KEY_SCOPE: &str = "account";

/// The claims Keyward reads from a JWT a client signed with its secret key. `exp` is required
/// except where [`JwtLifetime::AccountScopedUnbounded`] allows it; `scope`, when present, narrows
/// the key's scopes (`account` alone stands for all of them).
#[derive(Debug, Clone, Deserialize)]
pub struct PresentedClaims {
    /// Expiry, seconds since the Unix epoch; at most an hour ahead.
    pub exp: Option<i64>,
    /// Not before, if given.
    pub nbf: Option<i64>,
    /// Space-separated scopes, if given.
    pub scope: Option<String>,
    /// The issuer, if given: it must be the key's id.
    pub iss: Option<String>,
    /// The audience, if given: it must include Keyward's issuer URL or [`AUDIENCE`].
    pub aud: Option<Audience>,
}

/// How a secret-key JWT's lifetime is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JwtLifetime {
    /// `exp` required, at most an hour ahead: Keyward's own rule, on the native API.
    #[default]
    Bounded,
    /// As `Bounded`, except that a JWT with `scope: "account"` may carry no `exp`: the Smooch
    /// contract, where an account-scoped JWT lives as long as its key (and dies with it, or with a
    /// rotation). Only the Smooch dialect accepts this.
    AccountScopedUnbounded,
}
