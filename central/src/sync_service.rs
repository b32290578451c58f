//! The `Sync` service: nodes open a session, push their changes, follow
//! their feed and ask what they should hold. Every call is identified by
//! the node's certificate and rate-limited per node.

use std::pin::Pin;
use std::sync::Arc;

use kechuang_proto::pb::{self, sync_server::Sync};
use kechuang_store::crash;
use kechuang_sync::{Digest, Peer, RANGES, authorize, held_by, range_of};
use kechuang_types::{Bid, Body, Date, Record, RecordId, limits};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::{debug, info, warn};

use crate::error;
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

    /// A new bid must answer an open challenge of the owner it names, before
    /// its deadline, and offer the bidder's own outcomes or experts.
    fn check_bid(&self, peer: &Peer, record: &Record, bid: &Bid) -> Result<(), kechuang_types::Error> {
        use kechuang_types::Error;
        let store = &self.state.store;
        let storage = |e: kechuang_store::Error| Error::invalid("demand", "", format!("cannot be checked: {e}"));
        if store.get(&record.meta.id).map_err(storage)?.is_some() || record.meta.owner != peer.id {
            return Ok(()); // an update, or not the bidder's: ownership rules apply
        }
        let demand = store.get(&bid.demand).map_err(storage)?;
        let Some(Record { body: Body::Demand(d), meta }) = demand else {
            return Err(Error::invalid("demand", bid.demand.to_string(), "no such demand"));
        };
        if !d.is_challenge {
            return Err(Error::invalid("demand", bid.demand.to_string(), "not an open challenge (揭榜挂帅)"));
        }
        if d.deadline.is_some_and(|deadline| deadline < Date::today()) {
            return Err(Error::invalid("demand", bid.demand.to_string(), "the challenge's deadline has passed"));
        }
        if meta.owner != bid.demand_owner {
            return Err(Error::invalid("demand_owner", bid.demand_owner.as_str(), "not the demand's owner"));
        }
        if bid.outcomes.is_empty() && bid.experts.is_empty() {
            return Err(Error::missing("outcomes"));
        }
        for (field, ids) in [("outcomes", &bid.outcomes), ("experts", &bid.experts)] {
            for (i, id) in ids.iter().enumerate() {
                let owned = store.get(id).map_err(storage)?.is_some_and(|r| r.meta.owner == peer.id);
                if !owned {
                    return Err(Error::invalid(
                        format!("{field}[{i}]"),
                        id.to_string(),
                        "not one of the bidder's records",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The calling node, admitted by certificate, revocation list and rate limit.
    fn admit<T>(&self, request: &Request<T>) -> Result<Peer, Status> {
        let peer = self.state.trust.peer(request)?;
        self.state.limit.check(&peer.id)?;
        Ok(peer)
    }
}

type FeedStream = Pin<Box<dyn Stream<Item = Result<pb::FeedBatch, Status>> + Send>>;

#[tonic::async_trait]
impl Sync for SyncService {
    async fn hello(&self, request: Request<pb::HelloRequest>) -> Result<Response<pb::HelloResponse>, Status> {
        let peer = self.admit(&request)?;
        let store = self.state.store.clone();
        let p = peer.clone();
        let entry = tokio::task::spawn_blocking(move || store.register(&p.id, p.kind, p.region))
            .await
            .map_err(error::join)?
            .map_err(error::storage)?;
        // The sequence reported acknowledges: it must be on disk, whoever applied it.
        self.state.durability.wait().await.map_err(error::storage)?;
        if let Err(e) = self.state.store.note_seen(&peer.id, kechuang_types::Timestamp::now()) {
            warn!(node = %peer.id, error = %e, "noting the node's contact failed");
        }
        info!(node = %peer.id, kind = %peer.kind, region = %peer.region, acked = entry.acked_seq, "node session opened");
        Ok(Response::new(pb::HelloResponse { acked_seq: entry.acked_seq }))
    }

    async fn push(&self, request: Request<pb::PushRequest>) -> Result<Response<pb::PushResponse>, Status> {
        let peer = self.admit(&request)?;
        let changes = request.into_inner().changes;
        if changes.len() > limits::BATCH {
            return Err(Status::invalid_argument(format!(
                "changes: {} in one batch, at most {}",
                changes.len(),
                limits::BATCH
            )));
        }
        let mut batch = Vec::with_capacity(changes.len());
        let mut labels = Vec::with_capacity(changes.len());
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
            if let Body::Bid(bid) = &record.body {
                self.check_bid(&peer, &record, bid).map_err(|e| error::invalid(&label, e))?;
            }
            batch.push((change.seq, record));
            labels.push(label);
        }
        // Applied and flushed in a task of its own: if the node goes away
        // mid-call, its write is still made durable and reaches the feeds.
        let state = self.state.clone();
        let writer = peer.id.clone();
        let applied = tokio::spawn(async move {
            let store = state.store.clone();
            let applied = tokio::task::spawn_blocking(move || {
                let check = |held: Option<&Record>, incoming: &Record| {
                    authorize(&writer, held, incoming).map_err(|denied| denied.field.to_owned())
                };
                store.apply_push(&writer, &batch, &check)
            })
            .await;
            if let Ok(Ok(_)) = &applied {
                crash::point("push-applied");
                state.durability.wait().await?;
                crash::point("push-durable");
            }
            Ok::<_, kechuang_store::Error>(applied)
        })
        .await
        .map_err(error::join)?
        .map_err(error::storage)?
        .map_err(error::join)?;
        let outcome = match applied {
            Ok(outcome) => outcome,
            Err(kechuang_store::Error::Rejected { index, reason }) => {
                let label = labels.get(index).map_or("changes", String::as_str);
                info!(node = %peer.id, %label, field = %reason, "push refused");
                return Err(Status::permission_denied(format!(
                    "{label}: node {} may not write {reason}; nothing of this batch was applied",
                    peer.id
                )));
            }
            Err(e) => return Err(error::storage(e)),
        };
        let acked_seq = outcome.acked_seq;
        debug!(node = %peer.id, acked = acked_seq, changed = outcome.changed.len(), "push applied");
        Ok(Response::new(pb::PushResponse { acked_seq }))
    }

    type FeedStream = FeedStream;

    async fn feed(&self, request: Request<pb::FeedRequest>) -> Result<Response<Self::FeedStream>, Status> {
        let peer = self.admit(&request)?;
        let cursor = request.into_inner().cursor;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        info!(node = %peer.id, cursor, "feed opened");
        let state = self.state.clone();
        let shutdown = self.state.shutdown.child_token();
        self.state.tasks.spawn(crate::feed::serve(state, peer, cursor, tx, shutdown));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn digest(&self, request: Request<pb::DigestRequest>) -> Result<Response<pb::DigestResponse>, Status> {
        let peer = self.admit(&request)?;
        let head = self.state.store.head();
        if let Some(digest) = self.state.digests.get(&peer.id, head) {
            return Ok(Response::new(pb::DigestResponse { digest }));
        }
        let store = self.state.store.clone();
        let id = peer.id.clone();
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
        let digest = digest.to_string();
        self.state.digests.put(id, head, digest.clone());
        Ok(Response::new(pb::DigestResponse { digest }))
    }

    async fn range_digests(
        &self,
        request: Request<pb::DigestRequest>,
    ) -> Result<Response<pb::RangeDigestsResponse>, Status> {
        let peer = self.admit(&request)?;
        let store = self.state.store.clone();
        let digests = tokio::task::spawn_blocking(move || {
            let mut digests = vec![Digest::default(); RANGES];
            store.for_each(|record| {
                if let Some(view) = held_by(&record, &peer) {
                    digests[range_of(&view.meta.id)].add(&view);
                }
            })?;
            Ok::<_, kechuang_store::Error>(digests)
        })
        .await
        .map_err(error::join)?
        .map_err(error::storage)?;
        Ok(Response::new(pb::RangeDigestsResponse { digests: digests.iter().map(Digest::to_string).collect() }))
    }

    type ResyncStream = FeedStream;

    async fn resync(&self, request: Request<pb::ResyncRequest>) -> Result<Response<Self::ResyncStream>, Status> {
        let peer = self.admit(&request)?;
        let mut wanted = [false; RANGES];
        for (i, range) in request.into_inner().ranges.into_iter().enumerate() {
            let slot = wanted
                .get_mut(range as usize)
                .ok_or_else(|| Status::invalid_argument(format!("ranges[{i}]: {range} is not below {RANGES}")))?;
            *slot = true;
        }
        info!(node = %peer.id, ranges = wanted.iter().filter(|w| **w).count(), "resync requested");
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let store = self.state.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut batch = Vec::with_capacity(RESYNC_BATCH);
            let scanned = store.for_each(|record| {
                if !wanted[range_of(&record.meta.id)] {
                    return;
                }
                if let Some(view) = held_by(&record, &peer) {
                    batch.push(view.into());
                }
                if batch.len() == RESYNC_BATCH {
                    let records = std::mem::replace(&mut batch, Vec::with_capacity(RESYNC_BATCH));
                    let _ = tx.blocking_send(Ok(pb::FeedBatch { records, cursor: 0, caught_up: false }));
                }
            });
            let last = match scanned {
                Ok(()) => Ok(pb::FeedBatch { records: batch, cursor: 0, caught_up: true }),
                Err(e) => Err(error::storage(e)),
            };
            let _ = tx.blocking_send(last);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Records sent per resync batch.
const RESYNC_BATCH: usize = 512;

/// `changes[3] (record 0190…)`: how errors name the record they are about.
fn record_label(index: usize, record: &pb::Record) -> String {
    match record.meta.as_ref().and_then(|m| <[u8; 16]>::try_from(m.id.as_slice()).ok()) {
        Some(id) => format!("changes[{index}] (record {})", RecordId::from_bytes(id)),
        None => format!("changes[{index}]"),
    }
}
