//! The outbox: this node's changes waiting for central, in sequence order,
//! and what becomes of them. Central acknowledges them; when central's count
//! and the node's disagree (one of them restored from an older state) the
//! waiting changes are renumbered to follow central's; and a change central
//! refuses is withdrawn (its sequence number then carries nothing), its
//! record put back to central's copy, and the refusal kept for the operator,
//! so one refused change never holds up the changes after it.

use std::collections::{HashMap, HashSet};

use kechuang_types::{NodeId, Record, RecordId, RecordKind, Timestamp};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use tracing::warn;

use super::{ACKED, Change, NEXT_SEQ, NodeStore, REFUSALS, abort, external_key, tx_u64};
use crate::codec::{decode, decode_record, encode, encode_record, read_u64, u64_key};
use crate::{Error, Result};

/// A change central refused, as this node keeps it for its operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    /// The change's sequence number.
    pub seq: u64,
    /// When central's refusal arrived.
    pub at: Timestamp,
    /// The record the change was about.
    pub id: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// Its title or name.
    pub title: String,
    /// The field central named.
    pub field: String,
    /// Why central refused it.
    pub reason: String,
    /// The record as it was sent.
    pub sent: Record,
    /// Whether this node's copy was put back to central's (or removed,
    /// when central holds none); false when it had changed again since.
    pub restored: bool,
}

/// A refused change, as central reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedChange {
    /// The change's sequence number.
    pub seq: u64,
    /// The record it was about.
    pub id: RecordId,
    /// The field central named.
    pub field: String,
    /// Why central refused it.
    pub reason: String,
    /// What this node should hold of the record instead (`None`: nothing).
    pub current: Option<Record>,
}

/// An outbox value: the changed record's id, or nothing for a withdrawn change.
const WITHDRAWN: &[u8] = &[];

impl NodeStore {
    /// Up to `limit` unacknowledged changes after `after`, in sequence
    /// order, each with the record's current state (`None` for a change
    /// withdrawn after central refused it).
    pub fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Option<Record>)>> {
        let mut out = Vec::new();
        let Some(first) = after.checked_add(1) else { return Ok(out) };
        for entry in self.outbox.range(u64_key(first)..).take(limit) {
            let (seq, id) = entry?;
            let seq = read_u64("outbox sequence", &seq)?;
            if id.is_empty() {
                out.push((seq, None));
                continue;
            }
            let record = self
                .records
                .get(&id)?
                .ok_or(Error::Corrupt { what: "outbox", reason: "names a missing record".into() })?;
            out.push((seq, Some(decode_record("record", &record)?)));
        }
        Ok(out)
    }

    /// Records central's acknowledgement of every change up to `seq`.
    pub fn ack(&self, seq: u64) -> Result<()> {
        let acked = self.acked()?;
        if seq <= acked {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for key in self.outbox.range(..=u64_key(seq)).keys() {
            batch.remove(key?);
        }
        self.outbox.apply_batch(batch)?;
        self.meta.insert(ACKED, &u64_key(seq))?;
        Ok(())
    }

    /// Takes in the sequence central says it has applied when a session
    /// opens. Normally it lies between this node's acknowledged sequence
    /// and its next one, and acknowledges what it covers. Otherwise one
    /// side was restored from an older state, and the waiting changes are
    /// renumbered to follow central's count, so pushes continue it without
    /// a gap (what central lost is found and pushed again by repair).
    pub fn resume_from(&self, central_acked: u64) -> Result<()> {
        let acked = self.acked()?;
        let next = self.meta_u64(NEXT_SEQ, "next_seq")?.max(1);
        if (acked..next).contains(&central_acked) {
            return self.ack(central_acked);
        }
        let waiting: Vec<(sled::IVec, sled::IVec)> = self.outbox.iter().collect::<std::result::Result<_, _>>()?;
        let Some(first) = central_acked.checked_add(1) else {
            return Err(Error::Corrupt {
                what: "acknowledged sequence",
                reason: format!("{central_acked} from central"),
            });
        };
        warn!(
            node_acked = acked,
            node_next = next,
            central_acked,
            waiting = waiting.len(),
            "central's count of this node's changes differs from the node's; renumbering the waiting changes"
        );
        (&self.outbox, &self.meta).transaction(|(outbox, meta)| {
            for (key, _) in &waiting {
                outbox.remove(key)?;
            }
            let mut seq = first;
            for (_, value) in &waiting {
                outbox.insert(&u64_key(seq), value)?;
                seq += 1;
            }
            meta.insert(NEXT_SEQ, &u64_key(seq))?;
            meta.insert(ACKED, &u64_key(central_acked))?;
            Ok(())
        })?;
        self.db.flush()?;
        Ok(())
    }

    /// The highest sequence central acknowledged.
    pub fn acked(&self) -> Result<u64> {
        self.meta_u64(ACKED, "acked")
    }

    /// How many local changes central has not acknowledged.
    pub fn unacked(&self) -> Result<u64> {
        Ok(self.outbox.len() as u64)
    }

    /// Takes in central's refusal of this node's (`me`) push `sent`: each
    /// refused change is withdrawn from the outbox, what this node wrote of
    /// its record put back to central's copy (or the record removed, with
    /// its reference, if central holds none) unless this node has written
    /// it again since it was sent (`kechuang_sync::restore`), and the
    /// refusal is recorded. One transaction, flushed; returns what was
    /// recorded.
    pub fn refuse(
        &self,
        me: &NodeId,
        sent: &[(u64, Option<Record>)],
        refused: &[RefusedChange],
    ) -> Result<Vec<Refusal>> {
        let sent: HashMap<u64, &Record> = sent.iter().filter_map(|(seq, r)| Some((*seq, r.as_ref()?))).collect();
        for r in refused {
            if !sent.contains_key(&r.seq) {
                return Err(Error::Corrupt { what: "refusal", reason: format!("names sequence {}, not sent", r.seq) });
            }
        }
        // Other waiting changes of a record that is going away are withdrawn with it.
        let going: HashSet<&[u8]> =
            refused.iter().filter(|r| r.current.is_none()).map(|r| r.id.as_bytes().as_slice()).collect();
        let mut naming: HashMap<Vec<u8>, Vec<sled::IVec>> = HashMap::new();
        if !going.is_empty() {
            for entry in self.outbox.iter() {
                let (seq, id) = entry?;
                if going.contains(id.as_ref()) {
                    naming.entry(id.to_vec()).or_default().push(seq);
                }
            }
        }
        let at = Timestamp::now();
        let trees = (&self.records, &self.external, &self.outbox, &self.refused, &self.meta);
        let mut holdings = self.holdings();
        let (changes, logged) = trees.transaction(|(records, external, outbox, refusals, meta)| {
            let mut changes: Vec<Change> = Vec::new();
            let mut logged = Vec::with_capacity(refused.len());
            let mut count = tx_u64(meta, REFUSALS, "refusals")?;
            for r in refused {
                let sent = sent[&r.seq];
                let key = r.id.as_bytes().as_slice();
                let local: Option<Record> = match records.get(key)? {
                    Some(bytes) => Some(decode_record("record", &bytes).or_else(abort)?),
                    None => None,
                };
                let restore = kechuang_sync::restore(local.as_ref(), sent, r.current.as_ref(), me);
                let restored = restore.is_some();
                if let Some(restore) = restore {
                    match restore {
                        Some(current) => {
                            records.insert(key, encode_record(&current))?;
                            changes.push((local, Some(current)));
                        }
                        None => {
                            records.remove(key)?;
                            if let Some(ext) = &sent.meta.external_id {
                                let ext = external_key(sent.kind(), ext);
                                if external.get(&ext)?.is_some_and(|id| id.as_ref() == key) {
                                    external.remove(ext)?;
                                }
                            }
                            for seq in naming.get(key).into_iter().flatten() {
                                outbox.insert(seq, WITHDRAWN)?;
                            }
                            changes.push((local, None));
                        }
                    }
                }
                outbox.insert(&u64_key(r.seq), WITHDRAWN)?;
                count += 1;
                let refusal = Refusal {
                    seq: r.seq,
                    at,
                    id: r.id,
                    kind: sent.kind(),
                    title: sent.title(),
                    field: r.field.clone(),
                    reason: r.reason.clone(),
                    sent: sent.clone(),
                    restored,
                };
                refusals.insert(&u64_key(count), encode(&refusal))?;
                logged.push(refusal);
            }
            meta.insert(REFUSALS, &u64_key(count))?;
            Ok((changes, logged))
        })?;
        holdings.apply(&changes);
        drop(holdings);
        self.db.flush()?;
        Ok(logged)
    }

    /// Every refusal recorded, oldest first.
    pub fn refusals(&self) -> Result<Vec<Refusal>> {
        self.refused.iter().values().map(|v| decode("refusal", &v?)).collect()
    }

    /// How many refusals have been recorded.
    pub fn refusal_count(&self) -> Result<u64> {
        self.meta_u64(REFUSALS, "refusals")
    }
}

#[cfg(test)]
mod tests {
    use kechuang_types::{Body, Clock, Hlc, NodeId};

    use super::*;

    fn draft(external_id: Option<String>, body: kechuang_types::Body) -> kechuang_types::Draft {
        kechuang_types::Draft { external_id, body, withdrawal: None }
    }

    fn demand(title: &str) -> Body {
        kechuang_types::testing::demand(title).body
    }

    fn open() -> (tempfile::TempDir, NodeStore, Clock, NodeId) {
        let dir = tempfile::tempdir().unwrap();
        let store = NodeStore::open(dir.path()).unwrap();
        (dir, store, Clock::resume(Hlc::ZERO), NodeId::parse("n", "sz").unwrap())
    }

    fn seqs(store: &NodeStore) -> Vec<(u64, bool)> {
        store.outbox_after(0, 100).unwrap().into_iter().map(|(seq, r)| (seq, r.is_some())).collect()
    }

    #[test]
    fn a_refused_new_record_is_withdrawn_and_the_rest_still_waits() {
        let (_dir, store, mut clock, me) = open();
        let drafts = [draft(Some("XQ-1".into()), demand("甲")), draft(Some("XQ-2".into()), demand("乙"))];
        store.publish(&me, &mut clock, &drafts).unwrap();
        let sent = store.outbox_after(0, 10).unwrap();
        let refused_id = sent[0].1.as_ref().unwrap().meta.id;
        let refusal =
            RefusedChange { seq: 1, id: refused_id, field: "region".into(), reason: "outside".into(), current: None };
        let logged = store.refuse(&me, &sent, &[refusal]).unwrap();
        assert!(logged[0].restored && logged[0].title == "甲");
        assert_eq!(seqs(&store), [(1, false), (2, true)], "the sequence stays, carrying nothing");
        assert_eq!(store.get(&refused_id).unwrap(), None);
        assert_eq!(store.summary().unwrap().1.count(), 1);
        assert_eq!(store.refusal_count().unwrap(), 1);
        assert_eq!(store.refusals().unwrap()[0].field, "region");
        let again = store.publish(&me, &mut clock, &drafts).unwrap();
        assert_eq!(again.created, 1, "the refused row can be published again");
    }

    #[test]
    fn a_refused_edit_is_put_back_to_centrals_copy_unless_edited_since() {
        let (_dir, store, mut clock, me) = open();
        store.publish(&me, &mut clock, &[draft(Some("XQ-1".into()), demand("原标题"))]).unwrap();
        let original = store.outbox_after(0, 1).unwrap()[0].1.clone().unwrap();
        store.ack(1).unwrap();
        store.publish(&me, &mut clock, &[draft(Some("XQ-1".into()), demand("改后"))]).unwrap();
        let sent = store.outbox_after(1, 10).unwrap();
        let refusal = |seq| RefusedChange {
            seq,
            id: original.meta.id,
            field: "title".into(),
            reason: "no".into(),
            current: Some(original.clone()),
        };
        store.refuse(&me, &sent, &[refusal(2)]).unwrap();
        assert_eq!(store.get(&original.meta.id).unwrap(), Some(original.clone()));

        store.publish(&me, &mut clock, &[draft(Some("XQ-1".into()), demand("再改"))]).unwrap();
        let sent = store.outbox_after(2, 10).unwrap();
        store.publish(&me, &mut clock, &[draft(Some("XQ-1".into()), demand("又改"))]).unwrap();
        let logged = store.refuse(&me, &sent, &[refusal(3)]).unwrap();
        assert!(!logged[0].restored, "edited after it was sent: the newer edit stays");
        assert_eq!(store.get(&original.meta.id).unwrap().unwrap().title(), "又改");
        assert_eq!(seqs(&store), [(2, false), (3, false), (4, true)]);
    }

    #[test]
    fn waiting_changes_follow_centrals_count_when_it_differs() {
        let (_dir, store, mut clock, me) = open();
        let drafts: Vec<_> = (0..3).map(|i| draft(None, demand(&format!("需求{i}")))).collect();
        store.publish(&me, &mut clock, &drafts).unwrap();
        store.resume_from(1).unwrap();
        assert_eq!(seqs(&store), [(2, true), (3, true)], "the usual case: what central applied is acknowledged");
        store.resume_from(40).unwrap();
        assert_eq!(seqs(&store), [(41, true), (42, true)], "this node's count fell behind central's");
        assert_eq!(store.acked().unwrap(), 40);
        store.resume_from(7).unwrap();
        assert_eq!(seqs(&store), [(8, true), (9, true)], "central lost what it had acknowledged");
        store.publish(&me, &mut clock, &[draft(None, demand("新的"))]).unwrap();
        assert_eq!(seqs(&store).last(), Some(&(10, true)), "new changes continue the count");
    }
}
