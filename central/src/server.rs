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
use tonic::service::interceptor::InterceptedService;
use tracing::info;

use crate::Config;
use crate::admin::AdminService;
use crate::durability::Durability;
use crate::feed::Feeds;
use crate::identity::Trust;
use crate::limit::RateLimit;
use crate::listener::Gate;
use crate::matcher::Matcher;
use crate::sync_service::{Digests, SyncService};

/// Concurrent requests (HTTP/2 streams) one connection may have open.
const STREAMS_PER_CONNECTION: u32 = 32;

/// What every request handler shares.
#[derive(Debug)]
pub struct State {
    /// The store.
    pub store: Arc<CentralStore>,
    /// Group commit and the durable log head.
    pub durability: Durability,
    /// Each node's open feed.
    pub feeds: Arc<Feeds>,
    /// Open connections per node certificate.
    pub gate: Arc<Gate>,
    /// Certificate identities and revocations.
    pub trust: Trust,
    /// Per-node request rate limit.
    pub limit: RateLimit,
    /// Per-node budget of records scanned.
    pub scans: RateLimit,
    /// How far ahead of central's clock a pushed version may be.
    pub max_clock_skew: Duration,
    /// How long a stream may go unread before its connection is cut.
    pub feed_stall: Duration,
    /// Matching and routing.
    pub matcher: Arc<Matcher>,
    /// Each node's expected digest, as of a log position.
    pub digests: DigestCache,
    /// The order each node's pipelined pushes are applied in.
    pub turns: crate::turns::Turns,
    /// The end of the change log, shared by the feeds.
    pub tail: crate::tail::Tail,
    /// Each station's software, certificate expiry and feed position.
    pub roster: crate::roster::Roster,
    /// Pushes and refusals since start.
    pub counters: crate::roster::Counters,
    /// The programme's figures, kept up to date from the log and history.
    pub ledger: crate::stats::LiveLedger,
    /// Cancelled when central shuts down.
    pub shutdown: CancellationToken,
    /// Background tasks (feeds), drained on shutdown.
    pub tasks: TaskTracker,
}

/// What each node should hold, remembered per log position: a node whose
/// records have not changed gets its digests without a scan, and at most
/// one scan per node runs at a time.
#[derive(Debug, Default)]
pub struct DigestCache {
    entries: std::sync::Mutex<std::collections::HashMap<kechuang_types::NodeId, (u64, Arc<Digests>)>>,
    scanning: std::sync::Mutex<std::collections::HashMap<kechuang_types::NodeId, Arc<tokio::sync::Mutex<()>>>>,
}

impl DigestCache {
    /// The digests of `node` if they were computed at log position `head`.
    pub fn get(&self, node: &kechuang_types::NodeId, head: u64) -> Option<Arc<Digests>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(node).filter(|(at, _)| *at == head).map(|(_, d)| d.clone())
    }

    /// Remembers the digests of `node` at log position `head`.
    pub fn put(&self, node: kechuang_types::NodeId, head: u64, digest: Arc<Digests>) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).insert(node, (head, digest));
    }

    /// The right to scan for `node`, once no other scan for it runs. The
    /// scan keeps it until done, even when the caller has gone.
    pub async fn scan_turn(&self, node: &kechuang_types::NodeId) -> tokio::sync::OwnedMutexGuard<()> {
        let turn = self.scanning.lock().unwrap_or_else(|p| p.into_inner()).entry(node.clone()).or_default().clone();
        turn.lock_owned().await
    }
}

/// The pre-bound sockets central serves on.
#[derive(Debug)]
pub struct Listeners {
    /// For nodes.
    pub sync: TcpListener,
    /// For the admin API (loopback).
    pub admin: TcpListener,
    /// For the dashboard.
    pub dashboard: TcpListener,
}

impl Listeners {
    /// Binds the addresses in `config`.
    pub async fn bind(config: &Config) -> anyhow::Result<Self> {
        let sync =
            TcpListener::bind(config.listen).await.with_context(|| format!("listen: binding {}", config.listen))?;
        let admin = TcpListener::bind(config.admin_listen)
            .await
            .with_context(|| format!("admin_listen: binding {}", config.admin_listen))?;
        let dashboard = TcpListener::bind(config.dashboard_listen)
            .await
            .with_context(|| format!("dashboard_listen: binding {}", config.dashboard_listen))?;
        Ok(Self { sync, admin, dashboard })
    }
}

/// Runs central until `shutdown` is cancelled, then drains and flushes.
pub async fn run(config: Config, listeners: Listeners, shutdown: CancellationToken) -> anyhow::Result<()> {
    let store =
        Arc::new(CentralStore::open_backing(&config.store).with_context(|| format!("opening the {}", config.store))?);
    let tls = kechuang_pki::server_config(
        &kechuang_pki::read(&config.ca_cert)?,
        &kechuang_pki::read(&config.cert)?,
        &kechuang_pki::read(&config.key)?,
    )?;
    let admin_token = kechuang_pki::ensure_token(&config.admin_token)?;
    let matcher = Matcher::open(&config.index_dir, config.escalation, config.proposal_ttl, config.max_clock_skew)?;
    let state = Arc::new(State {
        matcher: Arc::new(matcher),
        digests: DigestCache::default(),
        turns: crate::turns::Turns::default(),
        tail: crate::tail::Tail::new(store.head()),
        roster: crate::roster::Roster::default(),
        counters: crate::roster::Counters::default(),
        ledger: crate::stats::LiveLedger::default(),
        trust: Trust::load(&store)?,
        limit: RateLimit::new(config.rate_per_node, config.burst_per_node),
        scans: RateLimit::scans(config.scanned_records_per_node_per_minute),
        max_clock_skew: config.max_clock_skew,
        feed_stall: config.feed_stall,
        durability: Durability::new(store.clone()),
        store: store.clone(),
        feeds: Arc::new(Feeds::new(store.clone())),
        gate: Arc::new(Gate::new(config.connections_per_node)),
        shutdown: shutdown.clone(),
        tasks: TaskTracker::new(),
    });
    state.tasks.spawn(crate::matcher::run(state.clone(), shutdown.clone()));
    state.tasks.spawn(crate::tail::follow(state.clone(), shutdown.clone()));
    if let Some(changes) = store.changes() {
        state.tasks.spawn(follow_other_instances(state.clone(), changes, shutdown.clone()));
    }
    if let Some(revocations) = store.revocations() {
        state.tasks.spawn(follow_revocations(state.clone(), revocations, shutdown.clone()));
    }
    // Read the figures' ledger now, so the first question does not wait for it.
    let warm = state.clone();
    state.tasks.spawn_blocking(move || {
        if let Err(e) = warm.ledger.with(&warm.store, |_| ()) {
            tracing::warn!(error = %e, "reading the figures' ledger failed");
        }
    });
    let sync_addr = listeners.sync.local_addr()?;
    let admin_addr = listeners.admin.local_addr()?;
    let dashboard_addr = listeners.dashboard.local_addr()?;
    // Off loopback (or if asked), every page asks for the admin token.
    let dashboard_token =
        (config.dashboard_token_required || !dashboard_addr.ip().is_loopback()).then(|| admin_token.clone());
    let dashboard = crate::dashboard::serve(listeners.dashboard, state.clone(), dashboard_token, shutdown.clone());

    let incoming = crate::listener::incoming(listeners.sync, tls, state.gate.clone(), shutdown.clone());
    let probes = || kechuang_proto::probe_routes(&["kechuang.v1.Sync", "kechuang.v1.Admin"]);
    let sync = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .max_concurrent_streams(STREAMS_PER_CONNECTION)
        .add_routes(probes().await?)
        .add_service(
            SyncServer::new(SyncService::new(state.clone()))
                .max_decoding_message_size(limits::MESSAGE_BYTES)
                .max_encoding_message_size(limits::MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned());
    let admin_service = AdminServer::new(AdminService::new(state.clone())).max_encoding_message_size(256 * 1024 * 1024);
    let guard = kechuang_pki::RequireToken::new(&admin_token, "central's admin_token file");
    let admin = tonic::transport::Server::builder()
        .add_routes(probes().await?)
        .add_service(InterceptedService::new(admin_service, guard))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listeners.admin), shutdown.clone().cancelled_owned());

    write_ready(&config, sync_addr, admin_addr, dashboard_addr)?;
    info!(%sync_addr, %admin_addr, %dashboard_addr, records_log = store.head(), store = %config.store, "central listening");
    let (sync, admin, dashboard) = tokio::join!(sync, admin, dashboard);
    sync.context("sync server")?;
    admin.context("admin server")?;
    dashboard.context("dashboard")?;

    state.tasks.close();
    state.tasks.wait().await;
    store.release_lease();
    store.flush().context("final flush")?;
    let _ = std::fs::remove_file(config.ready_file());
    info!("central stopped");
    Ok(())
}

/// Publishes what other central instances commit to the shared store, so
/// this instance's feeds and matching see it as soon as it is committed.
async fn follow_other_instances(
    state: Arc<State>,
    mut changes: tokio::sync::watch::Receiver<u64>,
    shutdown: CancellationToken,
) {
    loop {
        let head = *changes.borrow_and_update();
        state.durability.advance(head);
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            () = shutdown.cancelled() => return,
        }
    }
}

/// Applies revocations made through other central instances: their nodes
/// are refused, and their open streams cut, within seconds.
async fn follow_revocations(
    state: Arc<State>,
    mut revocations: tokio::sync::watch::Receiver<u64>,
    shutdown: CancellationToken,
) {
    loop {
        revocations.mark_unchanged();
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.revoked()).await {
            Ok(Ok(revoked)) => {
                for node in revoked {
                    if !state.trust.is_revoked(&node) {
                        tracing::warn!(%node, "revoked through another central instance");
                        state.trust.revoke(node);
                    }
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "reading revocations failed"),
            Err(e) => tracing::warn!(error = %e, "reading revocations failed"),
        }
        tokio::select! {
            changed = revocations.changed() => if changed.is_err() { return },
            () = shutdown.cancelled() => return,
        }
    }
}

fn write_ready(
    config: &Config,
    sync: std::net::SocketAddr,
    admin: std::net::SocketAddr,
    dashboard: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let mut fields = serde_json::Map::new();
    fields.insert("listen".into(), sync.to_string().into());
    fields.insert("admin".into(), admin.to_string().into());
    fields.insert("dashboard".into(), dashboard.to_string().into());
    kechuang_daemon::write_ready(&config.ready_file(), fields)
}
