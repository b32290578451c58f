//! The supply side looks for work: a university searches the national
//! catalogue, finds a demand in another province and offers its outcome
//! (主动对接); the match reaches the demand's owner and both provincial
//! stations and follows the usual lifecycle. Searches are scoped to what
//! each station may see, and never carry contacts.

mod common;

use std::time::{Duration, Instant};

use common::programme::tea_outcome;
use common::rows::{battery_demand, battery_outcome};
use common::{SETTLE, console};
use kechuang_testkit::{Browser, Cluster, eventually};

#[test]
fn a_university_finds_a_demand_in_another_province_and_offers_its_outcome() -> anyhow::Result<()> {
    // Escalation far off: matching alone would not reach across provinces.
    let mut cluster = Cluster::start_with_settings(&[("escalation_secs", "3600")])?;
    for (id, kind, region) in [
        ("gd", "provincial", "440000"),
        ("sz", "city", "440300"),
        ("sc", "provincial", "510000"),
        ("scu", "university", "510100"),
    ] {
        cluster.add_node(id, kind, region)?;
    }
    let rows = cluster.write_rows(&[battery_demand("XQ-SZ", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    // Matching proposes the battery outcome itself; the university offers
    // another of its outcomes, one matching would not have paired.
    let mut other = tea_outcome();
    other["id"] = "CG-SC2".into();
    other["region"] = "510100".into();
    let rows = cluster.write_rows(&[battery_outcome("CG-SC", "510100", "蜀都大学"), other])?;
    cluster.node("scu").publish(&[&rows])?;
    eventually(SETTLE, "the records at central", || Ok(cluster.central.list(None, None)?.len() >= 3))?;

    // The university finds Shenzhen's demand by its words, without contacts.
    eventually(SETTLE, "the demand found", || {
        Ok(!cluster.node("scu").search("储能电池热失控预警", "demands", &[])?.is_empty())
    })?;
    let hits = cluster.node("scu").search("储能电池热失控预警", "demands", &[])?;
    let demand = &hits[0]["record"];
    assert_eq!(demand["external_id"], "XQ-SZ", "{hits:#?}");
    assert!(demand.get("contact").is_none_or(serde_json::Value::is_null), "a search carries no contacts: {demand}");
    assert_eq!(hits[0]["score"], 1.0);
    let demand_id = demand["id"].as_str().unwrap_or_default().to_owned();
    // Filters narrow it; another catalogue does not hold it.
    assert_eq!(cluster.node("scu").search("储能电池热失控预警", "demands", &["--region", "44"])?.len(), 1);
    assert!(cluster.node("scu").search("储能电池热失控预警", "demands", &["--region", "51"])?.is_empty());
    assert!(cluster.node("scu").search("储能电池热失控预警", "demands", &["--industry", "A01"])?.is_empty());
    // A station searches demands only in its own area; outcomes anywhere.
    assert!(cluster.node("sc").search("储能电池热失控预警", "demands", &[])?.is_empty(), "Sichuan's station");
    assert_eq!(cluster.node("gd").search("储能电池热失控预警", "demands", &[])?.len(), 1, "Guangdong's station");
    let outcomes = cluster.node("sz").search("电池热失控 预警 阻抗谱", "outcomes", &[])?;
    let first = outcomes.first().map(|h| h["record"]["external_id"].clone());
    assert_eq!(first, Some("CG-SC".into()), "{outcomes:#?}");

    // The offer: the match reaches the demand's owner and both provincial stations.
    let offered = cluster.node("scu").interest(&demand_id, "CG-SC2", "我校连续化产线控制经验可用于电池簇监测")?;
    let match_id = offered["id"].as_str().unwrap_or_default().to_owned();
    assert!(offered["explanation"].as_str().is_some_and(|e| e.starts_with("主动对接：")), "{offered}");
    let asked = Instant::now();
    let holds = |cluster: &mut Cluster, id: &str| -> anyhow::Result<bool> {
        Ok(cluster.node(id).list(Some("matches"))?.iter().any(|m| m["id"] == match_id.as_str()))
    };
    eventually(Duration::from_secs(2), "the match at sz, gd and sc", || {
        Ok(holds(&mut cluster, "sz")? && holds(&mut cluster, "gd")? && holds(&mut cluster, "sc")?)
    })?;
    eprintln!("the offer reached the demand's owner and both provincial stations in {:?}", asked.elapsed());
    let history = cluster.central.history(Some(&match_id))?;
    assert_eq!(history[0]["by"], "scu", "the history credits the university: {history:#?}");

    // The same lifecycle as any match: Shenzhen accepts it.
    cluster.node("sz").respond(&match_id, &["accept"])?;
    eventually(SETTLE, "the acceptance at central", || {
        let matches = cluster.central.list(Some("matches"), None)?;
        Ok(matches.iter().any(|m| m["id"] == match_id.as_str() && m["state"] == "accepted_by_demand"))
    })?;

    // Offered once; only the node's own supply; never its own demand.
    let refused = |args: &[&str], node: &str, cluster: &Cluster| -> anyhow::Result<String> {
        let out = kechuang_testkit::command("kechuang-node")
            .arg("interest")
            .arg("--config")
            .arg(cluster.node_dir(node).join("node.toml"))
            .args(args)
            .output()?;
        anyhow::ensure!(!out.status.success(), "interest {args:?} at {node} was taken");
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let again = refused(&[&demand_id, "--outcome", "CG-SC2"], "scu", &cluster)?;
    assert!(again.contains("already proposed"), "{again}");
    let not_own = refused(&[&demand_id, "--outcome", "XQ-SZ"], "sz", &cluster)?;
    assert!(not_own.contains("XQ-SZ is a demand"), "{not_own}");
    Ok(())
}

#[test]
fn a_university_searches_and_offers_from_its_console() -> anyhow::Result<()> {
    let browser = Browser::find()?;
    let mut cluster = Cluster::start_with_settings(&[("escalation_secs", "3600")])?;
    for (id, kind, region) in [("sz", "city", "440300"), ("scu", "university", "510100")] {
        cluster.add_node(id, kind, region)?;
    }
    let rows = cluster.write_rows(&[battery_demand("XQ-SZ", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    let mut offered = tea_outcome();
    offered["id"] = "CG-TEA".into();
    offered["region"] = "510100".into();
    let rows = cluster.write_rows(&[offered])?;
    cluster.node("scu").publish(&[&rows])?;
    eventually(SETTLE, "both records at central", || Ok(cluster.central.list(None, None)?.len() == 2))?;

    let (url, base) = console(&mut cluster, "scu")?;
    let mut page = browser.open(&url, 1280, 900)?;
    page.goto(&format!("{base}/search?q=储能电池热失控预警&kind=demands"))?;
    page.wait_for("document.querySelector('table.hits form.interest')", SETTLE)?;
    assert!(page.dom()?.contains("储能电站锂电池热失控早期预警"), "{}", page.dom()?);
    page.eval(
        "const f = document.querySelector('form.interest'); f.note.value = '连续化产线的在线监测经验'; f.submit(); true",
    )?;
    page.wait_for("document.getElementById('flash')", SETTLE)?;
    assert!(page.dom()?.contains("已提出主动对接"), "{}", page.dom()?);
    eventually(SETTLE, "the offer at sz", || {
        let matches = cluster.node("sz").list(Some("matches"))?;
        Ok(matches.iter().any(|m| m["explanation"].as_str().is_some_and(|e| e.contains("连续化产线的在线监测经验"))))
    })?;
    assert!(page.console_errors().is_empty(), "{:#?}", page.console_errors());
    Ok(())
}

#[test]
fn an_expert_abroad_is_national_tier_and_shown_with_its_country() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("scu", "university", "510100")?;
    // 海智计划: the university brings in an expert working in Germany.
    let expert = serde_json::json!({
        "id": "HZ-1", "name": "Dr. Müller", "affiliation": "Fraunhofer ISE", "title": "Senior scientist",
        "fields": ["储能安全", "电池热失控"], "keywords": ["热失控", "早期预警", "电化学阻抗谱", "储能"],
        "region": "德国", "service_modes": ["技术咨询"],
    });
    let rows = cluster.write_rows(&[expert])?;
    cluster.node("scu").publish(&[&rows])?;
    let held = cluster.node("scu").list(Some("experts"))?;
    assert_eq!(held[0]["region"], "DE", "stored as the ISO code: {held:#?}");

    let rows = cluster.write_rows(&[battery_demand("XQ-SZ", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "the expert proposed to Shenzhen", || {
        Ok(!cluster.node("sz").list(Some("matches"))?.is_empty())
    })?;
    let m = &cluster.node("sz").list(Some("matches"))?[0];
    assert_eq!((m["tier"].as_str(), m["supply_region"].as_str()), (Some("national"), Some("DE")), "{m:#}");
    let hits = cluster.node("sz").search("热失控 早期预警", "experts", &["--region", "DE"])?;
    assert_eq!(hits.len(), 1, "{hits:#?}");

    // A demand is an enterprise's in China.
    let mut abroad = battery_demand("XQ-DE", "440300");
    abroad["region"] = "DE".into();
    let file = cluster.write_rows(&[abroad])?;
    let refused = kechuang_testkit::command("kechuang-node")
        .args(["publish", "--config"])
        .arg(cluster.node_dir("sz").join("node.toml"))
        .arg(&file)
        .output()?;
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && said.contains("region") && said.contains("GB/T 2260"), "{said}");
    let table = kechuang_testkit::command("kechuang-node")
        .args(["list", "experts", "--config"])
        .arg(cluster.node_dir("scu").join("node.toml"))
        .output()?;
    assert!(String::from_utf8_lossy(&table.stdout).contains("DE 德国"), "{}", String::from_utf8_lossy(&table.stdout));
    Ok(())
}

#[test]
fn a_society_issued_for_its_fields_receives_their_demands_and_outcomes() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    // The electrical engineering society assesses C38 (electrical machinery and equipment).
    cluster.add_society("ces", "110000", "C38")?;
    let mut tea = common::programme::tea_demand();
    tea["id"] = "XQ-TEA".into();
    tea["region"] = "440300".into();
    let rows = cluster.write_rows(&[battery_demand("XQ-C38", "440300"), tea])?;
    cluster.node("sz").publish(&[&rows])?;
    let rows = cluster.write_rows(&[battery_outcome("CG-C38", "440100", "岭南大学"), tea_outcome()])?;
    cluster.node("gzu").publish(&[&rows])?;
    eventually(SETTLE, "the C38 demand and outcome at the society", || {
        let held = cluster.node("ces").list(None)?;
        let refs: Vec<&str> = held.iter().filter_map(|r| r["external_id"].as_str()).collect();
        Ok(refs.contains(&"XQ-C38") && refs.contains(&"CG-C38"))
    })?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    let held = cluster.node("ces").list(None)?;
    let refs: Vec<&str> = held.iter().filter_map(|r| r["external_id"].as_str()).collect();
    assert!(!refs.contains(&"XQ-TEA") && !refs.contains(&"CG-TEA"), "nothing of another field: {refs:?}");
    assert!(held.iter().all(|r| r.get("contact").is_none_or(serde_json::Value::is_null)), "no contacts");
    let nodes = cluster.central.nodes()?;
    let ces = nodes.iter().find(|n| n["node_id"] == "ces").cloned().unwrap_or_default();
    assert_eq!(ces["fields"], serde_json::json!(["C38"]), "central knows the society's fields: {ces:#}");

    // A bid on a C38 challenge reaches the society too, to be assessed.
    let rows = cluster.write_rows(&[common::rows::battery_challenge("JB-C38", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "the challenge at gzu", || {
        Ok(cluster.node("gzu").list(Some("demands"))?.iter().any(|d| d["external_id"] == "JB-C38"))
    })?;
    let challenge = cluster.node("gzu").list(Some("demands"))?;
    let challenge =
        challenge.iter().find(|d| d["external_id"] == "JB-C38").and_then(|d| d["id"].as_str()).unwrap_or_default();
    let bid = cluster.node("gzu").bid(challenge, "以阻抗谱预警方案揭榜", &["CG-C38"])?;
    assert_eq!(bid["industry"], "C38", "{bid:#}");
    eventually(SETTLE, "the bid at the society", || {
        Ok(cluster.node("ces").list(Some("bids"))?.iter().any(|b| b["id"] == bid["id"]))
    })?;
    Ok(())
}
