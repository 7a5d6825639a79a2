//! Leak reports: what a report is, what it found, and how a secret-scanning partner's signed
//! report (GitHub's format) is checked before any of it is believed.
//!
//! A report is a list of strings someone saw in public. Each one that is a live Keyward key
//! (the checksum holds, the id exists and the secret matches) puts that key in the `leaked`
//! state. Nothing in the answer of the public endpoint says which strings were real.

use std::fmt;
use std::net::IpAddr;

use base64::Engine;
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

/// The most strings one report may hold.
pub const MAX_REPORTED: usize = 1000;

/// Who reported a leak, for the audit trail: the address it came from and where it was seen.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// The address the report came from.
    pub ip: Option<IpAddr>,
    /// Where the report came from, such as `public report` or the URL a scanner found it at.
    pub source: String,
}

/// The longest part of a scanner's URL kept in the audit trail.
const MAX_SOURCE_CHARS: usize = 300;

impl Reporter {
    /// A public report from `ip`.
    pub fn public(ip: Option<IpAddr>) -> Self {
        Self { ip, source: "public report".to_owned() }
    }

    /// A match GitHub's secret scanning found at `url` (in a place of kind `source`, such as
    /// `content`), reported from `ip`; the URL is cut to 300 characters.
    pub fn github(ip: Option<IpAddr>, source: &str, url: &str) -> Self {
        let url: String = url.chars().take(MAX_SOURCE_CHARS).collect();
        let source: String = source.chars().take(MAX_SOURCE_CHARS).collect();
        Self { ip, source: format!("github secret scanning ({source}): {url}") }
    }
}

/// What a report found one string to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A live key, now disabled as leaked.
    Revoked,
    /// A key already in the `leaked` state; nothing changed.
    AlreadyLeaked,
    /// Not a Keyward key: malformed, unknown, or a secret the key does not accept.
    NotOurs,
}

impl Verdict {
    /// Whether the string was a real Keyward secret (a "true positive" to a scanner).
    pub fn is_ours(self) -> bool {
        !matches!(self, Verdict::NotOurs)
    }
}

/// A scanner's public keys could not be had (fetching failed, or none is configured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerKeysUnavailable(pub String);

impl fmt::Display for ScannerKeysUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a secret-scanning partner's public keys come from (GitHub publishes its keys at
/// `/meta/public_keys/secret_scanning`): a port that the `outbound` crate implements over HTTP.
pub trait ScannerKeys: Send + Sync + fmt::Debug {
    /// The public key (DER SubjectPublicKeyInfo of a P-256 key) named `identifier`, or `None` if
    /// there is none. `refresh` asks for a fresh fetch: the identifier was not in the cache.
    fn public_key(&self, identifier: &str, refresh: bool) -> Result<Option<Vec<u8>>, ScannerKeysUnavailable>;
}

/// No scanner keys: every signed report is refused as unverifiable.
#[derive(Debug)]
pub struct NoScannerKeys;

impl ScannerKeys for NoScannerKeys {
    fn public_key(&self, _: &str, _: bool) -> Result<Option<Vec<u8>>, ScannerKeysUnavailable> {
        Err(ScannerKeysUnavailable("no secret-scanning keys are configured".to_owned()))
    }
}

/// Why a signed report was not believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureRefusal {
    /// A header was missing or the signature does not verify: the sender is not the scanner.
    Invalid(&'static str),
    /// The scanner's keys could not be fetched: try again later.
    Unavailable(ScannerKeysUnavailable),
}

/// The DER prefix of a P-256 public key's SubjectPublicKeyInfo; the 65-byte point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Whether `signature_b64` (base64 of an ASN.1 DER ECDSA P-256 SHA-256 signature) signs `body`
/// under the P-256 key `spki` (DER SubjectPublicKeyInfo).
pub fn signed_by(body: &[u8], spki: &[u8], signature_b64: &str) -> bool {
    let Some(point) = spki.strip_prefix(P256_SPKI_PREFIX.as_slice()).filter(|p| p.len() == 65) else {
        return false;
    };
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim()) else {
        return false;
    };
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).verify(body, &signature).is_ok()
}

/// Checks that `body` was signed by the scanner key `identifier`, asking `keys` for it (a second
/// time, fresh, if the cached keys lack it).
pub fn check_signature(
    keys: &dyn ScannerKeys,
    body: &[u8],
    identifier: Option<&str>,
    signature_b64: Option<&str>,
) -> Result<(), SignatureRefusal> {
    let (Some(identifier), Some(signature)) = (identifier, signature_b64) else {
        return Err(SignatureRefusal::Invalid("the key identifier or signature header is missing"));
    };
    let key = match keys.public_key(identifier, false).map_err(SignatureRefusal::Unavailable)? {
        Some(key) => key,
        None => keys
            .public_key(identifier, true)
            .map_err(SignatureRefusal::Unavailable)?
            .ok_or(SignatureRefusal::Invalid("no scanner key has this identifier"))?,
    };
    if signed_by(body, &key, signature) {
        Ok(())
    } else {
        Err(SignatureRefusal::Invalid("the signature does not verify"))
    }
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    use super::*;

    #[derive(Debug)]
    struct OneKey(Vec<u8>);

    impl ScannerKeys for OneKey {
        fn public_key(&self, identifier: &str, _: bool) -> Result<Option<Vec<u8>>, ScannerKeysUnavailable> {
            Ok((identifier == "k1").then(|| self.0.clone()))
        }
    }

    fn signer() -> (EcdsaKeyPair, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("a key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).expect("a key");
        let spki = [P256_SPKI_PREFIX.as_slice(), pair.public_key().as_ref()].concat();
        (pair, spki)
    }

    fn sign(pair: &EcdsaKeyPair, body: &[u8]) -> String {
        let signature = pair.sign(&SystemRandom::new(), body).expect("signed");
        base64::engine::general_purpose::STANDARD.encode(signature.as_ref())
    }

    #[test]
    fn a_report_signed_by_the_named_key_is_believed_and_any_change_is_not() {
        let (pair, spki) = signer();
        let keys = OneKey(spki);
        let body = br#"[{"token":"kw_ak_x","type":"keyward_api_key","url":"https://example.com","source":"content"}]"#;
        let signature = sign(&pair, body);
        assert_eq!(check_signature(&keys, body, Some("k1"), Some(&signature)), Ok(()));
        let mut changed = body.to_vec();
        changed[3] ^= 1;
        assert!(matches!(
            check_signature(&keys, &changed, Some("k1"), Some(&signature)),
            Err(SignatureRefusal::Invalid(_))
        ));
        assert!(matches!(
            check_signature(&keys, body, Some("k2"), Some(&signature)),
            Err(SignatureRefusal::Invalid(_))
        ));
        assert!(matches!(check_signature(&keys, body, Some("k1"), None), Err(SignatureRefusal::Invalid(_))));
        assert!(matches!(
            check_signature(&keys, body, Some("k1"), Some("not base64!")),
            Err(SignatureRefusal::Invalid(_))
        ));
    }

    #[test]
    fn a_key_that_is_not_p256_verifies_nothing() {
        let (pair, spki) = signer();
        let body = b"[]";
        let signature = sign(&pair, body);
        assert!(signed_by(body, &spki, &signature));
        assert!(!signed_by(body, &spki[1..], &signature));
        assert!(!signed_by(body, pair.public_key().as_ref(), &signature));
    }

    #[test]
    fn without_configured_keys_every_report_is_unverifiable() {
        let refused = check_signature(&NoScannerKeys, b"[]", Some("k1"), Some("c2ln"));
        assert!(matches!(refused, Err(SignatureRefusal::Unavailable(_))));
    }
}
