//! The programme's figures over a scripted two-province network of real
//! processes where every step is known: `stats` equals the funnel counted
//! by hand, a provincial station sees only its province, and only verified
//! steps count.

mod common;

use common::SETTLE;
use common::rows::{battery_demand, battery_outcome, demand};
use kechuang_testkit::{Cluster, eventually};
use serde_json::{Value, json};

/// A tea-processing demand of Chengdu: nothing in Sichuan answers it.
fn tea_demand() -> Value {
    let mut row = demand(
        "XQ-C",
        "510100",
        "名优绿茶杀青理条连续化生产",
        "茶厂的名优绿茶杀青和理条依靠人工炒制，产量低且品质不稳定，希望引进连续化杀青理条生产线，稳定茶叶色泽和香气。",
        &["绿茶", "杀青", "理条", "连续化"],
    );
    row["industry"] = json!("C15");
    row
}

/// The Guangzhou university's tea outcome that answers it.
fn tea_outcome() -> Value {
    json!({
        "id": "CG-TEA", "title": "名优绿茶连续化杀青理条生产线",
        "abstract": "滚筒杀青与往复理条联动，按茶青含水率自动调节温度和转速，实现名优绿茶连续化加工，色泽翠绿、香气稳定。",
        "industry": "C15", "keywords": ["绿茶", "杀青", "理条", "连续化"], "owner": "岭南大学",
        "region": "440100", "trl": 7, "ip": "发明专利", "transfer_modes": ["技术转让"], "price_wan": 60,
        "contact": {"person": "林老师", "phone": "020-8711 0001", "email": "lin@univ.example.edu.cn"},
    })
}

/// The id of the one match central holds between these two owners.
fn match_between(cluster: &Cluster, demand_owner: &str, supply_owner: &str) -> anyhow::Result<String> {
    let matches = cluster.central.list(Some("matches"), None)?;
    let found: Vec<&Value> =
        matches.iter().filter(|m| m["demand_owner"] == demand_owner && m["supply_owner"] == supply_owner).collect();
    anyhow::ensure!(found.len() == 1, "{} matches {demand_owner}–{supply_owner}: {matches:#?}", found.len());
    Ok(found[0]["id"].as_str().unwrap_or_default().to_owned())
}

/// Guangdong: Shenzhen (city) and a Guangzhou university under `gd`;
/// Sichuan: Chengdu (city) and a Chengdu university under `sc`.
///
/// - A: Shenzhen's battery demand × the Guangzhou outcome (province tier):
///   both accept, both record 技术许可 120 万元, Shenzhen records the landing.
/// - B: Chengdu's battery demand × the Chengdu outcome (city tier): the
///   university declines.
/// - C: Chengdu's tea demand × the Guangzhou tea outcome (national tier):
///   both accept.
fn scripted() -> anyhow::Result<Cluster> {
    // Escalation far off: each demand gets its nearest strong tier only.
    let mut cluster = Cluster::start_with_settings(&[("escalation_secs", "3600")])?;
    for (id, kind, region) in [
        ("gd", "provincial", "440000"),
        ("sz", "city", "440300"),
        ("gzu", "university", "440100"),
        ("sc", "provincial", "510000"),
        ("cd", "city", "510100"),
        ("scu", "university", "510100"),
    ] {
        cluster.add_node(id, kind, region)?;
    }
    let rows = cluster.write_rows(&[battery_outcome("CG-GD", "440100", "岭南大学"), tea_outcome()])?;
    cluster.node("gzu").publish(&[&rows])?;
    let rows = cluster.write_rows(&[battery_outcome("CG-SC", "510100", "蜀都大学")])?;
    cluster.node("scu").publish(&[&rows])?;
    eventually(SETTLE, "the outcomes at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 3))?;
    let rows = cluster.write_rows(&[battery_demand("XQ-A", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    let rows = cluster.write_rows(&[battery_demand("XQ-B", "510100"), tea_demand()])?;
    cluster.node("cd").publish(&[&rows])?;
    eventually(SETTLE, "three proposals", || Ok(cluster.central.list(Some("matches"), None)?.len() >= 3))?;

    let (a, b, c) = (
        match_between(&cluster, "sz", "gzu")?,
        match_between(&cluster, "cd", "scu")?,
        match_between(&cluster, "cd", "gzu")?,
    );
    for (node, id) in [("sz", &a), ("gzu", &a), ("gzu", &c), ("cd", &c)] {
        eventually(SETTLE, &format!("{id} at {node}"), || {
            Ok(cluster.node(node).list(Some("matches"))?.iter().any(|m| m["id"] == **id))
        })?;
        cluster.node(node).respond(id, &["accept"])?;
    }
    eventually(SETTLE, "B at scu", || Ok(!cluster.node("scu").list(Some("matches"))?.is_empty()))?;
    cluster.node("scu").respond(&b, &["decline", "--reason", "价格"])?;
    eventually(SETTLE, "A connected at sz", || {
        Ok(cluster.node("sz").list(Some("matches"))?.iter().any(|m| m["id"] == *a && !m["demand_contact"].is_null()))
    })?;
    for node in ["gzu", "sz"] {
        cluster.node(node).respond(&a, &["contracted", "--type", "技术许可", "--amount", "120"])?;
    }
    eventually(SETTLE, "A's contract verified at sz", || {
        Ok(cluster.node("sz").list(Some("matches"))?.iter().any(|m| m["id"] == *a && !m["verified_contract"].is_null()))
    })?;
    cluster.node("sz").respond(&a, &["landed", "--note", "预警系统上线"])?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    Ok(cluster)
}

fn central_stats(cluster: &Cluster, args: &[&str]) -> anyhow::Result<Value> {
    let mut all = vec!["stats", "--json"];
    all.extend_from_slice(args);
    Ok(serde_json::from_str(&cluster.central.verb(&all)?)?)
}

/// The demand funnel of a row, as published, proposed, connected, contracted, landed, withdrawn.
fn funnel(row: &Value) -> [u64; 6] {
    let d = &row["demands"];
    ["published", "proposed", "connected", "contracted", "landed", "withdrawn"]
        .map(|k| d[k].as_u64().unwrap_or(u64::MAX))
}

/// Proposals of a row: total, city, province, national, connected, contracted, landed, declined, expired, withdrawn.
fn proposals(row: &Value) -> [u64; 10] {
    let p = &row["proposals"];
    ["total", "city", "province", "national", "connected", "contracted", "landed", "declined", "expired", "withdrawn"]
        .map(|k| p[k].as_u64().unwrap_or(u64::MAX))
}

#[test]
fn the_figures_equal_the_funnel_counted_by_hand_and_each_province_sees_its_own() -> anyhow::Result<()> {
    let mut cluster = scripted()?;

    let national = central_stats(&cluster, &["--by", "province"])?;
    let total = &national["total"];
    assert_eq!(funnel(total), [3, 3, 2, 1, 1, 0], "{total:#}");
    assert_eq!(proposals(total), [3, 1, 1, 1, 2, 1, 1, 1, 0, 0], "{total:#}");
    assert_eq!(
        (total["contracts"]["count"].as_u64(), total["contracts"]["amount_wan"].as_f64()),
        (Some(1), Some(120.0))
    );
    assert_eq!(total["cross_province_share"], 0.5, "C crosses provinces, A does not");
    let rows: Vec<(&str, &str, [u64; 6])> = national["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["label"].as_str().unwrap(), funnel(r)))
        .collect();
    assert_eq!(rows, [("440000", "广东省", [1, 1, 1, 1, 1, 0]), ("510000", "四川省", [2, 2, 1, 0, 0, 0])]);

    // Each provincial station gets its own province, computed by central.
    let gd = cluster.node("gd").stats(&[])?;
    assert_eq!(gd["scope"], json!({"level": "province", "of": "440000"}));
    assert_eq!(funnel(&gd["total"]), [1, 1, 1, 1, 1, 0]);
    assert_eq!(proposals(&gd["total"]), [1, 0, 1, 0, 1, 1, 1, 0, 0, 0]);
    assert_eq!(gd["total"]["contracts"]["amount_wan"], 120.0);
    let answered: Vec<(&str, u64, u64)> = gd["responsiveness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["node"].as_str().unwrap(), r["received"].as_u64().unwrap(), r["answered"].as_u64().unwrap()))
        .collect();
    assert_eq!(answered, [("gzu", 2, 2), ("sz", 1, 1)], "Guangdong's stations only");
    assert_eq!(gd, central_stats(&cluster, &["--province", "440000"])?, "the same figures central gives for Guangdong");

    let sc = cluster.node("sc").stats(&["--by", "tier"])?;
    assert_eq!(funnel(&sc["total"]), [2, 2, 1, 0, 0, 0]);
    assert_eq!(proposals(&sc["total"]), [2, 1, 0, 1, 1, 0, 0, 1, 0, 0]);
    assert_eq!(sc["total"]["cross_province_share"], 1.0);
    let tiers: Vec<&str> = sc["rows"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(tiers, ["同城", "全国"]);
    let answered: Vec<(&str, u64, u64)> = sc["responsiveness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["node"].as_str().unwrap(), r["received"].as_u64().unwrap(), r["answered"].as_u64().unwrap()))
        .collect();
    assert_eq!(answered, [("cd", 2, 1), ("scu", 1, 1)], "cd never answered B, which scu declined");

    // A university sees the demands its supply reached, and its own answers.
    let gzu = cluster.node("gzu").stats(&[])?;
    assert_eq!(funnel(&gzu["total"]), [0, 2, 2, 1, 1, 0]);
    assert_eq!(gzu["responsiveness"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[test]
fn figures_export_to_csv_and_xlsx_with_chinese_headings_and_a_window_counts_its_days() -> anyhow::Result<()> {
    let cluster = scripted()?;
    let csv = cluster.path().join("stats.csv");
    let csv_arg = csv.to_str().unwrap();
    cluster.central.verb(&["stats", "--by", "province", "--csv", csv_arg])?;
    let text = std::fs::read_to_string(&csv)?;
    assert!(text.starts_with("\u{feff}省份,名称,发布需求,获推荐需求,对接需求,签约需求,落地需求"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "two provinces and the total: {text}");
    assert!(lines[1].starts_with("440000,广东省,1,1,1,1,1,0,"), "{text}");
    assert!(lines[3].starts_with("合计,全国,3,3,2,1,1,0,3,1,1,1,2,1,1,1,0,0,1,120,"), "{text}");

    let xlsx = cluster.path().join("stats.xlsx");
    cluster.central.verb(&["stats", "--by", "month", "--xlsx", xlsx.to_str().unwrap()])?;
    assert!(std::fs::read(&xlsx)?.starts_with(b"PK"), "an XLSX workbook (a zip)");

    // Everything happened today: a window ending yesterday counts nothing.
    let yesterday = common::in_days(-1).to_string();
    let before = central_stats(&cluster, &["--to", &yesterday])?;
    assert_eq!(funnel(&before["total"]), [0; 6]);
    let today = common::in_days(0).to_string();
    let month = central_stats(&cluster, &["--from", &today, "--by", "month"])?;
    assert_eq!(month["rows"][0]["key"], today[..7]);
    assert_eq!(funnel(&month["rows"][0]), [3, 3, 2, 1, 1, 0]);

    // 榜单 of this year: the landing and the verified contract put gzu and
    // its battery outcome first; Shenzhen solved its one demand.
    let rankings: Value = serde_json::from_str(&cluster.central.verb(&["rankings", "--json"])?)?;
    let list = |key: &str| rankings["lists"].as_array().unwrap().iter().find(|l| l["key"] == key).cloned().unwrap();
    let first = |key: &str| {
        list(key)["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["rank"].as_u64().unwrap(), e["id"].as_str().unwrap().to_owned(), e["value"].as_f64().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(first("universities"), [(1, "gzu".to_owned(), 1.0)]);
    assert!(list("universities")["entries"][0]["detail"].as_str().unwrap().contains("成交额 120 万元"));
    assert!(list("outcomes")["entries"][0]["name"].as_str().unwrap().contains("锂电池热失控"));
    assert_eq!(first("cities"), [(1, "440300".to_owned(), 1.0)], "Chengdu solved none of its two");
    assert_eq!(first("responsiveness"), [], "nobody answered three proposals");
    assert!(list("responsiveness")["method"].as_str().unwrap().contains("至少 3 条"));
    let printed = cluster.central.verb(&["rankings"])?;
    assert!(printed.contains("高校榜") && printed.contains("规则：") && printed.contains("（暂无上榜）"), "{printed}");

    let refused = cluster.central.verb_failing(&["stats", "--from", &today, "--to", &yesterday])?;
    assert!(refused.contains("to:"), "{refused}");
    let refused = cluster.central.verb_failing(&["stats", "--by", "weather"])?;
    assert!(refused.contains("by:") && refused.contains("province, city, node"), "{refused}");
    Ok(())
}
