//! The small world the `push_batch` fuzz target starts from (sz's
//! challenge, gzu's outcome, a match between them, all with contacts), and
//! the nodes that push into it; shared with the seed writer.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;

use kechuang_sync::{Lookup, Peer};
use kechuang_types::{
    Body, Contact, Date, Hlc, Landing, Match, MatchState, Meta, NodeId, NodeKind, Part, Record, RecordId, Region,
    Response, SupplyKind, Tier, Timestamp,
};

/// "Now", for admission and the seeds.
pub const NOW_MS: u64 = 1_800_000_000_000;
/// How far ahead of now a version may be.
pub const SKEW_MS: u64 = 300_000;

pub struct World {
    pub records: HashMap<RecordId, Record>,
    pub acked: HashMap<NodeId, u64>,
    /// Every contact the owner of a demand, outcome or expert has written into it.
    pub contacts: HashMap<RecordId, Vec<Contact>>,
    /// The matches whose contacts were released, when both sides had agreed.
    pub released: std::collections::HashSet<RecordId>,
}

impl World {
    pub fn store(&mut self, record: Record) {
        let contact = match &record.body {
            Body::Demand(d) => d.contact.clone(),
            Body::Outcome(o) => o.contact.clone(),
            Body::Expert(e) => e.contact.clone(),
            _ => None,
        };
        if let Some(contact) = contact {
            self.contacts.entry(record.meta.id).or_default().push(contact);
        }
        self.records.insert(record.meta.id, record);
    }

    /// What central's matcher does once both sides of a match accepted.
    pub fn release(&mut self) {
        let current = |world: &World, id: &RecordId, owner: &NodeId| {
            world.records.get(id).filter(|r| r.meta.owner == *owner).and_then(|r| match &r.body {
                Body::Demand(d) => d.contact.clone(),
                Body::Outcome(o) => o.contact.clone(),
                Body::Expert(e) => e.contact.clone(),
                _ => None,
            })
        };
        let ids: Vec<RecordId> = self.records.keys().copied().collect();
        for id in ids {
            let Some(Body::Match(m)) = self.records.get(&id).map(|r| &r.body) else { continue };
            if !kechuang_sync::contacts_released(m) || m.demand_contact.is_some() || m.supply_contact.is_some() {
                continue;
            }
            self.released.insert(id);
            let (d, s) = (current(self, &m.demand, &m.demand_owner), current(self, &m.supply, &m.supply_owner));
            let record = self.records.get_mut(&id).expect("listed");
            if let Body::Match(m) = &mut record.body {
                m.demand_contact = d;
                m.supply_contact = s;
                m.core.version = Hlc::from_u64(m.version().as_u64() + 1);
                record.meta.version = m.version();
            }
        }
    }
}

impl Lookup for &World {
    type Error = Infallible;
    fn get(&mut self, id: &RecordId) -> Result<Option<Record>, Infallible> {
        Ok(self.records.get(id).cloned())
    }
}

fn node(id: &str) -> NodeId {
    NodeId::parse("n", id).unwrap()
}

pub fn peers() -> Vec<Peer> {
    let p = |id: &str, kind, region: &str| Peer { id: node(id), kind, region: Region::parse("r", region).unwrap(), fields: Vec::new() };
    vec![
        p("sz", NodeKind::City, "440300"),
        p("gzu", NodeKind::University, "440100"),
        p("gd", NodeKind::Provincial, "440000"),
        p("cms", NodeKind::Society, "110000"),
        p("evil", NodeKind::University, "440100"),
    ]
}

fn contact(person: &str) -> Contact {
    Contact { person: person.into(), phone: "020-1234".into(), email: format!("{person}@example.cn") }
}

/// A valid UUIDv7 made of `byte` (the world's records are 1, 2 and 3).
pub fn id(byte: u8) -> RecordId {
    let mut bytes = [byte; 16];
    bytes[6] = 0x70 | (byte & 0x0f);
    bytes[8] = 0x80 | (byte & 0x3f);
    RecordId::from_bytes(bytes)
}

fn meta(byte: u8, owner: &str, version: u64) -> Meta {
    Meta {
        id: id(byte),
        owner: node(owner),
        version: Hlc::from_u64(version),
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        deleted: false,
        external_id: None,
        withdrawal: None,
    }
}

/// sz's challenge, gzu's outcome and a match between them (proposed), all with contacts.
pub fn world() -> World {
    let mut demand = kechuang_types::testing::demand("揭榜挂帅：固态电池");
    demand.meta = meta(1, "sz", 5);
    if let Body::Demand(d) = &mut demand.body {
        d.is_challenge = true;
        d.deadline = Some(Date::on(Timestamp((NOW_MS + 30 * 86_400_000) as i64)));
        d.contact = Some(contact("sz-owner"));
    }
    let mut outcome = kechuang_types::testing::outcome("固态电解质");
    outcome.meta = meta(2, "gzu", 5);
    if let Body::Outcome(o) = &mut outcome.body {
        o.region = Region::parse("r", "440100").unwrap();
        o.contact = Some(contact("gzu-owner"));
    }
    let m = Match {
        demand: demand.meta.id,
        demand_owner: node("sz"),
        demand_region: Region::parse("r", "440300").unwrap(),
        supply: outcome.meta.id,
        supply_kind: SupplyKind::Outcome,
        supply_owner: node("gzu"),
        supply_region: Region::parse("r", "440100").unwrap(),
        supply_nodes: Vec::new(),
        landing_node: node("sz"),
        score: 1.0,
        tier: Tier::Province,
        explanation: "说明".into(),
        demand_title: "需求".into(),
        supply_title: "成果".into(),
        core: Part::new(Hlc::from_u64(6), MatchState::Proposed),
        core_reason: String::new(),
        demand_side: Part::new(Hlc::ZERO, Response::Pending),
        supply_side: Part::new(Hlc::ZERO, Response::Pending),
        landing: Part::new(Hlc::ZERO, Landing::Pending),
        demand_contact: None,
        supply_contact: None,
    };
    let matched = Record { meta: meta(3, "central", 6), body: Body::Match(Box::new(m)) };
    let mut world =
        World { records: HashMap::new(), acked: HashMap::new(), contacts: HashMap::new(), released: Default::default() };
    for record in [demand, outcome, matched] {
        world.store(record);
    }
    world
}

