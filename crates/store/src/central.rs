//! Central's store: every record, the change log that feeds are cut from,
//! and the nodes central knows with how far it applied their pushes.
//!
//! One sled tree with prefixed keys: `r` + id → log position + record,
//! `l` + position → the ids one write changed, `n` + node id → kind, region
//! and acknowledged sequence, `g` + demand id → routing state, `p` + demand
//! id + supply id → match id (and `q` + supply id + demand id → match id,
//! the same pairs by supply), `m` → how far matching has processed the
//! log, `e` + sequence → an event of the history (a lifecycle step of a
//! match or bid, written in the same batch as the step), `h` + record id +
//! sequence → nothing (the history by record). Revocations live in their
//! own tree.
//!
//! A write (a push batch, central's matching) is one atomic `Batch` with
//! one log entry for all the records it changed: sled's cost is per key
//! written, so a record costs one key, not two or three. Writers take turns
//! on the head lock (which also makes their reads consistent), so a reader
//! never sees a gap fill in behind it. A log entry whose record has since
//! moved to a later position is skipped when read, so each record is sent
//! once per feed at its latest state.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use kechuang_sync::{Bounds, Change, Decision, Lookup, Peer, PushError, Refused, decide, lifecycle, merge};
use kechuang_types::{Event, NodeId, NodeKind, Record, RecordId, RecordKind, Region, Step, Timestamp};
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode, read_u64, u64_key};
use crate::{Error, Result};

mod backup;

pub use backup::Manifest;

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
}

/// What became of one push.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushed {
    /// Applied (not yet durable).
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

#[derive(Serialize, Deserialize)]
struct Stored {
    position: u64,
    record: Record,
}

/// The committed records of a store, as admission reads them.
struct StoreLookup<'a>(&'a CentralStore);

impl Lookup for StoreLookup<'_> {
    type Error = Error;
    fn get(&mut self, id: &RecordId) -> Result<Option<Record>> {
        self.0.get(id)
    }
}

/// [`Stored`] by reference, for writing without a copy.
#[derive(Serialize)]
struct StoredRef<'a> {
    position: u64,
    record: &'a Record,
}

/// Central's store.
#[derive(Debug)]
pub struct CentralStore {
    db: sled::Db,
    main: sled::Tree,
    revoked: sled::Tree,
    /// The last assigned log position; the lock makes writers take turns.
    head: Mutex<u64>,
    /// The last event of the history (written under the head lock).
    last_event: AtomicU64,
}

/// sled's page cache: central keeps its memory bounded (sled defaults to 1 GiB).
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

const RECORD: u8 = b'r';
const LOG: u8 = b'l';
const NODE: u8 = b'n';
const ROUTING: u8 = b'g';
const PAIR: u8 = b'p';
const SUPPLY_PAIR: u8 = b'q';
const MATCHED: &[u8] = b"m";
const SEEN: u8 = b's';
const EVENT: u8 = b'e';
const HISTORY: u8 = b'h';
/// How far apart notes of a node's last contact are written (ms).
const SEEN_GRAIN_MS: i64 = 60_000;

fn key(prefix: u8, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + rest.len());
    key.push(prefix);
    key.extend_from_slice(rest);
    key
}

fn event_key(seq: u64) -> [u8; 9] {
    let mut key = [EVENT; 9];
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn log_key(position: u64) -> [u8; 9] {
    let mut key = [LOG; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

/// One write being assembled under the head lock: what it changed so far
/// (later changes of the same record merge with earlier ones) and the batch.
struct Write<'a> {
    store: &'a CentralStore,
    position: u64,
    pending: HashMap<RecordId, Record>,
    order: Vec<RecordId>,
    batch: sled::Batch,
    /// Who writes: a node's id, or `central`.
    by: &'a str,
    /// The lifecycle steps the write takes, for the history.
    steps: Vec<(RecordId, RecordKind, Step)>,
}

impl<'a> Write<'a> {
    fn new(store: &'a CentralStore, head: u64, by: &'a str) -> Self {
        Self {
            store,
            position: head + 1,
            pending: HashMap::new(),
            order: Vec::new(),
            batch: sled::Batch::default(),
            by,
            steps: Vec::new(),
        }
    }

    /// Merges `record` over what is held, noting the lifecycle steps it takes.
    fn merge(&mut self, record: &Record) -> Result<()> {
        let id = record.meta.id;
        let held = match self.pending.get(&id) {
            Some(pending) => Some(pending.clone()),
            None => self.store.get(&id)?,
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

    /// Applies the batch atomically, the history's events with it; returns
    /// the changed records and the new head.
    fn commit(mut self, head: u64) -> Result<(Vec<Record>, u64)> {
        if self.order.is_empty() {
            self.store.main.apply_batch(self.batch)?;
            return Ok((Vec::new(), head));
        }
        let at = Timestamp::now();
        let mut seq = self.store.last_event.load(Ordering::SeqCst);
        for (record, kind, step) in std::mem::take(&mut self.steps) {
            seq += 1;
            let event = Event { seq, record, kind, step, by: self.by.to_owned(), at };
            self.batch.insert(&event_key(seq), encode(&event));
            let mut index = key(HISTORY, record.as_bytes());
            index.extend_from_slice(&seq.to_be_bytes());
            self.batch.insert(index, &[]);
        }
        let mut ids = Vec::with_capacity(self.order.len() * 16);
        let mut changed = Vec::with_capacity(self.order.len());
        for id in &self.order {
            let record = self.pending.remove(id).expect("every ordered id is pending");
            self.batch
                .insert(key(RECORD, id.as_bytes()), encode(&StoredRef { position: self.position, record: &record }));
            ids.extend_from_slice(id.as_bytes());
            changed.push(record);
        }
        self.batch.insert(&log_key(self.position), ids);
        self.store.main.apply_batch(self.batch)?;
        self.store.last_event.store(seq, Ordering::SeqCst);
        Ok((changed, self.position))
    }
}

impl CentralStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new().path(dir).mode(sled::Mode::HighThroughput).cache_capacity(CACHE_BYTES).open()?;
        let main = db.open_tree("central")?;
        let last = |prefix: u8, what| -> Result<u64> {
            match main.scan_prefix([prefix]).keys().next_back() {
                Some(k) => read_u64(what, &k?[1..]),
                None => Ok(0),
            }
        };
        let head = last(LOG, "log position")?;
        let last_event = AtomicU64::new(last(EVENT, "event")?);
        Ok(Self { revoked: db.open_tree("revoked")?, main, head: Mutex::new(head), last_event, db })
    }

    /// Registers a node, or updates its kind and region; keeps its sequence.
    pub fn register(&self, id: &NodeId, kind: NodeKind, region: Region) -> Result<NodeEntry> {
        // Writers take turns, so a concurrent push's sequence is not overwritten.
        let _writer = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let held = self.node(id)?;
        if let Some(entry) = held.as_ref().filter(|e| e.kind == kind && e.region == region) {
            return Ok(entry.clone());
        }
        let acked_seq = held.map_or(0, |n| n.acked_seq);
        let entry = NodeEntry { id: id.clone(), kind, region, acked_seq };
        self.main.insert(key(NODE, id.as_str().as_bytes()), encode(&entry))?;
        Ok(entry)
    }

    /// The registry entry of a node.
    pub fn node(&self, id: &NodeId) -> Result<Option<NodeEntry>> {
        self.main.get(key(NODE, id.as_str().as_bytes()))?.map(|v| decode("node", &v)).transpose()
    }

    /// Notes that `id` was in contact at `at`: skipped within a minute of
    /// the last note, and not flushed (informational, for operators).
    pub fn note_seen(&self, id: &NodeId, at: Timestamp) -> Result<()> {
        if self.last_seen(id)?.is_some_and(|last| at.0 - last.0 < SEEN_GRAIN_MS) {
            return Ok(());
        }
        self.main.insert(key(SEEN, id.as_str().as_bytes()), &u64_key(at.0.max(0) as u64))?;
        Ok(())
    }

    /// When `id` was last noted in contact, to the minute.
    pub fn last_seen(&self, id: &NodeId) -> Result<Option<Timestamp>> {
        self.main
            .get(key(SEEN, id.as_str().as_bytes()))?
            .map(|v| read_u64("last seen", &v).map(|ms| Timestamp(ms as i64)))
            .transpose()
    }

    /// Records that `node` is revoked; durable on return.
    pub fn revoke(&self, node: &NodeId) -> Result<()> {
        self.revoked.insert(node.as_str(), &[])?;
        self.db.flush()?;
        Ok(())
    }

    /// Every revoked node.
    pub fn revoked(&self) -> Result<Vec<NodeId>> {
        self.revoked
            .iter()
            .keys()
            .map(|k| {
                let k = k?;
                NodeId::parse("revoked", &String::from_utf8_lossy(&k))
                    .map_err(|e| Error::Corrupt { what: "revoked node", reason: e.to_string() })
            })
            .collect()
    }

    /// Every registered node.
    pub fn nodes(&self) -> Result<Vec<NodeEntry>> {
        self.main.scan_prefix([NODE]).values().map(|v| decode("node", &v?)).collect()
    }

    /// Applies `writer`'s push atomically, as [`kechuang_sync::decide`]
    /// judges it against what is stored: either every change is merged and
    /// the node's sequence advances, or nothing is written and the
    /// refusals come back. Not yet durable: call [`CentralStore::flush`]
    /// before acknowledging.
    pub fn apply_push(&self, writer: &Peer, changes: &[Change], bounds: &Bounds) -> Result<Pushed> {
        let mut head = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mut entry) = self.node(&writer.id)? else {
            return Err(Error::Storage(format!("node {} is not registered", writer.id)));
        };
        let decided = decide(writer, entry.acked_seq, changes, bounds, &mut StoreLookup(self));
        let (records, acked_seq) = match decided {
            Ok(Decision::Admitted { records, acked_seq }) => (records, acked_seq),
            Ok(Decision::Refused(refused)) => return Ok(Pushed::Refused(refused)),
            Err(PushError::Lookup(e)) => return Err(e),
            Err(e @ PushError::Sequence { .. }) => return Err(Error::Sequence(e.to_string())),
        };
        entry.acked_seq = acked_seq;
        let mut write = Write::new(self, *head, writer.id.as_str());
        for record in &records {
            write.merge(record)?;
        }
        write.batch.insert(key(NODE, writer.id.as_str().as_bytes()), encode(&entry));
        let (changed, position) = write.commit(*head)?;
        *head = position;
        Ok(Pushed::Applied(PushOutcome { acked_seq, changed, head: position }))
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
        self.apply_central("central", matches, routing, pairs)
    }

    /// Like [`CentralStore::apply_matching`], for an act of central's that
    /// the history credits to `by` (`central:` and the operator).
    pub fn apply_central(
        &self,
        by: &str,
        matches: &[Record],
        routing: &[(RecordId, Vec<u8>)],
        pairs: &[(RecordId, RecordId, RecordId)],
    ) -> Result<Vec<Record>> {
        let mut head = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let mut write = Write::new(self, *head, by);
        for record in matches {
            write.merge(record)?;
        }
        for (demand, state) in routing {
            write.batch.insert(key(ROUTING, demand.as_bytes()), state.as_slice());
        }
        for (demand, supply, id) in pairs {
            let mut pair = key(PAIR, demand.as_bytes());
            pair.extend_from_slice(supply.as_bytes());
            write.batch.insert(pair, id.as_bytes().as_slice());
            let mut by_supply = key(SUPPLY_PAIR, supply.as_bytes());
            by_supply.extend_from_slice(demand.as_bytes());
            write.batch.insert(by_supply, id.as_bytes().as_slice());
        }
        let (changed, position) = write.commit(*head)?;
        *head = position;
        Ok(changed)
    }

    /// A demand's routing state, as last stored.
    pub fn routing(&self, demand: &RecordId) -> Result<Option<Vec<u8>>> {
        Ok(self.main.get(key(ROUTING, demand.as_bytes()))?.map(|v| v.to_vec()))
    }

    /// Every demand's routing state.
    pub fn routing_all(&self) -> Result<Vec<(RecordId, Vec<u8>)>> {
        let mut out = Vec::new();
        for entry in self.main.scan_prefix([ROUTING]) {
            let (k, v) = entry?;
            let id: [u8; 16] =
                k[1..].try_into().map_err(|_| Error::Corrupt { what: "routing key", reason: "not 16 bytes".into() })?;
            out.push((RecordId::from_bytes(id), v.to_vec()));
        }
        Ok(out)
    }

    /// The matches proposed for `demand`: (supply, match id).
    pub fn pairs_of(&self, demand: &RecordId) -> Result<Vec<(RecordId, RecordId)>> {
        self.pairs(PAIR, demand)
    }

    /// The matches that propose `supply`: (demand, match id).
    pub fn pairs_of_supply(&self, supply: &RecordId) -> Result<Vec<(RecordId, RecordId)>> {
        self.pairs(SUPPLY_PAIR, supply)
    }

    fn pairs(&self, prefix: u8, of: &RecordId) -> Result<Vec<(RecordId, RecordId)>> {
        let mut out = Vec::new();
        for entry in self.main.scan_prefix(key(prefix, of.as_bytes())) {
            let (k, v) = entry?;
            let bad = || Error::Corrupt { what: "pair", reason: "not 16-byte ids".into() };
            let other: [u8; 16] = k.get(17..33).and_then(|s| s.try_into().ok()).ok_or_else(bad)?;
            let id: [u8; 16] = v.as_ref().try_into().map_err(|_| bad())?;
            out.push((RecordId::from_bytes(other), RecordId::from_bytes(id)));
        }
        Ok(out)
    }

    /// How far matching has processed the log, as last recorded.
    pub fn matched_upto(&self) -> Result<u64> {
        self.main.get(MATCHED)?.map_or(Ok(0), |v| read_u64("matched position", &v))
    }

    /// Records that matching has processed the log up to `position`
    /// (durable with the next flush).
    pub fn set_matched_upto(&self, position: u64) -> Result<()> {
        self.main.insert(MATCHED, &position.to_be_bytes())?;
        Ok(())
    }

    /// The last log position written.
    pub fn head(&self) -> u64 {
        *self.head.lock().unwrap_or_else(|p| p.into_inner())
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
        let mut count = 0u64;
        if cursor >= upto {
            return Ok(0);
        }
        for entry in self.main.range(log_key(cursor + 1)..=log_key(upto)).values() {
            count += (entry?.len() / 16) as u64;
            if count >= cap {
                return Ok(cap);
            }
        }
        Ok(count)
    }

    /// Like [`CentralStore::log_after`], with each record's log position.
    /// Reading to the end of the range resumes from `upto`.
    pub fn log_entries(&self, cursor: u64, upto: u64, limit: usize) -> Result<(Vec<(u64, Record)>, u64)> {
        let mut out = Vec::new();
        let mut next = cursor;
        let mut scanned = 0;
        if cursor >= upto {
            return Ok((out, cursor));
        }
        for entry in self.main.range(log_key(cursor + 1)..=log_key(upto)) {
            if scanned >= limit {
                return Ok((out, next));
            }
            let (position, ids) = entry?;
            let position = read_u64("log position", &position[1..])?;
            next = position;
            for id in ids.chunks(16) {
                scanned += 1;
                let id: [u8; 16] = id
                    .try_into()
                    .map_err(|_| Error::Corrupt { what: "log entry", reason: "not 16-byte ids".into() })?;
                let Some(value) = self.main.get(key(RECORD, &id))? else { continue };
                let stored: Stored = decode("record", &value)?;
                if stored.position == position {
                    out.push((position, stored.record));
                }
            }
        }
        Ok((out, upto))
    }

    /// The history of one match or bid, oldest first.
    pub fn history_of(&self, record: &RecordId) -> Result<Vec<Event>> {
        let mut out = Vec::new();
        for k in self.main.scan_prefix(key(HISTORY, record.as_bytes())).keys() {
            let k = k?;
            let seq = read_u64("history index", &k[17..])?;
            if let Some(v) = self.main.get(event_key(seq))? {
                out.push(decode("event", &v)?);
            }
        }
        Ok(out)
    }

    /// Calls `f` on every event of the history after `after`, in order,
    /// until it returns false.
    pub fn events_after(&self, after: u64, mut f: impl FnMut(Event) -> bool) -> Result<()> {
        for value in self.main.range(event_key(after.saturating_add(1))..=event_key(u64::MAX)).values() {
            if !f(decode("event", &value?)?) {
                break;
            }
        }
        Ok(())
    }

    /// One record by id.
    pub fn get(&self, id: &RecordId) -> Result<Option<Record>> {
        self.main.get(key(RECORD, id.as_bytes()))?.map(|v| decode::<Stored>("record", &v).map(|s| s.record)).transpose()
    }

    /// Every record, in id order.
    pub fn records(&self) -> impl Iterator<Item = Result<Record>> + '_ {
        self.main.scan_prefix([RECORD]).values().map(|value| Ok(decode::<Stored>("record", &value?)?.record))
    }

    /// Every record after `after` in id order (all when `None`).
    pub fn records_after(&self, after: Option<&RecordId>) -> impl Iterator<Item = Result<(RecordId, Record)>> + '_ {
        use std::ops::Bound;
        let start = match after {
            Some(id) => Bound::Excluded(key(RECORD, id.as_bytes())),
            None => Bound::Included(vec![RECORD]),
        };
        self.main.range((start, Bound::Excluded(vec![RECORD + 1]))).values().map(|value| {
            let record = decode::<Stored>("record", &value?)?.record;
            Ok((record.meta.id, record))
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
        Ok(self.db.size_on_disk()?)
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use kechuang_sync::Incoming;
    use kechuang_types::{Clock, Date, Hlc};

    use super::*;

    fn record(clock: &mut Clock, owner: &NodeId, id: RecordId, title: &str) -> Record {
        let mut record = kechuang_types::testing::demand(title);
        record.meta.id = id;
        record.meta.owner = owner.clone();
        record.meta.version = clock.tick().unwrap();
        record
    }

    fn sz() -> Peer {
        Peer {
            id: NodeId::parse("n", "sz").unwrap(),
            kind: NodeKind::City,
            region: Region::parse("r", "440300").unwrap(),
        }
    }

    fn bounds() -> Bounds {
        Bounds { now_ms: Timestamp::now().0 as u64, max_skew_ms: 300_000, today: Date::today() }
    }

    fn applied(pushed: Pushed) -> PushOutcome {
        match pushed {
            Pushed::Applied(outcome) => outcome,
            Pushed::Refused(refused) => panic!("refused: {refused:?}"),
        }
    }

    fn open_with_sz(dir: &Path) -> CentralStore {
        let store = CentralStore::open(dir).unwrap();
        store.register(&sz().id, NodeKind::City, sz().region).unwrap();
        store
    }

    #[test]
    fn a_refused_change_aborts_its_whole_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_with_sz(dir.path());
        let node = sz().id;
        let mut clock = Clock::resume(Hlc::ZERO);
        let mut forged = record(&mut clock, &node, RecordId::new(), "乙");
        forged.meta.owner = NodeId::parse("n", "gz").unwrap();
        let batch = vec![
            (1, Incoming::Record(record(&mut clock, &node, RecordId::new(), "甲").into())),
            (2, Incoming::Record(forged.into())),
        ];
        let Pushed::Refused(refused) = store.apply_push(&sz(), &batch, &bounds()).unwrap() else {
            panic!("a forged owner was admitted");
        };
        assert_eq!((refused[0].index, refused[0].refusal.field.as_str()), (1, "owner"));
        assert_eq!(store.head(), 0, "nothing of the batch was applied");
        assert_eq!(store.node(&node).unwrap().unwrap().acked_seq, 0);
    }

    #[test]
    fn a_gap_in_the_sequence_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_with_sz(dir.path());
        let mut clock = Clock::resume(Hlc::ZERO);
        let batch = vec![(2, Incoming::Record(record(&mut clock, &sz().id, RecordId::new(), "甲").into()))];
        let err = store.apply_push(&sz(), &batch, &bounds()).unwrap_err();
        assert!(matches!(err, Error::Sequence(_)), "{err}");
        assert_eq!(store.head(), 0);
    }

    #[test]
    fn every_step_is_an_event_once_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = kechuang_types::testing::proposed_match();
        m.demand_owner = sz().id;
        let mut record = kechuang_types::testing::demand("对接");
        record.meta.owner = NodeId::central();
        record.meta.version = m.version();
        record.body = kechuang_types::Body::Match(Box::new(m.clone()));
        let id = record.meta.id;
        {
            let store = open_with_sz(dir.path());
            store.apply_matching(std::slice::from_ref(&record), &[], &[]).unwrap();
            let mut answered = record.clone();
            if let kechuang_types::Body::Match(m) = &mut answered.body {
                m.demand_side = kechuang_types::Part::new(Hlc::from_u64(9), kechuang_types::Response::Accepted);
                answered.meta.version = m.version();
            }
            let push = vec![(1, Incoming::Record(answered.into()))];
            applied(store.apply_push(&sz(), &push, &bounds()).unwrap());
            applied(store.apply_push(&sz(), &push, &bounds()).unwrap());
            store.apply_matching(std::slice::from_ref(&record), &[], &[]).unwrap();
            store.flush().unwrap();
        }
        let store = crate::testing::reopen(|| CentralStore::open(dir.path()));
        let history = store.history_of(&id).unwrap();
        let steps: Vec<_> = history.iter().map(|e| (e.seq, e.step.part.as_str(), e.by.as_str())).collect();
        assert_eq!(steps, [(1, "core", "central"), (2, "demand_side", "sz")], "resends and replays add nothing");
        assert_eq!(history[1].step.to, serde_json::json!("accepted"));
        let mut all = Vec::new();
        store
            .events_after(1, |e| {
                all.push(e.seq);
                true
            })
            .unwrap();
        assert_eq!(all, [2]);
    }

    #[test]
    fn revocations_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = CentralStore::open(dir.path()).unwrap();
        let node = NodeId::parse("n", "sz").unwrap();
        store.revoke(&node).unwrap();
        assert_eq!(store.revoked().unwrap(), vec![node]);
    }

    #[test]
    fn pushes_are_applied_once_and_logged_at_their_latest_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_with_sz(dir.path());
        let node = sz().id;
        let mut clock = Clock::resume(Hlc::ZERO);
        let (a, b) = (RecordId::new(), RecordId::new());
        let batch = vec![
            (1, Incoming::Record(record(&mut clock, &node, a, "甲").into())),
            (2, Incoming::Record(record(&mut clock, &node, b, "乙").into())),
        ];
        let first = applied(store.apply_push(&sz(), &batch, &bounds()).unwrap());
        assert_eq!((first.acked_seq, first.changed.len()), (2, 2));
        let again = applied(store.apply_push(&sz(), &batch, &bounds()).unwrap());
        assert_eq!((again.acked_seq, again.changed.len()), (2, 0), "a resent batch is a no-op");

        let edit = vec![(3, Incoming::Record(record(&mut clock, &node, a, "甲改").into()))];
        applied(store.apply_push(&sz(), &edit, &bounds()).unwrap());
        let (records, cursor) = store.log_after(0, 3, 100).unwrap();
        let titles: Vec<String> = records.iter().map(Record::title).collect();
        assert_eq!(titles, ["乙", "甲改"], "the superseded entry is skipped");
        assert_eq!(cursor, 3);
        assert_eq!(store.log_after(cursor, 3, 100).unwrap(), (vec![], 3));
    }

    #[test]
    fn acknowledged_sequence_and_log_head_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open_with_sz(dir.path());
            let mut clock = Clock::resume(Hlc::ZERO);
            let change = (1, Incoming::Record(record(&mut clock, &sz().id, RecordId::new(), "甲").into()));
            applied(store.apply_push(&sz(), &[change], &bounds()).unwrap());
            store.flush().unwrap();
        }
        let store = crate::testing::reopen(|| CentralStore::open(dir.path()));
        assert_eq!(store.head(), 1);
        assert_eq!(store.node(&sz().id).unwrap().unwrap().acked_seq, 1);
    }

    #[test]
    fn a_backup_restores_into_an_empty_store_as_the_same_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_with_sz(dir.path());
        let node = sz().id;
        let mut clock = Clock::resume(Hlc::ZERO);
        let ids: Vec<RecordId> = (0..5).map(|_| RecordId::new()).collect();
        for (seq, id) in ids.iter().enumerate() {
            let batch = vec![(seq as u64 + 1, Incoming::Record(record(&mut clock, &node, *id, "甲").into()))];
            applied(store.apply_push(&sz(), &batch, &bounds()).unwrap());
        }
        // One record moves to a later position; a match brings an event, routing and a pair.
        let batch = vec![(6, Incoming::Record(record(&mut clock, &node, ids[0], "甲改").into()))];
        applied(store.apply_push(&sz(), &batch, &bounds()).unwrap());
        let mut m = kechuang_types::testing::proposed_match();
        m.demand_owner = node.clone();
        let mut proposal = kechuang_types::testing::demand("对接");
        proposal.meta.owner = NodeId::central();
        proposal.meta.version = m.version();
        let (demand, supply) = (m.demand, m.supply);
        proposal.body = kechuang_types::Body::Match(Box::new(m));
        store
            .apply_matching(&[proposal.clone()], &[(demand, vec![1, 2, 255])], &[(demand, supply, proposal.meta.id)])
            .unwrap();
        store.set_matched_upto(store.head()).unwrap();
        store.note_seen(&node, Timestamp(1_800_000_000_000)).unwrap();
        store.revoke(&NodeId::parse("n", "gone").unwrap()).unwrap();

        let copy = dir.path().join("backup");
        let manifest = store.backup(&copy, |_| {}).unwrap();
        assert_eq!((manifest.records, manifest.head, manifest.nodes, manifest.revoked), (6, store.head(), 1, 1));
        assert!(store.backup(&copy, |_| {}).is_err(), "a backup never writes over another");

        let other = tempfile::tempdir().unwrap();
        let restored = CentralStore::open(other.path()).unwrap();
        restored.restore(&copy, |_| {}).unwrap();
        let all = |s: &CentralStore| {
            let mut records = Vec::new();
            s.for_each(|r| records.push(r)).unwrap();
            records.sort_by_key(|r| r.meta.id);
            records
        };
        assert_eq!(all(&restored), all(&store));
        assert_eq!(restored.head(), store.head());
        assert_eq!(restored.nodes().unwrap(), store.nodes().unwrap());
        assert_eq!(restored.revoked().unwrap(), store.revoked().unwrap());
        assert_eq!(restored.last_seen(&node).unwrap(), store.last_seen(&node).unwrap());
        assert_eq!(restored.routing_all().unwrap(), store.routing_all().unwrap());
        assert_eq!(restored.pairs_of(&demand).unwrap(), store.pairs_of(&demand).unwrap());
        assert_eq!(restored.pairs_of_supply(&supply).unwrap(), store.pairs_of_supply(&supply).unwrap());
        assert_eq!(restored.matched_upto().unwrap(), store.matched_upto().unwrap());
        assert_eq!(restored.history_of(&proposal.meta.id).unwrap(), store.history_of(&proposal.meta.id).unwrap());
        let feed = |s: &CentralStore| {
            let mut ids: Vec<RecordId> =
                s.log_after(0, s.head(), usize::MAX).unwrap().0.iter().map(|r| r.meta.id).collect();
            ids.sort();
            ids
        };
        assert_eq!(feed(&restored), feed(&store), "a feed from the start reads the same records");
        assert!(restored.restore(&copy, |_| {}).is_err(), "restore wants an empty store");
        drop(restored);
        let reopened = CentralStore::open(other.path()).unwrap();
        assert_eq!(reopened.head(), store.head(), "the head survives reopening");
    }

    #[test]
    fn a_backup_taken_under_writes_is_the_store_at_one_instant() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(open_with_sz(dir.path()));
        let node = sz().id;
        // Push k writes a new record and retitles the record of push k / 2.
        let ids: Vec<RecordId> = (0..=3_000).map(|_| RecordId::new()).collect();
        let title = |k: usize, of: usize| format!("{of}@{k}");
        let writer = {
            let (store, ids, node) = (store.clone(), ids.clone(), node.clone());
            std::thread::spawn(move || {
                let mut clock = Clock::resume(Hlc::ZERO);
                for k in 1..=3_000usize {
                    let mut batch = vec![(0, Incoming::Record(record(&mut clock, &node, ids[k], &title(k, k)).into()))];
                    batch.push((0, Incoming::Record(record(&mut clock, &node, ids[k / 2], &title(k, k / 2)).into())));
                    let batch: Vec<_> = batch
                        .into_iter()
                        .enumerate()
                        .map(|(i, (_, c))| ((k as u64 - 1) * 2 + i as u64 + 1, c))
                        .collect();
                    applied(store.apply_push(&sz(), &batch, &bounds()).unwrap());
                }
            })
        };
        while store.head() < 200 {
            std::thread::yield_now();
        }
        let copy = dir.path().join("backup");
        store.backup(&copy, |_| {}).unwrap();
        writer.join().unwrap();

        let other = tempfile::tempdir().unwrap();
        let restored = CentralStore::open(other.path()).unwrap();
        restored.restore(&copy, |_| {}).unwrap();
        let acked = restored.node(&node).unwrap().unwrap().acked_seq;
        let pushes = (acked / 2) as usize;
        assert!(pushes >= 200, "the copy was taken while pushes went on: {pushes} pushes in it");
        // What the store held after exactly `pushes` pushes.
        let mut expected = std::collections::BTreeMap::new();
        for k in 1..=pushes {
            expected.insert(ids[k], title(k, k));
            expected.insert(ids[k / 2], title(k, k / 2));
        }
        let mut held = std::collections::BTreeMap::new();
        restored
            .for_each(|r| {
                held.insert(r.meta.id, r.title());
            })
            .unwrap();
        assert_eq!(held, expected, "every acknowledged push, nothing after, each record as of the same instant");
    }
}
