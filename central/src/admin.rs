//! The `Admin` service, on loopback: the national office's view of central.

use std::sync::Arc;

use kechuang_proto::pb::{self, admin_server::Admin};
use kechuang_sync::{Peer, held_by, without_foreign_contacts};
use kechuang_types::{Event, NodeId, RecordId, RecordKind, Timestamp};
use tonic::{Request, Response, Status};
use tracing::info;

use crate::error;
use crate::matcher::{Act, Matcher};
use crate::server::State;

/// Central's implementation of `kechuang.v1.Admin`.
#[derive(Clone)]
pub struct AdminService {
    state: Arc<State>,
}

impl AdminService {
    /// A service over central's shared state.
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }
}

/// Events per history batch.
const HISTORY_BATCH: usize = 1_000;

/// An event of the history on the wire.
fn event_to_wire(e: Event) -> pb::HistoryEvent {
    pb::HistoryEvent {
        seq: e.seq,
        record: e.record.as_bytes().to_vec(),
        kind: e.kind.as_str().into(),
        part: e.step.part,
        from: e.step.from.map(|v| v.to_string()).unwrap_or_default(),
        to: e.step.to.to_string(),
        by: e.by,
        version: e.step.version.as_u64(),
        at_ms: e.at.0,
    }
}

type HistoryStream = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::HistoryBatch, Status>> + Send>>;

/// A record id from the wire, naming `field`.
fn record_id(field: &str, bytes: &[u8]) -> Result<RecordId, Status> {
    let bytes: [u8; 16] =
        bytes.try_into().map_err(|_| Status::invalid_argument(format!("{field}: ids are 16 bytes")))?;
    Ok(RecordId::from_bytes(bytes))
}

/// Who the history credits with an act of the national office.
fn by(operator: &str) -> Result<String, Status> {
    let operator = operator.trim();
    kechuang_types::check_text("operator", operator, kechuang_types::limits::SHORT_TEXT, true)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    Ok(format!("central:{operator}"))
}

impl AdminService {
    /// Runs an act of the national office on the matcher, then makes what it
    /// wrote durable, so the feeds deliver it.
    async fn act<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Matcher, &kechuang_store::CentralStore) -> Result<T, Act> + Send + 'static,
    ) -> Result<T, Status> {
        let (matcher, store) = (self.state.matcher.clone(), self.state.store.clone());
        let done = tokio::task::spawn_blocking(move || f(&matcher, &store)).await.map_err(error::join)?;
        let done = done.map_err(error::act)?;
        self.state.durability.wait().await.map_err(error::storage)?;
        Ok(done)
    }
}

/// Records in a page of `list` unless the request asks for fewer.
const LIST_PAGE: usize = 5_000;
/// Most records a request may ask for in one page.
const LIST_PAGE_MOST: usize = 50_000;
/// A page ends once its records take this many bytes.
const LIST_PAGE_BYTES: usize = 8 * 1024 * 1024;

#[tonic::async_trait]
impl Admin for AdminService {
    async fn propose(&self, request: Request<pb::ProposeRequest>) -> Result<Response<pb::ProposeResponse>, Status> {
        let r = request.into_inner();
        let (demand, supply, by) = (record_id("demand", &r.demand)?, record_id("supply", &r.supply)?, by(&r.operator)?);
        let note = r.note.trim().to_owned();
        kechuang_types::check_text("note", &note, kechuang_types::limits::SHORT_TEXT * 5, true)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let record = self.act(move |m, store| m.propose(store, demand, supply, &note, &by)).await?;
        Ok(Response::new(pb::ProposeResponse { r#match: Some(record.into()) }))
    }

    async fn withdraw_match(
        &self,
        request: Request<pb::WithdrawMatchRequest>,
    ) -> Result<Response<pb::WithdrawMatchResponse>, Status> {
        let r = request.into_inner();
        let (id, by) = (record_id("match_id", &r.match_id)?, by(&r.operator)?);
        let reason = r.reason.trim().to_owned();
        kechuang_types::check_text("reason", &reason, kechuang_types::limits::SHORT_TEXT * 5, true)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let record = self.act(move |m, store| m.withdraw_match(store, id, &reason, &by)).await?;
        Ok(Response::new(pb::WithdrawMatchResponse { r#match: Some(record.into()) }))
    }

    async fn escalate(&self, request: Request<pb::EscalateRequest>) -> Result<Response<pb::EscalateResponse>, Status> {
        let r = request.into_inner();
        let (demand, by) = (record_id("demand", &r.demand)?, by(&r.operator)?);
        let written = self.act(move |m, store| m.escalate_now(store, demand, &by)).await?;
        Ok(Response::new(pb::EscalateResponse { matches: written.into_iter().map(Into::into).collect() }))
    }

    async fn stats(&self, request: Request<pb::StatsRequest>) -> Result<Response<pb::StatsResponse>, Status> {
        let request = request.into_inner();
        let query = crate::stats::query(&request, crate::stats::admin_scope(&request)?)?;
        let (report, _) = crate::stats::answer(self.state.clone(), query).await?;
        Ok(Response::new(crate::stats::response(&report)?))
    }

    async fn rankings(&self, request: Request<pb::RankingsRequest>) -> Result<Response<pb::RankingsResponse>, Status> {
        let rankings = crate::stats::rankings(self.state.clone(), request.into_inner().year).await?;
        let rankings_json = serde_json::to_string(&rankings).map_err(|e| Status::internal(format!("rankings: {e}")))?;
        Ok(Response::new(pb::RankingsResponse { rankings_json }))
    }

    type HistoryStream = HistoryStream;

    async fn history(&self, request: Request<pb::HistoryRequest>) -> Result<Response<Self::HistoryStream>, Status> {
        let request = request.into_inner();
        let record = match request.record_id.as_slice() {
            [] => None,
            bytes => Some(record_id("record_id", bytes)?),
        };
        let since = Timestamp(request.since_ms);
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let store = self.state.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut batch = Vec::with_capacity(HISTORY_BATCH);
            let send = |batch: Vec<pb::HistoryEvent>| tx.blocking_send(Ok(pb::HistoryBatch { events: batch })).is_ok();
            let result = match record {
                Some(id) => store.history_of(&id).map(|events| {
                    batch.extend(events.into_iter().filter(|e| e.at >= since).map(event_to_wire));
                }),
                None => store.events_after(0, |e| {
                    if e.at >= since {
                        batch.push(event_to_wire(e));
                    }
                    if batch.len() < HISTORY_BATCH {
                        return true;
                    }
                    send(std::mem::replace(&mut batch, Vec::with_capacity(HISTORY_BATCH)))
                }),
            };
            match result {
                Ok(()) => {
                    send(batch);
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(error::storage(e)));
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    type BackupStream = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::BackupProgress, Status>> + Send>>;

    async fn backup(&self, request: Request<pb::BackupRequest>) -> Result<Response<Self::BackupStream>, Status> {
        let out = std::path::PathBuf::from(request.into_inner().out);
        if !out.is_absolute() {
            return Err(Status::invalid_argument("out: must be an absolute path on central's machine"));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let store = self.state.store.clone();
        tokio::task::spawn_blocking(move || {
            let progress = |records| {
                let _ = tx.try_send(Ok(pb::BackupProgress { records, manifest_json: String::new() }));
            };
            let answer = match store.backup(&out, progress) {
                Ok(manifest) => {
                    info!(out = %out.display(), records = manifest.records, head = manifest.head, "backup written");
                    Ok(pb::BackupProgress {
                        records: manifest.records,
                        manifest_json: serde_json::to_string(&manifest).unwrap_or_default(),
                    })
                }
                Err(e) => Err(Status::failed_precondition(format!("backup: {e}"))),
            };
            let _ = tx.blocking_send(answer);
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn list(&self, request: Request<pb::AdminListRequest>) -> Result<Response<pb::AdminListResponse>, Status> {
        let request = request.into_inner();
        let kind = match request.kind.as_str() {
            "" => None,
            k => Some(RecordKind::parse("kind", k).map_err(|e| error::invalid("list", e))?),
        };
        let store = self.state.store.clone();
        let peer = match request.node_id.as_str() {
            "" => None,
            id => {
                let id = NodeId::parse("node_id", id).map_err(|e| error::invalid("list", e))?;
                let entry = store
                    .node(&id)
                    .map_err(error::storage)?
                    .ok_or_else(|| Status::not_found(format!("node_id: unknown node {id}")))?;
                Some(Peer { id: entry.id, kind: entry.kind, region: entry.region, fields: entry.fields })
            }
        };
        let after = match request.after.as_slice() {
            [] => None,
            bytes => Some(
                <[u8; 16]>::try_from(bytes)
                    .map(RecordId::from_bytes)
                    .map_err(|_| Status::invalid_argument("after: not a record id"))?,
            ),
        };
        let limit = match request.limit {
            0 => LIST_PAGE,
            n => (n as usize).min(LIST_PAGE_MOST),
        };
        let (records, next) = tokio::task::spawn_blocking(move || {
            let (mut out, mut bytes, mut next) = (Vec::new(), 0, Vec::new());
            let mut scanned: Option<RecordId> = None;
            for entry in store.records_after(after.as_ref()) {
                let (id, record) = entry?;
                if out.len() == limit || bytes >= LIST_PAGE_BYTES {
                    // The page is full (so something was scanned): the next
                    // one starts after the last record looked at.
                    next = scanned.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
                    break;
                }
                scanned = Some(id);
                if kind.is_some_and(|k| record.kind() != k) {
                    continue;
                }
                // The national office sees everything but contacts, which
                // leave their owner only to the two sides of a match.
                let view = match &peer {
                    None => Some(without_foreign_contacts(record, &NodeId::central())),
                    Some(p) => held_by(&record, p),
                };
                if let Some(view) = view.map(pb::Record::from) {
                    bytes += prost::Message::encoded_len(&view);
                    out.push(view);
                }
            }
            Ok::<_, kechuang_store::Error>((out, next))
        })
        .await
        .map_err(error::join)?
        .map_err(error::storage)?;
        Ok(Response::new(pb::AdminListResponse { records, next }))
    }

    async fn nodes(&self, _request: Request<pb::NodesRequest>) -> Result<Response<pb::NodesResponse>, Status> {
        let nodes = self.state.store.nodes().map_err(error::storage)?;
        let nodes = nodes
            .into_iter()
            .map(|n| pb::NodeInfo {
                connected: self.state.feeds.is_connected(&n.id),
                connections: self.state.gate.open(&n.id) as u32,
                certificate_expires: self
                    .state
                    .roster
                    .get(&n.id)
                    .certificate_expires
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                revoked: self.state.trust.is_revoked(&n.id),
                last_seen: self.state.store.last_seen(&n.id).ok().flatten().map(|t| t.to_string()).unwrap_or_default(),
                node_id: n.id.into(),
                kind: n.kind.as_str().into(),
                region: n.region.to_string(),
                acked_seq: n.acked_seq,
                fields: n.fields.iter().map(ToString::to_string).collect(),
            })
            .collect();
        Ok(Response::new(pb::NodesResponse { nodes, log_head: self.state.store.head() }))
    }

    async fn revoke(&self, request: Request<pb::RevokeRequest>) -> Result<Response<pb::RevokeResponse>, Status> {
        let id = NodeId::parse("node_id", &request.into_inner().node_id).map_err(|e| error::invalid("revoke", e))?;
        let store = self.state.store.clone();
        let node = id.clone();
        tokio::task::spawn_blocking(move || store.revoke(&node)).await.map_err(error::join)?.map_err(error::storage)?;
        let open = self.state.feeds.open_feeds(&id);
        self.state.trust.revoke(id.clone());
        info!(node = %id, closed_streams = open, "node revoked");
        Ok(Response::new(pb::RevokeResponse { closed_streams: open as u32 }))
    }
}
