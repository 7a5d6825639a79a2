//! A stand-in for GitHub's secret scanning on loopback: it publishes its P-256 public key in
//! GitHub's format and signs reports with it, as GitHub does (ECDSA P-256 SHA-256, DER, base64).

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, KeyPair};
use serde_json::json;

/// The DER prefix of a P-256 SubjectPublicKeyInfo; the 65-byte point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A running test scanner.
pub struct TestScanner {
    /// Where its public keys are published.
    pub keys_url: String,
    /// The identifier of its key.
    pub key_id: String,
    pair: EcdsaKeyPair,
}

impl TestScanner {
    /// Starts a scanner on a free loopback port, publishing one key.
    pub async fn start() -> Self {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref(), &rng).unwrap();
        let spki = [P256_SPKI_PREFIX.as_slice(), pair.public_key().as_ref()].concat();
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", STANDARD.encode(&spki));
        let key_id = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a".to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let keys_url = format!("http://{}/meta/public_keys/secret_scanning", listener.local_addr().unwrap());
        let keys = json!({"public_keys": [{"key_identifier": key_id, "key": pem, "is_current": true}]}).to_string();
        let app = Router::new().route("/meta/public_keys/secret_scanning", get(move || async move { keys }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { keys_url, key_id, pair }
    }

    /// The base64 DER signature of `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        STANDARD.encode(self.pair.sign(&SystemRandom::new(), body).unwrap().as_ref())
    }
}
