//! Demands still open in a scope, oldest first: what a province's staff
//! chase (no landing yet, not withdrawn, deadline not passed).

use kechuang_types::Date;
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
        let scope_node = match scope {
            Scope::Node(n) => self.node(n),
            _ => None,
        };
        let mut per_demand: Vec<(u64, u8)> = vec![(0, 0); self.demands.len()];
        for m in &self.matches {
            let stages = m.stages();
            let reach = if stages.landed.is_some() {
                4
            } else if stages.contracted.is_some() {
                3
            } else if stages.connected.is_some() {
                2
            } else {
                1
            };
            let entry = &mut per_demand[m.demand as usize];
            entry.0 += 1;
            entry.1 = entry.1.max(reach);
        }
        let mut out: Vec<OpenDemand> = self
            .demands
            .iter()
            .enumerate()
            .filter_map(|(ix, d)| d.as_ref().map(|d| (ix, d)))
            .filter(|(_, d)| {
                let in_scope = match scope {
                    Scope::National => true,
                    Scope::Province(p) => p.contains(d.region),
                    Scope::Node(_) => Some(d.owner) == scope_node,
                };
                in_scope && d.withdrawn.is_none() && d.deadline.is_none_or(|deadline| deadline >= today)
            })
            .filter_map(|(ix, d)| {
                let (proposals, reach) = per_demand[ix];
                let furthest = match reach {
                    4 => return None,
                    3 => "contracted",
                    2 => "connected",
                    1 => "proposed",
                    _ => "none",
                };
                Some(OpenDemand {
                    id: self.demand_ids[ix].to_string(),
                    title: d.title.clone(),
                    owner: self.node_ids[d.owner as usize].to_string(),
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
