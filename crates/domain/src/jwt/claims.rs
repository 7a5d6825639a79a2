//! The claims of the JWTs Keyward issues and accepts.

use serde::{Deserialize, Serialize};

/// The audience of tokens meant for Keyward's own API. (The issuer is the configured public URL.)
pub const AUDIENCE: &str = "keyward";
/// The longest lifetime of a JWT signed with a secret key, whoever signed it: one hour.
pub const MAX_SECRET_KEY_JWT_SECONDS: i64 = 3600;
/// Clock skew tolerated between Keyward and a client that signs its own tokens.
pub const LEEWAY_SECONDS: i64 = 60;

/// The claims of a token Keyward signs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuedClaims {
    /// The issuer: Keyward's public base URL.
    pub iss: String,
    /// The service account the token speaks for.
    pub sub: String,
    /// The audience, [`AUDIENCE`].
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
