//! The credential string format: `kw_<kind>_<id>_<secret><checksum>`.
//!
//! - `kind` is `ak` (API key) or `sk` (secret key);
//! - `id` is the credential's UUID as 32 lowercase hex digits;
//! - `secret` is 32 bytes (256 bits) from the injected [`Entropy`], as 64 lowercase hex digits;
//! - `checksum` is the CRC-32 of everything before it, as 8 lowercase hex digits.
//!
//! Every credential is therefore exactly 111 characters, URL-safe, and matched by
//! [`Credential::PATTERN`], which secret scanners can use. The checksum lets Keyward reject a
//! mistyped or made-up string without a database query.

use std::fmt;

use uuid::Uuid;

use crate::Entropy;
use crate::secret::{SecretHash, SecretString};

/// What kind of credential a string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// An opaque bearer API key.
    ApiKey,
    /// A symmetric secret key (OAuth 2.0 client secret, HMAC key).
    SecretKey,
}

impl CredentialKind {
    fn tag(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => "ak",
            CredentialKind::SecretKey => "sk",
        }
    }
}

/// Why a string is not a credential. Deliberately says nothing about the string itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a well-formed Keyward credential")]
pub struct MalformedCredential;

/// A parsed credential: its kind, its id and its secret bytes. `Debug` hides the secret.
#[derive(Clone)]
pub struct Credential {
    kind: CredentialKind,
    id: Uuid,
    secret: [u8; Self::SECRET_BYTES],
}

impl Credential {
    /// Bytes of randomness in the secret part.
    pub const SECRET_BYTES: usize = 32;
    /// Length of every credential string.
    pub const LEN: usize = 3 + 3 + 32 + 1 + 64 + 8;
    /// A regular expression matching exactly the credential strings, for secret scanners.
    pub const PATTERN: &'static str = r"\bkw_(ak|sk)_[0-9a-f]{32}_[0-9a-f]{72}\b";

    /// A new credential with a fresh secret for the credential `id`.
    pub fn generate(kind: CredentialKind, id: Uuid, entropy: &dyn Entropy) -> Self {
        let mut secret = [0u8; Self::SECRET_BYTES];
        entropy.fill(&mut secret);
        Self { kind, id, secret }
    }

    /// Rebuilds a credential from its parts, such as a secret key's opened secret.
    pub fn from_parts(kind: CredentialKind, id: Uuid, secret: [u8; Self::SECRET_BYTES]) -> Self {
        Self { kind, id, secret }
    }

    /// The kind of credential.
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// The id of the credential this string belongs to.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The hash under which the secret is stored.
    pub fn secret_hash(&self) -> SecretHash {
        SecretHash::of(&self.secret)
    }

    /// The raw secret bytes, for use as an HMAC key.
    pub fn secret_bytes(&self) -> &[u8; Self::SECRET_BYTES] {
        &self.secret
    }

    /// The full credential string, to be shown once to its owner.
    pub fn reveal(&self) -> SecretString {
        let mut s = String::with_capacity(Self::LEN);
        s.push_str("kw_");
        s.push_str(self.kind.tag());
        s.push('_');
        push_hex(&mut s, self.id.as_bytes());
        s.push('_');
        push_hex(&mut s, &self.secret);
        let crc = crc32fast::hash(s.as_bytes());
        push_hex(&mut s, &crc.to_be_bytes());
        SecretString::new(s)
    }

    /// Parses a credential string and checks its checksum. Does not touch any storage.
    pub fn parse(s: &str) -> Result<Self, MalformedCredential> {
        let b = s.as_bytes();
        if b.len() != Self::LEN || !s.starts_with("kw_") || b[5] != b'_' || b[38] != b'_' {
            return Err(MalformedCredential);
        }
        let kind = match &s[3..5] {
            "ak" => CredentialKind::ApiKey,
            "sk" => CredentialKind::SecretKey,
            _ => return Err(MalformedCredential),
        };
        let mut id = [0u8; 16];
        decode_hex(&b[6..38], &mut id)?;
        let mut secret = [0u8; Self::SECRET_BYTES];
        decode_hex(&b[39..103], &mut secret)?;
        let mut crc = [0u8; 4];
        decode_hex(&b[103..], &mut crc)?;
        if crc32fast::hash(&b[..103]) != u32::from_be_bytes(crc) {
            return Err(MalformedCredential);
        }
        Ok(Self { kind, id: Uuid::from_bytes(id), secret })
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
}

/// The value of each lower-case hex digit, and `NOT_HEX` for every other byte.
const NIBBLES: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 16 {
        table[HEX[i] as usize] = i as u8;
        i += 1;
    }
    table
};
/// A bit no hex digit's value has.
const NOT_HEX: u8 = 0x10;

/// Decodes lower-case hex into `out`, which must be exactly half as long. Every digit is looked up
/// and the verdict taken at the end: two credentials are decoded on every verification.
fn decode_hex(hex: &[u8], out: &mut [u8]) -> Result<(), MalformedCredential> {
    if hex.len() != out.len() * 2 {
        return Err(MalformedCredential);
    }
    let mut seen = 0u8;
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (high, low) = (NIBBLES[usize::from(pair[0])], NIBBLES[usize::from(pair[1])]);
        seen |= high | low;
        *byte = (high << 4) | (low & 0x0f);
    }
    if seen & NOT_HEX == 0 { Ok(()) } else { Err(MalformedCredential) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeededEntropy;
    use proptest::prelude::*;

    fn sample(seed: u64, kind: CredentialKind) -> Credential {
        let e = SeededEntropy::new(seed);
        let mut id = [0u8; 16];
        e.fill(&mut id);
        Credential::generate(kind, Uuid::from_bytes(id), &e)
    }

    #[test]
    fn the_string_has_the_documented_shape() {
        let c = sample(7, CredentialKind::ApiKey);
        let s = c.reveal();
        let s = s.expose();
        assert_eq!(s.len(), Credential::LEN);
        assert!(s.starts_with("kw_ak_"));
        assert!(s[6..].bytes().all(|b| b == b'_' || b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(&s[6..38], c.id().simple().to_string());
        let sk = sample(7, CredentialKind::SecretKey).reveal();
        assert!(sk.expose().starts_with("kw_sk_"));
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let c = sample(1, CredentialKind::ApiKey);
        let token = c.reveal();
        let secret_part = &token.expose()[39..103];
        assert!(!format!("{c:?}").contains(secret_part));
    }

    #[test]
    fn garbage_is_rejected() {
        for s in ["", "kw_ak_", "Bearer x", &"kw_ak_".repeat(20)] {
            assert_eq!(Credential::parse(s).err(), Some(MalformedCredential));
        }
        let good = sample(3, CredentialKind::ApiKey).reveal().expose().to_owned();
        let upper = good.to_uppercase().replacen("KW_AK_", "kw_ak_", 1);
        assert!(Credential::parse(&upper).is_err());
        let other_kind = good.replacen("kw_ak_", "kw_xk_", 1);
        assert!(Credential::parse(&other_kind).is_err());
    }

    #[test]
    fn hex_decoding_takes_lower_case_digits_only() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut hex = String::new();
        push_hex(&mut hex, &bytes);
        let mut back = [0u8; 256];
        assert_eq!(decode_hex(hex.as_bytes(), &mut back), Ok(()));
        assert_eq!(back.to_vec(), bytes);
        for c in 0..=255u8 {
            for at in [0, 1] {
                let mut pair = *b"00";
                pair[at] = c;
                let ok = c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
                assert_eq!(decode_hex(&pair, &mut [0u8; 1]).is_ok(), ok, "byte {c:#04x} at {at}");
            }
        }
        assert!(decode_hex(b"000", &mut [0u8; 1]).is_err(), "the length must fit");
    }

    proptest! {
        #[test]
        fn every_generated_credential_parses_back(seed in any::<u64>(), sk in any::<bool>()) {
            let kind = if sk { CredentialKind::SecretKey } else { CredentialKind::ApiKey };
            let c = sample(seed, kind);
            let parsed = Credential::parse(c.reveal().expose()).unwrap();
            prop_assert_eq!(parsed.kind(), kind);
            prop_assert_eq!(parsed.id(), c.id());
            prop_assert!(parsed.secret_hash().matches(&c.secret_hash()));
        }

        #[test]
        fn any_one_character_change_is_rejected(
            seed in any::<u64>(),
            pos in 0usize..Credential::LEN,
            replacement in proptest::char::range('!', '~'),
        ) {
            let token = sample(seed, CredentialKind::ApiKey).reveal().expose().to_owned();
            let mut chars: Vec<char> = token.chars().collect();
            prop_assume!(chars[pos] != replacement);
            chars[pos] = replacement;
            let changed: String = chars.into_iter().collect();
            prop_assert!(Credential::parse(&changed).is_err());
        }
    }
}
