//! `cargo xtask bench`: the service under load, every scenario measured in one run against the
//! same machine's baseline (a bare `/healthz`), plus the criterion benchmarks of the hot functions.
//!
//! It builds the release binary, starts it on a fresh SQLite data directory, creates what the
//! scenarios need through the API (with curl), and loads each scenario with wrk (Debian's package;
//! installed if missing and allowed). The database holds 1,000 keys for the main table; then it is
//! filled to 1,000,000 keys (rows inserted with the `sqlite3` shell, also Debian's) and the key
//! lookups are measured again. Results go to standard output as Markdown tables.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::{cargo, exec, root};

/// One load scenario.
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    /// Lua that makes every request unique (for writes), instead of a fixed body.
    unique_body: Option<String>,
}

impl Scenario {
    /// A GET of `path` with `headers`.
    pub(crate) fn get(name: &'static str, path: impl Into<String>, headers: Vec<(String, String)>) -> Self {
        Self { name, method: "GET", path: path.into(), headers, body: None, unique_body: None }
    }

    /// A POST of the same `body` to `path` with `headers`.
    pub(crate) fn post(
        name: &'static str,
        path: impl Into<String>,
        headers: Vec<(String, String)>,
        body: String,
    ) -> Self {
        Self { name, method: "POST", path: path.into(), headers, body: Some(body), unique_body: None }
    }
}

/// What wrk reported.
pub(crate) struct Measured {
    pub(crate) rps: f64,
    p50: String,
    p99: String,
    pub(crate) errors: String,
}

/// Installs Debian's package `package` unless `program` runs.
pub(crate) fn ensure_tool(program: &str, package: &str) -> Result<()> {
    if Command::new(program).arg("--version").output().is_ok() {
        return Ok(());
    }
    eprintln!("{program} is not installed; installing Debian's package {package}");
    if exec(Command::new("apt-get").args(["install", "-y", "-qq", package])).is_ok() {
        return Ok(());
    }
    exec(Command::new("apt-get").args(["update", "-qq"]))?;
    exec(Command::new("apt-get").args(["install", "-y", "-qq", package]))
        .with_context(|| format!("installing {package} (or install it yourself)"))
}

/// Fills the filler service account `filler` with unusable keys (random hashes, no known secret)
/// until the database holds `total` API keys, in one transaction of the `sqlite3` shell.
fn fill_keys(db: &Path, filler: &str, total: u64) -> Result<()> {
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT (SELECT count(*) FROM api_keys) + 1 UNION ALL SELECT i + 1 FROM n WHERE i < {total})
         INSERT INTO api_keys (id, account_id, service_account_id, name, description, scopes, active, secret_hash,
                               created_at, updated_at, version)
         SELECT printf('00000000-0000-4000-8000-%012d', n.i), sa.account_id, sa.id, 'filler-' || n.i, '', '[]', 1,
                randomblob(32), sa.created_at, sa.created_at, 0
         FROM n, service_accounts sa WHERE sa.id = '{filler}';
         PRAGMA wal_checkpoint(TRUNCATE);"
    );
    let out = Command::new("sqlite3")
        .args(["-cmd", ".timeout 60000"])
        .arg(db)
        .arg(&sql)
        .output()
        .context("running sqlite3")?;
    if !out.status.success() {
        bail!("filling the database failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let count = Command::new("sqlite3").arg(db).arg("SELECT count(*) FROM api_keys").output()?;
    eprintln!("the database now holds {} API keys", String::from_utf8_lossy(&count.stdout).trim());
    Ok(())
}

/// POSTs `body` as JSON to `path` on `base` with `token` as the bearer, and returns the answer.
pub(crate) fn post_json(base: &str, path: &str, token: &str, body: &str) -> Result<String> {
    let auth = format!("Authorization: Bearer {token}");
    curl(&["-X", "POST", &format!("{base}{path}"), "-H", &auth, "-H", "Content-Type: application/json", "-d", body])
}

pub(crate) fn curl(args: &[&str]) -> Result<String> {
    let out = Command::new("curl").arg("-sS").args(args).output().context("running curl")?;
    if !out.status.success() {
        bail!("curl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first string value of `field` in a JSON text (enough for the few answers used here).
pub(crate) fn field(json: &str, field: &str) -> Result<String> {
    let needle = format!("\"{field}\":\"");
    let start = json.find(&needle).with_context(|| format!("no `{field}` in {json}"))? + needle.len();
    let end = json[start..].find('"').context("unterminated string")? + start;
    Ok(json[start..end].to_owned())
}

pub(crate) fn start_server(exe: &Path, data: &Path) -> Result<(Child, String)> {
    start_server_on(exe, data, None)
}

/// The same, storing in the PostgreSQL at `database_url` instead of SQLite when given.
fn start_server_on(exe: &Path, data: &Path, database_url: Option<&str>) -> Result<(Child, String)> {
    let mut env = vec![("KEYWARD_DATA_DIR".to_owned(), data.display().to_string())];
    if let Some(url) = database_url {
        env.push(("KEYWARD_DATABASE_URL".to_owned(), url.to_owned()));
    }
    start_server_with(exe, &env)
}

/// A server with `env` set (its data directory among it), and its base URL.
pub(crate) fn start_server_with(exe: &Path, env: &[(String, String)]) -> Result<(Child, String)> {
    let mut command = Command::new(exe);
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("KEYWARD_LOG", "warn,keyward=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting keyward")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).context("keyward did not start")?;
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
            return Ok((child, format!("http://{addr}")));
        }
    }
}

fn lua_for(s: &Scenario) -> String {
    let mut lua = format!("wrk.method = \"{}\"\n", s.method);
    for (k, v) in &s.headers {
        lua.push_str(&format!("wrk.headers[\"{k}\"] = \"{v}\"\n"));
    }
    if let Some(body) = &s.body {
        lua.push_str(&format!("wrk.body = [[{body}]]\n"));
    }
    if let Some(template) = &s.unique_body {
        lua.push_str(&format!(
            "local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, nil, nil, string.format([[{template}]], n))\nend\n"
        ));
    }
    lua
}

/// `s` against `base` for `seconds` over `connections` connections.
pub(crate) fn run_wrk(base: &str, s: &Scenario, seconds: u32, dir: &Path, connections: u32) -> Result<Measured> {
    let script = dir.join(format!("{}.lua", s.name.replace(' ', "_")));
    std::fs::write(&script, lua_for(s))?;
    let out = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(&script)
        .arg(format!("{base}{}", s.path))
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .with_context(|| format!("wrk printed no rate:\n{text}"))?;
    let pct = |p: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(p).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| "?".to_owned())
    };
    let errors = text
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ");
    Ok(Measured { rps, p50: pct("50%"), p99: pct("99%"), errors })
}

/// Criterion's warm-up and measurement, in seconds: short, so that `cargo xtask bench` stays quick.
const CRITERION_TIMES: [&str; 4] = ["--warm-up-time", "1", "--measurement-time", "3"];

/// Runs the criterion benchmarks, then the load scenarios, and prints the results.
pub fn run(args: &[&str]) -> Result<()> {
    let seconds: u32 = if args.contains(&"--quick") { 3 } else { 10 };
    if args.contains(&"--ha") {
        ensure_tool("wrk", "wrk")?;
        exec(cargo().args(["build", "--release", "-p", "keyward"]))?;
        let dir = std::env::temp_dir().join(format!("keyward-bench-ha-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let result = crate::bench_ha::run(&root().join("target/release/keyward"), &dir, seconds);
        let _ = std::fs::remove_dir_all(&dir);
        return result;
    }
    // `--only PATTERN`: the baseline and the SQLite scenarios whose names hold PATTERN, nothing else.
    let only = args.iter().position(|a| *a == "--only").and_then(|i| args.get(i + 1)).copied();
    if only.is_none() {
        // The hot functions, then what a DPoP proof adds (its bench needs the test key).
        exec(cargo().args(["bench", "-p", "domain", "--bench", "hot_paths", "--"]).args(CRITERION_TIMES))?;
        exec(
            cargo()
                .args(["bench", "-p", "domain", "--features", "test-support", "--bench", "dpop", "--"])
                .args(CRITERION_TIMES),
        )?;
    }
    ensure_tool("wrk", "wrk")?;
    ensure_tool("sqlite3", "sqlite3")?;
    exec(cargo().args(["build", "--release", "-p", "keyward"]))?;
    let exe = root().join("target/release/keyward");
    let dir = std::env::temp_dir().join(format!("keyward-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let (mut server, base) = start_server(&exe, &dir.join("data"))?;
    let idle_rss = rss_kib(server.id());
    println!("\n## SQLite");
    let result = scenarios(&base, seconds, &dir, Backend::Sqlite, only);
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = server.wait();
    result?;
    println!(
        "\nidle RSS after start-up: {} MiB",
        idle_rss.map_or_else(|| "?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
    );
    if only.is_none() {
        postgres_table(&exe, &dir, seconds)?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Where the server under load keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The same scenarios on one PostgreSQL node, in a fresh schema of the test server
/// (`KEYWARD_TEST_DATABASE_URL`, 127.0.0.1:5432, or a throwaway one).
fn postgres_table(exe: &Path, dir: &Path, seconds: u32) -> Result<()> {
    let Ok(admin_url) = crate::postgres::for_tests() else {
        println!("\nPostgreSQL: SKIPPED (no server; `apt-get install postgresql` or set KEYWARD_TEST_DATABASE_URL)");
        return Ok(());
    };
    let schema = format!("keyward_bench_{}", std::process::id());
    let psql =
        |sql: &str| exec(Command::new("psql").args([admin_url.as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]));
    psql(&format!("CREATE SCHEMA {schema}"))?;
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{sep}options=-c%20search_path%3D{schema}");
    let data = dir.join("data-postgres");
    let outcome = start_server_on(exe, &data, Some(&url)).and_then(|(mut server, base)| {
        println!("\n## PostgreSQL (one node, same machine)");
        let result = scenarios(&base, seconds, dir, Backend::Postgres, None);
        let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
        let _ = server.wait();
        result
    });
    let dropped = psql(&format!("DROP SCHEMA {schema} CASCADE"));
    outcome.and(dropped)
}

fn scenarios(base: &str, seconds: u32, dir: &Path, backend: Backend, only: Option<&str>) -> Result<()> {
    let data = match backend {
        Backend::Sqlite => dir.join("data"),
        Backend::Postgres => dir.join("data-postgres"),
    };
    let admin = std::fs::read_to_string(data.join("admin.key"))?.trim().to_owned();
    let post = |path: &str, body: &str| post_json(base, path, &admin, body);
    let acct = field(&post("/v1/accounts", r#"{"name":"bench"}"#)?, "id")?;
    let sas = format!("/v1/accounts/{acct}/service-accounts");
    let sa = field(&post(&sas, r#"{"name":"svc"}"#)?, "id")?;
    let keys = format!("{sas}/{sa}/api-keys");
    let secret_keys = format!("{sas}/{sa}/secret-keys");
    let verifier =
        field(&post(&keys, r#"{"name":"verifier","scopes":["api-keys:verify","api-keys:read"]}"#)?, "secret")?;
    let presented_answer = post(&keys, r#"{"name":"presented","scopes":["metrics:write"]}"#)?;
    let presented = field(&presented_answer, "secret")?;
    let presented_id = field(&presented_answer, "id")?;
    // The same key with two rate limits and uses left, none of which the run can exhaust.
    let metered = field(
        &post(
            &keys,
            r#"{"name":"metered","scopes":["metrics:write"],
                "rate_limits":[{"name":"second","limit":1000000000,"window_seconds":1},
                               {"name":"minute","limit":1000000000000,"window_seconds":60}],
                "remaining":{"uses":1000000000000000}}"#,
        )?,
        "secret",
    )?;
    for i in 0..48 {
        post(&keys, &format!(r#"{{"name":"filler-{i}"}}"#))?;
    }
    let sk = post(&secret_keys, r#"{"name":"client","scopes":["metrics:write"]}"#)?;
    let (client_id, client_secret) = (field(&sk, "id")?, field(&sk, "secret")?);
    let basic = {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' '{client_id}:{client_secret}' | base64 -w0"))
            .output()?;
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A secret key a Smooch client would hold, allowed to read its service account's keys.
    let smooch = post(&secret_keys, r#"{"name":"smooch","scopes":["secret-keys:read"]}"#)?;
    let (smooch_id, smooch_secret) = (field(&smooch, "id")?, field(&smooch, "secret")?);
    let smooch_basic = {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' '{smooch_id}:{smooch_secret}' | base64 -w0"))
            .output()?;
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A JWT the Smooch key signs (Keyward signs it here, as a Smooch SDK would with the secret).
    let smooch_jwt = field(&post(&format!("{secret_keys}/{smooch_id}/jwt"), r#"{"ttl_seconds":3600}"#)?, "token")?;
    // A workload's platform token, trusted by a federated credential (JWKS cached after the first).
    let issuer = crate::bench_issuer::BenchIssuer::start()?;
    post(
        &format!("{sas}/{sa}/federated-credentials"),
        &format!(
            r#"{{"name":"bench","issuer":"{}","audiences":["keyward-bench"],"subject":"bench","scopes":["metrics:write"]}}"#,
            issuer.url
        ),
    )?;
    let platform_token = issuer.token("keyward-bench", "bench")?;
    let bearer = |token: &str| vec![("Authorization".to_owned(), format!("Bearer {token}"))];
    let json_h = ("Content-Type".to_owned(), "application/json".to_owned());
    let list = vec![
        Scenario::get("healthz (baseline)", "/healthz", vec![]),
        Scenario::post(
            "api-key verify",
            "/v1/api-keys/verify",
            [bearer(&verifier), vec![json_h.clone()]].concat(),
            format!(r#"{{"key":"{presented}","required_scopes":["metrics:write"]}}"#),
        ),
        Scenario::post(
            "api-key verify, 2 rate limits + uses left",
            "/v1/api-keys/verify",
            [bearer(&verifier), vec![json_h.clone()]].concat(),
            format!(r#"{{"key":"{metered}","required_scopes":["metrics:write"]}}"#),
        ),
        Scenario::get("bearer GET one key", format!("{keys}/{presented_id}"), bearer(&verifier)),
        Scenario::get(
            "dynatrace Api-Token GET one token",
            format!("/api/v2/apiTokens/{presented_id}"),
            vec![("Authorization".to_owned(), format!("Api-Token {verifier}"))],
        ),
        Scenario::get(
            "wavefront X-AUTH-TOKEN GET one token",
            format!("/api/v2/apitoken/customertokens/{presented_id}"),
            vec![("X-AUTH-TOKEN".to_owned(), verifier.clone())],
        ),
        Scenario::get(
            "bearer (API key) GET one secret key",
            format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys/{smooch_id}"),
            bearer(&admin),
        ),
        Scenario::get(
            "smooch Basic GET one secret key",
            format!("/v1.1/serviceaccounts/{sa}/keys/{smooch_id}"),
            vec![("Authorization".to_owned(), format!("Basic {smooch_basic}"))],
        ),
        Scenario::get(
            "bearer (secret-key JWT) GET one secret key",
            format!("/v1/accounts/{acct}/service-accounts/{sa}/secret-keys/{smooch_id}"),
            bearer(&smooch_jwt),
        ),
        Scenario::get(
            "smooch JWT GET one secret key",
            format!("/v1.1/serviceaccounts/{sa}/keys/{smooch_id}"),
            bearer(&smooch_jwt),
        ),
        Scenario::post(
            "client_credentials token",
            "/oauth2/token",
            vec![
                ("Authorization".to_owned(), format!("Basic {basic}")),
                ("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
            ],
            "grant_type=client_credentials".to_owned(),
        ),
        Scenario::post(
            "token exchange (federated, JWKS cached)",
            "/oauth2/token",
            vec![("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned())],
            format!(
                "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token_type=urn:ietf:params:oauth:token-type:jwt&subject_token={platform_token}"
            ),
        ),
        Scenario::post(
            "service identity generate-token",
            "/service-identity/generate-token",
            vec![json_h.clone()],
            format!(r#"{{"client_id":"{client_id}","client_token":"{client_secret}"}}"#),
        ),
        Scenario::post(
            "zenml API-key login",
            "/api/v1/login",
            vec![("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned())],
            format!("grant_type=zenml-api-key&password={verifier}"),
        ),
        Scenario::get("list 50 keys", format!("{keys}?limit=50"), bearer(&admin)),
        Scenario {
            name: "create-key writes",
            method: "POST",
            path: keys.clone(),
            headers: [bearer(&admin), vec![json_h]].concat(),
            body: None,
            unique_body: Some(r#"{"name":"load-%d"}"#.into()),
        },
    ];
    // `--only PATTERN` keeps the baseline and the scenarios whose names hold PATTERN.
    let list: Vec<Scenario> =
        list.into_iter().filter(|s| s.name.starts_with("healthz") || only.is_none_or(|o| s.name.contains(o))).collect();
    if backend == Backend::Postgres {
        print_header();
        let mut baseline = None;
        for s in &list {
            let m = run_wrk(base, s, seconds, dir, 64)?;
            print_row(s.name, &m, *baseline.get_or_insert(m.rps));
        }
        return Ok(());
    }
    let db = data.join("keyward.db");
    let filler = field(&post(&sas, r#"{"name":"filler"}"#)?, "id")?;
    fill_keys(&db, &filler, 1_000)?;
    println!("\nWith 1,000 keys in the database (create-key writes add more):");
    print_header();
    let mut baseline = None;
    let mut verify_1k = None;
    let mut tokens = None;
    for s in &list {
        let m = run_wrk(base, s, seconds, dir, 64)?;
        let base_rps = *baseline.get_or_insert(m.rps);
        if s.name == "api-key verify" {
            verify_1k = Some(m.rps / base_rps);
        }
        if s.name == "client_credentials token" {
            tokens = Some((m.rps, base_rps));
        }
        print_row(s.name, &m, base_rps);
    }
    if let Some((token_rps, base_rps)) = tokens {
        print_token_ceiling(token_rps, base_rps);
    }
    if only.is_some() {
        return Ok(());
    }
    fill_keys(&db, &filler, 1_000_000)?;
    println!("\nWith 1,000,000 keys in the database (the baseline measured again):");
    print_header();
    let mut baseline_1m = None;
    let mut verify_1m = None;
    let again = ["healthz (baseline)", "api-key verify", "bearer GET one key"];
    for s in list.iter().filter(|s| again.contains(&s.name)) {
        let m = run_wrk(base, s, seconds, dir, 64)?;
        let base_rps = *baseline_1m.get_or_insert(m.rps);
        if s.name == "api-key verify" {
            verify_1m = Some(m.rps / base_rps);
        }
        print_row(s.name, &m, base_rps);
    }
    if let (Some(small), Some(large)) = (verify_1k, verify_1m) {
        println!("\nverify's ratio to the baseline, with 1,000,000 keys / with 1,000 keys: {:.2}", large / small);
    }
    Ok(())
}

/// Tokens against two cores of criterion's EdDSA signing, and the most this machine allows: the
/// load generator shares the two cores, so even a token request that cost no more than a bare
/// `/healthz` plus one signing would reach only `s / (s + o)`, where `s` is one signing and `o` the
/// CPU time (server and load generator, both cores) of one `/healthz` at the measured rate.
fn print_token_ceiling(token_rps: f64, base_rps: f64) {
    let estimates = root().join("target/criterion/jwt sign EdDSA/new/estimates.json");
    let Some(sign_ns) = std::fs::read_to_string(&estimates).ok().as_deref().and_then(mean_ns) else {
        println!("\ntokens: no criterion estimate of EdDSA signing at {}", estimates.display());
        return;
    };
    let sign = sign_ns / 1e9;
    let two_cores = 2.0 / sign;
    let healthz = 2.0 / base_rps;
    let ceiling = sign / (sign + healthz);
    let ratio = token_rps / two_cores;
    println!(
        "\nclient_credentials tokens: {token_rps:.0}/s = {ratio:.2} × 2 × criterion's EdDSA signing ({:.1} µs, {two_cores:.0}/s on two cores); \
         the ceiling with the load generator on the same two cores (/healthz's {:.1} µs of CPU plus one signing): {ceiling:.2}; \
         tokens reach {:.2} of it",
        sign * 1e6,
        healthz * 1e6,
        ratio / ceiling
    );
}

/// The mean of a criterion `estimates.json`, in nanoseconds.
fn mean_ns(json: &str) -> Option<f64> {
    let mean = &json[json.find("\"mean\"")?..];
    let value = &mean[mean.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}

fn print_header() {
    println!(
        "| scenario | req/s | ratio to baseline | p50 | p99 | errors |\n| --- | ---: | ---: | ---: | ---: | --- |"
    );
}

fn print_row(name: &str, m: &Measured, base_rps: f64) {
    println!(
        "| {} | {:.0} | {:.2} | {} | {} | {} |",
        name,
        m.rps,
        m.rps / base_rps,
        m.p50,
        m.p99,
        if m.errors.is_empty() { "none" } else { &m.errors }
    );
}

/// The resident memory of a process, in KiB, from /proc.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::mean_ns;

    #[test]
    fn the_mean_is_read_from_criterions_estimates() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":27.5,"upper_bound":29.0},"point_estimate":28123.5,"standard_error":1.2},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":1.5,"standard_error":0.1}}"#;
        assert_eq!(mean_ns(json), Some(28123.5));
        assert_eq!(mean_ns(r#"{"median":{"point_estimate":1.5}}"#), None, "no mean, no figure");
    }
}
