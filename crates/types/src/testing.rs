//! Valid records for the tests of crates built on this one (feature `testing`).

use crate::{Body, Demand, Expert, Hlc, Industry, Meta, NodeId, Outcome, Record, RecordId, Region, Timestamp, Trl};

/// Metadata of a new record of node `owner`: a fresh id, version 1.
fn meta(owner: &str) -> Meta {
    Meta {
        id: RecordId::new(),
        owner: NodeId::parse("owner", owner).expect("node id"),
        version: Hlc::from_u64(1),
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        deleted: false,
        external_id: None,
        withdrawal: None,
    }
}

/// A valid demand of node `sz` in Shenzhen (C38, TRL ≥ 5) titled `title`:
/// a fresh id, version 1; tests adjust what they need.
pub fn demand(title: &str) -> Record {
    Record {
        meta: meta("sz"),
        body: Body::Demand(Demand {
            title: title.into(),
            description: "描述".into(),
            industry: Industry::parse("industry", "C38").expect("industry"),
            keywords: vec![],
            region: Region::parse("region", "440300").expect("region"),
            budget_wan: None,
            deadline: None,
            min_trl: Trl::new("min_trl", 5).expect("trl"),
            is_challenge: false,
            enterprise: String::new(),
            contact: None,
            service_modes: Vec::new(),
        }),
    }
}

/// A valid outcome of node `uni` in Chengdu (C38, TRL 6) titled `title`:
/// a fresh id, version 1.
pub fn outcome(title: &str) -> Record {
    Record {
        meta: meta("uni"),
        body: Body::Outcome(Outcome {
            title: title.into(),
            summary: "摘要".into(),
            industry: Industry::parse("industry", "C38").expect("industry"),
            keywords: vec![],
            institution: "西南大学".into(),
            region: Region::parse("region", "510100").expect("region"),
            trl: Trl::new("trl", 6).expect("trl"),
            ip: String::new(),
            transfer_modes: vec![],
            price_wan: None,
            contact: None,
        }),
    }
}

/// A valid expert of node `uni` in Chengdu named `name`: a fresh id, version 1.
pub fn expert(name: &str) -> Record {
    Record {
        meta: meta("uni"),
        body: Body::Expert(Expert {
            name: name.into(),
            affiliation: "西南大学".into(),
            title: "教授".into(),
            fields: vec!["储能安全".into()],
            keywords: vec![],
            region: Region::parse("region", "510100").expect("region"),
            available: vec![],
            service_modes: vec![],
            capacity: None,
            contact: None,
        }),
    }
}

/// A match between a demand of `sz` (Shenzhen) and an outcome of `uni`
/// (Chengdu), just proposed by central; `sz` is the landing node.
pub fn proposed_match() -> crate::Match {
    use crate::{Landing, Match, MatchState, Part, Response, SupplyKind, Tier};
    Match {
        demand: RecordId::new(),
        demand_owner: NodeId::parse("owner", "sz").expect("node id"),
        demand_region: Region::parse("region", "440300").expect("region"),
        supply: RecordId::new(),
        supply_kind: SupplyKind::Outcome,
        supply_owner: NodeId::parse("owner", "uni").expect("node id"),
        supply_region: Region::parse("region", "510100").expect("region"),
        supply_nodes: Vec::new(),
        landing_node: NodeId::parse("owner", "sz").expect("node id"),
        score: 1.0,
        tier: Tier::National,
        explanation: String::new(),
        demand_title: "需求".into(),
        supply_title: "成果".into(),
        core: Part::new(Hlc::from_u64(1), MatchState::Proposed),
        core_reason: String::new(),
        demand_side: Part::new(Hlc::ZERO, Response::Pending),
        supply_side: Part::new(Hlc::ZERO, Response::Pending),
        landing: Part::new(Hlc::ZERO, Landing::Pending),
        demand_contact: None,
        supply_contact: None,
    }
}

/// One record of each kind with every optional field filled (contacts,
/// answers, a landing, a withdrawal), for round trips through encodings.
pub fn one_of_each_kind() -> Vec<Record> {
    use crate::{
        Assessment, Bid, BidState, Contact, Contract, ContractType, Date, DateRange, Landed, Landing, MatchState,
        Member, Part, Recommendation, RecordKind, Response, Scores, Team, TransferMode, WithdrawReason, Withdrawal,
    };
    let contact =
        || Some(Contact { person: "李工".into(), phone: "0755-1234567".into(), email: "li@example.cn".into() });
    // Dates counted from today, so none falls into the past.
    let date = |days: i64| Date::from_days_since_epoch(Date::today().days_since_epoch() + days);
    let mut demand = demand("储能电站热失控早期预警");
    demand.meta.external_id = Some("XQ-001".into());
    demand.meta.created_at = Timestamp(1_795_000_000_000);
    demand.meta.updated_at = Timestamp(1_795_000_000_500);
    if let Body::Demand(d) = &mut demand.body {
        d.keywords = vec!["热失控".into(), "预警".into()];
        d.budget_wan = Some(120.5);
        d.deadline = Some(date(200));
        d.is_challenge = true;
        d.enterprise = "某储能公司".into();
        d.contact = contact();
        d.service_modes = vec!["联合攻关".into()];
    }
    let mut outcome = outcome("电化学阻抗谱在线测量");
    outcome.meta.deleted = true;
    outcome.meta.withdrawal = Some(Withdrawal { reason: WithdrawReason::Licensed, note: "已许可".into() });
    if let Body::Outcome(o) = &mut outcome.body {
        o.keywords = vec!["阻抗谱".into()];
        o.ip = "发明专利 ZL2024".into();
        o.transfer_modes = vec![TransferMode::License, TransferMode::Equity];
        o.price_wan = Some(80.0);
        o.contact = contact();
    }
    let mut expert = expert("陈教授");
    if let Body::Expert(e) = &mut expert.body {
        e.keywords = vec!["电池安全".into()];
        e.available = vec![DateRange::new("available", date(30), date(120)).expect("range")];
        e.service_modes = vec!["技术咨询".into()];
        e.capacity = Some(2);
        e.contact = contact();
    }
    let mut m = proposed_match();
    m.supply_nodes = vec![NodeId::parse("node", "szu").expect("node id")];
    m.explanation = "同城：深圳".into();
    m.core = Part::new(Hlc::from_u64(9), MatchState::Landed);
    m.core_reason = "落地".into();
    m.demand_side =
        Part::new(Hlc::from_u64(3), Response::Contracted(Contract { kind: ContractType::License, amount_wan: 60.0 }));
    m.supply_side = Part::new(Hlc::from_u64(4), Response::Accepted);
    m.landing = Part::new(Hlc::from_u64(8), Landing::Landed(Landed { date: date(-10), note: "产线投用".into() }));
    m.demand_contact = contact();
    m.supply_contact = contact();
    let central = NodeId::parse("owner", "central").expect("node id");
    let matched = Record {
        meta: Meta::new(central, Hlc::from_u64(9), Timestamp(1_795_000_000_000)),
        body: Body::Match(Box::new(m)),
    };
    let bid = Record {
        meta: meta("uni"),
        body: Body::Bid(Bid {
            demand: demand.meta.id,
            demand_owner: demand.meta.owner.clone(),
            proposal: "以阻抗谱方案揭榜".into(),
            outcomes: vec![outcome.meta.id],
            experts: vec![expert.meta.id],
            decision: Part::new(Hlc::from_u64(5), BidState::Awarded),
            industry: Some(Industry::parse("industry", "C38").expect("industry")),
        }),
    };
    let assessment = Record {
        meta: meta("ces"),
        body: Body::Assessment(Assessment {
            subject: bid.meta.id,
            subject_kind: RecordKind::Bid,
            subject_owner: bid.meta.owner.clone(),
            subject_region: None,
            industry: Industry::parse("industry", "C38").expect("industry"),
            challenge_owner: Some(demand.meta.owner.clone()),
            evaluator: "评审组".into(),
            scores: Scores { advancement: 4, maturity: 3, market: 5, risk: 2 },
            verdict: Recommendation::Conditional,
            text: "需补充中试数据".into(),
        }),
    };
    let team = Record {
        meta: meta("uni"),
        body: Body::Team(Team {
            name: "储能安全服务团".into(),
            description: "储能电站安全".into(),
            lead: expert.meta.id,
            members: vec![
                Member {
                    expert: expert.meta.id,
                    node: expert.meta.owner.clone(),
                    name: "陈教授".into(),
                    accepted: Part::new(Hlc::ZERO, false),
                },
                Member {
                    expert: RecordId::new(),
                    node: NodeId::parse("node", "szu").expect("node id"),
                    name: "王教授".into(),
                    accepted: Part::new(Hlc::from_u64(6), true),
                },
            ],
            fields: vec!["储能安全".into()],
            keywords: vec!["热失控".into()],
            region: Region::parse("region", "510100").expect("region"),
            cities: vec![Region::parse("region", "440300").expect("region")],
            industries: vec![Industry::parse("industry", "C38").expect("industry")],
            service_modes: vec!["联合攻关".into()],
        }),
    };
    vec![demand, outcome, expert, matched, bid, assessment, team]
}
