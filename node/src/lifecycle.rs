//! What an operator does with matches and challenges: answer a match for
//! this node's side, bid on an open challenge, award a bid. Each is checked
//! against the rules of the lifecycle (states only move forward, each side
//! writes only its own part) before it is stored and queued for central.

use kechuang_types::{
    Bid, BidState, Body, Date, Hlc, Landing, Match, MatchState, Meta, NodeId, Part, Record, RecordId, RecordKind,
    Response, Timestamp,
};

use crate::daemon::Node;

/// Why an operator's action was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The named record does not exist here.
    #[error("{0}")]
    NotFound(String),
    /// The action does not fit the record's state or this node's role.
    #[error("{0}")]
    Precondition(String),
    /// An argument is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error("node storage: {0}")]
    Storage(#[from] kechuang_store::Error),
    /// The clock cannot version another change.
    #[error(transparent)]
    Clock(#[from] kechuang_types::Exhausted),
}

/// An answer to a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Accept the proposal.
    Accept,
    /// Decline it.
    Decline,
    /// Record that a contract was signed (签约).
    Contracted,
    /// Record that it landed (落地); the landing node only.
    Landed,
}

impl Action {
    /// Parses `accept`, `decline`, `contracted` or `landed`.
    pub fn parse(text: &str) -> Result<Self, Refused> {
        match text {
            "accept" => Ok(Self::Accept),
            "decline" => Ok(Self::Decline),
            "contracted" => Ok(Self::Contracted),
            "landed" => Ok(Self::Landed),
            other => Err(Refused::Invalid(format!("action: {other:?} is not accept, decline, contracted or landed"))),
        }
    }
}

fn find(node: &Node, text: &str, kinds: &[RecordKind]) -> Result<Record, Refused> {
    let by_id = text.parse::<RecordId>().ok().map(|id| node.store.get(&id)).transpose()?.flatten();
    let record = match by_id {
        Some(r) => Some(r),
        None => node.store.list(None)?.into_iter().find(|r| r.meta.external_id.as_deref() == Some(text)),
    };
    match record {
        Some(r) if kinds.contains(&r.kind()) => Ok(r),
        Some(r) => Err(Refused::Invalid(format!("{text} is a {}, not a {}", r.kind(), kinds[0]))),
        None => Err(Refused::NotFound(format!("no {} {text} at this node", kinds[0]))),
    }
}

/// Answers match `match_id` for this node's side.
pub fn respond(node: &Node, match_id: &str, action: Action) -> Result<Record, Refused> {
    let mut record = find(node, match_id, &[RecordKind::Match])?;
    let Body::Match(m) = &mut record.body else { unreachable!("find returned a match") };
    let me = &node.config.id;
    let mut clock = node.clock();
    let version = clock.tick()?;
    apply(m, me, action, version)?;
    // Only this node's part changes: a match's metadata is central's.
    record.meta.version = m.version();
    node.store.write_local(std::slice::from_ref(&record), &clock)?;
    Ok(record)
}

/// Applies `action` by `me` to `m`, if the lifecycle allows it.
fn apply(m: &mut Match, me: &NodeId, action: Action, version: Hlc) -> Result<(), Refused> {
    let state = m.state();
    if matches!(state, MatchState::Withdrawn | MatchState::Expired | MatchState::Declined | MatchState::Landed) {
        return Err(Refused::Precondition(format!("the match is {}: nothing more can be recorded", word(state))));
    }
    if action == Action::Landed {
        if *me != m.landing_node {
            return Err(Refused::Precondition(format!(
                "landing is recorded by {}, the node responsible for it",
                m.landing_node
            )));
        }
        if state != MatchState::Contracted {
            return Err(Refused::Precondition(format!("only a contracted match can land; it is {}", word(state))));
        }
        m.landing = Part::new(version, Landing::Landed);
        return Ok(());
    }
    let side = if *me == m.demand_owner {
        &mut m.demand_side
    } else if *me == m.supply_owner {
        &mut m.supply_side
    } else {
        return Err(Refused::Precondition(format!("this node ({me}) is neither side of the match")));
    };
    let next = match (action, side.value) {
        (Action::Accept, Response::Pending) => Response::Accepted,
        (Action::Decline, Response::Pending | Response::Accepted) => Response::Declined,
        (Action::Contracted, Response::Accepted)
            if state == MatchState::Connected || state == MatchState::Contracted =>
        {
            Response::Contracted
        }
        (Action::Contracted, _) => {
            return Err(Refused::Precondition(format!(
                "a contract needs both sides to have accepted; the match is {}",
                word(state)
            )));
        }
        (_, current) => {
            return Err(Refused::Precondition(format!("this side already answered {}", word(current))));
        }
    };
    *side = Part::new(version, next);
    Ok(())
}

fn word<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Bids on challenge `demand_id` with this node's outcomes and experts.
pub fn bid(
    node: &Node,
    demand_id: &str,
    proposal: String,
    outcomes: &[String],
    experts: &[String],
) -> Result<Record, Refused> {
    // What central will check of the bid, checked here first, so the
    // operator hears at once rather than from a refusal later.
    let demand = find(node, demand_id, &[RecordKind::Demand])?;
    let Body::Demand(d) = &demand.body else { unreachable!("find returned a demand") };
    if !d.is_challenge {
        return Err(Refused::Precondition(format!("demand {demand_id} is not an open challenge (揭榜挂帅)")));
    }
    if demand.meta.owner == node.config.id {
        return Err(Refused::Precondition("a node does not bid on its own challenge".into()));
    }
    if demand.meta.deleted {
        return Err(Refused::Precondition(format!("the challenge {demand_id} was withdrawn")));
    }
    if let Some(deadline) = d.deadline
        && deadline < Date::today()
    {
        return Err(Refused::Precondition(format!("the challenge closed on {deadline} (China Standard Time)")));
    }
    if outcomes.is_empty() && experts.is_empty() {
        return Err(Refused::Invalid("a bid offers at least one outcome or expert".into()));
    }
    let mine = |text: &String, kind: RecordKind| -> Result<RecordId, Refused> {
        let r = find(node, text, &[kind])?;
        if r.meta.owner != node.config.id {
            return Err(Refused::Invalid(format!("{text} is not this node's {kind}")));
        }
        if r.meta.deleted {
            return Err(Refused::Invalid(format!("{kind} {text} was withdrawn")));
        }
        Ok(r.meta.id)
    };
    let bid = Bid {
        demand: demand.meta.id,
        demand_owner: demand.meta.owner.clone(),
        proposal,
        outcomes: outcomes.iter().map(|o| mine(o, RecordKind::Outcome)).collect::<Result<_, _>>()?,
        experts: experts.iter().map(|e| mine(e, RecordKind::Expert)).collect::<Result<_, _>>()?,
        decision: Part::new(Hlc::ZERO, BidState::Submitted),
    };
    let body = Body::Bid(bid);
    body.validate().map_err(|e| Refused::Invalid(e.to_string()))?;
    let mut clock = node.clock();
    let now = Timestamp::now();
    let record = Record {
        meta: Meta {
            id: RecordId::new(),
            owner: node.config.id.clone(),
            version: clock.tick()?,
            created_at: now,
            updated_at: now,
            deleted: false,
            external_id: None,
        },
        body,
    };
    node.store.write_local(std::slice::from_ref(&record), &clock)?;
    Ok(record)
}

/// Awards bid `bid_id` on one of this node's challenges; every other
/// undecided bid on that challenge is marked not chosen.
pub fn award(node: &Node, bid_id: &str) -> Result<(Record, u32), Refused> {
    let chosen = find(node, bid_id, &[RecordKind::Bid])?;
    let Body::Bid(b) = &chosen.body else { unreachable!("find returned a bid") };
    if b.demand_owner != node.config.id {
        return Err(Refused::Precondition("only the challenge's owner awards its bids".into()));
    }
    let demand = b.demand;
    let bids: Vec<Record> = node.store.list(Some(RecordKind::Bid))?;
    if bids
        .iter()
        .any(|r| matches!(&r.body, Body::Bid(x) if x.demand == demand && x.decision.value == BidState::Awarded))
    {
        return Err(Refused::Precondition("this challenge has already been awarded".into()));
    }
    let mut clock = node.clock();
    let mut changed = Vec::new();
    let mut awarded = None;
    for mut record in bids {
        let id = record.meta.id;
        let Body::Bid(x) = &mut record.body else { continue };
        if x.demand != demand || x.decision.value != BidState::Submitted {
            continue;
        }
        let decision = if id == chosen.meta.id { BidState::Awarded } else { BidState::NotChosen };
        // Only the decision changes: the rest of a bid, metadata included, is the bidder's.
        x.decision = Part::new(clock.tick()?, decision);
        if id == chosen.meta.id {
            awarded = Some(record.clone());
        }
        changed.push(record);
    }
    let Some(awarded) = awarded else {
        return Err(Refused::Precondition("this bid has already been decided".into()));
    };
    node.store.write_local(&changed, &clock)?;
    Ok((awarded, changed.len() as u32 - 1))
}

#[cfg(test)]
mod tests {
    use kechuang_types::{Region, SupplyKind, Tier};

    use super::*;

    fn node(id: &str) -> NodeId {
        NodeId::parse("n", id).unwrap()
    }

    fn proposed() -> Match {
        Match {
            demand: RecordId::new(),
            demand_owner: node("sz"),
            demand_region: Region::parse("r", "440300").unwrap(),
            supply: RecordId::new(),
            supply_kind: SupplyKind::Outcome,
            supply_owner: node("uni"),
            supply_region: Region::parse("r", "510100").unwrap(),
            landing_node: node("sz"),
            score: 1.0,
            tier: Tier::National,
            explanation: String::new(),
            demand_title: String::new(),
            supply_title: String::new(),
            core: Part::new(Hlc::from_u64(1), MatchState::Proposed),
            demand_side: Part::new(Hlc::ZERO, Response::Pending),
            supply_side: Part::new(Hlc::ZERO, Response::Pending),
            landing: Part::new(Hlc::ZERO, Landing::Pending),
            demand_contact: None,
            supply_contact: None,
        }
    }

    #[test]
    fn the_lifecycle_moves_forward_only() {
        let mut m = proposed();
        let v = |n| Hlc::from_u64(n);
        assert!(apply(&mut m, &node("sz"), Action::Contracted, v(2)).is_err(), "no contract before both accept");
        apply(&mut m, &node("sz"), Action::Accept, v(2)).unwrap();
        assert_eq!(m.state(), MatchState::AcceptedByDemand);
        assert!(apply(&mut m, &node("sz"), Action::Accept, v(3)).is_err(), "answered already");
        apply(&mut m, &node("uni"), Action::Accept, v(4)).unwrap();
        assert_eq!(m.state(), MatchState::Connected);
        assert!(apply(&mut m, &node("uni"), Action::Landed, v(5)).is_err(), "uni is not the landing node");
        apply(&mut m, &node("uni"), Action::Contracted, v(5)).unwrap();
        assert_eq!(m.state(), MatchState::Contracted);
        apply(&mut m, &node("sz"), Action::Landed, v(6)).unwrap();
        assert_eq!(m.state(), MatchState::Landed);
        assert!(apply(&mut m, &node("sz"), Action::Decline, v(7)).is_err(), "nothing after landing");
    }

    #[test]
    fn outsiders_cannot_answer() {
        let mut m = proposed();
        let err = apply(&mut m, &node("gz"), Action::Accept, Hlc::from_u64(2)).unwrap_err();
        assert!(err.to_string().contains("neither side"), "{err}");
    }
}
