//! Central's store: every record, the change log that feeds are cut from,
//! the nodes central knows with how far it applied their pushes, the
//! lifecycle history, revocations and matching's cursor.
//!
//! One interface ([`CentralStore`]) over two backends: sled, embedded, for
//! central on one machine; PostgreSQL, for several central instances over
//! one (replicated) database. What a write means is decided here, once:
//! admission, merging, the lifecycle steps it takes. A backend only makes
//! one write atomic and gives it the next log position.
//!
//! Writers take turns (sled: a lock; PostgreSQL: a transaction-scoped
//! advisory lock held to commit), so log positions are assigned in commit
//! order: a reader that has seen position `p` committed will never see a
//! position below `p` commit after it. A log entry whose record has since
//! moved to a later position is skipped when read, so each record is sent
//! once per feed at its latest state.

use std::collections::HashMap;
use std::path::Path;

use kechuang_sync::{Bounds, Change, Decision, Incoming, Lookup, Peer, PushError, Refused, decide, lifecycle, merge};
use kechuang_types::{Event, NodeId, NodeKind, Record, RecordId, RecordKind, Region, Step, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::{Error, Result};

mod backup;
mod embedded;
mod postgres;

pub use backup::Manifest;

/// Who the history credits with matching's own writes; matching's writes
/// are fenced by its lease on a shared backend.
pub const MATCHING: &str = "central";

/// A node as central's registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// The node's id.
    pub id: NodeId,
    /// Its kind.
    pub kind: NodeKind,
    /// Its region.
    pub region: Region,
    /// The highest push sequence applied.
    pub acked_seq: u64,
    /// The industries a society assesses, as its certificate states them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<kechuang_types::Industry>,
}

/// What became of one push.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushed {
    /// Applied (durable once [`CentralStore::flush`] returns).
    Applied(PushOutcome),
    /// Refused: nothing of it was applied.
    Refused(Vec<Refused>),
}

/// What applying one push did.
#[derive(Debug, Clone, PartialEq)]
pub struct PushOutcome {
    /// The highest sequence applied for the node (to acknowledge).
    pub acked_seq: u64,
    /// The records that changed, as now stored.
    pub changed: Vec<Record>,
    /// The log head after the push.
    pub head: u64,
}

/// Where central's store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// An embedded sled store in this directory.
    Sled(std::path::PathBuf),
    /// A PostgreSQL database at this URL (`postgres://user@host:port/db`).
    Postgres(String),
}

impl std::fmt::Display for Backing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backing::Sled(dir) => write!(f, "sled store in {}", dir.display()),
            Backing::Postgres(url) => write!(f, "PostgreSQL at {}", postgres::without_password(url)),
        }
    }
}

/// A record as the store keeps it: with the log position it was last written at.
#[derive(Serialize, Deserialize)]
pub(crate) struct Stored {
    pub(crate) position: u64,
    pub(crate) record: Record,
}

impl Stored {
    /// Decodes a stored record with its position.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        let (position, record) = crate::codec::decode_positioned("record", bytes)?;
        Ok(Self { position, record })
    }
}

/// What one write changes, decided before the backend commits it.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Who writes: a node's id, or `central…`.
    pub by: String,
    /// Records, merged, to store at the write's log position.
    pub records: Vec<Record>,
    /// The lifecycle steps the write takes, for the history.
    pub steps: Vec<(RecordId, RecordKind, Step)>,
    /// Registry entries to store.
    pub nodes: Vec<NodeEntry>,
    /// Demands' routing states.
    pub routing: Vec<(RecordId, Vec<u8>)>,
    /// New (demand, supply, match) pairs.
    pub pairs: Vec<(RecordId, RecordId, RecordId)>,
}

impl Batch {
    /// The history's events for this write's steps, numbered after `last`.
    pub(crate) fn events(&self, last: u64, at: Timestamp) -> Vec<Event> {
        let by = &self.by;
        (self.steps.iter().zip(last + 1..))
            .map(|((record, kind, step), seq)| Event {
                seq,
                record: *record,
                kind: *kind,
                step: step.clone(),
                by: by.clone(),
                at,
            })
            .collect()
    }
}

/// Reads inside a write, consistent with it (writers take turns).
pub(crate) trait Txn {
    /// Loads these records ahead of [`Txn::get`] in one go.
    fn prefetch(&mut self, ids: &[RecordId]) -> Result<()>;
    /// One record by id.
    fn get(&mut self, id: &RecordId) -> Result<Option<Record>>;
    /// A registry entry.
    fn node(&mut self, id: &NodeId) -> Result<Option<NodeEntry>>;
    /// The match proposed for (demand, supply), if any.
    fn pair(&mut self, demand: &RecordId, supply: &RecordId) -> Result<Option<RecordId>>;
}

/// One piece of a backup being restored, in file order.
pub(crate) enum Restoring {
    /// Records with their positions; a later line for the same id wins.
    Records(Vec<Stored>),
    /// Events of the history.
    Events(Vec<Event>),
    /// Registered nodes and when they were last seen.
    Nodes(Vec<(NodeEntry, Option<Timestamp>)>),
    /// Demands' routing states.
    Routing(Vec<(RecordId, Vec<u8>)>),
    /// (demand, supply, match) pairs.
    Pairs(Vec<(RecordId, RecordId, RecordId)>),
    /// Revoked nodes.
    Revoked(Vec<NodeId>),
    /// The end: rebuild the log from the records' positions up to `head`.
    Finish {
        /// Matching's cursor.
        matched_upto: u64,
        /// The log head of the copy.
        head: u64,
    },
}

/// Where a consistent copy of the store is written to.
pub(crate) trait Sink {
    /// A record at its log position (a later one for the same id wins).
    fn record(&mut self, stored: &Stored) -> Result<()>;
    /// An event of the history.
    fn event(&mut self, event: &Event) -> Result<()>;
    /// A registered node.
    fn node(&mut self, node: NodeEntry, last_seen: Option<Timestamp>) -> Result<()>;
    /// A demand's routing state.
    fn routing(&mut self, demand: RecordId, state: &[u8]) -> Result<()>;
    /// A (demand, supply, match) pair.
    fn pair(&mut self, demand: RecordId, supply: RecordId, id: RecordId) -> Result<()>;
    /// A revoked node.
    fn revoked(&mut self, node: &NodeId) -> Result<()>;
}

/// The instant a copy is of.
pub(crate) struct Snapshot {
    pub head: u64,
    pub last_event: u64,
    pub matched_upto: u64,
}

/// A storage engine for central: primitives only, the meaning lives in
/// [`CentralStore`].
pub(crate) trait Backend: Send + Sync + std::fmt::Debug {
    /// Runs `work` as the only writer, then commits the batch it returns
    /// (nothing when `None`) at the next log position if it has records.
    /// `fenced` writes are matching's: refused unless this instance holds
    /// the matching lease. Returns the batch and the log head after it.
    fn transact(
        &self,
        fenced: bool,
        work: &mut dyn FnMut(&mut dyn Txn) -> Result<Option<Batch>>,
    ) -> Result<Option<(Batch, u64)>>;
    fn get(&self, id: &RecordId) -> Result<Option<Record>>;
    fn node(&self, id: &NodeId) -> Result<Option<NodeEntry>>;
    fn nodes(&self) -> Result<Vec<NodeEntry>>;
    fn note_seen(&self, id: &NodeId, at: Timestamp) -> Result<()>;
    fn last_seen(&self, id: &NodeId) -> Result<Option<Timestamp>>;
    fn revoke(&self, node: &NodeId) -> Result<()>;
    fn revoked(&self) -> Result<Vec<NodeId>>;
    fn routing(&self, demand: &RecordId) -> Result<Option<Vec<u8>>>;
    fn routing_all(&self) -> Result<Vec<(RecordId, Vec<u8>)>>;
    fn pairs(&self, of: &RecordId, by_supply: bool) -> Result<Vec<(RecordId, RecordId)>>;
    fn matched_upto(&self) -> Result<u64>;
    fn set_matched_upto(&self, position: u64) -> Result<()>;
    fn head(&self) -> u64;
    fn log_entries(&self, cursor: u64, upto: u64, limit: usize) -> Result<(Vec<(u64, Record)>, u64)>;
    fn logged_between(&self, cursor: u64, upto: u64, cap: u64) -> Result<u64>;
    fn history_of(&self, record: &RecordId) -> Result<Vec<Event>>;
    fn events_page(&self, after: u64, limit: usize) -> Result<Vec<Event>>;
    fn records_page(&self, after: Option<&RecordId>, limit: usize) -> Result<Vec<Record>>;
    fn size_on_disk(&self) -> Result<u64>;
    fn flush(&self) -> Result<()>;
    fn snapshot(&self, sink: &mut dyn Sink) -> Result<Snapshot>;
    fn is_empty(&self) -> Result<bool>;
    fn restore(&self, part: Restoring) -> Result<()>;
    fn changes(&self) -> Option<watch::Receiver<u64>>;
    fn revocations(&self) -> Option<watch::Receiver<u64>>;
    fn hold_lease(&self) -> Result<bool>;
    fn release_lease(&self);
}

/// Central's store.
#[derive(Debug)]
pub struct CentralStore {
    backend: Box<dyn Backend>,
}

/// The committed records of a write, as admission reads them.
struct TxnLookup<'a>(&'a mut dyn Txn);

impl Lookup for TxnLookup<'_> {
    type Error = Error;
    fn get(&mut self, id: &RecordId) -> Result<Option<Record>> {
        self.0.get(id)
    }
}

/// A write being assembled: what it changed so far (later changes of the
/// same record merge with earlier ones) and the steps it takes.
struct Write {
    pending: HashMap<RecordId, Record>,
    order: Vec<RecordId>,
    steps: Vec<(RecordId, RecordKind, Step)>,
}

impl Write {
    fn new() -> Self {
        Self { pending: HashMap::new(), order: Vec::new(), steps: Vec::new() }
    }

    /// Merges `record` over what is held, noting the lifecycle steps it takes.
    fn merge(&mut self, tx: &mut dyn Txn, record: &Record) -> Result<()> {
        let id = record.meta.id;
        let held = match self.pending.get(&id) {
            Some(pending) => Some(pending.clone()),
            None => tx.get(&id)?,
        };
        if let Some(merged) = merge(held.as_ref(), record) {
            let kind = merged.kind();
            self.steps.extend(lifecycle::steps(held.as_ref(), &merged).into_iter().map(|s| (id, kind, s)));
            if self.pending.insert(id, merged).is_none() {
                self.order.push(id);
            }
        }
        Ok(())
    }

    fn into_batch(mut self, by: &str) -> Batch {
        let records =
            self.order.iter().map(|id| self.pending.remove(id).expect("every ordered id is pending")).collect();
        Batch { by: by.to_owned(), records, steps: self.steps, ..Batch::default() }
    }
}

impl CentralStore {
    /// Opens (or creates) an embedded store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        Ok(Self { backend: Box::new(embedded::SledBackend::open(dir)?) })
    }

    /// Connects to the PostgreSQL database at `url`, creating the schema if
    /// it is missing.
    pub fn open_postgres(url: &str) -> Result<Self> {
        Ok(Self { backend: Box::new(postgres::PgBackend::open(url)?) })
    }

    /// Opens the store `backing` names.
    pub fn open_backing(backing: &Backing) -> Result<Self> {
        match backing {
            Backing::Sled(dir) => Self::open(dir),
            Backing::Postgres(url) => Self::open_postgres(url),
        }
    }

    /// Registers a node as its certificate states it, or updates its kind,
    /// region and fields; keeps its sequence.
    pub fn register(&self, peer: &Peer) -> Result<NodeEntry> {
        let Peer { id, kind, region, fields } = peer;
        let (kind, region) = (*kind, *region);
        let mut entry = None;
        self.backend.transact(false, &mut |tx| {
            let held = tx.node(id)?;
            if let Some(same) = held.as_ref().filter(|e| e.kind == kind && e.region == region && e.fields == *fields) {
                entry = Some(same.clone());
                return Ok(None);
            }
            let acked_seq = held.map_or(0, |n| n.acked_seq);
            let new = NodeEntry { id: id.clone(), kind, region, acked_seq, fields: fields.clone() };
            entry = Some(new.clone());
            Ok(Some(Batch { nodes: vec![new], ..Batch::default() }))
        })?;
        Ok(entry.expect("the write always decides the entry"))
    }

    /// The registry entry of a node.
    pub fn node(&self, id: &NodeId) -> Result<Option<NodeEntry>> {
        self.backend.node(id)
    }

    /// Notes that `id` was in contact at `at`: skipped within a minute of
    /// the last note, and not flushed (informational, for operators).
    pub fn note_seen(&self, id: &NodeId, at: Timestamp) -> Result<()> {
        self.backend.note_seen(id, at)
    }

    /// When `id` was last noted in contact, to the minute.
    pub fn last_seen(&self, id: &NodeId) -> Result<Option<Timestamp>> {
        self.backend.last_seen(id)
    }

    /// Records that `node` is revoked; durable on return, and announced to
    /// every instance sharing the store.
    pub fn revoke(&self, node: &NodeId) -> Result<()> {
        self.backend.revoke(node)
    }

    /// Every revoked node.
    pub fn revoked(&self) -> Result<Vec<NodeId>> {
        self.backend.revoked()
    }

    /// Every registered node.
    pub fn nodes(&self) -> Result<Vec<NodeEntry>> {
        self.backend.nodes()
    }

    /// Applies `writer`'s push atomically, as [`kechuang_sync::decide`]
    /// judges it against what is stored: either every change is merged and
    /// the node's sequence advances, or nothing is written and the
    /// refusals come back. Call [`CentralStore::flush`] before acknowledging.
    pub fn apply_push(&self, writer: &Peer, changes: &[Change], bounds: &Bounds) -> Result<Pushed> {
        let ids: Vec<RecordId> = changes
            .iter()
            .filter_map(|(_, c)| match c {
                Incoming::Record(r) => Some(r.meta.id),
                _ => None,
            })
            .collect();
        let mut refusals = None;
        let mut acked = 0;
        let committed = self.backend.transact(false, &mut |tx| {
            let Some(mut entry) = tx.node(&writer.id)? else {
                return Err(Error::Storage(format!("node {} is not registered", writer.id)));
            };
            tx.prefetch(&ids)?;
            let (records, acked_seq) = match decide(writer, entry.acked_seq, changes, bounds, &mut TxnLookup(tx)) {
                Ok(Decision::Admitted { records, acked_seq }) => (records, acked_seq),
                Ok(Decision::Refused(refused)) => {
                    refusals = Some(refused);
                    return Ok(None);
                }
                Err(PushError::Lookup(e)) => return Err(e),
                Err(e @ PushError::Sequence { .. }) => return Err(Error::Sequence(e.to_string())),
            };
            entry.acked_seq = acked_seq;
            acked = acked_seq;
            let mut write = Write::new();
            for record in &records {
                write.merge(tx, record)?;
            }
            let mut batch = write.into_batch(writer.id.as_str());
            batch.nodes.push(entry);
            Ok(Some(batch))
        })?;
        match (committed, refusals) {
            (Some((batch, head)), _) => {
                Ok(Pushed::Applied(PushOutcome { acked_seq: acked, changed: batch.records, head }))
            }
            (None, Some(refused)) => Ok(Pushed::Refused(refused)),
            (None, None) => Err(Error::Storage("a push decided nothing".into())),
        }
    }

    /// Stores what matching decided, atomically: new or changed matches
    /// (merged and logged), each demand's routing state (opaque to the
    /// store), and the match id of each new (demand, supply) pair.
    pub fn apply_matching(
        &self,
        matches: &[Record],
        routing: &[(RecordId, Vec<u8>)],
        pairs: &[(RecordId, RecordId, RecordId)],
    ) -> Result<Vec<Record>> {
        self.apply_central(MATCHING, matches, routing, pairs)
    }

    /// Like [`CentralStore::apply_matching`], for an act of central's that
    /// the history credits to `by` (`central:` and the operator). Only
    /// matching's own writes ([`MATCHING`]) need the matching lease.
    pub fn apply_central(
        &self,
        by: &str,
        matches: &[Record],
        routing: &[(RecordId, Vec<u8>)],
        pairs: &[(RecordId, RecordId, RecordId)],
    ) -> Result<Vec<Record>> {
        let ids: Vec<RecordId> = matches.iter().map(|r| r.meta.id).collect();
        let committed = self.backend.transact(by == MATCHING, &mut |tx| {
            tx.prefetch(&ids)?;
            // A pair is proposed once: a new match for a pair another writer
            // proposed meanwhile is dropped, whoever wrote first.
            let mut new_pairs = Vec::with_capacity(pairs.len());
            let mut dropped = std::collections::HashSet::new();
            for &(demand, supply, id) in pairs {
                match tx.pair(&demand, &supply)? {
                    Some(held) if held != id => {
                        dropped.insert(id);
                    }
                    _ => new_pairs.push((demand, supply, id)),
                }
            }
            let mut write = Write::new();
            for record in matches.iter().filter(|r| !dropped.contains(&r.meta.id)) {
                write.merge(tx, record)?;
            }
            let mut batch = write.into_batch(by);
            batch.routing = routing.to_vec();
            batch.pairs = new_pairs;
            Ok(Some(batch))
        })?;
        Ok(committed.map(|(batch, _)| batch.records).unwrap_or_default())
    }

    /// A demand's routing state, as last stored.
    pub fn routing(&self, demand: &RecordId) -> Result<Option<Vec<u8>>> {
        self.backend.routing(demand)
    }

    /// Every demand's routing state.
    pub fn routing_all(&self) -> Result<Vec<(RecordId, Vec<u8>)>> {
        self.backend.routing_all()
    }

    /// The matches proposed for `demand`: (supply, match id).
    pub fn pairs_of(&self, demand: &RecordId) -> Result<Vec<(RecordId, RecordId)>> {
        self.backend.pairs(demand, false)
    }

    /// The matches that propose `supply`: (demand, match id).
    pub fn pairs_of_supply(&self, supply: &RecordId) -> Result<Vec<(RecordId, RecordId)>> {
        self.backend.pairs(supply, true)
    }

    /// How far matching has processed the log, as last recorded.
    pub fn matched_upto(&self) -> Result<u64> {
        self.backend.matched_upto()
    }

    /// Records that matching has processed the log up to `position`
    /// (durable with the next flush); on a shared backend, only while this
    /// instance holds the matching lease.
    pub fn set_matched_upto(&self, position: u64) -> Result<()> {
        self.backend.set_matched_upto(position)
    }

    /// The last log position committed, as this instance knows it.
    pub fn head(&self) -> u64 {
        self.backend.head()
    }

    /// Reads the log after `cursor` up to position `upto`: about `limit`
    /// records (never half of one write's entry), each at its latest state
    /// (records since moved to a later position are skipped), with the
    /// position to resume from.
    pub fn log_after(&self, cursor: u64, upto: u64, limit: usize) -> Result<(Vec<Record>, u64)> {
        let (entries, next) = self.log_entries(cursor, upto, limit)?;
        Ok((entries.into_iter().map(|(_, record)| record).collect(), next))
    }

    /// How many record writes the log holds after `cursor` up to `upto`,
    /// counting no further than `cap`: how far behind a feed at `cursor` is,
    /// at most (not every write is for every node).
    pub fn logged_between(&self, cursor: u64, upto: u64, cap: u64) -> Result<u64> {
        if cursor >= upto {
            return Ok(0);
        }
        self.backend.logged_between(cursor, upto, cap)
    }

    /// Like [`CentralStore::log_after`], with each record's log position.
    /// Reading to the end of the range resumes from `upto`.
    pub fn log_entries(&self, cursor: u64, upto: u64, limit: usize) -> Result<(Vec<(u64, Record)>, u64)> {
        if cursor >= upto {
            return Ok((Vec::new(), cursor));
        }
        self.backend.log_entries(cursor, upto, limit)
    }

    /// The history of one match or bid, oldest first.
    pub fn history_of(&self, record: &RecordId) -> Result<Vec<Event>> {
        self.backend.history_of(record)
    }

    /// Calls `f` on every event of the history after `after`, in order,
    /// until it returns false.
    pub fn events_after(&self, after: u64, mut f: impl FnMut(Event) -> bool) -> Result<()> {
        let mut after = after;
        loop {
            let page = self.backend.events_page(after, PAGE)?;
            let Some(last) = page.last().map(|e| e.seq) else { return Ok(()) };
            let full = page.len() == PAGE;
            for event in page {
                if !f(event) {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
            after = last;
        }
    }

    /// One record by id.
    pub fn get(&self, id: &RecordId) -> Result<Option<Record>> {
        self.backend.get(id)
    }

    /// Every record, in id order, read a page at a time.
    pub fn records(&self) -> impl Iterator<Item = Result<Record>> + '_ {
        self.records_after(None).map(|r| r.map(|(_, record)| record))
    }

    /// Every record after `after` in id order (all when `None`).
    pub fn records_after(&self, after: Option<&RecordId>) -> impl Iterator<Item = Result<(RecordId, Record)>> + '_ {
        let mut next = after.copied();
        let mut page = std::collections::VecDeque::new();
        let mut done = false;
        std::iter::from_fn(move || {
            if page.is_empty() && !done {
                match self.backend.records_page(next.as_ref(), PAGE) {
                    Ok(records) => {
                        done = records.len() < PAGE;
                        next = records.last().map(|r| r.meta.id).or(next);
                        page.extend(records);
                    }
                    Err(e) => {
                        done = true;
                        return Some(Err(e));
                    }
                }
            }
            page.pop_front().map(|record: Record| Ok((record.meta.id, record)))
        })
    }

    /// Calls `f` on every record.
    pub fn for_each(&self, mut f: impl FnMut(Record)) -> Result<()> {
        for record in self.records() {
            f(record?);
        }
        Ok(())
    }

    /// The store's size on disk, in bytes.
    pub fn size_on_disk(&self) -> Result<u64> {
        self.backend.size_on_disk()
    }

    /// Makes every write so far durable (a shared backend's writes are
    /// durable when they return).
    pub fn flush(&self) -> Result<()> {
        self.backend.flush()
    }

    /// Follows the log head as other instances sharing the store commit;
    /// `None` for a store only this process writes.
    pub fn changes(&self) -> Option<watch::Receiver<u64>> {
        self.backend.changes()
    }

    /// Wakes when any instance sharing the store revokes a node; `None`
    /// for a store only this process writes.
    pub fn revocations(&self) -> Option<watch::Receiver<u64>> {
        self.backend.revocations()
    }

    /// Takes, or confirms this instance still holds, the right to run
    /// matching: always for an embedded store; on a shared one, the one
    /// instance holding the database's lease.
    pub fn hold_lease(&self) -> Result<bool> {
        self.backend.hold_lease()
    }

    /// Gives the matching lease up (at shutdown), so another instance can
    /// take over at once.
    pub fn release_lease(&self) {
        self.backend.release_lease();
    }
}

/// Records or events read from a backend at a time.
const PAGE: usize = 1_000;

#[cfg(test)]
mod tests;
