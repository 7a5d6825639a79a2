//! Command-line flags and their `KEYWARD_*` environment variables.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

/// Keyward: identities and credentials for machines.
#[derive(Debug, Parser)]
#[command(name = "keyward", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service. On an empty database, create the system account and write its admin key
    /// to `<data dir>/admin.key` (or, if that file exists, `admin.<system account id>.key`).
    Serve(ServeArgs),
    /// Create the system account and its admin key on a new database, and print the key once.
    Init,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Operator commands on the configured database, without a running server.
    Admin(AdminArgs),
}

/// `keyward admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// Operator commands: the same rules and audit as the HTTP API, acting as a system administrator
/// (audit actor `system:cli`).
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Break-glass: a new admin API key for the system account's `root` service account, printed
    /// once on stdout and audited as `system:break-glass`.
    ResetKey {
        /// Also disable every other key of `root`.
        #[arg(long)]
        revoke_old: bool,
    },
    /// Re-seals every secret under a new master key, in one transaction. The previous key file is
    /// kept as `<master key file>.old` once the database holds the new one.
    RotateMasterKey,
    /// Accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Service accounts.
    #[command(subcommand)]
    ServiceAccounts(ServiceAccountsCommand),
    /// API keys.
    #[command(subcommand)]
    ApiKeys(ApiKeysCommand),
    /// Keyward's signing keys.
    #[command(subcommand)]
    SigningKeys(SigningKeysCommand),
}

impl AdminCommand {
    /// Whether the command changes the database (and so may not run beside a SQLite server).
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            AdminCommand::Accounts(AccountsCommand::List)
                | AdminCommand::ServiceAccounts(ServiceAccountsCommand::List { .. })
                | AdminCommand::ApiKeys(ApiKeysCommand::List { .. })
                | AdminCommand::SigningKeys(SigningKeysCommand::List)
        )
    }
}

/// `keyward admin accounts`.
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Every account.
    List,
    /// A new account.
    Create {
        /// Its name.
        name: String,
    },
}

/// `keyward admin service-accounts`.
#[derive(Debug, Subcommand)]
pub enum ServiceAccountsCommand {
    /// The service accounts of an account.
    List {
        /// The account's id.
        #[arg(long)]
        account: String,
    },
    /// A new service account.
    Create {
        /// The account's id.
        #[arg(long)]
        account: String,
        /// Its name.
        name: String,
        /// A description.
        #[arg(long)]
        description: Option<String>,
    },
}

/// `keyward admin api-keys`.
#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// The API keys of an account, or of one service account.
    List {
        /// The account's id.
        #[arg(long)]
        account: String,
        /// Only this service account's keys.
        #[arg(long)]
        service_account: Option<String>,
    },
    /// A new API key; its secret is printed this once.
    Create {
        /// The account's id.
        #[arg(long)]
        account: String,
        /// The service account's id.
        #[arg(long)]
        service_account: String,
        /// Its name.
        name: String,
        /// A scope to grant (repeat for several).
        #[arg(long)]
        scope: Vec<String>,
    },
    /// Disables an API key (it stops working at once; delete it through the API).
    Revoke {
        /// The account's id.
        #[arg(long)]
        account: String,
        /// The service account's id.
        #[arg(long)]
        service_account: String,
        /// The key's id or name.
        key: String,
    },
}

/// `keyward admin signing-keys`.
#[derive(Debug, Subcommand)]
pub enum SigningKeysCommand {
    /// Keyward's signing keys and their states.
    List,
    /// Rotates them now: next becomes active, active becomes retiring.
    Rotate,
}

/// Settings every command shares.
#[derive(Debug, Args)]
pub struct Common {
    /// Where Keyward keeps its SQLite database, master key and admin key.
    #[arg(long, global = true, env = "KEYWARD_DATA_DIR", default_value = "keyward-data")]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; defaults to `sqlite://<data dir>/keyward.db`.
    #[arg(long, global = true, env = "KEYWARD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Whether PostgreSQL connections keep named prepared statements; `false` behind a pooler in
    /// transaction mode that cannot track them (PgBouncer before 1.21).
    #[arg(long, global = true, env = "KEYWARD_DATABASE_PREPARED_STATEMENTS", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub database_prepared_statements: bool,
    /// The file holding the 256-bit master key; defaults to `<data dir>/master.key`, generated
    /// (mode 0600) if missing.
    #[arg(long, global = true, env = "KEYWARD_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, env = "KEYWARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, in `tracing` syntax (`info`, `keyward=debug,info`, ...).
    #[arg(long, global = true, env = "KEYWARD_LOG", default_value = "info")]
    pub log: String,
}

/// Settings of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the change feed (PostgreSQL `LISTEN`) connects, when not at the database URL: a
    /// pooler in transaction mode cannot hold a `LISTEN`, so point this at the server itself.
    #[arg(long, env = "KEYWARD_CHANGE_FEED_DATABASE_URL", hide_env_values = true)]
    pub change_feed_database_url: Option<String>,
    /// A read replica (PostgreSQL hot standbys, `target_session_attrs=any` or `prefer-standby`)
    /// for the reads that may lag: cache misses of authentication and verification, and lists.
    /// Never for anything read inside a write.
    #[arg(long, env = "KEYWARD_READ_DATABASE_URL", hide_env_values = true)]
    pub read_database_url: Option<String>,
    /// How far behind the primary the read replica may be, in milliseconds, measured: a read that
    /// could be staler goes to the primary.
    #[arg(long, env = "KEYWARD_READ_MAX_LAG_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub read_max_lag_ms: u64,
    /// The address to listen on.
    #[arg(long, env = "KEYWARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The public base URL of this service, the `iss` of its tokens and the base of DPoP proofs'
    /// `htu`; defaults to `http://` and the address it listens on (the port it got, for port 0).
    #[arg(long, env = "KEYWARD_ISSUER")]
    pub issuer: Option<String>,
    /// The algorithm of new signing keys.
    #[arg(long, env = "KEYWARD_SIGNING_ALGORITHM", value_enum, default_value_t = Algorithm::EdDSA)]
    pub signing_algorithm: Algorithm,
    /// Rotate the signing keys when the active one has signed for this many days (0: never).
    #[arg(long, env = "KEYWARD_SIGNING_KEY_ROTATION_DAYS", default_value_t = 30)]
    pub signing_key_rotation_days: u32,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "KEYWARD_ACCESS_TOKEN_TTL_SECONDS", default_value_t = 3600,
          value_parser = clap::value_parser!(u32).range(60..=86_400))]
    pub access_token_ttl_seconds: u32,
    /// How long a cached key lookup may be served, in milliseconds: the longest a change made on
    /// another node goes unseen here if its PostgreSQL notification is lost (normally it arrives
    /// within milliseconds). Also how often a busy key is read again in the background (at half).
    #[arg(long, env = "KEYWARD_CACHE_FRESHNESS_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub cache_freshness_ms: u64,
    /// How long past its freshness a cached key lookup still answers while the database cannot be
    /// reached, in milliseconds: verification of recently used keys goes on through a failover.
    /// A node cut off from the database serves what it last read for this long, then answers 503;
    /// 0 answers 503 at once.
    #[arg(long, env = "KEYWARD_CACHE_STALE_IF_UNAVAILABLE_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub cache_stale_if_unavailable_ms: u64,
    /// Days that per-key hourly usage counts are kept; older ones are forgotten hourly.
    #[arg(long, env = "KEYWARD_USAGE_RETENTION_DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub usage_retention_days: u32,
    /// Proxies (comma-separated addresses or networks such as `10.0.0.0/8`) whose `Forwarded` and
    /// `X-Forwarded-For` headers are believed for the limiter, `last_used_ip` and logs.
    #[arg(long, env = "KEYWARD_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: api::TrustedProxies,
    /// Failed authentications per client address (and per credential id) per minute that are
    /// answered without delay; each further one is delayed 100 ms more.
    #[arg(long, env = "KEYWARD_AUTH_FAILURES_FREE", default_value_t = 5)]
    pub auth_failures_free: u32,
    /// Failed authentications per client address (and per credential id) per minute from which
    /// further failures are answered 429 until the minute ends. Valid credentials are never
    /// refused by the limiter.
    #[arg(long, env = "KEYWARD_AUTH_FAILURES_MAX", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_failures_max: u32,
    /// Milliseconds a client may take to send a request's headers before its connection is
    /// closed (also the longest a kept-alive connection may sit idle).
    #[arg(long, env = "KEYWARD_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub header_read_timeout_ms: u64,
    /// The largest request head (request line and headers) accepted, in bytes; larger get 431.
    #[arg(long, env = "KEYWARD_MAX_HEADER_BYTES", default_value_t = 16_384,
          value_parser = clap::value_parser!(u32).range(1024..=1_048_576))]
    pub max_header_bytes: u32,
    /// The most connections open at once; more wait in the listen backlog until one closes.
    #[arg(long, env = "KEYWARD_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// The largest request body accepted, in bytes; larger get 413.
    #[arg(long, env = "KEYWARD_MAX_BODY_BYTES", default_value_t = 65_536,
          value_parser = clap::value_parser!(u32).range(1024..=16_777_216))]
    pub max_body_bytes: u32,
    /// The deepest nesting of JSON arrays and objects accepted in a body; deeper get 400.
    #[arg(long, env = "KEYWARD_MAX_JSON_DEPTH", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=128))]
    pub max_json_depth: u32,
    /// Seconds in-flight requests may take to finish after SIGTERM or SIGINT; past that they are
    /// cut and the process exits non-zero (after recording the last key usage).
    #[arg(long, env = "KEYWARD_SHUTDOWN_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub shutdown_timeout: u64,
    /// Fetch federated issuers' keys only from loopback addresses: for test suites and trials that
    /// must send nothing off the machine. A federated credential naming another issuer then
    /// answers its exchanges with 503 `temporarily_unavailable`. (`KEYWARD_FEDERATION_LOOPBACK_ONLY=true`.)
    #[arg(long, env = "KEYWARD_FEDERATION_LOOPBACK_ONLY")]
    pub federation_loopback_only: bool,
    /// Where the public keys that sign secret-scanning reports are published (GitHub's by
    /// default). Reports to `/v1/secret-scanning/github` are checked against them. Plain http is
    /// fetched only from loopback addresses.
    #[arg(long, env = "KEYWARD_SECRET_SCANNING_KEYS_URL", default_value = outbound::GITHUB_SECRET_SCANNING_KEYS)]
    pub secret_scanning_keys_url: String,
    /// Leak reports (`/v1/credentials/revoke` and `/v1/secret-scanning/github`) one client address
    /// may send per minute; more are answered 429.
    #[arg(long, env = "KEYWARD_LEAK_REPORTS_PER_MINUTE", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub leak_reports_per_minute: u32,
    /// Let webhook endpoints name loopback and private addresses: for tests and trials on one
    /// machine, never for a deployment others can add webhooks to. (`KEYWARD_WEBHOOKS_ALLOW_PRIVATE=true`.)
    #[arg(long, env = "KEYWARD_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: bool,
    /// Refusals of one credential within a clock minute (on one node) that make a burst, which
    /// its account's webhooks are told of (`auth.failure_burst`).
    #[arg(long, env = "KEYWARD_AUTH_FAILURE_BURST", default_value_t = domain::service::DEFAULT_FAILURE_BURST,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_failure_burst: u32,
    /// Require every DPoP proof to carry a server nonce (RFC 9449 §8), handed out in the
    /// `DPoP-Nonce` header: a proof made ahead of time then cannot be used. (`KEYWARD_DPOP_NONCES=true`.)
    #[arg(long, env = "KEYWARD_DPOP_NONCES")]
    pub dpop_nonces: bool,
    /// How often (milliseconds) collected key usage is written, and usage-limit counters are
    /// reconciled with the other nodes: a shorter interval narrows how far several nodes together
    /// can overshoot a rate limit, for one more small write per interval.
    #[arg(long, env = "KEYWARD_USAGE_FLUSH_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub usage_flush_ms: u64,
}

/// Signature algorithms for Keyward's own signing keys.
#[derive(Debug, Clone, Copy, ValueEnum)]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    /// Ed25519.
    #[value(name = "EdDSA")]
    EdDSA,
    /// ECDSA P-256.
    #[value(name = "ES256")]
    ES256,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Common {
    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("keyward.db").display()))
    }

    /// The master key file in effect.
    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file.clone().unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}

impl Cli {
    /// Sends structured logs to standard error. Nothing logged ever includes a credential.
    pub fn init_logging(&self) {
        let filter = EnvFilter::try_new(&self.common.log).unwrap_or_else(|_| EnvFilter::new("info"));
        let ansi = std::io::stderr().is_terminal();
        let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
        match self.common.log_format {
            LogFormat::Text => builder.init(),
            LogFormat::Json => builder.json().flatten_event(true).init(),
        }
    }
}
