//! The fault suite: seeded crashes during a large sync, a faulty network,
//! restarts while streaming, and full or unwritable disks. After every
//! fault the network must converge with nothing acknowledged lost and
//! nothing duplicated.
//!
//! CI runs three seeds. Hundreds, in release:
//! `KECHUANG_FAULT_SEEDS=1-300 cargo test --release -p kechuang-tests --test faults seeded -- --nocapture`

mod common;

use std::time::Duration;

use anyhow::Context;
use common::{SETTLE, ids_versions};
use kechuang_testkit::sample::{self, Rng};
use kechuang_testkit::{Cluster, Daemon, FaultProxy, eventually};

/// The seeds to run: `KECHUANG_FAULT_SEEDS` as `1-300` or `4,17,90`; 1, 2, 3 by default.
fn seeds() -> anyhow::Result<Vec<u64>> {
    let Ok(spec) = std::env::var("KECHUANG_FAULT_SEEDS") else { return Ok(vec![1, 2, 3]) };
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<u64>()?..=b.parse::<u64>()?),
            None => out.push(part.parse()?),
        }
    }
    Ok(out)
}

/// A fresh network: central (on the embedded store, or on PostgreSQL),
/// two city nodes and their provincial node, reconnecting quickly, with
/// digest repair out of the way.
fn network(on_postgres: bool) -> anyhow::Result<Cluster> {
    let mut cluster = if on_postgres { Cluster::start_shared(1)? } else { Cluster::start()? };
    for (id, kind, region) in [("gd", "provincial", "440000"), ("sz", "city", "440300"), ("gz", "city", "440100")] {
        let node = cluster.add_stopped_node(id, kind, region)?;
        node.set("max_backoff_ms", "400")?;
        // Sync itself must converge: no digest repair to paper over a bug.
        node.set("repair_secs", "3600")?;
        node.start()?;
    }
    Ok(cluster)
}

/// Every node holds exactly central's view of it, every record a node owns
/// is at central with the same version, and central holds `published` records.
fn assert_consistent(cluster: &mut Cluster, published: usize) -> anyhow::Result<()> {
    let all = ids_versions(&cluster.central.list(None, None)?)?;
    assert_eq!(all.len(), published, "central holds every published record once");
    for id in ["gd", "sz", "gz"] {
        let held = ids_versions(&cluster.node(id).list(None)?)?;
        let view = ids_versions(&cluster.central.list(None, Some(id))?)?;
        assert_eq!(held, view, "{id} holds exactly central's view of it");
        for (record, version) in &held {
            assert_eq!(all.get(record), Some(version), "{id}'s {record} at central with the same version");
        }
    }
    Ok(())
}

/// A process a seed may crash.
#[derive(Debug, Clone, Copy)]
enum Victim {
    Central,
    Node(&'static str),
}

impl Victim {
    fn process(self, cluster: &mut Cluster) -> &mut Daemon {
        match self {
            Victim::Central => cluster.central.process(),
            Victim::Node(id) => cluster.node(id).process(),
        }
    }
}

/// Three rounds of publishing outcomes (nothing to match, so every record
/// is one the test published) at both cities; each round one process is
/// crashed, either at a crash point the seed picks or by `kill -9` after a
/// delay the seed picks.
fn run_seed(seed: u64, on_postgres: bool) -> anyhow::Result<()> {
    let mut rng = Rng::new(seed);
    let mut cluster = network(on_postgres)?;
    let mut published = 0;
    for round in 0..3 {
        let victim = match rng.below(3) {
            0 => Victim::Central,
            1 => Victim::Node("sz"),
            _ => Victim::Node("gd"),
        };
        // Points every round passes at least twice: two push batches from
        // sz, two feed batches to gd.
        let point = match victim {
            Victim::Central => ["push-applied", "push-durable", "feed-sent"][rng.below(3)],
            Victim::Node("sz") => "push-acked",
            Victim::Node(_) => "feed-applied",
        };
        let at_point = rng.below(2) == 0;
        let pass = 1 + rng.below(2) as u64;
        if at_point {
            let process = victim.process(&mut cluster);
            process.terminate()?;
            process.arm_crash(point, pass);
            process.start()?;
        }

        let sz_rows = 1_500 + rng.below(1_500);
        let gz_rows = 200 + rng.below(800);
        let sz = cluster.write_rows(&sample::outcomes(&format!("SZ{round}"), sz_rows, "440300", seed * 10 + round))?;
        let gz = cluster.write_rows(&sample::outcomes(&format!("GZ{round}"), gz_rows, "440100", seed * 10 + round))?;
        let both = [(sz, "sz"), (gz, "gz")];
        for (file, id) in &both {
            let answer = cluster.node(id).publish(&[file]);
            // The victim may die before its answer is out; it publishes again below.
            if !matches!(victim, Victim::Node(v) if v == *id) {
                answer?;
            }
        }
        published += sz_rows + gz_rows;

        let how = if at_point {
            victim.process(&mut cluster).wait_crashed()?;
            format!("{point}:{pass}")
        } else {
            let delay = Duration::from_millis(rng.below(1_500) as u64);
            std::thread::sleep(delay);
            victim.process(&mut cluster).kill();
            format!("kill -9 after {delay:?}")
        };
        eprintln!("seed {seed} round {round}: crashed {victim:?} at {how}");
        victim.process(&mut cluster).start()?;
        // A node that crashed before its publish returned publishes again:
        // the import is idempotent, so the acknowledged rows are not doubled.
        for (file, id) in &both {
            cluster.node(id).publish(&[file])?;
        }
        eventually(SETTLE, "convergence after the crash", || cluster.converged())?;
        assert_consistent(&mut cluster, published)
            .with_context(|| format!("round {round} after {victim:?} at {how}"))?;
    }
    Ok(())
}

#[test]
fn seeded_crashes_during_a_large_sync_lose_and_duplicate_nothing() -> anyhow::Result<()> {
    for seed in seeds()? {
        run_seed(seed, false).with_context(|| format!("seed {seed}; rerun with KECHUANG_FAULT_SEEDS={seed}"))?;
        eprintln!("seed {seed}: converged, nothing lost, nothing duplicated");
    }
    Ok(())
}

/// The same crashes with central's store on PostgreSQL (the first two of
/// the seeds; all of them with `KECHUANG_FAULT_SEEDS`).
#[test]
fn seeded_crashes_on_the_postgresql_backend_lose_and_duplicate_nothing() -> anyhow::Result<()> {
    let seeds = match std::env::var("KECHUANG_FAULT_SEEDS") {
        Ok(_) => seeds()?,
        Err(_) => vec![1, 2],
    };
    for seed in seeds {
        run_seed(seed, true)
            .with_context(|| format!("seed {seed} on PostgreSQL; rerun with KECHUANG_FAULT_SEEDS={seed}"))?;
        eprintln!("seed {seed} on PostgreSQL: converged, nothing lost, nothing duplicated");
    }
    Ok(())
}

#[test]
fn a_network_that_delays_drops_and_cuts_connections_still_converges() -> anyhow::Result<()> {
    let mut cluster = network(false)?;
    let proxy = FaultProxy::start(cluster.central.addr(), 7)?;
    for id in ["sz", "gd"] {
        cluster.node(id).terminate()?;
        cluster.node(id).set_central(proxy.addr())?;
        cluster.node(id).start()?;
    }
    proxy.set_delay(Duration::from_millis(15));
    proxy.set_drop_rate(0.002);

    let rows = cluster.write_rows(&sample::outcomes("SZ", 4_000, "440300", 21))?;
    cluster.node("sz").publish(&[&rows])?;
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(700));
        proxy.cut();
    }
    proxy.set_delay(Duration::ZERO);
    proxy.set_drop_rate(0.0);
    eventually(SETTLE, "convergence through the faulty link", || cluster.converged())?;
    let reconnects = proxy.accepted();
    eprintln!("converged after {reconnects} connections through the proxy");
    assert!(reconnects > 2, "the proxy cut connections: {reconnects} made");
    assert_consistent(&mut cluster, 4_000)
}

#[test]
fn a_partitioned_node_with_writes_on_both_sides_converges_after_healing() -> anyhow::Result<()> {
    let mut cluster = network(false)?;
    let proxy = FaultProxy::start(cluster.central.addr(), 8)?;
    cluster.node("gd").terminate()?;
    cluster.node("gd").set_central(proxy.addr())?;
    cluster.node("gd").start()?;
    let before = cluster.write_rows(&sample::outcomes("SZA", 300, "440300", 31))?;
    cluster.node("sz").publish(&[&before])?;
    eventually(SETTLE, "convergence before the partition", || cluster.converged())?;

    proxy.partition();
    let province_side = cluster.write_rows(&sample::outcomes("GD", 250, "440000", 32))?;
    cluster.node("gd").publish(&[&province_side])?;
    let city_side = cluster.write_rows(&sample::outcomes("SZB", 400, "440300", 33))?;
    cluster.node("sz").publish(&[&city_side])?;
    eventually(SETTLE, "central to take the city's writes", || cluster.node("sz").converged())?;
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(cluster.node("gd").status()?["unacked"], 250, "the partitioned node's writes wait in its outbox");
    assert_eq!(cluster.node("gd").list(Some("outcomes"))?.len(), 550, "nothing crosses the partition");

    proxy.heal();
    eventually(SETTLE, "convergence after healing", || cluster.converged())?;
    assert_eq!(cluster.node("gd").list(Some("outcomes"))?.len(), 950);
    assert_consistent(&mut cluster, 950)
}

#[test]
fn central_restarted_mid_stream_and_a_node_offline_receives_only_what_it_missed() -> anyhow::Result<()> {
    let mut cluster = network(false)?;
    // Killed after its fourth feed batch to gd.
    cluster.node("gd").terminate()?;
    let rows = cluster.write_rows(&sample::outcomes("SZA", 6_000, "440300", 41))?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "central to hold the records", || cluster.node("sz").converged())?;
    cluster.central.terminate()?;
    cluster.central.process().arm_crash("feed-sent", 4);
    cluster.central.restart()?;
    cluster.node("gd").start()?;
    cluster.central.process().wait_crashed()?;
    cluster.central.restart()?;
    eventually(SETTLE, "convergence after the crash mid-stream", || cluster.converged())?;
    let received = cluster.node("gd").status()?["feed_records"].as_u64().unwrap_or(0);
    assert!(received >= 6_000, "gd received everything: {received}");

    // Stopped cleanly while the next 6,000 stream.
    cluster.node("gd").terminate()?;
    let rows = cluster.write_rows(&sample::outcomes("SZB", 6_000, "440300", 42))?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "central to hold the records", || cluster.node("sz").converged())?;
    cluster.node("gd").start()?;
    eventually(SETTLE, "the stream to start", || Ok(cluster.node("gd").status()?["feed_records"].as_u64() > Some(0)))?;
    cluster.central.terminate()?;
    cluster.central.restart()?;
    eventually(SETTLE, "convergence after a clean restart", || cluster.converged())?;
    assert_consistent(&mut cluster, 12_000)?;

    cluster.node("gd").terminate()?;
    let missed = cluster.write_rows(&sample::outcomes("SZC", 700, "440300", 43))?;
    cluster.node("sz").publish(&[&missed])?;
    let other = cluster.write_rows(&sample::outcomes("GZ", 300, "440100", 44))?;
    cluster.node("gz").publish(&[&other])?;
    eventually(SETTLE, "central to take the changes", || {
        Ok(cluster.node("sz").converged()? && cluster.node("gz").converged()?)
    })?;
    cluster.node("gd").start()?;
    eventually(SETTLE, "the offline node to catch up", || cluster.converged())?;
    let status = cluster.node("gd").status()?;
    assert_eq!(status["feed_records"], 1_000, "only what it missed while offline");
    assert_consistent(&mut cluster, 13_000)
}

#[test]
fn a_node_that_lost_records_is_repaired_by_resyncing_only_the_ranges_that_differ() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    let gd = cluster.add_stopped_node("gd", "provincial", "440000")?;
    gd.set("repair_secs", "0.5")?;
    gd.start()?;
    let rows = cluster.write_rows(&sample::outcomes("SZ", 2_000, "440300", 61))?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    let before = ids_versions(&cluster.node("gd").list(None)?)?;

    // Lose five records behind the node's back, as a damaged disk would.
    cluster.node("gd").terminate()?;
    let lost: Vec<String> = before.keys().step_by(397).take(5).cloned().collect();
    {
        let db = sled::open(cluster.node("gd").dir().join("data"))?;
        let records = db.open_tree("records")?;
        for id in &lost {
            let uuid: Vec<u8> = (0..16)
                .map(|i| u8::from_str_radix(&id.replace('-', "")[2 * i..2 * i + 2], 16))
                .collect::<Result<_, _>>()?;
            anyhow::ensure!(records.remove(uuid)?.is_some(), "record {id} was in the store");
        }
        db.flush()?;
    }
    cluster.node("gd").start()?;
    assert_eq!(cluster.node("gd").list(None)?.len(), 2_000 - lost.len());
    eventually(SETTLE, "the repair", || cluster.converged())?;
    let status = cluster.node("gd").status()?;
    let repaired = status["repaired_records"].as_u64().unwrap_or(0);
    eprintln!("repaired {repaired} records in {} repairs to restore {} lost", status["repairs"], lost.len());
    assert!(repaired >= lost.len() as u64, "the lost records came back: {repaired}");
    assert!(repaired < 500, "only the differing ranges were resent, not all 2,000: {repaired}");
    assert_eq!(ids_versions(&cluster.node("gd").list(None)?)?, before);
    Ok(())
}

#[test]
fn an_unwritable_data_dir_is_a_clear_error() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    let node = cluster.add_stopped_node("sz", "city", "440300")?;
    // A data dir under a regular file cannot be created, even by root.
    let blocker = node.dir().join("blocker");
    std::fs::write(&blocker, "not a directory")?;
    node.set("data_dir", &format!("\"{}\"", blocker.join("data").display()))?;
    let error = format!("{:#}", node.start().expect_err("a node cannot run without its data dir"));
    assert!(error.contains("blocker/data"), "the error names the path: {error}");
    Ok(())
}

#[test]
fn a_full_disk_refuses_new_writes_clearly_and_keeps_what_was_acknowledged() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    let first = cluster.write_rows(&sample::demands("SZA", 500, "440300", 51))?;
    cluster.node("sz").publish(&[&first])?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    let acknowledged = ids_versions(&cluster.node("sz").list(None)?)?;

    cluster.node("sz").terminate()?;
    let used = dir_size(&cluster.node("sz").dir().join("data"))?;
    // Room for sled to open (it may start a new 512 KiB segment), far from
    // room for the 20,000 records (~20 MB) published next.
    cluster.node("sz").process().limit_file_size(Some(used + 2 * 1024 * 1024));
    cluster.node("sz").start()?;
    let big = cluster.write_rows(&sample::demands("SZB", 20_000, "440300", 52))?;
    let error = cluster.node("sz").publish_failing(&[&big])?;
    eprintln!("publish on a full disk: {error}");
    assert!(error.to_lowercase().contains("storage") || error.contains("File too large"), "a clear error: {error}");

    cluster.node("sz").kill();
    cluster.node("sz").process().limit_file_size(None);
    cluster.node("sz").start()?;
    let held = ids_versions(&cluster.node("sz").list(None)?)?;
    for (id, version) in &acknowledged {
        assert_eq!(held.get(id), Some(version), "acknowledged {id} survived the full disk");
    }
    assert!(held.len() == 500 || held.len() == 20_500, "the refused file is all or nothing: {}", held.len());
    eventually(SETTLE, "convergence once there is room", || cluster.converged())?;
    Ok(())
}

/// Bytes of all files under `dir`.
fn dir_size(dir: &std::path::Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { dir_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

#[test]
fn a_node_fails_over_between_central_addresses_and_comes_back() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    let (first, second) =
        (FaultProxy::start(cluster.central.addr(), 41)?, FaultProxy::start(cluster.central.addr(), 42)?);
    // An address nothing answers at comes first: the node moves past it.
    let urls = format!("[\"https://127.0.0.1:9\", \"https://{}\", \"https://{}\"]", first.addr(), second.addr());
    cluster.add_stopped_node("sz", "city", "440300")?.set("central", &urls)?;
    cluster.node("sz").start()?;
    let rows = cluster.write_rows(&sample::outcomes("A", 50, "440300", 51))?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "convergence through the first instance", || cluster.converged())?;
    assert!(first.accepted() >= 1 && second.accepted() == 0, "the second instance was not needed yet");

    // The instance in use goes silent: the keep-alive notices, the node moves on.
    first.partition();
    let rows = cluster.write_rows(&sample::outcomes("B", 50, "440300", 52))?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "convergence through the second instance", || cluster.converged())?;
    assert!(second.accepted() >= 1, "the node failed over");

    // It comes back to the first when the second fails in turn.
    first.heal();
    second.partition();
    let rows = cluster.write_rows(&sample::outcomes("C", 50, "440300", 53))?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "convergence through the first instance again", || cluster.converged())?;
    assert_eq!(cluster.central.list(Some("outcomes"), None)?.len(), 150, "nothing lost, nothing twice");
    Ok(())
}
