//! Arbitrary push batches, by arbitrary certified nodes, through what
//! central does with them: wire validation, admission (`decide`) and merge,
//! one batch after another over a small world that holds contacts. After
//! every batch:
//! - no version wrapped: every version held is within the skew of "now",
//!   and a clock that has seen them all can still tick;
//! - no contact reaches a node that may not hold it: in every node's view,
//!   a contact appears only on a match of which it is a side, which both
//!   sides accepted at some point (or whose challenge was awarded), and it
//!   is always one its owner wrote. (Central's release of contacts is played
//!   after each batch, as its matcher does it, and recorded.)
#![no_main]

use kechuang_proto::pb;
use kechuang_sync::{Bounds, Decision, Incoming, Peer, Refusal, decide, view_for};
use kechuang_types::{Body, Clock, Date, Hlc, Match, MatchState, Record, RecordId, Response, Timestamp};

use libfuzzer_sys::fuzz_target;
use prost::Message;
use world::{NOW_MS, SKEW_MS, World, peers, world};

#[path = "../seeds/push_world.rs"]
mod world;

/// What central's push handler makes of a wire change.
fn incoming(wire: Option<pb::Record>) -> Option<Incoming> {
    let Some(wire) = wire else { return Some(Incoming::Withdrawn) };
    let id = wire.meta.as_ref().and_then(|m| <[u8; 16]>::try_from(m.id.as_slice()).ok()).map(RecordId::from_bytes);
    match (Record::try_from(wire), id) {
        (Ok(record), _) => Some(Incoming::Record(Box::new(record))),
        (Err(e), Some(id)) => Some(Incoming::Invalid { id, refusal: Refusal::new(e.field(), e.reason()) }),
        (Err(_), None) => None, // the whole push is refused
    }
}

fn released(m: &Match) -> bool {
    let agreed = |r: &Response| matches!(r, Response::Accepted | Response::Contracted(_));
    (agreed(&m.demand_side.value) && agreed(&m.supply_side.value)) || m.core.value == MatchState::Contracted
}

fn check(world: &World, peers: &[Peer]) {
    let mut clock = Clock::resume(Hlc::ZERO);
    for record in world.records.values() {
        let mut versions = vec![record.meta.version];
        match &record.body {
            Body::Match(m) => versions.extend([m.core.version, m.demand_side.version, m.supply_side.version, m.landing.version]),
            Body::Bid(b) => versions.push(b.decision.version),
            _ => {}
        }
        for v in versions {
            assert!(v.ahead_of(NOW_MS) <= SKEW_MS, "a version beyond the skew was admitted: {v}");
            clock.observe(v);
        }
    }
    clock.tick_at(NOW_MS).expect("the clock can still tick");

    for record in world.records.values() {
        if let Body::Match(m) = &record.body {
            assert_eq!(kechuang_sync::contacts_released(m), released(m), "the release gate: {m:?}");
        }
    }
    for peer in peers {
        for record in world.records.values() {
            let Some(view) = view_for(record, peer) else { continue };
            // A node's own demands, outcomes and experts never come back in
            // its feed: every contact in a view is someone else's.
            match &view.body {
                Body::Demand(d) => assert!(d.contact.is_none(), "{} sees a demand's contact", peer.id),
                Body::Outcome(o) => assert!(o.contact.is_none(), "{} sees an outcome's contact", peer.id),
                Body::Expert(e) => assert!(e.contact.is_none(), "{} sees an expert's contact", peer.id),
                Body::Match(m) => {
                    for (contact, id) in [(&m.demand_contact, m.demand), (&m.supply_contact, m.supply)] {
                        let Some(contact) = contact else { continue };
                        let side = m.demand_owner == peer.id || m.supply_owner == peer.id;
                        let ever = world.released.contains(&view.meta.id);
                        assert!(side && ever, "{} sees a contact in a match: {view:?}", peer.id);
                        let written = world.contacts.get(&id).is_some_and(|c| c.contains(contact));
                        assert!(written, "a contact its owner never wrote: {contact:?}");
                    }
                }
                Body::Bid(_) | Body::Assessment(_) | Body::Team(_) => {}
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let peers = peers();
    let mut world = world();
    let bounds = Bounds { now_ms: NOW_MS, max_skew_ms: SKEW_MS, today: Date::on(Timestamp(NOW_MS as i64)) };
    // Batches: [writer][length: u16 LE][PushRequest bytes], repeated.
    let mut rest = data;
    while rest.len() >= 3 {
        let writer = &peers[rest[0] as usize % peers.len()];
        let len = u16::from_le_bytes([rest[1], rest[2]]) as usize;
        let body = &rest[3..(3 + len).min(rest.len())];
        rest = &rest[(3 + len).min(rest.len())..];
        let Ok(push) = pb::PushRequest::decode(body) else { continue };
        let Some(changes) = push.changes.into_iter().map(|c| Some((c.seq, incoming(c.record)?))).collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let acked = world.acked.get(&writer.id).copied().unwrap_or(0);
        let decided = decide(writer, acked, &changes, &bounds, &mut &world);
        if let Ok(Decision::Admitted { records, acked_seq }) = decided {
            assert!(acked_seq >= acked, "the acknowledgement went back");
            for record in records {
                world.store(record);
            }
            world.acked.insert(writer.id.clone(), acked_seq);
        }
        world.release();
        check(&world, &peers);
    }
});
