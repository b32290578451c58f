//! Central's store on sled, for central on one machine.
//!
//! One sled tree with prefixed keys: `r` + id → log position + record,
//! `l` + position → the ids one write changed, `n` + node id → kind, region
//! and acknowledged sequence, `g` + demand id → routing state, `p` + demand
//! id + supply id → match id (and `q` + supply id + demand id → match id,
//! the same pairs by supply), `m` → how far matching has processed the
//! log, `e` + sequence → an event of the history, `h` + record id +
//! sequence → nothing (the history by record), `s` + node id → last seen.
//! Revocations live in their own tree.
//!
//! A write is one atomic `Batch` with one log entry for all the records it
//! changed: sled's cost is per key written, so a record costs one key, not
//! two or three. Writers take turns on the head lock, which also makes
//! their reads consistent.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use kechuang_types::{Event, NodeId, Record, RecordId, Timestamp};
use tokio::sync::watch;

use super::{Backend, Batch, NodeEntry, Restoring, Sink, Snapshot, Stored, Txn};
use crate::codec::{decode, decode_positioned, encode, encode_positioned, read_u64, u64_key};
use crate::{Error, Result};

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
pub(super) const SEEN_GRAIN_MS: i64 = 60_000;

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

fn id_of(what: &'static str, bytes: &[u8]) -> Result<RecordId> {
    let id: [u8; 16] = bytes.try_into().map_err(|_| Error::Corrupt { what, reason: "not a 16-byte id".into() })?;
    Ok(RecordId::from_bytes(id))
}

/// Central's store on sled.
#[derive(Debug)]
pub(crate) struct SledBackend {
    db: sled::Db,
    main: sled::Tree,
    revoked: sled::Tree,
    /// The last assigned log position; the lock makes writers take turns.
    head: Mutex<u64>,
    /// The last event of the history (written under the head lock).
    last_event: AtomicU64,
}

/// Reads under the head lock.
struct SledTxn<'a>(&'a SledBackend);

impl Txn for SledTxn<'_> {
    fn prefetch(&mut self, _: &[RecordId]) -> Result<()> {
        Ok(())
    }
    fn get(&mut self, id: &RecordId) -> Result<Option<Record>> {
        self.0.get(id)
    }
    fn node(&mut self, id: &NodeId) -> Result<Option<NodeEntry>> {
        self.0.node(id)
    }
    fn pair(&mut self, demand: &RecordId, supply: &RecordId) -> Result<Option<RecordId>> {
        let mut pair = key(PAIR, demand.as_bytes());
        pair.extend_from_slice(supply.as_bytes());
        self.0.main.get(pair)?.map(|v| id_of("pair", &v)).transpose()
    }
}

impl SledBackend {
    /// Opens (or creates) the store in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new().path(dir).mode(sled::Mode::HighThroughput).cache_capacity(CACHE_BYTES).open()?;
        let main = db.open_tree("central")?;
        let head = last(&main, LOG, "log position")?;
        let last_event = AtomicU64::new(last(&main, EVENT, "event")?);
        Ok(Self { revoked: db.open_tree("revoked")?, main, head: Mutex::new(head), last_event, db })
    }

    fn writers(&self) -> std::sync::MutexGuard<'_, u64> {
        self.head.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `batch` to a sled batch at `position`; returns the last event.
    fn stage(&self, batch: &Batch, position: u64, out: &mut sled::Batch) -> u64 {
        let mut last = self.last_event.load(Ordering::SeqCst);
        for event in batch.events(last, Timestamp::now()) {
            out.insert(&event_key(event.seq), encode(&event));
            let mut index = key(HISTORY, event.record.as_bytes());
            index.extend_from_slice(&event.seq.to_be_bytes());
            out.insert(index, &[]);
            last = event.seq;
        }
        if !batch.records.is_empty() {
            let mut ids = Vec::with_capacity(batch.records.len() * 16);
            for record in &batch.records {
                let id = record.meta.id;
                out.insert(key(RECORD, id.as_bytes()), encode_positioned(position, record));
                ids.extend_from_slice(id.as_bytes());
            }
            out.insert(&log_key(position), ids);
        }
        for entry in &batch.nodes {
            out.insert(key(NODE, entry.id.as_str().as_bytes()), encode(entry));
        }
        for (demand, state) in &batch.routing {
            out.insert(key(ROUTING, demand.as_bytes()), state.as_slice());
        }
        for (demand, supply, id) in &batch.pairs {
            let mut pair = key(PAIR, demand.as_bytes());
            pair.extend_from_slice(supply.as_bytes());
            out.insert(pair, id.as_bytes().as_slice());
            let mut by_supply = key(SUPPLY_PAIR, supply.as_bytes());
            by_supply.extend_from_slice(demand.as_bytes());
            out.insert(by_supply, id.as_bytes().as_slice());
        }
        last
    }
}

fn last(main: &sled::Tree, prefix: u8, what: &'static str) -> Result<u64> {
    match main.scan_prefix([prefix]).keys().next_back() {
        Some(k) => read_u64(what, &k?[1..]),
        None => Ok(0),
    }
}

impl Backend for SledBackend {
    fn transact(
        &self,
        _fenced: bool,
        work: &mut dyn FnMut(&mut dyn Txn) -> Result<Option<Batch>>,
    ) -> Result<Option<(Batch, u64)>> {
        let mut head = self.writers();
        let Some(batch) = work(&mut SledTxn(self))? else { return Ok(None) };
        let position = if batch.records.is_empty() { *head } else { *head + 1 };
        let mut out = sled::Batch::default();
        let last_event = self.stage(&batch, position, &mut out);
        self.main.apply_batch(out)?;
        self.last_event.store(last_event, Ordering::SeqCst);
        *head = position;
        Ok(Some((batch, position)))
    }

    fn get(&self, id: &RecordId) -> Result<Option<Record>> {
        self.main
            .get(key(RECORD, id.as_bytes()))?
            .map(|v| decode_positioned("record", &v).map(|(_, record)| record))
            .transpose()
    }

    fn node(&self, id: &NodeId) -> Result<Option<NodeEntry>> {
        self.main.get(key(NODE, id.as_str().as_bytes()))?.map(|v| decode("node", &v)).transpose()
    }

    fn nodes(&self) -> Result<Vec<NodeEntry>> {
        self.main.scan_prefix([NODE]).values().map(|v| decode("node", &v?)).collect()
    }

    fn note_seen(&self, id: &NodeId, at: Timestamp) -> Result<()> {
        if self.last_seen(id)?.is_some_and(|last| at.0 - last.0 < SEEN_GRAIN_MS) {
            return Ok(());
        }
        self.main.insert(key(SEEN, id.as_str().as_bytes()), &u64_key(at.0.max(0) as u64))?;
        Ok(())
    }

    fn last_seen(&self, id: &NodeId) -> Result<Option<Timestamp>> {
        self.main
            .get(key(SEEN, id.as_str().as_bytes()))?
            .map(|v| read_u64("last seen", &v).map(|ms| Timestamp(ms as i64)))
            .transpose()
    }

    fn revoke(&self, node: &NodeId) -> Result<()> {
        self.revoked.insert(node.as_str(), &[])?;
        self.db.flush()?;
        Ok(())
    }

    fn revoked(&self) -> Result<Vec<NodeId>> {
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

    fn routing(&self, demand: &RecordId) -> Result<Option<Vec<u8>>> {
        Ok(self.main.get(key(ROUTING, demand.as_bytes()))?.map(|v| v.to_vec()))
    }

    fn routing_all(&self) -> Result<Vec<(RecordId, Vec<u8>)>> {
        let mut out = Vec::new();
        for entry in self.main.scan_prefix([ROUTING]) {
            let (k, v) = entry?;
            out.push((id_of("routing key", &k[1..])?, v.to_vec()));
        }
        Ok(out)
    }

    fn pairs(&self, of: &RecordId, by_supply: bool) -> Result<Vec<(RecordId, RecordId)>> {
        let prefix = if by_supply { SUPPLY_PAIR } else { PAIR };
        let mut out = Vec::new();
        for entry in self.main.scan_prefix(key(prefix, of.as_bytes())) {
            let (k, v) = entry?;
            out.push((id_of("pair", k.get(17..33).unwrap_or_default())?, id_of("pair", &v)?));
        }
        Ok(out)
    }

    fn matched_upto(&self) -> Result<u64> {
        self.main.get(MATCHED)?.map_or(Ok(0), |v| read_u64("matched position", &v))
    }

    fn set_matched_upto(&self, position: u64) -> Result<()> {
        self.main.insert(MATCHED, &position.to_be_bytes())?;
        Ok(())
    }

    fn head(&self) -> u64 {
        *self.writers()
    }

    fn log_entries(&self, cursor: u64, upto: u64, limit: usize) -> Result<(Vec<(u64, Record)>, u64)> {
        let mut out = Vec::new();
        let mut next = cursor;
        let mut scanned = 0;
        for entry in self.main.range(log_key(cursor + 1)..=log_key(upto)) {
            if scanned >= limit {
                return Ok((out, next));
            }
            let (position, ids) = entry?;
            let position = read_u64("log position", &position[1..])?;
            next = position;
            for id in ids.chunks(16) {
                scanned += 1;
                let Some(value) = self.main.get(key(RECORD, id))? else { continue };
                let stored = Stored::decode(&value)?;
                if stored.position == position {
                    out.push((position, stored.record));
                }
            }
        }
        Ok((out, upto))
    }

    fn logged_between(&self, cursor: u64, upto: u64, cap: u64) -> Result<u64> {
        let mut count = 0u64;
        for entry in self.main.range(log_key(cursor + 1)..=log_key(upto)).values() {
            count += (entry?.len() / 16) as u64;
            if count >= cap {
                return Ok(cap);
            }
        }
        Ok(count)
    }

    fn history_of(&self, record: &RecordId) -> Result<Vec<Event>> {
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

    fn events_page(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        self.main
            .range(event_key(after.saturating_add(1))..=event_key(u64::MAX))
            .values()
            .take(limit)
            .map(|v| decode("event", &v?))
            .collect()
    }

    fn records_page(&self, after: Option<&RecordId>, limit: usize) -> Result<Vec<Record>> {
        use std::ops::Bound;
        let start = match after {
            Some(id) => Bound::Excluded(key(RECORD, id.as_bytes())),
            None => Bound::Included(vec![RECORD]),
        };
        self.main
            .range((start, Bound::Excluded(vec![RECORD + 1])))
            .values()
            .take(limit)
            .map(|v| Ok(decode_positioned("record", &v?)?.1))
            .collect()
    }

    fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// The bulk of the records is read without holding writers up; then,
    /// under the writers' lock, every record written since the copy began
    /// is read again, with the registry, the routing, the pairs and the
    /// newest events: the copy is the store as it was at that instant.
    fn snapshot(&self, sink: &mut dyn Sink) -> Result<Snapshot> {
        // Matching's cursor first: an older one only makes matching look
        // again at what it already paired (pairs are never proposed twice).
        let matched_upto = self.matched_upto()?;
        let (start, first_events) = (self.head(), self.last_event.load(Ordering::SeqCst));
        for value in self.main.scan_prefix([RECORD]).values() {
            let stored = Stored::decode(&value?)?;
            // What moved past `start` is copied again under the lock below.
            if stored.position <= start {
                sink.record(&stored)?;
            }
        }
        copy_events(self, 0, first_events, sink)?;

        let head = self.writers();
        let (tail, _) = if start < *head { self.log_entries(start, *head, usize::MAX)? } else { (vec![], start) };
        for (position, record) in tail {
            sink.record(&Stored { position, record })?;
        }
        let last_event = self.last_event.load(Ordering::SeqCst);
        copy_events(self, first_events, last_event, sink)?;
        for node in self.nodes()? {
            let last_seen = self.last_seen(&node.id)?;
            sink.node(node, last_seen)?;
        }
        for (demand, state) in self.routing_all()? {
            sink.routing(demand, &state)?;
        }
        for entry in self.main.scan_prefix([PAIR]) {
            let (k, v) = entry?;
            sink.pair(
                id_of("pair", &k[1..17])?,
                id_of("pair", k.get(17..33).unwrap_or_default())?,
                id_of("pair", &v)?,
            )?;
        }
        for node in self.revoked()? {
            sink.revoked(&node)?;
        }
        Ok(Snapshot { head: *head, last_event, matched_upto })
    }

    fn is_empty(&self) -> Result<bool> {
        Ok(self.main.is_empty() && self.revoked.is_empty())
    }

    fn restore(&self, part: Restoring) -> Result<()> {
        let mut batch = sled::Batch::default();
        match part {
            Restoring::Records(records) => {
                for stored in records {
                    batch.insert(
                        key(RECORD, stored.record.meta.id.as_bytes()),
                        encode_positioned(stored.position, &stored.record),
                    );
                }
            }
            Restoring::Events(events) => {
                for event in events {
                    batch.insert(&event_key(event.seq), encode(&event));
                    let mut index = key(HISTORY, event.record.as_bytes());
                    index.extend_from_slice(&event.seq.to_be_bytes());
                    batch.insert(index, &[]);
                }
            }
            Restoring::Nodes(nodes) => {
                for (node, last_seen) in nodes {
                    batch.insert(key(NODE, node.id.as_str().as_bytes()), encode(&node));
                    if let Some(seen) = last_seen {
                        batch.insert(key(SEEN, node.id.as_str().as_bytes()), &u64_key(seen.0.max(0) as u64));
                    }
                }
            }
            Restoring::Routing(routing) => {
                for (demand, state) in routing {
                    batch.insert(key(ROUTING, demand.as_bytes()), state);
                }
            }
            Restoring::Pairs(pairs) => {
                let staged = Batch { pairs, ..Batch::default() };
                self.stage(&staged, 0, &mut batch);
            }
            Restoring::Revoked(nodes) => {
                for node in nodes {
                    self.revoked.insert(node.as_str(), &[])?;
                }
            }
            Restoring::Finish { matched_upto, head } => {
                // The log, rebuilt from the records' final positions.
                let mut log: std::collections::BTreeMap<u64, Vec<u8>> = std::collections::BTreeMap::new();
                for value in self.main.scan_prefix([RECORD]).values() {
                    let stored = Stored::decode(&value?)?;
                    log.entry(stored.position).or_default().extend_from_slice(stored.record.meta.id.as_bytes());
                }
                for (position, ids) in &log {
                    batch.insert(&log_key(*position), ids.as_slice());
                }
                // The head is the copy's, so every node's feed cursor still
                // points into the same log (a position is never reused).
                let written = log.keys().next_back().copied().unwrap_or(0);
                let top = written.max(head);
                if top > written {
                    batch.insert(&log_key(top), Vec::<u8>::new());
                }
                batch.insert(MATCHED, &matched_upto.to_be_bytes());
                self.main.apply_batch(batch)?;
                self.db.flush()?;
                *self.writers() = top;
                self.last_event.store(last(&self.main, EVENT, "event")?, Ordering::SeqCst);
                return Ok(());
            }
        }
        self.main.apply_batch(batch)?;
        Ok(())
    }

    fn changes(&self) -> Option<watch::Receiver<u64>> {
        None
    }

    fn revocations(&self) -> Option<watch::Receiver<u64>> {
        None
    }

    fn hold_lease(&self) -> Result<bool> {
        Ok(true)
    }

    fn release_lease(&self) {}
}

/// Copies the events after `after` up to `upto` into `sink`.
fn copy_events(store: &SledBackend, after: u64, upto: u64, sink: &mut dyn Sink) -> Result<()> {
    for value in store.main.range(event_key(after.saturating_add(1))..=event_key(upto)).values() {
        sink.event(&decode("event", &value?)?)?;
    }
    Ok(())
}
