//! A report: the funnel, the proposals, the contracts and the medians of a
//! scope, in total and by group, with who answers and who is engaged.
//!
//! A demand counts at a stage (proposed, connected, contracted, landed) on
//! the day its first match reached it; a match counts on the day it reached
//! each of its own stages. A window keeps the steps taken in it, so the rows
//! of `--by month` add up to the total.

use rustc_hash::FxHashMap as HashMap;

use kechuang_types::{Date, NodeKind, RecordId, SupplyKind, Tier, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ledger::{DemandFacts, DemandIx, Ledger, MatchFacts, Node, Stages};
use crate::query::{Dimension, Query, Scope};

const DAY_MS: f64 = 86_400_000.0;
const HOUR_MS: f64 = 3_600_000.0;

/// Demands, by how far they got (需求 → 推荐 → 对接 → 签约 → 落地).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DemandFunnel {
    /// Published.
    pub published: u64,
    /// Given at least one proposal.
    pub proposed: u64,
    /// With a match both sides accepted.
    pub connected: u64,
    /// With a contract both sides recorded alike.
    pub contracted: u64,
    /// With a landing recorded by the landing node.
    pub landed: u64,
    /// Withdrawn by their owner.
    pub withdrawn: u64,
}

/// Proposals (matches), by tier and by what became of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Proposals {
    /// Made.
    pub total: u64,
    /// Made within the demand's city.
    pub city: u64,
    /// Made within the demand's province.
    pub province: u64,
    /// Made across provinces.
    pub national: u64,
    /// Accepted by both sides.
    pub connected: u64,
    /// Contracted alike by both sides.
    pub contracted: u64,
    /// Landed.
    pub landed: u64,
    /// Declined by a side.
    pub declined: u64,
    /// Expired unanswered.
    pub expired: u64,
    /// Withdrawn by central.
    pub withdrawn: u64,
}

/// Verified contracts (技术合同) and their value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contracts {
    /// How many.
    pub count: u64,
    /// 成交额, in 万元.
    pub amount_wan: f64,
}

/// Median days from a demand's publication to each stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MedianDays {
    /// To its first proposal.
    pub to_proposal: Option<f64>,
    /// To its first connection.
    pub to_connected: Option<f64>,
    /// To its first verified contract.
    pub to_contracted: Option<f64>,
    /// To its first landing.
    pub to_landed: Option<f64>,
}

/// The figures of one group (or of the whole scope).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The group's code: `440000`, `sz`, `C38`, `city`, `2026-11`; `total` for the whole.
    pub key: String,
    /// The group for people: `广东省`, `同城`.
    pub label: String,
    /// Demands by stage.
    pub demands: DemandFunnel,
    /// Proposals by tier and fate.
    pub proposals: Proposals,
    /// Verified contracts.
    pub contracts: Contracts,
    /// Of the connected proposals, the share whose supply is in another province.
    pub cross_province_share: Option<f64>,
    /// How long demands took to reach each stage.
    pub median_days: MedianDays,
}

/// How one station answers the proposals put to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Responsiveness {
    /// The station.
    pub node: String,
    /// Its kind (`city`, `university`, …), when registered.
    pub kind: String,
    /// Proposals put to it in the window.
    pub received: u64,
    /// Of those, how many it answered (accepted, declined or contracted).
    pub answered: u64,
    /// `answered / received`.
    pub response_rate: Option<f64>,
    /// Median hours from the proposal to its answer.
    pub median_response_hours: Option<f64>,
}

/// How often an expert or a society's supply was taken up: connected matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    /// The expert's record id, or the society's node id.
    pub id: String,
    /// The expert's name, or the society's node id.
    pub name: String,
    /// The station the expert belongs to.
    pub owner: String,
    /// Connected matches in the window.
    pub engagements: u64,
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Whose figures.
    pub scope: Scope,
    /// The scope for people.
    pub scope_label: String,
    /// The grouping of `rows`.
    pub by: Option<Dimension>,
    /// The window's first day.
    pub from: Option<Date>,
    /// The window's last day.
    pub to: Option<Date>,
    /// The whole scope.
    pub total: Row,
    /// One row per group, in key order; empty without a grouping.
    pub rows: Vec<Row>,
    /// Every station that was put a proposal, by node id.
    pub responsiveness: Vec<Responsiveness>,
    /// Experts by engagements, most first.
    pub experts: Vec<Engagement>,
    /// Society stations by engagements, most first.
    pub societies: Vec<Engagement>,
    /// Society stations by assessments written (专业评估), most first.
    #[serde(default)]
    pub assessments: Vec<Assessments>,
}

/// How many assessments one society wrote, by verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessments {
    /// The society's node id.
    pub society: String,
    /// Every assessment it wrote (withdrawn ones not counted).
    pub total: u64,
    /// 推荐.
    pub recommended: u64,
    /// 有条件推荐.
    pub conditional: u64,
    /// 不推荐.
    pub not_recommended: u64,
}

/// A row being counted, with the samples its medians come from.
#[derive(Default)]
struct Acc {
    row: Row,
    cross: u64,
    days: [Vec<f64>; 4],
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let m = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
    Some((m * 10.0).round() / 10.0)
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 1000.0).round() / 1000.0)
}

/// A month as a number, `year * 12 + month - 1` (China Standard Time).
fn month_of(at: Timestamp) -> u64 {
    let day = Date::on(at);
    u64::from(day.year()) * 12 + u64::from(day.month()) - 1
}

/// The four stages a demand goes through after publication.
const PROPOSED: usize = 0;
const CONNECTED: usize = 1;
const CONTRACTED: usize = 2;
const LANDED: usize = 3;

/// A group, as a number: a region code, a node or industry index, a tier,
/// a month (see [`Ledger::key_text`]).
type Key = u64;

/// The overall total's place among the keys.
const TOTAL: Key = Key::MAX;

/// The groups one fact counts in: at most two.
#[derive(Clone, Copy, Default)]
struct Keys {
    keys: [Key; 2],
    len: usize,
}

impl Keys {
    fn one(key: Key) -> Self {
        Self { keys: [key, 0], len: 1 }
    }

    fn iter(&self) -> impl Iterator<Item = Key> + '_ {
        self.keys[..self.len].iter().copied()
    }
}

/// Which records a query counts, with the scope's node resolved once.
struct InScope {
    scope: Scope,
    node: Option<Node>,
}

impl InScope {
    fn demand(&self, d: &DemandFacts) -> bool {
        match &self.scope {
            Scope::National => true,
            Scope::Province(p) => p.contains(d.region),
            Scope::Node(_) => Some(d.owner) == self.node,
        }
    }

    fn matched(&self, m: &MatchFacts) -> bool {
        match &self.scope {
            Scope::National => true,
            Scope::Province(p) => p.contains(m.demand_region),
            Scope::Node(_) => {
                [m.demand_owner, m.supply_owner, m.landing_node].into_iter().any(|n| Some(n) == self.node)
            }
        }
    }

    fn supply(&self, m: &MatchFacts) -> bool {
        match &self.scope {
            Scope::National => true,
            Scope::Province(p) => p.contains(m.supply_region),
            Scope::Node(_) => Some(m.supply_owner) == self.node,
        }
    }
}

impl Ledger {
    /// Answers `query`.
    pub fn report(&self, query: &Query) -> Report {
        let mut report = self.figures(query);
        let scope = InScope { scope: query.scope.clone(), node: self.scope_node(&query.scope) };
        report.responsiveness = self.responsiveness(query, &scope);
        (report.experts, report.societies) = self.engagements(query, &scope);
        report.assessments = self.assessments(query, &scope);
        report
    }

    /// Assessments written in the window, per society: those of subjects
    /// in a province's scope, or a society's own in its node scope.
    fn assessments(&self, query: &Query, scope: &InScope) -> Vec<Assessments> {
        let window = query.window();
        let mut by: HashMap<Node, Assessments> = HashMap::default();
        for a in self.assessments.values() {
            let in_scope = match &scope.scope {
                Scope::National => true,
                Scope::Province(p) => a.subject_region.is_some_and(|r| p.contains(r)),
                Scope::Node(_) => Some(a.society) == scope.node,
            };
            if a.withdrawn || !in_scope || !window.contains(a.written) {
                continue;
            }
            let row = by.entry(a.society).or_insert_with(|| Assessments {
                society: self.node_ids[a.society as usize].to_string(),
                total: 0,
                recommended: 0,
                conditional: 0,
                not_recommended: 0,
            });
            row.total += 1;
            *match a.verdict {
                kechuang_types::Recommendation::Recommend => &mut row.recommended,
                kechuang_types::Recommendation::Conditional => &mut row.conditional,
                kechuang_types::Recommendation::NotRecommend => &mut row.not_recommended,
            } += 1;
        }
        let mut out: Vec<Assessments> = by.into_values().collect();
        out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.society.cmp(&b.society)));
        out
    }

    /// Answers `query` without the per-station tables (responsiveness,
    /// engagements), which stay empty: the funnel, proposals and contracts.
    pub fn figures(&self, query: &Query) -> Report {
        let by = query.by;
        let window = query.window();
        let within = |at: Timestamp| window.contains(at);
        let scope = InScope { scope: query.scope.clone(), node: self.scope_node(&query.scope) };
        let mut total = Acc::default();
        let mut groups: HashMap<Key, Acc> = HashMap::default();

        for d in self.demands.iter().flatten().filter(|d| scope.demand(d)) {
            let mut count = |at: Timestamp, bump: fn(&mut DemandFunnel)| {
                if !within(at) {
                    return;
                }
                bump(&mut total.row.demands);
                for key in self.demand_keys(d, by, at).iter() {
                    bump(&mut groups.entry(key).or_default().row.demands);
                }
            };
            count(d.published, |f| f.published += 1);
            if let Some(at) = d.withdrawn {
                count(at, |f| f.withdrawn += 1);
            }
        }

        // The first time each demand reached each stage, overall and within
        // each group its matches fall in.
        let mut overall: Vec<[Option<Timestamp>; 4]> = vec![[None; 4]; self.demands.len()];
        let mut firsts: HashMap<(Key, DemandIx), [Option<Timestamp>; 4]> = HashMap::default();
        for m in self.matches.iter().filter(|m| scope.matched(m)) {
            let stages = m.stages();
            let keys = self.match_keys(m, by);
            let by_month = by == Some(Dimension::Month);
            let mut count = |at: Option<Timestamp>, bump: &dyn Fn(&mut Acc)| {
                let Some(at) = at.filter(|at| within(*at)) else { return };
                bump(&mut total);
                for key in keys.iter() {
                    bump(groups.entry(key).or_default());
                }
                if by_month {
                    bump(groups.entry(month_of(at)).or_default());
                }
            };
            count_match(m, &stages, &mut count);
            let reached = [stages.proposed, stages.connected, stages.contracted, stages.landed];
            let earliest = |first: &mut [Option<Timestamp>; 4]| {
                for (slot, at) in first.iter_mut().zip(reached) {
                    if let Some(at) = at
                        && slot.is_none_or(|s| at < s)
                    {
                        *slot = Some(at);
                    }
                }
            };
            earliest(&mut overall[m.demand as usize]);
            for key in keys.iter() {
                earliest(firsts.entry((key, m.demand)).or_default());
            }
        }
        let overall = overall.into_iter().enumerate().map(|(demand, first)| (TOTAL, demand as DemandIx, first));
        for (key, demand, first) in overall.chain(firsts.into_iter().map(|((key, demand), first)| (key, demand, first)))
        {
            let published = self.demand(demand).map(|d| d.published);
            for (stage, at) in first.iter().enumerate() {
                let Some(at) = at.filter(|at| within(*at)) else { continue };
                let days = published.map(|p| ((at.0 - p.0) as f64 / DAY_MS).max(0.0));
                let bump = |acc: &mut Acc| {
                    let funnel = &mut acc.row.demands;
                    match stage {
                        PROPOSED => funnel.proposed += 1,
                        CONNECTED => funnel.connected += 1,
                        CONTRACTED => funnel.contracted += 1,
                        _ => funnel.landed += 1,
                    }
                    acc.days[stage].extend(days);
                };
                match key {
                    TOTAL => {
                        bump(&mut total);
                        if by == Some(Dimension::Month) {
                            bump(groups.entry(month_of(at)).or_default());
                        }
                    }
                    key => bump(groups.entry(key).or_default()),
                }
            }
        }

        let total = finish("total".into(), String::new(), total);
        let mut rows: Vec<(Key, Row)> = match by {
            Some(by) => groups
                .into_iter()
                .map(|(key, acc)| {
                    let (code, label) = self.key_text(by, key);
                    (key, finish(code, label, acc))
                })
                .collect(),
            None => Vec::new(),
        };
        rows.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        Report {
            scope: query.scope.clone(),
            scope_label: query.scope.label(),
            by,
            from: query.from,
            to: query.to,
            total,
            rows: rows.into_iter().map(|(_, row)| row).collect(),
            responsiveness: Vec::new(),
            experts: Vec::new(),
            societies: Vec::new(),
            assessments: Vec::new(),
        }
    }

    /// The ledger's index of a node scope's node.
    fn scope_node(&self, scope: &Scope) -> Option<Node> {
        match scope {
            Scope::Node(n) => self.node(n),
            _ => None,
        }
    }

    /// A group's code and its name for people.
    fn key_text(&self, by: Dimension, key: Key) -> (String, String) {
        let region = |code: Key| kechuang_types::Region::parse("region", &format!("{code:06}")).ok();
        match by {
            Dimension::Province => {
                let name = region(key).map(|r| r.province_name().to_owned()).unwrap_or_default();
                (format!("{key:06}"), name)
            }
            Dimension::City => {
                let name = region(key).map(|r| format!("{} {key:06}", r.province_name())).unwrap_or_default();
                (format!("{key:06}"), name)
            }
            Dimension::Node => {
                let id = self.node_ids.get(key as usize).map(|n| n.to_string()).unwrap_or_default();
                let name = match self.station_of(key as Node) {
                    Some(s) => format!("{id} ({})", kind_label(s.kind)),
                    None => id.clone(),
                };
                (id, name)
            }
            Dimension::Industry => {
                let code = self.industries.get(key as usize).cloned().unwrap_or_else(|| "未知".into());
                (code.clone(), code)
            }
            Dimension::Tier => {
                let tier = [Tier::City, Tier::Province, Tier::National][(key as usize).min(2)];
                (tier.as_str().to_owned(), tier_label(tier).to_owned())
            }
            Dimension::Month => {
                let text = format!("{:04}-{:02}", key / 12, key % 12 + 1);
                (text.clone(), text)
            }
        }
    }

    /// The groups a demand's own step (published, withdrawn) at `at` counts in.
    fn demand_keys(&self, d: &DemandFacts, by: Option<Dimension>, at: Timestamp) -> Keys {
        match by {
            None | Some(Dimension::Tier) => Keys::default(),
            Some(Dimension::Province) => Keys::one(Key::from(d.region.province().code())),
            Some(Dimension::City) => Keys::one(Key::from(d.region.city().code())),
            Some(Dimension::Node) => Keys::one(Key::from(d.owner)),
            Some(Dimension::Industry) => Keys::one(Key::from(d.industry)),
            Some(Dimension::Month) => Keys::one(month_of(at)),
        }
    }

    /// The groups a match counts in, for every grouping but by month.
    fn match_keys(&self, m: &MatchFacts, by: Option<Dimension>) -> Keys {
        match by {
            None | Some(Dimension::Month) => Keys::default(),
            Some(Dimension::Province) => Keys::one(Key::from(m.demand_region.province().code())),
            Some(Dimension::City) => Keys::one(Key::from(m.demand_region.city().code())),
            Some(Dimension::Node) if m.demand_owner == m.supply_owner => Keys::one(Key::from(m.demand_owner)),
            Some(Dimension::Node) => Keys { keys: [Key::from(m.demand_owner), Key::from(m.supply_owner)], len: 2 },
            Some(Dimension::Industry) => {
                Keys::one(self.demand(m.demand).map_or(Key::from(u32::MAX), |d| Key::from(d.industry)))
            }
            Some(Dimension::Tier) => Keys::one(match m.tier {
                Tier::City => 0,
                Tier::Province => 1,
                Tier::National => 2,
            }),
        }
    }

    fn responsiveness(&self, query: &Query, scope: &InScope) -> Vec<Responsiveness> {
        let window = query.window();
        let mut per_node: HashMap<Node, (u64, Vec<f64>)> = HashMap::default();
        for m in &self.matches {
            let times = m.times;
            let proposed = times.proposed.unwrap_or(m.created);
            if !window.contains(proposed) {
                continue;
            }
            let sides = [(m.demand_owner, m.demand_region), (m.supply_owner, m.supply_region)];
            for (side, (node, region)) in sides.into_iter().enumerate() {
                let region = self.station_of(node).map_or(region, |s| s.region);
                let asked = match &query.scope {
                    Scope::National => true,
                    Scope::Province(p) => p.contains(region),
                    Scope::Node(_) => Some(node) == scope.node,
                };
                if !asked {
                    continue;
                }
                let entry = per_node.entry(node).or_default();
                entry.0 += 1;
                if let Some(answered) = times.answered[side] {
                    entry.1.push(((answered.0 - proposed.0) as f64 / HOUR_MS).max(0.0));
                }
            }
        }
        let mut out: Vec<Responsiveness> = per_node
            .into_iter()
            .map(|(node, (received, mut hours))| Responsiveness {
                node: self.node_ids[node as usize].to_string(),
                kind: self.station_of(node).map_or("", |s| s.kind.as_str()).to_owned(),
                received,
                answered: hours.len() as u64,
                response_rate: ratio(hours.len() as u64, received),
                median_response_hours: median(&mut hours),
            })
            .collect();
        out.sort_by(|a, b| a.node.cmp(&b.node));
        out
    }

    /// Connected matches in the window of the scope's supply: per expert,
    /// and per society station.
    fn engagements(&self, query: &Query, scope: &InScope) -> (Vec<Engagement>, Vec<Engagement>) {
        let window = query.window();
        let mut experts: HashMap<RecordId, u64> = HashMap::default();
        let mut societies: HashMap<Node, u64> = HashMap::default();
        for m in &self.matches {
            if !scope.supply(m) || !m.stages().connected.is_some_and(|at| window.contains(at)) {
                continue;
            }
            if m.supply_kind == SupplyKind::Expert {
                *experts.entry(m.supply).or_default() += 1;
            }
            if self.station_of(m.supply_owner).is_some_and(|s| s.kind == NodeKind::Society) {
                *societies.entry(m.supply_owner).or_default() += 1;
            }
        }
        let mut experts: Vec<Engagement> = experts
            .into_iter()
            .map(|(id, engagements)| {
                let facts = self.supply.get(&id);
                Engagement {
                    id: id.to_string(),
                    name: facts.map_or_else(|| id.to_string(), |f| f.name.clone()),
                    owner: facts.map_or_else(String::new, |f| self.node_ids[f.owner as usize].to_string()),
                    engagements,
                }
            })
            .collect();
        experts.sort_by(|a, b| b.engagements.cmp(&a.engagements).then_with(|| a.name.cmp(&b.name)));
        let mut societies: Vec<Engagement> = societies
            .into_iter()
            .map(|(node, engagements)| {
                let id = self.node_ids[node as usize].to_string();
                Engagement { id: id.clone(), name: id.clone(), owner: id, engagements }
            })
            .collect();
        societies.sort_by(|a, b| b.engagements.cmp(&a.engagements).then_with(|| a.id.cmp(&b.id)));
        (experts, societies)
    }
}

fn finish(key: String, label: String, mut acc: Acc) -> Row {
    let mut row = acc.row;
    row.key = key;
    row.label = label;
    row.cross_province_share = ratio(acc.cross, row.proposals.connected);
    row.median_days = MedianDays {
        to_proposal: median(&mut acc.days[PROPOSED]),
        to_connected: median(&mut acc.days[CONNECTED]),
        to_contracted: median(&mut acc.days[CONTRACTED]),
        to_landed: median(&mut acc.days[LANDED]),
    };
    row.contracts.amount_wan = (row.contracts.amount_wan * 10_000.0).round() / 10_000.0;
    row
}

/// Counts a match's own stages through `count`.
fn count_match(m: &MatchFacts, s: &Stages, count: &mut impl FnMut(Option<Timestamp>, &dyn Fn(&mut Acc))) {
    let tier = m.tier;
    count(s.proposed, &|a: &mut Acc| {
        a.row.proposals.total += 1;
        match tier {
            Tier::City => a.row.proposals.city += 1,
            Tier::Province => a.row.proposals.province += 1,
            Tier::National => a.row.proposals.national += 1,
        }
    });
    let cross = !m.demand_region.same_province(m.supply_region);
    count(s.connected, &|a: &mut Acc| {
        a.row.proposals.connected += 1;
        a.cross += u64::from(cross);
    });
    let amount = m.contract.map_or(0.0, |c| c.amount_wan);
    count(s.contracted, &|a: &mut Acc| {
        a.row.proposals.contracted += 1;
        a.row.contracts.count += 1;
        a.row.contracts.amount_wan += amount;
    });
    count(s.landed, &|a: &mut Acc| a.row.proposals.landed += 1);
    count(s.declined, &|a: &mut Acc| a.row.proposals.declined += 1);
    count(s.expired, &|a: &mut Acc| a.row.proposals.expired += 1);
    count(s.withdrawn, &|a: &mut Acc| a.row.proposals.withdrawn += 1);
}

/// A station kind for people: 省级中心站, 市级分站, ….
pub fn kind_label(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Central => "全国",
        NodeKind::Provincial => "省级中心站",
        NodeKind::City => "市级分站",
        NodeKind::University => "高校科协",
        NodeKind::Society => "学会协作站",
    }
}

/// A tier for people: 同城, 同省, 全国.
pub fn tier_label(tier: Tier) -> &'static str {
    match tier {
        Tier::City => "同城",
        Tier::Province => "同省",
        Tier::National => "全国",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use kechuang_types::testing;
    use kechuang_types::{
        Body, Contract, ContractType, Decline, DeclineReason, Event, Hlc, Landed, Landing, Match, NodeId, Record,
        RecordKind, Region, Response, Step,
    };
    use serde_json::json;

    use super::*;

    const DAY: i64 = 86_400_000;
    /// 2026-11-01 00:00 China Standard Time.
    const T0: i64 = 1_793_462_400_000;

    fn at(day: i64) -> Timestamp {
        Timestamp(T0 + day * DAY)
    }

    /// A ledger's history, event by event.
    struct History {
        ledger: Ledger,
        seq: u64,
    }

    impl History {
        fn step(
            &mut self,
            record: RecordId,
            part: &str,
            from: Option<serde_json::Value>,
            to: serde_json::Value,
            day: i64,
        ) {
            self.seq += 1;
            let step = Step { part: part.into(), from, to, version: Hlc::from_u64(self.seq) };
            let event = Event { seq: self.seq, record, kind: RecordKind::Match, step, by: "t".into(), at: at(day) };
            self.ledger.event(&event);
        }

        fn demand(&mut self, owner: &str, region: &str, day: i64) -> Record {
            let mut d = testing::demand("需求");
            d.meta.owner = NodeId::parse("owner", owner).unwrap();
            d.meta.created_at = at(day);
            if let Body::Demand(b) = &mut d.body {
                b.region = Region::parse("r", region).unwrap();
            }
            self.ledger.record(&d);
            d
        }

        /// A match proposed on `day`, with `edit` applied to its final state.
        fn proposed(&mut self, demand: &Record, tier: Tier, day: i64, edit: impl FnOnce(&mut Match)) -> RecordId {
            let mut m = testing::proposed_match();
            m.demand = demand.meta.id;
            m.demand_owner = demand.meta.owner.clone();
            m.landing_node = demand.meta.owner.clone();
            if let Body::Demand(d) = &demand.body {
                m.demand_region = d.region;
            }
            m.tier = tier;
            edit(&mut m);
            let mut record = testing::demand("x");
            record.meta.id = RecordId::new();
            record.meta.created_at = at(day);
            record.body = Body::Match(Box::new(m));
            self.ledger.record(&record);
            self.step(record.meta.id, "core", None, json!("proposed"), day);
            record.meta.id
        }

        fn answer(&mut self, id: RecordId, part: &str, to: &Response, day: i64) {
            self.step(id, part, Some(json!("pending")), serde_json::to_value(to).unwrap(), day);
        }
    }

    fn contract(kind: ContractType, amount_wan: f64) -> Response {
        Response::Contracted(Contract { kind, amount_wan })
    }

    /// Guangdong: one demand contracted (verified) and landed, one demand
    /// whose contract the sides recorded differently; Sichuan: one declined.
    pub(crate) fn network() -> Ledger {
        let mut h = History { ledger: Ledger::new(), seq: 0 };
        let node = |id: &str| NodeId::parse("n", id).unwrap();
        h.ledger.station(node("sz"), NodeKind::City, Region::parse("r", "440300").unwrap());
        h.ledger.station(node("uni"), NodeKind::University, Region::parse("r", "510100").unwrap());
        let sz = h.demand("sz", "440300", 0);
        let gz = h.demand("gz", "440100", 1);
        let cd = h.demand("cd", "510100", 2);

        let license = contract(ContractType::License, 120.0);
        let landed = Landing::Landed(Landed { date: kechuang_types::Date::on(at(40)), note: String::new() });
        let (l1, l2) = (license.clone(), landed.clone());
        let a = h.proposed(&sz, Tier::City, 2, |m| {
            m.supply_region = Region::parse("r", "440300").unwrap();
            m.demand_side.value = l1.clone();
            m.supply_side.value = l1;
            m.landing.value = l2;
        });
        h.answer(a, "demand_side", &Response::Accepted, 4);
        h.answer(a, "supply_side", &Response::Accepted, 6);
        h.answer(a, "supply_side", &license, 20);
        h.answer(a, "demand_side", &license, 22);
        h.step(a, "landing", Some(json!("pending")), serde_json::to_value(&landed).unwrap(), 40);

        let service = contract(ContractType::Service, 80.0);
        let (l1, s1) = (license.clone(), service.clone());
        let b = h.proposed(&gz, Tier::National, 3, |m| {
            m.demand_side.value = l1;
            m.supply_side.value = s1;
        });
        h.answer(b, "supply_side", &Response::Accepted, 3);
        h.answer(b, "demand_side", &Response::Accepted, 5);
        h.answer(b, "demand_side", &license, 30);
        h.answer(b, "supply_side", &service, 31);

        let decline = Response::Declined(Decline { reason: DeclineReason::Price, note: String::new() });
        let d1 = decline.clone();
        let c = h.proposed(&cd, Tier::Province, 33, |m| m.supply_side.value = d1);
        h.answer(c, "supply_side", &decline, 35);
        h.ledger
    }

    #[test]
    fn the_funnel_counts_verified_steps_only() {
        let report = network().report(&Query::all(Scope::National));
        let t = &report.total;
        let funnel = DemandFunnel { published: 3, proposed: 3, connected: 2, contracted: 1, landed: 1, withdrawn: 0 };
        assert_eq!(t.demands, funnel, "a contract the sides recorded differently is not a contract");
        assert_eq!((t.proposals.total, t.proposals.city, t.proposals.province, t.proposals.national), (3, 1, 1, 1));
        assert_eq!((t.proposals.connected, t.proposals.declined, t.proposals.landed), (2, 1, 1));
        assert_eq!(t.contracts, Contracts { count: 1, amount_wan: 120.0 });
        // Connected: the Shenzhen one in-province, the Guangzhou one across provinces.
        assert_eq!(t.cross_province_share, Some(0.5));
        // To first proposal: 2, 2, 31 days; to connected: 6 and 4; contracted 22; landed 40.
        let m = &t.median_days;
        assert_eq!(
            (m.to_proposal, m.to_connected, m.to_contracted, m.to_landed),
            (Some(2.0), Some(5.0), Some(22.0), Some(40.0))
        );
    }

    #[test]
    fn a_province_sees_its_own_demands_and_its_stations_answers() {
        let gd = Scope::Province(Region::parse("p", "440000").unwrap());
        let report = network().report(&Query::all(gd));
        assert_eq!((report.total.demands.published, report.total.proposals.total), (2, 2));
        let nodes: Vec<&str> = report.responsiveness.iter().map(|r| r.node.as_str()).collect();
        assert_eq!(nodes, ["gz", "sz"], "uni is in Sichuan");
        assert!(report.responsiveness.iter().all(|r| (r.received, r.answered) == (1, 1)));
        let uni = network().report(&Query::all(Scope::Node(NodeId::parse("n", "uni").unwrap())));
        assert_eq!((uni.total.demands.published, uni.total.demands.proposed), (0, 3), "demands its supply reached");
        assert_eq!(uni.responsiveness[0].median_response_hours, Some(48.0));
    }

    #[test]
    fn rows_by_month_add_up_to_the_window() {
        let ledger = network();
        let november = Query {
            scope: Scope::National,
            by: Some(Dimension::Month),
            from: Some(kechuang_types::Date::parse("from", "2026-11-01").unwrap()),
            to: Some(kechuang_types::Date::parse("to", "2026-11-30").unwrap()),
        };
        let report = ledger.report(&november);
        assert_eq!(report.rows.len(), 1);
        assert_eq!(report.rows[0].key, "2026-11");
        assert_eq!(report.rows[0].demands, report.total.demands);
        // The landing (day 40) and the Sichuan proposal (day 33) are in December.
        assert_eq!((report.total.demands.landed, report.total.proposals.total), (0, 2));
        let by_month = ledger.report(&Query { by: Some(Dimension::Month), ..Query::all(Scope::National) });
        let proposals: u64 = by_month.rows.iter().map(|r| r.proposals.total).sum();
        assert_eq!(proposals, 3);
        let by_province = ledger.report(&Query { by: Some(Dimension::Province), ..Query::all(Scope::National) });
        let labels: Vec<&str> = by_province.rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["广东省", "四川省"]);
    }

    #[test]
    fn the_table_and_csv_carry_chinese_headings() {
        let report = network().report(&Query { by: Some(Dimension::Tier), ..Query::all(Scope::National) });
        let table = crate::table(&report);
        assert!(table.contains("层级") && table.contains("同城") && table.contains("成交额(万元)"), "{table}");
        let csv = crate::csv(&report);
        assert!(csv.starts_with("\u{feff}层级,名称,发布需求"), "{csv}");
        assert!(csv.lines().last().unwrap().starts_with("合计,全国,3,3,2,1,1,0,3"), "{csv}");
    }
}
