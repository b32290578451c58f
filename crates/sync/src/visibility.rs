//! The feed rules: which node must see which record, and in what view.
//!
//! A provincial node sees every demand, outcome and expert of its province;
//! a match goes to the demand's owner, the supply's owner, the node
//! responsible for landing and the provincial nodes of both regions; a bid
//! goes to the demand's owner (and back to its bidder, for the decision);
//! an open challenge demand goes to every university and society node; a
//! society receives the demands, outcomes and bids of the fields it
//! assesses; an assessment travels with its subject (its owner, a bid's
//! challenge owner, the provincial node of its region, the societies of its
//! field); a team goes to its members' nodes and its provincial node, and a
//! team's match to every member's node too.
//! Contacts leave their owner only inside a match both sides accepted, and
//! then only to those two nodes: [`may_hold_contacts`] is that rule, and
//! every view and every copy of a contact goes through it.

use kechuang_types::{Body, Industry, Match, MatchState, NodeId, NodeKind, Record, Region};

/// A node as central knows it: identity, kind and region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The node's id.
    pub id: NodeId,
    /// What kind of station it is.
    pub kind: NodeKind,
    /// Where it is.
    pub region: Region,
    /// The industries a society assesses; empty for every other node.
    pub fields: Vec<Industry>,
}

impl Peer {
    fn oversees(&self, region: Region) -> bool {
        self.kind == NodeKind::Provincial && self.region.same_province(region)
    }

    /// Whether a society assesses `industry` (one of its fields is `industry`
    /// or a beginning of it: C38 covers C3811).
    pub fn assesses(&self, industry: &Industry) -> bool {
        self.kind == NodeKind::Society && self.fields.iter().any(|f| industry.as_str().starts_with(f.as_str()))
    }
}

/// Whether both sides of a match have agreed to meet, so their contacts
/// may be written into it: both accepted (or went on to a contract), or the
/// challenge's owner awarded the supply's bid (central's `contracted`).
pub fn contacts_released(m: &Match) -> bool {
    (m.demand_side.value.agreed() && m.supply_side.value.agreed()) || m.core.value == MatchState::Contracted
}

/// Whether `node` may hold the contact details `record` carries: a node
/// those of its own records; the two sides of a match those the match
/// carries (central writes them into it only once [`contacts_released`],
/// and what was given is not taken back if a side later declines); nobody
/// else (central's admin views included).
pub fn may_hold_contacts(record: &Record, node: &NodeId) -> bool {
    match &record.body {
        Body::Demand(_) | Body::Outcome(_) | Body::Expert(_) | Body::Bid(_) | Body::Assessment(_) | Body::Team(_) => {
            record.meta.owner == *node
        }
        Body::Match(m) => m.demand_owner == *node || m.supply_owner == *node,
    }
}

/// `record` as `node` may see it: every contact it may not hold removed.
pub fn without_foreign_contacts(mut record: Record, node: &NodeId) -> Record {
    if !may_hold_contacts(&record, node) {
        record.redact_contacts();
    }
    record
}

/// The view of `record` that `peer` must receive in its feed, or `None` if
/// the record is not for it. A node's own records never come back to it,
/// except matches and bids, which others write parts of.
pub fn view_for(record: &Record, peer: &Peer) -> Option<Record> {
    let mine = record.meta.owner == peer.id;
    let for_peer = match &record.body {
        // An open challenge (揭榜挂帅) is published to every supply node.
        Body::Demand(d) if d.is_challenge && matches!(peer.kind, NodeKind::University | NodeKind::Society) => !mine,
        // A society assesses the demands and outcomes of its fields (专业评估).
        Body::Demand(d) if peer.assesses(&d.industry) => !mine,
        Body::Outcome(o) if peer.assesses(&o.industry) => !mine,
        Body::Demand(_) | Body::Outcome(_) | Body::Expert(_) => {
            !mine && record.region().is_some_and(|region| peer.oversees(region))
        }
        Body::Match(m) => {
            [&m.demand_owner, &m.supply_owner, &m.landing_node].contains(&&peer.id)
                || m.supply_nodes.contains(&peer.id)
                || peer.oversees(m.demand_region)
                || peer.oversees(m.supply_region)
        }
        // A society of the challenge's field assesses its bids.
        Body::Bid(b) => mine || b.demand_owner == peer.id || b.industry.as_ref().is_some_and(|i| peer.assesses(i)),
        // An assessment goes where its subject goes (专业评估 informs them).
        Body::Assessment(a) => {
            !mine
                && (a.subject_owner == peer.id
                    || a.challenge_owner.as_ref() == Some(&peer.id)
                    || a.subject_region.is_some_and(|region| peer.oversees(region))
                    || peer.assesses(&a.industry))
        }
        // A team's member nodes answer in it, so it comes back to its owner too.
        Body::Team(t) => mine || t.members.iter().any(|m| m.node == peer.id) || peer.oversees(t.region),
    };
    for_peer.then(|| without_foreign_contacts(record.clone(), &peer.id))
}

/// What `peer` should hold of `record`: its own records as written, and
/// otherwise its feed view. Two sides compare digests of exactly this.
pub fn held_by(record: &Record, peer: &Peer) -> Option<Record> {
    match record.body {
        Body::Demand(_) | Body::Outcome(_) | Body::Expert(_) | Body::Assessment(_) if record.meta.owner == peer.id => {
            Some(record.clone())
        }
        _ => view_for(record, peer),
    }
}

#[cfg(test)]
mod tests {
    use kechuang_types::{Contact, Response};

    use super::*;
    use crate::tests::{demand, match_record};

    fn peer(id: &str, kind: NodeKind, region: &str) -> Peer {
        Peer {
            id: NodeId::parse("id", id).unwrap(),
            kind,
            region: Region::parse("region", region).unwrap(),
            fields: Vec::new(),
        }
    }

    #[test]
    fn a_society_receives_the_demands_and_outcomes_of_its_fields_without_contacts() {
        let mut society = peer("ces", NodeKind::Society, "110000");
        society.fields = vec![Industry::parse("f", "C38").unwrap()];
        let mut d = demand(1, "储能");
        if let Body::Demand(x) = &mut d.body {
            x.industry = Industry::parse("i", "C3841").unwrap();
            x.contact = Some(Contact { person: "李工".into(), ..Contact::default() });
        }
        let view = view_for(&d, &society).expect("a demand of its field");
        let Body::Demand(x) = &view.body else { unreachable!() };
        assert!(x.contact.is_none());
        if let Body::Demand(x) = &mut d.body {
            x.industry = Industry::parse("i", "C15").unwrap();
        }
        assert!(view_for(&d, &society).is_none(), "another field");
        let mut university = peer("uni", NodeKind::University, "110000");
        university.fields = society.fields.clone();
        if let Body::Demand(x) = &mut d.body {
            x.industry = Industry::parse("i", "C38").unwrap();
        }
        assert!(view_for(&d, &university).is_none(), "only a society assesses");
    }

    #[test]
    fn provincial_node_sees_its_province_without_contacts() {
        let mut d = demand(1, "需求");
        if let Body::Demand(x) = &mut d.body {
            x.contact = Some(Contact { person: "李工".into(), ..Contact::default() });
        }
        let gd = peer("gd", NodeKind::Provincial, "440000");
        let sc = peer("sc", NodeKind::Provincial, "510000");
        let city = peer("sz", NodeKind::City, "440300");
        let view = view_for(&d, &gd).expect("same province");
        let Body::Demand(x) = &view.body else { unreachable!() };
        assert!(x.contact.is_none());
        assert!(view_for(&d, &sc).is_none(), "other province");
        assert!(view_for(&d, &city).is_none(), "a city node gets supply through matches only");
    }

    #[test]
    fn own_records_do_not_echo_back() {
        let d = demand(1, "需求");
        let owner = peer(d.meta.owner.as_str(), NodeKind::Provincial, "440000");
        assert!(view_for(&d, &owner).is_none());
    }

    #[test]
    fn contacts_are_released_once_both_accepted_and_reach_the_two_sides_only() {
        let released = |demand_side, supply_side| {
            let Body::Match(m) = match_record(1, demand_side, supply_side).body else { unreachable!() };
            contacts_released(&m)
        };
        assert!(released((2, Response::Accepted), (3, Response::Accepted)));
        assert!(released((2, Response::Accepted), (3, crate::tests::contracted())));
        assert!(!released((2, Response::Accepted), (1, Response::Pending)), "not before both accepted");
        assert!(!released((2, Response::Accepted), (3, crate::tests::declined())));

        let mut connected = match_record(1, (2, Response::Accepted), (3, Response::Accepted));
        if let Body::Match(x) = &mut connected.body {
            x.demand_contact = Some(Contact { person: "王工".into(), ..Contact::default() });
            x.supply_contact = Some(Contact { person: "陈老师".into(), ..Contact::default() });
        }
        let sides = [peer("sz", NodeKind::City, "440300"), peer("uni", NodeKind::University, "510100")];
        let others = [peer("gd", NodeKind::Provincial, "440000"), peer("sc", NodeKind::Provincial, "510000")];
        for p in &sides {
            let Body::Match(m) = view_for(&connected, p).unwrap().body else { unreachable!() };
            assert!(m.demand_contact.is_some() && m.supply_contact.is_some(), "{}", p.id);
        }
        for p in &others {
            let Body::Match(m) = view_for(&connected, p).unwrap().body else { unreachable!() };
            assert!(m.demand_contact.is_none() && m.supply_contact.is_none(), "{}", p.id);
        }
    }

    #[test]
    fn matches_reach_both_sides_and_both_provinces_only() {
        let m = match_record(1, (1, Response::Pending), (1, Response::Pending));
        for (id, kind, region, expected) in [
            ("sz", NodeKind::City, "440300", true),
            ("uni", NodeKind::University, "510100", true),
            ("gd", NodeKind::Provincial, "440000", true),
            ("sc", NodeKind::Provincial, "510000", true),
            ("zj", NodeKind::Provincial, "330000", false),
            ("gz", NodeKind::City, "440100", false),
        ] {
            assert_eq!(view_for(&m, &peer(id, kind, region)).is_some(), expected, "{id}");
        }
    }
}
