//! The `Sync` service: nodes open a session, push their changes, follow
//! their feed and ask what they should hold.

use std::pin::Pin;
use std::sync::Arc;

use kechuang_proto::pb::{self, sync_server::Sync};
use kechuang_sync::{Digest, held_by};
use kechuang_types::{Body, Record, limits};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::{debug, info};

use crate::error;
use crate::identity::peer;
use crate::server::State;

/// Central's implementation of `kechuang.v1.Sync`.
#[derive(Clone)]
pub struct SyncService {
    state: Arc<State>,
}

impl SyncService {
    /// A service over central's shared state.
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }
}

type FeedStream = Pin<Box<dyn Stream<Item = Result<pb::FeedBatch, Status>> + Send>>;

#[tonic::async_trait]
impl Sync for SyncService {
    async fn hello(&self, request: Request<pb::HelloRequest>) -> Result<Response<pb::HelloResponse>, Status> {
        let peer = peer(&request)?;
        let store = self.state.store.clone();
        let p = peer.clone();
        let entry = tokio::task::spawn_blocking(move || store.register(&p.id, p.kind, p.region))
            .await
            .map_err(error::join)?
            .map_err(error::storage)?;
        self.state.durability.wait().await.map_err(error::storage)?;
        info!(node = %peer.id, kind = %peer.kind, region = %peer.region, acked = entry.acked_seq, "node session opened");
        Ok(Response::new(pb::HelloResponse { acked_seq: entry.acked_seq }))
    }

    async fn push(&self, request: Request<pb::PushRequest>) -> Result<Response<pb::PushResponse>, Status> {
        let peer = peer(&request)?;
        let changes = request.into_inner().changes;
        if changes.len() > limits::BATCH {
            return Err(Status::invalid_argument(format!(
                "changes: {} in one batch, at most {}",
                changes.len(),
                limits::BATCH
            )));
        }
        let mut batch = Vec::with_capacity(changes.len());
        let mut previous = 0;
        for (i, change) in changes.into_iter().enumerate() {
            if change.seq <= previous {
                return Err(Status::invalid_argument(format!(
                    "changes[{i}].seq: {} does not follow {previous}",
                    change.seq
                )));
            }
            previous = change.seq;
            let wire =
                change.record.ok_or_else(|| Status::invalid_argument(format!("changes[{i}].record: missing")))?;
            let label = record_label(i, &wire);
            let record = Record::try_from(wire).map_err(|e| error::invalid(&label, e))?;
            authorize(&peer.id, &record).map_err(|field| {
                Status::permission_denied(format!("{label}: node {} may not write {field}", peer.id))
            })?;
            batch.push((change.seq, record));
        }
        let store = self.state.store.clone();
        let node = peer.id.clone();
        let outcome = tokio::task::spawn_blocking(move || store.apply_push(&node, &batch))
            .await
            .map_err(error::join)?
            .map_err(error::storage)?;
        self.state.durability.wait().await.map_err(error::storage)?;
        debug!(node = %peer.id, acked = outcome.acked_seq, changed = outcome.changed.len(), "push applied");
        Ok(Response::new(pb::PushResponse { acked_seq: outcome.acked_seq }))
    }

    type FeedStream = FeedStream;

    async fn feed(&self, request: Request<pb::FeedRequest>) -> Result<Response<Self::FeedStream>, Status> {
        let peer = peer(&request)?;
        let cursor = request.into_inner().cursor;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        info!(node = %peer.id, cursor, "feed opened");
        let state = self.state.clone();
        let shutdown = self.state.shutdown.child_token();
        self.state.tasks.spawn(crate::feed::serve(state, peer, cursor, tx, shutdown));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn digest(&self, request: Request<pb::DigestRequest>) -> Result<Response<pb::DigestResponse>, Status> {
        let peer = peer(&request)?;
        let store = self.state.store.clone();
        let digest = tokio::task::spawn_blocking(move || {
            let mut digest = Digest::default();
            store.for_each(|record| {
                if let Some(view) = held_by(&record, &peer) {
                    digest.add(&view);
                }
            })?;
            Ok::<_, kechuang_store::Error>(digest)
        })
        .await
        .map_err(error::join)?
        .map_err(error::storage)?;
        Ok(Response::new(pb::DigestResponse { digest: digest.to_string() }))
    }
}

/// `changes[3] (record 0190…)`: how errors name the record they are about.
fn record_label(index: usize, record: &pb::Record) -> String {
    match record.meta.as_ref().and_then(|m| <[u8; 16]>::try_from(m.id.as_slice()).ok()) {
        Some(id) => format!("changes[{index}] (record {})", kechuang_types::RecordId::from_bytes(id)),
        None => format!("changes[{index}]"),
    }
}

/// Checks that `node` may write `record`; on refusal, names the field.
fn authorize(node: &kechuang_types::NodeId, record: &Record) -> Result<(), &'static str> {
    match record.body {
        Body::Demand(_) | Body::Outcome(_) | Body::Expert(_) | Body::Bid(_) if record.meta.owner == *node => Ok(()),
        Body::Demand(_) | Body::Outcome(_) | Body::Expert(_) | Body::Bid(_) => Err("owner"),
        Body::Match(_) => Err("match"),
    }
}
