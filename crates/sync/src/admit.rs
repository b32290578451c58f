//! Admission: what central checks of every change a node pushes before it
//! is merged. A certificate proves who a node is, not that it behaves, so
//! every version of a record is held to the same rules as its first:
//!
//! - **clock**: no version more than a bounded skew ahead of central's clock;
//! - **ownership**: every field has one writer. A demand, outcome, expert or
//!   bid is its owner's; a match's demand side is the demand owner's, its
//!   supply side the supply owner's, its landing the landing node's, and
//!   everything else of it, metadata included, central's; a bid's decision
//!   is the challenge owner's, the rest of the bid (metadata included) the
//!   bidder's;
//! - **place**: a node's records lie in its area (a city node's in its city,
//!   a provincial node's in its province, a university's in its region; a
//!   national society publishes anywhere);
//! - **one version, one content**: a version central holds must come back
//!   with what central holds;
//! - **bids**: on an open challenge of the owner they name, not the bidder's
//!   own, before its deadline, offering only outcomes and experts of the
//!   bidder that central holds;
//! - **assessments**: written by a society node only, of a demand, outcome
//!   or bid central holds that lies in the society's fields and is not its
//!   own, carrying the subject's kind, owner, place and field as they are;
//! - **teams**: published by a university or society node in its area, led
//!   by one of its experts, listing experts central holds as their nodes'
//!   (each member node writes only its own answer).
//!
//! A refusal names the field and says why, in words an operator can act on.

use std::fmt;

use kechuang_types::{
    Assessment, Bid, Body, Date, Hlc, Landing, Match, Meta, NodeKind, Part, Record, RecordId, RecordKind, Region, Team,
};

use crate::{Peer, held_by, lifecycle};

/// Why a change was refused: the field, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The field (as on the wire) the change may not carry as it is.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Refusal {
    /// A refusal of `field`, for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// What admission measures against: central's clock and calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Central's wall clock, ms since the Unix epoch.
    pub now_ms: u64,
    /// How far ahead of `now_ms` a version may be.
    pub max_skew_ms: u64,
    /// Today, in China Standard Time (for deadlines).
    pub today: Date,
}

/// Where admission reads the records a change refers to (a bid's challenge
/// and offers), as they stand before the change.
pub trait Lookup {
    /// Why a record could not be read.
    type Error;
    /// The record with `id`, if there is one.
    fn get(&mut self, id: &RecordId) -> Result<Option<Record>, Self::Error>;
}

/// Verdict on one change: `Ok(())` to merge it, or why not.
pub type Verdict = Result<(), Refusal>;

/// Checks that `writer` may turn `held` (what central holds, if anything)
/// into `incoming`. The outer `Err` is a failure to read a record, not a
/// refusal.
pub fn admit<L: Lookup>(
    writer: &Peer,
    held: Option<&Record>,
    incoming: &Record,
    bounds: &Bounds,
    lookup: &mut L,
) -> Result<Verdict, L::Error> {
    if let Err(refusal) = check_clock(held, incoming, bounds).and_then(|()| check_identity(held, incoming)) {
        return Ok(Err(refusal));
    }
    match (&incoming.body, held.map(|h| &h.body)) {
        (Body::Demand(_) | Body::Outcome(_) | Body::Expert(_), _) => Ok(own_record(writer, held, incoming)),
        (Body::Match(_), None) => Ok(Err(Refusal::new("match", "only central creates matches"))),
        (Body::Match(new), Some(Body::Match(_))) => {
            let held = held.expect("matched on a held match");
            Ok(match_answer(writer, held, &incoming.meta, new, bounds))
        }
        (Body::Bid(new), _) => bid(writer, held, incoming, new, bounds, lookup),
        (Body::Assessment(new), _) => assessment(writer, held, incoming, new, lookup),
        (Body::Team(new), _) => team(writer, held, incoming, new, lookup),
        (Body::Match(_), Some(_)) => Ok(Err(Refusal::new("kind", "the record is not a match"))),
    }
}

/// The area a node's own records must lie in; `None` for anywhere.
pub fn area(peer: &Peer) -> Option<Region> {
    match peer.kind {
        NodeKind::City => Some(peer.region.city()),
        NodeKind::Provincial => Some(peer.region.province()),
        NodeKind::University => Some(peer.region),
        NodeKind::Society | NodeKind::Central => None,
    }
}

/// Checks that `region` lies in `peer`'s area, naming `field` if not. A
/// place abroad is in no station's area, and any station may publish
/// supply there (海智计划: overseas experts and outcomes); demands abroad
/// are refused by validation.
pub fn check_place(peer: &Peer, field: &str, region: Region) -> Verdict {
    if region.is_abroad() {
        return Ok(());
    }
    match area(peer) {
        Some(area) if !area.contains(region) => {
            Err(Refusal::new(field, format!("{region} is outside the area of {} node {} ({area})", peer.kind, peer.id)))
        }
        _ => Ok(()),
    }
}

/// The versions a record carries, with their wire names.
fn versions(record: &Record) -> Vec<(&'static str, Hlc)> {
    let mut out = vec![("version", record.meta.version)];
    match &record.body {
        Body::Match(m) => out.extend([
            ("core_version", m.core.version),
            ("demand_side_version", m.demand_side.version),
            ("supply_side_version", m.supply_side.version),
            ("landing_version", m.landing.version),
        ]),
        Body::Bid(b) => out.push(("decision_version", b.decision.version)),
        _ => {}
    }
    out
}

/// Every version the change brings that central does not hold already is
/// at most `max_skew_ms` ahead of central's clock.
fn check_clock(held: Option<&Record>, incoming: &Record, bounds: &Bounds) -> Verdict {
    let known = held.map(versions).unwrap_or_default();
    for (field, version) in versions(incoming) {
        if known.contains(&(field, version)) {
            continue;
        }
        let ahead = version.ahead_of(bounds.now_ms);
        if ahead > bounds.max_skew_ms {
            return Err(Refusal::new(
                field,
                format!(
                    "{version} is {} s ahead of central's clock (at most {} s allowed): check this node's clock",
                    ahead / 1000,
                    bounds.max_skew_ms / 1000
                ),
            ));
        }
    }
    Ok(())
}

/// A record keeps its kind and its owner.
fn check_identity(held: Option<&Record>, incoming: &Record) -> Verdict {
    let Some(held) = held else { return Ok(()) };
    if held.kind() != incoming.kind() {
        return Err(Refusal::new("kind", format!("the record is a {}, not a {}", held.kind(), incoming.kind())));
    }
    if held.meta.owner != incoming.meta.owner {
        return Err(Refusal::new("owner", format!("the record belongs to {}", held.meta.owner)));
    }
    Ok(())
}

/// A demand, outcome or expert: written by its owner, in the owner's area,
/// one content per version.
fn own_record(writer: &Peer, held: Option<&Record>, incoming: &Record) -> Verdict {
    if incoming.meta.owner != writer.id {
        return Err(Refusal::new("owner", format!("{} is not the writing node {}", incoming.meta.owner, writer.id)));
    }
    if let Some(held) = held
        && held.meta.version == incoming.meta.version
    {
        return if held == incoming { Ok(()) } else { Err(reused_version(incoming.meta.version)) };
    }
    match incoming.region() {
        // Withdrawing a record is always allowed, wherever it lies.
        Some(region) if !incoming.meta.deleted => check_place(writer, "region", region),
        _ => Ok(()),
    }
}

fn reused_version(version: Hlc) -> Refusal {
    Refusal::new("version", format!("{version} is already held with other content: a change needs a new version"))
}

/// A part moves only by its writer; the same version carries the same value.
fn part<T: PartialEq>(new: &Part<T>, old: &Part<T>, writer: bool, field: &str, who: &str) -> Verdict {
    if new.version > old.version && !writer {
        return Err(Refusal::new(field, format!("written by {who} only")));
    }
    if new.version == old.version && new.value != old.value {
        return Err(Refusal::new(field, format!("version {} already carries another value", new.version)));
    }
    Ok(())
}

/// A node's answer to a match: only its own part moves, by the lifecycle's
/// steps; central's core and the match's metadata come back as the writer
/// holds them.
fn match_answer(writer: &Peer, held: &Record, meta: &Meta, new: &Match, bounds: &Bounds) -> Verdict {
    let Some(Record { meta: held_meta, body: Body::Match(old) }) = held_by(held, writer) else {
        return Err(Refusal::new("match", format!("node {} has no part in this match", writer.id)));
    };
    let is = |node: &kechuang_types::NodeId| *node == writer.id;
    if !(is(&old.demand_owner) || is(&old.supply_owner) || is(&old.landing_node)) {
        return Err(Refusal::new("match", format!("node {} has no part in this match", writer.id)));
    }
    if new.core.version > old.core.version {
        return Err(Refusal::new("core_version", "a match's core is written by central only"));
    }
    if meta.created_at != held_meta.created_at {
        return Err(central_only("created_at"));
    }
    if meta.external_id != held_meta.external_id {
        return Err(central_only("external_id"));
    }
    if new.core.version == old.core.version {
        if let Some(field) = core_difference(new, &old) {
            return Err(central_only(field));
        }
        if meta.deleted != held_meta.deleted {
            return Err(central_only("deleted"));
        }
        if meta.updated_at != held_meta.updated_at {
            return Err(central_only("updated_at"));
        }
    }
    let owner = |node: &kechuang_types::NodeId| format!("node {node}");
    part(&new.demand_side, &old.demand_side, is(&old.demand_owner), "demand_side", &owner(&old.demand_owner))?;
    part(&new.supply_side, &old.supply_side, is(&old.supply_owner), "supply_side", &owner(&old.supply_owner))?;
    part(&new.landing, &old.landing, is(&old.landing_node), "landing", &owner(&old.landing_node))?;
    lifecycle::check_steps(&old, new)?;
    match &new.landing.value {
        Landing::Landed(landed) if new.landing.version > old.landing.version => {
            lifecycle::check_landing_date(landed, bounds.today)
        }
        _ => Ok(()),
    }
}

fn central_only(field: &str) -> Refusal {
    Refusal::new(field, "a match's core and metadata are written by central only")
}

/// The first field of central's part in which two matches differ.
fn core_difference(a: &Match, b: &Match) -> Option<&'static str> {
    let fields: [(&str, bool); 16] = [
        ("core_state", a.core.value == b.core.value),
        ("demand", a.demand == b.demand),
        ("demand_owner", a.demand_owner == b.demand_owner),
        ("demand_region", a.demand_region == b.demand_region),
        ("supply", a.supply == b.supply),
        ("supply_kind", a.supply_kind == b.supply_kind),
        ("supply_owner", a.supply_owner == b.supply_owner),
        ("supply_region", a.supply_region == b.supply_region),
        ("landing_node", a.landing_node == b.landing_node),
        ("score", a.score.to_bits() == b.score.to_bits()),
        ("tier", a.tier == b.tier),
        ("explanation", a.explanation == b.explanation),
        ("demand_title", a.demand_title == b.demand_title),
        ("supply_title", a.supply_title == b.supply_title),
        ("demand_contact", a.demand_contact == b.demand_contact),
        ("supply_contact", a.supply_contact == b.supply_contact),
    ];
    fields.into_iter().find(|(_, same)| !same).map(|(field, _)| field)
}

/// The first field of the bidder's part in which two bids differ.
fn bidder_difference(new: &Record, b: &Bid, held: &Record, o: &Bid) -> Option<&'static str> {
    let (n, h) = (&new.meta, &held.meta);
    let fields: [(&str, bool); 8] = [
        ("proposal", b.proposal == o.proposal),
        ("outcomes", b.outcomes == o.outcomes),
        ("experts", b.experts == o.experts),
        ("demand_owner", b.demand_owner == o.demand_owner),
        ("created_at", n.created_at == h.created_at),
        ("updated_at", n.updated_at == h.updated_at),
        ("deleted", n.deleted == h.deleted),
        ("external_id", n.external_id == h.external_id),
    ];
    fields.into_iter().find(|(_, same)| !same).map(|(field, _)| field)
}

/// A bid: the bidder writes it, every version checked against the
/// challenge and the offers; the challenge's owner writes the decision.
fn bid<L: Lookup>(
    writer: &Peer,
    held: Option<&Record>,
    incoming: &Record,
    new: &Bid,
    bounds: &Bounds,
    lookup: &mut L,
) -> Result<Verdict, L::Error> {
    let Some(held) = held else {
        if incoming.meta.owner != writer.id {
            return Ok(Err(Refusal::new("owner", format!("a bid is written by its bidder, not {}", writer.id))));
        }
        if new.decision != Part::new(Hlc::ZERO, Default::default()) {
            return Ok(Err(Refusal::new("decision", "a new bid is undecided")));
        }
        return bidder_checks(writer, new, bounds, lookup);
    };
    let Body::Bid(old) = &held.body else { unreachable!("kinds were compared") };
    if new.demand != old.demand {
        return Ok(Err(Refusal::new("demand", "a bid stays on its challenge")));
    }
    let bidder = held.meta.owner == writer.id;
    if incoming.meta.version > held.meta.version {
        if !bidder {
            return Ok(Err(Refusal::new(
                "version",
                format!("a bid is changed by its bidder {} only", held.meta.owner),
            )));
        }
        let withdrawal = incoming.meta.deleted && bidder_difference(incoming, new, held, old) == Some("deleted");
        if !withdrawal {
            match bidder_checks(writer, new, bounds, lookup)? {
                Ok(()) => {}
                refused => return Ok(refused),
            }
        }
    } else if incoming.meta.version == held.meta.version
        && let Some(field) = bidder_difference(incoming, new, held, old)
    {
        return Ok(Err(Refusal::new(
            field,
            format!("version {} of the bid already carries other content", held.meta.version),
        )));
    }
    let owner = format!("the challenge's owner {}", old.demand_owner);
    part(&new.decision, &old.decision, writer.id == old.demand_owner, "decision", &owner)
        .and_then(|()| match new.decision.version > old.decision.version {
            true => lifecycle::decision_step(old.decision.value, new.decision.value),
            false => Ok(()),
        })
        .map_or_else(|refused| Ok(Err(refused)), |()| Ok(Ok(())))
}

/// What a bidder's version of a bid must satisfy, whether it is the first or not.
fn bidder_checks<L: Lookup>(writer: &Peer, b: &Bid, bounds: &Bounds, lookup: &mut L) -> Result<Verdict, L::Error> {
    let refuse = |field: &str, reason: String| Ok(Err(Refusal::new(field, reason)));
    let demand = lookup.get(&b.demand)?;
    let Some(Record { meta, body: Body::Demand(d) }) = demand else {
        return refuse("demand", format!("central holds no demand {}", b.demand));
    };
    if meta.owner == writer.id {
        return refuse("demand", "a node does not bid on its own challenge".into());
    }
    if meta.deleted {
        return refuse("demand", "the challenge was withdrawn".into());
    }
    if !d.is_challenge {
        return refuse("demand", "not an open challenge (揭榜挂帅)".into());
    }
    if let Some(deadline) = d.deadline
        && deadline < bounds.today
    {
        return refuse("demand", format!("the challenge closed on {deadline}"));
    }
    if meta.owner != b.demand_owner {
        return refuse("demand_owner", format!("the challenge belongs to {}, not {}", meta.owner, b.demand_owner));
    }
    if let Some(industry) = b.industry.as_ref().filter(|i| **i != d.industry) {
        return refuse("industry", format!("the challenge is of {}, not {industry}", d.industry));
    }
    if b.outcomes.is_empty() && b.experts.is_empty() {
        return refuse("outcomes", "a bid offers at least one outcome or expert".into());
    }
    for (field, kind, ids) in
        [("outcomes", RecordKind::Outcome, &b.outcomes), ("experts", RecordKind::Expert, &b.experts)]
    {
        for (i, id) in ids.iter().enumerate() {
            let offered = lookup.get(id)?;
            let own = offered.as_ref().is_some_and(|r| r.kind() == kind && r.meta.owner == writer.id);
            if !own {
                return refuse(&format!("{field}[{i}]"), format!("{id} is not a {kind} of {} at central", writer.id));
            }
            if offered.is_some_and(|r| r.meta.deleted) {
                return refuse(&format!("{field}[{i}]"), format!("{kind} {id} was withdrawn"));
            }
        }
    }
    Ok(Ok(()))
}

/// An assessment: its society's own record, of a subject of the society's
/// fields, describing that subject as central holds it.
fn assessment<L: Lookup>(
    writer: &Peer,
    held: Option<&Record>,
    incoming: &Record,
    a: &Assessment,
    lookup: &mut L,
) -> Result<Verdict, L::Error> {
    if writer.kind != NodeKind::Society {
        let reason =
            format!("only a society node writes assessments (专业评估), not {} node {}", writer.kind, writer.id);
        return Ok(Err(Refusal::new("kind", reason)));
    }
    if incoming.meta.owner != writer.id {
        return Ok(Err(Refusal::new(
            "owner",
            format!("{} is not the writing node {}", incoming.meta.owner, writer.id),
        )));
    }
    if let Some(held) = held {
        if held.meta.version == incoming.meta.version {
            return Ok(if held == incoming { Ok(()) } else { Err(reused_version(incoming.meta.version)) });
        }
        if let Body::Assessment(old) = &held.body
            && old.subject != a.subject
        {
            return Ok(Err(Refusal::new("subject", "an assessment stays on its subject")));
        }
        if incoming.meta.deleted {
            return Ok(Ok(())); // withdrawing is always allowed
        }
    }
    let refuse = |field: &str, reason: String| Ok(Err(Refusal::new(field, reason)));
    let Some(subject) = lookup.get(&a.subject)? else {
        return refuse("subject", format!("central holds no record {}", a.subject));
    };
    if subject.meta.deleted {
        return refuse("subject", format!("the {} was withdrawn", subject.kind()));
    }
    if subject.meta.owner == writer.id {
        return refuse("subject", "a society does not assess its own records".into());
    }
    let (industry, challenge_owner) = match &subject.body {
        Body::Demand(d) => (Some(d.industry.clone()), None),
        Body::Outcome(o) => (Some(o.industry.clone()), None),
        Body::Bid(b) => {
            let industry = match &b.industry {
                Some(industry) => Some(industry.clone()),
                None => match lookup.get(&b.demand)? {
                    Some(Record { body: Body::Demand(d), .. }) => Some(d.industry.clone()),
                    _ => None,
                },
            };
            (industry, Some(b.demand_owner.clone()))
        }
        _ => return refuse("subject", format!("a {} is not assessed: a demand, outcome or bid is", subject.kind())),
    };
    let carried: [(&str, bool); 5] = [
        ("subject_kind", a.subject_kind == subject.kind()),
        ("subject_owner", a.subject_owner == subject.meta.owner),
        ("subject_region", a.subject_region == subject.region()),
        ("industry", industry.as_ref() == Some(&a.industry)),
        ("challenge_owner", a.challenge_owner == challenge_owner),
    ];
    if let Some((field, _)) = carried.iter().find(|(_, same)| !same) {
        return refuse(field, format!("does not describe the {} {} as central holds it", subject.kind(), a.subject));
    }
    if !writer.assesses(&a.industry) {
        let fields: Vec<&str> = writer.fields.iter().map(|f| f.as_str()).collect();
        let fields = if fields.is_empty() { "none".to_owned() } else { fields.join(", ") };
        return refuse("industry", format!("{} is outside the fields of society {} ({fields})", a.industry, writer.id));
    }
    Ok(Ok(()))
}

/// A team: its owner writes everything but the other member nodes'
/// answers, each member node only its own answer.
fn team<L: Lookup>(
    writer: &Peer,
    held: Option<&Record>,
    incoming: &Record,
    new: &Team,
    lookup: &mut L,
) -> Result<Verdict, L::Error> {
    let owner = &incoming.meta.owner;
    let old = match held.map(|h| &h.body) {
        Some(Body::Team(old)) => Some(old),
        _ => None,
    };
    let held_version = held.map(|h| h.meta.version);
    if held_version.is_none_or(|v| incoming.meta.version > v) {
        if *owner != writer.id {
            return Ok(Err(Refusal::new("owner", format!("a team is written by its owner, not {}", writer.id))));
        }
        if !incoming.meta.deleted {
            match team_checks(writer, new, lookup)? {
                Ok(()) => {}
                refused => return Ok(refused),
            }
        }
    } else if incoming.meta.version == held_version.unwrap_or(Hlc::ZERO)
        && let (Some(held), Some(old)) = (held, old)
        && (held.meta != incoming.meta || without_answers(old) != without_answers(new))
    {
        return Ok(Err(reused_version(incoming.meta.version)));
    }
    for (i, member) in new.members.iter().enumerate() {
        let field = format!("members[{i}].accepted");
        match old.and_then(|o| o.members.iter().find(|m| m.expert == member.expert)) {
            Some(before) => {
                let who = format!("node {}", member.node);
                if let Err(refused) = part(&member.accepted, &before.accepted, writer.id == member.node, &field, &who) {
                    return Ok(Err(refused));
                }
            }
            None if member.accepted != Part::new(Hlc::ZERO, false) => {
                return Ok(Err(Refusal::new(field, "a new member has not answered yet")));
            }
            None => {}
        }
    }
    Ok(Ok(()))
}

/// A team with every member's answer blanked: the owner's part.
fn without_answers(t: &Team) -> Team {
    let mut t = t.clone();
    for m in &mut t.members {
        m.accepted = Part::new(Hlc::ZERO, false);
    }
    t
}

/// What the owner's version of a team must satisfy.
fn team_checks<L: Lookup>(writer: &Peer, t: &Team, lookup: &mut L) -> Result<Verdict, L::Error> {
    if !matches!(writer.kind, NodeKind::University | NodeKind::Society) {
        let reason =
            format!("a service team (服务团) is published by a university or society node, not {}", writer.kind);
        return Ok(Err(Refusal::new("kind", reason)));
    }
    if let Err(refused) = check_place(writer, "region", t.region) {
        return Ok(Err(refused));
    }
    for (i, member) in t.members.iter().enumerate() {
        let field = format!("members[{i}].expert");
        let expert = lookup.get(&member.expert)?;
        let Some(expert) = expert.filter(|r| r.kind() == RecordKind::Expert) else {
            return Ok(Err(Refusal::new(field, format!("central holds no expert {}", member.expert))));
        };
        if expert.meta.owner != member.node {
            return Ok(Err(Refusal::new(
                field,
                format!("the expert belongs to {}, not {}", expert.meta.owner, member.node),
            )));
        }
        if expert.meta.deleted {
            return Ok(Err(Refusal::new(field, format!("expert {} was withdrawn", member.expert))));
        }
        if member.expert == t.lead && member.node != writer.id {
            return Ok(Err(Refusal::new("lead", format!("the lead is an expert of {} itself", writer.id))));
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use kechuang_types::{BidState, Landing, NodeId, Response, Timestamp};

    use super::*;
    use crate::tests::{Held, NOW, bounds, contracted, demand, match_record, peer, sz};

    fn node(id: &str) -> NodeId {
        NodeId::parse("n", id).unwrap()
    }

    fn uni() -> Peer {
        peer("uni", NodeKind::University, "510100")
    }

    fn check(writer: &Peer, held: Option<&Record>, incoming: &Record) -> Verdict {
        admit(writer, held, incoming, &bounds(), &mut Held::default()).unwrap()
    }

    fn field(verdict: Verdict) -> String {
        verdict.expect_err("refused").field
    }

    #[test]
    fn only_the_owner_writes_its_records() {
        let d = demand(1, "需求");
        assert_eq!(check(&sz(), None, &d), Ok(()));
        assert_eq!(field(check(&peer("gz", NodeKind::City, "440100"), None, &d)), "owner");
        let mut stolen = demand(2, "改");
        stolen.meta.owner = node("gz");
        assert_eq!(field(check(&peer("gz", NodeKind::City, "440100"), Some(&d), &stolen)), "owner");
    }

    #[test]
    fn versions_far_ahead_of_centrals_clock_are_refused() {
        let at = |ms: u64| {
            let mut d = demand(1, "需求");
            d.meta.version = Hlc::checked(ms, 0).unwrap();
            d
        };
        assert_eq!(check(&sz(), None, &at(NOW + 299_000)), Ok(()));
        let refused = check(&sz(), None, &at(NOW + 301_000)).unwrap_err();
        assert_eq!(refused.field, "version");
        assert!(refused.reason.contains("ahead of central's clock"), "{refused}");
        let mut poisoned = demand(1, "需求");
        poisoned.meta.version = Hlc::from_u64(u64::MAX);
        assert_eq!(field(check(&sz(), None, &poisoned)), "version");
    }

    #[test]
    fn a_nodes_records_lie_in_its_area() {
        let mut hangzhou = demand(1, "杭州的需求");
        if let Body::Demand(d) = &mut hangzhou.body {
            d.region = Region::parse("r", "330100").unwrap();
        }
        assert_eq!(field(check(&sz(), None, &hangzhou)), "region");
        let mut withdrawn = hangzhou.clone();
        withdrawn.meta.deleted = true;
        assert_eq!(check(&sz(), None, &withdrawn), Ok(()), "a withdrawal is allowed anywhere");
        let society = peer("sz", NodeKind::Society, "110000");
        assert_eq!(check(&society, None, &hangzhou), Ok(()), "a national society publishes anywhere");
        let zhejiang = peer("sz", NodeKind::Provincial, "330000");
        assert_eq!(check(&zhejiang, None, &hangzhou), Ok(()));
        let guangdong = peer("sz", NodeKind::Provincial, "440000");
        assert_eq!(field(check(&guangdong, None, &hangzhou)), "region");
    }

    #[test]
    fn a_version_already_held_keeps_its_content() {
        let d = demand(5, "原标题");
        assert_eq!(check(&sz(), Some(&d), &d), Ok(()), "a resend");
        let mut other = d.clone();
        if let Body::Demand(x) = &mut other.body {
            x.title = "改了标题".into();
        }
        assert_eq!(field(check(&sz(), Some(&d), &other)), "version");
    }

    #[test]
    fn each_side_answers_only_for_itself() {
        let held = match_record(1, (1, Response::Pending), (1, Response::Pending));
        let demand_said = match_record(1, (5, Response::Accepted), (1, Response::Pending));
        let supply_said = match_record(1, (1, Response::Pending), (5, Response::Accepted));
        assert_eq!(check(&sz(), Some(&held), &demand_said), Ok(()));
        assert_eq!(field(check(&uni(), Some(&held), &demand_said)), "demand_side");
        assert_eq!(check(&uni(), Some(&held), &supply_said), Ok(()));
        assert_eq!(field(check(&sz(), Some(&held), &supply_said)), "supply_side");
        assert_eq!(field(check(&sz(), None, &held)), "match", "only central creates matches");
        let outsider = peer("gz", NodeKind::City, "440100");
        assert_eq!(field(check(&outsider, Some(&held), &held)), "match", "no part in it");
    }

    #[test]
    fn landing_is_written_by_the_responsible_city_only() {
        let held = match_record(1, (1, contracted()), (1, contracted()));
        let mut landed = held.clone();
        if let Body::Match(m) = &mut landed.body {
            let landed = kechuang_types::Landed { date: Date::on(Timestamp(NOW as i64)), note: String::new() };
            m.landing = Part::new(Hlc::from_u64(9), Landing::Landed(landed));
        }
        assert_eq!(check(&sz(), Some(&held), &landed), Ok(()), "sz is the landing node");
        assert_eq!(field(check(&uni(), Some(&held), &landed)), "landing");
    }

    #[test]
    fn a_matchs_core_and_metadata_are_centrals() {
        let held = match_record(3, (1, Response::Pending), (1, Response::Pending));
        type Edit = (&'static str, fn(&mut Record));
        let edits: [Edit; 8] = [
            ("score", |r| {
                if let Body::Match(m) = &mut r.body {
                    m.score = 99.0;
                }
            }),
            ("supply_owner", |r| {
                if let Body::Match(m) = &mut r.body {
                    m.supply_owner = NodeId::parse("n", "thief").unwrap();
                }
            }),
            ("demand_contact", |r| {
                if let Body::Match(m) = &mut r.body {
                    m.demand_contact = Some(kechuang_types::Contact { person: "王".into(), ..Default::default() });
                }
            }),
            ("core_version", |r| {
                if let Body::Match(m) = &mut r.body {
                    m.core.version = Hlc::from_u64(4);
                }
            }),
            ("deleted", |r| r.meta.deleted = true),
            ("external_id", |r| r.meta.external_id = Some("MINE".into())),
            ("created_at", |r| r.meta.created_at = Timestamp(1)),
            ("updated_at", |r| r.meta.updated_at = Timestamp(1)),
        ];
        for (expected, edit) in edits {
            let mut forged = held.clone();
            edit(&mut forged);
            forged.meta.version = Hlc::from_u64(5);
            assert_eq!(field(check(&sz(), Some(&held), &forged)), expected);
        }
    }

    #[test]
    fn an_older_copy_of_the_core_is_harmless() {
        let held = match_record(7, (1, Response::Pending), (1, Response::Pending));
        let mut answer = match_record(3, (8, Response::Accepted), (1, Response::Pending));
        answer.meta.updated_at = Timestamp(42);
        assert_eq!(check(&sz(), Some(&held), &answer), Ok(()));
    }

    fn challenge(owner: &str, deadline: &str) -> Record {
        let mut d = demand(1, "揭榜挂帅：固态电池界面阻抗");
        d.meta.id = RecordId::from_bytes([1; 16]);
        d.meta.owner = node(owner);
        if let Body::Demand(x) = &mut d.body {
            x.is_challenge = true;
            x.deadline = Some(Date::parse("d", deadline).unwrap());
        }
        d
    }

    fn outcome(owner: &str, byte: u8) -> Record {
        let mut o = kechuang_types::testing::outcome("固态电解质界面改性");
        o.meta.id = RecordId::from_bytes([byte; 16]);
        o.meta.owner = node(owner);
        o
    }

    fn bid_on(demand: &Record, outcomes: Vec<RecordId>, version: u64) -> Record {
        Record {
            meta: Meta {
                id: RecordId::from_bytes([3; 16]),
                owner: node("uni"),
                version: Hlc::from_u64(version),
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
                deleted: false,
                external_id: None,
                withdrawal: None,
            },
            body: Body::Bid(Bid {
                demand: demand.meta.id,
                demand_owner: demand.meta.owner.clone(),
                proposal: "方案".into(),
                outcomes,
                experts: vec![],
                decision: Part::new(Hlc::ZERO, BidState::Submitted),
                industry: None,
            }),
        }
    }

    fn world() -> Held {
        let mut held = Held::default();
        for r in [challenge("sz", "2100-01-01"), outcome("uni", 4), outcome("gzu", 5)] {
            held.0.insert(r.meta.id, r);
        }
        held
    }

    fn check_bid(writer: &Peer, held: Option<&Record>, incoming: &Record, world: &mut Held) -> Verdict {
        admit(writer, held, incoming, &bounds(), world).unwrap()
    }

    #[test]
    fn every_version_of_a_bid_offers_only_the_bidders_own_supply() {
        let mut world = world();
        let ours = RecordId::from_bytes([4; 16]);
        let theirs = RecordId::from_bytes([5; 16]);
        let first = bid_on(&challenge("sz", "2100-01-01"), vec![ours], 5);
        assert_eq!(check_bid(&uni(), None, &first, &mut world), Ok(()));
        let mut second = bid_on(&challenge("sz", "2100-01-01"), vec![theirs], 6);
        second.meta.version = Hlc::from_u64(6);
        assert_eq!(field(check_bid(&uni(), Some(&first), &second, &mut world)), "outcomes[0]");
        let mut same_version = second.clone();
        same_version.meta.version = first.meta.version;
        assert_eq!(field(check_bid(&uni(), Some(&first), &same_version, &mut world)), "outcomes");
    }

    #[test]
    fn bids_need_an_open_challenge_of_someone_else() {
        let ours = RecordId::from_bytes([4; 16]);
        let cases = [
            (challenge("sz", "2000-01-01"), "demand"),
            (challenge("uni", "2100-01-01"), "demand"),
            (demand(1, "不是揭榜"), "demand"),
        ];
        for (target, expected) in cases {
            let mut world = world();
            let mut target = target;
            target.meta.id = RecordId::from_bytes([1; 16]);
            world.0.insert(target.meta.id, target.clone());
            let bid = bid_on(&target, vec![ours], 5);
            assert_eq!(field(check_bid(&uni(), None, &bid, &mut world)), expected, "{}", target.title());
        }
        let mut misnamed = bid_on(&challenge("sz", "2100-01-01"), vec![ours], 5);
        if let Body::Bid(b) = &mut misnamed.body {
            b.demand_owner = node("gz");
        }
        assert_eq!(field(check_bid(&uni(), None, &misnamed, &mut world())), "demand_owner");
        let empty = bid_on(&challenge("sz", "2100-01-01"), vec![], 5);
        assert_eq!(field(check_bid(&uni(), None, &empty, &mut world())), "outcomes");
        // The industry a bid states (for the societies of that field) is the challenge's.
        let mut labelled = bid_on(&challenge("sz", "2100-01-01"), vec![ours], 5);
        let challenge_industry = match &challenge("sz", "2100-01-01").body {
            Body::Demand(d) => d.industry.clone(),
            _ => unreachable!(),
        };
        if let Body::Bid(b) = &mut labelled.body {
            b.industry = Some(challenge_industry);
        }
        assert_eq!(check_bid(&uni(), None, &labelled, &mut world()), Ok(()));
        if let Body::Bid(b) = &mut labelled.body {
            b.industry = Some(kechuang_types::Industry::parse("i", "A01").unwrap());
        }
        assert_eq!(field(check_bid(&uni(), None, &labelled, &mut world())), "industry");
    }

    #[test]
    fn a_bid_is_decided_by_the_challenges_owner_only() {
        let mut world = world();
        let bid = bid_on(&challenge("sz", "2100-01-01"), vec![RecordId::from_bytes([4; 16])], 5);
        assert_eq!(field(check_bid(&sz(), None, &bid, &mut world)), "owner");
        let mut awarded = bid.clone();
        if let Body::Bid(b) = &mut awarded.body {
            b.decision = Part::new(Hlc::from_u64(9), BidState::Awarded);
        }
        assert_eq!(check_bid(&sz(), Some(&bid), &awarded, &mut world), Ok(()));
        assert_eq!(field(check_bid(&uni(), Some(&bid), &awarded, &mut world)), "decision");
        let mut relabelled = awarded.clone();
        relabelled.meta.external_id = Some("MINE".into());
        assert_eq!(field(check_bid(&sz(), Some(&bid), &relabelled, &mut world)), "external_id");
        let mut rewritten = awarded.clone();
        rewritten.meta.version = Hlc::from_u64(10);
        assert_eq!(field(check_bid(&sz(), Some(&bid), &rewritten, &mut world)), "version");
    }

    fn society() -> Peer {
        let mut ces = peer("ces", NodeKind::Society, "110000");
        ces.fields = vec![kechuang_types::Industry::parse("f", "C38").unwrap()];
        ces
    }

    /// An assessment by `ces` of `subject`, describing it as it is.
    fn assessment_of(subject: &Record) -> Record {
        let industry = match &subject.body {
            Body::Outcome(o) => o.industry.clone(),
            Body::Demand(d) => d.industry.clone(),
            _ => unreachable!("outcomes and demands in these tests"),
        };
        Record {
            meta: Meta::new(node("ces"), Hlc::from_u64(NOW << 16), Timestamp(0)),
            body: Body::Assessment(Assessment {
                subject: subject.meta.id,
                subject_kind: subject.kind(),
                subject_owner: subject.meta.owner.clone(),
                subject_region: subject.region(),
                industry,
                challenge_owner: None,
                evaluator: "评审组".into(),
                scores: kechuang_types::Scores { advancement: 4, maturity: 3, market: 4, risk: 2 },
                verdict: kechuang_types::Recommendation::Recommend,
                text: "推荐".into(),
            }),
        }
    }

    fn check_with(writer: &Peer, held: Option<&Record>, incoming: &Record, world: &mut Held) -> Verdict {
        admit(writer, held, incoming, &bounds(), world).unwrap()
    }

    #[test]
    fn only_a_society_assesses_and_only_within_its_fields() {
        let outcome = kechuang_types::testing::outcome("储能");
        let mut world = Held::default();
        world.0.insert(outcome.meta.id, outcome.clone());
        let ok = assessment_of(&outcome);
        assert_eq!(check_with(&society(), None, &ok, &mut world), Ok(()));

        let mut by_university = ok.clone();
        by_university.meta.owner = node("uni");
        assert_eq!(field(check_with(&uni(), None, &by_university, &mut world)), "kind");

        let mut tea = outcome.clone();
        if let Body::Outcome(o) = &mut tea.body {
            o.industry = kechuang_types::Industry::parse("i", "C15").unwrap();
        }
        world.0.insert(tea.meta.id, tea.clone());
        let refused = check_with(&society(), None, &assessment_of(&tea), &mut world).unwrap_err();
        assert_eq!(refused.field, "industry");
        assert!(refused.reason.contains("outside the fields of society ces (C38)"), "{refused}");

        let mut misdescribed = ok.clone();
        if let Body::Assessment(a) = &mut misdescribed.body {
            a.subject_region = Some(Region::parse("r", "440300").unwrap());
        }
        assert_eq!(field(check_with(&society(), None, &misdescribed, &mut world)), "subject_region");

        let mut own = outcome.clone();
        own.meta.owner = node("ces");
        world.0.insert(own.meta.id, own.clone());
        assert_eq!(field(check_with(&society(), None, &assessment_of(&own), &mut world)), "subject");

        // A revision stays on its subject; a withdrawal is always allowed.
        let mut moved = ok.clone();
        moved.meta.version = Hlc::from_u64((NOW << 16) + 1);
        if let Body::Assessment(a) = &mut moved.body {
            a.subject = tea.meta.id;
        }
        assert_eq!(field(check_with(&society(), Some(&ok), &moved, &mut world)), "subject");
        let mut withdrawn = ok.clone();
        withdrawn.meta.version = Hlc::from_u64((NOW << 16) + 1);
        withdrawn.meta.deleted = true;
        world.0.remove(&outcome.meta.id);
        assert_eq!(check_with(&society(), Some(&ok), &withdrawn, &mut world), Ok(()));
    }

    /// An expert of `owner`, and a team of `uni` led by its expert with
    /// `other`'s expert as a member who has not answered.
    fn team_world() -> (Held, Record) {
        let mut world = Held::default();
        let mut experts = Vec::new();
        for owner in ["uni", "szu"] {
            let mut e = kechuang_types::testing::expert("专家");
            e.meta.owner = node(owner);
            world.0.insert(e.meta.id, e.clone());
            experts.push(e);
        }
        let member = |e: &Record| kechuang_types::Member {
            expert: e.meta.id,
            node: e.meta.owner.clone(),
            name: e.title(),
            accepted: Part::new(Hlc::ZERO, false),
        };
        let team = Record {
            meta: Meta::new(node("uni"), Hlc::from_u64(NOW << 16), Timestamp(0)),
            body: Body::Team(Team {
                name: "储能服务团".into(),
                description: String::new(),
                lead: experts[0].meta.id,
                members: experts.iter().map(member).collect(),
                fields: vec!["储能".into()],
                keywords: vec![],
                region: Region::parse("r", "510100").unwrap(),
                cities: vec![],
                industries: vec![],
                service_modes: vec![],
            }),
        };
        (world, team)
    }

    fn answered(team: &Record, member: usize, version: u64, accepted: bool) -> Record {
        let mut t = team.clone();
        if let Body::Team(x) = &mut t.body {
            x.members[member].accepted = Part::new(Hlc::from_u64(version), accepted);
        }
        t
    }

    #[test]
    fn a_team_is_its_owners_and_each_member_node_answers_only_for_itself() {
        let (mut world, team) = team_world();
        assert_eq!(check_with(&uni(), None, &team, &mut world), Ok(()));
        let city_team = Record { meta: Meta { owner: node("sz"), ..team.meta.clone() }, ..team.clone() };
        assert_eq!(field(check_with(&sz(), None, &city_team, &mut world)), "kind");
        assert_eq!(field(check_with(&uni(), None, &answered(&team, 1, 5, true), &mut world)), "members[1].accepted");

        let szu = peer("szu", NodeKind::University, "440300");
        let accepted = answered(&team, 1, NOW << 16, true);
        assert_eq!(check_with(&szu, Some(&team), &accepted, &mut world), Ok(()));
        assert_eq!(field(check_with(&uni(), Some(&team), &accepted, &mut world)), "members[1].accepted");
        let other = peer("gzu", NodeKind::University, "440100");
        assert_eq!(field(check_with(&other, Some(&team), &accepted, &mut world)), "members[1].accepted");
        let mut renamed = accepted.clone();
        if let Body::Team(t) = &mut renamed.body {
            t.name = "改名".into();
        }
        assert_eq!(field(check_with(&szu, Some(&team), &renamed, &mut world)), "version");

        // A member must be an expert central holds as the node's it names.
        let mut forged = team.clone();
        if let Body::Team(t) = &mut forged.body {
            t.members[1].node = node("gzu");
        }
        assert_eq!(field(check_with(&uni(), None, &forged, &mut world)), "members[1].expert");
        let mut foreign_lead = team.clone();
        if let Body::Team(t) = &mut foreign_lead.body {
            t.lead = t.members[1].expert;
        }
        assert_eq!(field(check_with(&uni(), None, &foreign_lead, &mut world)), "lead");
    }

    #[test]
    fn a_team_merges_its_owners_part_and_each_answer_independently() {
        let (_, team) = team_world();
        let accepted = answered(&team, 1, NOW << 16, true);
        let mut revised = team.clone();
        revised.meta.version = Hlc::from_u64((NOW << 16) + 2);
        if let Body::Team(t) = &mut revised.body {
            t.description = "修订".into();
        }
        for (a, b) in [(&accepted, &revised), (&revised, &accepted)] {
            let merged = crate::merge(Some(a), b).unwrap_or_else(|| a.clone());
            let Body::Team(t) = &merged.body else { unreachable!() };
            assert_eq!((t.description.as_str(), t.members[1].accepted.value), ("修订", true));
        }
    }
}
