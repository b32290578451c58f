//! A logical copy of central's store, independent of its backend: JSON
//! Lines of the domain's own types, which `restore` loads into an empty
//! store of either backend (sled → PostgreSQL is a backup and a restore).
//!
//! Taken while central runs, and consistent: each backend copies the store
//! as it was at one instant (see its `snapshot`). `manifest.json` is
//! written last: a directory without it is not a backup.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write as _};
use std::path::Path;

use kechuang_types::{Event, NodeId, RecordId, Timestamp};
use serde::{Deserialize, Serialize};

use super::{CentralStore, NodeEntry, Restoring, Sink, Stored};
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

/// The files of a backup being written.
struct Files<'p> {
    records: Lines,
    events: Lines,
    nodes: Lines,
    routing: Lines,
    pairs: Lines,
    revoked: Lines,
    progress: &'p mut dyn FnMut(u64),
}

impl Sink for Files<'_> {
    fn record(&mut self, stored: &Stored) -> Result<()> {
        self.records.put(stored)?;
        if self.records.count.is_multiple_of(10_000) {
            (self.progress)(self.records.count);
        }
        Ok(())
    }

    fn event(&mut self, event: &Event) -> Result<()> {
        self.events.put(event)
    }

    fn node(&mut self, node: NodeEntry, last_seen: Option<Timestamp>) -> Result<()> {
        self.nodes.put(&NodeLine { node, last_seen })
    }

    fn routing(&mut self, demand: RecordId, state: &[u8]) -> Result<()> {
        self.routing.put(&RoutingLine { demand, state: hex(state) })
    }

    fn pair(&mut self, demand: RecordId, supply: RecordId, id: RecordId) -> Result<()> {
        self.pairs.put(&PairLine { demand, supply, r#match: id })
    }

    fn revoked(&mut self, node: &NodeId) -> Result<()> {
        self.revoked.put(node)
    }
}

/// Lines restored per write.
const RESTORE_CHUNK: usize = 5_000;

impl CentralStore {
    /// Writes a consistent copy of the store into `dir` (created, and empty);
    /// `progress` hears the records copied so far.
    pub fn backup(&self, dir: &Path, mut progress: impl FnMut(u64)) -> Result<Manifest> {
        std::fs::create_dir_all(dir).map_err(|e| io("backup directory", e))?;
        if std::fs::read_dir(dir).map_err(|e| io("backup directory", e))?.next().is_some() {
            return Err(Error::Storage(format!("backup: {} is not empty", dir.display())));
        }
        let mut files = Files {
            records: Lines::create(dir, "records.jsonl")?,
            events: Lines::create(dir, "events.jsonl")?,
            nodes: Lines::create(dir, "nodes.jsonl")?,
            routing: Lines::create(dir, "routing.jsonl")?,
            pairs: Lines::create(dir, "pairs.jsonl")?,
            revoked: Lines::create(dir, "revoked.jsonl")?,
            progress: &mut progress,
        };
        let snapshot = self.backend.snapshot(&mut files)?;
        let Files { records, events, nodes, routing, pairs, revoked, .. } = files;
        let manifest = Manifest {
            format: FORMAT,
            taken_at: Timestamp::now(),
            head: snapshot.head,
            last_event: snapshot.last_event,
            matched_upto: snapshot.matched_upto,
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
        if !self.backend.is_empty()? {
            return Err(Error::Storage("restore: the store is not empty; restore into a new, empty one".into()));
        }
        let backend = &self.backend;
        let mut loaded = 0u64;
        in_chunks(dir, "records.jsonl", |records: Vec<Stored>| {
            loaded += records.len() as u64;
            backend.restore(Restoring::Records(records))?;
            progress(loaded);
            Ok(())
        })?;
        in_chunks(dir, "events.jsonl", |events| backend.restore(Restoring::Events(events)))?;
        in_chunks(dir, "nodes.jsonl", |lines: Vec<NodeLine>| {
            backend.restore(Restoring::Nodes(lines.into_iter().map(|l| (l.node, l.last_seen)).collect()))
        })?;
        in_chunks(dir, "routing.jsonl", |lines: Vec<RoutingLine>| {
            let routing = lines
                .into_iter()
                .map(|l| {
                    Ok((
                        l.demand,
                        unhex(&l.state).ok_or_else(|| Error::Storage("routing.jsonl: state is not hex".into()))?,
                    ))
                })
                .collect::<Result<_>>()?;
            backend.restore(Restoring::Routing(routing))
        })?;
        in_chunks(dir, "pairs.jsonl", |lines: Vec<PairLine>| {
            backend.restore(Restoring::Pairs(lines.into_iter().map(|l| (l.demand, l.supply, l.r#match)).collect()))
        })?;
        in_chunks(dir, "revoked.jsonl", |nodes| backend.restore(Restoring::Revoked(nodes)))?;
        backend.restore(Restoring::Finish { matched_upto: manifest.matched_upto, head: manifest.head })?;
        Ok(manifest)
    }
}

/// Calls `f` on the lines of `dir/name`, [`RESTORE_CHUNK`] at a time,
/// naming the file and line on error.
fn in_chunks<T: serde::de::DeserializeOwned>(
    dir: &Path,
    name: &str,
    mut f: impl FnMut(Vec<T>) -> Result<()>,
) -> Result<()> {
    let file = File::open(dir.join(name)).map_err(|e| io(name, e))?;
    let mut chunk = Vec::with_capacity(RESTORE_CHUNK);
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| io(name, e))?;
        if line.trim().is_empty() {
            continue;
        }
        chunk.push(serde_json::from_str(&line).map_err(|e| Error::Storage(format!("{name} line {}: {e}", n + 1)))?);
        if chunk.len() == RESTORE_CHUNK {
            f(std::mem::take(&mut chunk))?;
        }
    }
    if !chunk.is_empty() {
        f(chunk)?;
    }
    Ok(())
}
