//! `cargo xtask`: local development tasks, one module per task.
//!
//! - `cargo xtask test`: every test, PostgreSQL included (a throwaway server is started if none runs).
//! - `cargo xtask compat`: the vendors' SDKs (pinned, unmodified) against a real `keyward serve`.
//! - `cargo xtask fuzz [CASES]`: every parser's property tests with a million inputs each.
//! - `cargo xtask lint`: formatting, clippy, and the layering and migration checks.
//! - `cargo xtask ci`: what CI runs: `lint`, then `test`.
//! - `cargo xtask postgres [stop]`: start (or stop) the throwaway PostgreSQL and print its URL.
//! - `cargo xtask new-migration NAME`: a new migration folder for both backends.
//! - `cargo xtask ha up [--nodes N]|down|failover|status`: a Patroni cluster with etcd and
//!   PgBouncer, and N Keyward nodes, on loopback ports; `failover` kills the primary.
//! - `cargo xtask bench [--quick] [--only PATTERN] [--ha]`: criterion benchmarks, then the service
//!   under wrk load (`--only`: just the baseline and the SQLite scenarios whose names hold PATTERN;
//!   `--ha`: only verification and key reads on the HA cluster against one node).

mod bench;
mod bench_ha;
mod bench_issuer;
mod ci;
mod compat;
mod fuzz;
mod ha;
mod layering;
mod migration;
mod postgres;
mod soak;
mod test;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["test", rest @ ..] => test::run(rest),
        ["lint"] => ci::lint(),
        ["fuzz", rest @ ..] => fuzz::run(rest),
        ["compat"] => compat::run(postgres::for_tests().ok().as_deref(), None),
        ["fuzz-api", rest @ ..] => compat::fuzz_api(postgres::for_tests().ok().as_deref(), rest),
        ["ci"] => ci::run(),
        ["postgres"] => postgres::start().map(|url| println!("{url}")),
        ["postgres", "stop"] => postgres::stop(),
        ["new-migration", name] => migration::create(name),
        ["bench", rest @ ..] => bench::run(rest),
        ["soak", rest @ ..] => soak::run(rest),
        ["ha", rest @ ..] => ha::run(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n  test [ARGS]          run every test (extra ARGS go to the test runner)\n  \
                 compat               the vendors' SDKs against a real keyward serve (part of test)\n  \
                 fuzz [CASES]         the parsers' property tests, a million inputs each\n  \
                 fuzz-api [EXAMPLES]  schemathesis over /openapi.json, 100 examples per operation\n  \
                 lint                 formatting, clippy, layering and migration checks\n  \
                 ci                   lint, then test\n  \
                 postgres [stop]      start or stop a throwaway PostgreSQL for the tests\n  \
                 new-migration NAME   create migrations/{{sqlite,postgres}}/<timestamp>_NAME\n  \
                 bench [--quick] [--only PATTERN] [--ha]  criterion benchmarks, then the service under wrk load\n  \
                 soak [MINUTES]       mixed load for MINUTES (default 10): errors, memory, p99\n  \
                 ha up [--nodes N] | down | failover | status\n                       \
                 Patroni + etcd + PgBouncer and N Keyward nodes on loopback"
            );
            bail!("unknown task")
        }
    }
}

/// The workspace root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// Runs a command in the workspace root, failing if it fails.
fn exec(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd.current_dir(root()).status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// `cargo`, as the one running this task.
fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}
