//! Writes the seeds of the `push_batch` fuzz target into
//! `fuzz/seeds/push_batch/`: honest answers that release contacts, a bid,
//! and the attacks the hostile-node suite tries, each a sequence of
//! `[writer][length: u16 LE][PushRequest]`.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --bin push_batch_seeds`

use kechuang_proto::pb;
use kechuang_types::{Bid, BidState, Body, Hlc, Part, Record, Response};
use prost::Message;

#[path = "push_world.rs"]
mod world;

const SZ: u8 = 0;
const GZU: u8 = 1;
const EVIL: u8 = 4;

fn now(n: u64) -> Hlc {
    Hlc::checked(world::NOW_MS, n).expect("fits")
}

fn batch(writer: u8, first_seq: u64, records: Vec<Record>) -> Vec<u8> {
    let changes = records
        .into_iter()
        .zip(first_seq..)
        .map(|(record, seq)| pb::Change { seq, record: Some(record.into()) })
        .collect();
    let bytes = pb::PushRequest { changes }.encode_to_vec();
    let mut out = vec![writer];
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend(bytes);
    out
}

fn main() -> std::io::Result<()> {
    let w = world::world();
    let record = |byte: u8| w.records[&world::id(byte)].clone();
    let answer = |who: u8, response: Response, version: Hlc| {
        let mut m = record(3);
        if let Body::Match(x) = &mut m.body {
            let part = Part::new(version, response);
            if who == SZ { x.demand_side = part } else { x.supply_side = part }
            m.meta.version = x.version();
        }
        m
    };
    let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();
    let both_accept =
        [batch(SZ, 1, vec![answer(SZ, Response::Accepted, now(1))]), batch(GZU, 1, vec![answer(GZU, Response::Accepted, now(2))])]
            .concat();
    seeds.push(("both_accept", both_accept.clone()));
    // After the release, the demand side declines its copy (contacts and
    // all): the contacts must not stay visible.
    let mut released = world::world();
    for (who, response, version) in [(SZ, Response::Accepted, now(1)), (GZU, Response::Accepted, now(2))] {
        let Body::Match(x) = &mut released.records.get_mut(&world::id(3)).expect("match").body else {
            unreachable!()
        };
        let part = Part::new(version, response);
        if who == SZ { x.demand_side = part } else { x.supply_side = part }
    }
    released.release();
    let mut declined = released.records[&world::id(3)].clone();
    if let Body::Match(x) = &mut declined.body {
        x.demand_side = Part::new(
            now(7),
            Response::Declined(kechuang_types::Decline { reason: kechuang_types::DeclineReason::Price, note: String::new() }),
        );
        declined.meta.version = x.version();
    }
    seeds.push(("accept_then_decline", [both_accept, batch(SZ, 2, vec![declined])].concat()));

    let mut injected = record(3);
    if let Body::Match(x) = &mut injected.body {
        x.supply_contact = Some(kechuang_types::Contact { person: "伪造".into(), phone: "1".into(), email: "a@b.cn".into() });
    }
    seeds.push(("inject_contact", [batch(EVIL, 1, vec![injected.clone()]), batch(SZ, 1, vec![injected])].concat()));

    let mut bid = record(1);
    bid.meta.id = world::id(0x11);
    bid.meta.owner = kechuang_types::NodeId::parse("n", "gzu").expect("id");
    bid.meta.version = now(3);
    bid.body = Body::Bid(Bid {
        demand: world::id(1),
        demand_owner: kechuang_types::NodeId::parse("n", "sz").expect("id"),
        proposal: "揭榜方案".into(),
        outcomes: vec![world::id(2)],
        experts: vec![],
        decision: Part::new(Hlc::ZERO, BidState::Submitted),
    });
    let mut stolen = bid.clone();
    stolen.meta.owner = kechuang_types::NodeId::parse("n", "evil").expect("id");
    let mut awarded = bid.clone();
    if let Body::Bid(b) = &mut awarded.body {
        b.decision = Part::new(now(4), BidState::Awarded);
    }
    seeds.push(("bid_and_award", [batch(GZU, 1, vec![bid]), batch(EVIL, 1, vec![stolen]), batch(SZ, 1, vec![awarded])].concat()));

    let mut poisoned = record(1);
    poisoned.meta.version = Hlc::from_u64(u64::MAX);
    seeds.push(("far_future", batch(SZ, 1, vec![poisoned])));

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/push_batch");
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}
