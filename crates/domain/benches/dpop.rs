//! The work a DPoP-bound request adds: checking its proof (header, signature, claims, `ath`),
//! next to the baseline every access-token request pays, the token's own signature check. Run
//! with `cargo bench -p domain --features test-support --bench dpop` (part of `cargo xtask bench`).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use domain::dpop::testing::ProofKey;
use domain::dpop::{ProofRequest, check_proof};
use domain::jwt::provider;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::json;

const NOW: i64 = 1_800_000_000;
const URL: &str = "https://keyward.example/v1/accounts";

fn proofs(c: &mut Criterion) {
    provider::install();
    // The baseline: an EdDSA access token's signature and claims checked, as every request with
    // an access token has them checked.
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let claims = json!({"iss": "https://keyward.example", "sub": "0190f1c2-7a3b-7c4d-8e5f-0123456789ab",
                        "aud": "keyward", "exp": NOW + 3600, "iat": NOW, "nbf": NOW, "jti": "j",
                        "scope": "service-accounts:read", "client_id": "c", "acct": "a"});
    let token =
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &EncodingKey::from_ed_der(pkcs8.as_ref()))
            .unwrap();
    let public = DecodingKey::from_ed_der(pair.public_key().as_ref());
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.set_audience(&["keyward"]);
    c.bench_function("access token check (EdDSA signature + claims)", |b| {
        b.iter(|| jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &public, &validation).unwrap())
    });
    for (name, key) in [("ES256", ProofKey::es256()), ("EdDSA", ProofKey::eddsa())] {
        let proof = key.proof("GET", URL, NOW, Some(&token), None);
        let request = ProofRequest { proof: &proof, method: "GET", url: URL, access_token: Some(&token) };
        c.bench_function(&format!("DPoP proof check ({name})"), |b| {
            b.iter(|| check_proof(black_box(&request), NOW).unwrap())
        });
    }
}

criterion_group!(benches, proofs);
criterion_main!(benches);
