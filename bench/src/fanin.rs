//! `fanin`: many simulated nodes in this process, each with its own
//! certificate and its own mutual-TLS connection, pushing to one central
//! and receiving their feeds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use kechuang_pki::{Ca, Identity, Validity};
use kechuang_proto::pb;
use kechuang_proto::pb::sync_client::SyncClient;
use kechuang_types::{Body, NodeId, NodeKind, Record, Region};
use serde_json::json;
use tokio::sync::Semaphore;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity as TlsIdentity};

use crate::{procs, report, sample};

/// The cities simulated nodes sit in, and their provinces.
const CITIES: &[(&str, &str)] = &[
    ("440300", "440000"),
    ("440100", "440000"),
    ("510100", "510000"),
    ("330100", "330000"),
    ("320500", "320000"),
    ("420100", "420000"),
    ("610100", "610000"),
    ("370200", "370000"),
];
/// Handshakes in flight at once, as a fleet reconnecting after an outage would spread them.
const CONNECTING: usize = 256;

/// One simulated node.
struct Sim {
    identity: Identity,
    tls: ClientTlsConfig,
    records: Vec<Record>,
    received: AtomicU64,
}

/// `nodes` simulated stations (one provincial node per province, the rest
/// cities and universities) each push `per_node` records and keep a feed open.
pub async fn fanin(nodes: usize, per_node: usize) -> anyhow::Result<()> {
    let files = raise_open_files();
    let central = procs::Central::start()?;
    let ca = Ca::load(&central.home().join("ca.crt"), &central.home().join("ca.key"))?;
    let ca_pem = ca.cert_pem().to_owned();

    let started = Instant::now();
    let sims = issue(ca, &ca_pem, nodes, per_node).await?;
    let issue_secs = started.elapsed().as_secs_f64();
    eprintln!("fanin: issued {nodes} certificates in {issue_secs:.1} s");

    let errors = Arc::new(AtomicU64::new(0));
    let url: Arc<str> = central.url().into();
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(CONNECTING));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, sim) in sims.iter().enumerate() {
        let (sim, url, gate) = (sim.clone(), url.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let client = connect(&url, &sim).await?;
            anyhow::Ok((i, client))
        });
    }
    let mut clients: Vec<Option<SyncClient<Channel>>> = (0..nodes).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined? {
            Ok((i, client)) => clients[i] = Some(client),
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("fanin: connect failed: {e:#}");
            }
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let connected = clients.iter().flatten().count();
    eprintln!("fanin: {connected} nodes connected (hello + feed open) in {connect_secs:.1} s");

    // Every node keeps its feed open and counts what it receives.
    for (sim, client) in sims.iter().zip(&clients) {
        let Some(mut client) = client.clone() else { continue };
        let (sim, errors) = (sim.clone(), errors.clone());
        tokio::spawn(async move {
            let mut feed = match client.feed(pb::FeedRequest { cursor: 0 }).await {
                Ok(feed) => feed.into_inner(),
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            loop {
                match feed.message().await {
                    Ok(Some(batch)) => {
                        sim.received.fetch_add(batch.records.len() as u64, Ordering::Relaxed);
                    }
                    Ok(None) => return,
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        });
    }

    let started = Instant::now();
    let mut pushes = tokio::task::JoinSet::new();
    for (sim, client) in sims.iter().zip(&clients) {
        let Some(mut client) = client.clone() else { continue };
        if sim.records.is_empty() {
            continue;
        }
        let sim = sim.clone();
        pushes.spawn(async move {
            let request = procs::push_request(1, &sim.records);
            let acked = procs::acked(client.push(request).await?)?;
            anyhow::ensure!(acked == sim.records.len() as u64, "{} acknowledged {acked}", sim.identity.id);
            anyhow::Ok(())
        });
    }
    while let Some(joined) = pushes.join_next().await {
        if let Err(e) = joined? {
            errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("fanin: push failed: {e:#}");
        }
    }
    let push_secs = started.elapsed().as_secs_f64();
    let pushed: usize = sims.iter().map(|s| s.records.len()).sum();

    // Each provincial node must receive every record of its province.
    let expected: Vec<(Arc<Sim>, u64)> = sims
        .iter()
        .filter(|s| s.identity.kind == NodeKind::Provincial)
        .map(|p| {
            let province = p.identity.region;
            let n = sims.iter().flat_map(|s| &s.records).filter(|r| region_of(r).province() == province).count();
            (p.clone(), n as u64)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    while expected.iter().any(|(p, n)| p.received.load(Ordering::Relaxed) < *n) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered_secs = started.elapsed().as_secs_f64();
    let short: u64 = expected.iter().map(|(p, n)| n.saturating_sub(p.received.load(Ordering::Relaxed))).sum();
    if short > 0 {
        errors.fetch_add(1, Ordering::Relaxed);
        eprintln!("fanin: provincial feeds are {short} records short after 300 s");
    }
    let received: u64 = sims.iter().map(|s| s.received.load(Ordering::Relaxed)).sum();
    let rss = procs::rss_kib(central.pid())? as f64 / 1024.0;
    let errors = errors.load(Ordering::Relaxed);
    report(
        json!({"scenario": "fanin", "nodes": nodes, "connected": connected, "errors": errors,
               "records_pushed": pushed, "push_seconds": push_secs, "records_per_sec": pushed as f64 / push_secs,
               "delivered_seconds": delivered_secs, "feed_records": received, "connect_seconds": connect_secs,
               "central_rss_mib": rss, "open_files_limit": files}),
        format!(
            "fanin: {connected}/{nodes} nodes connected in {connect_secs:.1} s; {pushed} records pushed in {push_secs:.2} s \
             = {:.0} records/s; provincial feeds complete after {delivered_secs:.2} s ({received} feed records); \
             {errors} errors; central RSS {rss:.0} MiB",
            pushed as f64 / push_secs
        ),
    );
    Ok(())
}

/// Issues one certificate per simulated node, on every core.
async fn issue(ca: Ca, ca_pem: &str, nodes: usize, per_node: usize) -> anyhow::Result<Vec<Arc<Sim>>> {
    let ca = Arc::new(ca);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (ca, ca_pem) = (ca.clone(), ca_pem.to_owned());
        tasks.spawn_blocking(move || {
            (w..nodes)
                .step_by(workers)
                .map(|i| simulated(&ca, &ca_pem, i, per_node))
                .collect::<anyhow::Result<Vec<_>>>()
        });
    }
    let mut sims = Vec::with_capacity(nodes);
    while let Some(part) = tasks.join_next().await {
        sims.extend(part??);
    }
    sims.sort_by_key(|(i, _)| *i);
    Ok(sims.into_iter().map(|(_, s)| Arc::new(s)).collect())
}

/// Node `i`: the first few are provincial nodes, then cities (demands) and universities (outcomes).
fn simulated(ca: &Ca, ca_pem: &str, i: usize, per_node: usize) -> anyhow::Result<(usize, Sim)> {
    let provinces: Vec<&str> = {
        let mut p: Vec<&str> = CITIES.iter().map(|(_, p)| *p).collect();
        p.dedup();
        p
    };
    let (kind, region, records) = if i < provinces.len() {
        (NodeKind::Provincial, provinces[i], 0)
    } else if i.is_multiple_of(2) {
        (NodeKind::City, CITIES[i % CITIES.len()].0, per_node)
    } else {
        (NodeKind::University, CITIES[i % CITIES.len()].0, per_node)
    };
    let id = format!("sim-{i:05}");
    let identity =
        Identity { id: NodeId::parse("id", &id)?, kind, region: Region::parse("region", region)?, fields: Vec::new() };
    let issued = ca.issue_node(&identity, Validity::days(1))?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .identity(TlsIdentity::from_pem(issued.cert_pem, issued.key_pem))
        .domain_name("kechuang-central");
    let mut rows = match kind {
        NodeKind::City => sample::records(&id, records, i as u64),
        _ => sample::outcomes(&id, records, i as u64),
    };
    for r in &mut rows {
        set_region(r, identity.region);
    }
    Ok((i, Sim { identity, tls, records: rows, received: AtomicU64::new(0) }))
}

async fn connect(url: &str, sim: &Sim) -> anyhow::Result<SyncClient<Channel>> {
    let channel = Endpoint::from_shared(url.to_owned())?
        .tls_config(sim.tls.clone())?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("{} connecting", sim.identity.id))?;
    let mut client = SyncClient::new(channel);
    client.hello(pb::HelloRequest::default()).await.with_context(|| format!("{} hello", sim.identity.id))?;
    Ok(client)
}

fn region_of(record: &Record) -> Region {
    match &record.body {
        Body::Demand(d) => d.region,
        Body::Outcome(o) => o.region,
        Body::Expert(e) => e.region,
        _ => unreachable!("simulated nodes publish demands and outcomes"),
    }
}

fn set_region(record: &mut Record, region: Region) {
    match &mut record.body {
        Body::Demand(d) => d.region = region,
        Body::Outcome(o) => o.region = region,
        _ => {}
    }
}

/// Raises this process's open-file limit to its hard limit; returns it.
fn raise_open_files() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((_, hard)) => {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
            hard
        }
        Err(_) => 0,
    }
}
