//! A stand-in OIDC issuer for the token-exchange benchmark: it serves its discovery document and
//! JWKS on a loopback port and signs one long-lived ES256 token, which the benchmark exchanges
//! over and over (its federated credential does not refuse replays, so the JWKS stays cached).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, KeyPair};

/// A running issuer, serving until the process ends.
pub struct BenchIssuer {
    /// Its URL: the `iss` of its token.
    pub url: String,
    pair: EcdsaKeyPair,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl BenchIssuer {
    /// Starts the issuer on a free loopback port.
    pub fn start() -> Result<Self> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("making a P-256 key failed"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng)
            .map_err(|_| anyhow::anyhow!("reading the P-256 key failed"))?;
        let point = pair.public_key().as_ref();
        let jwks = format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"bench","alg":"ES256","x":"{}","y":"{}"}}]}}"#,
            b64(&point[1..33]),
            b64(&point[33..])
        );
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the stand-in issuer")?;
        let url = format!("http://{}", listener.local_addr()?);
        let discovery = format!(r#"{{"issuer":"{url}","jwks_uri":"{url}/jwks"}}"#);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let body = if line.contains(" /jwks ") { &jwks } else { &discovery };
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let _ = write!(
                    reader.into_inner(),
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: max-age=3600\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Ok(Self { url, pair })
    }

    /// A token for `audience` with subject `sub`, valid for two hours from now.
    pub fn token(&self, audience: &str, sub: &str) -> Result<String> {
        let now = chrono::Utc::now().timestamp();
        let header = r#"{"alg":"ES256","typ":"JWT","kid":"bench"}"#;
        let claims = format!(
            r#"{{"iss":"{}","aud":"{audience}","sub":"{sub}","iat":{now},"nbf":{now},"exp":{}}}"#,
            self.url,
            now + 7200
        );
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| anyhow::anyhow!("signing the token failed"))?;
        Ok(format!("{input}.{}", b64(signature.as_ref())))
    }
}
