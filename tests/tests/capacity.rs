//! Experts are scheduled: one at capacity is not proposed again until an
//! engagement lands or closes, and one is proposed only in a service mode
//! the demand asks for. `list experts` shows each expert's load.

mod common;

use common::rows::{battery_demand, battery_outcome};
use common::{SETTLE, console};
use kechuang_testkit::{Browser, Cluster, eventually};
use serde_json::{Value, json};

/// A battery-safety expert of the Shenzhen university, taking one engagement at a time.
fn expert() -> Value {
    json!({
        "id": "ZJ-1", "name": "王教授", "affiliation": "深圳理工大学储能研究院", "title": "教授",
        "fields": ["储能安全", "电池热失控"], "keywords": ["热失控", "早期预警", "电化学阻抗谱", "储能"],
        "region": "440300", "service_modes": ["技术咨询"], "capacity": 1,
    })
}

/// The matches of demand `reference` at central, by supply reference.
fn proposed_for(cluster: &Cluster, demand: &str) -> anyhow::Result<Vec<String>> {
    let demands = cluster.central.list(Some("demands"), None)?;
    let Some(id) = demands.iter().find(|d| d["external_id"] == demand).and_then(|d| d["id"].as_str()) else {
        return Ok(Vec::new());
    };
    let supplies = cluster.central.list(None, None)?;
    let reference = |supply: &Value| {
        supplies.iter().find(|r| r["id"] == *supply).map(|r| r["external_id"].as_str().unwrap_or_default().to_owned())
    };
    Ok(cluster
        .central
        .list(Some("matches"), None)?
        .iter()
        .filter(|m| m["demand"] == id)
        .filter_map(|m| reference(&m["supply"]))
        .collect())
}

fn publish(cluster: &mut Cluster, node: &str, rows: &[Value]) -> anyhow::Result<()> {
    let file = cluster.write_rows(rows)?;
    cluster.node(node).publish(&[&file])?;
    Ok(())
}

#[test]
fn an_expert_at_capacity_waits_until_an_engagement_lands_and_modes_must_fit() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("szu", "university", "440300")?;
    // The outcome answers every battery demand: once it is proposed, the
    // demand's routing is done, and what is missing was left out.
    publish(&mut cluster, "szu", &[expert(), battery_outcome("CG-1", "440300", "深圳理工大学")])?;
    eventually(SETTLE, "the supply at central", || Ok(cluster.central.list(None, None)?.len() == 2))?;

    publish(&mut cluster, "sz", &[battery_demand("XQ-1", "440300")])?;
    eventually(SETTLE, "XQ-1 proposed the expert", || Ok(proposed_for(&cluster, "XQ-1")?.contains(&"ZJ-1".into())))?;
    eventually(SETTLE, "the engagement at szu", || {
        let experts = cluster.node("szu").list(Some("experts"))?;
        Ok(experts.first().is_some_and(|e| e["load"] == 1))
    })?;

    // The university's console shows the load beside the capacity.
    let (url, base) = console(&mut cluster, "szu")?;
    let mut page = Browser::find()?.open(&url, 1280, 900)?;
    page.goto(&format!("{base}/records/experts"))?;
    let dom = page.dom()?;
    assert!(dom.contains("负荷/容量") && dom.contains("<td>1/1</td>"), "{dom}");

    // At capacity: a second battery demand gets the outcome, not the expert.
    publish(&mut cluster, "sz", &[battery_demand("XQ-2", "440300")])?;
    eventually(SETTLE, "XQ-2 routed", || Ok(proposed_for(&cluster, "XQ-2")?.contains(&"CG-1".into())))?;
    assert_eq!(proposed_for(&cluster, "XQ-2")?, ["CG-1"], "the expert at capacity is not proposed");

    // The engagement lands: the expert is free again.
    let first = cluster.node("sz").list(Some("matches"))?;
    let engagement = first
        .iter()
        .find(|m| m["supply_kind"] == "expert")
        .and_then(|m| m["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    cluster.node("sz").respond(&engagement, &["accept"])?;
    eventually(SETTLE, "the proposal at szu", || {
        Ok(cluster.node("szu").list(Some("matches"))?.iter().any(|m| m["id"] == engagement.as_str()))
    })?;
    cluster.node("szu").respond(&engagement, &["accept"])?;
    eventually(SETTLE, "connected at sz", || {
        Ok(cluster
            .node("sz")
            .list(Some("matches"))?
            .iter()
            .any(|m| m["id"] == engagement.as_str() && m["state"] == "connected"))
    })?;
    cluster.node("sz").respond(&engagement, &["contracted", "--type", "技术咨询", "--amount", "10"])?;
    cluster.node("sz").respond(&engagement, &["landed", "--note", "预警算法上线"])?;
    eventually(SETTLE, "landed at central", || {
        let matches = cluster.central.list(Some("matches"), None)?;
        Ok(matches.iter().any(|m| m["id"] == engagement.as_str() && m["state"] == "landed"))
    })?;
    eventually(SETTLE, "the load at szu back to 0", || {
        Ok(cluster.node("szu").list(Some("experts"))?.first().is_some_and(|e| e["load"] == 0))
    })?;

    // Free, but only in the modes it offers.
    let mut on_site = battery_demand("XQ-3", "440300");
    on_site["service_modes"] = json!(["现场指导"]);
    publish(&mut cluster, "sz", &[on_site])?;
    eventually(SETTLE, "XQ-3 routed", || Ok(proposed_for(&cluster, "XQ-3")?.contains(&"CG-1".into())))?;
    assert_eq!(proposed_for(&cluster, "XQ-3")?, ["CG-1"], "the expert does not offer 现场指导");
    let mut advice = battery_demand("XQ-4", "440300");
    advice["service_modes"] = json!(["技术咨询"]);
    publish(&mut cluster, "sz", &[advice])?;
    eventually(SETTLE, "XQ-4 proposed the expert again", || {
        Ok(proposed_for(&cluster, "XQ-4")?.contains(&"ZJ-1".into()))
    })?;
    Ok(())
}
