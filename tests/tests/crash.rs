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
