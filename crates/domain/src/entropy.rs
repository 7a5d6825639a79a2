//! The source of randomness for ids and secrets, injected so that tests can be deterministic.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};

use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

/// Fills buffers with random bytes.
pub trait Entropy: Send + Sync + Debug {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);
}

/// The operating system's CSPRNG, through ring's `SystemRandom`.
#[derive(Debug)]
pub struct SystemEntropy(SystemRandom);

impl SystemEntropy {
    /// The system random source.
    pub fn new() -> Self {
        Self(SystemRandom::new())
    }
}

impl Default for SystemEntropy {
    fn default() -> Self {
        Self::new()
    }
}

impl Entropy for SystemEntropy {
    fn fill(&self, dest: &mut [u8]) {
        // ring only fails here when the operating system has no entropy source at all, in which
        // case no credential could ever be issued safely; refusing to continue is the only option.
        #[allow(clippy::expect_used)]
        self.0.fill(dest).expect("the operating system's random source failed");
    }
}

/// A deterministic stream (SHA-256 of a seed and a counter), for tests only: never for secrets.
#[derive(Debug)]
pub struct SeededEntropy {
    seed: u64,
    counter: AtomicU64,
}

impl SeededEntropy {
    /// A stream determined entirely by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, counter: AtomicU64::new(0) }
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(32) {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let mut input = [0u8; 16];
            input[..8].copy_from_slice(&self.seed.to_le_bytes());
            input[8..].copy_from_slice(&n.to_le_bytes());
            let block = digest::digest(&digest::SHA256, &input);
            chunk.copy_from_slice(&block.as_ref()[..chunk.len()]);
        }
    }
}
