//! Proofs made here with ring, as a client would, checked against every rule of RFC 9449 §4.3.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

use super::*;

const NOW: i64 = 1_800_000_000;
const URL: &str = "https://keyward.example/v1/accounts";

/// A client's key pair, signing proofs as ES256 or EdDSA.
enum ClientKey {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl ClientKey {
    fn es256() -> Self {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("a P-256 key");
        ClientKey::Es256(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).expect("parses"),
        )
    }

    fn eddsa() -> Self {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("an Ed25519 key");
        ClientKey::EdDsa(Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("parses"))
    }

    fn alg(&self) -> &'static str {
        match self {
            ClientKey::Es256(_) => "ES256",
            ClientKey::EdDsa(_) => "EdDSA",
        }
    }

    fn jwk(&self) -> Value {
        match self {
            ClientKey::Es256(pair) => {
                // An uncompressed point: 0x04, then x and y.
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256",
                       "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])})
            }
            ClientKey::EdDsa(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())})
            }
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            ClientKey::Es256(pair) => pair.sign(&SystemRandom::new(), input).expect("signs").as_ref().to_vec(),
            ClientKey::EdDsa(pair) => pair.sign(input).as_ref().to_vec(),
        }
    }

    fn proof_with(&self, header: Value, claims: Value) -> String {
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.jwk()})
    }

    fn proof(&self, claims: Value) -> String {
        self.proof_with(self.header(), claims)
    }
}

fn claims() -> Value {
    json!({"jti": "e1j3V_bKic8-LAEB", "htm": "GET", "htu": URL, "iat": NOW})
}

fn request(proof: &str) -> ProofRequest<'_> {
    ProofRequest { proof, method: "GET", url: URL, access_token: None }
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

#[test]
fn a_proof_by_either_algorithm_holds_and_names_its_key() {
    for key in [ClientKey::es256(), ClientKey::eddsa()] {
        let proof = key.proof(claims());
        let checked = check_proof(&request(&proof), NOW).expect("the proof holds");
        assert_eq!(checked.jti, "e1j3V_bKic8-LAEB");
        assert_eq!(checked.iat, NOW);
        assert_eq!(checked.thumbprint.as_str().len(), 43, "a base64url SHA-256");
        // The same key gives the same thumbprint; another key another.
        let again = check_proof(&request(&key.proof(claims())), NOW).expect("holds");
        assert_eq!(again.thumbprint, checked.thumbprint);
        let other = ClientKey::es256().proof(claims());
        assert_ne!(check_proof(&request(&other), NOW).expect("holds").thumbprint, checked.thumbprint);
    }
}

#[test]
fn ed25519_may_be_named_as_rfc_9864_does() {
    let key = ClientKey::eddsa();
    let proof = key.proof_with(with(key.header(), "alg", json!("Ed25519")), claims());
    let named = check_proof(&request(&proof), NOW).expect("the fully specified name holds");
    let classic = check_proof(&request(&key.proof(claims())), NOW).expect("holds");
    assert_eq!(named.thumbprint, classic.thumbprint);
}

#[test]
fn the_thumbprint_is_rfc_7638s() {
    // RFC 7638 §3.1 hashes the required members in order with no whitespace; this is the P-256
    // key of RFC 9449 §4.1's example, whose thumbprint RFC 9449 §6.1 gives.
    let key = ProofKey {
        kty: "EC".into(),
        crv: Some("P-256".into()),
        x: Some("l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs".into()),
        y: Some("9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA".into()),
        d: None,
    };
    let (_, _, thumbprint) = public_key("ES256", &key).expect("a public P-256 key");
    assert_eq!(thumbprint.as_str(), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
}

#[test]
fn the_url_is_compared_without_query_fragment_case_or_default_port() {
    let key = ClientKey::eddsa();
    for htu in [
        "https://keyward.example/v1/accounts?page=2",
        "HTTPS://Keyward.Example:443/v1/accounts#top",
        "https://keyward.example/v1/accounts",
    ] {
        let proof = key.proof(with(claims(), "htu", json!(htu)));
        assert!(check_proof(&request(&proof), NOW).is_ok(), "{htu}");
    }
    for htu in ["https://keyward.example/v1/Accounts", "http://keyward.example/v1/accounts", "not a url"] {
        let proof = key.proof(with(claims(), "htu", json!(htu)));
        assert_eq!(check_proof(&request(&proof), NOW), Err("the DPoP proof's `htu` is not this request's URL"));
    }
}

#[test]
fn each_claim_is_checked() {
    let key = ClientKey::es256();
    let refused = |claims: Value| check_proof(&request(&key.proof(claims)), NOW).unwrap_err();
    assert!(refused(with(claims(), "htm", json!("POST"))).contains("`htm`"));
    assert!(refused(with(claims(), "iat", json!(NOW - MAX_PROOF_AGE_SECONDS - 1))).contains("`iat`"));
    assert!(refused(with(claims(), "iat", json!(NOW + MAX_PROOF_SKEW_SECONDS + 1))).contains("`iat`"));
    assert!(check_proof(&request(&key.proof(with(claims(), "iat", json!(NOW - 299)))), NOW).is_ok());
    assert!(refused(with(claims(), "jti", json!(""))).contains("`jti`"));
    assert!(refused(with(claims(), "jti", json!("j".repeat(257)))).contains("`jti`"));
    let mut missing = claims();
    missing.as_object_mut().expect("an object").remove("htu");
    assert!(refused(missing).contains("lacks"));
}

#[test]
fn ath_must_hash_the_access_token_presented() {
    let key = ClientKey::eddsa();
    let token = "eyJ.an-access-token.sig";
    fn at<'a>(proof: &'a str, token: &'a str) -> ProofRequest<'a> {
        ProofRequest { proof, method: "GET", url: URL, access_token: Some(token) }
    }
    let good = key.proof(with(claims(), "ath", json!(token_hash(token))));
    assert!(check_proof(&at(&good, token), NOW).is_ok());
    let other = key.proof(with(claims(), "ath", json!(token_hash("another token"))));
    assert!(check_proof(&at(&other, token), NOW).unwrap_err().contains("`ath`"));
    let none = key.proof(claims());
    assert!(check_proof(&at(&none, token), NOW).unwrap_err().contains("`ath`"));
}

#[test]
fn the_header_is_read_strictly() {
    let key = ClientKey::es256();
    let refused = |header: Value| check_proof(&request(&key.proof_with(header, claims())), NOW).unwrap_err();
    assert!(refused(with(key.header(), "typ", json!("JWT"))).contains("`typ`"));
    assert!(refused(with(key.header(), "alg", json!("HS256"))).contains("ES256 or EdDSA"));
    assert!(refused(with(key.header(), "alg", json!("EdDSA"))).contains("`jwk`"), "a P-256 key named as EdDSA");
    assert!(refused(with(key.header(), "crit", json!(["exp"]))).contains("crit"));
    let mut private = key.jwk();
    private["d"] = json!("c2VjcmV0");
    assert!(refused(with(key.header(), "jwk", private)).contains("private"));
    let mut no_key = key.header();
    no_key.as_object_mut().expect("an object").remove("jwk");
    assert!(refused(no_key).contains("header"));
    let mut unsigned = key.proof(claims());
    unsigned.truncate(unsigned.rfind('.').expect("three parts") + 1);
    assert!(check_proof(&request(&unsigned), NOW).unwrap_err().contains("signature"));
    // A proof signed by one key that names another.
    let stranger = ClientKey::es256();
    assert!(refused(with(key.header(), "jwk", stranger.jwk())).contains("signature"));
}

#[test]
fn garbage_is_refused_not_panicked_on() {
    for proof in ["", ".", "a.b.c", "eyJ9.eyJ9.", &"a".repeat(MAX_PROOF_BYTES + 1)] {
        assert!(check_proof(&request(proof), NOW).is_err(), "{proof:.20}");
    }
}
