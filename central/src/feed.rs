//! Per-node feeds: what each node must see, cut from central's change log
//! by the visibility rules and streamed live.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
/// Most encoded bytes of records in one feed message, well under the message limit.
const BATCH_BYTES: usize = kechuang_types::limits::MESSAGE_BYTES / 2;

/// Which nodes have a feed open right now; when a feed closes, the node's
/// last contact is noted in the store.
#[derive(Debug)]
pub struct Connections {
    open: Mutex<HashMap<NodeId, usize>>,
    store: Arc<CentralStore>,
}

impl Connections {
    /// No feed open yet.
    pub fn new(store: Arc<CentralStore>) -> Self {
        Self { open: Mutex::default(), store }
    }

    /// How many feeds `node` has open.
    pub fn open_feeds(&self, node: &NodeId) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).get(node).copied().unwrap_or(0)
    }

    /// Whether `node` has a feed open.
    pub fn is_connected(&self, node: &NodeId) -> bool {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).get(node).is_some_and(|n| *n > 0)
    }

    fn enter(self: &Arc<Self>, node: &NodeId) -> ConnectionGuard {
        *self.open.lock().unwrap_or_else(|p| p.into_inner()).entry(node.clone()).or_default() += 1;
        ConnectionGuard { connections: self.clone(), node: node.clone() }
    }
}

struct ConnectionGuard {
    connections: Arc<Connections>,
    node: NodeId,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.node) {
            *n = n.saturating_sub(1);
        }
        drop(open);
        if let Err(e) = self.connections.store.note_seen(&self.node, Timestamp::now()) {
            warn!(node = %self.node, error = %e, "noting the node's last contact failed");
        }
    }
}

/// The sending half of one node's feed stream.
pub type Sender = mpsc::Sender<Result<pb::FeedBatch, Status>>;

/// Streams `peer`'s feed from `cursor` into `tx` until the node goes away
/// or central shuts down.
pub async fn serve(state: Arc<State>, peer: Peer, mut cursor: u64, tx: Sender, shutdown: CancellationToken) {
    let _guard = state.connections.enter(&peer.id);
    let mut end = state.tail.subscribe();
    let mut revocations = state.trust.subscribe();
    if cursor > state.store.head() {
        warn!(node = %peer.id, cursor, head = state.store.head(), "feed cursor is ahead of central's log; resending from the start");
        cursor = 0;
    }
    // Nothing announced yet: a caught-up node hears so once when its feed opens.
    let mut announced = None;
    loop {
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
                    if tx.send(Ok(pb::FeedBatch { records, cursor: at, caught_up })).await.is_err() {
                        return;
                    }
                    kechuang_store::crash::point("feed-sent");
                }
                announced = Some(next);
            }
            cursor = next;
            continue;
        }
        if announced != Some(cursor) {
            // Caught up: let the node persist how far it has been scanned.
            if tx.send(Ok(pb::FeedBatch { records: vec![], cursor, caught_up: true })).await.is_err() {
                return;
            }
            announced = Some(cursor);
        }
        tokio::select! {
            changed = end.changed() => if changed.is_err() { return },
            _ = revocations.changed() => {}
            () = tx.closed() => return,
            () = shutdown.cancelled() => return,
        }
        if state.trust.is_revoked(&peer.id) {
            info!(node = %peer.id, "closing the feed of a revoked node");
            let _ = tx.send(Err(Status::permission_denied(format!("node {} is revoked", peer.id)))).await;
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
