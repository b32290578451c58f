//! What matching needs to know of each record, beyond its text.

use kechuang_types::{
    Body, Date, DateRange, Expert, Industry, NodeId, Outcome, Record, RecordId, Region, SupplyKind, Team, Trl,
};

/// An outcome, expert or team, as matching sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SupplyProfile {
    /// The record.
    pub id: RecordId,
    /// Outcome, expert or team.
    pub kind: SupplyKind,
    /// The owner node.
    pub owner: NodeId,
    /// Where it is.
    pub region: Region,
    /// Title (outcome) or name (expert), for explanations.
    pub title: String,
    /// Keywords (outcome) or fields and keywords (expert).
    pub keywords: Vec<String>,
    /// Industry (outcomes only).
    pub industry: Option<Industry>,
    /// Readiness (outcomes only).
    pub trl: Option<Trl>,
    /// Asking price in 万元 (outcomes only).
    pub price_wan: Option<f64>,
    /// The institution: an outcome's holder, an expert's affiliation up to the first space.
    pub institution: String,
    /// When an expert is available.
    pub available: Vec<DateRange>,
    /// Words of what an outcome's summary says it does not do.
    pub excluded: Vec<String>,
    /// The service modes an expert offers.
    pub service_modes: Vec<String>,
    /// How many open engagements an expert takes at once; `None` for no limit.
    pub capacity: Option<u32>,
    /// A team's serving members (experts of its owner, and those whose node accepted).
    pub members: Vec<RecordId>,
    /// The nodes of a team's serving members other than its owner.
    pub member_nodes: Vec<NodeId>,
    /// The cities a team serves and the industries; empty for any.
    pub serves: (Vec<Region>, Vec<Industry>),
}

/// A demand, as matching sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandProfile {
    /// The record.
    pub id: RecordId,
    /// The owner node.
    pub owner: NodeId,
    /// Where the enterprise is.
    pub region: Region,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Industry.
    pub industry: Industry,
    /// Least readiness wanted.
    pub min_trl: Trl,
    /// Budget in 万元.
    pub budget_wan: Option<f64>,
    /// Deadline.
    pub deadline: Option<Date>,
    /// An open challenge (揭榜挂帅).
    pub is_challenge: bool,
}

impl SupplyProfile {
    /// The profile of an outcome, expert or team record; `None` for other kinds and tombstones.
    pub fn from_record(record: &Record) -> Option<Self> {
        Self::with_index_text(record).map(|(profile, _)| profile)
    }

    /// The profile and [`SupplyProfile::index_text`] together, reading an
    /// outcome's negations once.
    pub fn with_index_text(record: &Record) -> Option<(Self, Vec<(String, u32)>)> {
        if record.meta.deleted {
            return None;
        }
        let (id, owner) = (record.meta.id, record.meta.owner.clone());
        match &record.body {
            Body::Outcome(o) => {
                let (affirmed, negated) = crate::text::negated(&o.summary);
                let profile = Self {
                    id,
                    kind: SupplyKind::Outcome,
                    owner,
                    region: o.region,
                    title: o.title.clone(),
                    keywords: o.keywords.clone(),
                    industry: Some(o.industry.clone()),
                    trl: Some(o.trl),
                    price_wan: o.price_wan,
                    institution: o.institution.clone(),
                    available: vec![],
                    excluded: crate::Analyzer.long_words(&negated),
                    service_modes: vec![],
                    capacity: None,
                    members: vec![],
                    member_nodes: vec![],
                    serves: Default::default(),
                };
                Some((profile, outcome_text(o, affirmed)))
            }
            Body::Expert(e) => {
                let profile = Self {
                    id,
                    kind: SupplyKind::Expert,
                    owner,
                    region: e.region,
                    title: e.name.clone(),
                    keywords: e.fields.iter().chain(&e.keywords).cloned().collect(),
                    industry: None,
                    trl: None,
                    price_wan: None,
                    institution: e.affiliation.split_whitespace().next().unwrap_or_default().to_owned(),
                    available: e.available.clone(),
                    excluded: vec![],
                    service_modes: e.service_modes.clone(),
                    capacity: e.capacity,
                    members: vec![],
                    member_nodes: vec![],
                    serves: Default::default(),
                };
                Some((profile, expert_text(e)))
            }
            Body::Team(t) => {
                let serving: Vec<_> = t.members.iter().filter(|m| Team::serves(m, &owner)).collect();
                let mut member_nodes: Vec<NodeId> =
                    serving.iter().filter(|m| m.node != owner).map(|m| m.node.clone()).collect();
                member_nodes.sort();
                member_nodes.dedup();
                let profile = Self {
                    id,
                    kind: SupplyKind::Team,
                    region: t.region,
                    title: t.name.clone(),
                    keywords: t.fields.iter().chain(&t.keywords).cloned().collect(),
                    industry: None,
                    trl: None,
                    price_wan: None,
                    institution: String::new(),
                    available: vec![],
                    excluded: vec![],
                    service_modes: t.service_modes.clone(),
                    capacity: None,
                    members: serving.iter().map(|m| m.expert).collect(),
                    member_nodes,
                    serves: (t.cities.clone(), t.industries.clone()),
                    owner,
                };
                Some((profile, team_text(t)))
            }
            _ => None,
        }
    }

    /// The text to index, with the weight of each part.
    pub fn index_text(record: &Record) -> Vec<(String, u32)> {
        match &record.body {
            Body::Outcome(o) => outcome_text(o, crate::text::negated(&o.summary).0),
            Body::Expert(e) => expert_text(e),
            Body::Team(t) => team_text(t),
            _ => vec![],
        }
    }
}

/// An outcome's parts to index: title, what its summary affirms, keywords.
fn outcome_text(o: &Outcome, affirmed: String) -> Vec<(String, u32)> {
    vec![(o.title.clone(), 2), (affirmed, 1), (o.keywords.join(" "), 2)]
}

/// An expert's parts to index.
fn expert_text(e: &Expert) -> Vec<(String, u32)> {
    vec![(e.fields.join(" "), 2), (e.keywords.join(" "), 2), (e.affiliation.clone(), 1), (e.title.clone(), 1)]
}

/// A team's parts to index: its fields and keywords, then what it does.
fn team_text(t: &Team) -> Vec<(String, u32)> {
    vec![(t.fields.join(" "), 2), (t.keywords.join(" "), 2), (t.name.clone(), 1), (t.description.clone(), 1)]
}

impl DemandProfile {
    /// The profile of a demand record; `None` for other kinds and tombstones.
    pub fn from_record(record: &Record) -> Option<Self> {
        let Body::Demand(d) = &record.body else { return None };
        if record.meta.deleted {
            return None;
        }
        Some(Self {
            id: record.meta.id,
            owner: record.meta.owner.clone(),
            region: d.region,
            title: d.title.clone(),
            description: d.description.clone(),
            keywords: d.keywords.clone(),
            industry: d.industry.clone(),
            min_trl: d.min_trl,
            budget_wan: d.budget_wan,
            deadline: d.deadline,
            is_challenge: d.is_challenge,
        })
    }

    /// The text to search with (and to index, for matching supply to demands).
    pub fn query_text(&self) -> Vec<(String, u32)> {
        vec![(self.title.clone(), 2), (self.description.clone(), 1), (self.keywords.join(" "), 2)]
    }
}
