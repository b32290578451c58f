//! What the figures are computed from: the facts of every demand and match,
//! and when central saw each step of each match.

use std::collections::HashMap;

use kechuang_types::Event;
use kechuang_types::{
    Body, Contract, Landing, MatchState, NodeId, NodeKind, RecordId, RecordKind, Region, Response, SupplyKind, Tier,
    Timestamp,
};
use serde::Deserialize;

/// A demand as the figures see it.
#[derive(Debug, Clone)]
pub(crate) struct DemandFacts {
    pub title: String,
    pub deadline: Option<kechuang_types::Date>,
    pub owner: NodeId,
    pub region: Region,
    pub industry: String,
    pub published: Timestamp,
    pub withdrawn: Option<Timestamp>,
}

/// A match as the figures see it: who and where, and how it stands now.
#[derive(Debug, Clone)]
pub(crate) struct MatchFacts {
    pub demand: RecordId,
    pub demand_owner: NodeId,
    pub demand_region: Region,
    pub supply: RecordId,
    pub supply_kind: SupplyKind,
    pub supply_owner: NodeId,
    pub supply_region: Region,
    pub landing_node: NodeId,
    pub tier: Tier,
    pub state: MatchState,
    pub contract: Option<Contract>,
    pub created: Timestamp,
}

/// When central received each step of one match (the first time, where a
/// step can happen once per side).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Times {
    pub proposed: Option<Timestamp>,
    pub answered: [Option<Timestamp>; 2],
    pub agreed: [Option<Timestamp>; 2],
    pub contracted: [Option<Timestamp>; 2],
    pub declined: Option<Timestamp>,
    pub landed: Option<Timestamp>,
    pub ended: Option<Timestamp>,
}

/// A station of the network.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Station {
    pub kind: NodeKind,
    pub region: Region,
}

/// An outcome or an expert: what people call it, and whose it is.
#[derive(Debug, Clone)]
pub(crate) struct SupplyFacts {
    pub name: String,
    pub owner: NodeId,
}

/// Every fact the figures need, taken from records and events in any order.
#[derive(Debug, Default)]
pub struct Ledger {
    pub(crate) demands: HashMap<RecordId, DemandFacts>,
    pub(crate) matches: HashMap<RecordId, MatchFacts>,
    pub(crate) times: HashMap<RecordId, Times>,
    pub(crate) stations: HashMap<NodeId, Station>,
    pub(crate) supply: HashMap<RecordId, SupplyFacts>,
}

fn earliest(slot: &mut Option<Timestamp>, at: Timestamp) {
    if slot.is_none_or(|t| at < t) {
        *slot = Some(at);
    }
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a registered station.
    pub fn station(&mut self, id: NodeId, kind: NodeKind, region: Region) {
        self.stations.insert(id, Station { kind, region });
    }

    /// Takes the facts of one record as central holds it now.
    pub fn record(&mut self, record: &kechuang_types::Record) {
        let meta = &record.meta;
        match &record.body {
            Body::Demand(d) => {
                let facts = DemandFacts {
                    title: d.title.to_string(),
                    deadline: d.deadline,
                    owner: meta.owner.clone(),
                    region: d.region,
                    industry: d.industry.as_str().to_owned(),
                    published: meta.created_at,
                    withdrawn: meta.deleted.then_some(meta.updated_at),
                };
                self.demands.insert(meta.id, facts);
            }
            Body::Outcome(o) => {
                let facts = SupplyFacts { name: o.title.to_string(), owner: meta.owner.clone() };
                self.supply.insert(meta.id, facts);
            }
            Body::Expert(e) => {
                let facts = SupplyFacts { name: e.name.to_string(), owner: meta.owner.clone() };
                self.supply.insert(meta.id, facts);
            }
            Body::Match(m) => {
                let facts = MatchFacts {
                    demand: m.demand,
                    demand_owner: m.demand_owner.clone(),
                    demand_region: m.demand_region,
                    supply: m.supply,
                    supply_kind: m.supply_kind,
                    supply_owner: m.supply_owner.clone(),
                    supply_region: m.supply_region,
                    landing_node: m.landing_node.clone(),
                    tier: m.tier,
                    state: m.state(),
                    contract: m.verified_contract(),
                    created: meta.created_at,
                };
                self.matches.insert(meta.id, facts);
            }
            Body::Bid(_) => {}
        }
    }

    /// Takes one step of the history.
    pub fn event(&mut self, event: &Event) {
        if event.kind != RecordKind::Match {
            return;
        }
        let times = self.times.entry(event.record).or_default();
        let at = event.at;
        let step = &event.step;
        match step.part.as_str() {
            "core" => match MatchState::deserialize(&step.to) {
                Ok(MatchState::Withdrawn | MatchState::Expired) => earliest(&mut times.ended, at),
                _ if step.from.is_none() => earliest(&mut times.proposed, at),
                _ => {}
            },
            part @ ("demand_side" | "supply_side") => {
                let side = usize::from(part == "supply_side");
                let Ok(response) = Response::deserialize(&step.to) else { return };
                if response != Response::Pending {
                    earliest(&mut times.answered[side], at);
                }
                if response.agreed() {
                    earliest(&mut times.agreed[side], at);
                }
                match response {
                    Response::Contracted(_) => earliest(&mut times.contracted[side], at),
                    Response::Declined(_) => earliest(&mut times.declined, at),
                    Response::Pending | Response::Accepted => {}
                }
            }
            "landing" => {
                if matches!(Landing::deserialize(&step.to), Ok(Landing::Landed(_))) {
                    earliest(&mut times.landed, at);
                }
            }
            _ => {}
        }
    }

    /// How many matches the ledger holds.
    pub fn matches(&self) -> usize {
        self.matches.len()
    }
}

/// When one match reached each verified stage, as central received it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stages {
    pub proposed: Option<Timestamp>,
    pub connected: Option<Timestamp>,
    pub contracted: Option<Timestamp>,
    pub landed: Option<Timestamp>,
    pub declined: Option<Timestamp>,
    pub expired: Option<Timestamp>,
    pub withdrawn: Option<Timestamp>,
}

impl MatchFacts {
    /// The verified stages of this match, given its recorded times.
    pub(crate) fn stages(&self, times: Option<&Times>) -> Stages {
        let t = times.copied().unwrap_or_default();
        let both = |pair: [Option<Timestamp>; 2]| Some(pair[0]?.max(pair[1]?));
        let ended = |state| if self.state == state { t.ended } else { None };
        Stages {
            proposed: Some(t.proposed.unwrap_or(self.created)),
            connected: both(t.agreed),
            contracted: self.contract.and_then(|_| both(t.contracted)),
            landed: if self.state == MatchState::Landed { t.landed } else { None },
            declined: if self.state == MatchState::Declined { t.declined } else { None },
            expired: ended(MatchState::Expired),
            withdrawn: ended(MatchState::Withdrawn),
        }
    }
}
