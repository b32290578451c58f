//! What an operator does with matches and challenges: answer a match for
//! this node's side, bid on an open challenge, award a bid. Each is checked
//! against the rules of the lifecycle (states only move forward, each side
//! writes only its own part) before it is stored and queued for central.

use kechuang_sync::lifecycle::{self, Action};
use kechuang_types::{
    Bid, BidState, Body, Contract, ContractType, Date, Decline, DeclineReason, Hlc, Landed, Meta, Part, Record,
    RecordId, RecordKind, Timestamp, Withdrawal,
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

/// What the operator asked of a match: the verb (`accept`, `decline`,
/// `contracted`, `landed`) and its options, as the CLI and the console send them.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// accept, decline, contracted or landed.
    pub verb: String,
    /// decline: the coded reason.
    pub reason: String,
    /// decline, landed: a note.
    pub note: String,
    /// contracted: the contract type.
    pub contract_type: String,
    /// contracted: the amount in 万元.
    pub amount_wan: Option<f64>,
    /// landed: the day (YYYY-MM-DD); today when empty.
    pub date: String,
}

impl Answer {
    /// The lifecycle action it asks for, every option checked and named.
    pub fn action(&self) -> Result<Action, Refused> {
        let invalid = |e: kechuang_types::Error| Refused::Invalid(e.to_string());
        let note = self.note.trim().to_owned();
        kechuang_types::check_text("note", &note, kechuang_types::limits::SHORT_TEXT * 5, false).map_err(invalid)?;
        match self.verb.as_str() {
            "accept" => Ok(Action::Accept),
            "decline" => {
                if self.reason.trim().is_empty() {
                    let reasons: Vec<&str> = DeclineReason::ALL.iter().map(|r| r.as_str()).collect();
                    return Err(Refused::Invalid(format!("reason: a decline needs one of {}", reasons.join(" / "))));
                }
                let reason = DeclineReason::parse("reason", &self.reason).map_err(invalid)?;
                Ok(Action::Decline(Decline { reason, note }))
            }
            "contracted" => {
                let kind = ContractType::parse("type", &self.contract_type).map_err(invalid)?;
                let amount_wan = self.amount_wan.ok_or_else(|| Refused::Invalid("amount: missing (万元)".into()))?;
                if !(amount_wan.is_finite() && (0.0..=kechuang_types::limits::MONEY_WAN).contains(&amount_wan)) {
                    return Err(Refused::Invalid(format!("amount: {amount_wan} is not 0 to 10,000,000 万元")));
                }
                Ok(Action::Contracted(Contract { kind, amount_wan }))
            }
            "landed" => {
                let date = match self.date.trim() {
                    "" => Date::today(),
                    text => Date::parse("date", text).map_err(invalid)?,
                };
                let landed = Landed { date, note };
                lifecycle::check_landing_date(&landed, Date::today()).map_err(refused)?;
                Ok(Action::Landed(landed))
            }
            other => Err(Refused::Invalid(format!("action: {other:?} is not accept, decline, contracted or landed"))),
        }
    }
}

fn refused(r: kechuang_sync::Refusal) -> Refused {
    Refused::Precondition(r.to_string())
}

/// A record by id, or by reference: this node's own first (indexed), then
/// anyone's it holds.
fn find(node: &Node, text: &str, kinds: &[RecordKind]) -> Result<Record, Refused> {
    let mut record = text.parse::<RecordId>().ok().map(|id| node.store.get(&id)).transpose()?.flatten();
    for kind in kinds {
        if record.is_none() {
            record = node.store.by_external(*kind, text)?;
        }
    }
    if record.is_none() {
        record = node.store.list(None)?.into_iter().find(|r| r.meta.external_id.as_deref() == Some(text));
    }
    match record {
        Some(r) if kinds.contains(&r.kind()) => Ok(r),
        Some(r) => Err(Refused::Invalid(format!("{text} is a {}, not a {}", r.kind(), kinds[0]))),
        None => Err(Refused::NotFound(format!("no {} {text} at this node", kinds[0]))),
    }
}

/// This node's own outcome or expert named `text` (its id or reference),
/// on offer: what it may offer for a demand.
pub fn own_supply(node: &Node, text: &str) -> Result<Record, Refused> {
    let record = find(node, text, &[RecordKind::Outcome, RecordKind::Expert])?;
    if record.meta.owner != node.config.id {
        return Err(Refused::Invalid(format!("supply: {text} is not this node's own outcome or expert")));
    }
    if record.meta.deleted {
        return Err(Refused::Invalid(format!("supply: {text} was withdrawn")));
    }
    Ok(record)
}

/// Answers match `match_id` for this node's part, if the lifecycle allows
/// it (the same rules central applies).
pub fn respond(node: &Node, match_id: &str, action: Action) -> Result<Record, Refused> {
    let mut record = find(node, match_id, &[RecordKind::Match])?;
    let Body::Match(m) = &mut record.body else { unreachable!("find returned a match") };
    let mut clock = node.clock();
    let version = clock.tick()?;
    lifecycle::act(m, &node.config.id, action, version).map_err(refused)?;
    // Only this node's part changes: a match's metadata is central's.
    record.meta.version = m.version();
    node.store.write_local(std::slice::from_ref(&record), &clock)?;
    Ok(record)
}

/// Withdraws one of this node's demands, outcomes, experts or bids (its id
/// or this node's own reference): central then withdraws its open proposals
/// everywhere.
pub fn withdraw(node: &Node, id: &str, withdrawal: Withdrawal) -> Result<Record, Refused> {
    let kinds = [RecordKind::Demand, RecordKind::Outcome, RecordKind::Expert, RecordKind::Bid];
    let mut record = find(node, id, &kinds)?;
    if record.meta.owner != node.config.id {
        return Err(Refused::Precondition(format!("{id} is {}'s, not this node's", record.meta.owner)));
    }
    if record.meta.deleted {
        return Err(Refused::Precondition(format!("{id} is already withdrawn")));
    }
    let mut clock = node.clock();
    record.meta.version = clock.tick()?;
    record.meta.updated_at = Timestamp::now();
    record.meta.deleted = true;
    record.meta.withdrawal = Some(withdrawal);
    node.store.write_local(std::slice::from_ref(&record), &clock)?;
    Ok(record)
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
        industry: Some(d.industry.clone()),
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
            withdrawal: None,
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
        lifecycle::decision_step(x.decision.value, decision).map_err(refused)?;
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
    use super::*;

    fn answer(verb: &str) -> Answer {
        Answer { verb: verb.into(), ..Answer::default() }
    }

    #[test]
    fn every_option_is_checked_and_named() {
        assert_eq!(answer("accept").action().unwrap(), Action::Accept);
        let field = |a: Answer| a.action().unwrap_err().to_string();
        assert!(field(answer("decline")).starts_with("reason:"));
        assert!(field(Answer { reason: "太贵".into(), ..answer("decline") }).starts_with("reason:"));
        let decline = Answer { reason: "价格".into(), note: "报价高于预算".into(), ..answer("decline") };
        assert!(matches!(decline.action().unwrap(), Action::Decline(d) if d.reason == DeclineReason::Price));
        assert!(field(Answer { contract_type: "技术许可".into(), ..answer("contracted") }).starts_with("amount:"));
        assert!(field(Answer { amount_wan: Some(10.0), ..answer("contracted") }).starts_with("type:"));
        let contract = Answer { contract_type: "技术许可".into(), amount_wan: Some(120.0), ..answer("contracted") };
        assert!(matches!(contract.action().unwrap(), Action::Contracted(c) if c.amount_wan == 120.0));
        let tomorrow = Date::from_days_since_epoch(Date::today().days_since_epoch() + 1).to_string();
        assert!(field(Answer { date: tomorrow, ..answer("landed") }).starts_with("landing_date:"));
        assert!(matches!(answer("landed").action().unwrap(), Action::Landed(l) if l.date == Date::today()));
        assert!(field(answer("approve")).starts_with("action:"));
    }
}
