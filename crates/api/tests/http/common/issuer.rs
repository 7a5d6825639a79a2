//! A stand-in for a platform's OIDC issuer (GitHub Actions, a Kubernetes cluster) on loopback:
//! it serves its discovery document and JWKS, and signs tokens with its P-256 key (ES256).

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// A running test issuer.
pub struct TestIssuer {
    /// Its URL, the `iss` of its tokens.
    pub url: String,
    pair: EcdsaKeyPair,
    kid: String,
}

impl TestIssuer {
    /// Starts an issuer on a free loopback port, publishing one key.
    pub async fn start() -> Self {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let kid = "test-key-1".to_owned();
        let jwk = json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                         "x": b64(&point[1..33]), "y": b64(&point[33..])});
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/keys")}).to_string();
        let jwks = json!({"keys": [jwk]}).to_string();
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(move || async move { discovery }))
            .route("/keys", get(move || async move { jwks }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, pair, kid }
    }

    /// A token with `claims`, signed by the published key.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// A token signed by the issuer's key but naming the key `kid` (which it may not publish).
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid});
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let signature = self.pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }

    /// The claims of a GitHub Actions job's token from this issuer, for `audience`, issued at
    /// `now` (Unix seconds) and valid five minutes.
    pub fn github_claims(&self, audience: &str, now: i64) -> Value {
        json!({
            "iss": self.url, "aud": audience, "jti": format!("jti-{now}-{}", rand_suffix()),
            "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
            "repository": "octo-org/octo-repo", "repository_owner": "octo-org", "ref": "refs/heads/main",
            "iat": now, "nbf": now, "exp": now + 300,
        })
    }
}

fn rand_suffix() -> u64 {
    let mut bytes = [0u8; 8];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut bytes).unwrap();
    u64::from_le_bytes(bytes)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
