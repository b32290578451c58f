//! Central's backup, taken while a node pushes, restores a central the
//! network converges with: nothing acknowledged is lost for good.

mod common;

use common::{SETTLE, ids_versions};
use kechuang_testkit::{Cluster, eventually, sample};

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

#[test]
fn moving_central_from_sled_to_postgresql_is_a_backup_and_a_restore() -> anyhow::Result<()> {
    let postgres = kechuang_testkit::Postgres::start_with(&["fsync = off"])?;
    let url = postgres.database("moved")?;
    let mut cluster = Cluster::start()?;
    cluster.add_stopped_node("sz", "city", "440300")?.set("repair_secs", "1.0")?;
    cluster.node("sz").start()?;
    let file = cluster.write_rows(&sample::demands("MV", 500, "440300", 31))?;
    cluster.node("sz").publish(&[&file])?;
    eventually(SETTLE, "the demands at central", || cluster.converged())?;
    let demands = ids_versions(&cluster.central.list(Some("demands"), None)?)?;
    assert_eq!(demands.len(), 500);

    let out = cluster.path().join("backup");
    cluster.central.verb(&["backup", "--out", &out.to_string_lossy()])?;
    cluster.central.terminate()?;
    let home = cluster.central.home.clone();
    std::fs::rename(&home, home.with_extension("sled"))?;
    let restored = kechuang_testkit::command("kechuang-central")
        .args(["restore", "--from"])
        .arg(&out)
        .arg("--data-dir")
        .arg(&home)
        .args(["--store-url", &url])
        .output()?;
    assert!(restored.status.success(), "{restored:?}");
    assert!(String::from_utf8_lossy(&restored.stdout).contains("PostgreSQL at"), "{restored:?}");
    assert!(std::fs::read_to_string(home.join("central.toml"))?.contains(&url), "central.toml names the database");
    cluster.central.restart()?;
    let file = cluster.write_rows(&sample::demands("PG", 50, "440300", 32))?;
    cluster.node("sz").publish(&[&file])?;
    eventually(SETTLE, "convergence with central on PostgreSQL", || cluster.converged())?;
    let now = ids_versions(&cluster.central.list(Some("demands"), None)?)?;
    assert_eq!(now.len(), 550);
    assert!(demands.iter().all(|(id, version)| now.get(id) == Some(version)), "every record moved as it was");
    Ok(())
}
