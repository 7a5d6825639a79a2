//! `cargo xtask compat`: the vendors' own SDKs, published, pinned and unmodified, driven by the
//! suite in `xtask/compat/` against a real `keyward serve`, on SQLite and on PostgreSQL.
//!
//! The SDKs live in a virtualenv under `target/compat-venv`, made (or remade when
//! `xtask/compat/requirements.txt` changes) from PyPI with the machine's `python3`. The JavaScript
//! clients (`xtask/compat/node`, pinned by its `package-lock.json`) are installed from the npm
//! registry with the machine's `npm` under `target/compat-node`, beside the scripts that drive them.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, exec, root};

/// Where the suite lives.
fn suite() -> PathBuf {
    root().join("xtask").join("compat")
}

/// The virtualenv's Python, with the pinned SDKs installed.
fn venv() -> Result<PathBuf> {
    let dir = root().join("target").join("compat-venv");
    let python = dir.join("bin").join("python");
    let wanted = std::fs::read_to_string(suite().join("requirements.txt")).context("reading requirements.txt")?;
    let marker = dir.join("keyward-requirements.txt");
    if python.exists() && std::fs::read_to_string(&marker).is_ok_and(|had| had == wanted) {
        return Ok(python);
    }
    let system = which_python()
        .context("the SDK suite needs python3 with the venv module (apt-get install python3 python3-venv)")?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    exec(Command::new(system).args(["-m", "venv"]).arg(&dir))?;
    exec(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(suite().join("requirements.txt")),
    )?;
    std::fs::write(&marker, wanted).context("recording the installed requirements")?;
    Ok(python)
}

/// The folder holding the pinned JavaScript clients and the scripts that drive them, installed
/// (again when the lock file changes) with `npm ci`. The scripts are copied on every run.
fn node_clients() -> Result<PathBuf> {
    let source = suite().join("node");
    let dir = root().join("target").join("compat-node");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = std::fs::read_to_string(source.join("package-lock.json")).context("reading package-lock.json")?;
    let marker = dir.join("keyward-package-lock.json");
    let installed = std::fs::read_to_string(&marker).is_ok_and(|had| had == lock);
    for entry in std::fs::read_dir(&source).with_context(|| format!("reading {}", source.display()))? {
        let path = entry?.path();
        if path.is_file() {
            let name = path.file_name().context("a file name")?;
            std::fs::copy(&path, dir.join(name)).with_context(|| format!("copying {}", path.display()))?;
        }
    }
    if !installed {
        let npm = Command::new("npm").arg("--version").output();
        if !npm.is_ok_and(|o| o.status.success()) {
            bail!("the SDK suite needs Node.js 20 or later with npm (apt-get install nodejs npm)");
        }
        // `exec` runs in the workspace root; `--prefix` points npm at the folder.
        exec(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"]).arg(&dir))?;
        std::fs::write(&marker, lock).context("recording the installed lock file")?;
    }
    Ok(dir)
}

fn which_python() -> Result<String> {
    for candidate in ["python3", "python"] {
        let ok = Command::new(candidate).args(["-c", "import venv"]).output().is_ok_and(|o| o.status.success());
        if ok {
            return Ok(candidate.to_owned());
        }
    }
    bail!("no python3 with the venv module was found")
}

/// `cargo xtask fuzz-api [EXAMPLES]`: only the schemathesis run of the suite, with EXAMPLES
/// (default 100) examples per operation instead of CI's 10, on both backends.
pub fn fuzz_api(postgres: Option<&str>, args: &[&str]) -> Result<()> {
    let examples: u32 = match args.first() {
        Some(n) => n.parse().context("EXAMPLES must be a whole number")?,
        None => 100,
    };
    run(postgres, Some(examples))
}

/// Runs the suite on SQLite, then on the PostgreSQL at `postgres` if there is one; with
/// `fuzz_examples`, only its schemathesis run, with that many examples per operation.
pub fn run(postgres: Option<&str>, fuzz_examples: Option<u32>) -> Result<()> {
    let python = venv()?;
    let node = node_clients()?;
    exec(cargo().args(["build", "--quiet", "--package", "keyward"]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let binary = target.join("debug").join("keyward");
    let backends: Vec<(&str, Option<&str>)> = match postgres {
        Some(url) => vec![("SQLite", None), ("PostgreSQL", Some(url))],
        None => vec![("SQLite", None)],
    };
    for (name, url) in backends {
        eprintln!("vendor SDK suite on {name}");
        let mut cmd = Command::new(&python);
        cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(fuzz_examples.map_or_else(suite, |_| suite().join("test_schemathesis.py")))
            .env("KEYWARD_BIN", &binary)
            .env("KEYWARD_COMPAT_NODE_DIR", &node)
            .env_remove("KEYWARD_COMPAT_DATABASE_URL");
        let report = root().join("target").join(format!("fuzz-api-{}.txt", name.to_lowercase()));
        if let Some(examples) = fuzz_examples {
            cmd.env("KEYWARD_FUZZ_API_EXAMPLES", examples.to_string()).env("KEYWARD_FUZZ_API_REPORT", &report);
        }
        if let Some(url) = url {
            cmd.env("KEYWARD_COMPAT_DATABASE_URL", url);
        }
        exec(&mut cmd).with_context(|| format!("the vendor SDK suite failed on {name}"))?;
        if fuzz_examples.is_some() {
            let summary = std::fs::read_to_string(&report).unwrap_or_default();
            eprintln!("schemathesis on {name} ({}):\n{summary}", report.display());
        }
    }
    Ok(())
}
