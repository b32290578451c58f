//! The order a node's pipelined pushes are applied in. A node may send its
//! next batch before the one before is acknowledged, so that the batch
//! travels and is decoded while central applies its predecessor; central
//! applies each batch once the one before it is applied, whatever order
//! their calls were scheduled in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kechuang_types::NodeId;
use tokio::sync::watch;
use tonic::Status;

/// How long a batch waits for the one before it. A batch still out of
/// turn after that is judged on its own, and refused as out of sequence.
const PATIENCE: Duration = Duration::from_secs(5);

/// A node's batches that may wait for their turn at once; more are
/// refused, so one node cannot park unbounded decoded batches in central.
pub const WAITING: usize = 4;

/// Each node's progress through its pushes, as this central instance saw it.
#[derive(Debug, Default)]
pub struct Turns {
    lanes: Mutex<HashMap<NodeId, Arc<Lane>>>,
}

#[derive(Debug)]
struct Lane {
    progress: watch::Sender<Progress>,
    waiting: AtomicUsize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// The last sequence applied; `None` until the node's session says.
    applied: Option<u64>,
    /// Counts the node's batches that were refused or failed, and its new
    /// sessions: a batch waiting behind one of those goes at once.
    broken: u64,
}

impl Turns {
    /// A node opened a session with central at `acked`: its next batch
    /// starts after it, and any batch of an earlier session stops waiting.
    pub fn session(&self, node: &NodeId, acked: u64) {
        self.lane(node).progress.send_modify(|p| {
            p.applied = Some(acked);
            p.broken += 1;
        });
    }

    /// Waits until the batch starting at `first` is next for `node`: the
    /// batch before it was applied, or refused, or never came in time.
    /// Refuses (RESOURCE_EXHAUSTED) when too many of its batches wait.
    pub async fn wait(&self, node: &NodeId, first: u64) -> Result<(), Status> {
        let lane = self.lane(node);
        let mut progress = lane.progress.subscribe();
        let seen = *progress.borrow_and_update();
        let next = |p: &Progress| p.applied.is_none_or(|applied| first <= applied + 1) || p.broken != seen.broken;
        if next(&seen) {
            return Ok(());
        }
        if lane.waiting.fetch_add(1, Ordering::AcqRel) >= WAITING {
            lane.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Status::resource_exhausted(format!(
                "more than {WAITING} pushes of this node wait for the ones before them"
            )));
        }
        let _ = tokio::time::timeout(PATIENCE, progress.wait_for(next)).await;
        lane.waiting.fetch_sub(1, Ordering::AcqRel);
        Ok(())
    }

    /// `node`'s batch up to `last` was applied: the next may go.
    pub fn applied(&self, node: &NodeId, last: u64) {
        self.lane(node).progress.send_modify(|p| p.applied = Some(p.applied.map_or(last, |a| a.max(last))));
    }

    /// `node`'s batch was refused or failed: the batches after it go, to be
    /// judged out of sequence.
    pub fn broken(&self, node: &NodeId) {
        self.lane(node).progress.send_modify(|p| p.broken += 1);
    }

    fn lane(&self, node: &NodeId) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes
            .entry(node.clone())
            .or_insert_with(|| {
                Arc::new(Lane { progress: watch::Sender::new(Progress::default()), waiting: AtomicUsize::new(0) })
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeId {
        NodeId::parse("node", "sz").expect("a node id")
    }

    #[tokio::test]
    async fn a_batch_waits_for_the_one_before_it() {
        let turns = Arc::new(Turns::default());
        turns.session(&node(), 10);
        turns.wait(&node(), 11).await.expect("next in turn");
        let second = tokio::spawn({
            let turns = turns.clone();
            async move { turns.wait(&node(), 21).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "the second batch went before the first was applied");
        turns.applied(&node(), 20);
        second.await.expect("joined").expect("in turn");
    }

    #[tokio::test]
    async fn a_refused_batch_lets_the_ones_after_it_go() {
        let turns = Arc::new(Turns::default());
        turns.session(&node(), 0);
        let second = tokio::spawn({
            let turns = turns.clone();
            async move { turns.wait(&node(), 11).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished());
        turns.broken(&node());
        second.await.expect("joined").expect("let go");
    }

    #[tokio::test]
    async fn a_node_cannot_park_more_than_its_share() {
        let turns = Arc::new(Turns::default());
        turns.session(&node(), 0);
        let waiting: Vec<_> = (0..WAITING as u64)
            .map(|i| {
                let turns = turns.clone();
                tokio::spawn(async move { turns.wait(&node(), 100 + i).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = turns.wait(&node(), 200).await.expect_err("one too many");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        turns.session(&node(), 0);
        for w in waiting {
            w.await.expect("joined").expect("a new session lets them go");
        }
    }

    #[tokio::test]
    async fn a_node_without_a_session_here_is_not_held() {
        let turns = Turns::default();
        turns.wait(&node(), 500).await.expect("judged at once");
    }
}
