//! `kill -9` at the worst moments loses nothing and duplicates nothing.

mod common;

use std::time::Instant;

use common::{SETTLE, ids_versions};
use kechuang_testkit::{Cluster, eventually, sample};

const RECORDS: usize = 20_000;

#[test]
fn central_killed_during_a_large_push_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    // Killed once between applying a batch and making it durable, once
    // between making it durable and acknowledging it.
    for (round, point) in ["push-applied", "push-durable"].into_iter().enumerate() {
        cluster.central.terminate()?;
        let file = cluster.write_rows(&sample::demands(&format!("SZ{round}"), RECORDS / 2, "440300", 8))?;
        cluster.node("sz").publish(&[&file])?;
        cluster.central.process().arm_crash(point, 5);
        cluster.central.restart()?;
        cluster.central.process().wait_crashed()?;
        let unacked_at_kill = cluster.node("sz").status()?["unacked"].as_u64().unwrap_or(0);
        assert!(unacked_at_kill > 0, "{point}: the crash left part of the push unacknowledged");
        let killed = Instant::now();
        cluster.central.restart()?;
        eventually(SETTLE, "the push to complete after the restart", || cluster.converged())?;
        eprintln!("central killed at {point} with {unacked_at_kill} unacked; recovered in {:?}", killed.elapsed());

        let node = ids_versions(&cluster.node("sz").list(None)?)?;
        let central = ids_versions(&cluster.central.list(None, None)?)?;
        assert_eq!(node.len(), (round + 1) * RECORDS / 2);
        assert_eq!(node, central, "{point}: same ids and versions on both sides");
    }
    Ok(())
}

#[test]
fn node_killed_while_applying_its_feed_resumes_without_loss_or_duplicates() -> anyhow::Result<()> {
    const HALF: usize = RECORDS / 2;
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gd", "provincial", "440000")?;
    let first = cluster.write_rows(&sample::outcomes("SZ", HALF, "440300", 9))?;
    cluster.node("sz").publish(&[&first])?;
    eventually(SETTLE, "the first half to reach the provincial node", || cluster.converged())?;
    cluster.node("gd").terminate()?;
    // The national office sees which station is away and since when.
    eventually(SETTLE, "central to notice the provincial node left", || {
        let nodes = cluster.central.nodes()?;
        let gd = nodes.iter().find(|n| n["node_id"] == "gd").cloned().unwrap_or_default();
        Ok(gd["connected"] == false && gd["last_seen"].as_str().is_some_and(|t| t.starts_with("20")))
    })?;

    let second = cluster.write_rows(&sample::outcomes("SZB", HALF, "440300", 10))?;
    cluster.node("sz").publish(&[&second])?;
    eventually(SETTLE, "central to hold the second half", || cluster.converged())?;
    // Killed right after applying its third batch of the second half:
    // deterministic, and always in the middle of the stream.
    cluster.node("gd").process().arm_crash("feed-applied", 3);
    cluster.node("gd").start()?;
    cluster.node("gd").process().wait_crashed()?;
    let killed = Instant::now();
    cluster.node("gd").start()?;
    eventually(SETTLE, "the provincial node to converge", || cluster.converged())?;
    let after_restart = cluster.node("gd").status()?["feed_records"].as_u64().unwrap_or(0);
    eprintln!(
        "node killed mid-feed; received {after_restart} of {RECORDS} records after the restart; recovered in {:?}",
        killed.elapsed()
    );
    assert!(after_restart > 0, "the crash left part of the feed to receive");
    assert!(after_restart <= HALF as u64, "the restart resumed from the cursor, not from the start");

    let held = ids_versions(&cluster.node("gd").list(None)?)?;
    let expected = ids_versions(&cluster.central.list(None, Some("gd"))?)?;
    assert_eq!(held.len(), RECORDS);
    assert_eq!(held, expected, "same ids and versions as central's view");

    let status = cluster.node("gd").status()?;
    assert_eq!(status["held_records"], RECORDS, "{status}");
    assert_eq!(status["expected_records"], RECORDS, "{status}");
    let log = cluster.node("gd").process().log_text();
    assert!(log.contains("caught up with central"), "the node says when it has caught up:\n{log}");
    Ok(())
}

#[test]
fn a_backup_taken_while_a_node_pushes_restores_a_central_the_network_converges_with() -> anyhow::Result<()> {
    use common::rows::{battery_demand, battery_outcome};

    let mut cluster = Cluster::start()?;
    for (id, kind, region) in [("sz", "city", "440300"), ("gzu", "university", "440100")] {
        // Each node checks its digest every second: what the restored
        // central lacks is found that way.
        cluster.add_stopped_node(id, kind, region)?.set("repair_secs", "1.0")?;
        cluster.node(id).start()?;
    }
    let file = cluster.write_rows(&[battery_outcome("CG-1", "440100", "岭南大学")])?;
    cluster.node("gzu").publish(&[&file])?;
    eventually(SETTLE, "the outcome at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 1))?;
    let file = cluster.write_rows(&[battery_demand("XQ-1", "440300")])?;
    cluster.node("sz").publish(&[&file])?;
    eventually(SETTLE, "the proposal at sz", || Ok(cluster.node("sz").list(Some("matches"))?.len() == 1))?;
    let proposal = cluster.node("sz").list(Some("matches"))?[0]["id"].as_str().unwrap_or_default().to_owned();
    cluster.node("sz").respond(&proposal, &["accept"])?;
    eventually(SETTLE, "the answer at central", || Ok(cluster.central.history(Some(&proposal))?.len() >= 2))?;

    // 3,000 demands are being pushed while the backup is taken.
    let file = cluster.write_rows(&sample::demands("BK", 3_000, "440300", 9))?;
    let config = cluster.node("sz").config().to_owned();
    let publisher = std::thread::spawn(move || {
        kechuang_testkit::command("kechuang-node").arg("publish").arg("--config").arg(&config).arg(&file).output()
    });
    eventually(SETTLE, "the push under way", || Ok(cluster.central.list(Some("demands"), None)?.len() > 1))?;
    let out = cluster.path().join("backup");
    let printed = cluster.central.verb(&["backup", "--out", &out.to_string_lossy()])?;
    assert!(printed.contains("backup of central at log position"), "{printed}");
    assert!(publisher.join().map_err(|_| anyhow::anyhow!("publisher panicked"))??.status.success());
    // And 500 more, acknowledged by central after the copy was taken.
    let file = cluster.write_rows(&sample::demands("AFTER", 500, "440300", 10))?;
    cluster.node("sz").publish(&[&file])?;
    eventually(SETTLE, "every demand at central", || cluster.converged())?;
    let demands = ids_versions(&cluster.central.list(Some("demands"), None)?)?;
    let outcomes = ids_versions(&cluster.central.list(Some("outcomes"), None)?)?;
    assert_eq!(demands.len(), 3_501);
    let history = cluster.central.history(Some(&proposal))?;

    // Central's machine is lost; a new directory is made from the backup.
    cluster.central.kill();
    let home = cluster.central.home.clone();
    std::fs::rename(&home, home.with_extension("lost"))?;
    let restored = kechuang_testkit::command("kechuang-central")
        .args(["restore", "--from"])
        .arg(&out)
        .arg("--data-dir")
        .arg(&home)
        .output()?;
    assert!(restored.status.success(), "{restored:?}");
    cluster.central.restart()?;
    // What central acknowledged after the copy was taken comes back from the node.
    eventually(SETTLE, "convergence with the restored central", || cluster.converged())?;
    assert_eq!(ids_versions(&cluster.central.list(Some("demands"), None)?)?, demands, "no demand lost or doubled");
    assert_eq!(ids_versions(&cluster.central.list(Some("outcomes"), None)?)?, outcomes);
    assert_eq!(cluster.central.history(Some(&proposal))?, history, "the history came back whole");
    Ok(())
}
