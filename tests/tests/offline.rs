//! Nodes keep working while central is down; nothing is sent twice.

mod common;

use common::{SETTLE, ids_versions};
use kechuang_testkit::{Cluster, eventually, sample};

#[test]
fn records_published_while_central_is_down_arrive_after_it_returns() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("gd", "provincial", "440000")?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gz", "city", "440100")?;
    cluster.central.terminate()?;

    let sz = cluster.write_rows(&sample::demands("SZ", 25, "440300", 4))?;
    let gz = cluster.write_rows(&sample::outcomes("GZ", 15, "440100", 5))?;
    assert_eq!(cluster.node("sz").publish(&[&sz])?["created"], 25, "operators can publish offline");
    assert_eq!(cluster.node("gz").publish(&[&gz])?["created"], 15);
    let status = cluster.node("sz").status()?;
    assert_eq!((status["connected"].as_bool(), status["unacked"].as_u64()), (Some(false), Some(25)));

    cluster.central.restart()?;
    // Counted by kind: central's matching may propose matches between them meanwhile.
    let published = |records: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        records.into_iter().filter(|r| r["kind"] != "match").collect()
    };
    eventually(SETTLE, "the province to receive everything", || {
        Ok(published(cluster.node("gd").list(None)?).len() == 40)
    })?;
    eventually(SETTLE, "every node to converge", || cluster.converged())?;
    assert_eq!(ids_versions(&published(cluster.central.list(None, None)?))?.len(), 40);
    Ok(())
}

#[test]
fn republishing_a_file_is_a_no_op_and_an_edit_updates_in_place() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("gd", "provincial", "440000")?;
    cluster.add_node("sz", "city", "440300")?;
    let mut rows = sample::demands("SZ", 10, "440300", 6);
    let file = cluster.write_rows(&rows)?;
    cluster.node("sz").publish(&[&file])?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    let before = ids_versions(&cluster.central.list(None, None)?)?;

    let again = cluster.node("sz").publish(&[&file])?;
    assert_eq!(
        (again["created"].as_u64(), again["updated"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(0), Some(10))
    );
    assert_eq!(cluster.node("sz").status()?["unacked"], 0, "nothing new to push");
    assert_eq!(ids_versions(&cluster.central.list(None, None)?)?, before);

    rows[3]["title"] = "锂电池热失控预警（修订）".into();
    let edited = cluster.write_rows(&rows)?;
    let report = cluster.node("sz").publish(&[&edited])?;
    assert_eq!((report["created"].as_u64(), report["updated"].as_u64()), (Some(0), Some(1)));
    eventually(SETTLE, "the edit to reach the province", || {
        Ok(cluster.node("gd").list(None)?.iter().any(|r| r["title"] == "锂电池热失控预警（修订）"))
    })?;
    let after = ids_versions(&cluster.central.list(None, None)?)?;
    assert_eq!(after.len(), 10, "an edit updates its record, it does not add one");
    let changed: Vec<_> = after.iter().filter(|(id, v)| before.get(*id) != Some(v)).collect();
    assert_eq!(changed.len(), 1);
    Ok(())
}

#[test]
fn an_idle_resync_transfers_nothing() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("gd", "provincial", "440000")?;
    cluster.add_node("sz", "city", "440300")?;
    let file = cluster.write_rows(&sample::demands("SZ", 50, "440300", 7))?;
    cluster.node("sz").publish(&[&file])?;
    eventually(SETTLE, "convergence", || cluster.converged())?;

    for id in ["gd", "sz"] {
        cluster.node(id).terminate()?;
        cluster.node(id).start()?;
    }
    cluster.central.terminate()?;
    cluster.central.restart()?;
    eventually(SETTLE, "reconnection", || cluster.converged())?;
    for id in ["gd", "sz"] {
        let s = cluster.node(id).status()?;
        assert_eq!(s["feed_records"], 0, "{id} received records on an idle resync: {s}");
        assert_eq!(s["pushed_records"], 0, "{id} pushed records on an idle resync: {s}");
    }
    Ok(())
}

#[test]
fn an_export_reads_back_unchanged_and_a_province_exports_what_it_holds() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("gd", "provincial", "440000")?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gz", "university", "440100")?;
    let demands = cluster.write_rows(&sample::demands("SZ", 12, "440300", 6))?;
    let outcomes = cluster.write_rows(&sample::outcomes("GZ", 7, "440100", 7))?;
    cluster.node("sz").publish(&[&demands])?;
    cluster.node("gz").publish(&[&outcomes])?;
    eventually(SETTLE, "every node to converge", || cluster.converged())?;

    for ext in ["csv", "json", "jsonl", "xlsx"] {
        let file = cluster.path().join(format!("sz-export.{ext}"));
        let said = cluster.node("sz").export(None, &file, true)?;
        assert!(said.contains("exported demands 12, outcomes 0, experts 0"), "{ext}: {said}");
        let again = cluster.node("sz").publish(&[&file])?;
        assert_eq!((again["unchanged"].as_u64(), again["created"].as_u64()), (Some(12), Some(0)), "{ext}: {again}");
    }
    // The same CSV as Excel on a Chinese Windows saves it: GBK, no BOM.
    let utf8 = std::fs::read_to_string(cluster.path().join("sz-export.csv"))?;
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(utf8.trim_start_matches('\u{feff}'));
    assert!(!unmappable);
    let gbk_file = cluster.path().join("sz-export-gbk.csv");
    std::fs::write(&gbk_file, &gbk)?;
    let again = cluster.node("sz").publish(&[&gbk_file])?;
    assert_eq!((again["unchanged"].as_u64(), again["created"].as_u64()), (Some(12), Some(0)), "GBK: {again}");
    let province = cluster.path().join("gd-export.csv");
    let said = cluster.node("gd").export(None, &province, false)?;
    assert!(said.contains("exported demands 12, outcomes 7, experts 0"), "{said}");
    assert_eq!(
        cluster.node("gd").export(Some("outcomes"), &province, true)?.trim_end(),
        format!("exported demands 0, outcomes 0, experts 0 to {}", province.display())
    );
    Ok(())
}
