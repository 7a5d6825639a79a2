//! A jsonwebtoken `CryptoProvider` backed by ring, so that ring stays the only cryptography library
//! in the tree: HS256, EdDSA (Ed25519) and ES256, and RS256 for verifying only (the tokens of
//! federated OIDC issuers; Keyward never signs with RSA). Every other algorithm is refused.

use std::sync::{Arc, Once, PoisonError, RwLock};

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result, new_error};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, UnparsedPublicKey};

struct Hs256Signer(hmac::Key);

impl Signer<Vec<u8>> for Hs256Signer {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        Ok(hmac::sign(&self.0, msg).as_ref().to_vec())
    }
}

impl JwtSigner for Hs256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

struct Hs256Verifier(hmac::Key);

impl Verifier<Vec<u8>> for Hs256Verifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), SignatureError> {
        // Constant-time comparison of the tags, inside ring.
        hmac::verify(&self.0, msg, signature).map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for Hs256Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

struct EdDsaSigner(Arc<Ed25519KeyPair>);

impl Signer<Vec<u8>> for EdDsaSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        Ok(self.0.sign(msg).as_ref().to_vec())
    }
}

impl JwtSigner for EdDsaSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct Es256Signer(Arc<EcdsaKeyPair>);

impl Signer<Vec<u8>> for Es256Signer {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        let signature = self.0.sign(&SystemRandom::new(), msg).map_err(|_| SignatureError::new())?;
        Ok(signature.as_ref().to_vec())
    }
}

impl JwtSigner for Es256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }
}

/// Verifies with a public key: Ed25519 (32 raw bytes) or P-256 (65-byte uncompressed point).
struct PublicKeyVerifier {
    algorithm: Algorithm,
    key: UnparsedPublicKey<Vec<u8>>,
}

impl Verifier<Vec<u8>> for PublicKeyVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), SignatureError> {
        self.key.verify(msg, signature).map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for PublicKeyVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// Verifies RS256 with an RSA public key given as its modulus and exponent (a JWK's `n` and `e`),
/// 2048 to 8192 bits.
struct Rs256Verifier(sig::RsaPublicKeyComponents<Vec<u8>>);

impl Verifier<Vec<u8>> for Rs256Verifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), SignatureError> {
        self.0.verify(&sig::RSA_PKCS1_2048_8192_SHA256, msg, signature).map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for Rs256Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

/// Parsed key pairs, by the SHA-256 of their PKCS#8 document. jsonwebtoken asks for a signer on
/// every token, and parsing a key pair re-derives its public key (for Ed25519 about as costly as
/// the signature itself), while one signing key signs thousands of tokens. A few pairs are held:
/// the active key and the next, with room for a rotation.
struct ParsedPairs<T> {
    held: RwLock<Vec<([u8; 32], Arc<T>)>>,
}

impl<T> ParsedPairs<T> {
    const HELD: usize = 4;

    const fn new() -> Self {
        Self { held: RwLock::new(Vec::new()) }
    }

    fn get_or_parse(&self, pkcs8: &[u8], parse: impl FnOnce(&[u8]) -> Result<T>) -> Result<Arc<T>> {
        let mut digest = [0u8; 32];
        digest.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, pkcs8).as_ref());
        let held = self.held.read().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, pair)) = held.iter().find(|(d, _)| *d == digest) {
            return Ok(pair.clone());
        }
        drop(held);
        let pair = Arc::new(parse(pkcs8)?);
        let mut held = self.held.write().unwrap_or_else(PoisonError::into_inner);
        if held.len() >= Self::HELD {
            held.remove(0);
        }
        held.push((digest, pair.clone()));
        Ok(pair)
    }
}

static ED25519_PAIRS: ParsedPairs<Ed25519KeyPair> = ParsedPairs::new();
static P256_PAIRS: ParsedPairs<EcdsaKeyPair> = ParsedPairs::new();

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    match (algorithm, key.family()) {
        (Algorithm::HS256, AlgorithmFamily::Hmac) => {
            Ok(Box::new(Hs256Signer(hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()))))
        }
        (Algorithm::EdDSA, AlgorithmFamily::Ed) => {
            let pair = ED25519_PAIRS.get_or_parse(key.as_bytes(), |doc| {
                Ed25519KeyPair::from_pkcs8(doc).map_err(|_| new_error(ErrorKind::InvalidEddsaKey))
            })?;
            Ok(Box::new(EdDsaSigner(pair)))
        }
        (Algorithm::ES256, AlgorithmFamily::Ec) => {
            let pair = P256_PAIRS.get_or_parse(key.as_bytes(), |doc| {
                EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, doc, &SystemRandom::new())
                    .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))
            })?;
            Ok(Box::new(Es256Signer(pair)))
        }
        (Algorithm::HS256 | Algorithm::EdDSA | Algorithm::ES256, _) => Err(new_error(ErrorKind::InvalidKeyFormat)),
        _ => Err(new_error(ErrorKind::InvalidAlgorithm)),
    }
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    // The family check is what stops "HS256 signed with a public key": a public key is never an
    // HMAC key, and an HMAC secret is never a public key.
    match (algorithm, key.family()) {
        (Algorithm::HS256, AlgorithmFamily::Hmac) => {
            Ok(Box::new(Hs256Verifier(hmac::Key::new(hmac::HMAC_SHA256, key.try_get_as_bytes()?))))
        }
        (Algorithm::EdDSA, AlgorithmFamily::Ed) => Ok(Box::new(PublicKeyVerifier {
            algorithm: Algorithm::EdDSA,
            key: UnparsedPublicKey::new(&sig::ED25519, key.try_get_as_bytes()?.to_vec()),
        })),
        (Algorithm::ES256, AlgorithmFamily::Ec) => Ok(Box::new(PublicKeyVerifier {
            algorithm: Algorithm::ES256,
            key: UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, key.try_get_as_bytes()?.to_vec()),
        })),
        (Algorithm::RS256, AlgorithmFamily::Rsa) => match key.kind() {
            DecodingKeyKind::RsaModulusExponent { n, e } => {
                Ok(Box::new(Rs256Verifier(sig::RsaPublicKeyComponents { n: n.clone(), e: e.clone() })))
            }
            DecodingKeyKind::SecretOrDer(_) => {
                Err(new_error(ErrorKind::InvalidRsaKey("give RSA keys as components".to_owned())))
            }
        },
        (Algorithm::HS256 | Algorithm::EdDSA | Algorithm::ES256 | Algorithm::RS256, _) => {
            Err(new_error(ErrorKind::InvalidKeyFormat))
        }
        _ => Err(new_error(ErrorKind::InvalidAlgorithm)),
    }
}

static PROVIDER: CryptoProvider =
    CryptoProvider { signer_factory: signer, verifier_factory: verifier, key_utils: KeyUtils::new_unimplemented() };

/// Installs the ring provider for this process; safe to call any number of times.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another provider installed first would be one this crate chose not to use; keep going
        // with it rather than fail, since both verify standard JWTs.
        let _ = PROVIDER.install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Header, Validation, decode, encode};
    use ring::signature::KeyPair;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Claims {
        sub: String,
        exp: u64,
    }

    fn claims() -> Claims {
        Claims { sub: "svc".into(), exp: jsonwebtoken::get_current_timestamp() + 60 }
    }

    fn tamper(token: &str) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].replacen('e', "f", 1);
        parts.join(".")
    }

    #[test]
    fn hs256_round_trips_and_refuses_tampering_and_other_keys() {
        install();
        let token = encode(&Header::new(Algorithm::HS256), &claims(), &EncodingKey::from_secret(b"s3cret")).unwrap();
        let v = Validation::new(Algorithm::HS256);
        assert_eq!(decode::<Claims>(&token, &DecodingKey::from_secret(b"s3cret"), &v).unwrap().claims.sub, "svc");
        assert!(decode::<Claims>(&token, &DecodingKey::from_secret(b"other"), &v).is_err());
        assert!(decode::<Claims>(&tamper(&token), &DecodingKey::from_secret(b"s3cret"), &v).is_err());
    }

    #[test]
    fn eddsa_and_es256_round_trip_and_refuse_tampering() {
        install();
        let rng = SystemRandom::new();
        let ed = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed_pub = Ed25519KeyPair::from_pkcs8(ed.as_ref()).unwrap().public_key().as_ref().to_vec();
        let token = encode(&Header::new(Algorithm::EdDSA), &claims(), &EncodingKey::from_ed_der(ed.as_ref())).unwrap();
        let v = Validation::new(Algorithm::EdDSA);
        assert!(decode::<Claims>(&token, &DecodingKey::from_ed_der(&ed_pub), &v).is_ok());
        assert!(decode::<Claims>(&tamper(&token), &DecodingKey::from_ed_der(&ed_pub), &v).is_err());

        let ec = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let ec_pub = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, ec.as_ref(), &rng)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        let token = encode(&Header::new(Algorithm::ES256), &claims(), &EncodingKey::from_ec_der(ec.as_ref())).unwrap();
        let v = Validation::new(Algorithm::ES256);
        assert!(decode::<Claims>(&token, &DecodingKey::from_ec_der(&ec_pub), &v).is_ok());
        assert!(decode::<Claims>(&tamper(&token), &DecodingKey::from_ec_der(&ec_pub), &v).is_err());
    }

    #[test]
    fn each_key_signs_with_its_own_parsed_pair_while_more_keys_come_and_go() {
        install();
        let rng = SystemRandom::new();
        let keys: Vec<_> = (0..ParsedPairs::<Ed25519KeyPair>::HELD + 2)
            .map(|_| {
                let doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
                let public = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap().public_key().as_ref().to_vec();
                (EncodingKey::from_ed_der(doc.as_ref()), DecodingKey::from_ed_der(&public))
            })
            .collect();
        let v = Validation::new(Algorithm::EdDSA);
        // Twice round, so that later keys push earlier ones out and those are parsed again.
        for round in 0..2 {
            for (i, (signing, public)) in keys.iter().enumerate() {
                let token = encode(&Header::new(Algorithm::EdDSA), &claims(), signing).unwrap();
                assert!(decode::<Claims>(&token, public, &v).is_ok(), "key {i}, round {round}");
                let other = &keys[(i + 1) % keys.len()].1;
                assert!(decode::<Claims>(&token, other, &v).is_err(), "key {i} verified under another key");
            }
        }
        assert!(ED25519_PAIRS.held.read().unwrap().len() <= ParsedPairs::<Ed25519KeyPair>::HELD);
    }

    #[test]
    fn algorithm_confusion_and_none_are_refused() {
        install();
        let rng = SystemRandom::new();
        let ed = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed_pub = Ed25519KeyPair::from_pkcs8(ed.as_ref()).unwrap().public_key().as_ref().to_vec();
        // An attacker signs HS256 with the public key as the HMAC secret.
        let forged = encode(&Header::new(Algorithm::HS256), &claims(), &EncodingKey::from_secret(&ed_pub)).unwrap();
        let mut v = Validation::new(Algorithm::EdDSA);
        v.algorithms = vec![Algorithm::EdDSA, Algorithm::HS256];
        assert!(decode::<Claims>(&forged, &DecodingKey::from_ed_der(&ed_pub), &v).is_err());
        // `alg: none` with no signature.
        let none = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(r#"{"sub":"svc","exp":99999999999}"#));
        assert!(
            decode::<Claims>(&none, &DecodingKey::from_secret(b"s3cret"), &Validation::new(Algorithm::HS256)).is_err()
        );
        assert!(encode(&Header::new(Algorithm::RS256), &claims(), &EncodingKey::from_secret(b"x")).is_err());
    }

    fn b64(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }
}
