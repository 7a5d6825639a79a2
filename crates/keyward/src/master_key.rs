//! The master key: 256 bits that derive every server-side key (today: the list-cursor key).

use std::path::Path;

use anyhow::{Context, Result, bail};
use domain::{Entropy, SystemEntropy};
use ring::hmac;

use crate::secret_file;

/// The server's master key. `Debug` does not show it.
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

impl MasterKey {
    /// The master key in `path`, or a freshly generated one (and `true`) if there is none yet. A
    /// new key is not written until [`MasterKey::save`], so that a start-up that fails (a database
    /// set up with another key, say) leaves no stray key file behind.
    pub fn load_or_generate(path: &Path) -> Result<(Self, bool)> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let key = Self::parse(text.trim())
                    .with_context(|| format!("reading the master key from {}", path.display()))?;
                Ok((key, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Self::generate(), true)),
            Err(e) => Err(e).with_context(|| format!("reading the master key from {}", path.display())),
        }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        SystemEntropy::new().fill(&mut key);
        Self(key)
    }

    /// Writes a newly generated key to `path` (mode 0600).
    pub fn save(&self, path: &Path) -> Result<()> {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        secret_file::write(path, format!("{hex}\n").as_bytes())
            .with_context(|| format!("writing a new master key to {}", path.display()))?;
        tracing::info!(path = %path.display(), "generated a new master key");
        Ok(())
    }

    fn parse(hex: &str) -> Result<Self> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("the master key file must hold 64 hexadecimal digits (256 bits)");
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).context("invalid hex digit")?;
        }
        Ok(Self(key))
    }

    /// A key for one purpose, derived with HMAC-SHA-256 so that purposes never share a key.
    pub fn derive(&self, purpose: &str) -> Vec<u8> {
        self.derive_key(purpose).to_vec()
    }

    /// The same, as a 256-bit key.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let mut out = [0u8; 32];
        out.copy_from_slice(&hmac::sign(&key, purpose.as_bytes()).as_ref()[..32]);
        out
    }
}
