//! Whether a demand is proposed anything must not depend on what else
//! happens to be indexed: a network's first five outcomes, all about
//! batteries, must reach a battery demand as they would in a large index.

use kechuang_matching::{DemandProfile, Engine, Params, plan};
use kechuang_types::{Body, Date, Industry, Region, Trl};

fn outcome(title: &str, summary: &str, keywords: &[&str]) -> kechuang_types::Record {
    let mut o = kechuang_types::testing::outcome(title);
    if let Body::Outcome(x) = &mut o.body {
        x.summary = summary.into();
        x.keywords = keywords.iter().map(|k| k.to_string()).collect();
        x.region = Region::parse("r", "440100").unwrap();
        x.industry = Industry::parse("i", "C38").unwrap();
        x.trl = Trl::new("trl", 6).unwrap();
    }
    o
}

fn battery_outcomes() -> Vec<kechuang_types::Record> {
    vec![
        outcome(
            "低温型锂离子电池电解液添加剂",
            "新型电解液添加剂改善锂离子电池在零下二十摄氏度的低温放电容量，容量保持率提升至百分之八十五。",
            &["锂离子电池", "电解液", "低温"],
        ),
        outcome(
            "低温锂电池正极材料表面包覆技术",
            "采用原子层沉积在高镍正极表面包覆氧化铝，提高锂电池低温容量与循环寿命。",
            &["锂电池", "正极材料", "低温"],
        ),
        outcome(
            "锂电池低温加热管理系统",
            "基于脉冲自加热的锂电池低温管理方案，零下二十度启动时容量恢复快。",
            &["锂电池", "低温", "加热"],
        ),
        outcome(
            "锂电池容量衰减诊断方法",
            "通过增量容量分析诊断锂电池容量衰减机理，区分低温析锂与老化。",
            &["锂电池", "容量衰减", "诊断"],
        ),
        outcome(
            "低温储能锂电池模组",
            "面向寒冷地区储能柜的锂电池模组，低温下放电容量保持率高。",
            &["锂电池", "储能", "低温"],
        ),
    ]
}

fn demand() -> kechuang_types::Record {
    let mut d = kechuang_types::testing::demand("锂电池低温容量衰减");
    if let Body::Demand(x) = &mut d.body {
        x.description = "冬季户外储能柜中的锂电池在零下二十度时放电容量衰减严重，希望改进电解液或加热方案，提升低温可用容量。\
            企业现有产线依赖人工经验判断，质量波动明显，客户投诉逐年增加。希望引入成熟可靠的技术方案，在不大幅改造现有设备的前提下实现升级。\
            要求方案具备中试或工程化应用案例，并能提供现场技术支持与人员培训。项目预算可分两期支付，首期用于方案验证，二期用于规模化推广。"
            .into();
        x.keywords = vec!["锂电池".into(), "低温".into(), "容量衰减".into()];
        x.region = Region::parse("r", "440300").unwrap();
        x.industry = Industry::parse("i", "C38").unwrap();
        x.min_trl = Trl::new("min_trl", 5).unwrap();
    }
    d
}

fn proposed(outcomes: &[kechuang_types::Record]) -> Vec<String> {
    let mut engine = Engine::in_memory(Params::default()).unwrap();
    for o in outcomes {
        engine.upsert(o, true).unwrap();
    }
    engine.commit().unwrap();
    let demand = DemandProfile::from_record(&demand()).unwrap();
    let today = Date::today();
    let ranked = engine.rank(&demand, today).unwrap();
    plan(&ranked, 10)
        .into_iter()
        .map(|p| engine.supply(&p.candidate.supply).map(|s| s.title.clone()).unwrap_or_default())
        .collect()
}

#[test]
fn five_outcomes_that_all_answer_a_demand_are_all_proposed() {
    // Every outcome shares the demand's words, so by the index's own
    // statistics none of them is telling; they still answer the demand.
    let same: Vec<_> = (1..=5)
        .map(|i| {
            outcome(
                &format!("低温型锂离子电池电解液添加剂（第{i}代）"),
                "新型电解液添加剂改善锂电池低温放电容量，减缓低温容量衰减。",
                &["锂电池", "电解液", "低温", "容量衰减"],
            )
        })
        .collect();
    assert_eq!(proposed(&same).len(), 5);
}

#[test]
fn unrelated_outcomes_beside_them_come_after_them() {
    let alone = proposed(&battery_outcomes());
    assert_eq!(alone.len(), 5, "{alone:?}");

    let mut crowded = battery_outcomes();
    for (title, summary) in [
        ("川菜复合调味料非热杀菌工艺", "超高压与低温等离子体联合杀菌，保持调味料风味。"),
        ("纺织品疵点机器视觉检测", "深度学习识别织物断经断纬，检出率百分之九十九。"),
        ("中药材重金属快速检测", "便携式光谱检测中药材铅镉砷含量。"),
        ("风电叶片无人机巡检", "无人机搭载红外相机巡检风电叶片裂纹与雷击损伤。"),
        ("农田土壤墒情物联网监测", "低功耗传感网络实时监测土壤水分与温度。"),
    ] {
        crowded.push(outcome(title, summary, &["检测"]));
    }
    let among = proposed(&crowded);
    assert_eq!(among.first(), alone.first(), "{among:?}");
    // Every battery outcome is still proposed, ahead of anything unrelated.
    let (mut alone, mut first) = (alone, among[..among.len().min(5)].to_vec());
    alone.sort();
    first.sort();
    assert_eq!(first, alone, "{among:?}");
}

/// A search reads one catalogue with matching's analysis of the words.
#[test]
fn a_search_finds_the_closest_records_of_one_catalogue() {
    use kechuang_matching::Catalogue;
    let mut engine = Engine::in_memory(Params::default()).unwrap();
    let outcomes = battery_outcomes();
    for record in &outcomes {
        engine.upsert(record, true).unwrap();
    }
    let mut tea = kechuang_types::testing::demand("名优绿茶连续化杀青");
    if let Body::Demand(d) = &mut tea.body {
        d.description = "茶叶加工企业需要绿茶杀青理条的连续化生产线。".into();
    }
    engine.upsert(&tea, true).unwrap();
    engine.commit().unwrap();

    let hits = engine.search(Catalogue::Outcomes, "锂电池低温加热", 3).unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].0, outcomes[2].meta.id, "the heating system answers best: {hits:?}");
    assert_eq!(hits[0].1, 1.0);
    assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
    let demands = engine.search(Catalogue::Demands, "绿茶杀青", 5).unwrap();
    assert_eq!(demands.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [tea.meta.id], "only the demands' catalogue");
    assert!(engine.search(Catalogue::Experts, "锂电池", 5).unwrap().is_empty());
    assert!(engine.search(Catalogue::Outcomes, "  ", 5).unwrap().is_empty(), "no words, nothing found");
}
