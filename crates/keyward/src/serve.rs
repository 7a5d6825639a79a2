//! The three commands: open storage, bootstrap, and serve HTTP until a signal arrives.

use std::net::SocketAddr;
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

fn open_store(common: &Common, freshness: Duration) -> Result<Store> {
    secret_file::ensure_private_dir(&common.data_dir)?;
    let url = DatabaseUrl::parse(&common.database_url()).context("reading the database URL")?;
    let store = Store::open_with(&url, freshness).with_context(|| format!("opening {url}"))?;
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
    let url = DatabaseUrl::parse(&common.database_url()).context("reading the database URL")?;
    let store = Store::open(&url).with_context(|| format!("opening {url}"))?;
    let applied = store.migrate().with_context(|| format!("migrating {url}"))?;
    for version in &applied {
        println!("applied {version}");
    }
    println!("{url}: {} migration(s) applied, schema up to date", applied.len());
    Ok(())
}

/// `keyward init`.
pub fn init(common: &Common) -> Result<()> {
    secret_file::ensure_private_dir(&common.data_dir)?;
    let master = MasterKey::load_or_create(&common.master_key_file())?;
    let kw = keyward(open_store(common, storage::FRESHNESS)?, &master)?;
    match kw.bootstrap().context("creating the system account")? {
        Some(boot) => {
            tracing::info!(account_id = %boot.account_id, "created the system account and its admin key");
            println!("{}", boot.admin_key.expose());
            Ok(())
        }
        None => bail!("this database is already initialized; its admin key was shown when it was created"),
    }
}

/// `keyward serve`.
pub fn serve(common: &Common, args: &ServeArgs) -> Result<()> {
    secret_file::ensure_private_dir(&common.data_dir)?;
    let master = MasterKey::load_or_create(&common.master_key_file())?;
    let algorithm = match args.signing_algorithm {
        crate::cli::Algorithm::EdDSA => SigningAlgorithm::EdDsa,
        crate::cli::Algorithm::ES256 => SigningAlgorithm::Es256,
    };
    let issuer = args.issuer.clone().unwrap_or_else(|| format!("http://{}", args.listen));
    let kw = keyward(open_store(common, Duration::from_millis(args.cache_freshness_ms))?, &master)?
        .with_issuer(issuer)
        .with_tokens(algorithm, chrono::Duration::seconds(i64::from(args.access_token_ttl_seconds)));
    kw.ensure_signing_keys().context("creating the first signing keys")?;
    if let Some(boot) = kw.bootstrap().context("creating the system account")? {
        let path = common.data_dir.join("admin.key");
        secret_file::write(&path, format!("{}\n", boot.admin_key.expose()).as_bytes())
            .with_context(|| format!("writing the admin key to {}", path.display()))?;
        tracing::info!(path = %path.display(), account_id = %boot.account_id, "first start: the admin API key was written to this file");
    }
    let config = ApiConfig {
        keyward: kw.clone(),
        cursor_key: master.derive("keyward list cursors v1"),
        auth_limits: AuthLimits::default(),
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let rotation =
        (args.signing_key_rotation_days > 0).then(|| chrono::Duration::days(i64::from(args.signing_key_rotation_days)));
    let served = runtime.block_on(run(config, kw, args.listen, rotation));
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
            Ok(Ok(true)) => tracing::info!("rotated the signing keys on schedule"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "scheduled signing-key rotation failed; will retry"),
            Err(e) => tracing::warn!(error = %e, "scheduled signing-key rotation task failed"),
        }
    }
}

async fn run(config: ApiConfig, kw: Keyward, listen: SocketAddr, rotation: Option<chrono::Duration>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    tracing::info!(address = %local, "listening on http://{local}");
    let flusher = tokio::spawn(api::usage::flush_periodically(kw.clone(), api::usage::FLUSH_EVERY));
    let rotator = rotation.map(|period| tokio::spawn(rotate_on_schedule(kw.clone(), period)));
    let app = api::app(config).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.context("serving HTTP")?;
    flusher.abort();
    if let Some(rotator) = rotator {
        rotator.abort();
    }
    match api::usage::flush(&kw).await {
        Ok(n) => tracing::info!(keys = n, "recorded the last key usage"),
        Err(e) => tracing::error!(error = %e, "could not record the last key usage"),
    }
    tracing::info!("stopped: in-flight requests finished");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
