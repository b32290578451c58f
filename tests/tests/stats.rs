//! The programme's figures over a scripted two-province network of real
//! processes where every step is known: `stats` equals the funnel counted
//! by hand, a provincial station sees only its province, and only verified
//! steps count.

mod common;

use common::programme::scripted;
use kechuang_testkit::Cluster;
use serde_json::{Value, json};

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
