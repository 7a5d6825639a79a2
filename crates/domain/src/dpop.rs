//! DPoP (RFC 9449): a client proves on each request that it holds the private key its access
//! token is bound to. A proof is a JWT that the client signs with that key; the header carries
//! the public key. The token carries the key's thumbprint (`cnf.jkt`).
//!
//! This module checks one proof on its own: its form, its signature, its method and URL, its age
//! and the token it covers. Spending its `jti` once and checking server nonces need storage and
//! the master key, so [`crate::service::Keyward`] does those.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::jwt::provider;

/// The `typ` header every proof carries (RFC 9449 §4.2).
pub const PROOF_TYPE: &str = "dpop+jwt";
/// The signature algorithms Keyward accepts on proofs, as its metadata and challenges list them:
/// ES256, and Ed25519 under either of its names (`EdDSA`, and RFC 9864's fully specified
/// `Ed25519`, which oauth4webapi sends).
pub const ALGORITHMS: [&str; 3] = ["ES256", "EdDSA", "Ed25519"];
/// How old a proof's `iat` may be, in seconds. Its `jti` is remembered at least this long.
pub const MAX_PROOF_AGE_SECONDS: i64 = 300;
/// How far ahead of Keyward's clock a proof's `iat` may be, in seconds (the client's clock skew).
pub const MAX_PROOF_SKEW_SECONDS: i64 = 60;
/// The longest proof read, in bytes. A proof holds a public key and five short claims.
pub const MAX_PROOF_BYTES: usize = 4096;
/// The longest `jti` a proof may carry, in bytes.
pub const MAX_PROOF_JTI_BYTES: usize = 256;

/// The JWK SHA-256 thumbprint (RFC 7638) of a client's public key, base64url: the `cnf.jkt` of
/// the tokens bound to that key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Thumbprint(String);

impl Thumbprint {
    /// The thumbprint as it appears in `cnf.jkt`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The confirmation claim (`cnf`, RFC 7800) of a token bound to a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The thumbprint of the key the token is bound to.
    pub jkt: Thumbprint,
}

/// A proof as received, with what it must match.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    /// The `DPoP` header's value.
    pub proof: &'a str,
    /// The request's method, which `htm` must equal.
    pub method: &'a str,
    /// The request's URL as the client addressed it (Keyward's public base URL and the path),
    /// which `htu` must equal, ignoring any query and fragment.
    pub url: &'a str,
    /// The access token presented with the proof, which `ath` must hash; `None` at the token
    /// endpoint, where there is none yet.
    pub access_token: Option<&'a str>,
}

/// A proof that holds, with what the service still checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The thumbprint of the key that signed it.
    pub thumbprint: Thumbprint,
    /// Its unique id, to be accepted once.
    pub jti: String,
    /// When it was made, seconds since the Unix epoch.
    pub iat: i64,
    /// The server nonce it carries, if any.
    pub nonce: Option<String>,
}

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofRefusal {
    /// The proof is malformed, badly signed, or does not match the request (`invalid_dpop_proof`).
    Invalid(&'static str),
    /// The proof must carry a fresh server nonce (`use_dpop_nonce`); one comes with the answer.
    UseNonce,
}

impl ProofRefusal {
    /// The RFC 9449 error code.
    pub fn code(&self) -> &'static str {
        match self {
            ProofRefusal::Invalid(_) => "invalid_dpop_proof",
            ProofRefusal::UseNonce => "use_dpop_nonce",
        }
    }

    /// A sentence for the client's developer.
    pub fn detail(&self) -> &'static str {
        match self {
            ProofRefusal::Invalid(why) => why,
            ProofRefusal::UseNonce => "the DPoP proof must carry the nonce in the `DPoP-Nonce` header",
        }
    }
}

/// The header of a proof, read strictly: the key is the one fields of its kind, public only.
#[derive(Debug, Deserialize)]
struct ProofHeader {
    typ: Option<String>,
    alg: String,
    jwk: HeaderJwk,
    crit: Option<serde_json::Value>,
}

/// The public key in a proof's header.
#[derive(Debug, Deserialize)]
struct HeaderJwk {
    kty: String,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    /// A private key part: present means the client leaked its key, and the proof is refused.
    d: Option<serde_json::Value>,
}

/// The claims of a proof (RFC 9449 §4.2).
#[derive(Debug, Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    ath: Option<String>,
    nonce: Option<String>,
}

/// The decoding key and thumbprint of a proof's public key, for the algorithm the header names.
fn public_key(alg: &str, key: &HeaderJwk) -> Result<(Algorithm, DecodingKey, Thumbprint), &'static str> {
    let bad = "the DPoP proof's `jwk` is not a public ES256 (P-256) or EdDSA (Ed25519) key";
    if key.d.is_some() {
        return Err("the DPoP proof's `jwk` holds a private key");
    }
    fn coordinate<'k>(c: &'k Option<String>, bad: &'static str) -> Result<&'k str, &'static str> {
        c.as_deref().filter(|c| URL_SAFE_NO_PAD.decode(c).is_ok_and(|bytes| bytes.len() == 32)).ok_or(bad)
    }
    match (alg, key.kty.as_str(), key.crv.as_deref()) {
        ("ES256", "EC", Some("P-256")) => {
            let (x, y) = (coordinate(&key.x, bad)?, coordinate(&key.y, bad)?);
            let decoding = DecodingKey::from_ec_components(x, y).map_err(|_| bad)?;
            // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
            let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
            Ok((Algorithm::ES256, decoding, thumbprint_of(&canonical)))
        }
        ("EdDSA" | "Ed25519", "OKP", Some("Ed25519")) => {
            let x = coordinate(&key.x, bad)?;
            let decoding = DecodingKey::from_ed_components(x).map_err(|_| bad)?;
            let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
            Ok((Algorithm::EdDSA, decoding, thumbprint_of(&canonical)))
        }
        ("ES256" | "EdDSA" | "Ed25519", _, _) => Err(bad),
        _ => Err("the DPoP proof must be signed with ES256 or EdDSA (Ed25519)"),
    }
}

fn thumbprint_of(canonical: &str) -> Thumbprint {
    Thumbprint(URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes())))
}

/// The `ath` of an access token: base64url of its SHA-256 (RFC 9449 §4.2).
pub fn token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes()))
}

/// A URL without its query and fragment, its scheme and host in lower case and a default port
/// dropped: RFC 9449 §4.3 compares `htu` so, after RFC 3986's syntax-based normalisation.
fn normalised(url: &str) -> Option<String> {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let authority = authority.to_ascii_lowercase();
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("https", Some((host, "443"))) | ("http", Some((host, "80"))) => host.to_owned(),
        _ => authority,
    };
    Some(format!("{scheme}://{authority}{path}"))
}

/// Checks `request`'s proof at `now` (seconds): its header (`typ`, an accepted `alg`, a public
/// `jwk`), its signature by that key, `htm` and `htu` against the request, `iat` within
/// [`MAX_PROOF_AGE_SECONDS`] back and [`MAX_PROOF_SKEW_SECONDS`] ahead, and `ath` against the
/// access token when there is one. The refusal says which check failed.
pub fn check_proof(request: &ProofRequest<'_>, now: i64) -> Result<Proof, &'static str> {
    let malformed = "the DPoP proof is not a JWT with a `typ`, `alg` and `jwk` header";
    if request.proof.len() > MAX_PROOF_BYTES {
        return Err("the DPoP proof is longer than 4 KiB");
    }
    let mut parts = request.proof.split('.');
    let (Some(encoded_header), Some(encoded_claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed);
    };
    let header_json = URL_SAFE_NO_PAD.decode(encoded_header).map_err(|_| malformed)?;
    let header: ProofHeader = serde_json::from_slice(&header_json).map_err(|_| malformed)?;
    if !header.typ.is_some_and(|t| t.eq_ignore_ascii_case(PROOF_TYPE)) {
        return Err("the DPoP proof's `typ` must be `dpop+jwt`");
    }
    if header.crit.is_some() {
        return Err("the DPoP proof's header names an extension (crit) that Keyward does not support");
    }
    let (algorithm, key, thumbprint) = public_key(&header.alg, &header.jwk)?;
    // The signature is checked by jsonwebtoken's primitive rather than `decode`, whose header
    // type knows no `Ed25519` algorithm name; the claims are read after it holds.
    provider::install();
    let signed = &request.proof[..encoded_header.len() + 1 + encoded_claims.len()];
    if !jsonwebtoken::crypto::verify(signature, signed.as_bytes(), &key, algorithm).unwrap_or(false) {
        return Err("the DPoP proof's signature does not verify with its `jwk`");
    }
    let claims: ProofClaims = URL_SAFE_NO_PAD
        .decode(encoded_claims)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or("the DPoP proof lacks `jti`, `htm`, `htu` or `iat`")?;
    if claims.jti.is_empty() || claims.jti.len() > MAX_PROOF_JTI_BYTES {
        return Err("the DPoP proof's `jti` must be 1 to 256 bytes");
    }
    if claims.htm != request.method {
        return Err("the DPoP proof's `htm` is not this request's method");
    }
    if normalised(&claims.htu).is_none() || normalised(&claims.htu) != normalised(request.url) {
        return Err("the DPoP proof's `htu` is not this request's URL");
    }
    if claims.iat < now - MAX_PROOF_AGE_SECONDS || claims.iat > now + MAX_PROOF_SKEW_SECONDS {
        return Err("the DPoP proof's `iat` is too old or too far ahead");
    }
    if let Some(token) = request.access_token {
        let expected = token_hash(token);
        let matches = claims.ath.is_some_and(|ath| bool::from(ath.as_bytes().ct_eq(expected.as_bytes())));
        if !matches {
            return Err("the DPoP proof's `ath` is not the hash of the access token");
        }
    }
    Ok(Proof { thumbprint, jti: claims.jti, iat: claims.iat, nonce: claims.nonce })
}

#[cfg(any(test, feature = "test-support"))]
pub mod testing;
#[cfg(test)]
mod tests;
