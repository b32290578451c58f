//! `kechuang-central run`: binds nothing itself; serves the sync service
//! and the admin API on listeners it is handed, until shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kechuang_proto::pb::{admin_server::AdminServer, sync_server::SyncServer};
use kechuang_store::CentralStore;
use kechuang_types::limits;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::Config;
use crate::admin::AdminService;
use crate::durability::Durability;
use crate::feed::Connections;
use crate::identity::Trust;
use crate::limit::RateLimit;
use crate::matcher::Matcher;
use crate::sync_service::SyncService;

/// What every request handler shares.
#[derive(Debug)]
pub struct State {
    /// The store.
    pub store: Arc<CentralStore>,
    /// Group commit and the durable log head.
    pub durability: Durability,
    /// Which nodes have a feed open.
    pub connections: Arc<Connections>,
    /// Certificate identities and revocations.
    pub trust: Trust,
    /// Per-node request rate limit.
    pub limit: RateLimit,
    /// Matching and routing.
    pub matcher: Arc<Matcher>,
    /// Each node's expected digest, as of a log position.
    pub digests: DigestCache,
    /// The end of the change log, shared by the feeds.
    pub tail: crate::tail::Tail,
    /// Cancelled when central shuts down.
    pub shutdown: CancellationToken,
    /// Background tasks (feeds), drained on shutdown.
    pub tasks: TaskTracker,
}

/// What each node should hold, remembered per log position: a node whose
/// records have not changed gets its digest without a scan.
#[derive(Debug, Default)]
pub struct DigestCache {
    entries: std::sync::Mutex<std::collections::HashMap<kechuang_types::NodeId, (u64, String)>>,
}

impl DigestCache {
    /// The digest of `node` if it was computed at log position `head`.
    pub fn get(&self, node: &kechuang_types::NodeId, head: u64) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(node).filter(|(at, _)| *at == head).map(|(_, d)| d.clone())
    }

    /// Remembers the digest of `node` at log position `head`.
    pub fn put(&self, node: kechuang_types::NodeId, head: u64, digest: String) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).insert(node, (head, digest));
    }
}

/// The pre-bound sockets central serves on.
#[derive(Debug)]
pub struct Listeners {
    /// For nodes.
    pub sync: TcpListener,
    /// For the admin API (loopback).
    pub admin: TcpListener,
}

impl Listeners {
    /// Binds the addresses in `config`.
    pub async fn bind(config: &Config) -> anyhow::Result<Self> {
        let sync =
            TcpListener::bind(config.listen).await.with_context(|| format!("listen: binding {}", config.listen))?;
        let admin = TcpListener::bind(config.admin_listen)
            .await
            .with_context(|| format!("admin_listen: binding {}", config.admin_listen))?;
        Ok(Self { sync, admin })
    }
}

/// Runs central until `shutdown` is cancelled, then drains and flushes.
pub async fn run(config: Config, listeners: Listeners, shutdown: CancellationToken) -> anyhow::Result<()> {
    let store = Arc::new(
        CentralStore::open(&config.data_dir)
            .with_context(|| format!("opening the store in {}", config.data_dir.display()))?,
    );
    let tls = kechuang_pki::server_tls(
        &kechuang_pki::read(&config.ca_cert)?,
        &kechuang_pki::read(&config.cert)?,
        &kechuang_pki::read(&config.key)?,
    );
    let matcher = Matcher::open(&config.index_dir, config.escalation)?;
    let state = Arc::new(State {
        matcher: Arc::new(matcher),
        digests: DigestCache::default(),
        tail: crate::tail::Tail::new(store.head()),
        trust: Trust::load(&store)?,
        limit: RateLimit::new(config.rate_per_node, config.burst_per_node),
        durability: Durability::new(store.clone()),
        store: store.clone(),
        connections: Arc::new(Connections::new(store.clone())),
        shutdown: shutdown.clone(),
        tasks: TaskTracker::new(),
    });
    state.tasks.spawn(crate::matcher::run(state.clone(), shutdown.clone()));
    state.tasks.spawn(crate::tail::follow(state.clone(), shutdown.clone()));
    let sync_addr = listeners.sync.local_addr()?;
    let admin_addr = listeners.admin.local_addr()?;

    let sync = tonic::transport::Server::builder()
        .tls_config(tls)
        .context("central's TLS configuration")?
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .add_service(
            SyncServer::new(SyncService::new(state.clone()))
                .max_decoding_message_size(limits::MESSAGE_BYTES)
                .max_encoding_message_size(limits::MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(TcpListenerStream::new(listeners.sync), shutdown.clone().cancelled_owned());
    let admin = tonic::transport::Server::builder()
        .add_service(AdminServer::new(AdminService::new(state.clone())).max_encoding_message_size(256 * 1024 * 1024))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listeners.admin), shutdown.clone().cancelled_owned());

    write_ready(&config, sync_addr, admin_addr)?;
    info!(%sync_addr, %admin_addr, records_log = store.head(), "central listening");
    let (sync, admin) = tokio::join!(sync, admin);
    sync.context("sync server")?;
    admin.context("admin server")?;

    state.tasks.close();
    state.tasks.wait().await;
    store.flush().context("final flush")?;
    let _ = std::fs::remove_file(config.ready_file());
    info!("central stopped");
    Ok(())
}

fn write_ready(config: &Config, sync: std::net::SocketAddr, admin: std::net::SocketAddr) -> anyhow::Result<()> {
    let mut fields = serde_json::Map::new();
    fields.insert("listen".into(), sync.to_string().into());
    fields.insert("admin".into(), admin.to_string().into());
    kechuang_daemon::write_ready(&config.ready_file(), fields)
}
