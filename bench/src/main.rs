//! `kechuang-bench`: measures Kechuang over real processes and real mutual
//! TLS on loopback, with records of realistic shape (~1.1 KB). Each
//! scenario prints one JSON line (for scripts) and a human summary.
//!
//! Build in release and run from the workspace:
//! `cargo build --release && ./target/release/kechuang-bench all`.

mod anchor;
mod fanin;
mod procs;
mod sample;
mod stats;

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use kechuang_matching::{DemandProfile, Engine, Params};
use kechuang_proto::pb;
use prost::Message;
use serde_json::json;

/// The allocator central and the node use, so the scenarios that run the
/// engine or sled in this process (`match`, `floor`) measure what they would.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Kechuang benchmarks.
#[derive(Parser)]
#[command(name = "kechuang-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

/// Central's store in a push run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    /// The embedded sled store.
    Sled,
    /// PostgreSQL.
    Postgres,
}

#[derive(Subcommand)]
enum Scenario {
    /// Bulk push of N records from one node until durable and acknowledged,
    /// then 1% changed 20 times (incremental), then a resync with nothing changed (no-op).
    Push {
        /// Records to push.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        /// Changes per push batch.
        #[arg(long, default_value_t = 2_000)]
        batch: usize,
        /// Central's store: the embedded sled store, or a PostgreSQL cluster
        /// the bench starts itself (initdb in a temp dir, a loopback port,
        /// durable settings).
        #[arg(long, value_enum, default_value_t = Backend::Sled)]
        backend: Backend,
        /// Central instances over the PostgreSQL store, each taking half the
        /// records from a node of its own at the same time (1 or 2).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
        instances: u8,
    },
    /// A real node pushing to one of two central instances over PostgreSQL:
    /// that instance is killed mid-push; prints how long until the other
    /// acknowledges the node's next push, and until everything is acknowledged.
    Failover {
        /// Records the node publishes.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
    },
    /// The same records through PostgreSQL 15 logical replication, between a
    /// publisher and a subscriber the bench starts itself: bulk, 1% changed,
    /// and the subscription reconnecting with nothing to receive.
    Anchor {
        /// Records to replicate.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        /// Records per committed batch at the publisher.
        #[arg(long, default_value_t = 2_000)]
        batch: usize,
    },
    /// The same records written straight into sled in the same batches.
    Floor {
        /// Records to write.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        /// Records per flushed batch.
        #[arg(long, default_value_t = 2_000)]
        batch: usize,
    },
    /// With N nodes connected, time from a demand pushed by a city node to the
    /// proposal arriving at the university node holding the matching outcome.
    Propagation {
        /// Nodes connected (each with its own certificate and open feed).
        #[arg(long, default_value_t = 100)]
        nodes: usize,
        /// Demands to time.
        #[arg(long, default_value_t = 1_000)]
        demands: usize,
    },
    /// Matching one demand against N generated outcomes, in process.
    Match {
        /// Outcomes in the index.
        #[arg(long, default_value_t = 100_000)]
        outcomes: usize,
        /// Demands to time.
        #[arg(long, default_value_t = 300)]
        demands: usize,
    },
    /// N simulated nodes in this process, each with its own certificate and
    /// connection, pushing to one central and receiving their feeds.
    Fanin {
        /// Simulated nodes.
        #[arg(long, default_value_t = 1_000)]
        nodes: usize,
        /// Records each city and university node pushes.
        #[arg(long, default_value_t = 4)]
        per_node: usize,
    },
    /// Central's RSS with N records, an idle node's RSS, binary sizes.
    Footprint {
        /// Records central holds.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
    },
    /// The programme's figures over N lifecycle events and M stations, in
    /// process; then the dashboard's overview page from a real central.
    Stats {
        /// Lifecycle events the store holds.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Registered stations.
        #[arg(long, default_value_t = 5_000)]
        nodes: usize,
        /// Overview page requests to time.
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
    /// Every scenario with its defaults.
    All,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.scenario {
        Scenario::Push { records, batch, backend, instances: 2 } => {
            anyhow::ensure!(backend == Backend::Postgres, "--instances 2 needs --backend postgres");
            rt.block_on(push_two_instances(records, batch))
        }
        Scenario::Push { records, batch, backend, .. } => rt.block_on(push(records, batch, backend)).map(drop),
        Scenario::Failover { records } => failover(records),
        Scenario::Floor { records, batch } => floor(records, batch),
        Scenario::Anchor { records, batch } => rt.block_on(anchor::anchor(records, batch)),
        Scenario::Match { outcomes, demands } => match_latency(outcomes, demands),
        Scenario::Propagation { nodes, demands } => rt.block_on(propagation(nodes, demands)),
        Scenario::Footprint { records } => rt.block_on(footprint(records)),
        Scenario::Fanin { nodes, per_node } => rt.block_on(fanin::fanin(nodes, per_node)),
        Scenario::Stats { events, nodes, requests } => stats::stats(nodes, events, requests),
        Scenario::All => {
            floor(100_000, 2_000)?;
            rt.block_on(push(100_000, 2_000, Backend::Sled))?;
            match kechuang_testkit::server_binaries() {
                Ok(_) => {
                    rt.block_on(anchor::anchor(100_000, 2_000))?;
                    drop(rt.block_on(push(100_000, 2_000, Backend::Postgres))?);
                    rt.block_on(push_two_instances(100_000, 2_000))?;
                    failover(100_000)?;
                }
                Err(e) => eprintln!("push (postgres): skipped: {e}"),
            }
            rt.block_on(propagation(100, 1_000))?;
            match_latency(100_000, 300)?;
            rt.block_on(footprint(100_000))?;
            rt.block_on(fanin::fanin(1_000, 4))?;
            stats::stats(5_000, 1_000_000, 200)
        }
    }
}

fn report(value: serde_json::Value, summary: String) {
    println!("{value}");
    eprintln!("{summary}");
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// The physical floor: one key per record in one sled tree, flushed per batch.
fn floor(records: usize, batch: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = sled::Config::new().path(dir.path()).mode(sled::Mode::HighThroughput).open()?;
    let tree = db.open_tree("records")?;
    let rows = sample::records("bench", records, 1);
    let encoded: Vec<(Vec<u8>, Vec<u8>)> =
        rows.iter().map(|r| (r.meta.id.as_bytes().to_vec(), pb::Record::from(r.clone()).encode_to_vec())).collect();
    let bytes: usize = encoded.iter().map(|(k, v)| k.len() + v.len()).sum();
    let started = Instant::now();
    for chunk in encoded.chunks(batch) {
        let mut b = sled::Batch::default();
        for (k, v) in chunk {
            b.insert(k.as_slice(), v.as_slice());
        }
        tree.apply_batch(b)?;
        db.flush()?;
    }
    let secs = started.elapsed().as_secs_f64();
    let rate = records as f64 / secs;
    report(
        json!({"scenario": "floor", "records": records, "batch": batch, "seconds": secs, "records_per_sec": rate,
               "mb_per_sec": bytes as f64 / secs / 1e6}),
        format!("floor: {records} records straight into sled in {secs:.2} s = {rate:.0} records/s"),
    );
    Ok(())
}

/// Times the 1%-changed push is repeated, for its p99.
const INCREMENTAL_RUNS: usize = 20;

/// Push, incremental and no-op over real mTLS to a real central.
async fn push(records: usize, batch: usize, backend: Backend) -> anyhow::Result<procs::Central> {
    let postgres = match backend {
        Backend::Sled => None,
        Backend::Postgres => Some(kechuang_testkit::Postgres::start()?),
    };
    let home = procs::Central::init()?;
    if let Some(postgres) = &postgres {
        home.use_store(&postgres.database("bench")?)?;
    }
    let central = home.start()?;
    let backend_name = format!("{backend:?}").to_lowercase();
    let node = central.issue("bench-node", "city", "440300")?;
    let mut client = procs::client(&central, &node).await?;
    let mut acked = client.hello(pb::HelloRequest::default()).await?.into_inner().acked_seq;
    let rows = sample::records("bench-node", records, 2);

    let started = Instant::now();
    let bytes;
    (acked, bytes) = procs::push_pipelined(&client, acked, &rows, batch).await?;
    let secs = started.elapsed().as_secs_f64();
    let rate = records as f64 / secs;
    report(
        json!({"scenario": "push", "backend": backend_name, "records": records, "batch": batch, "seconds": secs,
               "records_per_sec": rate, "mb_per_sec": bytes as f64 / secs / 1e6, "record_bytes": bytes / records.max(1)}),
        format!(
            "push ({backend_name}): {records} records durable and acknowledged in {secs:.2} s = {rate:.0} records/s, {:.1} MB/s",
            bytes as f64 / secs / 1e6
        ),
    );

    // Incremental: 1% of the records changed, INCREMENTAL_RUNS times, each
    // run a different 1%.
    let mut times = Vec::with_capacity(INCREMENTAL_RUNS);
    let mut changed_per_run = 0;
    for run in 0..INCREMENTAL_RUNS {
        let changed: Vec<_> = rows.iter().skip(run).step_by(100).map(sample::edited).collect();
        changed_per_run = changed.len();
        let started = Instant::now();
        (acked, _) = procs::push_pipelined(&client, acked, &changed, batch).await?;
        times.push(started.elapsed());
    }
    times.sort();
    let (p50, p99, max) = (percentile(&times, 0.5), percentile(&times, 0.99), percentile(&times, 1.0));
    report(
        json!({"scenario": "incremental", "records": changed_per_run, "runs": INCREMENTAL_RUNS,
               "p50_ms": p50, "p99_ms": p99, "max_ms": max}),
        format!(
            "incremental: {changed_per_run} changed records at central, {INCREMENTAL_RUNS} runs: p50 {p50:.1} ms, p99 {p99:.1} ms"
        ),
    );

    // No-op: a node reconnecting with nothing to push and nothing to receive
    // does what the node's session does: Hello, then open its feed at its cursor.
    let cursor = central.log_head().await?;
    let started = Instant::now();
    let mut again = procs::client(&central, &node).await?;
    let hello = again.hello(pb::HelloRequest::default()).await?.into_inner();
    let feed = again.feed(pb::FeedRequest { cursor }).await?;
    let with_handshake = started.elapsed().as_secs_f64();
    drop(feed);
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let _ = again.hello(pb::HelloRequest::default()).await?;
        let feed = again.feed(pb::FeedRequest { cursor }).await?;
        times.push(t.elapsed());
        drop(feed);
    }
    times.sort();
    let wire =
        pb::HelloRequest::default().encoded_len() + hello.encoded_len() + pb::FeedRequest { cursor }.encoded_len();
    report(
        json!({"scenario": "noop", "p50_ms": percentile(&times, 0.5), "p99_ms": percentile(&times, 0.99),
               "with_tls_handshake_ms": with_handshake * 1e3, "payload_bytes": wire, "records_sent": 0}),
        format!(
            "no-op resync: p50 {:.2} ms on an open connection ({:.1} ms with a new TLS handshake), {wire} payload bytes, 0 records",
            percentile(&times, 0.5),
            with_handshake * 1e3
        ),
    );

    // The convergence check: the first digest scans, a repeat at the same log position is cached.
    let t = Instant::now();
    let _ = again.digest(pb::DigestRequest {}).await?;
    let first = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let _ = again.digest(pb::DigestRequest {}).await?;
    let cached = t.elapsed().as_secs_f64() * 1e3;
    report(
        json!({"scenario": "digest", "records": records, "first_ms": first, "cached_ms": cached}),
        format!(
            "digest of what the node should hold: {first:.1} ms (scan of {records} records), {cached:.2} ms cached"
        ),
    );
    Ok(central)
}

/// Two central instances over one PostgreSQL store, each taking half the
/// records from a node of its own at the same time.
async fn push_two_instances(records: usize, batch: usize) -> anyhow::Result<()> {
    let postgres = kechuang_testkit::Postgres::start()?;
    let home = procs::Central::init()?;
    home.use_store(&postgres.database("bench")?)?;
    let central = home.start()?;
    let second = central.start_instance()?;
    let mut pushes = Vec::new();
    for (n, url) in [central.url(), second.url()].into_iter().enumerate() {
        let id = format!("bench-node-{n}");
        let node = central.issue(&id, "city", "440300")?;
        let mut client = procs::client_to(url, &node).await?;
        let rows = sample::records(&id, records / 2, 2 + n as u64);
        pushes.push(async move {
            let mut acked = client.hello(pb::HelloRequest::default()).await?.into_inner().acked_seq;
            for chunk in rows.chunks(batch) {
                acked = procs::acked(client.push(procs::push_request(acked + 1, chunk)).await?)?;
            }
            anyhow::Ok(())
        });
    }
    let started = Instant::now();
    let mut pushes = pushes.into_iter();
    let (first, second_push) = (pushes.next().context("a push")?, pushes.next().context("a push")?);
    let (a, b) = tokio::join!(first, second_push);
    a?;
    b?;
    let secs = started.elapsed().as_secs_f64();
    let rate = (records / 2 * 2) as f64 / secs;
    report(
        json!({"scenario": "push", "backend": "postgres", "instances": 2, "records": records / 2 * 2, "batch": batch,
               "seconds": secs, "records_per_sec": rate}),
        format!(
            "push (postgres, 2 instances, a node each): {} records durable and acknowledged in {secs:.2} s = {rate:.0} records/s",
            records / 2 * 2
        ),
    );
    Ok(())
}

/// A real node pushing to one of two instances, which is killed mid-push.
fn failover(records: usize) -> anyhow::Result<()> {
    let postgres = kechuang_testkit::Postgres::start()?;
    let home = procs::Central::init()?;
    home.use_store(&postgres.database("failover")?)?;
    let central = home.start()?;
    let mut second = central.start_instance()?;
    let node =
        procs::IdleNode::start_listing(&central, "failover-node", "city", "440300", &[second.url(), central.url()])?;
    let file = node.dir().join("rows.jsonl");
    let rows: String =
        kechuang_testkit::sample::outcomes("FO", records, "440300", 5).iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&file, rows)?;
    node.publish(&file)?;
    let acked = |node: &procs::IdleNode| -> anyhow::Result<(u64, u64)> {
        let status = node.status()?;
        Ok((status["acked_seq"].as_u64().unwrap_or(0), status["unacked"].as_u64().unwrap_or(0)))
    };
    // Mid-push: once a fifth is acknowledged.
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked(&node)?.0 < records as u64 / 5 {
        anyhow::ensure!(Instant::now() < deadline, "the node never got a fifth of its records acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (at_kill, _) = acked(&node)?;
    second.kill();
    let killed = Instant::now();
    let mut next_ack = None;
    loop {
        let (now, unacked) = acked(&node)?;
        if next_ack.is_none() && now > at_kill {
            next_ack = Some(killed.elapsed());
        }
        if unacked == 0 && next_ack.is_some() {
            break;
        }
        anyhow::ensure!(killed.elapsed() < Duration::from_secs(120), "the node did not fail over in 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (next_ack, all) = (next_ack.unwrap_or_default(), killed.elapsed());
    report(
        json!({"scenario": "failover", "records": records, "acked_at_kill": at_kill,
               "next_ack_ms": next_ack.as_secs_f64() * 1e3, "all_acked_ms": all.as_secs_f64() * 1e3}),
        format!(
            "failover: instance killed with {at_kill} of {records} records acknowledged; the other acknowledged the node's next push {:.0} ms later, everything {:.2} s later",
            next_ack.as_secs_f64() * 1e3,
            all.as_secs_f64()
        ),
    );
    Ok(())
}

/// Demand at a city node → proposal at the university node, with `nodes` connected.
async fn propagation(nodes: usize, demands: usize) -> anyhow::Result<()> {
    use kechuang_types::Body;
    let central = procs::Central::start()?;
    let city = central.issue("prop-city", "city", "440300")?;
    let uni = central.issue("prop-uni", "university", "510100")?;
    // Other stations, connected and following their feeds.
    let kinds = [("provincial", "440000"), ("city", "440100"), ("university", "330100"), ("society", "110000")];
    let mut followers = Vec::new();
    for i in 0..nodes.saturating_sub(2) {
        let (kind, region) = kinds[i % kinds.len()];
        let kind = if kind == "provincial" && i >= kinds.len() { "city" } else { kind };
        let dir = central.issue(
            &format!("prop-{i}"),
            kind,
            if kind == "city" && region == "440000" { "440300" } else { region },
        )?;
        let mut c = procs::client(&central, &dir).await?;
        c.hello(pb::HelloRequest::default()).await?;
        let mut feed = c.feed(pb::FeedRequest { cursor: 0 }).await?.into_inner();
        followers.push(tokio::spawn(async move { while let Ok(Some(_)) = feed.message().await {} }));
    }

    eprintln!("propagation: {} nodes connected", followers.len() + 2);
    // The university publishes one outcome per demand topic.
    let mut uni_client = procs::client(&central, &uni).await?;
    let mut uni_acked = uni_client.hello(pb::HelloRequest::default()).await?.into_inner().acked_seq;
    let outcomes = sample::paired_outcomes("prop-uni", demands);
    for chunk in outcomes.chunks(1_000) {
        uni_acked = procs::acked(uni_client.push(procs::push_request(uni_acked + 1, chunk)).await?)?;
    }
    let wanted: Vec<kechuang_types::RecordId> = outcomes.iter().map(|o| o.meta.id).collect();
    let mut uni_feed = uni_client.feed(pb::FeedRequest { cursor: 0 }).await?.into_inner();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(batch)) = uni_feed.message().await {
            for r in batch.records {
                if let Ok(record) = kechuang_types::Record::try_from(r)
                    && let Body::Match(m) = record.body
                {
                    let _ = tx.send(m.supply);
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await; // let the index take in the outcomes

    eprintln!("propagation: {demands} outcomes published");
    let mut city_client = procs::client(&central, &city).await?;
    let mut acked = city_client.hello(pb::HelloRequest::default()).await?.into_inner().acked_seq;
    let queries = sample::paired_demands("prop-city", demands);
    let mut times = Vec::with_capacity(demands);
    let mut missed = 0;
    for (i, demand) in queries.iter().enumerate() {
        let started = Instant::now();
        acked = procs::acked(city_client.push(procs::push_request(acked + 1, std::slice::from_ref(demand))).await?)?;
        let deadline = started + Duration::from_secs(2);
        loop {
            match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                Ok(Some(supply)) if supply == wanted[i] => {
                    times.push(started.elapsed());
                    break;
                }
                Ok(Some(_)) => continue,
                _ => {
                    missed += 1;
                    break;
                }
            }
        }
    }
    for f in followers {
        f.abort();
    }
    times.sort();
    let (p50, p99, max) = (percentile(&times, 0.5), percentile(&times, 0.99), percentile(&times, 1.0));
    report(
        json!({"scenario": "propagation", "nodes": nodes, "demands": demands, "delivered": times.len(), "missed": missed,
               "p50_ms": p50, "p99_ms": p99, "max_ms": max}),
        format!(
            "propagation with {nodes} nodes: {} of {demands} proposals arrived; p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
            times.len()
        ),
    );
    Ok(())
}

/// Matching latency against N outcomes, and the indexing rate.
fn match_latency(outcomes: usize, demands: usize) -> anyhow::Result<()> {
    let mut engine = Engine::in_memory(Params::default())?;
    let supply = sample::outcomes("bench-uni", outcomes, 3);
    let started = Instant::now();
    for (i, record) in supply.iter().enumerate() {
        engine.upsert(record, true)?;
        if i % 50_000 == 49_999 {
            engine.commit()?;
        }
    }
    engine.commit()?;
    let index_secs = started.elapsed().as_secs_f64();
    let queries = sample::records("bench-city", demands, 4);
    let today = kechuang_types::Date::today();
    let mut times = Vec::with_capacity(demands);
    for record in &queries {
        let demand = DemandProfile::from_record(record).context("demand profile")?;
        let t = Instant::now();
        let ranked = engine.rank(&demand, today)?;
        let _ = kechuang_matching::plan(&ranked, 10);
        times.push(t.elapsed());
    }
    times.sort();
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    report(
        json!({"scenario": "match", "outcomes": outcomes, "index_docs_per_sec": outcomes as f64 / index_secs,
               "p50_ms": p50, "p99_ms": p99, "max_ms": percentile(&times, 1.0)}),
        format!(
            "match: {outcomes} outcomes indexed at {:.0}/s; one demand p50 {p50:.2} ms, p99 {p99:.2} ms",
            outcomes as f64 / index_secs
        ),
    );
    Ok(())
}

/// Central's RSS holding N records, an idle node's RSS, binary sizes.
async fn footprint(records: usize) -> anyhow::Result<()> {
    let empty = procs::Central::start()?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let empty_rss = procs::rss_kib(empty.pid())?;
    drop(empty);
    let central = push(records, 2_000, Backend::Sled).await?;
    let pushed = Instant::now();
    central.matching_caught_up(Duration::from_secs(600)).await?;
    let caught_up_secs = pushed.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let central_rss = procs::rss_kib(central.pid())?;
    let central_peak = procs::peak_rss_kib(central.pid())?;
    let (anon, file) = procs::rss_split_kib(central.pid())?;
    let node = procs::IdleNode::start(&central)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let node_rss = procs::rss_kib(node.pid())?;
    drop(node);
    let (held, sync_secs, provincial_rss, status_ms) = provincial_footprint(&central).await?;
    let size = |name: &str| std::fs::metadata(procs::binary(name)).map(|m| m.len()).unwrap_or(0);
    let (c, n) = (size("kechuang-central"), size("kechuang-node"));
    report(
        json!({"scenario": "footprint", "records": records, "central_rss_mib": central_rss as f64 / 1024.0,
               "central_peak_rss_mib": central_peak as f64 / 1024.0, "matching_caught_up_seconds": caught_up_secs,
               "central_anon_mib": anon as f64 / 1024.0, "central_file_mib": file as f64 / 1024.0,
               "empty_central_rss_mib": empty_rss as f64 / 1024.0,
               "idle_node_rss_mib": node_rss as f64 / 1024.0, "central_binary_mib": c as f64 / 1048576.0,
               "node_binary_mib": n as f64 / 1048576.0, "provincial_records": held,
               "provincial_sync_seconds": sync_secs, "provincial_rss_mib": provincial_rss as f64 / 1024.0,
               "provincial_status_ms_p50": status_ms}),
        format!(
            "footprint: central {:.1} MiB RSS with {records} records once matching caught up ({caught_up_secs:.1} s after \
             the push; {:.1} anonymous, {:.1} file-backed; peak {:.1}; {:.1} empty); \
             idle node {:.1} MiB; provincial node holding {held} records: synced in {sync_secs:.1} s, {:.1} MiB, \
             status p50 {status_ms:.1} ms; binaries {:.1} / {:.1} MiB",
            central_rss as f64 / 1024.0,
            anon as f64 / 1024.0,
            file as f64 / 1024.0,
            central_peak as f64 / 1024.0,
            empty_rss as f64 / 1024.0,
            node_rss as f64 / 1024.0,
            provincial_rss as f64 / 1024.0,
            c as f64 / 1048576.0,
            n as f64 / 1048576.0
        ),
    );
    Ok(())
}

/// A provincial node joining a loaded central: how many records it
/// receives, how long its initial sync takes, its RSS once caught up, and
/// the p50 of `kechuang-node status` (a CLI process and an API call).
async fn provincial_footprint(central: &procs::Central) -> anyhow::Result<(u64, f64, u64, f64)> {
    let started = Instant::now();
    let node = procs::IdleNode::start_as(central, "gd-province", "provincial", "440000")?;
    let held = loop {
        let status = node.status()?;
        if status["converged"] == true {
            break status["counts"].as_object().map_or(0, |c| c.values().filter_map(|v| v.as_u64()).sum());
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "the provincial node did not converge");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let sync_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = procs::rss_kib(node.pid())?;
    let mut times = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        node.status()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok((held, sync_secs, rss, times[times.len() / 2]))
}
