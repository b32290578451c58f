//! The programme's figures (考核评估) from central's store: one ledger read
//! from the records, the registered stations and the lifecycle history,
//! answering the national office, a station and the dashboard alike.

use kechuang_proto::pb;
use kechuang_stats::{Dimension, Ledger, Query, Report, Scope};
use kechuang_store::CentralStore;
use kechuang_types::{Date, NodeId, Region};
use tonic::Status;

use crate::error;

/// Reads every fact the figures need; returns the ledger and how many
/// records and events were read.
pub fn ledger(store: &CentralStore) -> Result<(Ledger, u64), kechuang_store::Error> {
    let mut ledger = Ledger::new();
    for node in store.nodes()? {
        ledger.station(node.id, node.kind, node.region);
    }
    let mut read = 0u64;
    store.for_each(|record| {
        read += 1;
        ledger.record(&record);
    })?;
    store.events_after(0, |event| {
        read += 1;
        ledger.event(&event);
        true
    })?;
    Ok((ledger, read))
}

/// The query a request asks, within `scope`.
pub fn query(request: &pb::StatsRequest, scope: Scope) -> Result<Query, Status> {
    let invalid = |e: kechuang_stats::Error| Status::invalid_argument(e.to_string());
    let by = match request.by.trim() {
        "" => None,
        by => Some(by.parse::<Dimension>().map_err(invalid)?),
    };
    let date = |field: &str, text: &str| match text.trim() {
        "" => Ok(None),
        text => Date::parse(field, text).map(Some).map_err(|e| error::invalid("stats", e)),
    };
    let query = Query { scope, by, from: date("from", &request.from)?, to: date("to", &request.to)? };
    query.check().map_err(invalid)?;
    Ok(query)
}

/// The scope the national office asks for: a province, a node, or all.
pub fn admin_scope(request: &pb::StatsRequest) -> Result<Scope, Status> {
    match (request.province.trim(), request.node_id.trim()) {
        ("", "") => Ok(Scope::National),
        (province, "") => {
            let region = Region::parse("province", province).map_err(|e| error::invalid("stats", e))?;
            Ok(Scope::Province(region.province()))
        }
        ("", node) => Ok(Scope::Node(NodeId::parse("node_id", node).map_err(|e| error::invalid("stats", e))?)),
        _ => Err(Status::invalid_argument("province, node_id: give one or the other")),
    }
}

/// Answers `query` over the store, off the async threads; returns the
/// report and how many records and events it read.
pub async fn answer(store: std::sync::Arc<CentralStore>, query: Query) -> Result<(Report, u64), Status> {
    tokio::task::spawn_blocking(move || {
        let (ledger, read) = ledger(&store)?;
        Ok::<_, kechuang_store::Error>((ledger.report(&query), read))
    })
    .await
    .map_err(error::join)?
    .map_err(error::storage)
}

/// A report on the wire.
pub fn response(report: &Report) -> Result<pb::StatsResponse, Status> {
    let report_json = serde_json::to_string(report).map_err(|e| Status::internal(format!("report: {e}")))?;
    Ok(pb::StatsResponse { report_json })
}

/// The rankings of `year` (this year when 0) over the store.
pub async fn rankings(store: std::sync::Arc<CentralStore>, year: i32) -> Result<kechuang_stats::Rankings, Status> {
    let year = match year {
        0 => Date::today().to_string()[..4].parse().unwrap_or(2026),
        y if (2000..=2100).contains(&y) => y,
        y => return Err(Status::invalid_argument(format!("year: {y} is not between 2000 and 2100"))),
    };
    tokio::task::spawn_blocking(move || Ok::<_, kechuang_store::Error>(ledger(&store)?.0.rankings(year)))
        .await
        .map_err(error::join)?
        .map_err(error::storage)
}
