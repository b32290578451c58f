//! Wire <-> domain conversion, validating on receipt.

use kechuang_types::{
    Assessment, Bid, BidState, Body, Contact, Contract, ContractType, Date, DateRange, Decline, DeclineReason, Demand,
    Draft, Error, Expert, Hlc, Industry, Landed, Landing, Match, MatchState, Member, Meta, NodeId, Outcome, Part,
    Recommendation, Record, RecordId, RecordKind, Region, Response, Result, Scores, SupplyKind, Team, Tier, Timestamp,
    TransferMode, Trl, WithdrawReason, Withdrawal,
};

use crate::pb;

fn id(field: &str, bytes: &[u8]) -> Result<RecordId> {
    let array: [u8; 16] =
        bytes.try_into().map_err(|_| Error::invalid(field, format!("{} bytes", bytes.len()), "ids are 16 bytes"))?;
    let id = RecordId::from_bytes(array);
    RecordId::parse(field, &id.to_string())
}

fn optional_date(field: &str, text: &str) -> Result<Option<Date>> {
    if text.is_empty() { Ok(None) } else { Date::parse(field, text).map(Some) }
}

fn contact(c: Option<pb::Contact>) -> Result<Option<Contact>> {
    let Some(c) = c else { return Ok(None) };
    let c = Contact { person: c.person, phone: c.phone, email: c.email };
    c.validate()?;
    Ok((!c.is_empty()).then_some(c))
}

fn contact_to_wire(c: Option<Contact>) -> Option<pb::Contact> {
    c.map(|c| pb::Contact { person: c.person, phone: c.phone, email: c.email })
}

fn list<T>(field: &str, items: Vec<String>, parse: impl Fn(&str, &str) -> Result<T>) -> Result<Vec<T>> {
    items.iter().enumerate().map(|(i, s)| parse(&format!("{field}[{i}]"), s)).collect()
}

/// Parses a lowercase snake_case enum through serde, naming `field` on error.
fn word<T: serde::de::DeserializeOwned>(field: &str, text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| Error::invalid(field, text, "unknown value"))
}

fn word_to_wire<T: serde::Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

impl TryFrom<pb::Demand> for Demand {
    type Error = Error;
    fn try_from(d: pb::Demand) -> Result<Self> {
        Ok(Demand {
            industry: Industry::parse("industry", &d.industry)?,
            region: Region::parse("region", &d.region)?,
            deadline: optional_date("deadline", &d.deadline)?,
            min_trl: Trl::new("min_trl", d.min_trl.into())?,
            contact: contact(d.contact)?,
            service_modes: list("service_modes", d.service_modes, kechuang_types::service_mode)?,
            title: d.title,
            description: d.description,
            keywords: d.keywords,
            budget_wan: d.budget_wan,
            is_challenge: d.is_challenge,
            enterprise: d.enterprise,
        })
    }
}

impl From<Demand> for pb::Demand {
    fn from(d: Demand) -> Self {
        pb::Demand {
            title: d.title,
            description: d.description,
            industry: d.industry.to_string(),
            keywords: d.keywords,
            region: d.region.to_string(),
            budget_wan: d.budget_wan,
            deadline: d.deadline.map(|d| d.to_string()).unwrap_or_default(),
            min_trl: d.min_trl.get().into(),
            is_challenge: d.is_challenge,
            enterprise: d.enterprise,
            contact: contact_to_wire(d.contact),
            service_modes: d.service_modes,
        }
    }
}

impl TryFrom<pb::Outcome> for Outcome {
    type Error = Error;
    fn try_from(o: pb::Outcome) -> Result<Self> {
        Ok(Outcome {
            industry: Industry::parse("industry", &o.industry)?,
            region: Region::parse("region", &o.region)?,
            trl: Trl::new("trl", o.trl.into())?,
            transfer_modes: list("transfer_modes", o.transfer_modes, TransferMode::parse)?,
            contact: contact(o.contact)?,
            title: o.title,
            summary: o.r#abstract,
            keywords: o.keywords,
            institution: o.institution,
            ip: o.ip,
            price_wan: o.price_wan,
        })
    }
}

impl From<Outcome> for pb::Outcome {
    fn from(o: Outcome) -> Self {
        pb::Outcome {
            title: o.title,
            r#abstract: o.summary,
            industry: o.industry.to_string(),
            keywords: o.keywords,
            institution: o.institution,
            region: o.region.to_string(),
            trl: o.trl.get().into(),
            ip: o.ip,
            transfer_modes: o.transfer_modes.iter().map(|m| m.as_str().to_owned()).collect(),
            price_wan: o.price_wan,
            contact: contact_to_wire(o.contact),
        }
    }
}

impl TryFrom<pb::Expert> for Expert {
    type Error = Error;
    fn try_from(e: pb::Expert) -> Result<Self> {
        let available = e
            .available
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let field = format!("available[{i}]");
                DateRange::new(&field, Date::parse(&field, &r.from)?, Date::parse(&field, &r.to)?)
            })
            .collect::<Result<_>>()?;
        Ok(Expert {
            region: Region::parse("region", &e.region)?,
            service_modes: list("service_modes", e.service_modes, kechuang_types::service_mode)?,
            contact: contact(e.contact)?,
            available,
            name: e.name,
            affiliation: e.affiliation,
            title: e.title,
            fields: e.fields,
            keywords: e.keywords,
            capacity: e.capacity,
        })
    }
}

impl From<Expert> for pb::Expert {
    fn from(e: Expert) -> Self {
        pb::Expert {
            name: e.name,
            affiliation: e.affiliation,
            title: e.title,
            fields: e.fields,
            keywords: e.keywords,
            region: e.region.to_string(),
            available: e
                .available
                .iter()
                .map(|r| pb::DateRange { from: r.from.to_string(), to: r.to.to_string() })
                .collect(),
            service_modes: e.service_modes,
            capacity: e.capacity,
            contact: contact_to_wire(e.contact),
        }
    }
}

impl TryFrom<pb::Match> for Match {
    type Error = Error;
    fn try_from(m: pb::Match) -> Result<Self> {
        let node = |field: &str, s: &str| NodeId::parse(field, s);
        Ok(Match {
            demand: id("demand", &m.demand)?,
            demand_owner: node("demand_owner", &m.demand_owner)?,
            demand_region: Region::parse("demand_region", &m.demand_region)?,
            supply: id("supply", &m.supply)?,
            supply_kind: word::<SupplyKind>("supply_kind", &m.supply_kind)?,
            supply_owner: node("supply_owner", &m.supply_owner)?,
            supply_region: Region::parse("supply_region", &m.supply_region)?,
            supply_nodes: list("supply_nodes", m.supply_nodes, NodeId::parse)?,
            landing_node: node("landing_node", &m.landing_node)?,
            score: m.score,
            tier: Tier::parse("tier", &m.tier)?,
            explanation: m.explanation,
            demand_title: m.demand_title,
            supply_title: m.supply_title,
            core: Part::new(Hlc::from_u64(m.core_version), word::<MatchState>("core_state", &m.core_state)?),
            core_reason: m.core_reason,
            demand_side: Part::new(
                Hlc::from_u64(m.demand_side_version),
                response(
                    "demand_side",
                    &m.demand_side,
                    &m.demand_side_reason,
                    m.demand_side_note,
                    &m.demand_side_contract,
                    m.demand_side_amount_wan,
                )?,
            ),
            supply_side: Part::new(
                Hlc::from_u64(m.supply_side_version),
                response(
                    "supply_side",
                    &m.supply_side,
                    &m.supply_side_reason,
                    m.supply_side_note,
                    &m.supply_side_contract,
                    m.supply_side_amount_wan,
                )?,
            ),
            landing: Part::new(Hlc::from_u64(m.landing_version), landing(&m.landing, &m.landing_date, m.landing_note)?),
            demand_contact: contact(m.demand_contact)?,
            supply_contact: contact(m.supply_contact)?,
        })
    }
}

/// A side's answer from its wire fields: the word, and what goes with it.
fn response(field: &str, word: &str, reason: &str, note: String, contract: &str, amount: f64) -> Result<Response> {
    let only = |detail: &str, who: &str| Error::invalid(format!("{field}_{detail}"), word, format!("only {who}"));
    if word != "declined" && (!reason.is_empty() || !note.is_empty()) {
        return Err(only("reason", "a declined answer carries a reason and note"));
    }
    if word != "contracted" && (!contract.is_empty() || amount != 0.0) {
        return Err(only("contract", "a contracted answer carries a contract"));
    }
    Ok(match word {
        "pending" => Response::Pending,
        "accepted" => Response::Accepted,
        "declined" => {
            Response::Declined(Decline { reason: DeclineReason::parse(&format!("{field}_reason"), reason)?, note })
        }
        "contracted" => Response::Contracted(Contract {
            kind: ContractType::parse(&format!("{field}_contract"), contract)?,
            amount_wan: amount,
        }),
        other => return Err(Error::invalid(field, other, "one of pending, accepted, declined, contracted")),
    })
}

/// A side's answer as wire fields: (word, reason, note, contract, amount).
fn response_to_wire(r: Response) -> (String, String, String, String, f64) {
    let word = r.word().to_owned();
    match r {
        Response::Declined(d) => (word, d.reason.as_str().into(), d.note, String::new(), 0.0),
        Response::Contracted(c) => (word, String::new(), String::new(), c.kind.as_str().into(), c.amount_wan),
        Response::Pending | Response::Accepted => (word, String::new(), String::new(), String::new(), 0.0),
    }
}

/// The landing from its wire fields.
fn landing(word: &str, date: &str, note: String) -> Result<Landing> {
    match word {
        "pending" if date.is_empty() && note.is_empty() => Ok(Landing::Pending),
        "pending" => Err(Error::invalid("landing_date", date, "only a landing carries a date and note")),
        "landed" => Ok(Landing::Landed(Landed { date: Date::parse("landing_date", date)?, note })),
        other => Err(Error::invalid("landing", other, "one of pending, landed")),
    }
}

impl From<Match> for pb::Match {
    fn from(m: Match) -> Self {
        let (demand_side, demand_side_reason, demand_side_note, demand_side_contract, demand_side_amount_wan) =
            response_to_wire(m.demand_side.value);
        let (supply_side, supply_side_reason, supply_side_note, supply_side_contract, supply_side_amount_wan) =
            response_to_wire(m.supply_side.value);
        let (landing, landing_date, landing_note) = match m.landing.value {
            Landing::Pending => ("pending".to_owned(), String::new(), String::new()),
            Landing::Landed(l) => ("landed".to_owned(), l.date.to_string(), l.note),
        };
        pb::Match {
            demand: m.demand.as_bytes().to_vec(),
            demand_owner: m.demand_owner.into(),
            demand_region: m.demand_region.to_string(),
            supply: m.supply.as_bytes().to_vec(),
            supply_kind: word_to_wire(m.supply_kind),
            supply_owner: m.supply_owner.into(),
            supply_region: m.supply_region.to_string(),
            supply_nodes: m.supply_nodes.into_iter().map(String::from).collect(),
            landing_node: m.landing_node.into(),
            score: m.score,
            tier: m.tier.as_str().to_owned(),
            explanation: m.explanation,
            demand_title: m.demand_title,
            supply_title: m.supply_title,
            core_version: m.core.version.as_u64(),
            core_state: word_to_wire(m.core.value),
            core_reason: m.core_reason,
            demand_side_version: m.demand_side.version.as_u64(),
            demand_side,
            demand_side_reason,
            demand_side_note,
            demand_side_contract,
            demand_side_amount_wan,
            supply_side_version: m.supply_side.version.as_u64(),
            supply_side,
            supply_side_reason,
            supply_side_note,
            supply_side_contract,
            supply_side_amount_wan,
            landing_version: m.landing.version.as_u64(),
            landing,
            landing_date,
            landing_note,
            demand_contact: contact_to_wire(m.demand_contact),
            supply_contact: contact_to_wire(m.supply_contact),
        }
    }
}

impl TryFrom<pb::Bid> for Bid {
    type Error = Error;
    fn try_from(b: pb::Bid) -> Result<Self> {
        let ids = |field: &str, v: Vec<Vec<u8>>| -> Result<Vec<RecordId>> {
            v.iter().enumerate().map(|(i, b)| id(&format!("{field}[{i}]"), b)).collect()
        };
        Ok(Bid {
            demand: id("demand", &b.demand)?,
            demand_owner: NodeId::parse("demand_owner", &b.demand_owner)?,
            proposal: b.proposal,
            outcomes: ids("outcomes", b.outcomes)?,
            experts: ids("experts", b.experts)?,
            decision: Part::new(Hlc::from_u64(b.decision_version), word::<BidState>("decision", &b.decision)?),
            industry: match b.industry.as_str() {
                "" => None,
                code => Some(Industry::parse("industry", code)?),
            },
        })
    }
}

impl From<Bid> for pb::Bid {
    fn from(b: Bid) -> Self {
        pb::Bid {
            demand: b.demand.as_bytes().to_vec(),
            demand_owner: b.demand_owner.into(),
            proposal: b.proposal,
            outcomes: b.outcomes.iter().map(|i| i.as_bytes().to_vec()).collect(),
            experts: b.experts.iter().map(|i| i.as_bytes().to_vec()).collect(),
            decision_version: b.decision.version.as_u64(),
            decision: word_to_wire(b.decision.value),
            industry: b.industry.map(|i| i.to_string()).unwrap_or_default(),
        }
    }
}

fn score(field: &str, value: u32) -> Result<u8> {
    u8::try_from(value).map_err(|_| Error::invalid(field, value.to_string(), "must be 1-5"))
}

impl TryFrom<pb::Assessment> for Assessment {
    type Error = Error;
    fn try_from(a: pb::Assessment) -> Result<Self> {
        Ok(Assessment {
            subject: id("subject", &a.subject)?,
            subject_kind: RecordKind::parse("subject_kind", &a.subject_kind)?,
            subject_owner: NodeId::parse("subject_owner", &a.subject_owner)?,
            subject_region: match a.subject_region.as_str() {
                "" => None,
                code => Some(Region::parse("subject_region", code)?),
            },
            industry: Industry::parse("industry", &a.industry)?,
            challenge_owner: match a.challenge_owner.as_str() {
                "" => None,
                node => Some(NodeId::parse("challenge_owner", node)?),
            },
            evaluator: a.evaluator,
            scores: Scores {
                advancement: score("scores.advancement", a.advancement)?,
                maturity: score("scores.maturity", a.maturity)?,
                market: score("scores.market", a.market)?,
                risk: score("scores.risk", a.risk)?,
            },
            verdict: Recommendation::parse("verdict", &a.verdict)?,
            text: a.text,
        })
    }
}

impl From<Assessment> for pb::Assessment {
    fn from(a: Assessment) -> Self {
        pb::Assessment {
            subject: a.subject.as_bytes().to_vec(),
            subject_kind: a.subject_kind.as_str().to_owned(),
            subject_owner: a.subject_owner.into(),
            subject_region: a.subject_region.map(|r| r.to_string()).unwrap_or_default(),
            industry: a.industry.to_string(),
            challenge_owner: a.challenge_owner.map(String::from).unwrap_or_default(),
            evaluator: a.evaluator,
            advancement: a.scores.advancement.into(),
            maturity: a.scores.maturity.into(),
            market: a.scores.market.into(),
            risk: a.scores.risk.into(),
            verdict: a.verdict.as_str().to_owned(),
            text: a.text,
        }
    }
}

impl TryFrom<pb::Team> for Team {
    type Error = Error;
    fn try_from(t: pb::Team) -> Result<Self> {
        let members = t
            .members
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                Ok(Member {
                    expert: id(&format!("members[{i}].expert"), &m.expert)?,
                    node: NodeId::parse(&format!("members[{i}].node"), &m.node)?,
                    name: m.name,
                    accepted: Part::new(Hlc::from_u64(m.accepted_version), m.accepted),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Team {
            lead: id("lead", &t.lead)?,
            members,
            region: Region::parse("region", &t.region)?,
            cities: list("cities", t.cities, Region::parse)?,
            industries: list("industries", t.industries, Industry::parse)?,
            service_modes: list("service_modes", t.service_modes, kechuang_types::service_mode)?,
            name: t.name,
            description: t.description,
            fields: t.fields,
            keywords: t.keywords,
        })
    }
}

impl From<Team> for pb::Team {
    fn from(t: Team) -> Self {
        pb::Team {
            name: t.name,
            description: t.description,
            lead: t.lead.as_bytes().to_vec(),
            members: t
                .members
                .into_iter()
                .map(|m| pb::TeamMember {
                    expert: m.expert.as_bytes().to_vec(),
                    node: m.node.into(),
                    name: m.name,
                    accepted_version: m.accepted.version.as_u64(),
                    accepted: m.accepted.value,
                })
                .collect(),
            fields: t.fields,
            keywords: t.keywords,
            region: t.region.to_string(),
            cities: t.cities.iter().map(ToString::to_string).collect(),
            industries: t.industries.iter().map(ToString::to_string).collect(),
            service_modes: t.service_modes,
        }
    }
}

fn body_from_wire(body: Option<pb::record::Body>) -> Result<Body> {
    use pb::record::Body as W;
    let body = match body.ok_or_else(|| Error::missing("body"))? {
        W::Demand(d) => Body::Demand(d.try_into()?),
        W::Outcome(o) => Body::Outcome(o.try_into()?),
        W::Expert(e) => Body::Expert(e.try_into()?),
        W::Match(m) => Body::Match(Box::new(m.try_into()?)),
        W::Bid(b) => Body::Bid(b.try_into()?),
        W::Assessment(a) => Body::Assessment(a.try_into()?),
        W::Team(t) => Body::Team(t.try_into()?),
    };
    body.validate()?;
    Ok(body)
}

fn body_to_wire(body: Body) -> pb::record::Body {
    use pb::record::Body as W;
    match body {
        Body::Demand(d) => W::Demand(d.into()),
        Body::Outcome(o) => W::Outcome(o.into()),
        Body::Expert(e) => W::Expert(e.into()),
        Body::Match(m) => W::Match((*m).into()),
        Body::Bid(b) => W::Bid(b.into()),
        Body::Assessment(a) => W::Assessment(a.into()),
        Body::Team(t) => W::Team(t.into()),
    }
}

/// Why a record was withdrawn: a reason exactly when it is.
fn withdrawal(deleted: bool, reason: &str, note: String) -> Result<Option<Withdrawal>> {
    match (deleted, reason.is_empty()) {
        (false, true) if note.is_empty() => Ok(None),
        (false, _) => Err(Error::invalid("withdrawn_reason", reason, "only a withdrawn record carries a reason")),
        (true, true) => Err(Error::missing("withdrawn_reason")),
        (true, false) => {
            kechuang_types::check_text("withdrawn_note", &note, kechuang_types::limits::SHORT_TEXT * 5, false)?;
            Ok(Some(Withdrawal { reason: WithdrawReason::parse("withdrawn_reason", reason)?, note }))
        }
    }
}

fn external_id(text: String) -> Result<Option<String>> {
    kechuang_types::check_text("external_id", &text, kechuang_types::limits::EXTERNAL_ID, false)?;
    Ok((!text.is_empty()).then_some(text))
}

impl TryFrom<pb::Record> for Record {
    type Error = Error;
    fn try_from(r: pb::Record) -> Result<Self> {
        let m = r.meta.ok_or_else(|| Error::missing("meta"))?;
        let meta = Meta {
            id: id("id", &m.id)?,
            owner: NodeId::parse("owner", &m.owner)?,
            version: Hlc::from_u64(m.version),
            created_at: Timestamp(m.created_at_ms),
            updated_at: Timestamp(m.updated_at_ms),
            deleted: m.deleted,
            external_id: external_id(m.external_id)?,
            withdrawal: withdrawal(m.deleted, &m.withdrawn_reason, m.withdrawn_note)?,
        };
        if meta.version == Hlc::ZERO {
            return Err(Error::invalid("version", "0", "every change has a version"));
        }
        Ok(Record { meta, body: body_from_wire(r.body)? })
    }
}

impl From<Record> for pb::Record {
    fn from(r: Record) -> Self {
        let m = r.meta;
        pb::Record {
            meta: Some(pb::Meta {
                id: m.id.as_bytes().to_vec(),
                owner: m.owner.into(),
                version: m.version.as_u64(),
                created_at_ms: m.created_at.0,
                updated_at_ms: m.updated_at.0,
                deleted: m.deleted,
                external_id: m.external_id.unwrap_or_default(),
                withdrawn_reason: m.withdrawal.as_ref().map(|w| w.reason.as_str().to_owned()).unwrap_or_default(),
                withdrawn_note: m.withdrawal.map(|w| w.note).unwrap_or_default(),
            }),
            body: Some(body_to_wire(r.body)),
        }
    }
}

/// Validates a draft received on the operator API.
pub fn draft_from_wire(d: pb::Draft) -> Result<Draft> {
    use pb::draft::Body as W;
    let body = match d.body.ok_or_else(|| Error::missing("body"))? {
        W::Demand(x) => Body::Demand(x.try_into()?),
        W::Outcome(x) => Body::Outcome(x.try_into()?),
        W::Expert(x) => Body::Expert(x.try_into()?),
    };
    body.validate()?;
    let withdrawal = match d.withdrawn_reason.as_str() {
        "" if d.withdrawn_note.is_empty() => None,
        _ => withdrawal(true, &d.withdrawn_reason, d.withdrawn_note)?,
    };
    Ok(Draft { external_id: external_id(d.external_id)?, body, withdrawal })
}

/// Encodes a draft for the operator API; only demands, outcomes and experts are drafts.
pub fn draft_to_wire(d: Draft) -> Option<pb::Draft> {
    use pb::draft::Body as W;
    let body = match d.body {
        Body::Demand(x) => W::Demand(x.into()),
        Body::Outcome(x) => W::Outcome(x.into()),
        Body::Expert(x) => W::Expert(x.into()),
        Body::Match(_) | Body::Bid(_) | Body::Assessment(_) | Body::Team(_) => return None,
    };
    let (withdrawn_reason, withdrawn_note) =
        d.withdrawal.map(|w| (w.reason.as_str().to_owned(), w.note)).unwrap_or_default();
    Some(pb::Draft {
        external_id: d.external_id.unwrap_or_default(),
        withdrawn_reason,
        withdrawn_note,
        body: Some(body),
    })
}

#[cfg(test)]
mod tests {
    use kechuang_types::{Demand, Hlc, Industry, Meta, NodeId, Record, RecordId, Region, Timestamp, Trl};
    use proptest::prelude::*;

    use crate::pb;

    fn demand(
        title: String,
        keywords: Vec<String>,
        budget: Option<u32>,
        trl: u8,
        region: usize,
        deadline: Option<u8>,
    ) -> Record {
        let regions = ["440300", "510100", "110000", "652300", "469000"];
        Record {
            meta: Meta {
                id: RecordId::new(),
                owner: NodeId::parse("owner", "sz-city").unwrap(),
                version: Hlc::from_u64(7 << 16),
                created_at: Timestamp(1_795_000_000_000),
                updated_at: Timestamp(1_795_000_000_001),
                deleted: false,
                external_id: Some("XQ-1".into()),
                withdrawal: None,
            },
            body: kechuang_types::Body::Demand(Demand {
                title,
                description: "储能电站需要提前发现电芯热失控".into(),
                industry: Industry::parse("industry", "C38").unwrap(),
                keywords,
                region: Region::parse("region", regions[region]).unwrap(),
                budget_wan: budget.map(f64::from),
                deadline: deadline
                    .map(|d| kechuang_types::Date::parse("d", &format!("2027-01-{:02}", d % 28 + 1)).unwrap()),
                min_trl: Trl::new("min_trl", i64::from(trl)).unwrap(),
                is_challenge: false,
                enterprise: String::new(),
                contact: None,
                service_modes: if trl > 6 { vec!["技术咨询".into()] } else { Vec::new() },
            }),
        }
    }

    proptest! {
        #[test]
        fn valid_records_survive_a_wire_round_trip(
            title in "[\u{4e00}-\u{4e80}]{1,40}",
            keywords in proptest::collection::vec("[\u{4e00}-\u{4e80}a-z]{1,10}", 0..8),
            budget in proptest::option::of(0u32..100_000),
            trl in 1u8..=9,
            region in 0usize..5,
            deadline in proptest::option::of(0u8..200),
        ) {
            let record = demand(title, keywords, budget, trl, region, deadline);
            let back = Record::try_from(pb::Record::from(record.clone())).unwrap();
            prop_assert_eq!(back, record);
        }
    }
}
