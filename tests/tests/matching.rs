//! Matching and three-level routing: the right supply reaches the right
//! node, local first, tracked through its lifecycle.

mod common;

use std::time::{Duration, Instant};

use common::SETTLE;
use common::rows::{battery_challenge, battery_demand, battery_outcome};
use kechuang_testkit::{Cluster, eventually};
use serde_json::Value;

fn matches(cluster: &mut Cluster, node: &str) -> anyhow::Result<Vec<Value>> {
    cluster.node(node).list(Some("matches"))
}

fn tiers(list: &[Value]) -> Vec<String> {
    let mut t: Vec<String> = list.iter().map(|m| m["tier"].as_str().unwrap_or("").to_owned()).collect();
    t.sort();
    t
}

#[test]
fn a_cross_province_match_reaches_both_owners_and_both_provinces_only() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    for (id, kind, region) in [
        ("gd", "provincial", "440000"),
        ("sc", "provincial", "510000"),
        ("zj", "provincial", "330000"),
        ("sz", "city", "440300"),
        ("gz", "city", "440100"),
        ("scu", "university", "510100"),
    ] {
        cluster.add_node(id, kind, region)?;
    }
    let outcome = cluster.write_rows(&[battery_outcome("CG-1", "510100", "天府大学")])?;
    cluster.node("scu").publish(&[&outcome])?;
    eventually(
        SETTLE,
        "the outcome to reach central",
        || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 1),
    )?;

    let demand = cluster.write_rows(&[battery_demand("XQ-1", "440300")])?;
    let published = Instant::now();
    cluster.node("sz").publish(&[&demand])?;
    eventually(SETTLE, "the proposal at the university", || Ok(!matches(&mut cluster, "scu")?.is_empty()))?;
    eprintln!("demand published at sz → proposal at scu in {:?}", published.elapsed());

    let at_uni = matches(&mut cluster, "scu")?;
    assert_eq!(at_uni.len(), 1);
    let m = &at_uni[0];
    assert_eq!(m["tier"], "national");
    assert_eq!(m["state"], "proposed");
    let why = m["explanation"].as_str().unwrap_or_default();
    assert!(why.contains("匹配词") && why.contains("同行业（C38）") && why.contains("跨省"), "explanation: {why}");
    let id = m["id"].as_str().unwrap_or_default().to_owned();
    for node in ["sz", "gd", "sc"] {
        eventually(SETTLE, &format!("the match at {node}"), || {
            Ok(matches(&mut cluster, node)?.iter().any(|x| x["id"] == id.as_str()))
        })?;
    }
    eventually(SETTLE, "convergence", || cluster.converged())?;
    for node in ["zj", "gz"] {
        assert!(matches(&mut cluster, node)?.is_empty(), "{node} must not see the match");
    }
    Ok(())
}

#[test]
fn strong_same_city_supply_is_proposed_first_then_escalation_reaches_province_and_nation() -> anyhow::Result<()> {
    let mut cluster = Cluster::start_with_settings(&[("escalation_secs", "5.0")])?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("szu", "university", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    cluster.add_node("scu", "university", "510100")?;
    for (node, region, owner) in
        [("szu", "440300", "鹏城大学"), ("gzu", "440100", "岭南大学"), ("scu", "510100", "天府大学")]
    {
        let file = cluster.write_rows(&[battery_outcome(&format!("CG-{node}"), region, owner)])?;
        cluster.node(node).publish(&[&file])?;
    }
    eventually(SETTLE, "the outcomes at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 3))?;

    let file = cluster.write_rows(&[battery_demand("XQ-1", "440300")])?;
    let started = Instant::now();
    cluster.node("sz").publish(&[&file])?;
    eventually(SETTLE, "the local proposal", || Ok(!matches(&mut cluster, "sz")?.is_empty()))?;
    let first = matches(&mut cluster, "sz")?;
    assert_eq!(tiers(&first), ["city"], "strong same-city supply comes first, alone");
    assert!(started.elapsed() < Duration::from_secs(5), "before the first escalation");

    eventually(SETTLE, "escalation to the province", || Ok(matches(&mut cluster, "sz")?.len() >= 2))?;
    assert!(started.elapsed() >= Duration::from_secs(5), "escalation waits for the window");
    assert_eq!(tiers(&matches(&mut cluster, "sz")?), ["city", "province"]);
    eventually(SETTLE, "escalation to the nation", || Ok(matches(&mut cluster, "sz")?.len() >= 3))?;
    assert!(started.elapsed() >= Duration::from_secs(10), "a second window");
    assert_eq!(tiers(&matches(&mut cluster, "sz")?), ["city", "national", "province"]);
    Ok(())
}

#[test]
fn contacts_are_hidden_until_both_sides_accept_then_only_the_sides_see_them() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("gd", "provincial", "440000")?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    let outcome = cluster.write_rows(&[battery_outcome("CG-1", "440100", "岭南大学")])?;
    cluster.node("gzu").publish(&[&outcome])?;
    eventually(SETTLE, "the outcome at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 1))?;
    let demand = cluster.write_rows(&[battery_demand("XQ-1", "440300")])?;
    cluster.node("sz").publish(&[&demand])?;
    eventually(SETTLE, "the proposal at both sides", || {
        Ok(!matches(&mut cluster, "sz")?.is_empty() && !matches(&mut cluster, "gzu")?.is_empty())
    })?;
    let id = matches(&mut cluster, "sz")?[0]["id"].as_str().unwrap_or_default().to_owned();
    let no_contacts = |m: &Value| m["demand_contact"].is_null() && m["supply_contact"].is_null();

    // Only the demand side accepts: nothing is released anywhere.
    let after = cluster.node("sz").respond(&id, &["accept"])?;
    assert_eq!(after["state"], "accepted_by_demand");
    let refused = cluster.node("gzu").respond_refused(&id, &["contracted", "--type", "技术许可", "--amount", "150"])?;
    assert!(refused.contains("both sides"), "{refused}");
    eventually(SETTLE, "the answer to reach the university", || {
        Ok(matches(&mut cluster, "gzu")?[0]["state"] == "accepted_by_demand")
    })?;
    for node in ["sz", "gzu", "gd"] {
        assert!(no_contacts(&matches(&mut cluster, node)?[0]), "{node} saw contacts before both accepted");
    }

    cluster.node("gzu").respond(&id, &["accept"])?;
    for node in ["sz", "gzu"] {
        eventually(SETTLE, &format!("contacts at {node}"), || {
            let m = &matches(&mut cluster, node)?[0];
            Ok(m["state"] == "connected"
                && m["demand_contact"]["person"] == "周工"
                && m["supply_contact"]["person"] == "陈老师")
        })?;
    }
    eventually(SETTLE, "convergence", || cluster.converged())?;
    let provincial = &matches(&mut cluster, "gd")?[0];
    assert_eq!(provincial["state"], "connected");
    assert!(no_contacts(provincial), "the provincial view never carries contacts");

    // Forward only: contract, land (by the city node responsible), no way back.
    cluster.node("gzu").respond(&id, &["contracted", "--type", "技术许可", "--amount", "150"])?;
    assert!(cluster.node("gzu").respond_refused(&id, &["landed"])?.contains("landing is recorded by sz"));
    eventually(SETTLE, "the contract at sz", || Ok(matches(&mut cluster, "sz")?[0]["state"] == "contracted"))?;
    let landed = cluster.node("sz").respond(&id, &["landed", "--note", "首批电芯预警系统投用"])?;
    assert_eq!(landed["state"], "landed");
    let refused = cluster.node("sz").respond_refused(&id, &["decline", "--reason", "价格"])?;
    assert!(refused.contains("landed"), "{refused}");
    eventually(SETTLE, "the landing everywhere", || {
        Ok(["gzu", "gd"].iter().all(|n| matches(&mut cluster, n).map(|m| m[0]["state"] == "landed").unwrap_or(false)))
    })?;
    Ok(())
}

#[test]
fn a_challenge_takes_bids_and_the_award_becomes_a_contracted_match_for_each_offer() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    cluster.add_node("scu", "university", "510100")?;
    for (node, region, owner) in [("gzu", "440100", "岭南大学"), ("scu", "510100", "天府大学")] {
        let file = cluster.write_rows(&[battery_outcome(&format!("CG-{node}"), region, owner)])?;
        cluster.node(node).publish(&[&file])?;
    }
    let mut second = battery_outcome("CG-gzu-2", "440100", "岭南大学");
    second["title"] = "储能电池簇产气在线监测装置".into();
    let file = cluster.write_rows(&[second])?;
    cluster.node("gzu").publish(&[&file])?;
    let file = cluster.write_rows(&[battery_challenge("JB-1", "440300")])?;
    cluster.node("sz").publish(&[&file])?;
    let demand_id = cluster.node("sz").list(Some("demands"))?[0]["id"].as_str().unwrap_or_default().to_owned();

    for node in ["gzu", "scu"] {
        eventually(SETTLE, &format!("the open challenge at {node}"), || {
            Ok(cluster.node(node).list(Some("demands"))?.iter().any(|d| d["id"] == demand_id.as_str()))
        })?;
    }
    let bid_gz =
        cluster.node("gzu").bid(&demand_id, "以阻抗谱预警方案揭榜，六个月完成现场验证", &["CG-gzu", "CG-gzu-2"])?;
    cluster.node("scu").bid(&demand_id, "以产气检测方案揭榜", &["CG-scu"])?;
    eventually(SETTLE, "both bids at the challenge's owner", || Ok(cluster.node("sz").list(Some("bids"))?.len() == 2))?;
    assert!(cluster.node("gzu").list(Some("bids"))?.len() == 1, "a bidder sees only its own bid");

    let bid_id = bid_gz["id"].as_str().unwrap_or_default();
    let awarded = cluster.node("sz").award(bid_id)?;
    assert_eq!(awarded["not_chosen"], 1);
    eventually(SETTLE, "a contracted match for each outcome the bid offered, at both sides", || {
        let at = |n: &str, c: &mut Cluster| -> anyhow::Result<bool> {
            let contracted = matches(c, n)?
                .iter()
                .filter(|m| m["state"] == "contracted" && m["supply_contact"]["person"] == "陈老师")
                .count();
            Ok(contracted == 2)
        };
        Ok(at("sz", &mut cluster)? && at("gzu", &mut cluster)?)
    })?;
    eventually(SETTLE, "the other bidder told it was not chosen", || {
        Ok(cluster.node("scu").list(Some("bids"))?[0]["decision"]["value"] == "not_chosen")
    })?;
    assert!(
        matches(&mut cluster, "scu")?.iter().all(|m| m["state"] != "contracted"),
        "the losing bidder has no contracted match"
    );
    Ok(())
}

/// A Shenzhen city node, and a Guangzhou university whose battery outcome central holds.
#[test]
fn a_new_network_of_five_battery_outcomes_proposes_them_to_a_battery_demand() -> anyhow::Result<()> {
    // Every outcome shares the demand's words: by the index's own
    // statistics none is telling, and nothing used to be proposed.
    let mut cluster = Cluster::start()?;
    cluster.add_node("szu", "university", "440300")?;
    cluster.add_node("gz", "city", "440100")?;
    let outcomes: Vec<Value> = (1..=5)
        .map(|i| {
            serde_json::json!({
                "id": format!("CG-{i}"), "title": format!("低温型锂离子电池电解液添加剂（第{i}代）"),
                "abstract": "新型电解液添加剂改善锂电池低温放电容量，减缓低温容量衰减。",
                "industry": "C38", "keywords": ["锂电池", "电解液", "低温", "容量衰减"], "owner": "鹏城大学",
                "region": "440300", "trl": 7, "transfer_modes": ["技术许可"], "price_wan": 80,
            })
        })
        .collect();
    let file = cluster.write_rows(&outcomes)?;
    cluster.node("szu").publish(&[&file])?;
    eventually(SETTLE, "five outcomes at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 5))?;

    let demand = common::rows::demand(
        "XQ-1",
        "440100",
        "锂电池低温容量衰减",
        "冬季户外储能柜中的锂电池在零下二十度时放电容量衰减严重，希望改进电解液或加热方案，提升低温可用容量。\
         企业现有产线依赖人工经验判断，质量波动明显，客户投诉逐年增加。希望引入成熟可靠的技术方案，在不大幅改造现有设备的前提下实现升级。\
         要求方案具备中试或工程化应用案例，并能提供现场技术支持与人员培训。项目预算可分两期支付，首期用于方案验证，二期用于规模化推广。",
        &["锂电池", "低温", "容量衰减"],
    );
    let file = cluster.write_rows(&[demand])?;
    cluster.node("gz").publish(&[&file])?;
    eventually(SETTLE, "the proposals at the university", || Ok(matches(&mut cluster, "szu")?.len() == 5))?;
    Ok(())
}

fn shenzhen_and_a_guangzhou_outcome() -> anyhow::Result<Cluster> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    let outcome = cluster.write_rows(&[battery_outcome("CG-1", "440100", "华南理工大学")])?;
    cluster.node("gzu").publish(&[&outcome])?;
    eventually(SETTLE, "the outcome at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 1))?;
    Ok(cluster)
}

#[test]
fn a_deleted_index_is_rebuilt_from_the_store() -> anyhow::Result<()> {
    let mut cluster = shenzhen_and_a_guangzhou_outcome()?;

    cluster.central.terminate()?;
    std::fs::remove_dir_all(cluster.central.home.join("index"))?;
    cluster.central.restart()?;
    let demand = cluster.write_rows(&[battery_demand("XQ-1", "440300")])?;
    cluster.node("sz").publish(&[&demand])?;
    eventually(SETTLE, "a proposal from the rebuilt index", || Ok(!matches(&mut cluster, "sz")?.is_empty()))?;
    assert_eq!(matches(&mut cluster, "sz")?[0]["supply_title"], "基于电化学阻抗谱的锂电池热失控早期预警方法");
    Ok(())
}

#[test]
fn a_demand_acknowledged_just_before_central_crashes_is_still_matched() -> anyhow::Result<()> {
    let mut cluster = shenzhen_and_a_guangzhou_outcome()?;

    // Central dies as matching reads the demand's push: durable, maybe acknowledged, not matched.
    cluster.central.terminate()?;
    cluster.central.process().arm_crash("matching-read", 1);
    cluster.central.restart()?;
    let demand = cluster.write_rows(&[battery_demand("XQ-1", "440300")])?;
    cluster.node("sz").publish(&[&demand])?;
    cluster.central.process().wait_crashed()?;
    cluster.central.restart()?;
    eventually(SETTLE, "the proposal after the restart", || Ok(!matches(&mut cluster, "sz")?.is_empty()))?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    assert_eq!(matches(&mut cluster, "sz")?.len(), 1, "proposed once");
    Ok(())
}

#[test]
fn central_stopped_part_way_through_matching_matches_the_rest_at_its_next_start() -> anyhow::Result<()> {
    const DEMANDS: usize = 30;
    let mut cluster = shenzhen_and_a_guangzhou_outcome()?;

    // One push of many demands is one chunk of the log; central is told to
    // stop after routing the fifth of them.
    cluster.central.terminate()?;
    cluster.central.process().arm_stop("matching-routed", 5);
    cluster.central.restart()?;
    let rows: Vec<Value> = (0..DEMANDS).map(|i| battery_demand(&format!("XQ-{i}"), "440300")).collect();
    let demands = cluster.write_rows(&rows)?;
    cluster.node("sz").publish(&[&demands])?;
    cluster.central.process().wait_stopped()?;
    let log = cluster.central.process().log_text();
    assert!(log.contains("matching stopped part-way"), "the stop came between demands:\n{log}");

    cluster.central.restart()?;
    eventually(
        SETTLE,
        "every demand proposed after the restart",
        || Ok(matches(&mut cluster, "sz")?.len() == DEMANDS),
    )?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    let proposed: Vec<Value> = matches(&mut cluster, "sz")?;
    let mut demands: Vec<&str> = proposed.iter().filter_map(|m| m["demand"].as_str()).collect();
    demands.sort_unstable();
    demands.dedup();
    assert_eq!(demands.len(), DEMANDS, "one proposal per demand, none twice");
    Ok(())
}
