//! Merging an incoming record with the held one.
//!
//! Every field has exactly one writer, so a merge is "newest version wins"
//! per independently written part: the whole record for demands, outcomes
//! and experts; core (with the metadata), demand side, supply side and
//! landing for matches; the bidder's part (with the metadata) and the
//! decision for bids; the owner's part (with the metadata) and each member
//! node's answer for teams. Merging is idempotent, commutative and associative,
//! so replays and reorderings converge.

use kechuang_types::{Body, Part, Record};

/// Merges `incoming` into `held` (if any): the record to store now, or
/// `None` when the incoming record changes nothing (already held or older).
pub fn merge(held: Option<&Record>, incoming: &Record) -> Option<Record> {
    let Some(held) = held else {
        return Some(incoming.clone());
    };
    let merged = match (&held.body, &incoming.body) {
        (Body::Match(h), Body::Match(i)) => {
            // Central's part and the metadata travel together.
            let (mut m, mut meta) = if i.core.version > h.core.version {
                (i.clone(), incoming.meta.clone())
            } else {
                (h.clone(), held.meta.clone())
            };
            m.demand_side = newer(&h.demand_side, &i.demand_side);
            m.supply_side = newer(&h.supply_side, &i.supply_side);
            m.landing = newer(&h.landing, &i.landing);
            meta.version = m.version();
            Record { meta, body: Body::Match(m) }
        }
        (Body::Bid(h), Body::Bid(i)) => {
            let mut record = if incoming.meta.version > held.meta.version { incoming.clone() } else { held.clone() };
            if let Body::Bid(b) = &mut record.body {
                b.decision = newer(&h.decision, &i.decision);
            }
            record
        }
        (Body::Team(h), Body::Team(i)) => {
            let mut record = if incoming.meta.version > held.meta.version { incoming.clone() } else { held.clone() };
            if let Body::Team(t) = &mut record.body {
                for member in &mut t.members {
                    let answers = h.members.iter().chain(&i.members).filter(|m| m.expert == member.expert);
                    for other in answers {
                        member.accepted = newer(&member.accepted, &other.accepted);
                    }
                }
            }
            record
        }
        _ if incoming.meta.version > held.meta.version => incoming.clone(),
        _ => return None,
    };
    (&merged != held).then_some(merged)
}

fn newer<T: Clone>(a: &Part<T>, b: &Part<T>) -> Part<T> {
    if b.version > a.version { b.clone() } else { a.clone() }
}

#[cfg(test)]
mod tests {
    use kechuang_types::{Hlc, Response};
    use proptest::prelude::*;

    use super::*;
    use crate::tests::{contracted, declined, demand, match_record};

    fn apply(held: Option<Record>, incoming: &Record) -> Option<Record> {
        merge(held.as_ref(), incoming).or(held)
    }

    #[test]
    fn newer_version_wins_and_older_is_ignored() {
        let old = demand(10, "旧标题");
        let new = Record {
            meta: kechuang_types::Meta { version: Hlc::from_u64(20), ..old.meta.clone() },
            ..demand(20, "新标题")
        };
        assert_eq!(merge(Some(&old), &new), Some(new.clone()));
        assert_eq!(merge(Some(&new), &old), None);
    }

    #[test]
    fn applying_the_same_change_twice_is_a_no_op() {
        let d = demand(10, "标题");
        let once = apply(None, &d);
        assert_eq!(merge(once.as_ref(), &d), None);
    }

    #[test]
    fn match_parts_merge_independently() {
        let base = match_record(1, (1, Response::Pending), (1, Response::Pending));
        let demand_said = match_record(1, (5, Response::Accepted), (1, Response::Pending));
        let supply_said = match_record(1, (1, Response::Pending), (7, Response::Accepted));
        let merged = apply(apply(Some(base), &demand_said), &supply_said).unwrap();
        let Body::Match(m) = &merged.body else { unreachable!() };
        assert_eq!(m.demand_side.value, Response::Accepted);
        assert_eq!(m.supply_side.value, Response::Accepted);
        assert_eq!(merged.meta.version, Hlc::from_u64(7));
    }

    #[test]
    fn replaying_an_old_answer_never_moves_a_match_back() {
        let accepted = match_record(1, (5, Response::Accepted), (1, Response::Pending));
        let stale = match_record(1, (3, Response::Pending), (1, Response::Pending));
        assert_eq!(merge(Some(&accepted), &stale), None);
    }

    fn arb_match() -> impl Strategy<Value = Record> {
        let response = prop_oneof![Just(Response::Pending), Just(Response::Accepted), Just(declined())];
        (1u64..4, (1u64..6, response.clone()), (1u64..6, response)).prop_map(|(core, d, s)| {
            // A part's value is a function of its version: one writer per part.
            let pick = |(v, _): (u64, Response)| {
                (v, [Response::Pending, Response::Accepted, declined(), contracted()][(v % 4) as usize].clone())
            };
            match_record(core, pick(d), pick(s))
        })
    }

    proptest! {
        #[test]
        fn merge_is_idempotent_commutative_and_order_free(changes in proptest::collection::vec(arb_match(), 1..8)) {
            let forward = changes.iter().fold(None, apply);
            let backward = changes.iter().rev().fold(None, apply);
            let twice = changes.iter().chain(changes.iter()).fold(None, apply);
            prop_assert_eq!(&forward, &backward);
            prop_assert_eq!(&forward, &twice);
        }
    }
}
