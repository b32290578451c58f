//! Demands still open in a scope, oldest first: what a province's staff
//! chase (no landing yet, not withdrawn, deadline not passed).

use std::collections::HashMap;

use kechuang_types::{Date, RecordId};
use serde::{Deserialize, Serialize};

use crate::{Ledger, Scope};

/// One open demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenDemand {
    /// The demand's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The station that published it.
    pub owner: String,
    /// Its region code.
    pub region: String,
    /// Days since it was published (China Standard Time).
    pub age_days: i64,
    /// Proposals it has had.
    pub proposals: u64,
    /// How far its best proposal got (verified steps only): `none`,
    /// `proposed`, `connected`, `contracted`.
    pub furthest: String,
}

impl Ledger {
    /// The open demands of `scope` as of `today`, oldest first.
    pub fn open_demands(&self, scope: &Scope, today: Date) -> Vec<OpenDemand> {
        let mut per_demand: HashMap<&RecordId, (u64, u8)> = HashMap::new();
        for (id, m) in &self.matches {
            let stages = m.stages(self.times.get(id));
            let reach = if stages.landed.is_some() {
                4
            } else if stages.contracted.is_some() {
                3
            } else if stages.connected.is_some() {
                2
            } else {
                1
            };
            let entry = per_demand.entry(&m.demand).or_default();
            entry.0 += 1;
            entry.1 = entry.1.max(reach);
        }
        let mut out: Vec<OpenDemand> = self
            .demands
            .iter()
            .filter(|(_, d)| {
                let in_scope = match scope {
                    Scope::National => true,
                    Scope::Province(p) => p.contains(d.region),
                    Scope::Node(n) => d.owner == *n,
                };
                in_scope && d.withdrawn.is_none() && d.deadline.is_none_or(|deadline| deadline >= today)
            })
            .filter_map(|(id, d)| {
                let (proposals, reach) = per_demand.get(id).copied().unwrap_or_default();
                let furthest = match reach {
                    4 => return None,
                    3 => "contracted",
                    2 => "connected",
                    1 => "proposed",
                    _ => "none",
                };
                Some(OpenDemand {
                    id: id.to_string(),
                    title: d.title.clone(),
                    owner: d.owner.to_string(),
                    region: d.region.to_string(),
                    age_days: (today.days_since_epoch() - Date::on(d.published).days_since_epoch()).max(0),
                    proposals,
                    furthest: furthest.into(),
                })
            })
            .collect();
        out.sort_by(|a, b| b.age_days.cmp(&a.age_days).then_with(|| a.id.cmp(&b.id)));
        out
    }
}
