//! Keyward's own signing keys: the key pairs that sign the access tokens it issues.
//!
//! Keys move through `next` → `active` → `retiring` → `retired`. Only the active key signs. The
//! JWKS publishes next, active and retiring keys, so a verifier that cached the JWKS knows a key
//! before it signs anything and still knows it while tokens it signed may be alive. Private halves
//! are stored sealed under the master key, so every node signs with the same key.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

use crate::id::SigningKeyId;
use crate::sealing::{Sealer, Unsealable};
use crate::{Entropy, Timestamp};

/// The signature algorithm of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    /// Ed25519 (`EdDSA`), the default.
    EdDsa,
    /// ECDSA P-256 with SHA-256 (`ES256`).
    Es256,
}

impl SigningAlgorithm {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::EdDsa => "EdDSA",
            SigningAlgorithm::Es256 => "ES256",
        }
    }

    /// Parses a JOSE name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "EdDSA" => Some(SigningAlgorithm::EdDsa),
            "ES256" => Some(SigningAlgorithm::Es256),
            _ => None,
        }
    }
}

/// Where a signing key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningKeyState {
    /// Published, not yet signing.
    Next,
    /// Signing.
    Active,
    /// Published, no longer signing.
    Retiring,
    /// Neither published nor signing.
    Retired,
}

impl SigningKeyState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningKeyState::Next => "next",
            SigningKeyState::Active => "active",
            SigningKeyState::Retiring => "retiring",
            SigningKeyState::Retired => "retired",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "next" => Some(SigningKeyState::Next),
            "active" => Some(SigningKeyState::Active),
            "retiring" => Some(SigningKeyState::Retiring),
            "retired" => Some(SigningKeyState::Retired),
            _ => None,
        }
    }

    /// Whether the JWKS publishes keys in this state.
    pub fn published(self) -> bool {
        self != SigningKeyState::Retired
    }
}

/// One signing key.
#[derive(Clone)]
pub struct SigningKey {
    /// Its id, the JWT `kid`.
    pub kid: SigningKeyId,
    /// Its algorithm.
    pub algorithm: SigningAlgorithm,
    /// Where it is in its life.
    pub state: SigningKeyState,
    /// The public key: 32 bytes for Ed25519, a 65-byte uncompressed point for P-256.
    pub public_key: Vec<u8>,
    /// The PKCS#8 private key, sealed under the master key with the kid as context.
    pub sealed_private_key: Vec<u8>,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it started signing.
    pub activated_at: Option<Timestamp>,
    /// When it stopped signing.
    pub deactivated_at: Option<Timestamp>,
    /// When it stopped being published.
    pub retired_at: Option<Timestamp>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The context a signing key's private half is sealed under, so it cannot be moved to another row.
pub fn seal_context(kid: SigningKeyId) -> Vec<u8> {
    format!("keyward signing key v1:{kid}").into_bytes()
}

impl SigningKey {
    /// A new key pair in `state`, its private half sealed.
    pub fn generate(
        algorithm: SigningAlgorithm,
        state: SigningKeyState,
        now: Timestamp,
        sealer: &Sealer,
        entropy: &dyn Entropy,
    ) -> Result<Self, ring::error::Unspecified> {
        let rng = SystemRandom::new();
        let kid = SigningKeyId::generate(now, entropy);
        let (pkcs8, public_key) = match algorithm {
            SigningAlgorithm::EdDsa => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)?;
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| ring::error::Unspecified)?;
                (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
            }
            SigningAlgorithm::Es256 => {
                let alg = &sig::ECDSA_P256_SHA256_FIXED_SIGNING;
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng)?;
                let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).map_err(|_| ring::error::Unspecified)?;
                (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
            }
        };
        Ok(Self {
            kid,
            algorithm,
            state,
            public_key,
            sealed_private_key: sealer.seal(&pkcs8, &seal_context(kid), entropy),
            created_at: now,
            activated_at: (state == SigningKeyState::Active).then_some(now),
            deactivated_at: None,
            retired_at: None,
        })
    }

    /// The PKCS#8 private key.
    pub fn private_key(&self, sealer: &Sealer) -> Result<Vec<u8>, Unsealable> {
        sealer.open(&self.sealed_private_key, &seal_context(self.kid))
    }
}
