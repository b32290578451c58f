//! The lifecycle of matches and bids (全程跟踪): the states, who moves which
//! part, and which steps are allowed. The node's operator verbs and
//! central's admission call these same functions, so each rule is written
//! once, here.
//!
//! A match has four parts, each with one writer: central's core
//! (`proposed`, `contracted` for an awarded challenge, `withdrawn`,
//! `expired`), the demand side's answer, the supply side's answer, and the
//! landing, written by the city node responsible for it. A side answers
//! forward only:
//!
//! | from | to | when |
//! |---|---|---|
//! | pending | accepted | the match is open |
//! | pending, accepted | declined (with a reason) | no side has recorded a contract |
//! | accepted | contracted (type, amount) | both sides accepted, or the challenge was awarded |
//! | pending | contracted (type, amount) | the challenge was awarded to this match |
//! | declined, contracted | — | final |
//!
//! The landing moves from pending to landed (with its date) once the match
//! is contracted, and is final. Nothing moves once the match is withdrawn,
//! expired or landed. A bid's decision moves once, from submitted to
//! awarded or not chosen.

use std::fmt;

use kechuang_types::{
    BidState, Body, Contract, Date, Decline, Hlc, Landed, Landing, Match, MatchState, NodeId, Part, Record, Response,
    Step,
};

use crate::Refusal;

/// Which side of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The demand's owner.
    Demand,
    /// The supply's owner.
    Supply,
}

impl Side {
    /// The part's wire name (`demand_side`).
    pub fn field(self) -> &'static str {
        match self {
            Self::Demand => "demand_side",
            Self::Supply => "supply_side",
        }
    }

    fn of(self, m: &Match) -> &Response {
        match self {
            Self::Demand => &m.demand_side.value,
            Self::Supply => &m.supply_side.value,
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Demand => Self::Supply,
            Self::Supply => Self::Demand,
        }
    }
}

/// What an operator does with a match.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Accept the proposal.
    Accept,
    /// Decline it, and why.
    Decline(Decline),
    /// Record the signed contract (签约).
    Contracted(Contract),
    /// Record the landing (落地); the landing node only.
    Landed(Landed),
}

impl Action {
    /// The verb (`accept`, `decline`, `contracted`, `landed`).
    pub fn verb(&self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Decline(_) => "decline",
            Self::Contracted(_) => "contracted",
            Self::Landed(_) => "landed",
        }
    }
}

/// Why a step is not allowed, in the words a refusal carries.
struct Why(String);

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn no(reason: impl Into<String>) -> Result<(), Why> {
    Err(Why(reason.into()))
}

/// Whether the match as a whole still takes steps.
fn open(m: &Match) -> Result<(), Why> {
    match m.state() {
        MatchState::Withdrawn => no(withdrawn_or_expired("withdrawn", &m.core_reason)),
        MatchState::Expired => no(withdrawn_or_expired("expired", &m.core_reason)),
        MatchState::Landed => no("the match has landed: nothing more can be recorded"),
        _ => Ok(()),
    }
}

fn withdrawn_or_expired(what: &str, reason: &str) -> String {
    if reason.is_empty() { format!("the match was {what}") } else { format!("the match was {what} ({reason})") }
}

/// Checks that `side` may move its answer from what `m` holds to `to`.
pub fn side_step(m: &Match, side: Side, to: &Response) -> Result<(), Refusal> {
    side_rule(m, side, to).map_err(|why| Refusal::new(side.field(), why.0))
}

fn side_rule(m: &Match, side: Side, to: &Response) -> Result<(), Why> {
    let from = side.of(m);
    if from == to {
        return Ok(());
    }
    open(m)?;
    let other = side.other().of(m);
    let awarded = m.core.value == MatchState::Contracted;
    let any_contract = matches!(from, Response::Contracted(_)) || matches!(other, Response::Contracted(_));
    match (from, to) {
        (Response::Declined(_), _) => no("declined is final"),
        (Response::Contracted(_), _) => no("contracted is final"),
        (_, Response::Pending) => no(format!("{} cannot go back to pending", from.word())),
        (Response::Accepted, Response::Accepted) => Ok(()),
        (Response::Pending, Response::Accepted) => Ok(()),
        (_, Response::Declined(_)) if any_contract || awarded => {
            no("a contract is on record: the match can no longer be declined")
        }
        (_, Response::Declined(_)) => Ok(()),
        (_, Response::Contracted(_)) if awarded => Ok(()),
        (Response::Accepted, Response::Contracted(_)) if other.agreed() => Ok(()),
        (_, Response::Contracted(_)) => no(format!(
            "a contract needs both sides to have accepted; this side is {}, the other {}",
            from.word(),
            other.word()
        )),
    }
}

/// Checks that the landing may move from what `m` holds to `to`.
pub fn landing_step(m: &Match, to: &Landing) -> Result<(), Refusal> {
    landing_rule(m, to).map_err(|why| Refusal::new("landing", why.0))
}

fn landing_rule(m: &Match, to: &Landing) -> Result<(), Why> {
    if m.landing.value == *to {
        return Ok(());
    }
    match (&m.landing.value, to) {
        (Landing::Landed(_), _) => no("landed is final"),
        (Landing::Pending, Landing::Pending) => Ok(()),
        (Landing::Pending, Landing::Landed(_)) => {
            open(m)?;
            if m.state() == MatchState::Contracted {
                Ok(())
            } else {
                no(format!("only a contracted match can land; it is {}", m.state().as_str()))
            }
        }
    }
}

/// Checks that a bid's decision may move from `from` to `to`.
pub fn decision_step(from: BidState, to: BidState) -> Result<(), Refusal> {
    match (from, to) {
        _ if from == to => Ok(()),
        (BidState::Submitted, BidState::Awarded | BidState::NotChosen) => Ok(()),
        (BidState::Submitted, BidState::Submitted) => Ok(()),
        _ => Err(Refusal::new("decision", format!("{} is final", from.as_str()))),
    }
}

/// The parts of `m` that `node` writes.
pub fn roles(m: &Match, node: &NodeId) -> Vec<&'static str> {
    let mut roles = Vec::new();
    if m.demand_owner == *node {
        roles.push("demand_side");
    }
    if m.supply_owner == *node {
        roles.push("supply_side");
    }
    if m.landing_node == *node {
        roles.push("landing");
    }
    roles
}

/// Applies `action` by node `me` to `m` at `version`, if the lifecycle
/// allows it: the node's verbs call this, central checks the same steps.
pub fn act(m: &mut Match, me: &NodeId, action: Action, version: Hlc) -> Result<(), Refusal> {
    if let Action::Landed(landed) = action {
        if *me != m.landing_node {
            return Err(Refusal::new(
                "landing",
                format!("landing is recorded by {}, the node responsible for it", m.landing_node),
            ));
        }
        let to = Landing::Landed(landed);
        if matches!(m.landing.value, Landing::Landed(_)) {
            return Err(Refusal::new("landing", "landed is final"));
        }
        landing_step(m, &to)?;
        m.landing = Part::new(version, to);
        return Ok(());
    }
    let side = if *me == m.demand_owner {
        Side::Demand
    } else if *me == m.supply_owner {
        Side::Supply
    } else {
        return Err(Refusal::new("match", format!("this node ({me}) is neither side of the match")));
    };
    let to = match action {
        Action::Accept => Response::Accepted,
        Action::Decline(decline) => Response::Declined(decline),
        Action::Contracted(contract) => Response::Contracted(contract),
        Action::Landed(_) => unreachable!("handled above"),
    };
    if *side.of(m) == to {
        return Err(Refusal::new(side.field(), format!("this side already answered {}", to.word())));
    }
    side_step(m, side, &to)?;
    match side {
        Side::Demand => m.demand_side = Part::new(version, to),
        Side::Supply => m.supply_side = Part::new(version, to),
    }
    Ok(())
}

/// Checks every step from `old` (what central holds) to `new` that `writer`
/// takes: each part whose version moved must move by the rules above.
pub fn check_steps(old: &Match, new: &Match) -> Result<(), Refusal> {
    if new.demand_side.version > old.demand_side.version {
        side_step(old, Side::Demand, &new.demand_side.value)?;
    }
    if new.supply_side.version > old.supply_side.version {
        side_step(old, Side::Supply, &new.supply_side.value)?;
    }
    if new.landing.version > old.landing.version {
        landing_step(old, &new.landing.value)?;
    }
    Ok(())
}

/// The steps a write takes from `held` (if any) to `merged`: one per part
/// of a match or bid whose version moved, none for other records.
pub fn steps(held: Option<&Record>, merged: &Record) -> Vec<Step> {
    fn step<T: serde::Serialize>(part: &str, old: Option<&Part<T>>, new: &Part<T>) -> Option<Step> {
        let moved = old.is_none_or(|o| new.version > o.version);
        let value = |v: &T| serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
        let from = old.map(|o| value(&o.value));
        let to = value(&new.value);
        (moved && from.as_ref() != Some(&to)).then(|| Step { part: part.into(), from, to, version: new.version })
    }
    match (&merged.body, held.map(|h| &h.body)) {
        (Body::Match(new), old) => {
            let old = match old {
                Some(Body::Match(o)) => Some(o),
                _ => None,
            };
            let mut out = Vec::new();
            out.extend(step("core", old.map(|o| &o.core), &new.core));
            if old.is_some() {
                out.extend(step("demand_side", old.map(|o| &o.demand_side), &new.demand_side));
                out.extend(step("supply_side", old.map(|o| &o.supply_side), &new.supply_side));
                out.extend(step("landing", old.map(|o| &o.landing), &new.landing));
            }
            out
        }
        (Body::Bid(new), old) => {
            let old = match old {
                Some(Body::Bid(o)) => Some(&o.decision),
                _ => None,
            };
            step("decision", old, &new.decision).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// The landing's date must not be in the future.
pub fn check_landing_date(landed: &Landed, today: Date) -> Result<(), Refusal> {
    if landed.date > today {
        return Err(Refusal::new("landing_date", format!("{} is after today ({today})", landed.date)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kechuang_types::{ContractType, DeclineReason};
    use proptest::prelude::*;

    use super::*;

    fn node(id: &str) -> NodeId {
        NodeId::parse("n", id).unwrap()
    }

    fn proposed() -> Match {
        kechuang_types::testing::proposed_match()
    }

    fn decline() -> Action {
        Action::Decline(Decline { reason: DeclineReason::Price, note: "报价过高".into() })
    }

    fn contract() -> Action {
        Action::Contracted(Contract { kind: ContractType::License, amount_wan: 120.0 })
    }

    fn landed() -> Action {
        Action::Landed(Landed { date: Date::parse("d", "2026-11-01").unwrap(), note: "产线投用".into() })
    }

    #[test]
    fn the_lifecycle_moves_forward_only() {
        let mut m = proposed();
        let v = Hlc::from_u64;
        let field = |r: Result<(), Refusal>| r.unwrap_err().field;
        assert_eq!(field(act(&mut m, &node("sz"), contract(), v(2))), "demand_side", "no contract before both accept");
        act(&mut m, &node("sz"), Action::Accept, v(2)).unwrap();
        assert_eq!(m.state(), MatchState::AcceptedByDemand);
        assert!(act(&mut m, &node("sz"), Action::Accept, v(3)).is_err(), "answered already");
        act(&mut m, &node("uni"), Action::Accept, v(4)).unwrap();
        assert_eq!(m.state(), MatchState::Connected);
        assert_eq!(field(act(&mut m, &node("uni"), landed(), v(5))), "landing", "uni is not the landing node");
        assert_eq!(field(act(&mut m, &node("sz"), landed(), v(5))), "landing", "not contracted yet");
        act(&mut m, &node("uni"), contract(), v(5)).unwrap();
        assert_eq!(m.state(), MatchState::Contracted);
        assert_eq!(m.verified_contract(), None, "one side's record is not a verified contract");
        assert!(act(&mut m, &node("sz"), decline(), v(6)).is_err(), "a contract is on record");
        act(&mut m, &node("sz"), contract(), v(6)).unwrap();
        assert_eq!(m.verified_contract().map(|c| c.amount_wan), Some(120.0));
        act(&mut m, &node("sz"), landed(), v(7)).unwrap();
        assert_eq!(m.state(), MatchState::Landed);
        assert!(act(&mut m, &node("sz"), landed(), v(8)).is_err(), "landed is final");
    }

    #[test]
    fn declined_is_final_and_outsiders_cannot_answer() {
        let mut m = proposed();
        act(&mut m, &node("uni"), decline(), Hlc::from_u64(2)).unwrap();
        let again = act(&mut m, &node("uni"), Action::Accept, Hlc::from_u64(3)).unwrap_err();
        assert_eq!(again.to_string(), "supply_side: declined is final");
        let outsider = act(&mut m, &node("gz"), Action::Accept, Hlc::from_u64(3)).unwrap_err();
        assert!(outsider.reason.contains("neither side"), "{outsider}");
    }

    #[test]
    fn a_withdrawn_or_expired_match_takes_no_step() {
        for state in [MatchState::Withdrawn, MatchState::Expired] {
            let mut m = proposed();
            m.core = Part::new(Hlc::from_u64(2), state);
            m.core_reason = "需求已解决".into();
            let refused = act(&mut m, &node("sz"), Action::Accept, Hlc::from_u64(3)).unwrap_err();
            assert!(refused.reason.contains(state.as_str()) && refused.reason.contains("需求已解决"), "{refused}");
        }
    }

    #[test]
    fn an_awarded_match_takes_contracts_from_either_side_at_once() {
        let mut m = proposed();
        m.core = Part::new(Hlc::from_u64(2), MatchState::Contracted);
        act(&mut m, &node("uni"), contract(), Hlc::from_u64(3)).unwrap();
        assert!(act(&mut m, &node("sz"), decline(), Hlc::from_u64(4)).is_err());
        act(&mut m, &node("sz"), landed(), Hlc::from_u64(5)).unwrap();
    }

    #[test]
    fn a_write_yields_one_step_per_part_that_moved() {
        let record = |m: Match| kechuang_types::Record {
            meta: kechuang_types::testing::demand("x").meta,
            body: kechuang_types::Body::Match(Box::new(m)),
        };
        let first = record(proposed());
        let created = steps(None, &first);
        assert_eq!(created.len(), 1);
        assert_eq!((created[0].part.as_str(), created[0].from.is_none()), ("core", true));
        let mut m = proposed();
        act(&mut m, &node("uni"), decline(), Hlc::from_u64(5)).unwrap();
        let declined = record(m);
        let moved = steps(Some(&first), &declined);
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].part, "supply_side");
        assert_eq!(moved[0].from, Some(serde_json::json!("pending")));
        assert_eq!(moved[0].to["declined"]["reason"], "价格");
        assert!(steps(Some(&declined), &declined).is_empty(), "a replay is no step");
    }

    #[test]
    fn bid_decisions_are_taken_once() {
        assert!(decision_step(BidState::Submitted, BidState::Awarded).is_ok());
        assert!(decision_step(BidState::Submitted, BidState::NotChosen).is_ok());
        assert_eq!(decision_step(BidState::NotChosen, BidState::Awarded).unwrap_err().field, "decision");
        assert!(decision_step(BidState::Awarded, BidState::Submitted).is_err());
    }

    /// A step a random writer might try.
    fn arb_action() -> impl Strategy<Value = Action> {
        prop_oneof![Just(Action::Accept), Just(decline()), Just(contract()), Just(landed())]
    }

    fn rank(r: &Response) -> u8 {
        match r {
            Response::Pending => 0,
            Response::Accepted => 1,
            Response::Declined(_) | Response::Contracted(_) => 2,
        }
    }

    proptest! {
        /// Whatever random writers try in whatever order, every answer only
        /// moves forward, finals stay final, and a landing needs a contract.
        #[test]
        fn random_steps_by_random_writers_only_move_forward(
            steps in proptest::collection::vec((0usize..4, arb_action()), 1..40)
        ) {
            let writers = ["sz", "uni", "gz", "gd"];
            let mut m = proposed();
            for (i, (writer, action)) in steps.into_iter().enumerate() {
                let before = m.clone();
                let result = act(&mut m, &node(writers[writer]), action, Hlc::from_u64(10 + i as u64));
                if result.is_err() {
                    prop_assert_eq!(&m, &before, "a refused step changed the match");
                    continue;
                }
                prop_assert!(check_steps(&before, &m).is_ok(), "admission refuses what the verbs allow");
                for (old, new) in [(&before.demand_side.value, &m.demand_side.value), (&before.supply_side.value, &m.supply_side.value)] {
                    prop_assert!(rank(new) >= rank(old), "{old:?} -> {new:?}");
                    if rank(old) == 2 {
                        prop_assert_eq!(old, new, "a final answer changed");
                    }
                }
                if matches!(m.landing.value, Landing::Landed(_)) {
                    prop_assert!(matches!(before.state(), MatchState::Contracted | MatchState::Landed));
                }
                if before.state() == MatchState::Landed {
                    prop_assert_eq!(&m, &before, "a landed match changed");
                }
            }
        }
    }
}
