//! `kechuang-node run`: opens the store, serves the operator API on a
//! pre-bound loopback listener and runs the sync client until shutdown.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use kechuang_store::NodeStore;
use kechuang_types::{Clock, Hlc, Timestamp};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tracing::info;

use crate::Config;
use crate::events::Events;

/// Counters since the daemon started, shown by `status`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Whether a sync session with central is up.
    pub connected: AtomicBool,
    /// Records received in feed batches.
    pub feed_records: AtomicU64,
    /// Encoded bytes of records received in feed batches.
    pub feed_bytes: AtomicU64,
    /// Changes sent in pushes (resends included).
    pub pushed_records: AtomicU64,
    /// Encoded bytes of changes sent in pushes.
    pub pushed_bytes: AtomicU64,
    /// Whether the feed has announced that it is caught up with central's log.
    pub caught_up: AtomicBool,
    /// Repairs of id ranges whose digest differed from central's.
    pub repairs: AtomicU64,
    /// Records received in repairs.
    pub repaired_records: AtomicU64,
    /// How far this machine's clock was ahead of central's when the
    /// session opened (ms; negative when behind).
    pub clock_offset_ms: AtomicI64,
    /// When central last acknowledged a push or sent a feed batch (Unix
    /// ms; 0 for not since the daemon started).
    pub last_sync_ms: AtomicI64,
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Notes that central acknowledged or sent something just now.
    pub fn synced(&self) {
        self.last_sync_ms.store(Timestamp::now().0, Ordering::Relaxed);
    }
}

/// What the operator API and the sync client share.
#[derive(Debug)]
pub struct Node {
    /// The validated configuration.
    pub config: Config,
    /// The store.
    pub store: NodeStore,
    /// The clock; locked around every write that versions records.
    pub clock: Mutex<Clock>,
    /// Counters.
    pub stats: Stats,
    /// Woken when the outbox grows.
    pub outbox_grew: Notify,
    /// The channel to central while a session is up.
    pub central: watch::Sender<Option<Channel>>,
    /// The operator API token.
    pub token: String,
    /// What the operator is told as it happens.
    pub events: Events,
}

impl Node {
    /// Opens the node's store and resumes its clock.
    pub fn open(config: Config) -> anyhow::Result<Self> {
        check_identity(&config)?;
        std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
        let store = NodeStore::open(&config.data_dir)
            .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
        let clock = Clock::resume(store.clock()?.max(Hlc::ZERO));
        let token = kechuang_pki::ensure_token(&config.token_file())?;
        Ok(Self {
            token,
            config,
            store,
            clock: Mutex::new(clock),
            stats: Stats::default(),
            outbox_grew: Notify::new(),
            central: watch::channel(None).0,
            events: Events::default(),
        })
    }

    /// Locks the clock; a poisoned lock still holds a valid clock.
    pub fn clock(&self) -> std::sync::MutexGuard<'_, Clock> {
        self.clock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Days before its certificate expires that a node starts warning.
pub const RENEW_WITHIN_DAYS: i64 = 30;

impl Node {
    /// When this node's certificate (as on disk now) expires.
    pub fn certificate_expires(&self) -> anyhow::Result<Timestamp> {
        let pem = kechuang_pki::read(&self.config.cert)?;
        let der = tokio_rustls::rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
            .with_context(|| format!("cert: no certificate in {}", self.config.cert.display()))?;
        Ok(Timestamp(kechuang_pki::expiry_of(&der)?))
    }
}

/// The node's id, kind and region in `node.toml` must be what its
/// certificate says: central believes only the certificate, so a node that
/// thought otherwise would check its records against the wrong area.
fn check_identity(config: &Config) -> anyhow::Result<()> {
    let pem = kechuang_pki::read(&config.cert)?;
    let der = tokio_rustls::rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .with_context(|| format!("cert: no certificate in {}", config.cert.display()))?;
    let identity = kechuang_pki::identity_of(&der).with_context(|| format!("cert: {}", config.cert.display()))?;
    let mismatch = |field: &str, file: String, cert: String| {
        anyhow::anyhow!(
            "{field}: node.toml says {file} but the certificate says {cert}; the certificate is what central believes"
        )
    };
    if identity.id != config.id {
        return Err(mismatch("id", config.id.to_string(), identity.id.to_string()));
    }
    if identity.kind != config.kind {
        return Err(mismatch("kind", config.kind.to_string(), identity.kind.to_string()));
    }
    if identity.region != config.region {
        return Err(mismatch("region", config.region.to_string(), identity.region.to_string()));
    }
    Ok(())
}

/// Runs the node until `shutdown` is cancelled.
///
/// `console` is the web console's pre-bound listener, if it runs.
pub async fn run(
    config: Config,
    api: TcpListener,
    console: Option<TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let node = Arc::new(Node::open(config)?);
    let api_addr = api.local_addr()?;
    let console_addr = console.as_ref().map(TcpListener::local_addr).transpose()?;
    let server = tokio::spawn(crate::api::serve(node.clone(), api, shutdown.clone()));
    if let Some(listener) = console {
        let (node, shutdown) = (node.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::console::serve(node, listener, shutdown).await {
                tracing::error!(error = format!("{e:#}"), "the console stopped");
            }
        });
    }
    let client = tokio::spawn(crate::client::run(node.clone(), shutdown.clone()));
    if let Some(url) = node.config.notify_url.clone() {
        tokio::spawn(crate::notify::run(node.clone(), url, shutdown.clone()));
    }
    write_ready(&node.config, api_addr, console_addr)?;
    info!(node = %node.config.id, kind = %node.config.kind, region = %node.config.region, %api_addr, console = ?console_addr, "node running");
    if let Ok(expires) = node.certificate_expires() {
        let days = (expires.0 - Timestamp::now().0).div_euclid(86_400_000);
        if days <= RENEW_WITHIN_DAYS {
            tracing::warn!(expires = %expires.in_china(), days, "this node's certificate expires soon: ask the national office to renew it (kechuang-central renew)");
        }
    }

    let (server, client) = tokio::join!(server, client);
    server.context("operator API task")??;
    client.context("sync client task")?;
    node.store.flush().context("final flush")?;
    let _ = std::fs::remove_file(node.config.ready_file());
    info!("node stopped");
    Ok(())
}

fn write_ready(
    config: &Config,
    api: std::net::SocketAddr,
    console: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let mut fields = serde_json::Map::new();
    fields.insert("api".into(), api.to_string().into());
    if let Some(console) = console {
        fields.insert("console".into(), console.to_string().into());
    }
    kechuang_daemon::write_ready(&config.ready_file(), fields)
}
