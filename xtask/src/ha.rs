//! `cargo xtask ha up|down|failover|status`: a highly available PostgreSQL on one machine, as
//! production teams run it, for trying a failover by hand and for the failover test.
//!
//! `up` starts etcd (Debian's `etcd-server`), a three-member Patroni cluster (PyPI's `patroni`,
//! pinned, in a virtualenv under `target/`) on Debian's PostgreSQL binaries with synchronous
//! replication, a PgBouncer (Debian's) in transaction pooling in front of each member, and N
//! Keyward nodes through those PgBouncers. Everything listens on loopback ports of its own and
//! keeps its data under `target/ha`, so a PostgreSQL already running on 5432 is never touched.
//! `target/ha/cluster.json` says where each part is, for the failover test.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{cargo, exec, postgres, root};

/// Patroni, pinned with its etcd v3 client; psycopg2 is how it talks to PostgreSQL.
const PATRONI: [&str; 2] = ["patroni[etcd3]==4.1.0", "psycopg2-binary==2.9.13"];
/// How many PostgreSQL members the cluster has.
const MEMBERS: u16 = 3;
// Every port is below Linux's ephemeral range (32768 and up), from which any process's outgoing
// connection or port-0 listener may take one: a member once failed to start on 55442 for that.
const ETCD_CLIENT_PORT: u16 = 22379;
const ETCD_PEER_PORT: u16 = 22380;
/// Member `i` (1-based) listens on these plus `i`.
const POSTGRES_PORTS: u16 = 25440;
const PATRONI_PORTS: u16 = 28000;
const PGBOUNCER_PORTS: u16 = 26430;
const KEYWARD_PORTS: u16 = 28080;
/// The database Keyward uses on the cluster.
const DATABASE: &str = "keyward";

/// Entry point of the task.
pub fn run(args: &[&str]) -> Result<()> {
    match args {
        ["up"] => up(3),
        ["up", "--nodes", n] => up(n.parse().context("--nodes takes a whole number")?),
        ["down"] => down(),
        ["failover"] => failover(),
        ["status"] => status(),
        _ => bail!("usage: cargo xtask ha up [--nodes N] | down | failover | status"),
    }
}

fn dir() -> PathBuf {
    root().join("target").join("ha")
}

/// Where `up` says what it started, for the failover test; it exists while the cluster is up.
pub fn cluster_file() -> PathBuf {
    dir().join("cluster.json")
}

/// Whether this machine has what the cluster needs (etcd, PgBouncer, PostgreSQL's server
/// binaries and a Python with venv); `Err` says what is missing.
pub fn available() -> Result<()> {
    which("etcd").context("etcd is not installed (apt-get install etcd-server)")?;
    pgbouncer()?;
    postgres::bin_dir()?;
    system_python()?;
    Ok(())
}

/// Starts the cluster and `nodes` Keyward nodes, unless it already runs; then prints each part.
pub fn up(nodes: u16) -> Result<()> {
    available()?;
    let dir = dir();
    if cluster_file().exists() {
        eprintln!("the cluster is already up (cargo xtask ha down stops it)");
        return status();
    }
    if dir.exists() {
        // What a failed `up` left behind.
        down()?;
    }
    let ports = [ETCD_CLIENT_PORT, ETCD_PEER_PORT].into_iter().chain(
        (1..=MEMBERS).flat_map(|i| [POSTGRES_PORTS + i, PATRONI_PORTS + i, PGBOUNCER_PORTS + i, KEYWARD_PORTS + i]),
    );
    for port in ports {
        if TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(200)).is_ok() {
            bail!("port {port} is taken: is a cluster of another checkout up? (`cargo xtask ha down` there)");
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let venv = patroni_venv()?;
    let owner = postgres_user()?;
    start_etcd(&dir)?;
    for i in 1..=MEMBERS {
        start_member(&dir, &venv, owner, i)?;
    }
    let leader = wait_for_cluster(Duration::from_secs(120))?;
    let psql = |sql: &str| {
        exec(Command::new("psql").args(["-h", "127.0.0.1", "-p", &leader.to_string(), "-U", "postgres", "-c", sql]))
    };
    psql(&format!("CREATE DATABASE {DATABASE}"))?;
    for i in 1..=MEMBERS {
        start_pgbouncer(&dir, owner, i)?;
    }
    let cluster = json!({
        "database_url": database_url(PGBOUNCER_PORTS),
        "change_feed_database_url": database_url(POSTGRES_PORTS),
        "members": (1..=MEMBERS).map(|i| json!({
            "name": format!("pg{i}"),
            "postgres_port": POSTGRES_PORTS + i,
            "patroni_port": PATRONI_PORTS + i,
            "pgbouncer_port": PGBOUNCER_PORTS + i,
            "data_dir": dir.join(format!("pg{i}")),
        })).collect::<Vec<_>>(),
    });
    std::fs::write(dir.join("cluster.json"), serde_json::to_string_pretty(&cluster)?)?;
    if nodes > 0 {
        start_keyward_nodes(&dir, nodes)?;
    }
    status()
}

/// A URL naming every member's port from `base + 1`, for the read-write one among them.
fn database_url(base: u16) -> String {
    let hosts: Vec<String> = (1..=MEMBERS).map(|i| format!("127.0.0.1:{}", base + i)).collect();
    format!("postgres://postgres@{}/{DATABASE}?target_session_attrs=read-write", hosts.join(","))
}

/// Stops everything `up` started and deletes its data.
pub fn down() -> Result<()> {
    let dir = dir();
    let pids = std::fs::read_to_string(dir.join("pids")).unwrap_or_default();
    // Keyward and PgBouncer first, then Patroni (which stops its PostgreSQL), etcd last.
    let order = ["keyward", "pgbouncer", "patroni", "etcd"];
    for kind in order {
        let mine: Vec<&str> = pids
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(k, _)| k.starts_with(kind))
            .map(|(_, p)| p)
            .collect();
        for pid in &mine {
            let _ = Command::new("kill").args(["-TERM", pid]).stderr(Stdio::null()).status();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while mine.iter().any(|pid| alive(pid)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        for pid in mine.iter().filter(|pid| alive(pid)) {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
    // A postmaster whose Patroni died first is stopped by its own data folder.
    if let Ok(bin) = postgres::bin_dir() {
        for i in 1..=MEMBERS {
            let data = dir.join(format!("pg{i}"));
            if data.join("postmaster.pid").exists() {
                let mut pg_ctl = Command::new(bin.join("pg_ctl"));
                pg_ctl.arg("-D").arg(&data).args(["-m", "immediate", "stop"]);
                if let Ok(cmd) = as_postgres(&mut pg_ctl) {
                    let _ = cmd.status();
                }
            }
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    eprintln!("the HA cluster is down");
    Ok(())
}

/// Kills the primary's postmaster with SIGKILL, then waits for a new leader and prints the roles.
pub fn failover() -> Result<()> {
    let before = members()?;
    let Some(leader) = before.iter().find(|m| m.role == "leader") else { bail!("the cluster has no leader now") };
    let pid = postmaster_pid(&dir().join(&leader.name))?;
    eprintln!("killing {} (postmaster {pid}) with SIGKILL", leader.name);
    let killed = Instant::now();
    exec(Command::new("kill").args(["-KILL", &pid.to_string()]))?;
    let deadline = killed + Duration::from_secs(120);
    loop {
        let now = members().unwrap_or_default();
        if let Some(new) = now.iter().find(|m| m.role == "leader" && m.state == "running" && m.name != leader.name) {
            eprintln!("{} leads after {:.1} s", new.name, killed.elapsed().as_secs_f64());
            break;
        }
        if Instant::now() > deadline {
            bail!("no new leader within 120 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    status()
}

/// Prints each member's role and state, and where the Keyward nodes listen.
pub fn status() -> Result<()> {
    for m in members()? {
        println!("{:<4} {:<13} {:<10} postgres 127.0.0.1:{}", m.name, m.role, m.state, m.port);
    }
    let cluster: Value = serde_json::from_str(&std::fs::read_to_string(dir().join("cluster.json"))?)?;
    println!("KEYWARD_DATABASE_URL={}", cluster["database_url"].as_str().unwrap_or_default());
    println!("KEYWARD_CHANGE_FEED_DATABASE_URL={}", cluster["change_feed_database_url"].as_str().unwrap_or_default());
    for node in cluster["nodes"].as_array().into_iter().flatten() {
        println!("keyward node {}", node.as_str().unwrap_or_default());
    }
    Ok(())
}

/// One member as Patroni reports it.
struct Member {
    name: String,
    role: String,
    state: String,
    port: u64,
}

/// The members, from the first Patroni that answers.
fn members() -> Result<Vec<Member>> {
    let mut last = None;
    for i in 1..=MEMBERS {
        match http_get(PATRONI_PORTS + i, "/cluster") {
            Ok(body) => {
                let cluster: Value = serde_json::from_str(&body).context("Patroni's /cluster answer")?;
                let members = cluster["members"].as_array().cloned().unwrap_or_default();
                return Ok(members
                    .iter()
                    .map(|m| Member {
                        name: m["name"].as_str().unwrap_or_default().to_owned(),
                        role: m["role"].as_str().unwrap_or_default().to_owned(),
                        state: m["state"].as_str().unwrap_or_default().to_owned(),
                        port: m["port"].as_u64().unwrap_or_default(),
                    })
                    .collect());
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no member")).context("no Patroni answers (is the cluster up?)"))
}

/// Waits until one member leads and the two others stream from it, one of them synchronously;
/// returns the leader's port.
fn wait_for_cluster(within: Duration) -> Result<u64> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(members) = members() {
            let leader = members.iter().find(|m| m.role == "leader" && m.state == "running");
            let streaming = members.iter().filter(|m| m.state == "streaming").count();
            let synchronous = members.iter().any(|m| m.role == "sync_standby");
            if let Some(leader) = leader
                && streaming == usize::from(MEMBERS) - 1
                && synchronous
            {
                return Ok(leader.port);
            }
        }
        if Instant::now() > deadline {
            bail!("the cluster did not come up within {within:?}; see target/ha/pg*.log");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A plain HTTP/1.0 GET on loopback (Patroni's REST API), returning the body of a 200.
fn http_get(port: u16, path: &str) -> Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").context("an HTTP answer without a body")?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        bail!("GET {path} on {port}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(body.to_owned())
}

fn start_etcd(dir: &Path) -> Result<()> {
    let client = format!("http://127.0.0.1:{ETCD_CLIENT_PORT}");
    let peer = format!("http://127.0.0.1:{ETCD_PEER_PORT}");
    let mut cmd = Command::new(which("etcd")?);
    cmd.args(["--name", "keyward-ha", "--data-dir"])
        .arg(dir.join("etcd"))
        .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &format!("keyward-ha={peer}")]);
    spawn(dir, "etcd", &mut cmd)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(ETCD_CLIENT_PORT, "/health").is_err() {
        if Instant::now() > deadline {
            bail!("etcd did not answer within 30 s; see target/ha/etcd.log");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Writes member `i`'s Patroni configuration and starts it as the `postgres` user.
fn start_member(dir: &Path, venv: &Path, owner: Option<(u32, u32)>, i: u16) -> Result<()> {
    let name = format!("pg{i}");
    let config = dir.join(format!("{name}.yml"));
    std::fs::write(&config, patroni_config(dir, i)?)?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
        std::os::unix::fs::chown(&config, Some(uid), Some(gid))?;
    }
    let mut cmd = Command::new(venv.join("bin").join("patroni"));
    cmd.arg(&config).env("HOME", dir);
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
    }
    spawn(dir, &format!("patroni-{name}"), &mut cmd)
}

/// Patroni's YAML for member `i`: synchronous replication, a failover as soon as the primary's
/// postmaster dies (`primary_start_timeout: 0`), and a demoted primary rewound to follow the new
/// one. Trust authentication on loopback, as the throwaway test server has.
fn patroni_config(dir: &Path, i: u16) -> Result<String> {
    let bin = postgres::bin_dir()?;
    let d = dir.display();
    let mut y = String::new();
    writeln!(y, "scope: keyward-ha\nname: pg{i}")?;
    writeln!(y, "restapi:\n  listen: 127.0.0.1:{0}\n  connect_address: 127.0.0.1:{0}", PATRONI_PORTS + i)?;
    writeln!(y, "etcd3:\n  hosts: 127.0.0.1:{ETCD_CLIENT_PORT}")?;
    writeln!(
        y,
        "bootstrap:\n  dcs:\n    ttl: 20\n    loop_wait: 2\n    retry_timeout: 5\n    primary_start_timeout: 0\n    \
         synchronous_mode: true\n    postgresql:\n      use_pg_rewind: true\n      use_slots: true\n      \
         parameters:\n        wal_log_hints: 'on'\n        max_connections: 200\n  \
         initdb:\n    - encoding: UTF8\n    - auth: trust\n  \
         pg_hba:\n    - local all all trust\n    - host all all 127.0.0.1/32 trust\n    - host replication all 127.0.0.1/32 trust"
    )?;
    writeln!(
        y,
        "postgresql:\n  listen: 127.0.0.1:{port}\n  connect_address: 127.0.0.1:{port}\n  data_dir: {d}/pg{i}\n  \
         bin_dir: {bin}\n  pgpass: {d}/pg{i}.pgpass\n  authentication:\n    superuser:\n      username: postgres\n    \
         replication:\n      username: postgres\n    rewind:\n      username: postgres\n  \
         parameters:\n    unix_socket_directories: {d}",
        port = POSTGRES_PORTS + i,
        bin = bin.display(),
    )?;
    Ok(y)
}

/// A PgBouncer in transaction pooling in front of member `i`, as the `postgres` user. It retries
/// a failed server login after a second (the default is 15), so it follows its member's restarts.
fn start_pgbouncer(dir: &Path, owner: Option<(u32, u32)>, i: u16) -> Result<()> {
    let ini = dir.join(format!("pgbouncer{i}.ini"));
    std::fs::write(
        &ini,
        format!(
            "[databases]\n* = host=127.0.0.1 port={pg} user=postgres\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
             listen_port = {port}\nunix_socket_dir =\nauth_type = any\npool_mode = transaction\n\
             default_pool_size = 20\nmax_client_conn = 500\nserver_login_retry = 1\nserver_connect_timeout = 2\n\
             query_wait_timeout = 3\nignore_startup_parameters = extra_float_digits\n",
            pg = POSTGRES_PORTS + i,
            port = PGBOUNCER_PORTS + i,
        ),
    )?;
    let mut cmd = Command::new(pgbouncer()?);
    if owner.is_some() {
        cmd.args(["-u", "postgres"]);
    }
    cmd.arg(&ini);
    spawn(dir, &format!("pgbouncer{i}"), &mut cmd)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], PGBOUNCER_PORTS + i));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            bail!("PgBouncer {i} did not listen within 10 s; see target/ha/pgbouncer{i}.log");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// `nodes` Keyward nodes through the PgBouncers, sharing one master key; the first one's data
/// folder holds the admin key.
fn start_keyward_nodes(dir: &Path, nodes: u16) -> Result<()> {
    exec(cargo().args(["build", "-p", "keyward"]))?;
    let binary = root().join("target").join("debug").join("keyward");
    let mut urls = Vec::new();
    for n in 1..=nodes {
        let port = KEYWARD_PORTS + n;
        let mut cmd = Command::new(&binary);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("KEYWARD_DATA_DIR", dir.join(format!("node{n}")))
            .env("KEYWARD_MASTER_KEY_FILE", dir.join("master.key"))
            .env("KEYWARD_DATABASE_URL", database_url(PGBOUNCER_PORTS))
            .env("KEYWARD_DATABASE_PREPARED_STATEMENTS", "false")
            .env("KEYWARD_CHANGE_FEED_DATABASE_URL", database_url(POSTGRES_PORTS));
        spawn(dir, &format!("keyward{n}"), &mut cmd)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(port, "/healthz").is_err() {
            if Instant::now() > deadline {
                bail!("Keyward node {n} did not answer within 60 s; see target/ha/keyward{n}.log");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        urls.push(format!("http://127.0.0.1:{port}"));
    }
    let path = dir.join("cluster.json");
    let mut cluster: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    cluster["nodes"] = json!(urls);
    std::fs::write(&path, serde_json::to_string_pretty(&cluster)?)?;
    eprintln!("the admin key is in {}", dir.join("node1").join("admin.key").display());
    Ok(())
}

/// Starts `cmd` in a process group of its own (so that a terminal's Ctrl-C leaves it running),
/// logging to `target/ha/NAME.log`, and records its pid for `down`.
fn spawn(dir: &Path, name: &str, cmd: &mut Command) -> Result<()> {
    let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
    let child = cmd
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {name}: {cmd:?}"))?;
    let mut pids = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("pids"))?;
    writeln!(pids, "{name} {}", child.id())?;
    Ok(())
}

/// The virtualenv with Patroni, made (or remade when the pins change) under `target/ha-venv`.
/// It is made with the system's Python, which the `postgres` user can run.
fn patroni_venv() -> Result<PathBuf> {
    let venv = root().join("target").join("ha-venv");
    let marker = venv.join("keyward-pins");
    let pins = PATRONI.join("\n");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(pins.as_str()) {
        return Ok(venv);
    }
    let _ = std::fs::remove_dir_all(&venv);
    exec(Command::new(system_python()?).args(["-m", "venv"]).arg(&venv))?;
    exec(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PATRONI),
    )?;
    std::fs::write(&marker, pins)?;
    Ok(venv)
}

/// Debian's Python: Patroni runs as the `postgres` user, who cannot reach a Python under `/root`.
fn system_python() -> Result<PathBuf> {
    let python = PathBuf::from("/usr/bin/python3");
    let ok = Command::new(&python).args(["-c", "import venv, ensurepip"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        bail!("Patroni needs Debian's python3 with venv (apt-get install python3 python3-venv)");
    }
    Ok(python)
}

/// The `postgres` user's uid and gid when this task runs as root (PostgreSQL refuses root), else
/// `None`: everything then runs as the current user.
fn postgres_user() -> Result<Option<(u32, u32)>> {
    if !postgres::is_root() {
        return Ok(None);
    }
    let id = |flag: &str| -> Result<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().context("no postgres user (apt-get install postgresql)")
    };
    Ok(Some((id("-u")?, id("-g")?)))
}

/// `cmd` run as the `postgres` user when this task runs as root.
fn as_postgres(cmd: &mut Command) -> Result<&mut Command> {
    if let Some((uid, gid)) = postgres_user()? {
        cmd.uid(uid).gid(gid);
    }
    Ok(cmd)
}

fn postmaster_pid(data: &Path) -> Result<u32> {
    let text = std::fs::read_to_string(data.join("postmaster.pid"))
        .with_context(|| format!("reading {}/postmaster.pid", data.display()))?;
    text.lines().next().unwrap_or_default().trim().parse().context("the postmaster's pid")
}

/// Whether process `pid` still runs: a zombie (one `up` started in this same process, exited but
/// not yet waited for) counts as gone.
fn alive(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next());
    state.is_some_and(|state| state != "Z")
}

fn which(tool: &str) -> Result<PathBuf> {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
        let path = Path::new(dir).join(tool);
        if path.exists() {
            return Ok(path);
        }
    }
    bail!("{tool} is not installed")
}

fn pgbouncer() -> Result<PathBuf> {
    which("pgbouncer").context("PgBouncer is not installed (apt-get install pgbouncer)")
}
