//! The recent end of central's change log, read from the store once and
//! shared by every open feed: with a thousand nodes following the head, a
//! change is read and decoded once, not a thousand times. A feed whose
//! cursor is older than the window reads the store itself.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kechuang_types::Record;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::server::State;

/// Log entries kept in memory (about 1.5 KB each).
const CAPACITY: usize = 8_192;
/// Log entries read from the store at a time.
const READ_CHUNK: usize = 2_048;

/// The shared window over the end of the log.
#[derive(Debug)]
pub struct Tail {
    window: RwLock<Window>,
    end: watch::Sender<u64>,
}

/// Entries at log positions in `(start, end]`, superseded ones left out.
#[derive(Debug)]
struct Window {
    start: u64,
    end: u64,
    entries: VecDeque<(u64, Arc<Record>)>,
}

impl Tail {
    /// An empty window at log position `head`.
    pub fn new(head: u64) -> Self {
        Self {
            window: RwLock::new(Window { start: head, end: head, entries: VecDeque::new() }),
            end: watch::channel(head).0,
        }
    }

    /// Follows the log position the window reaches.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.end.subscribe()
    }

    /// About `limit` records after `cursor` (never part of one log
    /// position's records) and the position to resume from, or `None` when
    /// `cursor` is older than the window.
    pub fn after(&self, cursor: u64, limit: usize) -> Option<(Vec<Arc<Record>>, u64)> {
        let window = self.window.read().unwrap_or_else(|p| p.into_inner());
        if cursor < window.start {
            return None;
        }
        let first = window.entries.partition_point(|(position, _)| *position <= cursor);
        let mut taken: Vec<Arc<Record>> = Vec::new();
        let mut last = None;
        for (position, record) in window.entries.range(first..) {
            if taken.len() >= limit && last != Some(*position) {
                return Some((taken, last.unwrap_or(cursor)));
            }
            taken.push(record.clone());
            last = Some(*position);
        }
        Some((taken, window.end.max(cursor)))
    }

    fn end(&self) -> u64 {
        self.window.read().unwrap_or_else(|p| p.into_inner()).end
    }

    fn extend(&self, entries: Vec<(u64, Record)>, upto: u64) {
        {
            let mut window = self.window.write().unwrap_or_else(|p| p.into_inner());
            window.entries.extend(entries.into_iter().map(|(position, record)| (position, Arc::new(record))));
            window.end = upto;
            while window.entries.len() > CAPACITY {
                let Some(&(oldest, _)) = window.entries.front() else { break };
                while window.entries.front().is_some_and(|(position, _)| *position == oldest) {
                    window.entries.pop_front();
                }
                window.start = oldest;
            }
        }
        self.end.send_replace(upto);
    }
}

/// Reads what becomes durable into the window until shutdown.
pub async fn follow(state: Arc<State>, shutdown: CancellationToken) {
    let mut durable = state.durability.subscribe();
    loop {
        let head = *durable.borrow_and_update();
        let end = state.tail.end();
        if end < head {
            let store = state.store.clone();
            match tokio::task::spawn_blocking(move || store.log_entries(end, head, READ_CHUNK)).await {
                Ok(Ok((entries, next))) => state.tail.extend(entries, next),
                failed => {
                    let error = match failed {
                        Ok(Err(e)) => e.to_string(),
                        Err(e) => e.to_string(),
                        Ok(Ok(_)) => unreachable!(),
                    };
                    warn!(%error, "reading the change log failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = shutdown.cancelled() => return,
                    }
                }
            }
            continue;
        }
        tokio::select! {
            changed = durable.changed() => if changed.is_err() { return },
            () = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(positions: &[u64]) -> Vec<(u64, Record)> {
        let record = crate::testing::demand("描述");
        positions.iter().map(|p| (*p, record.clone())).collect()
    }

    #[test]
    fn serves_what_it_holds_and_refuses_what_it_dropped() {
        let tail = Tail::new(10);
        assert_eq!(tail.after(10, 5).map(|(r, next)| (r.len(), next)), Some((0, 10)));
        tail.extend(entries(&[11, 12, 14]), 15);
        assert_eq!(tail.after(10, 5).map(|(r, next)| (r.len(), next)), Some((3, 15)));
        assert_eq!(tail.after(10, 2).map(|(r, next)| (r.len(), next)), Some((2, 12)));
        assert_eq!(tail.after(12, 5).map(|(r, next)| (r.len(), next)), Some((1, 15)));
        assert_eq!(tail.after(9, 5), None, "older than the window");
        tail.extend(entries(&[16, 16, 16]), 16);
        assert_eq!(
            tail.after(14, 1).map(|(r, next)| (r.len(), next)),
            Some((3, 16)),
            "one position's records come together"
        );

        let many: Vec<u64> = (17..17 + CAPACITY as u64 + 10).collect();
        tail.extend(entries(&many), *many.last().unwrap());
        assert!(tail.after(15, 5).is_none(), "the oldest entries left the window");
        let (records, next) = tail.after(many[20], 3).unwrap();
        assert_eq!((records.len(), next), (3, many[23]));
    }
}
