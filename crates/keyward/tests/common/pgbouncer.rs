//! Debian's PgBouncer in transaction pooling in front of a test's database, for the tests that
//! run nodes through it (`ha.rs`, `crash_cycles.rs`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use storage::testing::TestDb;

/// Debian's PgBouncer, started here in transaction pooling on a free port in front of the test
/// server, as the `postgres` user (it refuses to run as root). `None` when it is not installed and
/// `KEYWARD_REQUIRE_PGBOUNCER` is not set.
pub struct PgBouncer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PgBouncer {
    pub fn start(db: &TestDb) -> Option<Self> {
        let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].into_iter().find(|p| Path::new(p).exists());
        let Some(binary) = binary else {
            assert!(
                std::env::var("KEYWARD_REQUIRE_PGBOUNCER").is_err(),
                "PgBouncer is required (KEYWARD_REQUIRE_PGBOUNCER) but not installed: apt-get install pgbouncer"
            );
            eprintln!("SKIPPED: the PgBouncer test, pgbouncer is not installed (apt-get install pgbouncer)");
            return None;
        };
        let server = db.url_string();
        let (_, rest) = server.split_once('@').unwrap();
        let (host_port, _) = rest.split_once('/').unwrap();
        let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "5432"));
        let dir = tempfile::tempdir().unwrap();
        // PgBouncer drops to the `postgres` user, which must reach its config file.
        set_mode(dir.path(), 0o777);
        let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let ini = dir.path().join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host={host} port={port} user=postgres\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
                 listen_port = {listen}\nunix_socket_dir =\nauth_type = any\npool_mode = transaction\n\
                 default_pool_size = 3\nmax_client_conn = 200\n\
                 ignore_startup_parameters = extra_float_digits\n"
            ),
        )
        .unwrap();
        set_mode(&ini, 0o644);
        let mut cmd = Command::new(binary);
        // As root it must be told whom to run as; as anyone else it runs as itself.
        if is_root() {
            cmd.args(["-u", "postgres"]);
        }
        let mut child = cmd.arg(&ini).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        // PgBouncer logs to stderr too; it is ready once it says its process is up. The rest of
        // its log is drained on a thread, so that it never blocks on a full pipe.
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        loop {
            let line = lines.next().and_then(Result::ok);
            let Some(line) = line else { panic!("PgBouncer exited before it was up: {seen:#?}") };
            let up = line.contains("process up");
            seen.push(line);
            if up {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        Some(Self { child, port: listen, _dir: dir })
    }

    /// `url` with its host and port replaced by PgBouncer's.
    pub fn url_for(&self, url: &str) -> String {
        let (scheme_user, rest) = url.split_once('@').unwrap();
        let (_, path) = rest.split_once('/').unwrap();
        format!("{scheme_user}@127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
