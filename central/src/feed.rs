//! Per-node feeds: what each node must see, cut from central's change log
//! by the visibility rules and streamed live. A node has one feed at a
//! time (a new one replaces the old), and a feed nobody reads for
//! `feed_stall` has its connection cut, so an unread stream never holds
//! more than a batch or two of central's memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kechuang_proto::pb;
use kechuang_store::CentralStore;
use kechuang_sync::{Peer, view_for};
use kechuang_types::{NodeId, Timestamp};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tracing::{debug, info, warn};

use crate::server::State;

/// About how many records are read per feed batch.
const BATCH_ENTRIES: usize = 512;
/// Most encoded bytes of records in one feed message: what an unread feed
/// can hold at central is a small multiple of it.
pub const BATCH_BYTES: usize = 1024 * 1024;

/// The feed each node has open, if any; when a feed closes, the node's
/// last contact is noted in the store.
#[derive(Debug)]
pub struct Feeds {
    open: Mutex<HashMap<NodeId, Open>>,
    next: std::sync::atomic::AtomicU64,
    store: Arc<CentralStore>,
}

#[derive(Debug)]
struct Open {
    generation: u64,
    replaced: CancellationToken,
    peer: Option<SocketAddr>,
}

impl Feeds {
    /// No feed open yet.
    pub fn new(store: Arc<CentralStore>) -> Self {
        Self { open: Mutex::default(), next: Default::default(), store }
    }

    /// How many feeds `node` has open (0 or 1).
    pub fn open_feeds(&self, node: &NodeId) -> usize {
        usize::from(self.is_connected(node))
    }

    /// Whether `node` has a feed open.
    pub fn is_connected(&self, node: &NodeId) -> bool {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).contains_key(node)
    }

    /// Registers `node`'s new feed from connection `peer`, replacing the
    /// one it had: the old feed is told to stop; returns its connection
    /// if that was another one (a session the node has left behind).
    fn enter(self: &Arc<Self>, node: &NodeId, peer: Option<SocketAddr>) -> (FeedGuard, Option<SocketAddr>) {
        let generation = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let replaced = CancellationToken::new();
        let open = Open { generation, replaced: replaced.clone(), peer };
        let previous = self.open.lock().unwrap_or_else(|p| p.into_inner()).insert(node.clone(), open);
        let left_behind = previous.and_then(|old| {
            old.replaced.cancel();
            old.peer.filter(|old| Some(*old) != peer)
        });
        (FeedGuard { feeds: self.clone(), node: node.clone(), generation, replaced }, left_behind)
    }
}

struct FeedGuard {
    feeds: Arc<Feeds>,
    node: NodeId,
    generation: u64,
    replaced: CancellationToken,
}

impl Drop for FeedGuard {
    fn drop(&mut self) {
        let mut open = self.feeds.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.get(&self.node).is_some_and(|o| o.generation == self.generation) {
            open.remove(&self.node);
        }
        drop(open);
        if let Err(e) = self.feeds.store.note_seen(&self.node, Timestamp::now()) {
            warn!(node = %self.node, error = %e, "noting the node's last contact failed");
        }
    }
}

/// The sending half of one node's feed stream.
pub type Sender = mpsc::Sender<Result<pb::FeedBatch, Status>>;

/// Sends `batch` unless the node has not read for `stall`: then its
/// connection is cut and `false` returned, as when the stream is gone.
pub async fn send(state: &State, peer: Option<SocketAddr>, tx: &Sender, batch: pb::FeedBatch, stall: Duration) -> bool {
    match tokio::time::timeout(stall, tx.send(Ok(batch))).await {
        Ok(sent) => sent.is_ok(),
        Err(_) => {
            if let Some(peer) = peer {
                warn!(%peer, secs = stall.as_secs_f64(), "a stream went unread: cutting its connection");
                state.gate.cut(peer);
            }
            false
        }
    }
}

/// Streams `peer`'s feed from `cursor` into `tx` until the node goes away,
/// opens another feed, or central shuts down. `connection` is where the
/// request came from.
pub async fn serve(
    state: Arc<State>,
    peer: Peer,
    connection: Option<SocketAddr>,
    mut cursor: u64,
    tx: Sender,
    shutdown: CancellationToken,
) {
    let (guard, left_behind) = state.feeds.enter(&peer.id, connection);
    if let Some(old) = left_behind {
        debug!(node = %peer.id, %old, "a new feed replaces one on another connection: cutting that one");
        state.gate.cut(old);
    }
    let stall = state.feed_stall;
    let mut end = state.tail.subscribe();
    let mut revocations = state.trust.subscribe();
    if cursor > state.store.head() {
        warn!(node = %peer.id, cursor, head = state.store.head(), "feed cursor is ahead of central's log; resending from the start");
        cursor = 0;
    }
    // Nothing announced yet: a caught-up node hears so once when its feed opens.
    let mut announced = None;
    loop {
        if guard.replaced.is_cancelled() {
            let _ = tx.try_send(Err(Status::aborted("a newer feed of this node replaced this one")));
            return;
        }
        let head = *end.borrow_and_update();
        if cursor < head {
            let (views, next) = match state.tail.after(cursor, BATCH_ENTRIES) {
                Some((records, next)) => {
                    (records.iter().filter_map(|r| view_for(r, &peer)).map(Into::into).collect(), next)
                }
                None => {
                    let store = state.store.clone();
                    match tokio::task::spawn_blocking(move || store.log_after(cursor, head, BATCH_ENTRIES)).await {
                        Ok(Ok((records, next))) => {
                            (records.iter().filter_map(|r| view_for(r, &peer)).map(Into::into).collect(), next)
                        }
                        Ok(Err(e)) => {
                            let _ = tx.send(Err(crate::error::storage(e))).await;
                            return;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(crate::error::join(e))).await;
                            return;
                        }
                    }
                }
            };
            let views: Vec<pb::Record> = views;
            if !views.is_empty() {
                // One write's records may exceed a message: all but the last
                // part keep the old cursor, so a node that stops halfway
                // receives the whole write again.
                let parts = kechuang_proto::split_by_size(views, usize::MAX, BATCH_BYTES);
                let count = parts.len();
                for (i, records) in parts.into_iter().enumerate() {
                    let last = i + 1 == count;
                    let at = if last { next } else { cursor };
                    let caught_up = last && next >= *end.borrow();
                    debug!(node = %peer.id, records = records.len(), cursor = at, caught_up, "feed batch");
                    let batch = pb::FeedBatch { records, cursor: at, caught_up };
                    if !send(&state, connection, &tx, batch, stall).await {
                        return;
                    }
                    kechuang_store::crash::point("feed-sent");
                }
                announced = Some(next);
            }
            cursor = next;
            state.roster.fed(&peer.id, cursor);
            continue;
        }
        if announced != Some(cursor) {
            // Caught up: let the node persist how far it has been scanned.
            let batch = pb::FeedBatch { records: vec![], cursor, caught_up: true };
            if !send(&state, connection, &tx, batch, stall).await {
                return;
            }
            announced = Some(cursor);
            state.roster.fed(&peer.id, cursor);
        }
        tokio::select! {
            changed = end.changed() => if changed.is_err() { return },
            _ = revocations.changed() => {}
            () = guard.replaced.cancelled() => continue,
            () = tx.closed() => return,
            () = shutdown.cancelled() => return,
        }
        if state.trust.is_revoked(&peer.id) {
            info!(node = %peer.id, "closing the feed of a revoked node");
            let _ = tx.try_send(Err(Status::permission_denied(format!("node {} is revoked", peer.id))));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn long_records_are_split_into_messages_under_the_limit_in_order() {
        let long = "本成果面向产业化应用，技术成熟度高。".repeat(222);
        let records: Vec<pb::Record> = (0..1_000).map(|_| crate::testing::demand(&long).into()).collect();
        let total: usize = records.iter().map(Message::encoded_len).sum();
        assert!(total > kechuang_types::limits::MESSAGE_BYTES, "the test needs more than a message: {total}");
        let ids: Vec<_> = records.iter().map(|r| r.meta.clone()).collect();
        let parts = kechuang_proto::split_by_size(records, usize::MAX, BATCH_BYTES);
        assert!(parts.len() >= 3, "{} parts", parts.len());
        for part in &parts {
            assert!(part.iter().map(Message::encoded_len).sum::<usize>() <= BATCH_BYTES);
        }
        let again: Vec<_> = parts.into_iter().flatten().map(|r| r.meta).collect();
        assert_eq!(again, ids, "every record once, in order");
    }
}
