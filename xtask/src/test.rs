//! `cargo xtask test`: the whole test suite, with a PostgreSQL for the PostgreSQL half.

use std::process::Command;

use anyhow::{Result, bail};

use crate::{cargo, compat, exec, ha, postgres};

/// Runs every test of the workspace: the vendor SDK suite (`cargo xtask compat`, when no test
/// runner arguments narrow the run), then the Rust tests.
///
/// PostgreSQL comes from `KEYWARD_TEST_DATABASE_URL`, else the server on 127.0.0.1:5432, else a
/// throwaway server this task starts. If none can be had, the PostgreSQL tests are skipped and
/// say so loudly, unless `KEYWARD_REQUIRE_POSTGRES=1` (as in CI), which makes that an error; the
/// same flag makes a missing Python (which the SDK suite needs) an error rather than a skip.
///
/// When etcd, PgBouncer and Python are installed, the HA cluster (`cargo xtask ha up`) is started
/// for the failover test, and stopped afterwards unless it was already up; without them the test
/// is skipped and says so, unless `KEYWARD_REQUIRE_HA=1` (as in CI).
pub fn run_tests(extra: &[&str]) -> Result<()> {
    let mut cmd = cargo();
    let required = std::env::var("KEYWARD_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let pg = postgres::for_tests();
    if extra.is_empty() {
        run_compat(pg.as_ref().ok().map(String::as_str), required)?;
    }
    match pg {
        Ok(url) => {
            eprintln!("PostgreSQL tests use {url}");
            cmd.env("KEYWARD_TEST_DATABASE_URL", url);
        }
        Err(e) if required => {
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
    let ha_started = match with_ha_cluster(&mut cmd) {
        Ok(started) => started,
        Err(e) if std::env::var("KEYWARD_REQUIRE_HA").is_ok_and(|v| v == "1") => {
            return Err(e.context("the HA cluster is required (KEYWARD_REQUIRE_HA=1)"));
        }
        Err(e) => {
            eprintln!("\n!!! The failover test will be SKIPPED: {e:#}\n");
            false
        }
    };
    if has_nextest() {
        cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    cmd.args(extra);
    let result = exec(&mut cmd);
    if ha_started {
        ha::down()?;
    }
    result
}

/// Points the failover test at the HA cluster, starting it if needed; true if started here.
fn with_ha_cluster(cmd: &mut std::process::Command) -> Result<bool> {
    ha::available()?;
    let running = ha::cluster_file().exists();
    if !running {
        ha::up(0)?;
    }
    cmd.env("KEYWARD_HA_CLUSTER", ha::cluster_file());
    Ok(!running)
}

/// Runs the vendor SDK suite, skipping (loudly) what this machine cannot run unless `required`.
fn run_compat(postgres: Option<&str>, required: bool) -> Result<()> {
    let has_psql = Command::new("psql").arg("--version").output().is_ok_and(|o| o.status.success());
    let postgres = match postgres {
        Some(_) if !has_psql && required => bail!("the SDK suite needs psql to make a PostgreSQL schema"),
        Some(_) if !has_psql => {
            eprintln!("\n!!! The vendor SDK suite's PostgreSQL run is SKIPPED: psql is not installed.\n");
            None
        }
        other => other,
    };
    match compat::run(postgres, None) {
        Err(e) if !required && format!("{e:#}").contains("python3") => {
            eprintln!("\n!!! The vendor SDK suite is SKIPPED: {e:#}\n");
            Ok(())
        }
        other => other,
    }
}

/// Entry point of the task.
pub fn run(extra: &[&str]) -> Result<()> {
    run_tests(extra)
}

fn has_nextest() -> bool {
    cargo().args(["nextest", "--version"]).output().is_ok_and(|o| o.status.success())
}
