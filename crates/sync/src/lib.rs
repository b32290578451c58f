//! Sync as pure logic: what central admits of a node's push (ownership,
//! bounded clocks, place, bids, sequence numbers), how an incoming change
//! merges with what is held (idempotent, per-field newest-version-wins),
//! which node must see which record and which contacts (the feed rules),
//! and the order-independent digest that says two sides hold the same
//! thing.
//!
//! No I/O here: the node and central call these functions inside their own
//! store transactions, so the rules are tested deterministically.

mod admit;
mod digest;
pub mod lifecycle;
mod merge;
mod push;
mod visibility;

pub use admit::{Bounds, Lookup, Refusal, Verdict, admit, area, check_place};
pub use digest::{BadDigest, Digest, RANGES, range_digests, range_of};
pub use merge::merge;
pub use push::{Change, Decision, Incoming, PushError, Refused, check_sequence, decide, restore};
pub use visibility::{Peer, contacts_released, held_by, may_hold_contacts, view_for, without_foreign_contacts};
#[cfg(test)]
pub(crate) mod tests {
    //! Record builders, peers, bounds and an in-memory store shared by this
    //! crate's tests.

    use std::collections::HashMap;
    use std::convert::Infallible;

    use kechuang_types::*;

    use crate::{Bounds, Lookup, Peer};

    /// "Now" in the tests.
    pub const NOW: u64 = 1_800_000_000_000;

    /// Admission's bounds at [`NOW`], five minutes of skew.
    pub fn bounds() -> Bounds {
        Bounds { now_ms: NOW, max_skew_ms: 300_000, today: Date::on(Timestamp(NOW as i64)) }
    }

    /// A node of `kind` in `region`.
    pub fn peer(id: &str, kind: NodeKind, region: &str) -> Peer {
        Peer {
            id: NodeId::parse("n", id).unwrap(),
            kind,
            region: Region::parse("r", region).unwrap(),
            fields: Vec::new(),
        }
    }

    /// The city node `sz` (Shenzhen), which owns the test demands.
    pub fn sz() -> Peer {
        peer("sz", NodeKind::City, "440300")
    }

    /// A declined answer (for a price reason).
    pub fn declined() -> Response {
        Response::Declined(Decline { reason: DeclineReason::Price, note: String::new() })
    }

    /// A contracted answer (a licence of 120 万元).
    pub fn contracted() -> Response {
        Response::Contracted(Contract { kind: ContractType::License, amount_wan: 120.0 })
    }

    /// An in-memory store for lookups.
    #[derive(Default)]
    pub struct Held(pub HashMap<RecordId, Record>);

    impl Lookup for Held {
        type Error = Infallible;
        fn get(&mut self, id: &RecordId) -> std::result::Result<Option<Record>, Infallible> {
            Ok(self.0.get(id).cloned())
        }
    }

    pub fn demand(version: u64, title: &str) -> Record {
        let mut record = kechuang_types::testing::demand(title);
        record.meta.id = RecordId::from_bytes([7; 16]);
        record.meta.version = Hlc::from_u64(version);
        record
    }

    pub fn match_record(core: u64, demand_side: (u64, Response), supply_side: (u64, Response)) -> Record {
        let node = |s| NodeId::parse("n", s).unwrap();
        let region = |s| Region::parse("r", s).unwrap();
        let m = Match {
            demand: RecordId::from_bytes([1; 16]),
            demand_owner: node("sz"),
            demand_region: region("440300"),
            supply: RecordId::from_bytes([2; 16]),
            supply_kind: SupplyKind::Outcome,
            supply_owner: node("uni"),
            supply_region: region("510100"),
            supply_nodes: Vec::new(),
            landing_node: node("sz"),
            score: 1.0,
            tier: Tier::National,
            explanation: format!("core {core}"),
            demand_title: "需求".into(),
            supply_title: "成果".into(),
            core: Part::new(Hlc::from_u64(core), MatchState::Proposed),
            core_reason: String::new(),
            demand_side: Part::new(Hlc::from_u64(demand_side.0), demand_side.1),
            supply_side: Part::new(Hlc::from_u64(supply_side.0), supply_side.1),
            landing: Part::new(Hlc::ZERO, Landing::Pending),
            demand_contact: None,
            supply_contact: None,
        };
        Record {
            meta: Meta {
                id: RecordId::from_bytes([9; 16]),
                owner: NodeId::central(),
                version: m.version(),
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
                deleted: false,
                external_id: None,
                withdrawal: None,
            },
            body: Body::Match(Box::new(m)),
        }
    }
}
