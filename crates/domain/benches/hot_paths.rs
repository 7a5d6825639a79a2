//! The functions on every request's path: parsing a credential, hashing and comparing its secret,
//! checking scopes, noting a key's use, and signing JWTs. Run with `cargo bench -p domain` (or `cargo xtask bench`).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use domain::credential::{Credential, CredentialKind};
use domain::jwt::provider;
use domain::scope::Scopes;
use domain::secret::SecretHash;
use domain::{Clock, Entropy, SystemEntropy};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use serde_json::json;

fn credentials(c: &mut Criterion) {
    let entropy = SystemEntropy::new();
    let mut id = [0u8; 16];
    entropy.fill(&mut id);
    let credential = Credential::generate(CredentialKind::ApiKey, uuid::Uuid::from_bytes(id), &entropy);
    let token = credential.reveal().expose().to_owned();
    let stored = credential.secret_hash();
    c.bench_function("parse + checksum", |b| b.iter(|| Credential::parse(black_box(&token)).unwrap()));
    c.bench_function("hash + constant-time compare", |b| {
        b.iter(|| {
            let parsed = Credential::parse(black_box(&token)).unwrap();
            assert!(stored.matches(&parsed.secret_hash()));
        })
    });
    c.bench_function("sha-256 of a 32-byte secret", |b| b.iter(|| SecretHash::of(black_box(&id))));
}

fn scopes(c: &mut Criterion) {
    let granted =
        Scopes::parse(&["metrics:*", "logs:read", "api-keys:verify", "audit:read", "traces:write"], "s").unwrap();
    let requested = Scopes::parse(&["metrics:write", "logs:read"], "s").unwrap();
    c.bench_function("scope check (5 granted, 2 requested)", |b| {
        b.iter(|| black_box(&granted).covers_all(black_box(&requested)))
    });
}

fn usage(c: &mut Criterion) {
    let buffer = domain::usage::UsageBuffer::default();
    let now = domain::SystemClock.now();
    let keys: Vec<_> = (0..100).map(|_| domain::id::ApiKeyId::generate(now, &SystemEntropy::new())).collect();
    let mut i = 0usize;
    c.bench_function("note a use (latest + hourly count, 100 keys)", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let usage = domain::usage::Usage { at: now, ip: Some(std::net::IpAddr::from([10, 0, 0, 1])) };
            buffer.record(black_box(keys[i % keys.len()]), usage);
        })
    });
}

fn jwts(c: &mut Criterion) {
    provider::install();
    let claims = json!({"iss": "http://127.0.0.1:8080", "sub": "0190f1c2-7a3b-7c4d-8e5f-0123456789ab", "aud": "keyward",
                        "exp": 1_900_000_000, "iat": 1_800_000_000, "scope": "service-accounts:read"});
    let hs = EncodingKey::from_secret(b"kw_sk_0190f1c27a3b7c4d8e5f0123456789ab_0000");
    c.bench_function("jwt sign HS256", |b| {
        b.iter(|| jsonwebtoken::encode(&Header::new(Algorithm::HS256), black_box(&claims), &hs).unwrap())
    });
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let ed = EncodingKey::from_ed_der(pkcs8.as_ref());
    c.bench_function("jwt sign EdDSA", |b| {
        b.iter(|| jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), black_box(&claims), &ed).unwrap())
    });
}

criterion_group!(benches, credentials, scopes, usage, jwts);
criterion_main!(benches);
