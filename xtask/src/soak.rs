//! `cargo xtask soak [MINUTES]`: mixed load on the release build for MINUTES (default 10), one
//! wrk run per minute, and whether it held: no errors, resident memory flat after the first minute
//! (growth under 10%), and p99 latency stable (no minute's p99 above twice the second minute's).
//!
//! The load, spread evenly over 16 connections by a wrk script: API-key verification, Bearer
//! reads of a key, client-credentials tokens, key creations and rotations of one key. Every
//! request must answer 2xx. Results go to standard output as a Markdown table, for
//! `docs/reliability.md`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::bench::{ensure_tool, field, post_json, rss_kib, start_server};
use crate::{cargo, exec, root};

/// One minute of load.
struct Minute {
    requests: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    rss_kib: u64,
}

/// Runs the soak.
pub fn run(args: &[&str]) -> Result<()> {
    let minutes: u32 = match args.first() {
        Some(n) => n.parse().context("MINUTES must be a whole number")?,
        None => 10,
    };
    if minutes < 3 {
        bail!("a soak needs at least 3 minutes: one to warm up, two to compare");
    }
    ensure_tool("wrk", "wrk")?;
    exec(cargo().args(["build", "--release", "-p", "keyward"]))?;
    let exe = root().join("target/release/keyward");
    let dir = std::env::temp_dir().join(format!("keyward-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let (mut server, base) = start_server(&exe, &dir.join("data"))?;
    let result = soak(&base, server.id(), minutes, &dir);
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Makes what the load needs through the API and writes the wrk script.
fn prepare(base: &str, dir: &Path) -> Result<std::path::PathBuf> {
    let admin = std::fs::read_to_string(dir.join("data/admin.key"))?.trim().to_owned();
    let post = |path: &str, body: &str| post_json(base, path, &admin, body);
    let acct = field(&post("/v1/accounts", r#"{"name":"soak"}"#)?, "id")?;
    let sa = field(&post(&format!("/v1/accounts/{acct}/service-accounts"), r#"{"name":"svc"}"#)?, "id")?;
    let keys = format!("/v1/accounts/{acct}/service-accounts/{sa}/api-keys");
    let scopes = r#"["api-keys:verify","api-keys:read","api-keys:write"]"#;
    let worker = field(&post(&keys, &format!(r#"{{"name":"worker","scopes":{scopes}}}"#))?, "secret")?;
    let presented = field(&post(&keys, r#"{"name":"presented","scopes":["metrics:write"]}"#)?, "secret")?;
    post(&keys, r#"{"name":"rotated"}"#)?;
    let sk = post(
        &format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys"),
        r#"{"name":"client","scopes":["metrics:write"]}"#,
    )?;
    let (client_id, client_secret) = (field(&sk, "id")?, field(&sk, "secret")?);
    let script = dir.join("soak.lua");
    std::fs::write(
        &script,
        format!(
            r#"-- Names of created keys are unique across threads and runs: the thread's number and the
-- run's start time go into them (each thread's Lua has the same random seed).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local start = os.time()
local n = 0
local json = {{ ["Content-Type"] = "application/json", ["Authorization"] = "Bearer {worker}" }}
local form = {{ ["Content-Type"] = "application/x-www-form-urlencoded" }}
request = function()
  n = n + 1
  local k = n % 10
  if k < 4 then
    return wrk.format("POST", "/v1/api-keys/verify", json, [[{{"key":"{presented}","required_scopes":["metrics:write"]}}]])
  elseif k < 7 then
    return wrk.format("GET", "{keys}/presented", json, nil)
  elseif k < 9 then
    return wrk.format("POST", "/oauth2/token", form, "grant_type=client_credentials&client_id={client_id}&client_secret={client_secret}")
  elseif n % 20 == 9 then
    return wrk.format("POST", "{keys}", json, string.format([[{{"name":"soak-%d-%d-%d"}}]], start, tid, n))
  else
    return wrk.format("POST", "{keys}/rotated/rotate", json, "{{}}")
  end
end
"#
        ),
    )?;
    Ok(script)
}

/// Milliseconds from wrk's latency notation (`812.00us`, `1.20ms`, `2.01s`).
fn millis(s: &str) -> Option<f64> {
    let s = s.trim();
    let (number, factor) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

fn one_minute(base: &str, script: &Path, pid: u32) -> Result<Minute> {
    let out = Command::new("wrk")
        .args(["-t2", "-c16", "-d60s", "--latency", "-s"])
        .arg(script)
        .arg(base)
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(str::trim));
    let rps = line("Requests/sec:").and_then(|v| v.parse().ok()).with_context(|| format!("wrk said:\n{text}"))?;
    let requests = text.lines().find_map(|l| l.split(" requests in ").next()?.trim().parse().ok()).unwrap_or_default();
    let errors = line("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0)
        + line("Socket errors:")
            .map_or(0, |v| v.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum());
    Ok(Minute {
        requests,
        rps,
        p50_ms: line("50%").and_then(millis).unwrap_or(f64::NAN),
        p99_ms: line("99%").and_then(millis).unwrap_or(f64::NAN),
        errors,
        rss_kib: rss_kib(pid).unwrap_or(0),
    })
}

fn soak(base: &str, pid: u32, minutes: u32, dir: &Path) -> Result<()> {
    let script = prepare(base, dir)?;
    println!("| minute | requests | req/s | p50 ms | p99 ms | errors | RSS MiB |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut all = Vec::new();
    for minute in 1..=minutes {
        let m = one_minute(base, &script, pid)?;
        println!(
            "| {minute} | {} | {:.0} | {:.2} | {:.2} | {} | {:.1} |",
            m.requests,
            m.rps,
            m.p50_ms,
            m.p99_ms,
            m.errors,
            m.rss_kib as f64 / 1024.0
        );
        all.push(m);
    }
    let errors: u64 = all.iter().map(|m| m.errors).sum();
    let warm = &all[1];
    let last = &all[all.len() - 1];
    let growth = last.rss_kib as f64 / warm.rss_kib.max(1) as f64 - 1.0;
    let worst_p99 = all[1..].iter().map(|m| m.p99_ms).fold(0.0, f64::max);
    println!(
        "\n{} requests in {minutes} min; errors: {errors}; RSS after minute 2 {:.1} MiB, at the end {:.1} MiB ({:+.1}%); p99 of minute 2 {:.2} ms, worst after {:.2} ms ({:.2}x)",
        all.iter().map(|m| m.requests).sum::<u64>(),
        warm.rss_kib as f64 / 1024.0,
        last.rss_kib as f64 / 1024.0,
        growth * 100.0,
        warm.p99_ms,
        worst_p99,
        worst_p99 / warm.p99_ms
    );
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    if growth >= 0.10 {
        bail!("resident memory grew {:.1}% after warm-up", growth * 100.0);
    }
    if worst_p99 > 2.0 * warm.p99_ms {
        bail!("p99 latency rose to {worst_p99:.2} ms from {:.2} ms", warm.p99_ms);
    }
    println!("held: no errors, memory flat, p99 stable");
    Ok(())
}
