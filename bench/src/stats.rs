//! The programme's figures at scale: a central store holding a million
//! lifecycle events and thousands of stations, then `stats` computed over
//! it in process, and the dashboard's overview page served by a real
//! central process.

use std::time::Instant;

use anyhow::Context;
use kechuang_stats::{Dimension, Query, Scope};
use kechuang_store::CentralStore;
use kechuang_types::{
    Body, Contract, ContractType, Hlc, Landed, Landing, Match, Meta, NodeId, NodeKind, Part, Record, RecordId, Region,
    Response, Tier, Timestamp,
};
use serde_json::json;

use crate::{percentile, procs, report, sample};

/// Province prefixes the generated stations spread over.
const PROVINCES: [u32; 31] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65,
];

/// Records per write.
const BATCH: usize = 1_000;

/// A generated station: id, kind, region.
fn stations(n: usize) -> Vec<(NodeId, NodeKind, Region)> {
    (0..n)
        .map(|i| {
            let province = PROVINCES[i % PROVINCES.len()];
            let nth = i / PROVINCES.len();
            let (kind, region) = match nth {
                0 => (NodeKind::Provincial, province * 10_000),
                _ => {
                    let kind = [NodeKind::City, NodeKind::University, NodeKind::Society][nth % 3];
                    (kind, province * 10_000 + (nth % 20 + 1) as u32 * 100)
                }
            };
            let id = NodeId::parse("id", &format!("n{i:05}")).expect("node id");
            (id, kind, Region::parse("region", &format!("{region:06}")).expect("region"))
        })
        .collect()
}

/// A match record between `demand` (owned by `owner` in `region`) and a
/// supply of `supplier`, as central writes it.
fn proposal(demand: &Record, supplier: &(NodeId, NodeKind, Region), tier: Tier) -> Record {
    let Body::Demand(d) = &demand.body else { unreachable!("a demand") };
    let mut m: Match = kechuang_types::testing::proposed_match();
    m.demand = demand.meta.id;
    m.demand_owner = demand.meta.owner.clone();
    m.demand_region = d.region;
    m.landing_node = demand.meta.owner.clone();
    m.supply = RecordId::new();
    m.supply_owner = supplier.0.clone();
    m.supply_region = supplier.2;
    m.tier = tier;
    m.demand_title = d.title.clone();
    let now = Timestamp::now();
    Record { meta: Meta::new(NodeId::central(), Hlc::from_u64(1), now), body: Body::Match(Box::new(m)) }
}

/// `record` with its match edited at `version`.
fn stepped(record: &Record, version: u64, edit: impl FnOnce(&mut Match, Hlc)) -> Record {
    let mut next = record.clone();
    let hlc = Hlc::from_u64(version);
    next.meta.version = hlc;
    if let Body::Match(m) = &mut next.body {
        edit(m, hlc);
    }
    next
}

fn write(store: &CentralStore, records: &[Record]) -> anyhow::Result<()> {
    for chunk in records.chunks(BATCH) {
        store.apply_central("central", chunk, &[], &[])?;
    }
    Ok(())
}

/// Fills a store with `nodes` stations, their demands and enough matches,
/// answers, contracts and landings to make `events` lifecycle events.
fn populate(store: &CentralStore, nodes: usize, events: usize) -> anyhow::Result<(usize, usize)> {
    let stations = stations(nodes);
    for (id, kind, region) in &stations {
        store.register(&kechuang_sync::Peer { id: id.clone(), kind: *kind, region: *region, fields: Vec::new() })?;
    }
    let cities: Vec<_> = stations.iter().filter(|s| s.1 == NodeKind::City).collect();
    let supply: Vec<_> = stations.iter().filter(|s| matches!(s.1, NodeKind::University | NodeKind::Society)).collect();
    // 1 event to propose, 2 to connect (½), 2 to contract (¼), 1 to land (⅛).
    let matches = (events as f64 / 2.625).ceil() as usize;
    let demand_count = (matches / 3).max(1);
    let mut demands = Vec::with_capacity(demand_count);
    for (i, chunk) in (0..demand_count).collect::<Vec<_>>().chunks(BATCH).enumerate() {
        let owner = cities[i % cities.len()];
        let mut batch = sample::records(owner.0.as_str(), chunk.len(), i as u64);
        for (j, d) in batch.iter_mut().enumerate() {
            d.meta.id = RecordId::new();
            d.meta.external_id = Some(format!("XQ-{i}-{j}"));
            if let Body::Demand(body) = &mut d.body {
                body.region = owner.2;
            }
        }
        write(store, &batch)?;
        demands.extend(batch);
    }
    let tiers = [Tier::City, Tier::Province, Tier::National];
    let proposed: Vec<Record> =
        (0..matches).map(|i| proposal(&demands[i % demands.len()], supply[i % supply.len()], tiers[i % 3])).collect();
    write(store, &proposed)?;
    let connected: Vec<Record> = proposed
        .iter()
        .step_by(2)
        .map(|r| {
            stepped(r, 2, |m, v| {
                m.demand_side = Part::new(v, Response::Accepted);
                m.supply_side = Part::new(v, Response::Accepted);
            })
        })
        .collect();
    write(store, &connected)?;
    let contract = Response::Contracted(Contract { kind: ContractType::License, amount_wan: 80.0 });
    let contracted: Vec<Record> = connected
        .iter()
        .step_by(2)
        .map(|r| {
            stepped(r, 3, |m, v| {
                m.demand_side = Part::new(v, contract.clone());
                m.supply_side = Part::new(v, contract.clone());
            })
        })
        .collect();
    write(store, &contracted)?;
    let today = kechuang_types::Date::today();
    let landed: Vec<Record> = contracted
        .iter()
        .step_by(2)
        .map(|r| {
            stepped(r, 4, |m, v| m.landing = Part::new(v, Landing::Landed(Landed { date: today, note: String::new() })))
        })
        .collect();
    write(store, &landed)?;
    store.flush()?;
    Ok((demands.len(), proposed.len()))
}

/// `stats` over `events` lifecycle events and `nodes` stations; then the
/// overview page from a real central over that store.
pub fn stats(nodes: usize, events: usize, requests: usize) -> anyhow::Result<()> {
    let home = procs::Central::init()?;
    let started = Instant::now();
    let (demands, matches, held_events) = {
        let store = CentralStore::open(&home.data_dir())?;
        let (demands, matches) = populate(&store, nodes, events)?;
        let mut held = 0u64;
        store.events_after(0, |_| {
            held += 1;
            true
        })?;
        (demands, matches, held)
    };
    let populate_secs = started.elapsed().as_secs_f64();

    let store = CentralStore::open(&home.data_dir())?;
    let live = kechuang_central::stats::LiveLedger::default();
    let query = Query { by: Some(Dimension::Province), ..Query::all(Scope::National) };
    let t = Instant::now();
    let (first, _) = live.with(&store, |ledger| ledger.report(&query))?;
    let cold_stats_ms = t.elapsed().as_secs_f64() * 1e3;
    let by_province = first.rows.len();
    let mut runs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        live.with(&store, |ledger| ledger.report(&query))?;
        runs.push(t.elapsed());
    }
    drop(live);
    drop(store);
    runs.sort();
    let stats_ms = percentile(&runs, 0.5);

    let central = home.start()?;
    let url = format!("{}/", central.dashboard().context("dashboard")?);
    let first = Instant::now();
    procs::http_get(&url)?;
    let cold_ms = first.elapsed().as_secs_f64() * 1e3;
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        procs::http_get(&url)?;
        times.push(t.elapsed());
    }
    times.sort();
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    report(
        json!({"scenario": "stats", "events": held_events, "matches": matches, "demands": demands, "nodes": nodes,
               "populate_seconds": populate_secs, "stats_first_ms": cold_stats_ms, "stats_ms_p50": stats_ms, "rows": by_province,
               "overview_cold_ms": cold_ms, "overview_ms_p50": p50, "overview_ms_p99": p99, "requests": requests}),
        format!(
            "stats: {held_events} events ({matches} matches, {demands} demands, {nodes} stations): stats by province \
             {stats_ms:.0} ms (median of 5; the first, reading the whole store, {cold_stats_ms:.0} ms); overview page first {cold_ms:.0} ms, then p50 {p50:.1} ms, p99 {p99:.1} ms \
             over {requests} requests"
        ),
    );
    Ok(())
}
