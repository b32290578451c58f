//! A station's store: its records, the outbox of local changes not yet
//! acknowledged by central, the feed cursor, and the clock.
//!
//! Trees: `records` (id → record), `external` (kind/external id → id),
//! `outbox` (local sequence → record id, or nothing for a change central
//! refused), `refused` (the refusals, for the operator), `meta` (clock,
//! next sequence, acknowledged sequence, feed cursor). Every operator write
//! and every feed batch is one transaction; operator writes are flushed
//! before they are acknowledged.
//!
//! What the store holds is also summed up in memory (a digest per id range,
//! a count per kind): derived from disk at open, so damage done while the
//! node was down shows, and kept current by every write, so `status` and the
//! repair check cost nothing however many records a provincial node holds.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use kechuang_sync::{Digest, RANGES, merge, range_of};
use kechuang_types::{Clock, Draft, Hlc, Meta, NodeId, Record, RecordId, RecordKind, Timestamp};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::codec::{self, decode_record, encode_record, read_u64, u64_key};
use crate::{Error, Result};

mod outbox;

pub use outbox::{Refusal, RefusedChange};

const CLOCK: &[u8] = b"clock";
const NEXT_SEQ: &[u8] = b"next_seq";
const ACKED: &[u8] = b"acked";
const CURSOR: &[u8] = b"cursor";
/// How far ahead of this machine's clock a version from central may be and
/// still be taken into the node's clock.
const FAR_FUTURE_MS: u64 = 24 * 3_600_000;
/// How many refusals have been recorded (their keys).
const REFUSALS: &[u8] = b"refusals";
const EXPECTED_DIGEST: &[u8] = b"expected_digest";

/// What a publish did, record by record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Records that did not exist before.
    pub created: u32,
    /// Records whose content changed.
    pub updated: u32,
    /// Records identical to what was stored: nothing written.
    pub unchanged: u32,
    /// Records withdrawn by the file.
    pub withdrawn: u32,
}

/// What a repair changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Records written from central's copy.
    pub written: u64,
    /// Copies of others' records central says this node should not hold.
    pub removed: u64,
    /// Own records central lacks or holds older, queued to be pushed again.
    pub requeued: u64,
}

/// The store of one station.
#[derive(Debug, Clone)]
pub struct NodeStore {
    db: sled::Db,
    records: sled::Tree,
    external: sled::Tree,
    outbox: sled::Tree,
    refused: sled::Tree,
    meta: sled::Tree,
    holdings: Arc<Mutex<Holdings>>,
}

/// A summary of the records held: a digest per id range, a count per kind.
#[derive(Debug, Clone)]
struct Holdings {
    ranges: Vec<Digest>,
    counts: BTreeMap<RecordKind, u64>,
}

/// A record a transaction wrote: what it replaced, and what it is now
/// (`None` when the transaction removed it).
/// A record as held before a write and after it (`None`: not held).
pub type Change = (Option<Record>, Option<Record>);

impl Holdings {
    /// The summary of every record in `records`.
    fn scan(records: &sled::Tree) -> Result<Self> {
        let mut holdings =
            Self { ranges: vec![Digest::default(); RANGES], counts: RecordKind::ALL.iter().map(|k| (*k, 0)).collect() };
        for value in records.iter().values() {
            holdings.add(&decode_record("record", &value?)?);
        }
        Ok(holdings)
    }

    fn add(&mut self, record: &Record) {
        self.ranges[range_of(&record.meta.id)].add(record);
        *self.counts.entry(record.kind()).or_default() += 1;
    }

    fn remove(&mut self, record: &Record) {
        self.ranges[range_of(&record.meta.id)].remove(record);
        if let Some(n) = self.counts.get_mut(&record.kind()) {
            *n = n.saturating_sub(1);
        }
    }

    /// Takes in what a committed transaction wrote.
    fn apply(&mut self, changes: &[Change]) {
        for (old, new) in changes {
            if let Some(old) = old {
                self.remove(old);
            }
            if let Some(new) = new {
                self.add(new);
            }
        }
    }
}

/// sled's page cache: a station stays lightweight (sled defaults to 1 GiB).
const CACHE_BYTES: u64 = 8 * 1024 * 1024;

type Tx<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

fn abort<T>(e: Error) -> Tx<T> {
    Err(ConflictableTransactionError::Abort(e))
}

fn external_key(kind: RecordKind, external_id: &str) -> Vec<u8> {
    let mut key = kind.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(external_id.as_bytes());
    key
}

fn tx_u64(tree: &TransactionalTree, key: &[u8], what: &'static str) -> Tx<u64> {
    match tree.get(key)? {
        Some(v) => read_u64(what, &v).or_else(abort),
        None => Ok(0),
    }
}

impl NodeStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new().path(dir).mode(sled::Mode::HighThroughput).cache_capacity(CACHE_BYTES).open()?;
        let records = db.open_tree("records")?;
        let holdings = Arc::new(Mutex::new(Holdings::scan(&records)?));
        Ok(Self {
            records,
            external: db.open_tree("external")?,
            outbox: db.open_tree("outbox")?,
            refused: db.open_tree("refused")?,
            meta: db.open_tree("meta")?,
            db,
            holdings,
        })
    }

    fn holdings(&self) -> MutexGuard<'_, Holdings> {
        self.holdings.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn meta_u64(&self, key: &[u8], what: &'static str) -> Result<u64> {
        self.meta.get(key)?.map_or(Ok(0), |v| read_u64(what, &v))
    }

    /// The highest version this node handed out or observed.
    pub fn clock(&self) -> Result<Hlc> {
        self.meta_u64(CLOCK, "clock").map(Hlc::from_u64)
    }

    /// Stores operator drafts as this node's records, idempotently by
    /// external id, and makes them durable before returning.
    pub fn publish(&self, owner: &NodeId, clock: &mut Clock, drafts: &[Draft]) -> Result<PublishReport> {
        let trees = (&self.records, &self.external, &self.outbox, &self.meta);
        // Held from before the transaction to after its changes are counted,
        // so no other write or rescan interleaves.
        let mut holdings = self.holdings();
        let (report, last, changes) = trees.transaction(|(records, external, outbox, meta)| {
            let mut report = PublishReport::default();
            let mut changes: Vec<Change> = Vec::new();
            let mut tx_clock = clock.clone();
            let mut next_seq = tx_u64(meta, NEXT_SEQ, "next_seq")?.max(1);
            for Draft { external_id, body, withdrawal } in drafts {
                let existing = match external_id {
                    Some(ext) => match external.get(external_key(body.kind(), ext))? {
                        Some(id) => match records.get(&id)? {
                            Some(bytes) => Some(decode_record("record", &bytes).or_else(abort)?),
                            None => None,
                        },
                        None => None,
                    },
                    None => None,
                };
                let now = Timestamp::now();
                let record = match &existing {
                    Some(old) if old.body == *body && old.meta.withdrawal == *withdrawal => {
                        report.unchanged += 1;
                        continue;
                    }
                    // Nothing published under that reference: nothing to withdraw.
                    None if withdrawal.is_some() => {
                        report.unchanged += 1;
                        continue;
                    }
                    Some(old) => {
                        if withdrawal.is_some() && !old.meta.deleted {
                            report.withdrawn += 1;
                        } else {
                            report.updated += 1;
                        }
                        let version = tx_clock.tick().map_err(Error::from).or_else(abort)?;
                        let deleted = withdrawal.is_some();
                        let withdrawal = withdrawal.clone();
                        let meta = Meta { version, updated_at: now, deleted, withdrawal, ..old.meta.clone() };
                        Record { meta, body: body.clone() }
                    }
                    None => {
                        report.created += 1;
                        let meta = Meta {
                            id: RecordId::new(),
                            owner: owner.clone(),
                            version: tx_clock.tick().map_err(Error::from).or_else(abort)?,
                            created_at: now,
                            updated_at: now,
                            deleted: false,
                            external_id: external_id.clone(),
                            withdrawal: None,
                        };
                        Record { meta, body: body.clone() }
                    }
                };
                let id = record.meta.id.as_bytes().to_vec();
                records.insert(id.as_slice(), encode_record(&record))?;
                if let Some(ext) = external_id {
                    external.insert(external_key(body.kind(), ext), id.as_slice())?;
                }
                outbox.insert(&u64_key(next_seq), id.as_slice())?;
                next_seq += 1;
                changes.push((existing, Some(record)));
            }
            meta.insert(NEXT_SEQ, &u64_key(next_seq))?;
            meta.insert(CLOCK, &u64_key(tx_clock.last().as_u64()))?;
            Ok((report, tx_clock.last(), changes))
        })?;
        holdings.apply(&changes);
        drop(holdings);
        *clock = Clock::resume(last);
        self.db.flush()?;
        Ok(report)
    }

    /// Stores changes this node made to records (answers to matches, bids,
    /// decisions), already versioned by `clock`, and queues them for central;
    /// durable on return.
    pub fn write_local(&self, changed: &[Record], clock: &Clock) -> Result<()> {
        let trees = (&self.records, &self.outbox, &self.meta);
        let mut holdings = self.holdings();
        let changes = trees.transaction(|(records, outbox, meta)| {
            let mut next_seq = tx_u64(meta, NEXT_SEQ, "next_seq")?.max(1);
            let mut changes: Vec<Change> = Vec::with_capacity(changed.len());
            for record in changed {
                let id = record.meta.id.as_bytes().as_slice();
                let old = match records.insert(id, encode_record(record))? {
                    Some(bytes) => Some(decode_record("record", &bytes).or_else(abort)?),
                    None => None,
                };
                outbox.insert(&u64_key(next_seq), id)?;
                next_seq += 1;
                changes.push((old, Some(record.clone())));
            }
            meta.insert(NEXT_SEQ, &u64_key(next_seq))?;
            meta.insert(CLOCK, &u64_key(clock.last().as_u64()))?;
            Ok(changes)
        })?;
        holdings.apply(&changes);
        drop(holdings);
        self.db.flush()?;
        Ok(())
    }

    /// This node's record of `kind` with the operator's reference `external_id`.
    pub fn by_external(&self, kind: RecordKind, external_id: &str) -> Result<Option<Record>> {
        match self.external.get(external_key(kind, external_id))? {
            Some(id) => self.records.get(&id)?.map(|v| decode_record("record", &v)).transpose(),
            None => Ok(None),
        }
    }

    /// One record by id.
    pub fn get(&self, id: &RecordId) -> Result<Option<Record>> {
        self.records.get(id.as_bytes())?.map(|v| decode_record("record", &v)).transpose()
    }

    /// The feed position to resume from.
    pub fn cursor(&self) -> Result<u64> {
        self.meta_u64(CURSOR, "cursor")
    }

    /// Applies a feed batch and advances the cursor in one atomic write;
    /// returns the records that changed, each as held before and after.
    pub fn apply_feed(&self, incoming: &[Record], cursor: u64, clock: &mut Clock) -> Result<Vec<Change>> {
        let now_ms = Timestamp::now().0.max(0) as u64;
        let trees = (&self.records, &self.meta);
        let mut holdings = self.holdings();
        let (changes, last) = trees.transaction(|(records, meta)| {
            let mut changes: Vec<Change> = Vec::new();
            let mut tx_clock = clock.clone();
            for record in incoming {
                // Central bounds what it admits; a version from the far
                // future (left from before) is still not taken in.
                tx_clock.observe_within(record.meta.version, now_ms, FAR_FUTURE_MS);
                let key = record.meta.id.as_bytes();
                let held = match records.get(key)? {
                    Some(bytes) => Some(decode_record("record", &bytes).or_else(abort)?),
                    None => None,
                };
                if let Some(merged) = merge(held.as_ref(), record) {
                    records.insert(key.as_slice(), encode_record(&merged))?;
                    changes.push((held, Some(merged)));
                }
            }
            meta.insert(CURSOR, &u64_key(cursor))?;
            meta.insert(CLOCK, &u64_key(tx_clock.last().as_u64()))?;
            Ok((changes, tx_clock.last()))
        })?;
        holdings.apply(&changes);
        *clock = Clock::resume(last);
        Ok(changes)
    }

    /// Every record of `kind` this node holds, oldest first.
    pub fn list(&self, kind: Option<RecordKind>) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for entry in self.records.iter().values() {
            let bytes = entry?;
            // Most records are of other kinds: skip them undecoded.
            if let Some(k) = kind
                && codec::record_is(&bytes, k.as_str()) == Some(false)
            {
                continue;
            }
            let record: Record = decode_record("record", &bytes)?;
            if kind.is_none_or(|k| record.kind() == k) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// The digest of each id range of what this node holds.
    pub fn range_digests(&self) -> Result<Vec<Digest>> {
        Ok(self.holdings().ranges.clone())
    }

    /// Makes what this node holds in the id ranges `ranges` equal central's
    /// copies `authoritative`: others' records are replaced or removed, and
    /// this node's own records that central lacks or holds older are queued
    /// to be pushed again. One transaction, flushed.
    pub fn repair(&self, ranges: &[usize], authoritative: &[Record], me: &NodeId) -> Result<RepairReport> {
        let in_ranges = |id: &RecordId| ranges.contains(&range_of(id));
        let central: BTreeMap<RecordId, &Record> = authoritative.iter().map(|r| (r.meta.id, r)).collect();
        let mut held_only = Vec::new();
        for key in self.records.iter().keys() {
            let key = key?;
            let id = RecordId::from_bytes(
                key.as_ref()
                    .try_into()
                    .map_err(|_| Error::Corrupt { what: "record key", reason: format!("{} bytes", key.len()) })?,
            );
            if in_ranges(&id) && !central.contains_key(&id) {
                held_only.push(id);
            }
        }
        let trees = (&self.records, &self.outbox, &self.meta);
        let mut holdings = self.holdings();
        let report = trees.transaction(|(records, outbox, meta)| {
            let mut report = RepairReport::default();
            let mut next_seq = tx_u64(meta, NEXT_SEQ, "next_seq")?.max(1);
            let mut requeue = |id: &RecordId, report: &mut RepairReport| -> Tx<()> {
                outbox.insert(&u64_key(next_seq), id.as_bytes().as_slice())?;
                next_seq += 1;
                report.requeued += 1;
                Ok(())
            };
            for id in &held_only {
                let Some(bytes) = records.get(id.as_bytes())? else { continue };
                let held: Record = decode_record("record", &bytes).or_else(abort)?;
                if held.meta.owner == *me {
                    requeue(id, &mut report)?;
                } else {
                    records.remove(id.as_bytes().as_slice())?;
                    report.removed += 1;
                }
            }
            for (id, copy) in &central {
                let held: Option<Record> = match records.get(id.as_bytes())? {
                    Some(bytes) => Some(decode_record("record", &bytes).or_else(abort)?),
                    None => None,
                };
                if held.as_ref() == Some(*copy) {
                    continue;
                }
                let mine = held.as_ref().is_some_and(|h| h.meta.owner == *me);
                let value = match (&held, mine) {
                    (Some(held), true) => {
                        let merged = merge(Some(held), copy).unwrap_or_else(|| held.clone());
                        if merged != **copy {
                            requeue(id, &mut report)?;
                        }
                        merged
                    }
                    _ => (*copy).clone(),
                };
                if held.as_ref() != Some(&value) {
                    records.insert(id.as_bytes().as_slice(), encode_record(&value))?;
                    report.written += 1;
                }
            }
            meta.insert(NEXT_SEQ, &u64_key(next_seq))?;
            Ok(report)
        })?;
        // Rare, and the summary may be what was wrong: derive it afresh.
        *holdings = Holdings::scan(&self.records)?;
        drop(holdings);
        self.db.flush()?;
        Ok(report)
    }

    /// How many records of each kind this node holds, and their digest.
    pub fn summary(&self) -> Result<(BTreeMap<RecordKind, u64>, Digest)> {
        let holdings = self.holdings();
        let mut digest = Digest::default();
        holdings.ranges.iter().for_each(|d| digest.combine(d));
        Ok((holdings.counts.clone(), digest))
    }

    /// Remembers the digest central says this node should hold.
    pub fn set_expected_digest(&self, digest: &str) -> Result<()> {
        self.meta.insert(EXPECTED_DIGEST, digest.as_bytes())?;
        Ok(())
    }

    /// The digest central last said this node should hold.
    pub fn expected_digest(&self) -> Result<Option<String>> {
        Ok(self.meta.get(EXPECTED_DIGEST)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use kechuang_types::{Demand, Industry, Region, Trl};

    use super::*;

    fn draft(external_id: Option<String>, body: kechuang_types::Body) -> Draft {
        Draft { external_id, body, withdrawal: None }
    }

    fn demand(title: &str) -> kechuang_types::Body {
        kechuang_types::Body::Demand(Demand {
            title: title.into(),
            description: "描述".into(),
            industry: Industry::parse("industry", "C38").unwrap(),
            keywords: vec!["储能".into()],
            region: Region::parse("region", "440300").unwrap(),
            budget_wan: Some(50.0),
            deadline: None,
            min_trl: Trl::new("min_trl", 5).unwrap(),
            is_challenge: false,
            enterprise: String::new(),
            contact: None,
            service_modes: Vec::new(),
        })
    }

    fn open() -> (tempfile::TempDir, NodeStore, Clock, NodeId) {
        let dir = tempfile::tempdir().unwrap();
        let store = NodeStore::open(dir.path()).unwrap();
        (dir, store, Clock::resume(Hlc::ZERO), NodeId::parse("n", "sz").unwrap())
    }

    #[test]
    fn republishing_the_same_draft_changes_nothing() {
        let (_dir, store, mut clock, owner) = open();
        let drafts = vec![draft(Some("D-1".to_owned()), demand("电池热失控预警"))];
        let first = store.publish(&owner, &mut clock, &drafts).unwrap();
        assert_eq!(first.created, 1);
        let before = store.summary().unwrap().1;
        let second = store.publish(&owner, &mut clock, &drafts).unwrap();
        assert_eq!(second, PublishReport { unchanged: 1, ..Default::default() });
        assert_eq!(store.summary().unwrap().1, before);
        assert_eq!(store.unacked().unwrap(), 1);
    }

    #[test]
    fn a_row_marked_withdrawn_withdraws_its_record_once_and_republishing_restores_it() {
        use kechuang_types::{WithdrawReason, Withdrawal};
        let (_dir, store, mut clock, owner) = open();
        let row = draft(Some("D-1".into()), demand("电池热失控预警"));
        store.publish(&owner, &mut clock, std::slice::from_ref(&row)).unwrap();
        let solved = Draft {
            withdrawal: Some(Withdrawal { reason: WithdrawReason::Solved, note: "已与高校签约".into() }),
            ..row.clone()
        };
        let report = store.publish(&owner, &mut clock, std::slice::from_ref(&solved)).unwrap();
        assert_eq!(report, PublishReport { withdrawn: 1, ..Default::default() });
        let held = store.list(None).unwrap().remove(0);
        assert!(held.meta.deleted && held.meta.withdrawal == solved.withdrawal);
        let again = store.publish(&owner, &mut clock, std::slice::from_ref(&solved)).unwrap();
        assert_eq!(again, PublishReport { unchanged: 1, ..Default::default() });
        let unknown = Draft { external_id: Some("D-9".into()), ..solved.clone() };
        assert_eq!(store.publish(&owner, &mut clock, &[unknown]).unwrap().unchanged, 1, "nothing to withdraw");
        let back = store.publish(&owner, &mut clock, &[row]).unwrap();
        assert_eq!(back.updated, 1);
        assert!(!store.list(None).unwrap()[0].meta.deleted, "republished without the mark: back");
    }

    #[test]
    fn an_edited_row_updates_its_record_with_a_newer_version() {
        let (_dir, store, mut clock, owner) = open();
        store.publish(&owner, &mut clock, &[draft(Some("D-1".into()), demand("旧"))]).unwrap();
        let old = store.list(None).unwrap().remove(0);
        let report = store.publish(&owner, &mut clock, &[draft(Some("D-1".into()), demand("新"))]).unwrap();
        assert_eq!(report.updated, 1);
        let all = store.list(None).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].meta.id, old.meta.id);
        assert!(all[0].meta.version > old.meta.version);
        assert_eq!(store.outbox_after(0, 10).unwrap().len(), 2);
    }

    #[test]
    fn ack_trims_the_outbox_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let owner = NodeId::parse("n", "sz").unwrap();
        {
            let store = NodeStore::open(dir.path()).unwrap();
            let mut clock = Clock::resume(Hlc::ZERO);
            let drafts: Vec<_> = (0..5).map(|i| draft(Some(format!("D-{i}")), demand(&format!("需求{i}")))).collect();
            store.publish(&owner, &mut clock, &drafts).unwrap();
            store.ack(3).unwrap();
            store.flush().unwrap();
        }
        let store = crate::testing::reopen(|| NodeStore::open(dir.path()));
        let rest: Vec<u64> = store.outbox_after(store.acked().unwrap(), 10).unwrap().iter().map(|(s, _)| *s).collect();
        assert_eq!(rest, vec![4, 5]);
        assert!(store.clock().unwrap() > Hlc::ZERO);
    }

    #[test]
    fn feed_batches_apply_idempotently_with_their_cursor() {
        let (_dir, store, mut clock, _) = open();
        let (_d2, other, mut other_clock, owner) = open();
        other.publish(&owner, &mut other_clock, &[draft(None, demand("甲")), draft(None, demand("乙"))]).unwrap();
        let records = other.list(None).unwrap();
        assert_eq!(store.apply_feed(&records, 7, &mut clock).unwrap().len(), 2);
        assert_eq!(store.apply_feed(&records, 7, &mut clock).unwrap().len(), 0);
        assert_eq!(store.cursor().unwrap(), 7);
        assert_eq!(store.summary().unwrap().1, other.summary().unwrap().1);
        assert!(clock.last() >= records[1].meta.version);
    }

    #[test]
    fn the_running_summary_equals_the_one_derived_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let owner = NodeId::parse("n", "sz").unwrap();
        let (running, ranges) = {
            let store = NodeStore::open(dir.path()).unwrap();
            let mut clock = Clock::resume(Hlc::ZERO);
            let drafts: Vec<_> = (0..50).map(|i| draft(Some(format!("D-{i}")), demand(&format!("需求{i}")))).collect();
            store.publish(&owner, &mut clock, &drafts).unwrap();
            let edited: Vec<_> = (0..10).map(|i| draft(Some(format!("D-{i}")), demand(&format!("改{i}")))).collect();
            store.publish(&owner, &mut clock, &edited).unwrap();
            let (_d2, other, mut other_clock, other_owner) = open();
            other
                .publish(&other_owner, &mut other_clock, &[draft(None, demand("甲")), draft(None, demand("乙"))])
                .unwrap();
            store.apply_feed(&other.list(None).unwrap(), 3, &mut clock).unwrap();
            let mut answered = store.list(None).unwrap().remove(0);
            answered.meta.version = clock.tick().unwrap();
            store.write_local(&[answered], &clock).unwrap();
            store.flush().unwrap();
            (store.summary().unwrap(), store.range_digests().unwrap())
        };
        assert_eq!(running.0[&RecordKind::Demand], 52);
        assert_eq!(running.1.count(), 52);
        let store = crate::testing::reopen(|| NodeStore::open(dir.path()));
        assert_eq!(store.summary().unwrap(), running);
        assert_eq!(store.range_digests().unwrap(), ranges);
    }

    #[test]
    fn a_record_lost_while_the_node_was_down_shows_in_the_summary() {
        let dir = tempfile::tempdir().unwrap();
        let owner = NodeId::parse("n", "sz").unwrap();
        let (before, lost) = {
            let store = NodeStore::open(dir.path()).unwrap();
            let mut clock = Clock::resume(Hlc::ZERO);
            store.publish(&owner, &mut clock, &[draft(None, demand("甲")), draft(None, demand("乙"))]).unwrap();
            let lost = store.list(None).unwrap().remove(0);
            store.records.remove(lost.meta.id.as_bytes()).unwrap();
            store.flush().unwrap();
            (store.summary().unwrap().1, lost)
        };
        assert_eq!(before.count(), 2, "the running summary does not see damage behind the store's back");
        let store = crate::testing::reopen(|| NodeStore::open(dir.path()));
        let mut expected = before;
        expected.remove(&lost);
        assert_eq!(store.summary().unwrap().1, expected);
    }
}
