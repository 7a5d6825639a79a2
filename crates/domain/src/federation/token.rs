//! A presented external token: read without trust, then its signature checked against its
//! issuer's published keys. The keys come through [`IssuerKeys`], which the domain calls and
//! something outside it implements (fetching and caching the issuer's JWKS).

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde_json::{Map, Value};

use super::{Check, Issuer};

/// The longest external token read, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The algorithms an external token may be signed with: the asymmetric ones OIDC issuers use.
/// Never `none`, never an HMAC (its key would be the issuer's public key, which anyone has).
const ACCEPTED: &[Algorithm] = &[Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// Why an issuer's keys could not be had. The text is for the caller and names no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the issuer's keys could not be fetched: {0}")]
pub struct KeysUnavailable(pub String);

/// Where the domain gets an issuer's signing keys: its OpenID Connect discovery document and
/// JWKS, fetched and cached by the implementation.
pub trait IssuerKeys: Send + Sync + std::fmt::Debug {
    /// The issuer's current keys. With `refresh`, the cached keys are not good enough (a token
    /// names a key they lack) and should be fetched again, within the implementation's limits.
    fn keys(&self, issuer: &Issuer, refresh: bool) -> Result<JwkSet, KeysUnavailable>;
}

/// Fetches no keys: every issuer's keys are unavailable. The default until the service is given
/// a fetcher.
#[derive(Debug, Clone, Copy)]
pub struct NoIssuerKeys;

impl IssuerKeys for NoIssuerKeys {
    fn keys(&self, _: &Issuer, _: bool) -> Result<JwkSet, KeysUnavailable> {
        Err(KeysUnavailable("this Keyward was started without an issuer-key fetcher".to_owned()))
    }
}

/// An external token as presented: its header and claims, read but not trusted. It is a bearer
/// credential until it expires, so its `Debug` shows only its issuer and key id.
pub struct PresentedToken<'a> {
    raw: &'a str,
    header: Header,
    claims: Map<String, Value>,
}

impl std::fmt::Debug for PresentedToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedToken")
            .field("iss", &self.issuer())
            .field("kid", &self.header.kid)
            .finish_non_exhaustive()
    }
}

impl<'a> PresentedToken<'a> {
    /// Reads a compact JWT's header and claims, checking nothing but its shape.
    pub fn read(raw: &'a str) -> Result<Self, String> {
        if raw.len() > MAX_TOKEN_BYTES {
            return Err("the token is longer than 16 KiB".to_owned());
        }
        let header = jsonwebtoken::decode_header(raw).map_err(|_| "the token is not a signed JWT".to_owned())?;
        let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(raw)
            .map_err(|_| "the token's claims are not a JSON object".to_owned())?;
        Ok(Self { raw, header, claims })
    }

    /// The claims, unverified until [`PresentedToken::check_signature`] passes.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The `iss` claim, if it is a string.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// Whether `keys` holds a key this token names (its `kid`, or any key when it names none).
    pub fn names_a_key_in(&self, keys: &JwkSet) -> bool {
        self.key_in(keys).is_some()
    }

    fn key_in<'k>(&self, keys: &'k JwkSet) -> Option<&'k Jwk> {
        match &self.header.kid {
            Some(kid) => keys.find(kid),
            None if keys.keys.len() == 1 => keys.keys.first(),
            None => None,
        }
    }

    /// Checks the signature with the key it names in `keys`: an accepted algorithm, a key of the
    /// matching type (and `alg`, if the key states one), and a valid signature.
    pub fn check_signature(&self, keys: &JwkSet) -> Check {
        let requirement = "signed with RS256, ES256 or EdDSA by a key in the issuer's JWKS";
        Check::new("signature", self.signature_is_valid(keys), requirement)
    }

    fn signature_is_valid(&self, keys: &JwkSet) -> bool {
        let alg = self.header.alg;
        if !ACCEPTED.contains(&alg) {
            return false;
        }
        let Some(jwk) = self.key_in(keys) else { return false };
        if jwk.common.key_algorithm.is_some_and(|stated| stated != alg.into()) {
            return false;
        }
        let Ok(key) = DecodingKey::from_jwk(jwk) else { return false };
        crate::jwt::provider::install();
        let mut validation = Validation::new(alg);
        // Only the signature here: the policy checks the claims, against Keyward's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Map<String, Value>>(self.raw, &key, &validation).is_ok()
    }
}
