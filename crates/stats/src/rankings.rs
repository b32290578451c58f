//! 榜单: the programme's rankings for one year, each with the rule that
//! made it, computed from verified steps only.
//!
//! Ties share a rank (1, 1, 3); entries with nothing to their name are left
//! out, so an empty list means nobody qualified yet.

use std::collections::{BTreeMap, HashMap};

use kechuang_types::{Date, NodeId, NodeKind, RecordId, Region, SupplyKind, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ledger::Ledger;

/// Least proposals a station must have answered in the year to be ranked
/// by response time: one quick answer is not a habit.
pub const MIN_ANSWERED: u64 = 3;

/// One place in a ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// 1 for the first; tied entries share it.
    pub rank: u32,
    /// The station's, record's or region's id.
    pub id: String,
    /// For people.
    pub name: String,
    /// What the ranking orders by (landings, share, engagements, hours).
    pub value: f64,
    /// The figures behind the place, for people.
    pub detail: String,
}

/// One list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    /// `universities`, `outcomes`, `cities`, `societies`, `experts`, `responsiveness`.
    pub key: String,
    /// The list's title: 高校榜, ….
    pub title: String,
    /// What counts, how ties break, the window: printed under the list.
    pub method: String,
    /// The places, first first.
    pub entries: Vec<Entry>,
}

/// Every list of one year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rankings {
    /// The calendar year (China Standard Time).
    pub year: i32,
    /// The lists, in a fixed order.
    pub lists: Vec<Ranking>,
}

/// Sorts by `better` and numbers the places, ties (by `tied`) sharing one.
fn ranked<T>(
    mut items: Vec<T>,
    better: impl Fn(&T, &T) -> std::cmp::Ordering,
    tied: impl Fn(&T, &T) -> bool,
    entry: impl Fn(u32, &T) -> Entry,
) -> Vec<Entry> {
    items.sort_by(&better);
    let mut out: Vec<Entry> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let rank = match i {
            0 => 1,
            _ if tied(&items[i - 1], item) => out[i - 1].rank,
            _ => i as u32 + 1,
        };
        out.push(entry(rank, item));
    }
    out
}

fn money(wan: f64) -> String {
    let s = format!("{wan:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Landings and verified contract value of one university or outcome.
#[derive(Default, Clone)]
struct Transfers {
    landings: u64,
    contracts: u64,
    amount_wan: f64,
}

impl Ledger {
    /// The year's rankings.
    pub fn rankings(&self, year: i32) -> Rankings {
        let within = |at: Option<Timestamp>| at.is_some_and(|at| year_of(at) == year);
        let mut universities: BTreeMap<&NodeId, Transfers> = BTreeMap::new();
        let mut outcomes: BTreeMap<&RecordId, Transfers> = BTreeMap::new();
        let mut engagements: HashMap<&RecordId, u64> = HashMap::new();
        let mut societies: BTreeMap<&NodeId, u64> = BTreeMap::new();
        let mut solved: Vec<bool> = vec![false; self.demands.len()];
        let mut answers: BTreeMap<&NodeId, Vec<f64>> = BTreeMap::new();
        let node = |n: crate::ledger::Node| &self.node_ids[n as usize];
        for m in &self.matches {
            let stages = m.stages();
            let kind = self.station_of(m.supply_owner).map(|s| s.kind);
            let count = |t: &mut Transfers| {
                if within(stages.landed) {
                    t.landings += 1;
                }
                if within(stages.contracted) {
                    t.contracts += 1;
                    t.amount_wan += m.contract.map_or(0.0, |c| c.amount_wan);
                }
            };
            if kind == Some(NodeKind::University) {
                count(universities.entry(node(m.supply_owner)).or_default());
            }
            if m.supply_kind == SupplyKind::Outcome {
                count(outcomes.entry(&m.supply).or_default());
            }
            if within(stages.connected) {
                if m.supply_kind == SupplyKind::Expert {
                    *engagements.entry(&m.supply).or_default() += 1;
                }
                if kind == Some(NodeKind::Society) {
                    *societies.entry(node(m.supply_owner)).or_default() += 1;
                }
            }
            if stages.contracted.is_some() || stages.landed.is_some() {
                solved[m.demand as usize] = true;
            }
            let times = m.times;
            let proposed = stages.proposed.unwrap_or(m.created);
            if year_of(proposed) == year {
                for (side, station) in [node(m.demand_owner), node(m.supply_owner)].into_iter().enumerate() {
                    if let Some(answered) = times.answered[side] {
                        answers
                            .entry(station)
                            .or_default()
                            .push(((answered.0 - proposed.0) as f64 / 3_600_000.0).max(0.0));
                    }
                }
            }
        }

        let window = format!("{year}年（北京时间 {year}-01-01 至 {year}-12-31）");
        let transfers_entry = |name: String, id: String, t: &Transfers, rank: u32| Entry {
            rank,
            id,
            name,
            value: t.landings as f64,
            detail: format!(
                "落地 {} 项，已核实合同 {} 项，成交额 {} 万元",
                t.landings,
                t.contracts,
                money(t.amount_wan)
            ),
        };
        let by_transfers =
            |a: &Transfers, b: &Transfers| b.landings.cmp(&a.landings).then(b.amount_wan.total_cmp(&a.amount_wan));
        let same_transfers = |a: &Transfers, b: &Transfers| a.landings == b.landings && a.amount_wan == b.amount_wan;

        let universities: Vec<(&NodeId, Transfers)> =
            universities.into_iter().filter(|(_, t)| t.landings + t.contracts > 0).collect();
        let outcomes: Vec<(&RecordId, Transfers)> = outcomes.into_iter().filter(|(_, t)| t.landings > 0).collect();

        let mut cities: BTreeMap<Region, (u64, u64)> = BTreeMap::new();
        for (ix, d) in self.demands.iter().enumerate() {
            let Some(d) = d else { continue };
            if year_of(d.published) == year {
                let city = cities.entry(d.region.city()).or_default();
                city.0 += 1;
                city.1 += u64::from(solved[ix]);
            }
        }
        let cities: Vec<(Region, u64, u64)> =
            cities.into_iter().filter(|(_, (_, s))| *s > 0).map(|(r, (p, s))| (r, p, s)).collect();
        let share = |p: u64, s: u64| s as f64 / p as f64;

        let experts: Vec<(&RecordId, u64)> = engagements.into_iter().collect();
        let societies: Vec<(&NodeId, u64)> = societies.into_iter().collect();
        let fastest: Vec<(&NodeId, f64, u64)> = answers
            .into_iter()
            .filter(|(_, hours)| hours.len() as u64 >= MIN_ANSWERED)
            .map(|(node, mut hours)| {
                hours.sort_by(f64::total_cmp);
                let n = hours.len();
                let median = if n % 2 == 1 { hours[n / 2] } else { (hours[n / 2 - 1] + hours[n / 2]) / 2.0 };
                (node, (median * 10.0).round() / 10.0, n as u64)
            })
            .collect();

        let lists = vec![
            Ranking {
                key: "universities".into(),
                title: "高校榜".into(),
                method: format!(
                    "高校科协站点，按其成果、专家经落地节点记录的落地项数排序，相同时按双方一致记录的合同成交额；统计{window}内的落地与签约。"
                ),
                entries: ranked(
                    universities,
                    |a, b| by_transfers(&a.1, &b.1).then(a.0.cmp(b.0)),
                    |a, b| same_transfers(&a.1, &b.1),
                    |rank, (node, t)| transfers_entry(node.to_string(), node.to_string(), t, rank),
                ),
            },
            Ranking {
                key: "outcomes".into(),
                title: "成果榜".into(),
                method: format!("科技成果，按落地项数排序，相同时按已核实合同成交额；统计{window}内的落地。"),
                entries: ranked(
                    outcomes,
                    |a, b| by_transfers(&a.1, &b.1).then(a.0.cmp(b.0)),
                    |a, b| same_transfers(&a.1, &b.1),
                    |rank, (id, t)| {
                        let name = self
                            .supply
                            .get(id)
                            .map_or_else(|| id.to_string(), |s| format!("{}（{}）", s.name, node(s.owner)));
                        transfers_entry(name, id.to_string(), t, rank)
                    },
                ),
            },
            Ranking {
                key: "cities".into(),
                title: "城市榜".into(),
                method: format!(
                    "城市，按{window}内发布的需求中已解决（双方一致签约或已落地，至今）的比例排序，相同时按已解决项数。"
                ),
                entries: ranked(
                    cities,
                    |a, b| share(b.1, b.2).total_cmp(&share(a.1, a.2)).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)),
                    |a, b| share(a.1, a.2) == share(b.1, b.2) && a.2 == b.2,
                    |rank, (region, published, solved)| Entry {
                        rank,
                        id: region.to_string(),
                        name: self.city_name(*region),
                        value: (share(*published, *solved) * 1000.0).round() / 1000.0,
                        detail: format!("发布需求 {published} 项，已解决 {solved} 项"),
                    },
                ),
            },
            Ranking {
                key: "societies".into(),
                title: "学会榜".into(),
                method: format!("学会协作站，按其成果、专家获得的对接（双方均接受）次数排序；统计{window}内的对接。"),
                entries: ranked(
                    societies,
                    |a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)),
                    |a, b| a.1 == b.1,
                    |rank, (node, n)| Entry {
                        rank,
                        id: node.to_string(),
                        name: node.to_string(),
                        value: *n as f64,
                        detail: format!("对接 {n} 次"),
                    },
                ),
            },
            Ranking {
                key: "experts".into(),
                title: "专家榜".into(),
                method: format!("专家，按对接（双方均接受）次数排序，相同时按姓名；统计{window}内的对接。"),
                entries: ranked(
                    experts
                        .into_iter()
                        .map(|(id, n)| {
                            let name = self
                                .supply
                                .get(id)
                                .map_or_else(|| id.to_string(), |s| format!("{}（{}）", s.name, node(s.owner)));
                            (id, name, n)
                        })
                        .collect(),
                    |a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)),
                    |a, b| a.2 == b.2,
                    |rank, (id, name, n)| Entry {
                        rank,
                        id: id.to_string(),
                        name: name.clone(),
                        value: *n as f64,
                        detail: format!("对接 {n} 次"),
                    },
                ),
            },
            Ranking {
                key: "responsiveness".into(),
                title: "响应榜".into(),
                method: format!(
                    "站点，按答复推荐（接受、拒绝或签约）用时的中位数从短到长排序，需在{window}内收到并答复至少 {MIN_ANSWERED} 条推荐。"
                ),
                entries: ranked(
                    fastest,
                    |a, b| a.1.total_cmp(&b.1).then(b.2.cmp(&a.2)).then(a.0.cmp(b.0)),
                    |a, b| a.1 == b.1,
                    |rank, (node, hours, n)| Entry {
                        rank,
                        id: node.to_string(),
                        name: node.to_string(),
                        value: *hours,
                        detail: format!("答复 {n} 条，用时中位数 {hours} 小时"),
                    },
                ),
            },
        ];
        Rankings { year, lists }
    }

    /// A city for people: its province, its code, and the city stations in it.
    fn city_name(&self, city: Region) -> String {
        let mut stations: Vec<String> = self
            .stations
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_ref().is_some_and(|s| s.kind == NodeKind::City && s.region.city() == city))
            .map(|(i, _)| self.node_ids[i].to_string())
            .collect();
        stations.sort();
        match stations.is_empty() {
            true => format!("{} {city}", city.province_name()),
            false => format!("{} {city}（{}）", city.province_name(), stations.join("、")),
        }
    }
}

/// The calendar year of `at` in China Standard Time.
pub(crate) fn year_of(at: Timestamp) -> i32 {
    i32::from(Date::on(at).year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_list_ranks_by_its_rule_and_says_it() {
        let rankings = crate::report::tests::network().rankings(2026);
        let list = |key: &str| rankings.lists.iter().find(|l| l.key == key).unwrap();
        let universities = &list("universities").entries;
        assert_eq!(universities.len(), 1);
        assert_eq!((universities[0].name.as_str(), universities[0].value), ("uni", 1.0));
        assert!(
            universities[0].detail.contains("已核实合同 1 项，成交额 120 万元"),
            "the unverified one is not counted"
        );
        assert_eq!(list("outcomes").entries.len(), 1);
        let cities = &list("cities").entries;
        assert_eq!(cities.len(), 1, "only Shenzhen solved a demand");
        assert_eq!((cities[0].name.as_str(), cities[0].value), ("广东省 440300（sz）", 1.0));
        let fastest = &list("responsiveness").entries;
        assert_eq!(fastest.len(), 1, "only uni answered {MIN_ANSWERED}");
        assert_eq!((fastest[0].id.as_str(), fastest[0].value), ("uni", 48.0));
        assert!(rankings.lists.iter().all(|l| l.method.contains("2026")), "each rule names its window");
        assert!(crate::report::tests::network().rankings(2025).lists.iter().all(|l| l.entries.is_empty()));
    }

    #[test]
    fn open_demands_leave_out_the_landed_oldest_first() {
        let today = Date::parse("d", "2026-12-31").unwrap();
        let open = crate::report::tests::network().open_demands(&crate::Scope::National, today);
        let seen: Vec<(&str, i64, &str)> =
            open.iter().map(|d| (d.owner.as_str(), d.age_days, d.furthest.as_str())).collect();
        assert_eq!(
            seen,
            [("gz", 59, "connected"), ("cd", 58, "proposed")],
            "sz's landed; gz's contracts differ in type"
        );
    }

    #[test]
    fn ties_share_a_place() {
        let entries = ranked(
            vec![3, 5, 5, 1],
            |a: &i32, b: &i32| b.cmp(a),
            |a, b| a == b,
            |rank, v| Entry {
                rank,
                id: v.to_string(),
                name: String::new(),
                value: f64::from(*v),
                detail: String::new(),
            },
        );
        let places: Vec<(u32, f64)> = entries.iter().map(|e| (e.rank, e.value)).collect();
        assert_eq!(places, [(1, 5.0), (1, 5.0), (3, 3.0), (4, 1.0)]);
    }
}
