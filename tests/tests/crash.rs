//! `kill -9` at the worst moments loses nothing and duplicates nothing.

mod common;

use std::time::{Duration, Instant};

use common::{SETTLE, ids_versions};
use kechuang_testkit::{Cluster, eventually, sample};

const RECORDS: usize = 20_000;

#[test]
fn central_killed_during_a_large_push_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.central.terminate()?;
    let file = cluster.write_rows(&sample::demands("SZ", RECORDS, "440300", 8))?;
    cluster.node("sz").publish(&[&file])?;
    assert_eq!(cluster.node("sz").status()?["unacked"], RECORDS as u64);

    cluster.central.restart()?;
    eventually(SETTLE, "the push to be under way", || {
        let unacked = cluster.node("sz").status()?["unacked"].as_u64().unwrap_or(0);
        Ok(unacked < RECORDS as u64)
    })?;
    cluster.central.kill();
    let unacked_at_kill = cluster.node("sz").status()?["unacked"].as_u64().unwrap_or(0);
    assert!(unacked_at_kill > 0, "the push finished before the kill: the scenario needs more records");
    let killed = Instant::now();
    cluster.central.restart()?;
    eventually(SETTLE, "the push to complete after the restart", || cluster.converged())?;
    eprintln!("central killed with {unacked_at_kill} of {RECORDS} unacked; recovered in {:?}", killed.elapsed());

    let node = ids_versions(&cluster.node("sz").list(None)?)?;
    let central = ids_versions(&cluster.central.list(None, None)?)?;
    assert_eq!(node.len(), RECORDS);
    assert_eq!(node, central, "same ids and versions on both sides");
    Ok(())
}

#[test]
fn node_killed_while_applying_its_feed_resumes_without_loss_or_duplicates() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    let file = cluster.write_rows(&sample::outcomes("SZ", RECORDS, "440300", 9))?;
    cluster.node("sz").publish(&[&file])?;
    eventually(SETTLE, "central to hold everything", || cluster.converged())?;

    cluster.add_node("gd", "provincial", "440000")?;
    eventually(SETTLE, "the feed to be under way", || {
        let received = cluster.node("gd").status()?["feed_records"].as_u64().unwrap_or(0);
        Ok(received > 0)
    })?;
    cluster.node("gd").kill();
    let killed = Instant::now();
    std::thread::sleep(Duration::from_millis(50));
    cluster.node("gd").start()?;
    eventually(SETTLE, "the provincial node to converge", || cluster.converged())?;
    let after_restart = cluster.node("gd").status()?["feed_records"].as_u64().unwrap_or(0);
    eprintln!(
        "node killed with {after_restart} of {RECORDS} records still to receive; recovered in {:?}",
        killed.elapsed()
    );
    assert!(after_restart > 0, "the feed finished before the kill: the scenario needs more records");
    assert!(after_restart < RECORDS as u64, "the restart resumed from the cursor, not from the start");

    let held = ids_versions(&cluster.node("gd").list(None)?)?;
    let expected = ids_versions(&cluster.central.list(None, Some("gd"))?)?;
    assert_eq!(held.len(), RECORDS);
    assert_eq!(held, expected, "same ids and versions as central's view");
    Ok(())
}
