//! A node's push, judged as a whole: its sequence numbers must continue
//! what central acknowledged, every change is admitted (see [`admit`])
//! against what the batch's earlier changes would leave, and either every
//! change is merged or none is. A refused batch comes back with every
//! refusal and, for each, what the node should hold instead, so the node
//! can withdraw those changes and push the rest.
//!
//! [`admit`]: crate::admit

use std::collections::HashMap;

use kechuang_types::{Body, NodeId, Record, RecordId};

use crate::admit::{Bounds, Lookup, Refusal, admit};
use crate::{Peer, held_by, merge};

/// One change of a push: its sequence number and what it carries.
pub type Change = (u64, Incoming);

/// What one change of a push carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A record's state after the change, validated.
    Record(Box<Record>),
    /// Nothing: a sequence number the node withdrew (a change central
    /// refused), which is counted and applies nothing.
    Withdrawn,
    /// A record that failed validation on receipt: refused like any other.
    Invalid {
        /// The record's id.
        id: RecordId,
        /// The field that failed, and why.
        refusal: Refusal,
    },
}

/// What central decided about a push.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Every change admitted: the records to store, merged, each once in
    /// the order of its first change, and the sequence to acknowledge.
    Admitted {
        /// The merged records that changed.
        records: Vec<Record>,
        /// The highest sequence of the batch (or the one before it, if empty).
        acked_seq: u64,
    },
    /// Some changes refused: nothing of the batch may be applied.
    Refused(Vec<Refused>),
}

/// One refused change.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// Its position in the batch.
    pub index: usize,
    /// Its sequence number.
    pub seq: u64,
    /// The record it was about.
    pub id: RecordId,
    /// Which field, and why.
    pub refusal: Refusal,
    /// What the node should hold of that record instead: central's copy in
    /// the node's view, or `None` if the node should hold nothing.
    pub current: Option<Record>,
}

/// Why a push could not be judged at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushError<E> {
    /// The sequence numbers do not continue central's acknowledgement
    /// without gaps.
    Sequence {
        /// The change's position in the batch.
        index: usize,
        /// The sequence number it carries.
        seq: u64,
        /// The sequence number it should carry.
        expected: String,
    },
    /// A record could not be read.
    Lookup(E),
}

impl<E: std::fmt::Display> std::fmt::Display for PushError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sequence { index, seq, expected } => write!(f, "changes[{index}].seq: {seq}, expected {expected}"),
            Self::Lookup(e) => e.fmt(f),
        }
    }
}

/// The records of the batch admitted so far, over what central holds.
struct Pending<'a, L> {
    merged: HashMap<RecordId, Record>,
    order: Vec<RecordId>,
    held: &'a mut L,
}

impl<L: Lookup> Lookup for Pending<'_, L> {
    type Error = L::Error;
    fn get(&mut self, id: &RecordId) -> Result<Option<Record>, L::Error> {
        match self.merged.get(id) {
            Some(record) => Ok(Some(record.clone())),
            None => self.held.get(id),
        }
    }
}

/// What a node holds of a record after central refused the change it sent
/// (`sent`): `None` to keep its copy (it has written that record again
/// since, so the newer change will be judged on its own); otherwise its copy
/// with the parts it writes put back to central's (`current`), the parts
/// others write kept at the newest of both; `Some(None)` when central holds
/// nothing of it.
pub fn restore(local: Option<&Record>, sent: &Record, current: Option<&Record>, me: &NodeId) -> Option<Option<Record>> {
    let local = local?;
    if !same_own_parts(local, sent, me) {
        return None;
    }
    let Some(current) = current else { return Some(None) };
    let mut base = local.clone();
    copy_own_parts(&mut base, current, me);
    Some(Some(merge(Some(current), &base).unwrap_or_else(|| current.clone())))
}

/// Whether `a` and `b` agree on every part `me` writes.
fn same_own_parts(a: &Record, b: &Record, me: &NodeId) -> bool {
    let mut a_only_mine = b.clone();
    copy_own_parts(&mut a_only_mine, a, me);
    a_only_mine == *b
}

/// Copies into `to` the parts of `from` that `me` writes.
fn copy_own_parts(to: &mut Record, from: &Record, me: &NodeId) {
    match (&mut to.body, &from.body) {
        (Body::Match(t), Body::Match(f)) => {
            if t.demand_owner == *me {
                t.demand_side = f.demand_side.clone();
            }
            if t.supply_owner == *me {
                t.supply_side = f.supply_side.clone();
            }
            if t.landing_node == *me {
                t.landing = f.landing.clone();
            }
        }
        (Body::Bid(t), Body::Bid(f)) => {
            let decision = if t.demand_owner == *me { f.decision } else { t.decision };
            if from.meta.owner == *me {
                *to = from.clone();
            }
            if let Body::Bid(t) = &mut to.body {
                t.decision = decision;
            }
        }
        (Body::Team(t), Body::Team(f)) => {
            // The other member nodes' answers stay as `to` has them.
            let theirs: Vec<_> = t.members.iter().filter(|m| m.node != *me).map(|m| (m.expert, m.accepted)).collect();
            if from.meta.owner == *me {
                *to = from.clone();
            }
            if let Body::Team(t) = &mut to.body {
                for member in &mut t.members {
                    let answer = if member.node == *me {
                        f.members.iter().find(|m| m.expert == member.expert).map(|m| m.accepted)
                    } else {
                        theirs.iter().find(|(expert, _)| *expert == member.expert).map(|(_, a)| *a)
                    };
                    if let Some(accepted) = answer {
                        member.accepted = accepted;
                    }
                }
            }
        }
        _ if from.meta.owner == *me => *to = from.clone(),
        _ => {}
    }
}

/// Checks the sequence numbers of a push against the acknowledged one:
/// the first at most one past it (what comes before was resent), each next
/// one more than the last.
pub fn check_sequence<E>(acked_seq: u64, seqs: impl IntoIterator<Item = u64>) -> Result<(), PushError<E>> {
    let mut previous: Option<u64> = None;
    for (index, seq) in seqs.into_iter().enumerate() {
        let ok = match previous {
            None => seq >= 1 && acked_seq.checked_add(1).is_some_and(|next| seq <= next),
            Some(p) => p.checked_add(1) == Some(seq),
        };
        if !ok {
            let expected = match previous {
                None => format!("at most {} (one past the acknowledged {acked_seq})", acked_seq.saturating_add(1)),
                Some(p) => format!("{} (no gaps)", p.saturating_add(1)),
            };
            return Err(PushError::Sequence { index, seq, expected });
        }
        previous = Some(seq);
    }
    Ok(())
}

/// Judges `writer`'s push `changes` against what central holds (`held`),
/// given the sequence central acknowledged last. Changes at or below it
/// were applied before and are skipped.
pub fn decide<L: Lookup>(
    writer: &Peer,
    acked_seq: u64,
    changes: &[Change],
    bounds: &Bounds,
    held: &mut L,
) -> Result<Decision, PushError<L::Error>> {
    check_sequence(acked_seq, changes.iter().map(|(seq, _)| *seq))?;
    let mut pending = Pending { merged: HashMap::new(), order: Vec::new(), held };
    let mut refused = Vec::new();
    for (index, (seq, incoming)) in changes.iter().enumerate() {
        if *seq <= acked_seq {
            continue;
        }
        let (id, verdict) = match incoming {
            Incoming::Withdrawn => continue,
            Incoming::Invalid { id, refusal } => (*id, Err(refusal.clone())),
            Incoming::Record(record) => {
                let id = record.meta.id;
                let before = pending.get(&id).map_err(PushError::Lookup)?;
                let verdict =
                    admit(writer, before.as_ref(), record, bounds, &mut pending).map_err(PushError::Lookup)?;
                if verdict.is_ok()
                    && let Some(merged) = merge(before.as_ref(), record)
                    && pending.merged.insert(id, merged).is_none()
                {
                    pending.order.push(id);
                }
                (id, verdict)
            }
        };
        if let Err(refusal) = verdict {
            let current = pending.held.get(&id).map_err(PushError::Lookup)?.and_then(|h| held_by(&h, writer));
            refused.push(Refused { index, seq: *seq, id, refusal, current });
        }
    }
    if !refused.is_empty() {
        return Ok(Decision::Refused(refused));
    }
    let acked_seq = changes.last().map_or(acked_seq, |(seq, _)| acked_seq.max(*seq));
    let Pending { mut merged, order, .. } = pending;
    let records = order.iter().filter_map(|id| merged.remove(id)).collect();
    Ok(Decision::Admitted { records, acked_seq })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use kechuang_types::{Body, Hlc, NodeId, Region};

    use super::*;
    use crate::tests::{Held, bounds, sz};

    fn demand(title: &str, version: u64) -> Record {
        let mut d = kechuang_types::testing::demand(title);
        d.meta.version = Hlc::from_u64(version);
        d
    }

    #[test]
    fn sequences_continue_the_acknowledged_one_without_gaps() {
        let ok = |acked, seqs: &[u64]| check_sequence::<Infallible>(acked, seqs.iter().copied()).is_ok();
        assert!(ok(5, &[6, 7, 8]));
        assert!(ok(5, &[4, 5, 6]), "a resend overlapping the acknowledgement");
        assert!(ok(5, &[]));
        assert!(!ok(5, &[7]), "a gap after the acknowledgement");
        assert!(!ok(5, &[6, 8]), "a gap inside the batch");
        assert!(!ok(5, &[6, 6]));
        assert!(!ok(0, &[0]));
        assert!(!ok(5, &[u64::MAX]), "an absurd sequence");
        assert!(!ok(u64::MAX - 1, &[u64::MAX, 0]), "no wrap");
    }

    #[test]
    fn one_refused_change_refuses_the_batch_and_names_every_refusal() {
        let good = demand("电池热失控预警", 10);
        let mut elsewhere = demand("杭州的需求", 11);
        if let Body::Demand(d) = &mut elsewhere.body {
            d.region = Region::parse("r", "330100").unwrap();
        }
        let mut foreign = demand("冒名的需求", 12);
        foreign.meta.owner = NodeId::parse("n", "gz").unwrap();
        let invalid = Incoming::Invalid { id: RecordId::new(), refusal: Refusal::new("title", "missing") };
        let changes = vec![
            (1, Incoming::Record(good.into())),
            (2, Incoming::Record(elsewhere.into())),
            (3, Incoming::Record(foreign.into())),
            (4, invalid),
        ];
        let Decision::Refused(refused) = decide(&sz(), 0, &changes, &bounds(), &mut Held::default()).unwrap() else {
            panic!("admitted a batch with refused changes");
        };
        let fields: Vec<_> = refused.iter().map(|r| (r.seq, r.refusal.field.as_str())).collect();
        assert_eq!(fields, [(2, "region"), (3, "owner"), (4, "title")]);
        assert_eq!(refused[0].current, None, "central holds nothing of a refused new record");
    }

    #[test]
    fn withdrawn_changes_count_and_later_changes_see_earlier_ones() {
        let first = demand("原需求", 10);
        let mut edit = first.clone();
        edit.meta.version = Hlc::from_u64(11);
        if let Body::Demand(d) = &mut edit.body {
            d.title = "改后的需求".into();
        }
        let changes = vec![
            (1, Incoming::Record(first.clone().into())),
            (2, Incoming::Withdrawn),
            (3, Incoming::Record(edit.clone().into())),
            (4, Incoming::Record(first.into())),
        ];
        let decided = decide(&sz(), 0, &changes, &bounds(), &mut Held::default()).unwrap();
        assert_eq!(decided, Decision::Admitted { records: vec![edit], acked_seq: 4 });
    }

    #[test]
    fn a_refused_answer_is_put_back_but_what_others_wrote_since_stays() {
        use kechuang_types::{Part, Response};

        use crate::tests::{contracted, declined, match_record};
        let me = NodeId::parse("n", "uni").unwrap();
        let held = match_record(1, (2, Response::Accepted), (3, Response::Accepted));
        let sent = match_record(1, (2, Response::Accepted), (5, contracted()));
        let current = match_record(1, (4, declined()), (3, Response::Accepted));
        // Since sending, the feed brought the demand side's decline.
        let mut local = sent.clone();
        if let (Body::Match(l), Body::Match(c)) = (&mut local.body, &current.body) {
            l.demand_side = c.demand_side.clone();
        }
        let restored = restore(Some(&local), &sent, Some(&current), &me).unwrap().unwrap();
        assert_eq!(restored, current, "the supply side back to central's, the decline kept");
        // Edited again since it was sent: kept for the next push.
        let mut edited = local.clone();
        if let Body::Match(m) = &mut edited.body {
            m.supply_side = Part::new(kechuang_types::Hlc::from_u64(6), declined());
        }
        assert_eq!(restore(Some(&edited), &sent, Some(&current), &me), None);
        assert_eq!(restore(Some(&held), &held, None, &me), Some(None), "central holds none");
    }

    #[test]
    fn changes_already_acknowledged_are_skipped() {
        let d = demand("需求", 10);
        let decided = decide(&sz(), 5, &[(5, Incoming::Record(d.into()))], &bounds(), &mut Held::default()).unwrap();
        assert_eq!(decided, Decision::Admitted { records: vec![], acked_seq: 5 });
    }
}
