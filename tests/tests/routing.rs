//! Records reach the nodes that must see them, and no others.

mod common;

use common::{SETTLE, ids_versions, refs};
use kechuang_testkit::{Cluster, eventually, sample};

#[test]
fn city_records_reach_their_provincial_node_and_not_another_province() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("gd", "provincial", "440000")?;
    cluster.add_node("sc", "provincial", "510000")?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("cd", "city", "510100")?;

    let shenzhen = cluster.write_rows(&sample::demands("SZ", 30, "440300", 1))?;
    let chengdu = cluster.write_rows(&sample::demands("CD", 20, "510100", 2))?;
    cluster.node("sz").publish(&[&shenzhen])?;
    cluster.node("cd").publish(&[&chengdu])?;

    eventually(SETTLE, "both provinces to receive their cities' demands", || {
        Ok(cluster.node("gd").list(Some("demands"))?.len() == 30
            && cluster.node("sc").list(Some("demands"))?.len() == 20)
    })?;
    eventually(SETTLE, "every node to converge", || cluster.converged())?;

    let gd = cluster.node("gd").list(None)?;
    assert!(refs(&gd).iter().all(|r| r.starts_with("SZ-")), "Guangdong holds only Guangdong records");
    let sc = cluster.node("sc").list(None)?;
    assert!(refs(&sc).iter().all(|r| r.starts_with("CD-")), "Sichuan holds only Sichuan records");
    assert_eq!(cluster.node("cd").list(None)?.len(), 20, "a city node holds only its own records");

    // Same ids and versions as central's view for the node, and no contacts.
    assert_eq!(ids_versions(&gd)?, ids_versions(&cluster.central.list(None, Some("gd"))?)?);
    assert!(gd.iter().all(|r| r["contact"].is_null()), "contacts never reach a provincial view");
    let own = cluster.node("sz").list(Some("demands"))?;
    assert!(own.iter().all(|r| !r["contact"].is_null()), "the owner keeps its contacts");
    Ok(())
}

#[test]
fn a_provincial_node_that_joins_late_receives_its_whole_province() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    let rows = cluster.write_rows(&sample::outcomes("O", 40, "440300", 3))?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "central to hold the outcomes", || {
        Ok(cluster.central.list(Some("outcomes"), None)?.len() == 40)
    })?;

    cluster.add_node("gd", "provincial", "440000")?;
    eventually(SETTLE, "the new provincial node to catch up", || Ok(cluster.node("gd").list(None)?.len() == 40))?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    Ok(())
}

#[test]
fn records_of_the_longest_allowed_text_travel_in_messages_under_the_limit() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("gd", "provincial", "440000")?;
    cluster.add_node("sz", "city", "440300")?;
    // 1,000 abstracts of ~3,900 characters: ~12 MB, more than a message may carry.
    let mut rows = sample::outcomes("SZ", 1_000, "440300", 3);
    for (i, row) in rows.iter_mut().enumerate() {
        row["abstract"] = format!("第{i}项成果。{}", "本成果面向产业化应用，技术成熟度高。".repeat(216)).into();
    }
    let file = cluster.write_rows(&rows)?;
    cluster.node("sz").publish(&[&file])?;
    eventually(SETTLE, "the province to receive every long record", || cluster.converged())?;
    let held = cluster.node("gd").list(Some("outcomes"))?;
    assert_eq!(held.len(), 1_000);
    assert!(held.iter().all(|r| r["abstract"].as_str().is_some_and(|a| a.chars().count() > 3_850)));
    assert!(cluster.node("gd").status()?["feed_bytes"].as_u64() > Some(10_000_000));
    Ok(())
}

#[test]
fn central_lists_in_pages_that_together_hold_every_record_once() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    let rows = cluster.write_rows(&sample::outcomes("SZ", 25, "440300", 61))?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "the outcomes at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 25))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    let (paged, pages) = runtime.block_on(common::admin::records_paged(&cluster.central, "outcome", "", 7))?;
    assert_eq!((paged.len(), pages), (25, 4), "pages of 7, 7, 7 and 4");
    let ids: Vec<Vec<u8>> = paged.iter().map(|r| r.meta.as_ref().map(|m| m.id.clone()).unwrap_or_default()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order, none twice");
    let (none, pages) = runtime.block_on(common::admin::records_paged(&cluster.central, "demand", "", 7))?;
    assert_eq!((none.len(), pages), (0, 1), "a kind with nothing is one empty page");
    let (view, _) = runtime.block_on(common::admin::records_paged(&cluster.central, "", "sz", 3))?;
    let (whole, _) = runtime.block_on(common::admin::records_paged(&cluster.central, "", "sz", 0))?;
    assert_eq!(view, whole, "a node's view is the same in pages of 3 and in one");
    assert_eq!(cluster.central.list(None, None)?.len(), 25, "the CLI reads every page");
    Ok(())
}
