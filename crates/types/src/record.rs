//! The records that flow through the federation, and their checks.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::limits;
use crate::{
    ContractType, Date, DateRange, DeclineReason, Error, Hlc, Industry, NodeId, Recommendation, RecordId, Region,
    Result, Tier, Timestamp, TransferMode, Trl, WithdrawReason,
};

/// What every record carries, whatever its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The record's id (UUIDv7).
    pub id: RecordId,
    /// The node that owns (and alone writes) the record.
    pub owner: NodeId,
    /// The version of the record's latest change.
    pub version: Hlc,
    /// When the record was first published.
    pub created_at: Timestamp,
    /// When the record last changed.
    pub updated_at: Timestamp,
    /// Withdrawn by its owner (a tombstone).
    pub deleted: bool,
    /// The owner's own reference for the record (需求编号, 成果编号), if any.
    pub external_id: Option<String>,
    /// Why the owner withdrew it; present exactly when `deleted` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<Withdrawal>,
}

impl Meta {
    /// The metadata of a new record of `owner`, first written at `at`.
    pub fn new(owner: NodeId, version: Hlc, at: Timestamp) -> Self {
        Self {
            id: RecordId::new(),
            owner,
            version,
            created_at: at,
            updated_at: at,
            deleted: false,
            external_id: None,
            withdrawal: None,
        }
    }
}

/// Why an owner withdrew a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    /// The coded reason.
    pub reason: WithdrawReason,
    /// In the owner's own words; may be empty.
    pub note: Text,
}

/// A record: its metadata and its kind-specific body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Identity, ownership and version.
    pub meta: Meta,
    /// The content.
    pub body: Body,
}

/// The kind-specific content of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// An enterprise's technical demand.
    Demand(Demand),
    /// A research outcome offered for transfer.
    Outcome(Outcome),
    /// An expert offering service.
    Expert(Expert),
    /// A demand paired with supply, created by central (boxed: the largest body).
    Match(Box<Match>),
    /// A supply node's bid on a challenge demand.
    Bid(Bid),
    /// A society's assessment of a demand, outcome or bid of its field.
    Assessment(Assessment),
    /// A service team (科技服务团) of experts, possibly of several nodes.
    Team(Team),
}

/// The kinds of record, as named on the command line and in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// 需求.
    Demand,
    /// 成果.
    Outcome,
    /// 专家.
    Expert,
    /// 对接.
    Match,
    /// 揭榜.
    Bid,
    /// 专业评估.
    Assessment,
    /// 服务团.
    Team,
}

impl RecordKind {
    /// Every kind, in display order.
    pub const ALL: [RecordKind; 7] =
        [Self::Demand, Self::Outcome, Self::Expert, Self::Match, Self::Bid, Self::Assessment, Self::Team];

    /// The kind's name (`demand`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Demand => "demand",
            Self::Outcome => "outcome",
            Self::Expert => "expert",
            Self::Match => "match",
            Self::Bid => "bid",
            Self::Assessment => "assessment",
            Self::Team => "team",
        }
    }

    /// Parses a kind name, singular or plural, naming `field` when unknown.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let t = text.trim();
        let t = t.strip_suffix("es").filter(|t| *t == "match").or_else(|| t.strip_suffix('s')).unwrap_or(t);
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == t)
            .ok_or_else(|| Error::invalid(field, text, "one of demand, outcome, expert, match, bid, assessment, team"))
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Body {
    /// The region the record lies in (a match's demand region, an
    /// assessment's subject's; a bid has none).
    pub fn region(&self) -> Option<Region> {
        match self {
            Body::Demand(d) => Some(d.region),
            Body::Outcome(o) => Some(o.region),
            Body::Expert(e) => Some(e.region),
            Body::Match(m) => Some(m.demand_region),
            Body::Bid(_) => None,
            Body::Assessment(a) => a.subject_region,
            Body::Team(t) => Some(t.region),
        }
    }

    /// The kind of this body.
    pub fn kind(&self) -> RecordKind {
        match self {
            Body::Demand(_) => RecordKind::Demand,
            Body::Outcome(_) => RecordKind::Outcome,
            Body::Expert(_) => RecordKind::Expert,
            Body::Match(_) => RecordKind::Match,
            Body::Bid(_) => RecordKind::Bid,
            Body::Assessment(_) => RecordKind::Assessment,
            Body::Team(_) => RecordKind::Team,
        }
    }

    /// Checks every field that typed parsing cannot: lengths, list sizes, ranges.
    pub fn validate(&self) -> Result<()> {
        match self {
            Body::Demand(d) => d.validate(),
            Body::Outcome(o) => o.validate(),
            Body::Expert(e) => e.validate(),
            Body::Match(m) => m.validate(),
            Body::Bid(b) => b.validate(),
            Body::Assessment(a) => a.validate(),
            Body::Team(t) => t.validate(),
        }
    }
}

impl Record {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.body.kind()
    }

    /// The region the record lies in (see [`Body::region`]).
    pub fn region(&self) -> Option<Region> {
        self.body.region()
    }

    /// The record's title or name, for tables.
    pub fn title(&self) -> String {
        match &self.body {
            Body::Demand(d) => d.title.clone(),
            Body::Outcome(o) => o.title.clone(),
            Body::Expert(e) => e.name.clone(),
            Body::Match(m) => format!("{} ⇄ {}", m.demand_title, m.supply_title),
            Body::Bid(b) => b.proposal.chars().take(40).collect(),
            Body::Assessment(a) => format!("{} · {}", a.verdict, a.evaluator),
            Body::Team(t) => t.name.clone(),
        }
    }

    /// Removes every contact the record carries (for views that may not see them).
    pub fn redact_contacts(&mut self) {
        match &mut self.body {
            Body::Demand(d) => d.contact = None,
            Body::Outcome(o) => o.contact = None,
            Body::Expert(e) => e.contact = None,
            Body::Match(m) => {
                m.demand_contact = None;
                m.supply_contact = None;
            }
            Body::Bid(_) | Body::Assessment(_) | Body::Team(_) => {}
        }
    }
}

/// A record as an operator submits it: the operator's reference and a body.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// The operator's own reference, which makes re-import idempotent.
    pub external_id: Option<String>,
    /// The content; only demands, outcomes and experts are published by operators.
    pub body: Body,
    /// Withdraw the record, and why (a spreadsheet's `withdrawn` column).
    pub withdrawal: Option<Withdrawal>,
}

/// Checks a free-text field: trimmed, not empty when `required`, at most `max` characters.
pub fn check_text(field: &str, text: &str, max: usize, required: bool) -> Result<()> {
    text_fault(text, max, required).map_or(Ok(()), |fault| Err(fault.error(field, text)))
}

/// What is wrong with a text, found in one pass over its bytes: every
/// stored and received record checks all of its texts, so this is hot.
enum TextFault {
    Spaces,
    Missing,
    Long(usize),
    Control,
}

impl TextFault {
    fn error(self, field: &str, text: &str) -> Error {
        match self {
            Self::Spaces => Error::invalid(field, text, "has leading or trailing spaces"),
            Self::Missing => Error::missing(field),
            Self::Long(max) => Error::invalid(field, text, format!("longer than {max} characters")),
            Self::Control => Error::invalid(field, text, "contains control characters"),
        }
    }
}

fn text_fault(text: &str, max: usize, required: bool) -> Option<TextFault> {
    if text != text.trim() {
        return Some(TextFault::Spaces);
    }
    if required && text.is_empty() {
        return Some(TextFault::Missing);
    }
    // A text has at most as many characters as bytes.
    if text.len() > max && text.chars().count() > max {
        return Some(TextFault::Long(max));
    }
    // Control characters (Unicode's Cc) are C0 and DEL, one byte each, and
    // C1, U+0080 to U+009F, encoded as 0xC2 0x80 to 0xC2 0x9F.
    let bytes = text.as_bytes();
    let control = bytes.iter().enumerate().any(|(i, &b)| {
        (b < 0x20 && b != b'\n')
            || b == 0x7f
            || (b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    });
    control.then_some(TextFault::Control)
}

/// Checks a list of short words: at most `limits::KEYWORDS`, each non-empty and short.
fn check_words(field: &str, words: &[String]) -> Result<()> {
    if words.len() > limits::KEYWORDS {
        return Err(Error::invalid(field, words.len().to_string(), format!("more than {} entries", limits::KEYWORDS)));
    }
    for (i, w) in words.iter().enumerate() {
        if let Some(fault) = text_fault(w, limits::KEYWORD, true) {
            return Err(fault.error(&format!("{field}[{i}]"), w));
        }
    }
    Ok(())
}

fn check_money(field: &str, value: Option<f64>) -> Result<()> {
    match value {
        Some(v) if !v.is_finite() || !(0.0..=limits::MONEY_WAN).contains(&v) => {
            Err(Error::invalid(field, v.to_string(), "must be 0 to 10,000,000 万元"))
        }
        _ => Ok(()),
    }
}

/// Text, as a type alias that says it was checked by `check_text`.
pub type Text = String;

/// Contact details: private to their owner until both sides of a match accept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The person to talk to.
    pub person: Text,
    /// Phone number.
    pub phone: Text,
    /// E-mail address.
    pub email: Text,
}

impl Contact {
    /// Checks the contact's fields, named under `contact.`.
    pub fn validate(&self) -> Result<()> {
        check_text("contact.person", &self.person, limits::SHORT_TEXT, false)?;
        check_text("contact.phone", &self.phone, 32, false)?;
        if !self.phone.is_empty() && !self.phone.chars().all(|c| c.is_ascii_digit() || "+- ()".contains(c)) {
            return Err(Error::invalid("contact.phone", &self.phone, "digits, spaces, +, -, ( and ) only"));
        }
        check_text("contact.email", &self.email, limits::SHORT_TEXT, false)?;
        if !self.email.is_empty() {
            let ok = self.email.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
            }) && !self.email.contains(char::is_whitespace);
            if !ok {
                return Err(Error::invalid("contact.email", &self.email, "not an e-mail address"));
            }
        }
        Ok(())
    }

    /// Whether every field is empty.
    pub fn is_empty(&self) -> bool {
        self.person.is_empty() && self.phone.is_empty() && self.email.is_empty()
    }
}

/// 需求: an enterprise's technical problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Demand {
    /// Short statement of the problem.
    pub title: Text,
    /// The problem in full.
    pub description: Text,
    /// GB/T 4754 industry code.
    pub industry: Industry,
    /// Keywords chosen by the enterprise.
    pub keywords: Vec<Text>,
    /// Where the enterprise is.
    pub region: Region,
    /// Budget in 万元, if stated.
    pub budget_wan: Option<f64>,
    /// When a solution is needed by.
    pub deadline: Option<Date>,
    /// The least readiness a solution must have.
    pub min_trl: Trl,
    /// An open challenge (揭榜挂帅) that takes bids until the deadline.
    pub is_challenge: bool,
    /// The enterprise's name.
    pub enterprise: Text,
    /// Private contact.
    pub contact: Option<Contact>,
    /// The service modes wanted of an expert (技术咨询, 现场指导, …); empty for any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_modes: Vec<Text>,
}

impl Demand {
    fn validate(&self) -> Result<()> {
        check_text("title", &self.title, limits::TITLE, true)?;
        check_text("description", &self.description, limits::LONG_TEXT, true)?;
        check_words("keywords", &self.keywords)?;
        check_money("budget_wan", self.budget_wan)?;
        check_text("enterprise", &self.enterprise, limits::SHORT_TEXT, false)?;
        if self.is_challenge && self.deadline.is_none() {
            return Err(Error::missing("deadline"));
        }
        if self.region.is_abroad() {
            return Err(Error::invalid(
                "region",
                self.region.to_string(),
                "a demand is an enterprise's in China: a GB/T 2260 region code",
            ));
        }
        check_modes(&self.service_modes)?;
        self.contact.as_ref().map_or(Ok(()), Contact::validate)
    }
}

/// Service modes: a few, each in its normalised form.
fn check_modes(modes: &[Text]) -> Result<()> {
    if modes.len() > limits::KEYWORDS {
        return Err(Error::invalid("service_modes", modes.len().to_string(), "too many entries"));
    }
    for (i, m) in modes.iter().enumerate() {
        if crate::service_mode("service_modes", m)? != *m {
            return Err(Error::invalid(format!("service_modes[{i}]"), m, "not normalised"));
        }
    }
    Ok(())
}

/// 成果: a research outcome offered for transfer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Short name of the outcome.
    pub title: Text,
    /// What it is and what it achieves.
    #[serde(rename = "abstract")]
    pub summary: Text,
    /// GB/T 4754 industry code.
    pub industry: Industry,
    /// Keywords.
    pub keywords: Vec<Text>,
    /// The institution that holds it (the file field `owner`).
    pub institution: Text,
    /// Where the institution is.
    pub region: Region,
    /// Readiness level.
    pub trl: Trl,
    /// Intellectual property, as written (patent numbers are checked).
    pub ip: Text,
    /// How it may be transferred.
    pub transfer_modes: Vec<TransferMode>,
    /// Asking price in 万元, if stated.
    pub price_wan: Option<f64>,
    /// Private contact.
    pub contact: Option<Contact>,
}

impl Outcome {
    fn validate(&self) -> Result<()> {
        check_text("title", &self.title, limits::TITLE, true)?;
        check_text("abstract", &self.summary, limits::LONG_TEXT, true)?;
        check_words("keywords", &self.keywords)?;
        check_text("owner", &self.institution, limits::SHORT_TEXT, false)?;
        check_text("ip", &self.ip, 500, false)?;
        check_patents("ip", &self.ip)?;
        if self.transfer_modes.len() > TransferMode::ALL.len() {
            return Err(Error::invalid("transfer_modes", self.transfer_modes.len().to_string(), "too many entries"));
        }
        check_money("price_wan", self.price_wan)?;
        self.contact.as_ref().map_or(Ok(()), Contact::validate)
    }
}

/// Checks every Chinese patent number in `text` (`CN…`): application numbers
/// (`CN202010476989.9`, with their check digit) and publication numbers
/// (`CN113580476B`).
pub fn check_patents(field: &str, text: &str) -> Result<()> {
    let mut rest = text;
    while let Some(at) = rest.find("CN") {
        let token: String = rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
        rest = &rest[at + token.len().max(2)..];
        check_patent(field, &token)?;
    }
    Ok(())
}

fn check_patent(field: &str, token: &str) -> Result<()> {
    let body = &token[2..];
    if let Some((digits, check)) = body.split_once('.') {
        let ok_shape = matches!(digits.len(), 8 | 12) && digits.bytes().all(|b| b.is_ascii_digit()) && check.len() == 1;
        if !ok_shape {
            return Err(Error::invalid(
                field,
                token,
                "patent application numbers are CN + 8 or 12 digits + '.' + check digit",
            ));
        }
        let weights = [2u32, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
        let sum: u32 = digits.bytes().zip(weights).map(|(d, w)| u32::from(d - b'0') * w).sum();
        let expected = match sum % 11 {
            10 => 'X',
            n => char::from(b'0' + n as u8),
        };
        if !check.starts_with(expected) {
            return Err(Error::invalid(field, token, format!("check digit should be {expected}")));
        }
        return Ok(());
    }
    let (digits, kind) = body.split_at(body.len().saturating_sub(1));
    let kind_ok = kind.chars().all(|c| "ABCUYS".contains(c)) && !kind.is_empty();
    if (7..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && kind_ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            token,
            "not a CN patent number (CN + digits + A/B/C/U/Y/S, or an application number)",
        ))
    }
}

/// 专家: a person offering service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expert {
    /// Full name.
    pub name: Text,
    /// Institution and department.
    pub affiliation: Text,
    /// Professional title (研究员, 教授).
    pub title: Text,
    /// Fields of expertise.
    pub fields: Vec<Text>,
    /// Further keywords.
    pub keywords: Vec<Text>,
    /// Where the expert is based.
    pub region: Region,
    /// When the expert is available.
    pub available: Vec<DateRange>,
    /// How the expert offers service.
    pub service_modes: Vec<Text>,
    /// How many engagements the expert takes at once, if stated.
    pub capacity: Option<u32>,
    /// Private contact.
    pub contact: Option<Contact>,
}

impl Expert {
    fn validate(&self) -> Result<()> {
        check_text("name", &self.name, limits::SHORT_TEXT, true)?;
        check_text("affiliation", &self.affiliation, limits::SHORT_TEXT, false)?;
        check_text("title", &self.title, limits::SHORT_TEXT, false)?;
        check_words("fields", &self.fields)?;
        if self.fields.is_empty() {
            return Err(Error::missing("fields"));
        }
        check_words("keywords", &self.keywords)?;
        if self.available.len() > limits::WINDOWS {
            return Err(Error::invalid(
                "available",
                self.available.len().to_string(),
                format!("more than {} windows", limits::WINDOWS),
            ));
        }
        check_modes(&self.service_modes)?;
        if self.capacity.is_some_and(|c| c == 0 || c > 1000) {
            return Err(Error::invalid("capacity", self.capacity.unwrap_or(0).to_string(), "must be 1-1000"));
        }
        self.contact.as_ref().map_or(Ok(()), Contact::validate)
    }
}

/// Which kind of supply a match or bid offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplyKind {
    /// A research outcome.
    Outcome,
    /// An expert.
    Expert,
    /// A service team of experts.
    Team,
}

/// One independently written part of a record, with its own version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part<T> {
    /// The version of the part's latest change.
    pub version: Hlc,
    /// The part's value.
    pub value: T,
}

impl<T> Part<T> {
    /// A part written at `version`.
    pub fn new(version: Hlc, value: T) -> Self {
        Self { version, value }
    }
}

/// One side's answer to a match proposal, with what goes with it: why it
/// declined, or the contract it recorded. Only moves forward (the rules are
/// `kechuang_sync::lifecycle`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Not answered yet.
    #[default]
    Pending,
    /// Declined, and why.
    Declined(Decline),
    /// Accepted.
    Accepted,
    /// Recorded a signed contract (签约): its type and amount.
    Contracted(Contract),
}

impl Response {
    /// The answer's name (`pending`, `declined`, `accepted`, `contracted`).
    pub fn word(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Declined(_) => "declined",
            Self::Accepted => "accepted",
            Self::Contracted(_) => "contracted",
        }
    }

    /// Whether this side agreed to meet: accepted, or went on to a contract.
    pub fn agreed(&self) -> bool {
        matches!(self, Self::Accepted | Self::Contracted(_))
    }

    fn validate(&self, field: &str) -> Result<()> {
        match self {
            Self::Declined(d) => check_text(&format!("{field}_note"), &d.note, limits::SHORT_TEXT * 5, false),
            Self::Contracted(c) => check_money(&format!("{field}_amount_wan"), Some(c.amount_wan)),
            Self::Pending | Self::Accepted => Ok(()),
        }
    }
}

/// Why a side declined: a coded reason, and a note if it likes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decline {
    /// The coded reason.
    pub reason: DeclineReason,
    /// In the side's own words; may be empty.
    pub note: Text,
}

/// A technology contract as one side recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    /// Which of the six 技术合同 categories.
    pub kind: ContractType,
    /// The amount, in 万元.
    pub amount_wan: f64,
}

/// Whether the responsible city node has recorded the landing (落地), and when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Landing {
    /// Not landed yet.
    #[default]
    Pending,
    /// Landed.
    Landed(Landed),
}

/// A recorded landing: the day it happened, and a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Landed {
    /// The day it landed.
    pub date: Date,
    /// What landed where; may be empty.
    pub note: Text,
}

impl Landing {
    /// The landing's name (`pending`, `landed`).
    pub fn word(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Landed(_) => "landed",
        }
    }
}

/// Central's own state of a match, beyond the two sides' answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchState {
    /// Proposed to both sides.
    #[default]
    Proposed,
    /// Accepted by the demand side only.
    AcceptedByDemand,
    /// Accepted by the supply side only.
    AcceptedBySupply,
    /// Both accepted: contacts released.
    Connected,
    /// Contract signed.
    Contracted,
    /// Landed.
    Landed,
    /// One side declined.
    Declined,
    /// Nobody answered in time.
    Expired,
    /// Central withdrew the proposal.
    Withdrawn,
}

impl MatchState {
    /// Whether the match still engages its supply: proposed, answered or
    /// connected, or contracted but not yet landed.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Proposed | Self::AcceptedByDemand | Self::AcceptedBySupply | Self::Connected | Self::Contracted
        )
    }

    /// The state's name (`proposed`, `accepted_by_demand`, …, `withdrawn`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proposed => "proposed",
            Self::AcceptedByDemand => "accepted_by_demand",
            Self::AcceptedBySupply => "accepted_by_supply",
            Self::Connected => "connected",
            Self::Contracted => "contracted",
            Self::Landed => "landed",
            Self::Declined => "declined",
            Self::Expired => "expired",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// 对接: a demand paired with an outcome or expert, created by central.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// The demand.
    pub demand: RecordId,
    /// The demand's owner node.
    pub demand_owner: NodeId,
    /// The demand's region.
    pub demand_region: Region,
    /// The outcome or expert offered.
    pub supply: RecordId,
    /// Whether the supply is an outcome or an expert.
    pub supply_kind: SupplyKind,
    /// The supply's owner node.
    pub supply_owner: NodeId,
    /// The supply's region.
    pub supply_region: Region,
    /// The nodes of a team's members other than its owner, whom the match
    /// engages too; empty for an outcome or expert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supply_nodes: Vec<NodeId>,
    /// The city node responsible for landing.
    pub landing_node: NodeId,
    /// Relevance, higher is better.
    pub score: f64,
    /// How far the match reached.
    pub tier: Tier,
    /// Why these two were paired, for people.
    pub explanation: Text,
    /// The demand's title, so both sides see what the match is about.
    pub demand_title: Text,
    /// The outcome's title or the expert's name.
    pub supply_title: Text,
    /// Central's part: `proposed`, or `contracted` for an awarded challenge,
    /// `withdrawn`, `expired`; and its version.
    pub core: Part<MatchState>,
    /// Why central withdrew or expired the match; empty otherwise.
    pub core_reason: Text,
    /// The demand owner's answer.
    pub demand_side: Part<Response>,
    /// The supply owner's answer.
    pub supply_side: Part<Response>,
    /// The landing milestone.
    pub landing: Part<Landing>,
    /// The demand's contact, present only at the two sides after both accepted.
    pub demand_contact: Option<Contact>,
    /// The supply's contact, present only at the two sides after both accepted.
    pub supply_contact: Option<Contact>,
}

impl Match {
    fn validate(&self) -> Result<()> {
        if !self.score.is_finite() {
            return Err(Error::invalid("score", self.score.to_string(), "not a number"));
        }
        check_text("demand_title", &self.demand_title, limits::TITLE, false)?;
        check_text("supply_title", &self.supply_title, limits::TITLE, false)?;
        check_text("core_reason", &self.core_reason, limits::SHORT_TEXT * 5, false)?;
        self.demand_side.value.validate("demand_side")?;
        self.supply_side.value.validate("supply_side")?;
        if let Landing::Landed(l) = &self.landing.value {
            check_text("landing_note", &l.note, limits::SHORT_TEXT * 5, false)?;
        }
        check_text("explanation", &self.explanation, limits::LONG_TEXT, false)
    }

    /// Whether central's part (everything but the three answers) is the same in both.
    pub fn same_core(&self, other: &Match) -> bool {
        self.core == other.core
            && self.demand == other.demand
            && self.supply == other.supply
            && self.supply_kind == other.supply_kind
            && self.demand_owner == other.demand_owner
            && self.supply_owner == other.supply_owner
            && self.demand_region == other.demand_region
            && self.supply_region == other.supply_region
            && self.supply_nodes == other.supply_nodes
            && self.landing_node == other.landing_node
            && self.score.to_bits() == other.score.to_bits()
            && self.tier == other.tier
            && self.explanation == other.explanation
            && self.demand_title == other.demand_title
            && self.supply_title == other.supply_title
            && self.core_reason == other.core_reason
            && self.demand_contact == other.demand_contact
            && self.supply_contact == other.supply_contact
    }

    /// The lifecycle state, derived from the parts.
    pub fn state(&self) -> MatchState {
        use Response::*;
        if matches!(self.core.value, MatchState::Withdrawn | MatchState::Expired) {
            return self.core.value;
        }
        if matches!(self.landing.value, Landing::Landed(_)) {
            return MatchState::Landed;
        }
        if self.core.value == MatchState::Contracted {
            return MatchState::Contracted; // an awarded challenge
        }
        match (&self.demand_side.value, &self.supply_side.value) {
            (Declined(_), _) | (_, Declined(_)) => MatchState::Declined,
            (Contracted(_), _) | (_, Contracted(_)) => MatchState::Contracted,
            (Accepted, Accepted) => MatchState::Connected,
            (Accepted, Pending) => MatchState::AcceptedByDemand,
            (Pending, Accepted) => MatchState::AcceptedBySupply,
            (Pending, Pending) => MatchState::Proposed,
        }
    }

    /// The contract both sides recorded alike (same type), if they did: the
    /// only contract the programme's figures count. Its amount is the
    /// supply side's when the two differ.
    pub fn verified_contract(&self) -> Option<Contract> {
        match (&self.demand_side.value, &self.supply_side.value) {
            (Response::Contracted(d), Response::Contracted(s)) if d.kind == s.kind => Some(*s),
            _ => None,
        }
    }

    /// The highest version of any part.
    pub fn version(&self) -> Hlc {
        self.core.version.max(self.demand_side.version).max(self.supply_side.version).max(self.landing.version)
    }
}

/// The demand owner's decision on a bid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BidState {
    /// Waiting for the decision.
    #[default]
    Submitted,
    /// Not chosen.
    NotChosen,
    /// Awarded.
    Awarded,
}

impl BidState {
    /// The decision's name (`submitted`, `not_chosen`, `awarded`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::NotChosen => "not_chosen",
            Self::Awarded => "awarded",
        }
    }
}

/// 揭榜: a supply node's application to a challenge demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bid {
    /// The challenge demand.
    pub demand: RecordId,
    /// The demand's owner node, who decides.
    pub demand_owner: NodeId,
    /// What the bidder proposes.
    pub proposal: Text,
    /// Outcomes offered.
    pub outcomes: Vec<RecordId>,
    /// Experts offered.
    pub experts: Vec<RecordId>,
    /// The demand owner's decision.
    pub decision: Part<BidState>,
    /// The challenge's industry, so the societies of that field assess the bid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<Industry>,
}

impl Bid {
    fn validate(&self) -> Result<()> {
        check_text("proposal", &self.proposal, limits::LONG_TEXT, true)?;
        if self.outcomes.len() + self.experts.len() > limits::KEYWORDS {
            return Err(Error::invalid(
                "outcomes",
                (self.outcomes.len() + self.experts.len()).to_string(),
                "too many offers",
            ));
        }
        Ok(())
    }
}

/// A society's four scores of a subject, each 1 (low) to 5 (high).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scores {
    /// 先进性: how advanced the technology is.
    pub advancement: u8,
    /// 成熟度: how mature it is.
    pub maturity: u8,
    /// 市场前景: its market prospects.
    pub market: u8,
    /// 风险: how risky it is (5 the riskiest).
    pub risk: u8,
}

impl Scores {
    /// The scores with their wire names and Chinese labels, in order.
    pub fn named(&self) -> [(&'static str, &'static str, u8); 4] {
        [
            ("advancement", "先进性", self.advancement),
            ("maturity", "成熟度", self.maturity),
            ("market", "市场前景", self.market),
            ("risk", "风险", self.risk),
        ]
    }

    fn validate(&self) -> Result<()> {
        for (field, _, score) in self.named() {
            if !(1..=5).contains(&score) {
                return Err(Error::invalid(format!("scores.{field}"), score.to_string(), "must be 1-5"));
            }
        }
        Ok(())
    }
}

/// 专业评估: a society's assessment of a demand, outcome or challenge bid
/// of its field. The society node is its owner; the subject's kind, owner,
/// place and field travel with it, so the feed rules need not look the
/// subject up (central checks them against the subject).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The demand, outcome or bid assessed.
    pub subject: RecordId,
    /// The subject's kind: demand, outcome or bid.
    pub subject_kind: RecordKind,
    /// The subject's owner node.
    pub subject_owner: NodeId,
    /// The subject's region (none for a bid).
    pub subject_region: Option<Region>,
    /// The subject's industry: a bid's is its challenge's.
    pub industry: Industry,
    /// A bid's challenge owner, who decides on it; none for other subjects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_owner: Option<NodeId>,
    /// Who assessed: the society's expert or panel.
    pub evaluator: Text,
    /// The four scores.
    pub scores: Scores,
    /// 推荐, 有条件推荐 or 不推荐.
    pub verdict: Recommendation,
    /// The assessment in words.
    pub text: Text,
}

impl Assessment {
    fn validate(&self) -> Result<()> {
        if !matches!(self.subject_kind, RecordKind::Demand | RecordKind::Outcome | RecordKind::Bid) {
            return Err(Error::invalid("subject_kind", self.subject_kind.as_str(), "a demand, outcome or bid"));
        }
        if (self.subject_kind == RecordKind::Bid) != self.challenge_owner.is_some() {
            return Err(Error::invalid(
                "challenge_owner",
                self.challenge_owner.as_ref().map(NodeId::as_str).unwrap_or_default(),
                "named for a bid, and only for a bid",
            ));
        }
        if (self.subject_kind == RecordKind::Bid) == self.subject_region.is_some() {
            return Err(Error::invalid(
                "subject_region",
                self.subject_region.map(|r| r.to_string()).unwrap_or_default(),
                "a demand's or outcome's region; none for a bid",
            ));
        }
        check_text("evaluator", &self.evaluator, limits::SHORT_TEXT, true)?;
        self.scores.validate()?;
        check_text("text", &self.text, limits::LONG_TEXT, true)
    }
}

/// One expert of a service team, and whether the expert's node agreed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The expert record.
    pub expert: RecordId,
    /// The node that owns the expert record.
    pub node: NodeId,
    /// The expert's name, for people.
    pub name: Text,
    /// The member node's answer (its own part of the team): an expert of the
    /// team's owner needs none.
    pub accepted: Part<bool>,
}

/// 服务团: a team of experts that serves cities or industries together,
/// published by a university or society node. Members of other nodes join
/// once their node accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    /// The team's name.
    pub name: Text,
    /// What the team does.
    pub description: Text,
    /// The lead expert: one of the owner's.
    pub lead: RecordId,
    /// The members, the lead among them.
    pub members: Vec<Member>,
    /// Fields of expertise.
    pub fields: Vec<Text>,
    /// Further keywords.
    pub keywords: Vec<Text>,
    /// Where the team is based.
    pub region: Region,
    /// The cities (or provinces) it serves; empty for anywhere.
    pub cities: Vec<Region>,
    /// The industries it serves (codes or their beginnings); empty for any.
    pub industries: Vec<Industry>,
    /// How the team offers service.
    pub service_modes: Vec<Text>,
}

impl Team {
    fn validate(&self) -> Result<()> {
        check_text("name", &self.name, limits::SHORT_TEXT, true)?;
        check_text("description", &self.description, limits::LONG_TEXT, false)?;
        check_words("fields", &self.fields)?;
        if self.fields.is_empty() {
            return Err(Error::missing("fields"));
        }
        check_words("keywords", &self.keywords)?;
        check_modes(&self.service_modes)?;
        if self.members.is_empty() || self.members.len() > limits::KEYWORDS {
            return Err(Error::invalid(
                "members",
                self.members.len().to_string(),
                format!("1 to {} experts", limits::KEYWORDS),
            ));
        }
        for (i, m) in self.members.iter().enumerate() {
            check_text(&format!("members[{i}].name"), &m.name, limits::SHORT_TEXT, false)?;
            if self.members[..i].iter().any(|o| o.expert == m.expert) {
                return Err(Error::invalid(format!("members[{i}].expert"), m.expert.to_string(), "listed twice"));
            }
        }
        if !self.members.iter().any(|m| m.expert == self.lead) {
            return Err(Error::invalid("lead", self.lead.to_string(), "not one of the members"));
        }
        if self.cities.len() > limits::KEYWORDS || self.industries.len() > limits::KEYWORDS {
            return Err(Error::invalid("cities", self.cities.len().to_string(), "too many entries"));
        }
        Ok(())
    }

    /// Whether `member` serves: an expert of the team's `owner`, or one
    /// whose node accepted.
    pub fn serves(member: &Member, owner: &NodeId) -> bool {
        member.node == *owner || member.accepted.value
    }

    /// Whether a team serving `cities` and `industries` (each empty for
    /// any) serves a demand in `region` of `industry`.
    pub fn covers(cities: &[Region], industries: &[Industry], region: Region, industry: &Industry) -> bool {
        (cities.is_empty() || cities.iter().any(|c| c.contains(region)))
            && (industries.is_empty() || industries.iter().any(|i| industry.as_str().starts_with(i.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_scan_finds_exactly_the_control_characters() {
        for c in (0..0x3000u32).filter_map(char::from_u32) {
            let text = format!("甲{c}乙");
            let expected = c.is_control() && c != '\n';
            assert_eq!(matches!(text_fault(&text, 10, true), Some(TextFault::Control)), expected, "U+{:04X}", c as u32);
        }
    }

    proptest::proptest! {
        #[test]
        fn the_one_pass_check_agrees_with_the_plain_rules(text in "\\PC{0,12}|[\u{0}-\u{a0}储能 ]{0,12}", max in 0usize..14) {
            let plain = text != text.trim()
                || text.is_empty()
                || text.chars().count() > max
                || text.chars().any(|c| c.is_control() && c != '\n');
            proptest::prop_assert_eq!(check_text("f", &text, max, true).is_err(), plain);
        }
    }

    #[test]
    fn patent_numbers_are_checked_for_shape_and_check_digit() {
        assert!(check_patents("ip", "发明专利 CN202010476989.9；软件著作权 2023SR1127063").is_ok());
        assert!(check_patents("ip", "发明专利 CN113580476B").is_ok());
        assert!(check_patents("ip", "技术秘密").is_ok());
        let err = check_patents("ip", "发明专利 CN202010476989.3").unwrap_err();
        assert!(err.to_string().contains("check digit should be 9"), "{err}");
        assert!(check_patents("ip", "CN12AB").is_err());
        assert!(check_patents("ip", "CN2020104769.9").is_err());
    }

    #[test]
    fn text_checks_name_the_field() {
        assert_eq!(check_text("title", "", 10, true).unwrap_err(), Error::missing("title"));
        assert_eq!(check_text("title", " x", 10, true).unwrap_err().field(), "title");
        assert!(check_text("title", &"字".repeat(11), 10, true).is_err());
        assert!(check_text("title", &"字".repeat(10), 10, true).is_ok());
        assert!(check_text("title", "a\u{0}b", 10, true).is_err());
    }

    #[test]
    fn contact_checks_phone_and_email() {
        let mut c =
            Contact { person: "王工".into(), phone: "0755-8888 1234".into(), email: "wang@example.cn".into() };
        assert!(c.validate().is_ok());
        c.email = "wang@".into();
        assert_eq!(c.validate().unwrap_err().field(), "contact.email");
        c.email.clear();
        c.phone = "call me".into();
        assert_eq!(c.validate().unwrap_err().field(), "contact.phone");
    }

    #[test]
    fn record_kinds_parse_singular_and_plural() {
        assert_eq!(RecordKind::parse("kind", "demands").unwrap(), RecordKind::Demand);
        assert_eq!(RecordKind::parse("kind", "match").unwrap(), RecordKind::Match);
        assert_eq!(RecordKind::parse("kind", "matches").unwrap(), RecordKind::Match);
        assert!(RecordKind::parse("kind", "widgets").is_err());
    }
}
