//! Ownership: every field has exactly one writer, and central refuses any
//! other. Demands, outcomes, experts and bids are written by their owner;
//! a match's demand side by the demand's owner, its supply side by the
//! supply's owner, its landing by the node responsible for landing, and
//! everything else of it by central; a bid's decision by the demand's owner.

use kechuang_types::{Body, NodeId, Record};

/// A refused write: which field the writer may not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The field (or record part) the writer does not own.
    pub field: &'static str,
}

fn deny(field: &'static str) -> Result<(), Denied> {
    Err(Denied { field })
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
            let core_same = new.core == old.core
                && new.demand == old.demand
                && new.supply == old.supply
                && new.demand_owner == old.demand_owner
                && new.supply_owner == old.supply_owner
                && new.landing_node == old.landing_node
                && new.score.to_bits() == old.score.to_bits()
                && new.tier == old.tier
                && new.explanation == old.explanation;
            if !core_same {
                return deny("match");
            }
            if new.demand_side != old.demand_side && *writer != old.demand_owner {
                return deny("demand_side");
            }
            if new.supply_side != old.supply_side && *writer != old.supply_owner {
                return deny("supply_side");
            }
            if new.landing != old.landing && *writer != old.landing_node {
                return deny("landing");
            }
            // Contacts are central's to release, never a node's to write.
            if (new.demand_contact.is_some() || new.supply_contact.is_some())
                && (new.demand_contact != old.demand_contact || new.supply_contact != old.supply_contact)
            {
                return deny("contacts");
            }
            Ok(())
        }
        (Body::Bid(new), old) => {
            let old = match old {
                Some(Body::Bid(b)) => Some(b),
                _ => None,
            };
            let decision_changed =
                old.map_or(new.decision.version != kechuang_types::Hlc::ZERO, |o| new.decision != o.decision);
            if decision_changed && *writer != new.demand_owner {
                return deny("decision");
            }
            let proposal_changed = old.is_none_or(|o| {
                o.proposal != new.proposal
                    || o.outcomes != new.outcomes
                    || o.experts != new.experts
                    || o.demand != new.demand
            });
            if proposal_changed && incoming.meta.owner != *writer {
                return deny("owner");
            }
            if let Some(o) = old
                && o.demand_owner != new.demand_owner
            {
                return deny("demand_owner");
            }
            Ok(())
        }
        (Body::Match(_), Some(_)) => deny("kind"),
    }
}

#[cfg(test)]
mod tests {
    use kechuang_types::{Hlc, Landing, Part, Response};

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
}
