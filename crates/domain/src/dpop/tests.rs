//! Proofs made here with ring, as a client would, checked against every rule of RFC 9449 §4.3.

use serde_json::{Value, json};

use super::testing::ProofKey;
use super::*;

const NOW: i64 = 1_800_000_000;
const URL: &str = "https://keyward.example/v1/accounts";

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
    for key in [ProofKey::es256(), ProofKey::eddsa()] {
        let proof = key.proof_with(&key.header(), &claims());
        let checked = check_proof(&request(&proof), NOW).expect("the proof holds");
        assert_eq!(checked.jti, "e1j3V_bKic8-LAEB");
        assert_eq!(checked.iat, NOW);
        assert_eq!(checked.thumbprint.as_str(), key.thumbprint(), "RFC 7638, worked out another way");
        // The same key gives the same thumbprint; another key another.
        let again = check_proof(&request(&key.proof_with(&key.header(), &claims())), NOW).expect("holds");
        assert_eq!(again.thumbprint, checked.thumbprint);
        let other = {
            let other = ProofKey::es256();
            other.proof_with(&other.header(), &claims())
        };
        assert_ne!(check_proof(&request(&other), NOW).expect("holds").thumbprint, checked.thumbprint);
    }
}

#[test]
fn ed25519_may_be_named_as_rfc_9864_does() {
    let key = ProofKey::eddsa();
    let proof = key.proof_with(&with(key.header(), "alg", json!("Ed25519")), &claims());
    let named = check_proof(&request(&proof), NOW).expect("the fully specified name holds");
    let classic = check_proof(&request(&key.proof_with(&key.header(), &claims())), NOW).expect("holds");
    assert_eq!(named.thumbprint, classic.thumbprint);
}

#[test]
fn the_thumbprint_is_rfc_7638s() {
    // RFC 7638 §3.1 hashes the required members in order with no whitespace; this is the P-256
    // key of RFC 9449 §4.1's example, whose thumbprint RFC 9449 §6.1 gives.
    let key = HeaderJwk {
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
    let key = ProofKey::eddsa();
    for htu in [
        "https://keyward.example/v1/accounts?page=2",
        "HTTPS://Keyward.Example:443/v1/accounts#top",
        "https://keyward.example/v1/accounts",
    ] {
        let proof = key.proof_with(&key.header(), &with(claims(), "htu", json!(htu)));
        assert!(check_proof(&request(&proof), NOW).is_ok(), "{htu}");
    }
    for htu in ["https://keyward.example/v1/Accounts", "http://keyward.example/v1/accounts", "not a url"] {
        let proof = key.proof_with(&key.header(), &with(claims(), "htu", json!(htu)));
        assert_eq!(check_proof(&request(&proof), NOW), Err("the DPoP proof's `htu` is not this request's URL"));
    }
}

#[test]
fn each_claim_is_checked() {
    let key = ProofKey::es256();
    let refused = |claims: Value| check_proof(&request(&key.proof_with(&key.header(), &claims)), NOW).unwrap_err();
    assert!(refused(with(claims(), "htm", json!("POST"))).contains("`htm`"));
    assert!(refused(with(claims(), "iat", json!(NOW - MAX_PROOF_AGE_SECONDS - 1))).contains("`iat`"));
    assert!(refused(with(claims(), "iat", json!(NOW + MAX_PROOF_SKEW_SECONDS + 1))).contains("`iat`"));
    assert!(
        check_proof(&request(&key.proof_with(&key.header(), &with(claims(), "iat", json!(NOW - 299)))), NOW).is_ok()
    );
    assert!(refused(with(claims(), "jti", json!(""))).contains("`jti`"));
    assert!(refused(with(claims(), "jti", json!("j".repeat(257)))).contains("`jti`"));
    let mut missing = claims();
    missing.as_object_mut().expect("an object").remove("htu");
    assert!(refused(missing).contains("lacks"));
}

#[test]
fn ath_must_hash_the_access_token_presented() {
    let key = ProofKey::eddsa();
    let token = "eyJ.an-access-token.sig";
    fn at<'a>(proof: &'a str, token: &'a str) -> ProofRequest<'a> {
        ProofRequest { proof, method: "GET", url: URL, access_token: Some(token) }
    }
    let good = key.proof_with(&key.header(), &with(claims(), "ath", json!(token_hash(token))));
    assert!(check_proof(&at(&good, token), NOW).is_ok());
    let other = key.proof_with(&key.header(), &with(claims(), "ath", json!(token_hash("another token"))));
    assert!(check_proof(&at(&other, token), NOW).unwrap_err().contains("`ath`"));
    let none = key.proof_with(&key.header(), &claims());
    assert!(check_proof(&at(&none, token), NOW).unwrap_err().contains("`ath`"));
}

#[test]
fn the_header_is_read_strictly() {
    let key = ProofKey::es256();
    let refused = |header: Value| check_proof(&request(&key.proof_with(&header, &claims())), NOW).unwrap_err();
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
    let mut unsigned = key.proof_with(&key.header(), &claims());
    unsigned.truncate(unsigned.rfind('.').expect("three parts") + 1);
    assert!(check_proof(&request(&unsigned), NOW).unwrap_err().contains("signature"));
    // A proof signed by one key that names another.
    let stranger = ProofKey::es256();
    assert!(refused(with(key.header(), "jwk", stranger.jwk())).contains("signature"));
}

#[test]
fn garbage_is_refused_not_panicked_on() {
    for proof in ["", ".", "a.b.c", "eyJ9.eyJ9.", &"a".repeat(MAX_PROOF_BYTES + 1)] {
        assert!(check_proof(&request(proof), NOW).is_err(), "{proof:.20}");
    }
}
