//! What an operator does with matches, challenges, assessments and teams:
//! answer a match for this node's side, bid on an open challenge, award a
//! bid, assess a subject (a society), publish a service team or answer for
//! this node's experts in another's. Each is checked
//! against the rules of the lifecycle (states only move forward, each side
//! writes only its own part) before it is stored and queued for central.

use kechuang_sync::lifecycle::{self, Action};
use kechuang_types::{
    Assessment, Bid, BidState, Body, Contract, ContractType, Date, Decline, DeclineReason, Hlc, Industry, Landed,
    Member, Meta, NodeId, NodeKind, Part, Recommendation, Record, RecordId, RecordKind, Region, Scores, Team,
    Timestamp, Withdrawal,
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
    let kinds = [
        RecordKind::Demand,
        RecordKind::Outcome,
        RecordKind::Expert,
        RecordKind::Bid,
        RecordKind::Assessment,
        RecordKind::Team,
    ];
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

/// A new record of this node, first written now.
fn own_record(
    node: &Node,
    clock: &mut kechuang_types::Clock,
    external_id: Option<String>,
    body: Body,
) -> Result<Record, Refused> {
    body.validate().map_err(|e| Refused::Invalid(e.to_string()))?;
    let now = Timestamp::now();
    Ok(Record {
        meta: Meta {
            id: RecordId::new(),
            owner: node.config.id.clone(),
            version: clock.tick()?,
            created_at: now,
            updated_at: now,
            deleted: false,
            external_id,
            withdrawal: None,
        },
        body,
    })
}

/// What a society says of a subject: the evaluator, the four scores, the
/// verdict and the text, as the CLI and the console send them.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Who assessed.
    pub evaluator: String,
    /// 先进性, 成熟度, 市场前景, 风险: each 1-5.
    pub scores: [u32; 4],
    /// 推荐, 有条件推荐 or 不推荐.
    pub verdict: String,
    /// The assessment in words.
    pub text: String,
}

/// This society's assessment (专业评估) of subject `subject` (a demand,
/// outcome or bid it holds): a new one, or a revision of the one it wrote
/// before.
pub fn assess(node: &Node, subject: &str, said: Verdict) -> Result<Record, Refused> {
    if node.config.kind != NodeKind::Society {
        return Err(Refused::Precondition(format!(
            "only a society node writes assessments (专业评估); this is a {} node",
            node.config.kind
        )));
    }
    let subject = find(node, subject, &[RecordKind::Outcome, RecordKind::Demand, RecordKind::Bid])?;
    if subject.meta.owner == node.config.id {
        return Err(Refused::Precondition("a society does not assess its own records".into()));
    }
    if subject.meta.deleted {
        return Err(Refused::Precondition(format!("the {} was withdrawn", subject.kind())));
    }
    let (industry, challenge_owner) = match &subject.body {
        Body::Demand(d) => (d.industry.clone(), None),
        Body::Outcome(o) => (o.industry.clone(), None),
        Body::Bid(b) => {
            let industry = b
                .industry
                .clone()
                .ok_or_else(|| Refused::Precondition("the bid names no industry: its society cannot be told".into()))?;
            (industry, Some(b.demand_owner.clone()))
        }
        _ => unreachable!("find returned a demand, outcome or bid"),
    };
    let invalid = |e: kechuang_types::Error| Refused::Invalid(e.to_string());
    let score = |field: &str, value: u32| -> Result<u8, Refused> {
        u8::try_from(value)
            .ok()
            .filter(|v| (1..=5).contains(v))
            .ok_or_else(|| Refused::Invalid(format!("scores.{field}: {value} must be 1-5")))
    };
    let [advancement, maturity, market, risk] = said.scores;
    let assessment = Assessment {
        subject: subject.meta.id,
        subject_kind: subject.kind(),
        subject_owner: subject.meta.owner.clone(),
        subject_region: subject.region(),
        industry,
        challenge_owner,
        evaluator: said.evaluator.trim().to_owned(),
        scores: Scores {
            advancement: score("advancement", advancement)?,
            maturity: score("maturity", maturity)?,
            market: score("market", market)?,
            risk: score("risk", risk)?,
        },
        verdict: Recommendation::parse("verdict", &said.verdict).map_err(invalid)?,
        text: said.text.trim().to_owned(),
    };
    let mut clock = node.clock();
    let earlier = node.store.list(Some(RecordKind::Assessment))?.into_iter().find(|r| {
        r.meta.owner == node.config.id
            && !r.meta.deleted
            && matches!(&r.body, Body::Assessment(a) if a.subject == subject.meta.id)
    });
    let record = match earlier {
        Some(mut record) => {
            let body = Body::Assessment(assessment);
            body.validate().map_err(invalid)?;
            record.body = body;
            record.meta.version = clock.tick()?;
            record.meta.updated_at = Timestamp::now();
            record
        }
        None => own_record(node, &mut clock, None, Body::Assessment(assessment))?,
    };
    node.store.write_local(std::slice::from_ref(&record), &clock)?;
    Ok(record)
}

/// A service team as the operator describes it: references still to be
/// resolved against what this node holds.
#[derive(Debug, Clone, Default)]
pub struct TeamDraft {
    /// The team's name, also its reference: publishing the same name again revises it.
    pub name: String,
    /// What the team does.
    pub description: String,
    /// This node's lead expert: id or reference.
    pub lead: String,
    /// Further members: this node's experts, or `NODE:ID` for another node's.
    pub members: Vec<String>,
    /// Fields of expertise.
    pub fields: Vec<String>,
    /// Further keywords.
    pub keywords: Vec<String>,
    /// Cities or provinces served: codes or names.
    pub cities: Vec<String>,
    /// Industry codes or their beginnings served.
    pub industries: Vec<String>,
    /// Service modes.
    pub service_modes: Vec<String>,
}

/// Publishes (or, by the same name, revises) a service team of this node.
/// Members of other nodes join once their node accepts; a revision keeps
/// the answers of the members it keeps.
pub fn publish_team(node: &Node, draft: TeamDraft) -> Result<Record, Refused> {
    if !matches!(node.config.kind, NodeKind::University | NodeKind::Society) {
        return Err(Refused::Precondition(format!(
            "a service team (服务团) is published by a university or society node; this is a {} node",
            node.config.kind
        )));
    }
    let invalid = |e: kechuang_types::Error| Refused::Invalid(e.to_string());
    let me = &node.config.id;
    let own_expert = |field: &str, text: &str| -> Result<Record, Refused> {
        let r = find(node, text, &[RecordKind::Expert]).map_err(|e| Refused::Invalid(format!("{field}: {e}")))?;
        if r.meta.owner != *me || r.meta.deleted {
            return Err(Refused::Invalid(format!("{field}: {text} is not an expert of this node on offer")));
        }
        Ok(r)
    };
    let lead = own_expert("lead", draft.lead.trim())?;
    let mut members = vec![member_of(&lead)];
    for (i, text) in draft.members.iter().map(|t| t.trim()).enumerate() {
        let field = format!("members[{i}]");
        let member = match text.split_once(':') {
            Some((other, id)) if other != me.as_str() => {
                let node_id = NodeId::parse(&field, other).map_err(invalid)?;
                let expert = id.parse::<RecordId>().map_err(|_| {
                    Refused::Invalid(format!("{field}: {id} is not a record id (another node's expert is NODE:ID)"))
                })?;
                let name = node.store.get(&expert)?.map(|r| r.title()).unwrap_or_default();
                Member { expert, node: node_id, name, accepted: Part::new(Hlc::ZERO, false) }
            }
            Some((_, id)) => member_of(&own_expert(&field, id)?),
            None => member_of(&own_expert(&field, text)?),
        };
        if !members.iter().any(|m| m.expert == member.expert) {
            members.push(member);
        }
    }
    let Body::Expert(lead_expert) = &lead.body else { unreachable!("own_expert returned an expert") };
    let fields = match words(&draft.fields) {
        fields if fields.is_empty() => lead_expert.fields.clone(),
        fields => fields,
    };
    let cities = each("cities", &draft.cities, Region::lookup).map_err(invalid)?;
    let industries = each("industries", &draft.industries, Industry::parse).map_err(invalid)?;
    let service_modes = each("service_modes", &draft.service_modes, kechuang_types::service_mode).map_err(invalid)?;
    let name = draft.name.trim().to_owned();
    let mut team = Team {
        name: name.clone(),
        description: draft.description.trim().to_owned(),
        lead: lead.meta.id,
        members,
        fields,
        keywords: words(&draft.keywords),
        region: lead_expert.region,
        cities,
        industries,
        service_modes,
    };
    let mut clock = node.clock();
    let record = match node.store.by_external(RecordKind::Team, &name)? {
        Some(mut record) if record.meta.owner == *me => {
            if let Body::Team(before) = &record.body {
                for member in &mut team.members {
                    if let Some(kept) = before.members.iter().find(|m| m.expert == member.expert) {
                        member.accepted = kept.accepted;
                    }
                }
            }
            let body = Body::Team(team);
            body.validate().map_err(invalid)?;
            record.body = body;
            record.meta.version = clock.tick()?;
            record.meta.updated_at = Timestamp::now();
            record.meta.deleted = false;
            record.meta.withdrawal = None;
            record
        }
        _ => own_record(node, &mut clock, Some(name), Body::Team(team))?,
    };
    node.store.write_local(std::slice::from_ref(&record), &clock)?;
    Ok(record)
}

/// Every entry of a list parsed by `parse`, an error naming `field[i]`.
fn each<T>(
    field: &str,
    items: &[String],
    parse: impl Fn(&str, &str) -> kechuang_types::Result<T>,
) -> kechuang_types::Result<Vec<T>> {
    items.iter().enumerate().map(|(i, item)| parse(&format!("{field}[{i}]"), item)).collect()
}

/// The non-empty entries of a list, trimmed.
fn words(items: &[String]) -> Vec<String> {
    items.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

/// A member of this node's team: one of its experts, serving as published.
fn member_of(expert: &Record) -> Member {
    Member {
        expert: expert.meta.id,
        node: expert.meta.owner.clone(),
        name: expert.title(),
        accepted: Part::new(Hlc::ZERO, false),
    }
}

/// Accepts (or declines) membership of another node's team for every
/// expert of this node it lists: only this node's answers change.
pub fn answer_team(node: &Node, team_id: &str, accept: bool) -> Result<Record, Refused> {
    let mut record = find(node, team_id, &[RecordKind::Team])?;
    let me = node.config.id.clone();
    if record.meta.owner == me {
        return Err(Refused::Precondition("the team is this node's own: its experts serve in it already".into()));
    }
    let Body::Team(team) = &mut record.body else { unreachable!("find returned a team") };
    let mut clock = node.clock();
    let mut answered = 0;
    for member in team.members.iter_mut().filter(|m| m.node == me) {
        if member.accepted.value != accept {
            member.accepted = Part::new(clock.tick()?, accept);
        }
        answered += 1;
    }
    if answered == 0 {
        return Err(Refused::Precondition(format!("the team lists no expert of {me}")));
    }
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
