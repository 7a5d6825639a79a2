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

/// The claims Keyward reads from a JWT a client signed with its secret key. Only `exp` is required;
/// `scope`, when present, narrows the key's scopes.
#[derive(Debug, Clone, Deserialize)]
pub struct PresentedClaims {
    /// Expiry, seconds since the Unix epoch; at most an hour ahead.
    pub exp: i64,
    /// Not before, if given.
    pub nbf: Option<i64>,
    /// Space-separated scopes, if given.
    pub scope: Option<String>,
}
