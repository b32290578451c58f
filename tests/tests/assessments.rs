//! Learned societies assess (专业评估) and experts serve as teams (服务团).
//!
//! A society issued for its fields receives their outcomes and challenge
//! bids, assesses them, and the assessment travels with its subject: the
//! outcome's owner and its provincial station hold it, and a challenge's
//! owner reads the bids' assessments before awarding. Central refuses an
//! assessment from any other station, or of a subject outside the
//! society's fields. A university's team of its own and another
//! university's expert is matched like an expert and reaches every
//! member's node.

mod common;

use common::programme::tea_outcome;
use common::rows::{battery_challenge, battery_demand, battery_outcome};
use common::wire::{Raw, now_version};
use common::{SETTLE, console};
use kechuang_testkit::{Browser, Cluster, eventually};
use kechuang_types::{
    Assessment, Body, Industry, Meta, NodeId, Recommendation, Record, RecordId, RecordKind, Region, Scores,
};
use serde_json::{Value, json};

fn publish(cluster: &mut Cluster, node: &str, rows: &[Value]) -> anyhow::Result<()> {
    let file = cluster.write_rows(rows)?;
    cluster.node(node).publish(&[&file])?;
    Ok(())
}

/// The id of the record of `node` with reference `reference`, as central holds it.
fn id_of(cluster: &Cluster, reference: &str) -> anyhow::Result<String> {
    let held = cluster.central.list(None, None)?;
    let found = held.iter().find(|r| r["external_id"] == reference).and_then(|r| r["id"].as_str());
    Ok(found.ok_or_else(|| anyhow::anyhow!("central holds no {reference}"))?.to_owned())
}

/// The assessments `node` holds of `subject`.
fn assessments_at(cluster: &mut Cluster, node: &str, subject: &str) -> anyhow::Result<Vec<Value>> {
    let held = cluster.node(node).list(Some("assessments"))?;
    Ok(held.into_iter().filter(|a| a["subject"] == subject).collect())
}

#[test]
fn a_society_assesses_its_fields_and_the_challenge_owner_reads_it_before_awarding() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("gd", "provincial", "440000")?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    cluster.add_society("ces", "110000", "C38")?;

    // The society receives the C38 outcome and recommends it.
    publish(&mut cluster, "gzu", &[battery_outcome("CG-C38", "440100", "岭南大学")])?;
    eventually(SETTLE, "the outcome at the society", || {
        Ok(cluster.node("ces").list(Some("outcomes"))?.iter().any(|o| o["external_id"] == "CG-C38"))
    })?;
    let outcome = id_of(&cluster, "CG-C38")?;
    let assessment = cluster.node("ces").assess(&outcome, "5,4,4,2", "推荐", "阻抗谱预警思路新颖，已有中试数据")?;
    assert_eq!(assessment["subject_kind"], "outcome", "{assessment:#}");
    assert_eq!(assessment["industry"], "C38");
    assert_eq!(assessment["scores"], json!({"advancement": 5, "maturity": 4, "market": 4, "risk": 2}));
    for node in ["gzu", "gd"] {
        eventually(SETTLE, &format!("the assessment at {node}"), || {
            Ok(assessments_at(&mut cluster, node, &outcome)?.iter().any(|a| a["verdict"] == "推荐"))
        })?;
    }
    // The outcome's owner reads it beside the outcome.
    let listed = cluster.node("gzu").list(Some("outcomes"))?;
    assert_eq!(listed[0]["assessments"][0]["verdict"], "推荐", "{:#}", listed[0]);

    // A bid on a C38 challenge is assessed; the challenge's owner reads
    // the assessment before awarding.
    publish(&mut cluster, "sz", &[battery_challenge("JB-C38", "440300")])?;
    eventually(SETTLE, "the challenge at gzu", || {
        Ok(cluster.node("gzu").list(Some("demands"))?.iter().any(|d| d["external_id"] == "JB-C38"))
    })?;
    let challenge = id_of(&cluster, "JB-C38")?;
    let bid = cluster.node("gzu").bid(&challenge, "以阻抗谱预警方案揭榜", &["CG-C38"])?;
    let bid = bid["id"].as_str().unwrap_or_default().to_owned();
    eventually(SETTLE, "the bid at the society", || {
        Ok(cluster.node("ces").list(Some("bids"))?.iter().any(|b| b["id"] == bid))
    })?;
    // The society assesses the bid from its console's 评估 page.
    let (url, base) = console(&mut cluster, "ces")?;
    let browser = Browser::find()?;
    let mut page = browser.open(&url, 1280, 900)?;
    page.goto(&format!("{base}/assessments"))?;
    let form = format!("document.querySelector('div.subject[data-id=\"{bid}\"] form')");
    page.wait_for(&form, SETTLE)?;
    page.eval(&format!(
        "const f = {form}; f.advancement.value = '4'; f.maturity.value = '4'; f.market.value = '3'; f.risk.value = '3';\
         f.verdict.value = '有条件推荐'; f.evaluator.value = '储能专委会'; f.text.value = '需在两个月内完成现场标定'; f.submit(); true"
    ))?;
    page.wait_for("document.getElementById('flash')", SETTLE)?;
    assert!(page.dom()?.contains("已提交评估"), "{}", page.dom()?);
    eventually(SETTLE, "the bid's assessment at the challenge's owner", || {
        let bids = cluster.node("sz").list(Some("bids"))?;
        let ours = bids.iter().find(|b| b["id"] == bid.as_str());
        Ok(ours
            .is_some_and(|b| b["assessments"][0]["verdict"] == "有条件推荐" && b["decision"]["value"] == "submitted"))
    })?;
    // And on the 揭榜 page of its console, beside the bid it decides on.
    let (url, base) = console(&mut cluster, "sz")?;
    let mut page = browser.open(&url, 1280, 900)?;
    page.goto(&format!("{base}/challenges"))?;
    let dom = page.dom()?;
    assert!(dom.contains("有条件推荐") && dom.contains("需在两个月内完成现场标定"), "{dom}");
    cluster.node("sz").award(&bid)?;

    // Assessing again revises the society's assessment: one per subject.
    cluster.node("ces").assess(&outcome, "4,3,3,3", "不推荐", "复核后认为成本过高")?;
    eventually(SETTLE, "the revision at gzu", || {
        let held = assessments_at(&mut cluster, "gzu", &outcome)?;
        Ok(held.len() == 1 && held[0]["verdict"] == "不推荐")
    })?;
    eventually(SETTLE, "convergence", || cluster.converged())?;

    // The society's figures count what it assessed.
    let figures = cluster.node("ces").stats(&[])?;
    let counted = &figures["assessments"][0];
    assert_eq!(counted["society"], "ces", "{figures:#}");
    assert_eq!((counted["total"].as_u64(), counted["conditional"].as_u64()), (Some(2), Some(1)), "{figures:#}");
    assert_eq!(counted["not_recommended"], 1, "the revision counts once, as it stands");
    Ok(())
}

/// An assessment written by `society` of `subject` (a record as central
/// lists it), claiming it is of `industry`.
fn assessment(society: &str, subject: &Value, industry: &str) -> anyhow::Result<Record> {
    let node = |id: &str| NodeId::parse("node", id);
    let body = Assessment {
        subject: subject["id"].as_str().unwrap_or_default().parse::<RecordId>()?,
        subject_kind: RecordKind::parse("kind", subject["kind"].as_str().unwrap_or_default())?,
        subject_owner: node(subject["owner"].as_str().unwrap_or_default())?,
        subject_region: Some(Region::parse("region", subject["region"].as_str().unwrap_or_default())?),
        industry: Industry::parse("industry", industry)?,
        challenge_owner: None,
        evaluator: "评审专家组".into(),
        scores: Scores { advancement: 4, maturity: 4, market: 4, risk: 2 },
        verdict: Recommendation::Recommend,
        text: "推荐转化".into(),
    };
    let meta = Meta::new(node(society)?, now_version(0), kechuang_types::Timestamp::now());
    Ok(Record { meta, body: Body::Assessment(body) })
}

#[test]
fn central_refuses_assessments_outside_a_societys_fields_and_from_other_stations() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("gzu", "university", "440100")?;
    publish(&mut cluster, "gzu", &[battery_outcome("CG-C38", "440100", "岭南大学"), tea_outcome()])?;
    eventually(SETTLE, "the outcomes at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 2))?;
    let outcomes = cluster.central.list(Some("outcomes"), None)?;
    let by_ref = |r: &str| outcomes.iter().find(|o| o["external_id"] == r).cloned().unwrap_or_default();
    let (battery, tea) = (by_ref("CG-C38"), by_ref("CG-TEA"));

    // Raw clients, speaking the wire contract as a broken station would.
    let ces = cluster.path().join("ces");
    cluster.central.issue_with("ces", "society", "110000", &ces, &["--fields", "C38"])?;
    let szu = cluster.path().join("szu");
    cluster.central.issue("szu", "university", "440300", &szu)?;
    let url = cluster.central.url();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let refusals = runtime.block_on(async {
        let mut society = Raw::connect(&url, &ces).await?;
        let mut university = Raw::connect(&url, &szu).await?;
        let mut misdescribed = assessment("ces", &battery, "C38")?;
        if let Body::Assessment(a) = &mut misdescribed.body {
            a.subject_owner = NodeId::parse("node", "szu")?;
        }
        let refusals = vec![
            ("outside its fields", society.refusal(assessment("ces", &tea, "C15")?.into()).await?),
            ("a field it claims for the subject", society.refusal(assessment("ces", &tea, "C38")?.into()).await?),
            ("someone else's subject", society.refusal(misdescribed.into()).await?),
            ("a university's", university.refusal(assessment("szu", &battery, "C38")?.into()).await?),
        ];
        // A refusal never stalls the society: its honest assessment goes through.
        let honest = society.push(vec![assessment("ces", &battery, "C38")?.into()]).await?;
        anyhow::ensure!(honest.refused.is_empty(), "the honest assessment was refused: {:?}", honest.refused);
        anyhow::Ok(refusals)
    })?;
    let fields: Vec<(&str, &str)> = refusals.iter().map(|(what, (field, _))| (*what, field.as_str())).collect();
    assert_eq!(
        fields,
        [
            ("outside its fields", "industry"),
            ("a field it claims for the subject", "industry"),
            ("someone else's subject", "subject_owner"),
            ("a university's", "kind"),
        ],
        "{refusals:#?}"
    );
    assert!(refusals[0].1.1.contains("C15 is outside the fields of society ces (C38)"), "{refusals:#?}");
    eventually(SETTLE, "the honest assessment at the outcome's owner", || {
        Ok(cluster.node("gzu").list(Some("assessments"))?.len() == 1)
    })?;

    // The CLI of a university says so before anything is sent.
    let said = cluster.node("gzu").assess_refused(battery["id"].as_str().unwrap_or_default(), "4,4,4,2", "推荐")?;
    assert!(said.contains("only a society node writes assessments"), "{said}");
    Ok(())
}

/// A battery-safety expert of `region` who consults only.
fn expert(id: &str, name: &str, region: &str, person: &str) -> Value {
    json!({
        "id": id, "name": name, "affiliation": "储能安全研究院", "title": "教授",
        "fields": ["储能安全", "电池热失控"], "keywords": ["热失控", "早期预警", "电化学阻抗谱", "储能"],
        "region": region, "service_modes": ["技术咨询"], "capacity": 3,
        "contact": {"person": person, "phone": "020-8711 0002", "email": "team@univ.example.edu.cn"},
    })
}

#[test]
fn a_team_is_matched_and_reaches_every_members_node() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    cluster.add_node("szu", "university", "440300")?;
    publish(&mut cluster, "gzu", &[expert("ZJ-A", "陈教授", "440100", "陈老师")])?;
    publish(&mut cluster, "szu", &[expert("ZJ-B", "王教授", "440300", "王老师")])?;
    eventually(SETTLE, "the experts at central", || Ok(cluster.central.list(Some("experts"), None)?.len() == 2))?;

    // gzu finds szu's expert and forms a team serving Shenzhen's C38 industry.
    let mut other = String::new();
    eventually(SETTLE, "szu's expert found", || {
        let hits = cluster.node("gzu").search("热失控", "experts", &[])?;
        let found = hits.iter().find(|h| h["record"]["owner"] == "szu").and_then(|h| h["record"]["id"].as_str());
        other = format!("szu:{}", found.unwrap_or_default());
        Ok(found.is_some())
    })?;
    let team = cluster.node("gzu").team(&[
        "publish",
        "--name",
        "储能安全科技服务团",
        "--lead",
        "ZJ-A",
        "--member",
        &other,
        "--keywords",
        "热失控,早期预警,电化学阻抗谱,储能",
        "--cities",
        "深圳市",
        "--industries",
        "C38",
        "--modes",
        "联合攻关,技术咨询",
    ])?;
    let team_id = team["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(team["members"][1]["accepted"]["value"], false, "{team:#}");

    // szu is asked, and accepts for its expert.
    eventually(SETTLE, "the invitation at szu", || {
        Ok(cluster.node("szu").list(Some("teams"))?.iter().any(|t| t["id"] == team_id.as_str()))
    })?;
    let (url, base) = console(&mut cluster, "szu")?;
    let mut page = Browser::find()?.open(&url, 1280, 900)?;
    page.goto(&format!("{base}/teams"))?;
    let dom = page.dom()?;
    assert!(dom.contains("储能安全科技服务团") && dom.contains("王教授 · szu · 待接受"), "{dom}");
    page.eval("document.querySelector('div.team form').submit(); true")?;
    page.wait_for("document.getElementById('flash')", SETTLE)?;
    assert!(page.dom()?.contains("已接受邀请"), "{}", page.dom()?);
    eventually(SETTLE, "the acceptance at central and gzu", || {
        let accepted = |teams: Vec<Value>| teams.iter().any(|t| t["members"][1]["accepted"]["value"] == true);
        Ok(accepted(cluster.central.list(Some("teams"), None)?) && accepted(cluster.node("gzu").list(Some("teams"))?))
    })?;

    // A demand that wants 联合攻关: the experts (consulting only) do not
    // fit it, the team does.
    let mut demand = battery_demand("XQ-TEAM", "440300");
    demand["service_modes"] = json!(["联合攻关"]);
    publish(&mut cluster, "sz", &[demand])?;
    let team_match = |matches: Vec<Value>| matches.into_iter().find(|m| m["supply"] == team_id.as_str());
    for node in ["sz", "gzu", "szu"] {
        eventually(SETTLE, &format!("the team's match at {node}"), || {
            Ok(team_match(cluster.node(node).list(Some("matches"))?).is_some())
        })?;
    }
    let matches = cluster.central.list(Some("matches"), None)?;
    assert_eq!(matches.len(), 1, "only the team fits: {matches:#?}");
    let held = team_match(cluster.node("szu").list(Some("matches"))?).unwrap_or_default();
    assert_eq!((held["supply_kind"].as_str(), held["supply_owner"].as_str()), (Some("team"), Some("gzu")));
    assert_eq!(held["supply_nodes"], json!(["szu"]), "{held:#}");
    assert!(held["explanation"].as_str().is_some_and(|e| e.contains("服务团（2 位专家）")), "{held:#}");

    // The engagement counts against both members' loads.
    for (node, expert) in [("gzu", "ZJ-A"), ("szu", "ZJ-B")] {
        let experts = cluster.node(node).list(Some("experts"))?;
        let load = experts.iter().find(|e| e["external_id"] == expert).map(|e| e["load"].clone());
        assert_eq!(load, Some(json!(1)), "{node}: {experts:#?}");
    }

    // Both sides accept: the demand's owner reaches the team through its lead.
    let id = held["id"].as_str().unwrap_or_default().to_owned();
    cluster.node("sz").respond(&id, &["accept"])?;
    cluster.node("gzu").respond(&id, &["accept"])?;
    eventually(SETTLE, "the lead's contact at sz", || {
        let held = team_match(cluster.node("sz").list(Some("matches"))?).unwrap_or_default();
        Ok(held["supply_contact"]["person"] == "陈老师")
    })?;
    let at_szu = team_match(cluster.node("szu").list(Some("matches"))?).unwrap_or_default();
    assert!(at_szu["supply_contact"].is_null() && at_szu["demand_contact"].is_null(), "a member is not a side");
    eventually(SETTLE, "convergence", || cluster.converged())?;
    Ok(())
}
