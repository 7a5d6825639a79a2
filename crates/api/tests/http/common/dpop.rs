//! A DPoP client's key, making proofs with jsonwebtoken as a client library would.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

/// A client's key pair and the public JWK its proofs carry.
pub struct ProofKey {
    alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Jwk,
}

impl ProofKey {
    /// A new P-256 key, for ES256 proofs.
    pub fn es256() -> Self {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
        let public = DecodingKey::from_ec_der(pair.public_key().as_ref());
        Self {
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(doc.as_ref()),
            jwk: Jwk::from_decoding_key(&public, Some(Algorithm::ES256)).unwrap(),
        }
    }

    /// A new Ed25519 key, for EdDSA proofs.
    pub fn eddsa() -> Self {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
        let public = DecodingKey::from_ed_der(pair.public_key().as_ref());
        Self {
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(doc.as_ref()),
            jwk: Jwk::from_decoding_key(&public, Some(Algorithm::EdDSA)).unwrap(),
        }
    }

    /// The key's RFC 7638 thumbprint, worked out here from its JWK: the required members in
    /// lexicographic order, no whitespace, SHA-256, base64url.
    pub fn thumbprint(&self) -> String {
        use base64::Engine;
        let jwk = serde_json::to_value(&self.jwk).unwrap();
        let members: &[&str] = if jwk["kty"] == "EC" { &["crv", "kty", "x", "y"] } else { &["crv", "kty", "x"] };
        let canonical: serde_json::Map<String, Value> =
            members.iter().map(|m| ((*m).to_owned(), jwk[*m].clone())).collect();
        let digest = ring::digest::digest(&ring::digest::SHA256, serde_json::to_string(&canonical).unwrap().as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    }

    /// A proof with exactly these claims.
    pub fn sign(&self, claims: &Value) -> String {
        domain::jwt::provider::install();
        let mut header = Header::new(self.alg);
        header.typ = Some("dpop+jwt".to_owned());
        header.jwk = Some(self.jwk.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// A fresh proof for `method` on `url` made at `iat`, for `token` (its `ath`) and with `nonce`
    /// if given.
    pub fn proof(&self, method: &str, url: &str, iat: i64, token: Option<&str>, nonce: Option<&str>) -> String {
        let mut claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": method, "htu": url, "iat": iat});
        if let Some(token) = token {
            claims["ath"] = json!(domain::dpop::token_hash(token));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        self.sign(&claims)
    }
}
