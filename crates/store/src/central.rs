//! Central's store: every record, the change log that feeds are cut from,
//! and the nodes central knows with how far it applied their pushes.
//!
//! Trees: `records` (id → log position + record), `log` (position → id),
//! `nodes` (node id → kind, region, acknowledged sequence). A push is one
//! transaction over all three; a log entry whose record has since moved to
//! a later position is skipped when read, so each record is sent once per
//! feed at its latest state. One writer at a time assigns log positions,
//! so a reader never sees a gap fill in behind it.

use std::path::Path;
use std::sync::Mutex;

use kechuang_sync::merge;
use kechuang_types::{NodeId, NodeKind, Record, RecordId, Region};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::codec::{decode, encode, read_u64, u64_key};
use crate::{Error, Result};

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
    records: sled::Tree,
    log: sled::Tree,
    nodes: sled::Tree,
    revoked: sled::Tree,
    routing: sled::Tree,
    pairs: sled::Tree,
    /// The last assigned log position; the lock makes writers take turns.
    head: Mutex<u64>,
}

/// sled's page cache: central keeps its memory bounded (sled defaults to 1 GiB).
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

type Tx<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

fn abort<T>(e: Error) -> Tx<T> {
    Err(ConflictableTransactionError::Abort(e))
}

/// Decides whether a change may be applied over the held record; `Err`
/// says which field the writer may not change.
pub type WriteCheck<'a> = dyn Fn(Option<&Record>, &Record) -> std::result::Result<(), String> + 'a;

fn pair_key(demand: &RecordId, supply: &RecordId) -> Vec<u8> {
    let mut key = demand.as_bytes().to_vec();
    key.extend_from_slice(supply.as_bytes());
    key
}

/// A change's index in its batch and the check it must pass.
type Check<'a> = (usize, &'a WriteCheck<'a>);

/// Checks `record` against the held one (if a check is given), merges it
/// and, if it changed anything, stores it at the next log position.
fn merge_and_log(
    records: &TransactionalTree,
    log: &TransactionalTree,
    position: &mut u64,
    record: &Record,
    check: Option<Check<'_>>,
) -> Tx<Option<Record>> {
    let key = record.meta.id.as_bytes();
    let held = match records.get(key)? {
        Some(v) => Some(decode::<Stored>("record", &v).or_else(abort)?.record),
        None => None,
    };
    if let Some((index, check)) = check
        && let Err(reason) = check(held.as_ref(), record)
    {
        return abort(Error::Rejected { index, reason });
    }
    let Some(merged) = merge(held.as_ref(), record) else { return Ok(None) };
    *position += 1;
    log.insert(&u64_key(*position), key.as_slice())?;
    records.insert(key.as_slice(), encode(&StoredRef { position: *position, record: &merged }))?;
    Ok(Some(merged))
}

impl CentralStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new().path(dir).mode(sled::Mode::HighThroughput).cache_capacity(CACHE_BYTES).open()?;
        let log = db.open_tree("log")?;
        let head = match log.last()? {
            Some((k, _)) => read_u64("log position", &k)?,
            None => 0,
        };
        Ok(Self {
            records: db.open_tree("records")?,
            nodes: db.open_tree("nodes")?,
            revoked: db.open_tree("revoked")?,
            routing: db.open_tree("routing")?,
            pairs: db.open_tree("pairs")?,
            head: Mutex::new(head),
            log,
            db,
        })
    }

    /// Registers a node, or updates its kind and region; keeps its sequence.
    /// Returns the entry and whether it was written (new or changed).
    pub fn register(&self, id: &NodeId, kind: NodeKind, region: Region) -> Result<(NodeEntry, bool)> {
        // Writers take turns, so a concurrent push's sequence is not overwritten.
        let _writer = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let held = self.node(id)?;
        if let Some(entry) = held.as_ref().filter(|e| e.kind == kind && e.region == region) {
            return Ok((entry.clone(), false));
        }
        let acked_seq = held.map_or(0, |n| n.acked_seq);
        let entry = NodeEntry { id: id.clone(), kind, region, acked_seq };
        self.nodes.insert(id.as_str(), encode(&entry))?;
        Ok((entry, true))
    }

    /// The registry entry of a node.
    pub fn node(&self, id: &NodeId) -> Result<Option<NodeEntry>> {
        self.nodes.get(id.as_str())?.map(|v| decode("node", &v)).transpose()
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
        self.nodes.iter().values().map(|v| decode("node", &v?)).collect()
    }

    /// Applies a node's batch of `(sequence, record)` changes in one
    /// transaction: changes at or below the node's acknowledged sequence are
    /// skipped, each other change is checked against the held record by
    /// `check` (a refusal aborts the whole batch), merged, and the sequence
    /// advances. Not yet durable: call [`CentralStore::flush`] before
    /// acknowledging.
    pub fn apply_push(&self, node: &NodeId, changes: &[(u64, Record)], check: &WriteCheck<'_>) -> Result<PushOutcome> {
        let mut head = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let trees = (&self.records, &self.log, &self.nodes);
        let outcome = trees.transaction(|(records, log, nodes)| {
            let mut entry: NodeEntry = match nodes.get(node.as_str())? {
                Some(v) => decode("node", &v).or_else(abort)?,
                None => return abort(Error::Storage(format!("node {node} is not registered"))),
            };
            let mut position = *head;
            let mut changed = Vec::new();
            for (index, (seq, record)) in changes.iter().enumerate() {
                if *seq <= entry.acked_seq {
                    continue;
                }
                entry.acked_seq = *seq;
                changed.extend(merge_and_log(records, log, &mut position, record, Some((index, check)))?);
            }
            nodes.insert(node.as_str(), encode(&entry))?;
            Ok(PushOutcome { acked_seq: entry.acked_seq, changed, head: position })
        })?;
        *head = outcome.head;
        Ok(outcome)
    }

    /// Stores records written by central itself (matches), each merged and logged.
    pub fn apply_own(&self, incoming: &[Record]) -> Result<Vec<Record>> {
        let mut head = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let trees = (&self.records, &self.log);
        let (changed, position) = trees.transaction(|(records, log)| {
            let mut position = *head;
            let mut changed = Vec::new();
            for record in incoming {
                changed.extend(merge_and_log(records, log, &mut position, record, None)?);
            }
            Ok((changed, position))
        })?;
        *head = position;
        Ok(changed)
    }

    /// Stores what matching decided, in one transaction: new or changed
    /// matches (merged and logged), each demand's routing state (opaque to
    /// the store), and the match id of each new (demand, supply) pair.
    pub fn apply_matching(
        &self,
        matches: &[Record],
        routing: &[(RecordId, Vec<u8>)],
        pairs: &[(RecordId, RecordId, RecordId)],
    ) -> Result<Vec<Record>> {
        let mut head = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let trees = (&self.records, &self.log, &self.routing, &self.pairs);
        let (changed, position) = trees.transaction(|(records, log, routing_tree, pairs_tree)| {
            let mut position = *head;
            let mut changed = Vec::new();
            for record in matches {
                changed.extend(merge_and_log(records, log, &mut position, record, None)?);
            }
            for (demand, state) in routing {
                routing_tree.insert(demand.as_bytes().as_slice(), state.as_slice())?;
            }
            for (demand, supply, id) in pairs {
                pairs_tree.insert(pair_key(demand, supply), id.as_bytes().as_slice())?;
            }
            Ok((changed, position))
        })?;
        *head = position;
        Ok(changed)
    }

    /// A demand's routing state, as last stored.
    pub fn routing(&self, demand: &RecordId) -> Result<Option<Vec<u8>>> {
        Ok(self.routing.get(demand.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Every demand's routing state.
    pub fn routing_all(&self) -> Result<Vec<(RecordId, Vec<u8>)>> {
        let mut out = Vec::new();
        for entry in self.routing.iter() {
            let (k, v) = entry?;
            let id: [u8; 16] = k
                .as_ref()
                .try_into()
                .map_err(|_| Error::Corrupt { what: "routing key", reason: "not 16 bytes".into() })?;
            out.push((RecordId::from_bytes(id), v.to_vec()));
        }
        Ok(out)
    }

    /// The matches proposed for `demand`: (supply, match id).
    pub fn pairs_of(&self, demand: &RecordId) -> Result<Vec<(RecordId, RecordId)>> {
        let mut out = Vec::new();
        for entry in self.pairs.scan_prefix(demand.as_bytes()) {
            let (k, v) = entry?;
            let bad = || Error::Corrupt { what: "pair", reason: "not 16-byte ids".into() };
            let supply: [u8; 16] = k.get(16..32).and_then(|s| s.try_into().ok()).ok_or_else(bad)?;
            let id: [u8; 16] = v.as_ref().try_into().map_err(|_| bad())?;
            out.push((RecordId::from_bytes(supply), RecordId::from_bytes(id)));
        }
        Ok(out)
    }

    /// The last log position written.
    pub fn head(&self) -> u64 {
        *self.head.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the log after `cursor` up to position `upto`: at most `limit`
    /// entries, each record at its latest state (entries superseded by a
    /// later position are skipped), with the position to resume from.
    pub fn log_after(&self, cursor: u64, upto: u64, limit: usize) -> Result<(Vec<Record>, u64)> {
        let (entries, next) = self.log_entries(cursor, upto, limit)?;
        Ok((entries.into_iter().map(|(_, record)| record).collect(), next))
    }

    /// Like [`CentralStore::log_after`], with each record's log position.
    /// Reading to the end of the range resumes from `upto`.
    pub fn log_entries(&self, cursor: u64, upto: u64, limit: usize) -> Result<(Vec<(u64, Record)>, u64)> {
        let mut out = Vec::new();
        let mut next = cursor;
        let mut scanned = 0;
        for entry in self.log.range(u64_key(cursor + 1)..=u64_key(upto)).take(limit) {
            let (position, id) = entry?;
            let position = read_u64("log position", &position)?;
            next = position;
            scanned += 1;
            let Some(value) = self.records.get(&id)? else { continue };
            let stored: Stored = decode("record", &value)?;
            if stored.position == position {
                out.push((position, stored.record));
            }
        }
        if scanned < limit {
            next = next.max(upto);
        }
        Ok((out, next))
    }

    /// One record by id.
    pub fn get(&self, id: &RecordId) -> Result<Option<Record>> {
        self.records.get(id.as_bytes())?.map(|v| decode::<Stored>("record", &v).map(|s| s.record)).transpose()
    }

    /// Calls `f` on every record.
    pub fn for_each(&self, mut f: impl FnMut(Record)) -> Result<()> {
        for value in self.records.iter().values() {
            f(decode::<Stored>("record", &value?)?.record);
        }
        Ok(())
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use kechuang_types::{Body, Clock, Demand, Hlc, Industry, Meta, Timestamp, Trl};

    /// Opens the store again; sled's background threads may hold the file
    /// lock for a moment after the previous handle is dropped.
    fn reopen(dir: &std::path::Path) -> CentralStore {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match CentralStore::open(dir) {
                Ok(store) => return store,
                Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("reopening the store: {e}"),
            }
        }
    }

    use super::*;

    fn record(clock: &mut Clock, owner: &NodeId, id: RecordId, title: &str) -> Record {
        Record {
            meta: Meta {
                id,
                owner: owner.clone(),
                version: clock.tick(),
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
                deleted: false,
                external_id: None,
            },
            body: Body::Demand(Demand {
                title: title.into(),
                description: "描述".into(),
                industry: Industry::parse("industry", "C38").unwrap(),
                keywords: vec![],
                region: Region::parse("region", "440300").unwrap(),
                budget_wan: None,
                deadline: None,
                min_trl: Trl::new("min_trl", 3).unwrap(),
                is_challenge: false,
                enterprise: String::new(),
                contact: None,
            }),
        }
    }

    fn allow(_: Option<&Record>, _: &Record) -> std::result::Result<(), String> {
        Ok(())
    }

    #[test]
    fn a_refused_change_aborts_its_whole_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = CentralStore::open(dir.path()).unwrap();
        let node = NodeId::parse("n", "sz").unwrap();
        store.register(&node, NodeKind::City, Region::parse("r", "440300").unwrap()).unwrap();
        let mut clock = Clock::resume(Hlc::ZERO);
        let batch = vec![
            (1, record(&mut clock, &node, RecordId::new(), "甲")),
            (2, record(&mut clock, &node, RecordId::new(), "乙")),
        ];
        let refuse_second =
            |_: Option<&Record>, r: &Record| if r.title() == "乙" { Err("owner".to_owned()) } else { Ok(()) };
        let err = store.apply_push(&node, &batch, &refuse_second).unwrap_err();
        assert!(matches!(err, Error::Rejected { index: 1, .. }), "{err}");
        assert_eq!(store.head(), 0, "nothing of the batch was applied");
        assert_eq!(store.node(&node).unwrap().unwrap().acked_seq, 0);
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
        let store = CentralStore::open(dir.path()).unwrap();
        let node = NodeId::parse("n", "sz").unwrap();
        store.register(&node, NodeKind::City, Region::parse("r", "440300").unwrap()).unwrap();
        let mut clock = Clock::resume(Hlc::ZERO);
        let (a, b) = (RecordId::new(), RecordId::new());
        let batch = vec![(1, record(&mut clock, &node, a, "甲")), (2, record(&mut clock, &node, b, "乙"))];
        let first = store.apply_push(&node, &batch, &allow).unwrap();
        assert_eq!((first.acked_seq, first.changed.len()), (2, 2));
        let again = store.apply_push(&node, &batch, &allow).unwrap();
        assert_eq!((again.acked_seq, again.changed.len()), (2, 0), "a resent batch is a no-op");

        let edit = vec![(3, record(&mut clock, &node, a, "甲改"))];
        store.apply_push(&node, &edit, &allow).unwrap();
        let (records, cursor) = store.log_after(0, 3, 100).unwrap();
        let titles: Vec<String> = records.iter().map(Record::title).collect();
        assert_eq!(titles, ["乙", "甲改"], "the superseded entry is skipped");
        assert_eq!(cursor, 3);
        assert_eq!(store.log_after(cursor, 3, 100).unwrap(), (vec![], 3));
    }

    #[test]
    fn acknowledged_sequence_and_log_head_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let node = NodeId::parse("n", "sz").unwrap();
        {
            let store = CentralStore::open(dir.path()).unwrap();
            store.register(&node, NodeKind::City, Region::parse("r", "440300").unwrap()).unwrap();
            let mut clock = Clock::resume(Hlc::ZERO);
            store.apply_push(&node, &[(1, record(&mut clock, &node, RecordId::new(), "甲"))], &allow).unwrap();
            store.flush().unwrap();
        }
        let store = reopen(dir.path());
        assert_eq!(store.head(), 1);
        assert_eq!(store.node(&node).unwrap().unwrap().acked_seq, 1);
    }
}
