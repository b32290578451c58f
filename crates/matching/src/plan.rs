//! Tiers and escalation: which candidates are proposed, and when.
//!
//! A candidate is *strong* when its score is close to the best one's (at
//! least [`STRONG`] of it) and its text really matches (strength at least
//! [`FLOOR`], [`EXPERT_FLOOR`] for experts and teams). Stage 0 proposes the strong candidates of the nearest tier
//! that has any, city before province before nation; each later stage, on
//! escalation, adds the strong candidates of the next tier; the last stage
//! adds the remaining candidates above the floor, best first. A strong
//! candidate across the country is therefore never hidden behind weak local
//! ones: weak local ones are not proposed before it.

use kechuang_types::{Body, Date, Match, MatchState, Record, Tier, Timestamp};

use crate::Candidate;

/// Share of the best score a candidate needs to count as strong.
pub const STRONG: f64 = 0.9;
/// Share of the clearest candidate's text strength (over its floor) a
/// candidate needs to count as strong: the best of a weak lot is not.
pub const CLEAR: f64 = 0.1;
/// Least text strength an outcome proposal needs (share of a perfect text match).
pub const FLOOR: f64 = 0.012;
/// Least text strength an expert proposal needs: expert profiles are short,
/// so they cover less of a demand's text.
pub const EXPERT_FLOOR: f64 = 0.006;

fn floor(c: &Candidate) -> f64 {
    match c.kind {
        kechuang_types::SupplyKind::Outcome => FLOOR,
        kechuang_types::SupplyKind::Expert | kechuang_types::SupplyKind::Team => EXPERT_FLOOR,
    }
}

/// The stage at which a proposal is made: 0 at once, then one per escalation.
pub type Stage = u8;

/// A candidate and the stage it is proposed at.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The candidate.
    pub candidate: Candidate,
    /// When it is proposed.
    pub stage: Stage,
}

const fn rank(tier: Tier) -> u8 {
    match tier {
        Tier::City => 0,
        Tier::Province => 1,
        Tier::National => 2,
    }
}

/// The last stage: after the strong candidates of every tier, the rest
/// above the floor.
pub const LAST_STAGE: Stage = rank(Tier::National) + 1;

/// What escalation does with a demand whose window has passed without an
/// accepted proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escalation {
    /// A proposal connected (or went on to a contract or a landing): the
    /// demand needs no other tier, now or later.
    Settled,
    /// One side of a proposal accepted and the other has not answered yet:
    /// wait for it (if it declines or the proposal expires, escalation goes on).
    Wait,
    /// Nothing moves: propose the next stage.
    Next(Stage),
    /// Every stage has been proposed.
    Exhausted,
}

/// Whether a demand takes new proposals: not withdrawn, not past its
/// deadline (China Standard Time), and none of its proposals landed.
pub fn takes_proposals<'a>(demand: &Record, proposals: impl IntoIterator<Item = &'a Match>, today: Date) -> bool {
    let Body::Demand(d) = &demand.body else { return false };
    if demand.meta.deleted || d.deadline.is_some_and(|deadline| deadline < today) {
        return false;
    }
    !proposals.into_iter().any(|m| m.state() == MatchState::Landed)
}

/// Whether a proposal made at `proposed_at` has waited longer than `ttl_ms`
/// for its answers (one side or both still pending, the match open).
pub fn unanswered(m: &Match, proposed_at: Timestamp, now: Timestamp, ttl_ms: i64) -> bool {
    let waiting =
        matches!(m.state(), MatchState::Proposed | MatchState::AcceptedByDemand | MatchState::AcceptedBySupply);
    waiting && now.0.saturating_sub(proposed_at.0) > ttl_ms
}

/// Whether a demand at `stage` escalates, given its proposals.
pub fn escalation<'a>(stage: Stage, proposals: impl IntoIterator<Item = &'a Match>) -> Escalation {
    let mut waiting = false;
    for m in proposals {
        match m.state() {
            MatchState::Connected | MatchState::Contracted | MatchState::Landed => return Escalation::Settled,
            MatchState::AcceptedByDemand | MatchState::AcceptedBySupply => waiting = true,
            _ => {}
        }
    }
    match stage {
        _ if waiting => Escalation::Wait,
        s if s >= LAST_STAGE => Escalation::Exhausted,
        s => Escalation::Next(s + 1),
    }
}

/// The proposals for one demand, in the order they are made, at most `limit`.
pub fn plan(candidates: &[Candidate], limit: usize) -> Vec<Proposal> {
    let usable: Vec<&Candidate> = candidates.iter().filter(|c| c.strength >= floor(c)).collect();
    let best = usable.iter().map(|c| c.score).fold(0.0_f64, f64::max);
    let clearest = usable.iter().map(|c| c.strength / floor(c)).fold(0.0_f64, f64::max);
    let (mut strong, mut rest): (Vec<&Candidate>, Vec<&Candidate>) =
        usable.into_iter().partition(|c| c.score >= STRONG * best && c.strength / floor(c) >= CLEAR * clearest);
    let Some(nearest) = strong.iter().map(|c| rank(c.tier)).min() else {
        return vec![];
    };
    strong.sort_by(|a, b| rank(a.tier).cmp(&rank(b.tier)).then(b.score.total_cmp(&a.score)));
    rest.sort_by(|a, b| b.score.total_cmp(&a.score));
    let last = LAST_STAGE - nearest;
    strong
        .into_iter()
        .map(|c| Proposal { stage: rank(c.tier) - nearest, candidate: c.clone() })
        .chain(rest.into_iter().map(|c| Proposal { stage: last, candidate: c.clone() }))
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use kechuang_types::{RecordId, SupplyKind};

    use super::*;

    fn candidate(score: f64, strength: f64, tier: Tier) -> Candidate {
        Candidate { supply: RecordId::new(), kind: SupplyKind::Outcome, score, strength, tier, linked: false }
    }

    #[test]
    fn strong_local_supply_comes_first() {
        let national = candidate(1.0, 0.3, Tier::National);
        let local = candidate(0.95, 0.3, Tier::City);
        let p = plan(&[national.clone(), local.clone()], 10);
        assert_eq!(p[0].candidate, local);
        assert_eq!((p[0].stage, p[1].stage), (0, 2), "the national one waits for two escalations");
    }

    #[test]
    fn weak_local_supply_does_not_hide_strong_national_supply() {
        let national = candidate(1.0, 0.3, Tier::National);
        let weak_local = candidate(0.5, 0.3, Tier::City);
        let p = plan(&[weak_local.clone(), national.clone()], 10);
        assert_eq!(p[0].candidate, national, "proposed first, at once");
        assert_eq!(p[0].stage, 0);
        assert_eq!(p[1].candidate, weak_local);
        assert_eq!(p[1].stage, 1, "weak ones only after the strong tier was tried");
    }

    #[test]
    fn the_only_expert_sharing_one_word_is_not_strong_for_being_the_best_of_its_kind() {
        // Expert scores are normalised among experts: the only one that
        // matches at all scores 1.0, however little of the demand it covers.
        let barely = Candidate { kind: SupplyKind::Expert, ..candidate(1.0, 0.008, Tier::City) };
        let clear = candidate(1.0, 0.5, Tier::Province);
        let p = plan(&[barely.clone(), clear.clone()], 10);
        assert_eq!((&p[0].candidate, p[0].stage), (&clear, 0));
        assert_eq!((&p[1].candidate, p[1].stage), (&barely, LAST_STAGE - 1), "still proposed, last");
    }

    #[test]
    fn escalation_goes_on_when_a_proposal_is_declined_and_waits_on_one_still_answering() {
        use kechuang_types::{Decline, DeclineReason, Hlc, Part, Response};
        let record = |demand: Response, supply: Response| {
            let mut m = kechuang_types::testing::proposed_match();
            m.demand_side = Part::new(Hlc::from_u64(2), demand);
            m.supply_side = Part::new(Hlc::from_u64(3), supply);
            m
        };
        let declined = Response::Declined(Decline { reason: DeclineReason::Price, note: String::new() });
        let half = record(Response::Accepted, Response::Pending);
        let refused = record(Response::Accepted, declined);
        let connected = record(Response::Accepted, Response::Accepted);
        assert_eq!(escalation(0, [&refused]), Escalation::Next(1), "accepted by the demand, declined by the supply");
        assert_eq!(escalation(0, [&refused, &half]), Escalation::Wait);
        assert_eq!(escalation(1, [&half, &connected]), Escalation::Settled);
        assert_eq!(escalation(LAST_STAGE, [&refused]), Escalation::Exhausted);
        assert_eq!(escalation(0, []), Escalation::Next(1));
    }

    #[test]
    fn a_withdrawn_landed_or_closed_demand_takes_no_proposal() {
        use kechuang_types::{Hlc, Landed, Landing, Part};
        let today = Date::parse("d", "2026-11-28").unwrap();
        let open = kechuang_types::testing::demand("需求");
        assert!(takes_proposals(&open, [], today));
        let mut withdrawn = open.clone();
        withdrawn.meta.deleted = true;
        assert!(!takes_proposals(&withdrawn, [], today));
        let mut closed = open.clone();
        if let Body::Demand(d) = &mut closed.body {
            d.deadline = Some(Date::parse("d", "2026-11-27").unwrap());
        }
        assert!(!takes_proposals(&closed, [], today));
        let mut landed = kechuang_types::testing::proposed_match();
        landed.landing = Part::new(Hlc::from_u64(5), Landing::Landed(Landed { date: today, note: String::new() }));
        assert!(!takes_proposals(&open, [&landed], today));
    }

    #[test]
    fn a_proposal_waits_its_time_to_live_for_answers() {
        let m = kechuang_types::testing::proposed_match();
        let (at, day) = (Timestamp(0), 86_400_000);
        assert!(!unanswered(&m, at, Timestamp(29 * day), 30 * day));
        assert!(unanswered(&m, at, Timestamp(31 * day), 30 * day));
        let mut connected = m.clone();
        connected.demand_side.value = kechuang_types::Response::Accepted;
        connected.supply_side.value = kechuang_types::Response::Accepted;
        assert!(!unanswered(&connected, at, Timestamp(31 * day), 30 * day), "both answered");
    }

    #[test]
    fn nothing_below_the_floor_is_proposed() {
        assert!(plan(&[candidate(1.0, 0.001, Tier::City)], 10).is_empty());
    }
}
