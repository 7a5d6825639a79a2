//! Types that hold secrets or their hashes, and whose `Debug` never shows them.

use std::fmt;

use ring::digest;
use subtle::ConstantTimeEq;

/// A secret string, such as a freshly issued credential. It is shown to its owner once and never
/// printed: `Debug` writes `[REDACTED]` and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        Self(s)
    }

    /// The secret itself; call only to hand it to its owner or to a hash.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([REDACTED])")
    }
}

/// The SHA-256 hash of a credential's secret part, the only form in which an API key secret is
/// stored. Equality is only available through the constant-time [`SecretHash::matches`].
#[derive(Clone)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// The length of a hash in bytes.
    pub const LEN: usize = 32;

    /// Hashes secret bytes.
    pub fn of(secret: &[u8]) -> Self {
        let d = digest::digest(&digest::SHA256, secret);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }

    /// Restores a stored hash; `None` if it has the wrong length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The hash bytes, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares two hashes in time that does not depend on where they differ: as four 64-bit
    /// words, each compared by `subtle` and the verdicts combined without branching (a byte-wise
    /// `ct_eq` puts an optimisation barrier after every one of the 32 bytes).
    pub fn matches(&self, other: &SecretHash) -> bool {
        let word = |bytes: &[u8; 32], i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_ne_bytes(w)
        };
        let same = (0..4).fold(subtle::Choice::from(1), |same, i| same & word(&self.0, i).ct_eq(&word(&other.0, i)));
        same.into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets_and_hashes() {
        let s = SecretString::new("kw_ak_super_secret".to_owned());
        assert!(!format!("{s:?}").contains("super"));
        let h = SecretHash::of(b"abc");
        assert_eq!(format!("{h:?}"), "SecretHash([REDACTED])");
    }

    #[test]
    fn hashes_match_only_their_own_secret() {
        assert!(SecretHash::of(b"abc").matches(&SecretHash::of(b"abc")));
        assert!(!SecretHash::of(b"abc").matches(&SecretHash::of(b"abd")));
    }

    #[test]
    fn a_difference_in_any_byte_is_seen() {
        let h = SecretHash::of(b"abc");
        for i in 0..SecretHash::LEN {
            for bit in [0x01, 0x80] {
                let mut other = *h.as_bytes();
                other[i] ^= bit;
                let other = SecretHash::from_bytes(&other).unwrap();
                assert!(!h.matches(&other), "byte {i}, bit {bit:#x}");
            }
        }
    }
}
