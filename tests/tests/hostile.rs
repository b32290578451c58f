//! A certified node cannot break the network.
//!
//! A raw gRPC client, built on the wire contract only and holding a real
//! node certificate, tries what a hostile or broken station could. Every
//! attack must be refused with the field at fault and a reason, nothing of
//! its batch may be applied, the attacker's next honest push must still go
//! through (a refusal never stalls a node), and every other node must keep
//! syncing.

mod common;

use std::time::{Duration, Instant};

use common::wire::{Raw, demand, now_version, push};
use common::{SETTLE, admin, in_days};
use kechuang_proto::pb;
use kechuang_testkit::{Cluster, FaultProxy, eventually, sample};
use kechuang_types::{Body, Contact, Hlc, NodeId, Record, RecordId, Region, Timestamp};
use tonic::Code;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn node(id: &str) -> NodeId {
    NodeId::parse("node", id).expect("node id")
}

fn region(code: &str) -> Region {
    Region::parse("region", code).expect("region")
}

fn contact(person: &str) -> Option<Contact> {
    Some(Contact { person: person.into(), phone: "020-12345678".into(), email: format!("{person}@example.cn") })
}

fn at(record: &mut Record, owner: &str, version: Hlc) {
    record.meta.owner = node(owner);
    record.meta.version = version;
}

/// An outcome of `owner` in `code`, versioned now.
fn outcome(owner: &str, code: &str, title: &str) -> Record {
    let mut o = kechuang_types::testing::outcome(title);
    at(&mut o, owner, now_version(0));
    if let Body::Outcome(x) = &mut o.body {
        x.region = region(code);
    }
    o
}

/// An expert of `owner` in `code`, versioned now.
fn expert(owner: &str, code: &str, name: &str) -> Record {
    let mut e = kechuang_types::testing::expert(name);
    at(&mut e, owner, now_version(0));
    if let Body::Expert(x) = &mut e.body {
        x.region = region(code);
    }
    e
}

/// A demand of `owner` in `code`, versioned now.
fn demand_in(owner: &str, code: &str, title: &str) -> Record {
    let mut d = demand(owner, title, 1);
    at(&mut d, owner, now_version(0));
    if let Body::Demand(x) = &mut d.body {
        x.region = region(code);
    }
    d
}

/// A bid of `bidder` on `challenge` offering `outcomes`.
fn bid(bidder: &str, challenge: &Record, outcomes: Vec<RecordId>, version: Hlc) -> Record {
    Record {
        meta: kechuang_types::Meta {
            id: RecordId::new(),
            owner: node(bidder),
            version,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
            deleted: false,
            external_id: None,
            withdrawal: None,
        },
        body: Body::Bid(kechuang_types::Bid {
            demand: challenge.meta.id,
            demand_owner: challenge.meta.owner.clone(),
            proposal: "以固态电解质界面改性方案揭榜".into(),
            outcomes,
            experts: vec![],
            decision: kechuang_types::Part::new(Hlc::ZERO, kechuang_types::BidState::Submitted),
            industry: None,
        }),
    }
}

/// A node that has nothing to do with the attacks publishes, and the whole
/// network converges.
fn others_keep_syncing(cluster: &mut Cluster, bystander: &str, code: &str, seed: u64) -> anyhow::Result<()> {
    let rows = cluster.write_rows(&sample::demands(&format!("BY{seed}"), 5, code, seed))?;
    cluster.node(bystander).publish(&[&rows])?;
    eventually(SETTLE, "every running node to converge", || cluster.converged())
}

/// Every record central holds, as stable JSON (to show nothing changed).
fn central_holds(cluster: &Cluster) -> anyhow::Result<Vec<serde_json::Value>> {
    cluster.central.list(None, None)
}

#[test]
fn versions_from_the_far_future_are_refused_and_sync_goes_on() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    cluster.add_stopped_node("evil", "university", "440100")?;
    let (url, evil) = (cluster.central.url(), cluster.node("evil").dir().to_owned());
    let before = central_holds(&cluster)?;
    let now = Timestamp::now().0 as u64;
    let far = [
        ("the largest version", Hlc::from_u64(u64::MAX)),
        ("the last representable millisecond", Hlc::checked((1 << 48) - 1, 0).expect("fits")),
        ("ten minutes ahead", Hlc::checked(now + 600_000, 0).expect("fits")),
    ];
    let refused = runtime().block_on(async {
        let mut raw = Raw::connect(&url, &evil).await?;
        let mut refused = Vec::new();
        for (what, version) in far {
            let mut challenge = demand_in("evil", "440100", "揭榜挂帅：时钟中毒");
            if let Body::Demand(d) = &mut challenge.body {
                d.is_challenge = true;
                d.deadline = Some(in_days(30));
            }
            for mut record in [challenge, outcome("evil", "440100", "成果"), expert("evil", "440100", "专家")] {
                record.meta.version = version;
                let kind = record.kind();
                refused.push((what, kind, raw.refused(record.into()).await?));
            }
        }
        // A refusal does not stall the node: its next honest change goes through.
        let honest = raw.push(vec![outcome("evil", "440100", "诚实的成果").into()]).await?;
        anyhow::ensure!(honest.refused.is_empty(), "an honest push after the refusals: {honest:?}");
        anyhow::Ok(refused)
    })?;
    for (what, kind, field) in refused {
        assert_eq!(field, "version", "{kind} at {what}");
    }
    let after = central_holds(&cluster)?;
    assert_eq!(after.len(), before.len() + 1, "only the honest outcome was applied");

    // Central's clock never took the poison: the matches it writes later
    // carry versions of now, and nodes keep taking them, across a restart.
    let now_ms = || Timestamp::now().0 as u64;
    for (round, seed) in [(1, 41), (2, 42)] {
        let before = cluster.node("sz").list(Some("matches"))?.len();
        let rows = cluster.write_rows(&sample::outcomes(&format!("GZU{round}"), 3, "440100", seed))?;
        cluster.node("gzu").publish(&[&rows])?;
        let rows = cluster.write_rows(&sample::demands(&format!("SZ{round}"), 3, "440300", seed))?;
        cluster.node("sz").publish(&[&rows])?;
        eventually(SETTLE, "new matches at sz", || Ok(cluster.node("sz").list(Some("matches"))?.len() > before))?;
        for m in cluster.node("sz").list(Some("matches"))? {
            let version = Hlc::from_u64(m["version"].as_u64().unwrap_or(u64::MAX));
            assert!(version.millis().abs_diff(now_ms()) < 120_000, "a match versioned {version}");
        }
        eventually(SETTLE, "every node to converge", || cluster.converged())?;
        cluster.central.terminate()?;
        cluster.central.restart()?;
    }
    Ok(())
}

#[test]
fn every_version_of_a_bid_offers_only_the_bidders_own_supply_and_contacts_stay_put() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    cluster.add_node("gz", "city", "440100")?;
    cluster.add_stopped_node("evil", "university", "440100")?;
    let (url, evil) = (cluster.central.url(), cluster.node("evil").dir().to_owned());

    // The victim's outcome and expert, and sz's challenge and an ordinary demand.
    let deadline = in_days(30);
    let rows = cluster.write_rows(&[serde_json::json!({
        "id": "CG-V", "title": "固态电池界面阻抗调控技术", "abstract": "通过界面改性降低固态电池界面阻抗。",
        "industry": "C38", "keywords": ["固态电池"], "owner": "岭南大学", "region": "440100", "trl": 6,
        "contact": {"person": "受害者", "phone": "020-87654321", "email": "victim@example.cn"},
    })])?;
    cluster.node("gzu").publish(&[&rows])?;
    let rows = cluster.write_rows(&[
        serde_json::json!({
            "id": "JB-1", "title": "揭榜挂帅：固态电池界面阻抗", "description": "征集降低固态电池界面阻抗的方案。",
            "industry": "C38", "keywords": ["固态电池"], "region": "440300", "budget_wan": 300,
            "is_challenge": true, "deadline": deadline.to_string(), "min_trl": 5,
            "contact": {"person": "发榜方", "phone": "0755-1234567", "email": "owner@example.cn"},
        }),
        serde_json::json!({
            "id": "XQ-1", "title": "普通需求", "description": "一个普通的技术需求。", "industry": "C38",
            "region": "440300", "min_trl": 5,
        }),
    ])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "the records at central", || Ok(cluster.central.list(None, None)?.len() >= 3))?;
    let rt = runtime();
    let pick = |kind: &str, title: &str| -> anyhow::Result<Record> {
        let records = rt.block_on(admin::records(&cluster.central, kind, ""))?;
        let found = records.into_iter().map(Record::try_from).find(|r| r.as_ref().is_ok_and(|r| r.title() == title));
        Ok(found.ok_or_else(|| anyhow::anyhow!("no {kind} {title}"))??)
    };
    let challenge = pick("demand", "揭榜挂帅：固态电池界面阻抗")?;
    let ordinary = pick("demand", "普通需求")?;
    let theirs = pick("outcome", "固态电池界面阻抗调控技术")?.meta.id;

    let mut own = outcome("evil", "440100", "我方的固态电池成果");
    if let Body::Outcome(o) = &mut own.body {
        o.contact = contact("攻击者");
    }
    let ours = own.meta.id;
    let first = bid("evil", &challenge, vec![ours], now_version(1));
    let fields = rt.block_on(async {
        let mut raw = Raw::connect(&url, &evil).await?;
        // The honest first version: the bidder's own outcome, in one push with the bid.
        let admitted = raw.push(vec![own.clone().into(), first.clone().into()]).await?;
        anyhow::ensure!(admitted.refused.is_empty(), "{admitted:?}");
        let mut fields = Vec::new();
        let mut try_it = async |what: &'static str, record: Record| -> anyhow::Result<()> {
            fields.push((what, raw.refused(record.into()).await?));
            Ok(())
        };
        let mut renamed = first.clone();
        renamed.meta.version = now_version(2);
        if let Body::Bid(b) = &mut renamed.body {
            b.outcomes = vec![theirs];
        }
        try_it("a newer version naming another's outcome", renamed).await?;
        try_it("a new bid naming another's outcome", bid("evil", &challenge, vec![theirs], now_version(3))).await?;
        let mut as_expert = bid("evil", &challenge, vec![], now_version(3));
        if let Body::Bid(b) = &mut as_expert.body {
            b.experts = vec![theirs];
        }
        try_it("another's outcome offered as an expert", as_expert).await?;
        try_it("a bid on an ordinary demand", bid("evil", &ordinary, vec![ours], now_version(3))).await?;
        let mut misdirected = bid("evil", &challenge, vec![ours], now_version(3));
        if let Body::Bid(b) = &mut misdirected.body {
            b.demand_owner = node("gz");
        }
        try_it("a bid naming the wrong owner", misdirected).await?;
        let mut moved = first.clone();
        moved.meta.version = now_version(4);
        if let Body::Bid(b) = &mut moved.body {
            b.demand = ordinary.meta.id;
        }
        try_it("a bid moved to another demand", moved).await?;
        let mut forged = bid("evil", &challenge, vec![ours], now_version(3));
        forged.meta.owner = node("gzu");
        try_it("a bid in another node's name", forged).await?;
        let mut self_awarded = first.clone();
        if let Body::Bid(b) = &mut self_awarded.body {
            b.decision = kechuang_types::Part::new(now_version(5), kechuang_types::BidState::Awarded);
        }
        try_it("the bidder awarding itself", self_awarded).await?;
        let mut rewritten = first.clone();
        if let Body::Bid(b) = &mut rewritten.body {
            b.proposal = "同一版本，换了内容".into();
        }
        try_it("the same version with other content", rewritten).await?;
        let mut relabelled = first.clone();
        relabelled.meta.external_id = Some("改了编号".into());
        try_it("the same version with other metadata", relabelled).await?;
        anyhow::Ok(fields)
    })?;
    let expected = [
        "outcomes[0]",
        "outcomes[0]",
        "experts[0]",
        "demand",
        "demand_owner",
        "demand",
        "owner",
        "decision",
        "proposal",
        "external_id",
    ];
    let got: Vec<&str> = fields.iter().map(|(_, f)| f.as_str()).collect();
    assert_eq!(got, expected, "{fields:#?}");

    // The challenge's owner awards the one honest bid: the contract is with
    // the bidder's own outcome, and the victim's contact goes nowhere.
    eventually(SETTLE, "the bid at sz", || Ok(cluster.node("sz").list(Some("bids"))?.len() == 1))?;
    let bids = cluster.node("sz").list(Some("bids"))?;
    assert_eq!(bids[0]["outcomes"], serde_json::json!([ours.to_string()]), "the bid as first admitted");
    cluster.node("sz").award(bids[0]["id"].as_str().unwrap_or_default())?;
    eventually(SETTLE, "the contracted match", || {
        Ok(cluster.central.list(Some("matches"), None)?.iter().any(|m| m["state"] == "contracted"))
    })?;
    let evil_sees = rt.block_on(admin::records(&cluster.central, "", "evil"))?;
    let text = format!("{evil_sees:?}");
    assert!(!text.contains("受害者") && !text.contains("victim@"), "the victim's contact reached the attacker");
    assert!(text.contains("发榜方"), "the challenge owner's contact reached the awarded bidder");
    for m in cluster.central.list(Some("matches"), None)? {
        if m["state"] == "contracted" {
            assert_eq!(m["supply"], ours.to_string(), "the contract is with the bidder's own outcome");
        }
    }
    others_keep_syncing(&mut cluster, "gz", "440100", 7)
}

#[test]
fn a_change_central_refuses_is_withdrawn_and_the_node_keeps_pushing() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    let proxy = FaultProxy::start(cluster.central.addr(), 11)?;
    cluster.add_stopped_node("gzu", "university", "440100")?;
    cluster.node("gzu").set_central(proxy.addr())?;
    // The challenge's copy gzu holds stops being for it when it becomes an
    // ordinary demand: repair, not the feed, takes it away.
    cluster.node("gzu").set("repair_secs", "1.0")?;
    cluster.node("gzu").start()?;
    let challenge = |is_challenge: bool| {
        serde_json::json!({
            "id": "JB-2", "title": "揭榜挂帅：高镍正极材料吸潮", "description": "征集高镍正极材料防吸潮方案。",
            "industry": "C38", "keywords": ["高镍正极"], "region": "440300", "budget_wan": 200,
            "is_challenge": is_challenge, "deadline": in_days(20).to_string(), "min_trl": 5,
        })
    };
    let rows = cluster.write_rows(&[challenge(true)])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "the challenge at gzu", || Ok(cluster.node("gzu").list(Some("demands"))?.len() == 1))?;
    let challenge_id = cluster.node("gzu").list(Some("demands"))?[0]["id"].as_str().unwrap_or_default().to_owned();

    // gzu loses its link; meanwhile sz turns the challenge into an ordinary demand.
    proxy.partition();
    let rows = cluster.write_rows(&[challenge(false)])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "the edit at central", || {
        Ok(cluster.central.list(Some("demands"), None)?[0]["is_challenge"] == false)
    })?;
    // Offline, gzu still sees a challenge: it publishes an outcome, bids
    // with it (not yet acknowledged: pushes go in order), and publishes
    // more: enough for a second push, on its way while central judges the
    // first.
    let rows = cluster.write_rows(&sample::outcomes("GZU", 1, "440100", 5))?;
    cluster.node("gzu").publish(&[&rows])?;
    cluster.node("gzu").bid(&challenge_id, "以防吸潮包覆方案揭榜", &["GZU-000001"])?;
    let rows = cluster.write_rows(&sample::outcomes("GZU-MORE", 1_100, "440100", 6))?;
    cluster.node("gzu").publish(&[&rows])?;
    assert_eq!(cluster.node("gzu").status()?["unacked"], 1_102);

    proxy.heal();
    eventually(SETTLE, "gzu to converge", || cluster.node("gzu").converged())?;
    let status = cluster.node("gzu").status()?;
    assert_eq!((status["refused"].as_u64(), status["unacked"].as_u64()), (Some(1), Some(0)), "{status:#}");
    assert_eq!(cluster.central.list(Some("outcomes"), None)?.len(), 1_101, "everything after the refusal arrived");
    assert!(cluster.central.list(Some("bids"), None)?.is_empty());
    assert!(cluster.node("gzu").list(Some("bids"))?.is_empty(), "the refused bid was withdrawn at gzu");
    let refused = cluster.node("gzu").list(Some("refused"))?;
    assert_eq!(refused.len(), 1);
    assert_eq!((refused[0]["kind"].as_str(), refused[0]["field"].as_str()), (Some("bid"), Some("demand")));
    assert!(refused[0]["reason"].as_str().unwrap_or_default().contains("not an open challenge"), "{refused:?}");
    eventually(SETTLE, "every node to converge", || cluster.converged())?;

    // What a node can check itself, it checks before writing anything: a
    // challenge published with a deadline already past is refused at
    // publish, and a bid on a challenge that has closed at bid.
    let yesterday = in_days(-1).to_string();
    let rows = cluster.write_rows(&[serde_json::json!({
        "id": "JB-3", "title": "揭榜挂帅：已过期", "description": "截止日期已过的揭榜。", "industry": "C38",
        "region": "440300", "is_challenge": true, "deadline": yesterday, "min_trl": 5,
    })])?;
    let stderr = cluster.node("sz").publish_failing(&[&rows])?;
    assert!(stderr.contains("deadline") && stderr.contains("has passed"), "{stderr}");
    assert_eq!(cluster.node("sz").list(Some("demands"))?.len(), 1, "nothing of the file was published");
    cluster.add_stopped_node("szx", "city", "440300")?;
    let (url, szx) = (cluster.central.url(), cluster.node("szx").dir().to_owned());
    let mut closed = demand_in("szx", "440300", "揭榜挂帅：已截止");
    if let Body::Demand(d) = &mut closed.body {
        d.is_challenge = true;
        d.deadline = Some(in_days(-1));
    }
    let closed_id = closed.meta.id.to_string();
    runtime().block_on(async { Raw::connect(&url, &szx).await?.push(vec![closed.into()]).await })?;
    eventually(SETTLE, "the closed challenge at gzu", || {
        Ok(cluster.node("gzu").list(Some("demands"))?.iter().any(|d| d["id"] == closed_id.as_str()))
    })?;
    let stderr = cluster.node("gzu").bid_refused(&closed_id, "晚到的揭榜", &["GZU-000001"])?;
    assert!(stderr.contains("closed on"), "{stderr}");
    assert_eq!(cluster.node("gzu").status()?["unacked"], 0, "the refused bid was never written");
    Ok(())
}

#[test]
fn unread_feeds_and_extra_connections_of_one_node_cannot_exhaust_central() -> anyhow::Result<()> {
    let mut cluster = Cluster::start_with_settings(&[("feed_stall_secs", "3.0"), ("connections_per_node", "8")])?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gz", "city", "440100")?;
    cluster.add_stopped_node("gd", "provincial", "440000")?;
    let rows = cluster.write_rows(&sample::demands("SZ", 3_000, "440300", 3))?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "the demands at central", || cluster.node("sz").converged())?;
    let (url, gd) = (cluster.central.url(), cluster.node("gd").dir().to_owned());
    let baseline = cluster.central.process().rss_bytes()?;

    // 200 feeds from one certificate, each from the start of a 3,000-record
    // province, none of them ever read, over 20 connections.
    let rt = runtime();
    let (held, opened) = rt.block_on(async {
        let (mut feeds, mut clients, mut opened) = (Vec::new(), Vec::new(), 0);
        for _ in 0..20 {
            let Ok(mut client) = common::wire::node_client(&url, &gd).await else { continue };
            for _ in 0..10 {
                let call = tokio::time::timeout(Duration::from_secs(2), client.feed(pb::FeedRequest { cursor: 0 }));
                let Ok(Ok(feed)) = call.await else { break };
                opened += 1;
                feeds.push(feed.into_inner());
            }
            clients.push(client);
        }
        anyhow::Ok(((feeds, clients), opened))
    })?;
    let mut peak = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        peak = peak.max(cluster.central.process().rss_bytes()?);
        std::thread::sleep(Duration::from_millis(100));
    }
    let connections = |cluster: &Cluster| -> anyhow::Result<u64> {
        let nodes = cluster.central.nodes()?;
        Ok(nodes.iter().find(|n| n["node_id"] == "gd").and_then(|n| n["connections"].as_u64()).unwrap_or(0))
    };
    assert!(connections(&cluster)? <= 8, "one node held {} connections", connections(&cluster)?);
    eprintln!(
        "central RSS: {:.1} MiB before, {:.1} MiB at most with {opened} unread feeds",
        baseline as f64 / 1048576.0,
        peak as f64 / 1048576.0
    );
    assert!(peak < 256 * 1024 * 1024, "central grew to {peak} bytes");

    // Everyone else keeps syncing meanwhile, and the unread feeds are cut.
    others_keep_syncing(&mut cluster, "gz", "440100", 9)?;
    eventually(SETTLE, "the unread feeds' connections to be cut", || Ok(connections(&cluster)? == 0))?;
    drop(held);
    Ok(())
}

fn meta(record: &mut pb::Record) -> &mut pb::Meta {
    record.meta.as_mut().expect("meta")
}

fn withdraw(record: &mut pb::Record) {
    let meta = meta(record);
    meta.deleted = true;
    meta.withdrawn_reason = "cancelled".into();
}

fn body(record: &mut pb::Record) -> &mut pb::Match {
    match record.body.as_mut() {
        Some(pb::record::Body::Match(m)) => m,
        _ => panic!("not a match"),
    }
}

#[test]
fn a_nodes_records_lie_in_its_area_and_a_match_is_written_only_part_by_part() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    cluster.add_node("gz", "city", "440100")?;
    for (id, kind, code) in
        [("outsider", "city", "440100"), ("gd", "provincial", "440000"), ("cms", "society", "110000")]
    {
        cluster.add_stopped_node(id, kind, code)?;
    }
    let rows = cluster.write_rows(&[serde_json::json!({
        "id": "CG-1", "title": "基于电化学阻抗谱的锂电池热失控早期预警方法",
        "abstract": "在线测量电芯阻抗谱特征频点相位变化，在热失控前数小时给出早期预警。", "industry": "C38",
        "keywords": ["热失控", "早期预警", "储能"], "owner": "岭南大学", "region": "440100", "trl": 7,
        "contact": {"person": "陈工", "phone": "020-11112222", "email": "chen@example.cn"},
    })])?;
    cluster.node("gzu").publish(&[&rows])?;
    eventually(SETTLE, "the outcome at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 1))?;
    let rows = cluster.write_rows(&[serde_json::json!({
        "id": "XQ-1", "title": "储能电站锂电池热失控早期预警", "description": "储能电站需要在热失控前数小时发现故障电芯。",
        "industry": "C38", "keywords": ["储能", "热失控", "早期预警"], "region": "440300", "budget_wan": 150,
        "min_trl": 6,
    })])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "the match at sz", || Ok(!cluster.node("sz").list(Some("matches"))?.is_empty()))?;
    eventually(SETTLE, "convergence", || cluster.converged())?;
    // The attackers use the certificates of nodes that are not pushing themselves.
    cluster.node("sz").terminate()?;
    cluster.node("gzu").terminate()?;
    let url = cluster.central.url();
    let dirs: std::collections::HashMap<&str, std::path::PathBuf> =
        ["sz", "gzu", "outsider", "gd", "cms"].into_iter().map(|id| (id, cluster.node(id).dir().to_owned())).collect();
    let rt = runtime();
    let held = rt.block_on(admin::records(&cluster.central, "match", "sz"))?.remove(0);
    let matches_before = cluster.central.list(Some("matches"), None)?;
    assert_eq!(matches_before.len(), 1);

    type Edit = fn(&mut pb::Record);
    let cases: Vec<(&str, &str, Edit)> = vec![
        ("outsider", "match", withdraw),
        ("sz", "deleted", withdraw),
        ("sz", "external_id", |r| meta(r).external_id = "XQ-改".into()),
        ("sz", "created_at", |r| meta(r).created_at_ms = 1),
        ("sz", "updated_at", |r| meta(r).updated_at_ms += 1),
        ("sz", "score", |r| body(r).score = 99.0),
        ("sz", "tier", |r| body(r).tier = "national".into()),
        ("sz", "explanation", |r| body(r).explanation = "改写的理由".into()),
        ("sz", "supply_owner", |r| body(r).supply_owner = "sz".into()),
        ("sz", "supply_contact", |r| {
            body(r).supply_contact =
                Some(pb::Contact { person: "伪造".into(), phone: "1".into(), email: "a@b.cn".into() })
        }),
        ("sz", "core_state", |r| body(r).core_state = "contracted".into()),
        ("sz", "core_version", |r| body(r).core_version += 1),
        ("sz", "supply_side", |r| {
            body(r).supply_side = "accepted".into();
            body(r).supply_side_version = now_version(9).as_u64();
        }),
        ("gzu", "demand_side", |r| {
            body(r).demand_side = "accepted".into();
            body(r).demand_side_version = now_version(9).as_u64();
        }),
        ("gzu", "landing", |r| {
            body(r).landing = "landed".into();
            body(r).landing_date = in_days(-1).to_string();
            body(r).landing_version = now_version(9).as_u64();
        }),
        ("sz", "demand_side_version", |r| {
            body(r).demand_side = "accepted".into();
            body(r).demand_side_version = u64::MAX;
        }),
    ];
    let (fields, places) = rt.block_on(async {
        let mut fields = Vec::new();
        for (writer, expected, edit) in cases {
            let mut forged = held.clone();
            edit(&mut forged);
            let mut raw = Raw::connect(&url, &dirs[writer]).await?;
            fields.push((writer, expected, raw.refused(forged).await?));
        }
        // The demand side's honest answer goes through; the same version
        // with another value does not.
        let mut raw = Raw::connect(&url, &dirs["sz"]).await?;
        let mut accepted = held.clone();
        body(&mut accepted).demand_side = "accepted".into();
        body(&mut accepted).demand_side_version = now_version(10).as_u64();
        let honest = raw.push(vec![accepted.clone()]).await?;
        anyhow::ensure!(honest.refused.is_empty(), "{honest:?}");
        let mut other = accepted.clone();
        body(&mut other).demand_side = "declined".into();
        body(&mut other).demand_side_reason = "价格".into();
        fields.push(("sz", "demand_side", raw.refused(other).await?));

        // Places: each node's records lie in its area.
        let mut places = Vec::new();
        let attempts: Vec<(&str, Record, bool)> = vec![
            ("sz", demand_in("sz", "330100", "杭州的需求"), false),
            ("sz", outcome("sz", "440100", "广州的成果"), false),
            ("sz", expert("sz", "110000", "北京的专家"), false),
            ("gzu", outcome("gzu", "440300", "深圳的成果"), false),
            ("gd", expert("gd", "440300", "深圳的专家"), true),
            ("gd", demand_in("gd", "510100", "成都的需求"), false),
            ("cms", demand_in("cms", "330100", "学会在杭州的需求"), true),
        ];
        for (writer, record, allowed) in attempts {
            let mut raw = Raw::connect(&url, &dirs[writer]).await?;
            let response = raw.push(vec![record.clone().into()]).await?;
            let field = response.refused.first().map(|r| r.field.clone());
            places.push((writer, record.title(), allowed, field));
        }
        anyhow::Ok((fields, places))
    })?;
    for (writer, expected, field) in &fields {
        assert_eq!(field, expected, "a forged {expected} by {writer}");
    }
    for (writer, title, allowed, field) in places {
        match (allowed, field) {
            (true, None) | (false, Some(_)) => {}
            (true, Some(field)) => panic!("{writer}'s {title} was refused ({field})"),
            (false, None) => panic!("{writer}'s {title} was admitted outside its area"),
        }
    }
    // The admitted records may have made new matches; the attacked one is
    // as it was but for the honest answer.
    let id = matches_before[0]["id"].clone();
    let after = cluster.central.list(Some("matches"), None)?.into_iter().find(|m| m["id"] == id).expect("the match");
    assert_eq!(after["state"], "accepted_by_demand", "only the honest answer was applied");
    for field in ["score", "tier", "explanation", "external_id", "deleted", "created_at", "supply_owner"] {
        assert_eq!(after[field], matches_before[0][field], "{field}");
    }
    cluster.node("sz").start()?;
    cluster.node("gzu").start()?;
    others_keep_syncing(&mut cluster, "gz", "440100", 13)
}

#[test]
fn push_sequences_continue_the_acknowledged_one() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("gz", "city", "440100")?;
    cluster.add_stopped_node("sz", "city", "440300")?;
    let (url, sz) = (cluster.central.url(), cluster.node("sz").dir().to_owned());
    let (gap, absurd, wrapped, honest) = runtime().block_on(async {
        let mut raw = Raw::connect(&url, &sz).await?;
        let record = || demand_in("sz", "440300", "需求").into();
        let changes = |seqs: &[u64]| pb::PushRequest {
            changes: seqs.iter().map(|seq| pb::Change { seq: *seq, record: Some(record()) }).collect(),
        };
        let gap = raw.client.push(push(2, vec![record()])).await.expect_err("a gap was accepted");
        let absurd = raw.client.push(changes(&[u64::MAX])).await.expect_err("2^64-1 was accepted");
        let wrapped = raw.client.push(changes(&[1, u64::MAX, 0])).await.expect_err("a wrapped sequence was accepted");
        // A withdrawn sequence number counts, carrying nothing.
        let mut withdrawn = push(1, vec![record(), record()]);
        withdrawn.changes[0].record = None;
        let honest = raw.client.push(withdrawn).await?.into_inner();
        anyhow::Ok((gap, absurd, wrapped, honest))
    })?;
    for (what, status) in [("gap", gap), ("absurd", absurd), ("wrapped", wrapped)] {
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(status.message().contains(".seq"), "{what} names the sequence: {}", status.message());
    }
    assert_eq!((honest.acked_seq, honest.refused.len()), (2, 0));
    assert_eq!(cluster.central.list(None, None)?.len(), 1, "only the honest push was applied");
    others_keep_syncing(&mut cluster, "gz", "440100", 17)
}

#[test]
fn whole_store_scans_are_charged_to_the_node_that_causes_them() -> anyhow::Result<()> {
    let mut cluster = Cluster::start_with_settings(&[("scanned_records_per_node_per_minute", "2000")])?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gz", "city", "440100")?;
    cluster.add_stopped_node("gd", "provincial", "440000")?;
    let rows = cluster.write_rows(&sample::demands("SZ", 600, "440300", 21))?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "the demands at central", || cluster.node("sz").converged())?;
    let (url, gd) = (cluster.central.url(), cluster.node("gd").dir().to_owned());
    let (cached, exhausted) = runtime().block_on(async {
        let mut raw = Raw::connect(&url, &gd).await?;
        // Asking again while nothing changed costs nothing.
        let mut cached = 0;
        for _ in 0..30 {
            raw.client.range_digests(pb::DigestRequest {}).await?;
            cached += 1;
        }
        // Every change makes the next answer a scan of the whole store.
        let mut exhausted = None;
        for i in 0..20 {
            raw.push(vec![demand_in("gd", "440100", &format!("省站需求{i}")).into()]).await?;
            if let Err(status) = raw.client.range_digests(pb::DigestRequest {}).await {
                exhausted = Some(status);
                break;
            }
        }
        let resync = raw.client.resync(pb::ResyncRequest { ranges: vec![0] }).await;
        anyhow::Ok((cached, exhausted.map(|s| (s, resync.err()))))
    })?;
    assert_eq!(cached, 30);
    let (status, resync) = exhausted.expect("scans were never limited");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("records scanned per minute"), "{}", status.message());
    assert_eq!(resync.map(|s| s.code()), Some(Code::ResourceExhausted), "a resync is a scan too");
    others_keep_syncing(&mut cluster, "gz", "440100", 23)
}

fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(t) = token {
        request.metadata_mut().insert("authorization", t.parse().expect("ascii"));
    }
    request
}

#[test]
fn centrals_admin_api_requires_its_token() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;

    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    let token = cluster.central.home.join("admin.token");
    assert_eq!(std::fs::metadata(&token)?.permissions().mode() & 0o777, 0o600);
    let address = admin::address(&cluster.central)?;
    assert!(address.starts_with("http://127."), "the admin API listens on loopback: {address}");
    let rt = runtime();
    for presented in [None, Some("Bearer 0000"), Some("Bearer ")] {
        let (list, revoke) = rt.block_on(async {
            let channel = tonic::transport::Channel::from_shared(address.clone())?.connect().await?;
            let mut client = pb::admin_client::AdminClient::new(channel);
            let list = client.list(with_token(pb::AdminListRequest::default(), presented)).await.expect_err("listed");
            let revoke = pb::RevokeRequest { node_id: "sz".into() };
            let revoke = client.revoke(with_token(revoke, presented)).await.expect_err("revoked");
            anyhow::Ok((list, revoke))
        })?;
        assert_eq!((list.code(), revoke.code()), (Code::Unauthenticated, Code::Unauthenticated), "{presented:?}");
    }
    assert_eq!(cluster.central.nodes()?[0]["revoked"], false, "nobody without the token revoked sz");
    assert!(cluster.node("sz").status()?["connected"] == true);
    // The verbs, which read the token, are served.
    assert!(cluster.central.revoke("sz")?.contains("revoked node sz"));
    Ok(())
}
