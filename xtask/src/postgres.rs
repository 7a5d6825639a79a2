//! A PostgreSQL for the tests: the one configured, the local one, or a throwaway one started here.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// The server the tests use when nothing else is configured.
const LOCAL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The port of the throwaway server.
const THROWAWAY_PORT: u16 = 55432;

fn reachable(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

fn throwaway_url() -> String {
    format!("postgres://postgres@127.0.0.1:{THROWAWAY_PORT}/postgres")
}

/// The URL of a PostgreSQL the tests can use, starting a throwaway one if needed.
pub fn for_tests() -> Result<String> {
    if let Ok(url) = std::env::var("KEYWARD_TEST_DATABASE_URL") {
        return Ok(url);
    }
    if reachable(5432) {
        return Ok(LOCAL.to_owned());
    }
    start()
}

fn data_dir() -> PathBuf {
    std::env::temp_dir().join("keyward-xtask-postgres")
}

/// The newest PostgreSQL server binaries installed from Debian's packages.
pub fn bin_dir() -> Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no PostgreSQL server is installed (looked in /usr/lib/postgresql)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).context("no initdb found under /usr/lib/postgresql/*/bin")
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL tool, as the `postgres` user when this task runs as root (initdb refuses root).
fn pg_tool(bin: &Path, tool: &str, args: &[&str]) -> Result<()> {
    let exe = bin.join(tool);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let status = cmd.args(args).status().with_context(|| format!("running {}", exe.display()))?;
    if !status.success() {
        bail!("{tool} failed: {status}");
    }
    Ok(())
}

/// Starts the throwaway server (if it is not already running) and returns its URL.
pub fn start() -> Result<String> {
    if reachable(THROWAWAY_PORT) {
        return Ok(throwaway_url());
    }
    let bin = bin_dir()?;
    let dir = data_dir();
    let dir_s = dir.to_string_lossy().into_owned();
    if !dir.join("PG_VERSION").exists() {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir_s}"))?;
        if is_root() {
            let status = Command::new("chown").args(["-R", "postgres:postgres", &dir_s]).status()?;
            if !status.success() {
                bail!("cannot hand {dir_s} to the postgres user");
            }
        }
        pg_tool(&bin, "initdb", &["-D", &dir_s, "-A", "trust", "-U", "postgres", "--no-sync"])?;
    }
    let options = format!("-p {THROWAWAY_PORT} -c listen_addresses=127.0.0.1 -k {dir_s} -c fsync=off");
    let log = dir.join("server.log");
    pg_tool(&bin, "pg_ctl", &["-D", &dir_s, "-o", &options, "-l", &log.to_string_lossy(), "-w", "start"])?;
    eprintln!("started a throwaway PostgreSQL in {dir_s} (stop it with `cargo xtask postgres stop`)");
    Ok(throwaway_url())
}

/// Stops the throwaway server.
pub fn stop() -> Result<()> {
    let dir = data_dir();
    if !dir.join("PG_VERSION").exists() {
        eprintln!("no throwaway PostgreSQL to stop");
        return Ok(());
    }
    pg_tool(&bin_dir()?, "pg_ctl", &["-D", &dir.to_string_lossy(), "-m", "fast", "stop"])
}
