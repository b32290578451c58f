//! Ownership: every field has exactly one writer, and central refuses any
//! other. Demands, outcomes, experts and bids are written by their owner;
//! a match's demand side by the demand's owner, its supply side by the
//! supply's owner, its landing by the node responsible for landing, and
//! everything else of it by central; a bid's decision by the demand's owner.

use kechuang_types::{Body, Hlc, NodeId, Part, Record};

/// A refused write: which field the writer may not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The field (or record part) the writer does not own.
    pub field: &'static str,
}

fn deny(field: &'static str) -> Result<(), Denied> {
    Err(Denied { field })
}

/// A part may move forward only by its writer; the same version must carry
/// the same value.
fn part<T: PartialEq>(new: Part<T>, old: Part<T>, is_writer: bool, field: &'static str) -> Result<(), Denied> {
    if (new.version > old.version && !is_writer) || (new.version == old.version && new.value != old.value) {
        return deny(field);
    }
    Ok(())
}

/// Checks that `writer` may turn `held` (if any) into `incoming`.
pub fn authorize(writer: &NodeId, held: Option<&Record>, incoming: &Record) -> Result<(), Denied> {
    if let Some(held) = held {
        if held.kind() != incoming.kind() {
            return deny("kind");
        }
        if held.meta.owner != incoming.meta.owner {
            return deny("owner");
        }
    }
    match (&incoming.body, held.map(|h| &h.body)) {
        (Body::Demand(_) | Body::Outcome(_) | Body::Expert(_), _) => {
            if incoming.meta.owner != *writer {
                return deny("owner");
            }
            Ok(())
        }
        (Body::Match(_), None) => deny("match"),
        (Body::Match(new), Some(Body::Match(old))) => {
            // A part may only be advanced by its writer; an older copy of a
            // part is harmless (the merge keeps the newer one).
            if new.core.version > old.core.version || (new.core.version == old.core.version && !new.same_core(old)) {
                return deny("match");
            }
            part(new.demand_side, old.demand_side, *writer == old.demand_owner, "demand_side")?;
            part(new.supply_side, old.supply_side, *writer == old.supply_owner, "supply_side")?;
            part(new.landing, old.landing, *writer == old.landing_node, "landing")
        }
        (Body::Bid(new), old) => {
            let (Some(Body::Bid(o)), Some(held)) = (old, held) else {
                // A new bid: created by its owner, undecided.
                if incoming.meta.owner != *writer {
                    return deny("owner");
                }
                return if new.decision.version == Hlc::ZERO { Ok(()) } else { deny("decision") };
            };
            let same_proposal = o.proposal == new.proposal
                && o.outcomes == new.outcomes
                && o.experts == new.experts
                && o.demand == new.demand
                && o.demand_owner == new.demand_owner;
            let version = incoming.meta.version;
            if (version > held.meta.version && incoming.meta.owner != *writer)
                || (version == held.meta.version && !same_proposal)
            {
                return deny("owner");
            }
            if o.demand_owner != new.demand_owner {
                return deny("demand_owner");
            }
            part(new.decision, o.decision, *writer == o.demand_owner, "decision")
        }
        (Body::Match(_), Some(_)) => deny("kind"),
    }
}

#[cfg(test)]
mod tests {
    use kechuang_types::{Landing, Response};

    use super::*;
    use crate::tests::{demand, match_record};

    fn node(id: &str) -> NodeId {
        NodeId::parse("n", id).unwrap()
    }

    #[test]
    fn only_the_owner_writes_its_records() {
        let d = demand(1, "需求");
        assert_eq!(authorize(&node("sz"), None, &d), Ok(()));
        assert_eq!(authorize(&node("gz"), None, &d), Err(Denied { field: "owner" }));
        let mut stolen = demand(2, "改");
        stolen.meta.owner = node("gz");
        assert_eq!(authorize(&node("gz"), Some(&d), &stolen), Err(Denied { field: "owner" }));
    }

    #[test]
    fn each_side_answers_only_for_itself() {
        let held = match_record(1, (1, Response::Pending), (1, Response::Pending));
        let demand_said = match_record(1, (5, Response::Accepted), (1, Response::Pending));
        let supply_said = match_record(1, (1, Response::Pending), (5, Response::Accepted));
        assert_eq!(authorize(&node("sz"), Some(&held), &demand_said), Ok(()));
        assert_eq!(authorize(&node("uni"), Some(&held), &demand_said), Err(Denied { field: "demand_side" }));
        assert_eq!(authorize(&node("uni"), Some(&held), &supply_said), Ok(()));
        assert_eq!(authorize(&node("sz"), Some(&held), &supply_said), Err(Denied { field: "supply_side" }));
        assert_eq!(authorize(&node("sz"), None, &held), Err(Denied { field: "match" }), "only central creates matches");
    }

    #[test]
    fn landing_is_written_by_the_responsible_city_only() {
        let held = match_record(1, (1, Response::Contracted), (1, Response::Contracted));
        let mut landed = held.clone();
        if let Body::Match(m) = &mut landed.body {
            m.landing = Part::new(Hlc::from_u64(9), Landing::Landed);
        }
        assert_eq!(authorize(&node("sz"), Some(&held), &landed), Ok(()), "sz is the landing node");
        assert_eq!(authorize(&node("gz"), Some(&held), &landed), Err(Denied { field: "landing" }));
        let mut rescored = held.clone();
        if let Body::Match(m) = &mut rescored.body {
            m.score = 99.0;
        }
        assert_eq!(authorize(&node("sz"), Some(&held), &rescored), Err(Denied { field: "match" }));
    }

    #[test]
    fn a_bid_is_decided_by_the_demand_owner_only() {
        use kechuang_types::{Bid, BidState, Meta, RecordId, Timestamp};
        let bid = Record {
            meta: Meta {
                id: RecordId::from_bytes([3; 16]),
                owner: node("uni"),
                version: Hlc::from_u64(5),
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
                deleted: false,
                external_id: None,
            },
            body: Body::Bid(Bid {
                demand: RecordId::from_bytes([1; 16]),
                demand_owner: node("sz"),
                proposal: "方案".into(),
                outcomes: vec![],
                experts: vec![],
                decision: Part::new(Hlc::ZERO, BidState::Submitted),
            }),
        };
        assert_eq!(authorize(&node("uni"), None, &bid), Ok(()));
        assert_eq!(authorize(&node("sz"), None, &bid), Err(Denied { field: "owner" }));
        let mut awarded = bid.clone();
        if let Body::Bid(b) = &mut awarded.body {
            b.decision = Part::new(Hlc::from_u64(9), BidState::Awarded);
        }
        assert_eq!(authorize(&node("sz"), Some(&bid), &awarded), Ok(()));
        assert_eq!(authorize(&node("uni"), Some(&bid), &awarded), Err(Denied { field: "decision" }));
        let mut rewritten = awarded.clone();
        rewritten.meta.version = Hlc::from_u64(10);
        if let Body::Bid(b) = &mut rewritten.body {
            b.proposal = "改写".into();
        }
        assert_eq!(authorize(&node("sz"), Some(&bid), &rewritten), Err(Denied { field: "owner" }));
    }
}
