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
