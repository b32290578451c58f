//! What the dashboard shows, as the JSON its `/api/` serves: the pages are
//! rendered from these same structures.

use std::collections::BTreeMap;

use kechuang_stats::{Dimension, Ledger, OpenDemand, Query, Report, Row, Scope};
use kechuang_types::{Body, Date, NodeKind, Region, Timestamp};
use serde::Serialize;

use crate::server::State;

/// One step of the funnel 需求→推荐→对接→签约→落地.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    /// `published`, `proposed`, `connected`, `contracted`, `landed`.
    pub key: &'static str,
    /// 需求, 推荐, 对接, 签约, 落地.
    pub label: &'static str,
    /// Demands that reached it.
    pub count: u64,
}

/// The funnel of a row's demands.
pub fn funnel(row: &Row) -> Vec<Stage> {
    let d = &row.demands;
    vec![
        Stage { key: "published", label: "需求", count: d.published },
        Stage { key: "proposed", label: "推荐", count: d.proposed },
        Stage { key: "connected", label: "对接", count: d.connected },
        Stage { key: "contracted", label: "签约", count: d.contracted },
        Stage { key: "landed", label: "落地", count: d.landed },
    ]
}

/// How many stations there are, and how many have a session open.
#[derive(Debug, Clone, Serialize)]
pub struct StationCount {
    /// Registered.
    pub total: u64,
    /// With a feed open now.
    pub online: u64,
}

/// 全国概览.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// The whole network's figures, all time (the per-station tables left out).
    pub report: Report,
    /// Its funnel.
    pub funnel: Vec<Stage>,
    /// The figures by month.
    pub months: Vec<Row>,
    /// The network's stations.
    pub stations: StationCount,
}

/// One station of the network tree.
#[derive(Debug, Clone, Serialize)]
pub struct Station {
    /// Its node id.
    pub id: String,
    /// `city`, `university`, ….
    pub kind: String,
    /// 市级分站, 高校科协, ….
    pub kind_label: String,
    /// Its region code.
    pub region: String,
    /// A feed is open now.
    pub online: bool,
    /// When central last heard from it (+08:00), if ever.
    pub last_seen: Option<String>,
    /// Records central logged after what its feed has been sent: how far
    /// behind it is at most (unknown until it connects after a restart).
    pub feed_lag_records: Option<u64>,
    /// The software version it reported.
    pub version: String,
    /// When its certificate expires (+08:00), as presented at its last session.
    pub certificate_expires: Option<String>,
    /// Revoked by the national office.
    pub revoked: bool,
}

/// A province and its stations.
#[derive(Debug, Clone, Serialize)]
pub struct ProvinceStations {
    /// The province's code (`440000`).
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its stations: the provincial station first, then by kind and id.
    pub stations: Vec<Station>,
}

/// 网络: the tree province → stations.
#[derive(Debug, Clone, Serialize)]
pub struct Network {
    /// The provinces with stations, by code.
    pub provinces: Vec<ProvinceStations>,
    /// The log's head position.
    pub log_head: u64,
}

/// One province's page.
#[derive(Debug, Clone, Serialize)]
pub struct Province {
    /// The province's code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its figures by city.
    pub report: Report,
    /// Its funnel.
    pub funnel: Vec<Stage>,
    /// Its open demands, oldest first (at most 200).
    pub open_demands: Vec<OpenDemand>,
}

/// A recent match, without contacts.
#[derive(Debug, Clone, Serialize)]
pub struct RecentMatch {
    /// The match's id.
    pub id: String,
    /// What the demand asks.
    pub demand_title: String,
    /// The outcome or expert proposed.
    pub supply_title: String,
    /// The two stations.
    pub demand_owner: String,
    /// The supply's station.
    pub supply_owner: String,
    /// Its lifecycle state.
    pub state: String,
    /// 同城, 同省, 全国.
    pub tier: String,
    /// Relevance.
    pub score: f64,
    /// Why it was proposed.
    pub explanation: String,
    /// When it last changed (+08:00).
    pub updated_at: String,
}

/// The whole network's figures with their months.
pub fn overview(state: &State, ledger: &Ledger) -> Result<Overview, kechuang_store::Error> {
    // One count by month: its total is the whole network's.
    let mut report = ledger.figures(&Query { by: Some(Dimension::Month), ..Query::all(Scope::National) });
    let months = std::mem::take(&mut report.rows);
    report.by = None;
    let nodes = state.store.nodes()?;
    let online = nodes.iter().filter(|n| state.feeds.is_connected(&n.id)).count() as u64;
    Ok(Overview {
        funnel: funnel(&report.total),
        report,
        months,
        stations: StationCount { total: nodes.len() as u64, online },
    })
}

/// Most records counted behind a feed.
const LAG_CAP: u64 = 100_000;

/// How far behind each station's feed is, counted once per feed position
/// (most stations share the head's), up to [`LAG_CAP`].
pub struct FeedLags {
    head: u64,
    counted: BTreeMap<u64, u64>,
}

impl FeedLags {
    /// Lags against the log as it is now.
    pub fn new(state: &State) -> Self {
        Self { head: state.store.head(), counted: BTreeMap::new() }
    }

    /// The lag of a feed sent up to `cursor`, if known.
    pub fn of(&mut self, state: &State, cursor: Option<u64>) -> Result<Option<u64>, kechuang_store::Error> {
        let Some(cursor) = cursor else { return Ok(None) };
        if let Some(lag) = self.counted.get(&cursor) {
            return Ok(Some(*lag));
        }
        let lag = state.store.logged_between(cursor, self.head, LAG_CAP)?;
        self.counted.insert(cursor, lag);
        Ok(Some(lag))
    }
}

/// The tree of stations with their presence.
pub fn network(state: &State) -> Result<Network, kechuang_store::Error> {
    let mut provinces: BTreeMap<Region, Vec<(u8, Station)>> = BTreeMap::new();
    let mut lags = FeedLags::new(state);
    for n in state.store.nodes()? {
        let presence = state.roster.get(&n.id);
        let lag = lags.of(state, presence.feed_cursor)?;
        let order = match n.kind {
            NodeKind::Provincial => 0,
            NodeKind::City => 1,
            NodeKind::University => 2,
            _ => 3,
        };
        let station = Station {
            id: n.id.to_string(),
            kind: n.kind.as_str().into(),
            kind_label: kechuang_stats::kind_label(n.kind).into(),
            region: n.region.to_string(),
            online: state.feeds.is_connected(&n.id),
            last_seen: state.store.last_seen(&n.id)?.map(|t| t.in_china()),
            feed_lag_records: lag,
            version: presence.version,
            certificate_expires: presence.certificate_expires.map(|t| t.in_china()),
            revoked: state.trust.is_revoked(&n.id),
        };
        provinces.entry(n.region.province()).or_default().push((order, station));
    }
    let provinces = provinces
        .into_iter()
        .map(|(code, mut stations)| {
            stations.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
            ProvinceStations {
                code: code.to_string(),
                name: code.province_name().into(),
                stations: stations.into_iter().map(|(_, s)| s).collect(),
            }
        })
        .collect();
    Ok(Network { provinces, log_head: lags.head })
}

/// One province's figures and open demands.
pub fn province(ledger: &Ledger, code: Region) -> Province {
    let scope = Scope::Province(code.province());
    let report = ledger.figures(&Query { by: Some(Dimension::City), ..Query::all(scope.clone()) });
    let mut open_demands = ledger.open_demands(&scope, Date::today());
    open_demands.truncate(200);
    Province {
        code: code.province().to_string(),
        name: code.province_name().into(),
        funnel: funnel(&report.total),
        report,
        open_demands,
    }
}

/// Log positions read back for the recent matches.
const RECENT_POSITIONS: u64 = 400;

/// The latest matches, newest first, without contacts.
pub fn recent_matches(state: &State, limit: usize) -> Result<Vec<RecentMatch>, kechuang_store::Error> {
    let head = state.store.head();
    let (entries, _) = state.store.log_entries(head.saturating_sub(RECENT_POSITIONS), head, 50_000)?;
    let mut matches: Vec<(Timestamp, RecentMatch)> = entries
        .into_iter()
        .filter_map(|(_, record)| {
            let Body::Match(m) = &record.body else { return None };
            Some((
                record.meta.updated_at,
                RecentMatch {
                    id: record.meta.id.to_string(),
                    demand_title: m.demand_title.to_string(),
                    supply_title: m.supply_title.to_string(),
                    demand_owner: m.demand_owner.to_string(),
                    supply_owner: m.supply_owner.to_string(),
                    state: m.state().as_str().into(),
                    tier: kechuang_stats::tier_label(m.tier).into(),
                    score: (m.score * 1000.0).round() / 1000.0,
                    explanation: m.explanation.to_string(),
                    updated_at: record.meta.updated_at.in_china(),
                },
            ))
        })
        .collect();
    matches.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    matches.dedup_by(|a, b| a.1.id == b.1.id);
    Ok(matches.into_iter().take(limit).map(|(_, m)| m).collect())
}
