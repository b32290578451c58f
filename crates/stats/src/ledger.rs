//! What the figures are computed from: the facts of every demand and match,
//! and when central saw each step of each match.

use rustc_hash::FxHashMap as HashMap;

use kechuang_types::Event;
use kechuang_types::{
    Body, Contract, Landing, MatchState, NodeId, NodeKind, Recommendation, RecordId, RecordKind, Region, Response,
    SupplyKind, Tier, Timestamp,
};
use serde::Deserialize;

/// A station's index in the ledger's table of node ids.
pub(crate) type Node = u32;

/// A demand's index in the ledger's table of demands.
pub(crate) type DemandIx = u32;

/// A demand as the figures see it.
#[derive(Debug, Clone)]
pub(crate) struct DemandFacts {
    pub title: String,
    pub deadline: Option<kechuang_types::Date>,
    pub owner: Node,
    pub region: Region,
    /// Index in the ledger's table of industry codes.
    pub industry: u32,
    pub published: Timestamp,
    pub withdrawn: Option<Timestamp>,
}

/// A match as the figures see it: who and where, and how it stands now.
#[derive(Debug, Clone)]
pub(crate) struct MatchFacts {
    pub times: Times,
    pub demand: DemandIx,
    pub demand_owner: Node,
    pub demand_region: Region,
    pub supply: RecordId,
    pub supply_kind: SupplyKind,
    pub supply_owner: Node,
    pub supply_region: Region,
    pub landing_node: Node,
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
    pub owner: Node,
}

/// A society's assessment as the figures see it.
#[derive(Debug, Clone)]
pub(crate) struct AssessmentFacts {
    pub society: Node,
    pub verdict: Recommendation,
    pub subject_region: Option<Region>,
    pub written: Timestamp,
    pub withdrawn: bool,
}

/// Every fact the figures need, taken from records and events in any order.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Demands by index (`None` until the demand's record is read), and
    /// the id and index of each.
    pub(crate) demands: Vec<Option<DemandFacts>>,
    pub(crate) demand_ids: Vec<RecordId>,
    demand_index: HashMap<RecordId, DemandIx>,
    /// Matches in a vector, so the counting reads memory in order.
    pub(crate) matches: Vec<MatchFacts>,
    match_index: HashMap<RecordId, usize>,
    /// Times of matches whose record has not been read yet.
    pending_times: HashMap<RecordId, Times>,
    /// Registered stations, by node index.
    pub(crate) stations: Vec<Option<Station>>,
    pub(crate) supply: HashMap<RecordId, SupplyFacts>,
    /// Every node id seen, by index, and the index of each.
    pub(crate) node_ids: Vec<NodeId>,
    node_index: HashMap<NodeId, Node>,
    /// Every industry code seen, by index, and the index of each.
    pub(crate) industries: Vec<String>,
    industry_index: HashMap<String, u32>,
    /// Societies' assessments, by record id.
    pub(crate) assessments: HashMap<RecordId, AssessmentFacts>,
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

    /// The index of `id`, given one if new.
    pub(crate) fn intern(&mut self, id: &NodeId) -> Node {
        if let Some(i) = self.node_index.get(id) {
            return *i;
        }
        let i = self.node_ids.len() as Node;
        self.node_ids.push(id.clone());
        self.node_index.insert(id.clone(), i);
        i
    }

    /// The index of demand `id`, given one if new.
    fn demand_ix(&mut self, id: RecordId) -> DemandIx {
        if let Some(i) = self.demand_index.get(&id) {
            return *i;
        }
        let i = self.demand_ids.len() as DemandIx;
        self.demand_ids.push(id);
        self.demands.push(None);
        self.demand_index.insert(id, i);
        i
    }

    /// The demand at `ix`, if its record has been read.
    pub(crate) fn demand(&self, ix: DemandIx) -> Option<&DemandFacts> {
        self.demands.get(ix as usize).and_then(Option::as_ref)
    }

    /// The index of `id`, if the ledger has seen it.
    pub(crate) fn node(&self, id: &NodeId) -> Option<Node> {
        self.node_index.get(id).copied()
    }

    /// The station at `node`, if registered.
    pub(crate) fn station_of(&self, node: Node) -> Option<&Station> {
        self.stations.get(node as usize).and_then(Option::as_ref)
    }

    fn industry(&mut self, code: &str) -> u32 {
        if let Some(i) = self.industry_index.get(code) {
            return *i;
        }
        let i = self.industries.len() as u32;
        self.industries.push(code.to_owned());
        self.industry_index.insert(code.to_owned(), i);
        i
    }

    /// Notes a registered station.
    pub fn station(&mut self, id: NodeId, kind: NodeKind, region: Region) {
        let i = self.intern(&id) as usize;
        if self.stations.len() <= i {
            self.stations.resize(i + 1, None);
        }
        self.stations[i] = Some(Station { kind, region });
    }

    /// Takes the facts of one record as central holds it now.
    pub fn record(&mut self, record: &kechuang_types::Record) {
        let meta = &record.meta;
        match &record.body {
            Body::Demand(d) => {
                let facts = DemandFacts {
                    title: d.title.to_string(),
                    deadline: d.deadline,
                    owner: self.intern(&meta.owner),
                    region: d.region,
                    industry: self.industry(d.industry.as_str()),
                    published: meta.created_at,
                    withdrawn: meta.deleted.then_some(meta.updated_at),
                };
                let ix = self.demand_ix(meta.id) as usize;
                self.demands[ix] = Some(facts);
            }
            Body::Outcome(o) => {
                let facts = SupplyFacts { name: o.title.to_string(), owner: self.intern(&meta.owner) };
                self.supply.insert(meta.id, facts);
            }
            Body::Expert(e) => {
                let facts = SupplyFacts { name: e.name.to_string(), owner: self.intern(&meta.owner) };
                self.supply.insert(meta.id, facts);
            }
            Body::Match(m) => {
                let times = match self.match_index.get(&meta.id) {
                    Some(&i) => self.matches[i].times,
                    None => self.pending_times.remove(&meta.id).unwrap_or_default(),
                };
                let facts = MatchFacts {
                    times,
                    demand: self.demand_ix(m.demand),
                    demand_owner: self.intern(&m.demand_owner),
                    demand_region: m.demand_region,
                    supply: m.supply,
                    supply_kind: m.supply_kind,
                    supply_owner: self.intern(&m.supply_owner),
                    supply_region: m.supply_region,
                    landing_node: self.intern(&m.landing_node),
                    tier: m.tier,
                    state: m.state(),
                    contract: m.verified_contract(),
                    created: meta.created_at,
                };
                match self.match_index.get(&meta.id) {
                    Some(&i) => self.matches[i] = facts,
                    None => {
                        self.match_index.insert(meta.id, self.matches.len());
                        self.matches.push(facts);
                    }
                }
            }
            Body::Assessment(a) => {
                let facts = AssessmentFacts {
                    society: self.intern(&meta.owner),
                    verdict: a.verdict,
                    subject_region: a.subject_region,
                    written: meta.created_at,
                    withdrawn: meta.deleted,
                };
                self.assessments.insert(meta.id, facts);
            }
            Body::Bid(_) | Body::Team(_) => {}
        }
    }

    /// Takes one step of the history.
    pub fn event(&mut self, event: &Event) {
        if event.kind != RecordKind::Match {
            return;
        }
        let times = match self.match_index.get(&event.record) {
            Some(&i) => &mut self.matches[i].times,
            None => self.pending_times.entry(event.record).or_default(),
        };
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
    /// The verified stages of this match, from its recorded times.
    pub(crate) fn stages(&self) -> Stages {
        let t = self.times;
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
