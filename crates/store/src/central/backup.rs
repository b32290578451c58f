//! A logical copy of central's store, independent of sled: JSON Lines of
//! the domain's own types, which `restore` loads into an empty store.
//!
//! Taken while central runs, and consistent: the bulk of the records is
//! read without holding writers up; then, under the writers' lock, every
//! record written since the copy began is read again, with the registry,
//! the routing, the pairs and the newest events. The copy is the store as
//! it was at that instant. `manifest.json` is written last: a directory
//! without it is not a backup.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write as _};
use std::path::Path;

use kechuang_types::{Event, NodeId, RecordId, Timestamp};
use serde::{Deserialize, Serialize};

use super::{
    CentralStore, EVENT, HISTORY, MATCHED, NODE, NodeEntry, PAIR, ROUTING, SEEN, SUPPLY_PAIR, Stored, event_key, key,
    log_key,
};
use crate::codec::{decode, encode, read_u64, u64_key};
use crate::{Error, Result};

/// The format this code writes and reads.
pub const FORMAT: u32 = 1;

/// What a backup holds, written last as `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The backup format.
    pub format: u32,
    /// When the copy was taken.
    pub taken_at: Timestamp,
    /// The log head the copy is consistent at.
    pub head: u64,
    /// The last event of the history in the copy.
    pub last_event: u64,
    /// How far matching had processed the log.
    pub matched_upto: u64,
    /// Records copied.
    pub records: u64,
    /// Events copied.
    pub events: u64,
    /// Registered nodes copied.
    pub nodes: u64,
    /// Revoked nodes copied.
    pub revoked: u64,
}

/// A registered node and when it was last seen.
#[derive(Serialize, Deserialize)]
struct NodeLine {
    node: NodeEntry,
    last_seen: Option<Timestamp>,
}

/// A demand's routing state (opaque to the store), as hex.
#[derive(Serialize, Deserialize)]
struct RoutingLine {
    demand: RecordId,
    state: String,
}

/// A proposed (demand, supply) pair and its match.
#[derive(Serialize, Deserialize)]
struct PairLine {
    demand: RecordId,
    supply: RecordId,
    r#match: RecordId,
}

/// One JSON Lines file being written.
struct Lines {
    file: BufWriter<File>,
    count: u64,
}

impl Lines {
    fn create(dir: &Path, name: &str) -> Result<Self> {
        let file = File::create(dir.join(name)).map_err(|e| io(name, e))?;
        Ok(Self { file: BufWriter::new(file), count: 0 })
    }

    fn put<T: Serialize>(&mut self, value: &T) -> Result<()> {
        serde_json::to_writer(&mut self.file, value).map_err(|e| Error::Storage(format!("backup: {e}")))?;
        self.file.write_all(b"\n").map_err(|e| io("backup", e))?;
        self.count += 1;
        Ok(())
    }

    /// Flushes and syncs the file: a backup is only as good as its disk.
    fn finish(self) -> Result<u64> {
        let file = self.file.into_inner().map_err(|e| io("backup", e.into_error()))?;
        file.sync_all().map_err(|e| io("backup", e))?;
        Ok(self.count)
    }
}

fn io(what: &str, e: std::io::Error) -> Error {
    Error::Storage(format!("{what}: {e}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

impl CentralStore {
    /// Writes a consistent copy of the store into `dir` (created, and empty);
    /// `progress` hears the records copied so far.
    pub fn backup(&self, dir: &Path, mut progress: impl FnMut(u64)) -> Result<Manifest> {
        std::fs::create_dir_all(dir).map_err(|e| io("backup directory", e))?;
        if std::fs::read_dir(dir).map_err(|e| io("backup directory", e))?.next().is_some() {
            return Err(Error::Storage(format!("backup: {} is not empty", dir.display())));
        }
        // Matching's cursor first: an older one only makes matching look
        // again at what it already paired (pairs are never proposed twice).
        let matched_upto = self.matched_upto()?;
        let (start, first_events) = (self.head(), self.last_event.load(std::sync::atomic::Ordering::SeqCst));
        let mut records = Lines::create(dir, "records.jsonl")?;
        for value in self.main.scan_prefix([super::RECORD]).values() {
            let stored: Stored = decode("record", &value?)?;
            // What moved past `start` is copied again under the lock below.
            if stored.position <= start {
                records.put(&stored)?;
                if records.count.is_multiple_of(10_000) {
                    progress(records.count);
                }
            }
        }
        let mut events = Lines::create(dir, "events.jsonl")?;
        self.copy_events(0, first_events, &mut events)?;

        // The tail, under the writers' lock: the instant the copy is of.
        let head = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let (tail, _) = self.log_entries(start, *head, usize::MAX)?;
        for (position, record) in tail {
            records.put(&Stored { position, record })?;
        }
        let last_event = self.last_event.load(std::sync::atomic::Ordering::SeqCst);
        self.copy_events(first_events, last_event, &mut events)?;
        let mut nodes = Lines::create(dir, "nodes.jsonl")?;
        for node in self.nodes()? {
            let last_seen = self.last_seen(&node.id)?;
            nodes.put(&NodeLine { node, last_seen })?;
        }
        let mut routing = Lines::create(dir, "routing.jsonl")?;
        for (demand, state) in self.routing_all()? {
            routing.put(&RoutingLine { demand, state: hex(&state) })?;
        }
        let mut pairs = Lines::create(dir, "pairs.jsonl")?;
        for entry in self.main.scan_prefix([PAIR]) {
            let (k, v) = entry?;
            let bad = || Error::Corrupt { what: "pair", reason: "not 16-byte ids".into() };
            let demand: [u8; 16] = k.get(1..17).and_then(|s| s.try_into().ok()).ok_or_else(bad)?;
            let supply: [u8; 16] = k.get(17..33).and_then(|s| s.try_into().ok()).ok_or_else(bad)?;
            let id: [u8; 16] = v.as_ref().try_into().map_err(|_| bad())?;
            let line = PairLine {
                demand: RecordId::from_bytes(demand),
                supply: RecordId::from_bytes(supply),
                r#match: RecordId::from_bytes(id),
            };
            pairs.put(&line)?;
        }
        let mut revoked = Lines::create(dir, "revoked.jsonl")?;
        for node in self.revoked()? {
            revoked.put(&node)?;
        }
        let head = *head;
        // Writers may go on: everything the copy needs is read.
        let manifest = Manifest {
            format: FORMAT,
            taken_at: Timestamp::now(),
            head,
            last_event,
            matched_upto,
            records: records.finish()?,
            events: events.finish()?,
            nodes: nodes.finish()?,
            revoked: revoked.finish()?,
        };
        routing.finish()?;
        pairs.finish()?;
        progress(manifest.records);
        let text = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Storage(format!("backup: {e}")))?;
        let tmp = dir.join("manifest.json.tmp");
        std::fs::write(&tmp, text).map_err(|e| io("manifest.json", e))?;
        File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| io("manifest.json", e))?;
        std::fs::rename(&tmp, dir.join("manifest.json")).map_err(|e| io("manifest.json", e))?;
        Ok(manifest)
    }

    /// Copies the events after `after` up to `upto` into `out`.
    fn copy_events(&self, after: u64, upto: u64, out: &mut Lines) -> Result<()> {
        let mut failed = None;
        self.events_after(after, |event| {
            if event.seq > upto {
                return false;
            }
            match out.put(&event) {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// Loads the backup in `dir` into this store, which must be empty;
    /// durable on return. `progress` hears the records loaded so far.
    pub fn restore(&self, dir: &Path, mut progress: impl FnMut(u64)) -> Result<Manifest> {
        let manifest: Manifest = {
            let text = std::fs::read(dir.join("manifest.json"))
                .map_err(|e| io(&format!("{}: no manifest.json (not a finished backup)", dir.display()), e))?;
            serde_json::from_slice(&text).map_err(|e| Error::Storage(format!("manifest.json: {e}")))?
        };
        if manifest.format != FORMAT {
            return Err(Error::Storage(format!(
                "manifest.json: format {} (this version reads {FORMAT})",
                manifest.format
            )));
        }
        if !self.main.is_empty() || !self.revoked.is_empty() {
            return Err(Error::Storage("restore: the store is not empty; restore into a new directory".into()));
        }
        let mut head = self.head.lock().unwrap_or_else(|p| p.into_inner());

        // Records, later lines winning (the tail re-copies what moved), and
        // the log rebuilt from their final positions.
        let mut positions: std::collections::HashMap<RecordId, u64> = std::collections::HashMap::new();
        let mut batch = sled::Batch::default();
        let mut loaded = 0u64;
        each_line(dir, "records.jsonl", |stored: Stored| {
            let id = stored.record.meta.id;
            batch.insert(key(super::RECORD, id.as_bytes()), encode(&stored));
            positions.insert(id, stored.position);
            loaded += 1;
            if loaded.is_multiple_of(10_000) {
                self.main.apply_batch(std::mem::take(&mut batch))?;
                progress(loaded);
            }
            Ok(())
        })?;
        let mut log: std::collections::BTreeMap<u64, Vec<u8>> = std::collections::BTreeMap::new();
        for (id, position) in &positions {
            log.entry(*position).or_default().extend_from_slice(id.as_bytes());
        }
        for (position, ids) in &log {
            batch.insert(&log_key(*position), ids.as_slice());
        }
        each_line(dir, "events.jsonl", |event: Event| {
            batch.insert(&event_key(event.seq), encode(&event));
            let mut index = key(HISTORY, event.record.as_bytes());
            index.extend_from_slice(&event.seq.to_be_bytes());
            batch.insert(index, &[]);
            Ok(())
        })?;
        each_line(dir, "nodes.jsonl", |line: NodeLine| {
            batch.insert(key(NODE, line.node.id.as_str().as_bytes()), encode(&line.node));
            if let Some(seen) = line.last_seen {
                batch.insert(key(SEEN, line.node.id.as_str().as_bytes()), &u64_key(seen.0.max(0) as u64));
            }
            Ok(())
        })?;
        each_line(dir, "routing.jsonl", |line: RoutingLine| {
            let state = unhex(&line.state).ok_or_else(|| Error::Storage("routing.jsonl: state is not hex".into()))?;
            batch.insert(key(ROUTING, line.demand.as_bytes()), state);
            Ok(())
        })?;
        each_line(dir, "pairs.jsonl", |line: PairLine| {
            let mut pair = key(PAIR, line.demand.as_bytes());
            pair.extend_from_slice(line.supply.as_bytes());
            batch.insert(pair, line.r#match.as_bytes().as_slice());
            let mut by_supply = key(SUPPLY_PAIR, line.supply.as_bytes());
            by_supply.extend_from_slice(line.demand.as_bytes());
            batch.insert(by_supply, line.r#match.as_bytes().as_slice());
            Ok(())
        })?;
        batch.insert(MATCHED, &manifest.matched_upto.to_be_bytes());
        // The head is the copy's, so every node's feed cursor still points
        // into the same log (a position never read again is not reused).
        let last = log.keys().next_back().copied().unwrap_or(0);
        let top = last.max(manifest.head);
        if top > last {
            batch.insert(&log_key(top), Vec::<u8>::new());
        }
        self.main.apply_batch(batch)?;
        each_line(dir, "revoked.jsonl", |node: NodeId| {
            self.revoked.insert(node.as_str(), &[])?;
            Ok(())
        })?;
        self.db.flush()?;
        *head = top;
        let last = match self.main.scan_prefix([EVENT]).keys().next_back() {
            Some(k) => read_u64("event", &k?[1..])?,
            None => 0,
        };
        self.last_event.store(last, std::sync::atomic::Ordering::SeqCst);
        progress(positions.len() as u64);
        Ok(manifest)
    }
}

/// Calls `f` on each line of `dir/name`, naming the file and line on error.
fn each_line<T: serde::de::DeserializeOwned>(dir: &Path, name: &str, mut f: impl FnMut(T) -> Result<()>) -> Result<()> {
    let file = File::open(dir.join(name)).map_err(|e| io(name, e))?;
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| io(name, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(&line).map_err(|e| Error::Storage(format!("{name} line {}: {e}", n + 1)))?;
        f(value)?;
    }
    Ok(())
}
