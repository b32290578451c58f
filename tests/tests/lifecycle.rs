//! The lifecycle holds: central refuses every step the rules forbid, from
//! any writer, field by field (a client of our own on the wire contract,
//! with real node certificates), and a forbidden step a real node sends
//! never holds up its later changes.

mod common;

use common::rows::{battery_demand, battery_outcome};
use common::wire::{Raw, now_version};
use common::{SETTLE, admin, in_days};
use kechuang_proto::pb;
use kechuang_testkit::{Cluster, FaultProxy, eventually, sample};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn body(record: &mut pb::Record) -> &mut pb::Match {
    match record.body.as_mut() {
        Some(pb::record::Body::Match(m)) => m,
        _ => panic!("not a match"),
    }
}

/// Sets one side's answer (`demand` or `supply`) at a version of now.
fn answer(record: &pb::Record, side: &str, word: &str, n: u64) -> pb::Record {
    let mut r = record.clone();
    let m = body(&mut r);
    let version = now_version(n).as_u64();
    let (state, reason, contract, amount, v) = match side {
        "demand" => (
            &mut m.demand_side,
            &mut m.demand_side_reason,
            &mut m.demand_side_contract,
            &mut m.demand_side_amount_wan,
            &mut m.demand_side_version,
        ),
        _ => (
            &mut m.supply_side,
            &mut m.supply_side_reason,
            &mut m.supply_side_contract,
            &mut m.supply_side_amount_wan,
            &mut m.supply_side_version,
        ),
    };
    *state = word.into();
    *v = version;
    (*reason, *contract, *amount) = match word {
        "declined" => ("价格".into(), String::new(), 0.0),
        "contracted" => (String::new(), "技术许可".into(), 150.0),
        _ => (String::new(), String::new(), 0.0),
    };
    r
}

fn landed(record: &pb::Record, date: String, n: u64) -> pb::Record {
    let mut r = record.clone();
    let m = body(&mut r);
    m.landing = "landed".into();
    m.landing_date = date;
    m.landing_version = now_version(n).as_u64();
    r
}

/// A network where sz's battery demand was proposed gzu's two battery
/// outcomes; the nodes are stopped so that only the test's own client writes.
fn two_proposals() -> anyhow::Result<(Cluster, Vec<pb::Record>)> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    let rows = [battery_outcome("CG-1", "440100", "岭南大学"), battery_outcome("CG-2", "440100", "岭南大学")];
    let rows = cluster.write_rows(&rows)?;
    cluster.node("gzu").publish(&[&rows])?;
    eventually(SETTLE, "the outcomes at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 2))?;
    let rows = cluster.write_rows(&[battery_demand("XQ-1", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "two proposals at sz", || Ok(cluster.node("sz").list(Some("matches"))?.len() == 2))?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    cluster.node("sz").terminate()?;
    cluster.node("gzu").terminate()?;
    let matches = runtime().block_on(admin::records(&cluster.central, "match", "sz"))?;
    Ok((cluster, matches))
}

#[test]
fn every_forbidden_step_is_refused_naming_the_part_and_the_rule() -> anyhow::Result<()> {
    let (cluster, matches) = two_proposals()?;
    let (url, sz, gzu) = (cluster.central.url(), cluster.node_dir("sz"), cluster.node_dir("gzu"));
    let (a, b) = (&matches[0], &matches[1]);
    let refusals = runtime().block_on(async {
        let mut sz = Raw::connect(&url, &sz).await?;
        let mut gzu = Raw::connect(&url, &gzu).await?;
        let mut out = Vec::new();
        // On a proposed match.
        out.push(("landed on a proposed match", sz.refusal(landed(a, in_days(-1).to_string(), 1)).await?));
        out.push(("contracted before both accepted", sz.refusal(answer(a, "demand", "contracted", 2)).await?));
        // sz accepts (admitted), then tries to take it back.
        let accepted = answer(a, "demand", "accepted", 3);
        anyhow::ensure!(sz.push(vec![accepted.clone()]).await?.refused.is_empty());
        out.push(("accepted back to pending", sz.refusal(answer(&accepted, "demand", "pending", 4)).await?));
        // gzu declines (admitted), then tries to accept after all.
        let declined = answer(&accepted, "supply", "declined", 5);
        anyhow::ensure!(gzu.push(vec![declined.clone()]).await?.refused.is_empty());
        out.push(("declined, then accepted", gzu.refusal(answer(&declined, "supply", "accepted", 6)).await?));
        out.push((
            "a contract after the other side declined",
            sz.refusal(answer(&declined, "demand", "contracted", 7)).await?,
        ));

        // On the other match: both accept, gzu records a contract.
        let both = answer(&answer(b, "demand", "accepted", 8), "supply", "accepted", 9);
        anyhow::ensure!(sz.push(vec![answer(b, "demand", "accepted", 8)]).await?.refused.is_empty());
        anyhow::ensure!(gzu.push(vec![answer(b, "supply", "accepted", 9)]).await?.refused.is_empty());
        let contracted = answer(&both, "supply", "contracted", 10);
        anyhow::ensure!(gzu.push(vec![contracted.clone()]).await?.refused.is_empty());
        out.push(("a decline after a contract", sz.refusal(answer(&contracted, "demand", "declined", 11)).await?));
        let mut rewritten = answer(&contracted, "supply", "contracted", 12);
        body(&mut rewritten).supply_side_amount_wan = 200.0;
        out.push(("a contract rewritten", gzu.refusal(rewritten).await?));
        out.push(("a landing dated tomorrow", sz.refusal(landed(&contracted, in_days(1).to_string(), 13)).await?));
        let done = landed(&contracted, in_days(-1).to_string(), 14);
        anyhow::ensure!(sz.push(vec![done.clone()]).await?.refused.is_empty());
        let mut again = landed(&done, in_days(-2).to_string(), 15);
        body(&mut again).landing_note = "改了日期".into();
        out.push(("a landing recorded again", sz.refusal(again).await?));
        out.push(("an answer after the landing", sz.refusal(answer(&done, "demand", "contracted", 16)).await?));
        anyhow::Ok(out)
    })?;
    let expected = [
        ("landing", "only a contracted match can land"),
        ("demand_side", "a contract needs both sides to have accepted"),
        ("demand_side", "accepted cannot go back to pending"),
        ("supply_side", "declined is final"),
        ("demand_side", "the other declined"),
        ("demand_side", "a contract is on record"),
        ("supply_side", "contracted is final"),
        ("landing_date", "is after today"),
        ("landing", "landed is final"),
        ("demand_side", "the match has landed"),
    ];
    for ((what, (field, reason)), (want_field, want_reason)) in refusals.iter().zip(expected) {
        eprintln!("{what}: {field}: {reason}");
        assert_eq!(field, want_field, "{what}: {reason}");
        assert!(reason.contains(want_reason), "{what}: {reason}");
    }
    assert_eq!(refusals.len(), expected.len());
    let mut states: Vec<String> =
        cluster.central.list(Some("matches"), None)?.iter().map(|m| m["state"].as_str().unwrap_or("").into()).collect();
    states.sort();
    assert_eq!(states, ["declined", "landed"], "only the allowed steps were applied");
    Ok(())
}

#[test]
fn a_forbidden_step_in_a_batch_is_withdrawn_and_the_thousand_changes_after_it_arrive() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    let proxy = FaultProxy::start(cluster.central.addr(), 23)?;
    cluster.add_stopped_node("gzu", "university", "440100")?;
    cluster.node("gzu").set_central(proxy.addr())?;
    cluster.node("gzu").start()?;
    let rows = cluster.write_rows(&[battery_outcome("CG-1", "440100", "岭南大学")])?;
    cluster.node("gzu").publish(&[&rows])?;
    eventually(SETTLE, "the outcome at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 1))?;
    let rows = cluster.write_rows(&[battery_demand("XQ-1", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "the proposal at gzu", || Ok(cluster.node("gzu").list(Some("matches"))?.len() == 1))?;
    let id = cluster.node("gzu").list(Some("matches"))?[0]["id"].as_str().unwrap_or_default().to_owned();
    cluster.node("sz").respond(&id, &["accept"])?;
    cluster.node("gzu").respond(&id, &["accept"])?;
    eventually(SETTLE, "both sides connected", || {
        Ok(["sz", "gzu"]
            .iter()
            .all(|n| cluster.node(n).list(Some("matches")).is_ok_and(|m| m[0]["state"] == "connected")))
    })?;

    // gzu is cut off; meanwhile sz declines. gzu, still seeing both sides
    // accepted, records a contract between two batches of outcomes.
    proxy.partition();
    cluster.node("sz").respond(&id, &["decline", "--reason", "已有方案", "--note", "已与其他单位签约"])?;
    eventually(SETTLE, "the decline at central", || {
        Ok(cluster.central.list(Some("matches"), None)?[0]["state"] == "declined")
    })?;
    let before = cluster.write_rows(&sample::outcomes("GZU-A", 10, "440100", 3))?;
    cluster.node("gzu").publish(&[&before])?;
    cluster.node("gzu").respond(&id, &["contracted", "--type", "技术许可", "--amount", "150"])?;
    let after = cluster.write_rows(&sample::outcomes("GZU-B", 1_000, "440100", 4))?;
    cluster.node("gzu").publish(&[&after])?;
    assert_eq!(cluster.node("gzu").status()?["unacked"], 1_011);

    proxy.heal();
    eventually(SETTLE, "gzu to push everything", || Ok(cluster.node("gzu").status()?["unacked"] == 0))?;
    assert_eq!(cluster.central.list(Some("outcomes"), None)?.len(), 1_011, "all 1,010 outcomes arrived");
    let refused = cluster.node("gzu").list(Some("refused"))?;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["field"], "supply_side");
    let reason = refused[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("a contract needs both sides to have accepted") && reason.contains("declined"), "{reason}");
    eventually(SETTLE, "gzu to hold central's copy of the match", || {
        Ok(cluster.node("gzu").list(Some("matches"))?[0]["state"] == "declined")
    })?;
    eventually(SETTLE, "every node to converge", || cluster.converged())
}

/// The one match at `node`, as it holds it.
fn the_match(cluster: &mut Cluster, node: &str) -> anyhow::Result<serde_json::Value> {
    let mut matches = cluster.node(node).list(Some("matches"))?;
    anyhow::ensure!(matches.len() == 1, "{node} holds {} matches", matches.len());
    Ok(matches.remove(0))
}

/// sz's battery demand proposed gzu's outcome; gd oversees Guangdong.
fn one_proposal(cluster: &mut Cluster) -> anyhow::Result<()> {
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    cluster.add_node("gd", "provincial", "440000")?;
    let rows = cluster.write_rows(&[battery_outcome("CG-1", "440100", "岭南大学")])?;
    cluster.node("gzu").publish(&[&rows])?;
    eventually(SETTLE, "the outcome at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 1))?;
    let rows = cluster.write_rows(&[battery_demand("XQ-1", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "the proposal at gzu", || Ok(cluster.node("gzu").list(Some("matches"))?.len() == 1))
}

#[test]
fn a_withdrawn_record_leaves_the_lists_and_its_open_proposals_are_withdrawn_everywhere() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    one_proposal(&mut cluster)?;
    eventually(SETTLE, "the demand at gd", || Ok(cluster.node("gd").list(Some("demands"))?.len() == 1))?;

    let said = cluster.node("sz").withdraw("XQ-1", "solved", "已与岭南大学签约")?;
    assert_eq!((said["deleted"].as_bool(), said["kind"].as_str()), (Some(true), Some("demand")));
    for node in ["sz", "gzu", "gd"] {
        eventually(SETTLE, &format!("the proposal withdrawn at {node}"), || {
            let m = the_match(&mut cluster, node)?;
            Ok(m["state"] == "withdrawn" && m["core_reason"].as_str().unwrap_or("").contains("需求已撤回（已解决"))
        })?;
    }
    eventually(SETTLE, "the demand gone from gd's list", || Ok(cluster.node("gd").list(Some("demands"))?.is_empty()))?;
    assert_eq!(cluster.node("gd").list_all(Some("demands"))?.len(), 1, "kept as a tombstone, shown with --withdrawn");
    let id = the_match(&mut cluster, "gzu")?["id"].as_str().unwrap_or_default().to_owned();
    let refused = cluster.node("gzu").respond_refused(&id, &["accept"])?;
    assert!(refused.contains("withdrawn"), "{refused}");

    // New supply is never proposed to a withdrawn demand, while an open one takes it.
    let rows = cluster.write_rows(&[battery_demand("XQ-OPEN", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    let rows = cluster.write_rows(&[battery_outcome("CG-2", "440100", "岭南大学")])?;
    cluster.node("gzu").publish(&[&rows])?;
    eventually(SETTLE, "the open demand's proposals", || {
        Ok(cluster.central.list(Some("matches"), None)?.iter().filter(|m| m["state"] == "proposed").count() == 2)
    })?;
    let demand_of = |m: &serde_json::Value| m["demand_title"].as_str().unwrap_or_default().to_owned();
    let matches = cluster.central.list(Some("matches"), None)?;
    let withdrawn_demand = matches.iter().find(|m| m["state"] == "withdrawn").map(|m| m["demand"].clone());
    assert!(
        matches.iter().filter(|m| Some(m["demand"].clone()) == withdrawn_demand).count() == 1,
        "no new proposal for the withdrawn demand: {:?}",
        matches.iter().map(demand_of).collect::<Vec<_>>()
    );

    // A spreadsheet withdraws too: the outcome's row marked `withdrawn`.
    let mut row = battery_outcome("CG-2", "440100", "岭南大学");
    row["withdrawn"] = "已转让或许可".into();
    row["withdrawn_note"] = "已许可给他方".into();
    let rows = cluster.write_rows(&[row])?;
    let report = cluster.node("gzu").publish(&[&rows])?;
    assert_eq!(report["withdrawn"], 1, "{report}");
    eventually(SETTLE, "the outcome withdrawn at central", || {
        Ok(cluster.central.list(Some("outcomes"), None)?.iter().filter(|o| o["deleted"] == true).count() == 1)
    })?;
    eventually(SETTLE, "convergence", || cluster.converged())
}

#[test]
fn a_closed_or_landed_demand_gets_no_new_proposal() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    one_proposal(&mut cluster)?;
    let id = the_match(&mut cluster, "gzu")?["id"].as_str().unwrap_or_default().to_owned();
    cluster.node("sz").respond(&id, &["accept"])?;
    cluster.node("gzu").respond(&id, &["accept"])?;
    eventually(SETTLE, "connected at sz", || Ok(the_match(&mut cluster, "sz")?["state"] == "connected"))?;
    cluster.node("sz").respond(&id, &["contracted", "--type", "技术许可", "--amount", "150"])?;
    cluster.node("gzu").respond(&id, &["contracted", "--type", "技术许可", "--amount", "150"])?;
    eventually(SETTLE, "both contracts at sz", || {
        Ok(the_match(&mut cluster, "sz")?["verified_contract"]["amount_wan"] == 150.0)
    })?;
    let landed = cluster.node("sz").respond(&id, &["landed", "--note", "预警系统上线"])?;
    assert_eq!(landed["state"], "landed");

    // A demand whose deadline has passed (an ordinary one may be published so).
    let mut closed = battery_demand("XQ-2", "440300");
    closed["deadline"] = in_days(-1).to_string().into();
    let rows = cluster.write_rows(&[closed])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    let rows = cluster.write_rows(&[battery_outcome("CG-2", "440100", "岭南大学")])?;
    cluster.node("gzu").publish(&[&rows])?;
    eventually(SETTLE, "the new outcome at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 2))?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    assert_eq!(
        cluster.central.list(Some("matches"), None)?.len(),
        1,
        "neither the landed nor the closed demand took it"
    );
    Ok(())
}

#[test]
fn a_proposal_nobody_answers_expires_on_both_sides() -> anyhow::Result<()> {
    // A time to live of about 2.6 seconds.
    let mut cluster = Cluster::start_with_settings(&[("proposal_ttl_days", "0.00003")])?;
    one_proposal(&mut cluster)?;
    for node in ["sz", "gzu", "gd"] {
        eventually(SETTLE, &format!("the proposal expired at {node}"), || {
            let m = the_match(&mut cluster, node)?;
            Ok(m["state"] == "expired" && m["core_reason"].as_str().unwrap_or("").contains("未获应答"))
        })?;
    }
    let id = the_match(&mut cluster, "sz")?["id"].as_str().unwrap_or_default().to_owned();
    assert!(cluster.node("sz").respond_refused(&id, &["accept"])?.contains("expired"));
    eventually(SETTLE, "convergence", || cluster.converged())
}

/// The parts and who moved them, in order, from a history.
fn steps(history: &[serde_json::Value]) -> Vec<(String, String, String)> {
    history
        .iter()
        .map(|e| {
            let to = match &e["to"] {
                serde_json::Value::String(s) => s.clone(),
                other => other.as_object().and_then(|o| o.keys().next().cloned()).unwrap_or_default(),
            };
            (e["part"].as_str().unwrap_or("").into(), to, e["by"].as_str().unwrap_or("").into())
        })
        .collect()
}

#[test]
fn every_step_is_on_record_with_who_took_it_once() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    one_proposal(&mut cluster)?;
    let id = the_match(&mut cluster, "gzu")?["id"].as_str().unwrap_or_default().to_owned();
    cluster.node("sz").respond(&id, &["accept"])?;
    cluster.node("gzu").respond(&id, &["accept"])?;
    eventually(SETTLE, "contacts at sz", || Ok(!the_match(&mut cluster, "sz")?["demand_contact"].is_null()))?;
    cluster.node("gzu").respond(&id, &["contracted", "--type", "技术许可", "--amount", "150"])?;
    cluster.node("sz").respond(&id, &["contracted", "--type", "技术许可", "--amount", "140"])?;
    eventually(SETTLE, "both contracts at sz", || Ok(!the_match(&mut cluster, "sz")?["verified_contract"].is_null()))?;
    cluster.node("sz").respond(&id, &["landed", "--note", "预警系统上线"])?;
    eventually(SETTLE, "convergence", || cluster.converged())?;

    let history = cluster.central.history(Some(&id))?;
    let expected = [
        ("core", "proposed", "central"),
        ("demand_side", "accepted", "sz"),
        ("supply_side", "accepted", "gzu"),
        ("supply_side", "contracted", "gzu"),
        ("demand_side", "contracted", "sz"),
        ("landing", "landed", "sz"),
    ];
    let got = steps(&history);
    let want: Vec<(String, String, String)> =
        expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(got, want, "every change of state, and only those (the release of contacts is not one)");
    assert_eq!(history[3]["to"]["contracted"]["amount_wan"], 150.0, "the contract's amount is on record");
    assert_eq!(history[5]["to"]["landed"]["note"], "预警系统上线");
    let seqs: Vec<u64> = history.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let out = cluster.path().join("history.jsonl");
    let said = cluster.central.export_history(&in_days(0).to_string(), &out)?;
    assert!(said.contains("exported"), "{said}");
    let lines = std::fs::read_to_string(&out)?.lines().count();
    assert_eq!(lines, history.len(), "today's export holds this match's steps (the only match)");
    let tomorrow = cluster.path().join("tomorrow.jsonl");
    cluster.central.export_history(&in_days(1).to_string(), &tomorrow)?;
    assert_eq!(std::fs::read_to_string(&tomorrow)?.lines().count(), 0, "nothing received tomorrow yet");
    Ok(())
}

#[test]
fn central_killed_around_an_answer_records_it_once() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    one_proposal(&mut cluster)?;
    let id = the_match(&mut cluster, "gzu")?["id"].as_str().unwrap_or_default().to_owned();
    for (point, node, answer) in [("push-durable", "sz", "accept"), ("push-applied", "gzu", "accept")] {
        // A fresh central counts its passes from one: the answer is the first push.
        cluster.central.terminate()?;
        cluster.central.process().arm_crash(point, 1);
        cluster.central.restart()?;
        cluster.node(node).respond(&id, &[answer])?;
        cluster.central.process().wait_crashed()?;
        cluster.central.restart()?;
        eventually(SETTLE, "the answer acknowledged", || Ok(cluster.node(node).status()?["unacked"] == 0))?;
    }
    eventually(SETTLE, "convergence", || cluster.converged())?;
    let parts: Vec<String> =
        steps(&cluster.central.history(Some(&id))?).into_iter().map(|(part, to, _)| format!("{part}:{to}")).collect();
    assert_eq!(parts, ["core:proposed", "demand_side:accepted", "supply_side:accepted"]);
    Ok(())
}

#[test]
fn the_national_office_proposes_withdraws_and_escalates_by_hand_on_record() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    one_proposal(&mut cluster)?;
    cluster.add_node("scu", "university", "510100")?;
    // An outcome matching would not propose for a battery demand.
    let unrelated = serde_json::json!({
        "id": "CG-9", "title": "川菜复合调味料非热杀菌工艺", "abstract": "超高压与低温等离子体联合杀菌，保持风味。",
        "industry": "C14", "keywords": ["调味料", "杀菌"], "owner": "天府大学", "region": "510100", "trl": 6,
    });
    let rows = cluster.write_rows(&[unrelated])?;
    cluster.node("scu").publish(&[&rows])?;
    eventually(SETTLE, "the outcome at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 2))?;
    let demand = cluster.node("sz").list(Some("demands"))?[0]["id"].as_str().unwrap_or_default().to_owned();
    let outcomes = cluster.central.list(Some("outcomes"), None)?;
    let supply = outcomes.iter().find(|o| o["title"] == "川菜复合调味料非热杀菌工艺").expect("the outcome")["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let central = |args: &[&str]| cluster.central.verb(args);
    let said = central(&["propose", &demand, &supply, "--note", "企业另需调味料产线改造", "--operator", "王处长"])?;
    assert!(said.contains("人工推荐"), "{said}");
    eventually(SETTLE, "the hand proposal at scu", || {
        Ok(cluster
            .node("scu")
            .list(Some("matches"))?
            .iter()
            .any(|m| m["explanation"] == "人工推荐：企业另需调味料产线改造"))
    })?;
    let again =
        cluster.central.verb_failing(&["propose", &demand, &supply, "--note", "再推一次", "--operator", "王处长"])?;
    assert!(again.contains("already proposed"), "{again}");
    let hand = cluster.node("scu").list(Some("matches"))?.remove(0);
    let hand_id = hand["id"].as_str().unwrap_or_default().to_owned();

    cluster.central.verb(&["withdraw-match", &hand_id, "--reason", "企业已自行解决", "--operator", "王处长"])?;
    eventually(SETTLE, "the withdrawal at scu", || {
        let m = cluster.node("scu").list(Some("matches"))?.remove(0);
        Ok(m["state"] == "withdrawn" && m["core_reason"] == "企业已自行解决")
    })?;
    let closed =
        cluster.central.verb_failing(&["withdraw-match", &hand_id, "--reason", "再撤", "--operator", "王处长"])?;
    assert!(closed.contains("only an open match"), "{closed}");
    let by: Vec<String> =
        cluster.central.history(Some(&hand_id))?.iter().map(|e| e["by"].as_str().unwrap_or("").into()).collect();
    assert_eq!(by, ["central:王处长", "central:王处长"], "both acts on record with their operator");

    // Escalating by hand goes to the next stage at once, as long as there is one.
    for stage in 1..=3 {
        let said = cluster.central.verb(&["escalate", &demand, "--operator", "李科长"])?;
        assert!(said.starts_with("escalated"), "stage {stage}: {said}");
    }
    let last = cluster.central.verb_failing(&["escalate", &demand, "--operator", "李科长"])?;
    assert!(last.contains("every tier"), "{last}");
    Ok(())
}
