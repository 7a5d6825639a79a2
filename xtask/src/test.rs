//! `cargo xtask test`: the whole test suite, with a PostgreSQL for the PostgreSQL half.

use anyhow::Result;

use crate::{cargo, exec, postgres};

/// Runs every test of the workspace.
///
/// PostgreSQL comes from `KEYWARD_TEST_DATABASE_URL`, else the server on 127.0.0.1:5432, else a
/// throwaway server this task starts. If none can be had, the PostgreSQL tests are skipped and
/// say so loudly, unless `KEYWARD_REQUIRE_POSTGRES=1` (as in CI), which makes that an error.
pub fn run_tests(extra: &[&str]) -> Result<()> {
    let mut cmd = cargo();
    match postgres::for_tests() {
        Ok(url) => {
            eprintln!("PostgreSQL tests use {url}");
            cmd.env("KEYWARD_TEST_DATABASE_URL", url);
        }
        Err(e) if std::env::var("KEYWARD_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
            return Err(
                e.context("PostgreSQL is required (KEYWARD_REQUIRE_POSTGRES=1) but none could be reached or started")
            );
        }
        Err(e) => {
            eprintln!(
                "\n!!! PostgreSQL tests will be SKIPPED: {e:#}\n!!! Install PostgreSQL (apt-get install postgresql) to run them.\n"
            );
            cmd.env("KEYWARD_TEST_SKIP_POSTGRES", "1");
        }
    }
    if has_nextest() {
        cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    cmd.args(extra);
    exec(&mut cmd)
}

/// Entry point of the task.
pub fn run(extra: &[&str]) -> Result<()> {
    run_tests(extra)
}

fn has_nextest() -> bool {
    cargo().args(["nextest", "--version"]).output().is_ok_and(|o| o.status.success())
}
