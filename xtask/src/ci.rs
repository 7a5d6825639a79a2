//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};

use crate::{cargo, exec, layering, root, test};

/// Crates the domain crate must never depend on: it stays free of I/O.
const FORBIDDEN_IN_DOMAIN: &[&str] =
    &["tokio", "axum", "hyper", "diesel", "diesel_migrations", "tower", "reqwest", "libsqlite3-sys", "pq-sys"];

/// Runs `lint`, then every test.
pub fn run() -> Result<()> {
    lint()?;
    test::run_tests(&[])
}

/// Checks formatting, lints, that the domain stays pure, the layering rules (`layering`) and that
/// the migrations are in step.
pub fn lint() -> Result<()> {
    exec(cargo().args(["fmt", "--all", "--", "--check"]))?;
    exec(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    check_domain_is_pure()?;
    layering::check()?;
    check_migrations_in_step()
}

fn check_domain_is_pure() -> Result<()> {
    let found = dependencies_among("domain", FORBIDDEN_IN_DOMAIN)?;
    if !found.is_empty() {
        bail!("the domain crate depends on I/O crates: {found:?}");
    }
    eprintln!("ok: the domain crate depends on no I/O crate");
    Ok(())
}

/// Which of `names` the crate `krate` depends on, directly or not, in normal builds.
pub(crate) fn dependencies_among(krate: &str, names: &[&str]) -> Result<BTreeSet<String>> {
    let out = cargo()
        .args(["tree", "-p", krate, "-e", "normal", "--prefix", "none"])
        .current_dir(root())
        .output()
        .context("running cargo tree")?;
    let tree = String::from_utf8_lossy(&out.stdout);
    Ok(tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| names.contains(name))
        .map(str::to_owned)
        .collect())
}

fn check_migrations_in_step() -> Result<()> {
    let list = |backend: &str| -> Result<BTreeSet<String>> {
        let dir = root().join("migrations").join(backend);
        let mut names = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                names.insert(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(names)
    };
    let (sqlite, postgres) = (list("sqlite")?, list("postgres")?);
    if sqlite != postgres {
        bail!(
            "migrations/sqlite and migrations/postgres differ: only in sqlite {:?}, only in postgres {:?}",
            sqlite.difference(&postgres).collect::<Vec<_>>(),
            postgres.difference(&sqlite).collect::<Vec<_>>()
        );
    }
    eprintln!("ok: {} migration(s), the same on both backends", sqlite.len());
    Ok(())
}
