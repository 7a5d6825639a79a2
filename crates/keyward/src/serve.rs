//! The three commands: open storage, bootstrap, and serve HTTP until a signal arrives.

use crate::http_server::ConnectionLimits;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use api::{ApiConfig, AuthLimits};
use domain::sealing::Sealer;
use domain::service::Keyward;
use domain::signing_key::SigningAlgorithm;
use domain::{SystemClock, SystemEntropy};
use storage::{DatabaseUrl, Store};

use crate::cli::{Common, ServeArgs};
use crate::master_key::MasterKey;
use crate::secret_file;

/// Opens and migrates the store: with its background threads for `serve` (its cache and change
/// feed options given), without any for a one-shot command (`None`).
fn open_store(common: &Common, serving: Option<storage::Options>) -> Result<Store> {
    secret_file::ensure_private_dir(&common.data_dir)?;
    let url = DatabaseUrl::parse(&common.database_url()).context("reading the database URL")?;
    let options = storage::Options { prepared_statements: common.database_prepared_statements, ..Default::default() };
    let store = match serving {
        Some(serving) => Store::open_with_options(&url, &serving),
        None => Store::open_for_command(&url, &options),
    }
    .with_context(|| format!("opening {url}"))?;
    let applied = store.migrate().with_context(|| format!("migrating {url}"))?;
    tracing::info!(database = %url, migrations_applied = applied.len(), "database ready");
    Ok(store)
}

/// The domain over `store`, sealing secrets under a key derived from the master key, after
/// checking that the master key is the one the database was set up with.
fn keyward(store: Store, master: &MasterKey) -> Result<Keyward> {
    let sealer = Sealer::new(&master.derive_key("keyward sealing v1"));
    let kw = Keyward::new(Arc::new(store), Arc::new(SystemClock), Arc::new(SystemEntropy::new())).with_sealer(sealer);
    kw.check_master_key().map_err(|e| match e {
        domain::Error::WrongMasterKey => anyhow::anyhow!(
            "the master key does not match the one this database was set up with: check KEYWARD_MASTER_KEY_FILE \
             (every node of one deployment needs the same master key file)"
        ),
        other => anyhow::Error::new(other).context("checking the master key"),
    })?;
    Ok(kw)
}

/// `keyward migrate`.
pub fn migrate(common: &Common) -> Result<()> {
    secret_file::ensure_private_dir(&common.data_dir)?;
    let _lock = lock_data_dir(common)?;
    let url = DatabaseUrl::parse(&common.database_url()).context("reading the database URL")?;
    let options = storage::Options { prepared_statements: common.database_prepared_statements, ..Default::default() };
    let store = Store::open_for_command(&url, &options).with_context(|| format!("opening {url}"))?;
    let applied = store.migrate().with_context(|| format!("migrating {url}"))?;
    for version in &applied {
        println!("applied {version}");
    }
    println!("{url}: {} migration(s) applied, schema up to date", applied.len());
    Ok(())
}

/// The master key and the domain over the configured store: a new master key is written only
/// once the database has accepted it.
fn open_keyward(common: &Common, serving: Option<storage::Options>) -> Result<(MasterKey, Keyward)> {
    let path = common.master_key_file();
    let (master, new) = MasterKey::load_or_generate(&path)?;
    let kw = keyward(open_store(common, serving)?, &master)?;
    if new {
        master.save(&path)?;
    }
    Ok((master, kw))
}

/// Takes the data directory's lock when the database is SQLite in it: one process per SQLite
/// database, or the second would compete for its write lock and its group commit. The lock lasts
/// as long as the returned file is open.
fn lock_data_dir(common: &Common) -> Result<Option<std::fs::File>> {
    if !common.database_url().starts_with("sqlite:") {
        return Ok(None);
    }
    let path = common.data_dir.join("keyward.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another keyward process is using the data directory {} (it holds {}); stop it first",
            common.data_dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

/// Where to write a new admin key: `admin.key`, or, if that file already holds another
/// database's key, `admin.<system account id>.key`. An existing key file is never overwritten.
fn admin_key_path(common: &Common, account: domain::id::AccountId) -> std::path::PathBuf {
    let default = common.data_dir.join("admin.key");
    if default.exists() { common.data_dir.join(format!("admin.{account}.key")) } else { default }
}

/// `keyward init`.
pub fn init(common: &Common) -> Result<()> {
    secret_file::ensure_private_dir(&common.data_dir)?;
    let _lock = lock_data_dir(common)?;
    let (_, kw) = open_keyward(common, None)?;
    match kw.bootstrap().context("creating the system account")? {
        Some(boot) => {
            tracing::info!(account_id = %boot.account_id, "created the system account; its admin key is printed on stdout, this once, and written nowhere");
            println!("{}", boot.admin_key.expose());
            Ok(())
        }
        None => bail!("this database is already initialized; its admin key was shown when it was created"),
    }
}

/// `keyward admin reset-key`: works on the database directly, so it needs no running server (on
/// SQLite it refuses to run beside one, which holds the data directory).
pub fn reset_key(common: &Common, revoke_old: bool) -> Result<()> {
    secret_file::ensure_private_dir(&common.data_dir)?;
    let _lock = lock_data_dir(common)?;
    let (_, kw) = open_keyward(common, None)?;
    let issued = kw.reset_admin_key(revoke_old).context("making a new admin key")?;
    tracing::info!(account_id = %issued.account_id, revoked_others = revoke_old, "made a new admin key; it is printed on stdout, this once");
    println!("{}", issued.admin_key.expose());
    Ok(())
}

/// `keyward admin rotate-master-key`: writes the new key beside the old one first, re-seals
/// everything in one transaction, and only then moves the old key file aside (to `.old`) and the
/// new one into place. If the database refuses, the new file is removed and nothing changed.
pub fn rotate_master_key(common: &Common) -> Result<()> {
    secret_file::ensure_private_dir(&common.data_dir)?;
    let _lock = lock_data_dir(common)?;
    let path = common.master_key_file();
    let (current, new_file) = MasterKey::load_or_generate(&path)?;
    if new_file {
        bail!("there is no master key at {}: nothing is sealed under one yet", path.display());
    }
    let kw = keyward(open_store(common, None)?, &current)?;
    let next = MasterKey::generate();
    let pending = path.with_extension("key.new");
    next.save(&pending)?;
    let resealed = match kw.rotate_master_key(&Sealer::new(&next.derive_key("keyward sealing v1"))) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&pending);
            return Err(anyhow::Error::new(e).context("re-sealing under the new master key; nothing changed"));
        }
    };
    let old = path.with_extension("key.old");
    std::fs::rename(&path, &old).with_context(|| format!("keeping the previous key as {}", old.display()))?;
    std::fs::rename(&pending, &path).with_context(|| format!("moving the new key to {}", path.display()))?;
    tracing::info!(resealed, path = %path.display(), previous = %old.display(), "rotated the master key");
    println!(
        "re-sealed {resealed} value(s) under a new master key in {}; the previous key is kept in {}.\n\
         Give every node the new key file before it starts again: a node with the old one stops at start-up.",
        path.display(),
        old.display()
    );
    Ok(())
}

/// The other `keyward admin` commands: a command that writes takes the SQLite data directory's
/// lock, so it refuses to run beside a server; a listing does not need it.
pub fn admin(common: &Common, args: crate::cli::AdminArgs) -> Result<()> {
    secret_file::ensure_private_dir(&common.data_dir)?;
    let _lock = if args.command.writes() { lock_data_dir(common)? } else { None };
    let (_, kw) = open_keyward(common, None)?;
    crate::admin::run(&kw, args.command, args.json)
}

/// `keyward serve`.
pub fn serve(common: &Common, args: &ServeArgs) -> Result<()> {
    secret_file::ensure_private_dir(&common.data_dir)?;
    let _lock = lock_data_dir(common)?;
    // Take the address first, so that a taken port stops start-up before anything is created.
    let listener = std::net::TcpListener::bind(args.listen).with_context(|| format!("listening on {}", args.listen))?;
    let algorithm = match args.signing_algorithm {
        crate::cli::Algorithm::EdDSA => SigningAlgorithm::EdDsa,
        crate::cli::Algorithm::ES256 => SigningAlgorithm::Es256,
    };
    // The bound address, not the asked one: `--listen 127.0.0.1:0` names the port it got.
    let bound = listener.local_addr().context("reading the bound address")?;
    let issuer = args.issuer.clone().unwrap_or_else(|| format!("http://{bound}"));
    let serving = storage::Options {
        freshness: Duration::from_millis(args.cache_freshness_ms),
        stale_if_unavailable: Duration::from_millis(args.cache_stale_if_unavailable_ms),
        change_feed_url: args.change_feed_database_url.clone(),
        prepared_statements: common.database_prepared_statements,
        read_url: args
            .read_database_url
            .as_deref()
            .map(DatabaseUrl::parse)
            .transpose()
            .context("reading the read replica's URL")?,
        read_max_lag: Duration::from_millis(args.read_max_lag_ms),
    };
    let (master, kw) = open_keyward(common, Some(serving))?;
    let limits = outbound::Limits { loopback_only: args.federation_loopback_only, ..outbound::Limits::default() };
    let issuer_keys = outbound::IssuerKeyFetcher::new(limits).map_err(anyhow::Error::msg)?;
    let scanner_keys = outbound::ScannerKeyFetcher::new(args.secret_scanning_keys_url.clone(), limits);
    let kw = kw
        .with_issuer_keys(Arc::new(issuer_keys))
        .with_scanner_keys(Arc::new(scanner_keys))
        .with_webhooks(domain::service::WebhookPolicy {
            sender: Arc::new(outbound::WebhookPoster::new(outbound::Limits::default(), args.webhooks_allow_private)),
            allow_private: args.webhooks_allow_private,
        })
        .with_failure_burst(args.auth_failure_burst)
        .with_dpop_nonces(args.dpop_nonces)
        .with_issuer(issuer)
        .with_tokens(algorithm, chrono::Duration::seconds(i64::from(args.access_token_ttl_seconds)))
        .with_usage_retention(args.usage_retention_days);
    kw.ensure_signing_keys().context("creating the first signing keys")?;
    if let Some(boot) = kw.bootstrap().context("creating the system account")? {
        let path = admin_key_path(common, boot.account_id);
        secret_file::write(&path, format!("{}\n", boot.admin_key.expose()).as_bytes())
            .with_context(|| format!("writing the admin key to {}", path.display()))?;
        tracing::info!(path = %path.display(), account_id = %boot.account_id, "first start: the admin API key was written to this file");
    }
    let config = ApiConfig {
        keyward: kw.clone(),
        cursor_key: master.derive("keyward list cursors v1"),
        auth_limits: AuthLimits {
            free: args.auth_failures_free.min(args.auth_failures_max),
            max: args.auth_failures_max,
            ..AuthLimits::default()
        },
        leak_reports_per_minute: args.leak_reports_per_minute,
        trusted_proxies: args.trusted_proxies.clone(),
        body_limits: api::BodyLimits {
            max_bytes: args.max_body_bytes as usize,
            max_json_depth: args.max_json_depth as usize,
        },
        blocking_slots: storage::blocking_slots(DatabaseUrl::parse(&common.database_url())?.backend()),
    };
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_millis(args.header_read_timeout_ms),
        max_header_bytes: args.max_header_bytes as usize,
        max_connections: args.max_connections as usize,
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let rotation =
        (args.signing_key_rotation_days > 0).then(|| chrono::Duration::days(i64::from(args.signing_key_rotation_days)));
    let deadline = Duration::from_secs(args.shutdown_timeout);
    let flush_every = Duration::from_millis(args.usage_flush_ms);
    let served = runtime.block_on(run(config, kw, listener, limits, rotation, deadline, flush_every));
    // Let blocking tasks finish and every database connection close while the process is still
    // whole: libpq's TLS (OpenSSL) must not be in use when the exit handlers tear it down.
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    served
}

/// Rotates the signing keys whenever the active one is older than `period`; checks hourly.
async fn rotate_on_schedule(kw: Keyward, period: chrono::Duration) {
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        ticker.tick().await;
        let kw = kw.clone();
        match tokio::task::spawn_blocking(move || kw.rotate_signing_keys_if_due(period)).await {
            Ok(Ok(true)) => {
                api::metrics::signing_key_rotated("schedule");
                tracing::info!("rotated the signing keys on schedule");
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "scheduled signing-key rotation failed; will retry"),
            Err(e) => tracing::warn!(error = %e, "scheduled signing-key rotation task failed"),
        }
    }
}

async fn run(
    config: ApiConfig,
    kw: Keyward,
    listener: std::net::TcpListener,
    limits: ConnectionLimits,
    rotation: Option<chrono::Duration>,
    deadline: Duration,
    flush_every: Duration,
) -> Result<()> {
    listener.set_nonblocking(true).context("preparing the listener")?;
    let listener = tokio::net::TcpListener::from_std(listener).context("preparing the listener")?;
    let shutdown = shutdown_signal()?;
    let local = listener.local_addr().context("reading the bound address")?;
    tracing::info!(address = %local, "listening on http://{local}");
    let flusher = tokio::spawn(api::usage::flush_periodically(kw.clone(), flush_every));
    let upkeep = tokio::spawn(api::metrics::upkeep_periodically(Duration::from_secs(5)));
    let rotator = rotation.map(|period| tokio::spawn(rotate_on_schedule(kw.clone(), period)));
    let deliverer = tokio::spawn(api::webhooks::deliver_periodically(kw.clone(), api::webhooks::DELIVER_EVERY));
    let app = api::app(config);
    // Once a signal arrives, in-flight requests get `deadline` to finish.
    let (signalled, heard) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        let _ = signalled.send(());
    };
    let server = crate::http_server::serve(listener, app, limits, shutdown);
    let expiry = async move {
        match heard.await {
            Ok(()) => tokio::time::sleep(deadline).await,
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let cut = tokio::select! {
        () = server => false,
        () = expiry => true,
    };
    flusher.abort();
    upkeep.abort();
    deliverer.abort();
    if let Some(rotator) = rotator {
        rotator.abort();
    }
    match api::usage::flush(&kw).await {
        Ok(n) => tracing::info!(keys = n, "recorded the last key usage"),
        Err(e) => tracing::error!(error = %e, "could not record the last key usage"),
    }
    if cut {
        tracing::error!(
            deadline_s = deadline.as_secs(),
            "stopped: in-flight requests were cut at the shutdown deadline"
        );
        bail!(
            "in-flight requests did not finish within {} s of the shutdown signal; they were cut",
            deadline.as_secs()
        );
    }
    tracing::info!("stopped: in-flight requests finished");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled, so a signal that arrives right after start-up is not missed.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing in-flight requests");
    })
}
