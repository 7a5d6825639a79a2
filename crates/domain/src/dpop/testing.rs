//! A DPoP client's key for tests (feature `test-support`): it makes proofs as a client library
//! would, with ring, and works out its thumbprint on its own, not with [`super::check_proof`]'s
//! code, so that tests compare two implementations.

#![allow(clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

/// A client's key pair, signing proofs as ES256 or EdDSA.
#[derive(Debug)]
pub enum ProofKey {
    /// A P-256 key.
    Es256(EcdsaKeyPair),
    /// An Ed25519 key.
    EdDsa(Ed25519KeyPair),
}

impl ProofKey {
    /// A new P-256 key, for ES256 proofs.
    pub fn es256() -> Self {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("a P-256 key");
        ProofKey::Es256(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).expect("parses"))
    }

    /// A new Ed25519 key, for EdDSA proofs.
    pub fn eddsa() -> Self {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("an Ed25519 key");
        ProofKey::EdDsa(Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("parses"))
    }

    /// The `alg` its proofs name.
    pub fn alg(&self) -> &'static str {
        match self {
            ProofKey::Es256(_) => "ES256",
            ProofKey::EdDsa(_) => "EdDSA",
        }
    }

    /// Its public JWK.
    pub fn jwk(&self) -> Value {
        match self {
            ProofKey::Es256(pair) => {
                // An uncompressed point: 0x04, then x and y.
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256",
                       "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])})
            }
            ProofKey::EdDsa(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())})
            }
        }
    }

    /// Its RFC 7638 thumbprint: the required members of its JWK as a JSON object with sorted keys
    /// and no whitespace, SHA-256, base64url.
    pub fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        let members: &[&str] = if jwk["kty"] == "EC" { &["crv", "kty", "x", "y"] } else { &["crv", "kty", "x"] };
        let canonical: serde_json::Map<String, Value> =
            members.iter().map(|m| ((*m).to_owned(), jwk[*m].clone())).collect();
        let text = serde_json::to_string(&canonical).expect("a JSON object");
        URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
    }

    /// The header of its proofs.
    pub fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.jwk()})
    }

    /// A JWS of exactly this header and these claims, signed with the key.
    pub fn proof_with(&self, header: &Value, claims: &Value) -> String {
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = match self {
            ProofKey::Es256(pair) => {
                pair.sign(&SystemRandom::new(), input.as_bytes()).expect("signs").as_ref().to_vec()
            }
            ProofKey::EdDsa(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// A fresh proof (a random `jti`) for `method` on `url` made at `iat`, for `token` (its `ath`)
    /// and with `nonce`, where given.
    pub fn proof(&self, method: &str, url: &str, iat: i64, token: Option<&str>, nonce: Option<&str>) -> String {
        let mut jti = [0u8; 16];
        ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut jti).expect("random bytes");
        let mut claims = json!({"jti": URL_SAFE_NO_PAD.encode(jti), "htm": method, "htu": url, "iat": iat});
        if let Some(token) = token {
            claims["ath"] = json!(super::token_hash(token));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        self.proof_with(&self.header(), &claims)
    }
}
