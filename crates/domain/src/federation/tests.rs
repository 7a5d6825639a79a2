//! Trust policies and presented tokens, with real signatures: the platforms' token shapes, and each
//! attack the exchange must refuse.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{Duration, TimeZone, Utc};
use jsonwebtoken::jwk::JwkSet;
use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{Map, Value, json};

use super::*;

#[path = "test_rsa_key.rs"]
mod test_rsa_key;

const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
}

fn issuer(s: &str) -> Issuer {
    Issuer::parse(s, "issuer").unwrap()
}

fn policy(iss: &str, subject: Option<&str>, claims: &[(&str, &str)]) -> Result<TrustPolicy, ValidationError> {
    let claims: BTreeMap<String, String> = claims.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    TrustPolicy::new(issuer(iss), vec!["https://keyward.example".to_owned()], subject.map(str::to_owned), claims)
}

/// The claims of a GitHub Actions job's token, as GitHub documents them.
fn github_claims() -> Map<String, Value> {
    let at = now().timestamp();
    let claims = json!({
        "iss": GITHUB, "aud": "https://keyward.example",
        "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
        "repository": "octo-org/octo-repo", "repository_owner": "octo-org", "repository_owner_id": "65",
        "ref": "refs/heads/main", "environment": "prod", "jti": "example-id",
        "iat": at - 10, "nbf": at - 10, "exp": at + 290,
    });
    claims.as_object().cloned().unwrap()
}

fn failed(checks: &[Check]) -> Vec<&str> {
    checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect()
}

#[test]
fn a_policy_must_say_which_tokens_it_trusts() {
    let e = policy("https://issuer.example", None, &[]).unwrap_err();
    assert_eq!(e.field, "subject");
    let no_audience = TrustPolicy::new(issuer("https://issuer.example"), vec![], Some("x".into()), BTreeMap::new());
    assert_eq!(no_audience.unwrap_err().field, "audiences");
    let reserved = policy("https://issuer.example", None, &[("aud", "x")]).unwrap_err();
    assert_eq!(reserved.field, "claims.aud");
    assert!(policy("https://issuer.example", Some("system:serviceaccount:ci:deployer"), &[]).is_ok());
}

#[test]
fn a_shared_platform_needs_its_owner_bound_exactly() {
    let e = policy(GITHUB, Some("repo:octo-org/octo-repo:ref:refs/heads/main"), &[]).unwrap_err();
    assert_eq!(e.field, "claims");
    assert!(e.message.contains("repository_owner"), "{e}");
    let glob = policy(GITHUB, None, &[("repository_owner", "octo-*")]).unwrap_err();
    assert_eq!(glob.field, "claims", "a glob on the owner does not bind it");
    assert!(policy(GITHUB, None, &[("repository_owner", "octo-org"), ("ref", "refs/heads/*")]).is_ok());
    assert!(policy(GITHUB, None, &[("repository_owner_id", "65")]).is_ok());
    let gitlab = policy("https://gitlab.com", None, &[("project_path", "group/*")]).unwrap_err();
    assert!(gitlab.message.contains("namespace_path"), "{gitlab}");
}

#[test]
fn a_github_job_token_passes_every_check() {
    let p = policy(
        GITHUB,
        None,
        &[("repository_owner", "octo-org"), ("repository", "octo-org/*"), ("ref", "refs/heads/main")],
    )
    .unwrap();
    let checks = p.check_claims(&github_claims(), now());
    assert_eq!(failed(&checks), Vec::<&str>::new());
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["issuer", "expiry", "not_before", "audience", "claims.ref", "claims.repository", "claims.repository_owner"]
    );
}

#[test]
fn each_claim_attack_fails_its_own_check() {
    let p = policy(
        GITHUB,
        Some("repo:octo-org/octo-repo:ref:refs/heads/main"),
        &[("repository_owner", "octo-org"), ("repository", "octo-org/*")],
    )
    .unwrap();
    let at = now().timestamp();
    let cases: [(&str, Value, &str); 8] = [
        ("iss", json!("https://evil.example"), "issuer"),
        ("exp", json!(at - 61), "expiry"),
        ("exp", json!("tomorrow"), "expiry"),
        ("nbf", json!(at + 120), "not_before"),
        ("aud", json!(["https://other.example"]), "audience"),
        ("sub", json!("repo:octo-org/octo-repo:ref:refs/heads/evil"), "subject"),
        ("repository", json!("octo-org-evil/octo-repo"), "claims.repository"),
        ("repository_owner", json!("OCTO-ORG"), "claims.repository_owner"),
    ];
    for (claim, value, check) in cases {
        let mut claims = github_claims();
        claims.insert(claim.to_owned(), value);
        assert_eq!(failed(&p.check_claims(&claims, now())), [check], "{claim}");
    }
    let mut missing = github_claims();
    missing.remove("repository_owner");
    assert_eq!(failed(&p.check_claims(&missing, now())), ["claims.repository_owner"]);
    let mut many = github_claims();
    many.insert("aud".to_owned(), json!(["a", "https://keyward.example"]));
    assert_eq!(failed(&p.check_claims(&many, now())), Vec::<&str>::new(), "one accepted audience among several");
}

#[test]
fn a_kubernetes_token_is_matched_through_its_nested_claims() {
    let p = policy(
        "https://cluster.example",
        Some("system:serviceaccount:ci:deployer"),
        &[("kubernetes.io/namespace", "ci"), ("kubernetes.io/serviceaccount/name", "deploy*")],
    )
    .unwrap();
    let at = now().timestamp();
    let claims = |namespace: &str| {
        json!({
            "iss": "https://cluster.example", "aud": ["https://keyward.example"],
            "sub": "system:serviceaccount:ci:deployer", "iat": at, "exp": at + 600,
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": "deployer", "uid": "u-1"}},
        })
        .as_object()
        .cloned()
        .unwrap()
    };
    assert_eq!(failed(&p.check_claims(&claims("ci"), now())), Vec::<&str>::new());
    assert_eq!(failed(&p.check_claims(&claims("prod"), now())), ["claims.kubernetes.io/namespace"]);
}

#[test]
fn a_minted_token_lives_no_longer_than_anything_allows() {
    let credential = |max| FederatedCredential {
        id: crate::id::FederatedCredentialId::from_uuid(uuid::Uuid::nil()),
        account_id: crate::id::AccountId::from_uuid(uuid::Uuid::nil()),
        service_account_id: crate::id::ServiceAccountId::from_uuid(uuid::Uuid::nil()),
        name: Name::parse("ci", "name").unwrap(),
        policy: policy("https://issuer.example", Some("x"), &[]).unwrap(),
        scopes: Scopes::default(),
        max_ttl_seconds: max,
        active: true,
        refuse_replay: false,
        created_at: now(),
        updated_at: now(),
    };
    let hour = Duration::hours(1);
    assert_eq!(credential(600).lifetime(hour, now() + Duration::minutes(30), now()), Some(600));
    assert_eq!(credential(7200).lifetime(hour, now() + Duration::hours(5), now()), Some(3600));
    assert_eq!(credential(7200).lifetime(hour, now() + Duration::seconds(90), now()), Some(90));
    assert_eq!(credential(7200).lifetime(hour, now(), now()), None);
    assert_eq!(parse_max_ttl(None), Ok(3600));
    assert_eq!(parse_max_ttl(Some(0)).unwrap_err().field, "max_ttl_seconds");
}

// Signatures, with keys made here (RSA from a fixture: ring cannot generate RSA keys).

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn signing_input(header: &Value, claims: &Map<String, Value>) -> String {
    format!("{}.{}", b64(header.to_string().as_bytes()), b64(Value::Object(claims.clone()).to_string().as_bytes()))
}

/// Signs a JWT's signing input.
type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;

struct Signer {
    jwk: Value,
    sign: Sign,
    alg: &'static str,
}

fn es256(kid: &str) -> Signer {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwk =
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "x": b64(&point[1..33]), "y": b64(&point[33..])});
    Signer { jwk, alg: "ES256", sign: Box::new(move |m| pair.sign(&SystemRandom::new(), m).unwrap().as_ref().to_vec()) }
}

fn rs256(kid: &str) -> Signer {
    let der = STANDARD.decode(test_rsa_key::PKCS1_BASE64).unwrap();
    let pair = RsaKeyPair::from_der(&der).unwrap();
    let jwk = json!({"kty": "RSA", "kid": kid, "alg": "RS256", "n": test_rsa_key::N, "e": test_rsa_key::E});
    let sign = move |m: &[u8]| {
        let mut out = vec![0; pair.public().modulus_len()];
        pair.sign(&sig::RSA_PKCS1_SHA256, &SystemRandom::new(), m, &mut out).unwrap();
        out
    };
    Signer { jwk, alg: "RS256", sign: Box::new(sign) }
}

fn eddsa(kid: &str) -> Signer {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(pair.public_key().as_ref())});
    Signer { jwk, alg: "EdDSA", sign: Box::new(move |m| pair.sign(m).as_ref().to_vec()) }
}

impl Signer {
    fn token(&self, claims: &Map<String, Value>) -> String {
        let header = json!({"alg": self.alg, "typ": "JWT", "kid": self.jwk["kid"]});
        let input = signing_input(&header, claims);
        format!("{input}.{}", b64(&(self.sign)(input.as_bytes())))
    }

    fn jwks(&self) -> JwkSet {
        serde_json::from_value(json!({"keys": [self.jwk]})).unwrap()
    }
}

#[test]
fn tokens_signed_by_the_issuers_keys_pass() {
    for signer in [rs256("rsa-1"), es256("ec-1"), eddsa("ed-1")] {
        let token = signer.token(&github_claims());
        let presented = PresentedToken::read(&token).unwrap();
        assert_eq!(presented.issuer(), Some(GITHUB));
        assert!(presented.names_a_key_in(&signer.jwks()), "{}", signer.alg);
        assert!(presented.check_signature(&signer.jwks()).passed, "{}", signer.alg);
    }
}

#[test]
fn forged_tokens_fail_the_signature_check() {
    let signer = es256("ec-1");
    let jwks = signer.jwks();

    let token = signer.token(&github_claims());
    let shown = format!("{:?}", PresentedToken::read(&token).unwrap());
    assert!(
        !shown.contains(token.rsplit('.').next().unwrap()) && shown.contains(GITHUB),
        "Debug hides the token: {shown}"
    );
    let mut claims = github_claims();
    claims.insert("repository_owner".to_owned(), json!("evil"));
    let forged = format!(
        "{}.{}",
        signing_input(&json!({"alg": "ES256", "kid": "ec-1"}), &claims),
        token.rsplit('.').next().unwrap()
    );
    assert!(!PresentedToken::read(&forged).unwrap().check_signature(&jwks).passed, "changed claims");

    let other = es256("ec-2").token(&github_claims());
    let presented = PresentedToken::read(&other).unwrap();
    assert!(!presented.names_a_key_in(&jwks), "a kid the JWKS lacks");
    assert!(!presented.check_signature(&jwks).passed);

    // HS256 "signed" with the issuer's public key, which anyone can fetch.
    let public = serde_json::to_vec(&signer.jwk).unwrap();
    let input = signing_input(&json!({"alg": "HS256", "kid": "ec-1"}), &github_claims());
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public), input.as_bytes());
    let hs = format!("{input}.{}", b64(tag.as_ref()));
    assert!(!PresentedToken::read(&hs).unwrap().check_signature(&jwks).passed, "HS256 with a public key");

    let none = format!("{}.", signing_input(&json!({"alg": "none"}), &github_claims()));
    assert!(PresentedToken::read(&none).is_err(), "alg none is not even read");

    // A key whose JWK states another algorithm than the token's header.
    let rsa = rs256("k");
    let mut mislabelled = rsa.jwk.clone();
    mislabelled["alg"] = json!("RS512");
    let jwks: JwkSet = serde_json::from_value(json!({"keys": [mislabelled]})).unwrap();
    assert!(!PresentedToken::read(&rsa.token(&github_claims())).unwrap().check_signature(&jwks).passed);

    assert!(PresentedToken::read("not a token").is_err());
    assert!(PresentedToken::read(&"a".repeat(20_000)).is_err(), "too long");
}
