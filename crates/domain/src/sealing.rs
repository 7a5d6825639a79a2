//! Encryption at rest: AES-256-GCM (ring) under a key derived from the server's master key, with
//! the context (such as the row a secret belongs to) bound as associated data, so that a sealed
//! value moved to another row, or tampered with, fails to open.

use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::Entropy;

/// A sealed value could not be opened: wrong key, wrong context, or tampered bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a sealed value could not be opened: wrong master key, or the stored bytes were changed")]
pub struct Unsealable;

/// Seals and opens values with one AES-256-GCM key. `Debug` does not show the key.
pub struct Sealer {
    key: LessSafeKey,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([REDACTED])")
    }
}

impl Sealer {
    /// The context of the value that proves the master key is the one the data was sealed with.
    pub const CHECK_CONTEXT: &'static [u8] = b"keyward master key check v1";

    /// A sealer keyed with 32 bytes.
    pub fn new(key: &[u8; 32]) -> Self {
        // AES-256 takes exactly 32 bytes, which the type guarantees, so this cannot fail.
        #[allow(clippy::expect_used)]
        let unbound = UnboundKey::new(&AES_256_GCM, key).expect("AES-256 accepts a 32-byte key");
        Self { key: LessSafeKey::new(unbound) }
    }

    /// A sealer with a fresh random key, for tests and throwaway instances.
    pub fn random(entropy: &dyn Entropy) -> Self {
        let mut key = [0u8; 32];
        entropy.fill(&mut key);
        Self::new(&key)
    }

    /// Encrypts `plaintext` bound to `context`: a random 96-bit nonce, then ciphertext and tag.
    pub fn seal(&self, plaintext: &[u8], context: &[u8], entropy: &dyn Entropy) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        entropy.fill(&mut nonce);
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        // Sealing fails only for inputs of gigabytes, which never reach here.
        #[allow(clippy::expect_used)]
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut body)
            .expect("AES-GCM seals any input under 64 GiB");
        out.extend_from_slice(&body);
        out
    }

    /// Decrypts a value sealed with [`Sealer::seal`] under the same `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, Unsealable> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(Unsealable);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unsealable)?;
        let mut body = body.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(context), &mut body).map_err(|_| Unsealable)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeededEntropy;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_context() {
        let e = SeededEntropy::new(5);
        let sealer = Sealer::random(&e);
        let sealed = sealer.seal(b"top secret", b"row-1", &e);
        assert!(!sealed.windows(10).any(|w| w == b"top secret"));
        assert_eq!(sealer.open(&sealed, b"row-1").unwrap(), b"top secret");
        assert_eq!(sealer.open(&sealed, b"row-2"), Err(Unsealable), "moved to another row");
        assert_eq!(Sealer::random(&e).open(&sealed, b"row-1"), Err(Unsealable), "another master key");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(sealer.open(&tampered, b"row-1"), Err(Unsealable));
        assert_eq!(sealer.open(&sealed[..10], b"row-1"), Err(Unsealable));
        assert_ne!(sealer.seal(b"x", b"c", &e), sealer.seal(b"x", b"c", &e), "fresh nonce every time");
        assert_eq!(format!("{sealer:?}"), "Sealer([REDACTED])");
    }
}
