//! `cargo xtask fuzz [CASES]`: the property tests of every parser a stranger reaches, with a
//! million inputs each (or CASES), in release mode. `cargo test` runs the same tests with
//! proptest's default count, so CI keeps them honest on every change.

use anyhow::{Context, Result};

use crate::{cargo, exec};

/// Runs the parser property tests with `cases` inputs each.
pub fn run(args: &[&str]) -> Result<()> {
    let cases: u64 = match args.first() {
        Some(n) => n.parse().context("CASES must be a whole number")?,
        None => 1_000_000,
    };
    eprintln!("fuzzing every parser with {cases} inputs each");
    exec(
        cargo()
            .args([
                "test",
                "--release",
                "--package",
                "domain",
                "--package",
                "api",
                "--test",
                "parsers",
                "--",
                "--test-threads",
                "2",
            ])
            .env("PROPTEST_CASES", cases.to_string()),
    )
}
