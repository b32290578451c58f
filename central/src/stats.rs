//! The programme's figures (考核评估) from central's store: one ledger read
//! from the records, the registered stations and the lifecycle history,
//! answering the national office, a station and the dashboard alike.

use std::sync::Mutex;

use kechuang_proto::pb;
use kechuang_stats::{Dimension, Ledger, Query, Report, Scope};
use kechuang_store::CentralStore;
use kechuang_types::{Date, NodeId, Region};
use tonic::Status;

use crate::error;
use crate::server::State;

/// The ledger, kept in memory: read whole once, then brought up to date
/// from the log and the history before each use, so a query costs what
/// changed since the last one plus the counting.
#[derive(Debug, Default)]
pub struct LiveLedger {
    inner: Mutex<Option<Live>>,
}

#[derive(Debug)]
struct Live {
    ledger: Ledger,
    /// The log position read up to.
    position: u64,
    /// The last history event read.
    event: u64,
}

/// Log entries read per step of a catch-up.
const CATCH_UP: usize = 10_000;

impl LiveLedger {
    /// Brings the ledger up to date with `store` and calls `f` on it;
    /// returns what `f` returned and how many records and events were read.
    pub fn with<T>(
        &self,
        store: &CentralStore,
        f: impl FnOnce(&Ledger) -> T,
    ) -> Result<(T, u64), kechuang_store::Error> {
        let mut held = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut live = held.take().unwrap_or_else(|| Live { ledger: Ledger::new(), position: 0, event: 0 });
        for node in store.nodes()? {
            live.ledger.station(node.id, node.kind, node.region);
        }
        let mut read = 0u64;
        let head = store.head();
        while live.position < head {
            let (entries, next) = store.log_entries(live.position, head, CATCH_UP)?;
            read += entries.len() as u64;
            for (_, record) in &entries {
                live.ledger.record(record);
            }
            live.position = next;
        }
        store.events_after(live.event, |event| {
            read += 1;
            live.event = event.seq;
            live.ledger.event(&event);
            true
        })?;
        let out = f(&live.ledger);
        *held = Some(live);
        Ok((out, read))
    }
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

/// Answers `query` from central's live ledger, off the async threads;
/// returns the report and how many records and events it had to read.
pub async fn answer(state: std::sync::Arc<State>, query: Query) -> Result<(Report, u64), Status> {
    tokio::task::spawn_blocking(move || state.ledger.with(&state.store, |ledger| ledger.report(&query)))
        .await
        .map_err(error::join)?
        .map_err(error::storage)
}

/// A report on the wire.
pub fn response(report: &Report) -> Result<pb::StatsResponse, Status> {
    let report_json = serde_json::to_string(report).map_err(|e| Status::internal(format!("report: {e}")))?;
    Ok(pb::StatsResponse { report_json })
}

/// The rankings of `year` (this year when 0) from central's live ledger.
pub async fn rankings(state: std::sync::Arc<State>, year: i32) -> Result<kechuang_stats::Rankings, Status> {
    let year = match year {
        0 => Date::today().to_string()[..4].parse().unwrap_or(2026),
        y if (2000..=2100).contains(&y) => y,
        y => return Err(Status::invalid_argument(format!("year: {y} is not between 2000 and 2100"))),
    };
    tokio::task::spawn_blocking(move || state.ledger.with(&state.store, |ledger| ledger.rankings(year)))
        .await
        .map_err(error::join)?
        .map(|(rankings, _)| rankings)
        .map_err(error::storage)
}
