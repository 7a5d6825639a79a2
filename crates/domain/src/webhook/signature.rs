//! The Standard Webhooks signature (<https://www.standardwebhooks.com>): HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}` with the endpoint's secret, sent as
//! `webhook-signature: v1,<base64>`. The secret is shown to its owner once, as `whsec_<base64>`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

use crate::Entropy;
use crate::id::WebhookId;
use crate::secret::SecretString;

/// A webhook's signing secret. `Debug` shows nothing.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([REDACTED])")
    }
}

impl SigningSecret {
    /// The bytes of a new secret.
    const BYTES: usize = 32;

    /// A new random secret.
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let mut bytes = vec![0u8; Self::BYTES];
        entropy.fill(&mut bytes);
        Self(bytes)
    }

    /// A secret from its bytes (as opened from storage).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Its bytes, to be sealed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The form its owner is shown once and gives to a Standard Webhooks library: `whsec_<base64>`.
    pub fn reveal(&self) -> SecretString {
        SecretString::new(format!("whsec_{}", STANDARD.encode(&self.0)))
    }

    /// The associated data the secret of webhook `id` is sealed with.
    pub fn seal_context(id: WebhookId) -> Vec<u8> {
        format!("keyward webhook secret v1:{id}").into_bytes()
    }
}

/// The `webhook-signature` header of a delivery: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under `secret`.
pub fn sign(secret: &SigningSecret, id: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &secret.0);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(ctx.sign()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_example_signs_alike() {
        // The example of the Standard Webhooks specification and its reference libraries.
        let secret = SigningSecret(STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("base64"));
        let signature = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, r#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn the_secret_shows_only_where_it_is_meant_to() {
        let secret = SigningSecret(vec![1, 2, 3]);
        assert_eq!(format!("{secret:?}"), "SigningSecret([REDACTED])");
        assert_eq!(secret.reveal().expose(), "whsec_AQID");
    }
}
