//! The behaviour of central's store, the same on every backend: each case
//! runs on sled and on a PostgreSQL cluster of its own.

use kechuang_sync::Incoming;
use kechuang_types::{Clock, Date, Hlc};

use super::*;

/// Opens the store named (`a`, `b`: separate stores), or reopens it.
type Open<'a> = &'a dyn Fn(&str) -> CentralStore;

fn on_sled(case: fn(Open)) {
    let dir = tempfile::tempdir().unwrap();
    case(&|name| crate::testing::reopen(|| CentralStore::open(&dir.path().join(name))));
}

fn on_postgres(case: fn(Open)) {
    let pg = kechuang_testkit::Postgres::start_with(&["fsync = off"]).expect("a PostgreSQL cluster for the test");
    case(&|name| {
        let store = CentralStore::open_postgres(&pg.database(name).unwrap()).unwrap();
        // Matching's writes want the lease; a reopened store waits for the
        // closed one's session to end.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !store.hold_lease().unwrap() {
            assert!(std::time::Instant::now() < deadline, "the matching lease was not free");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        store
    });
}

/// A test per case and backend.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod sled_backend {
            $( #[test] fn $case() { super::on_sled(super::$case) } )*
        }
        mod postgres_backend {
            $( #[test] fn $case() { super::on_postgres(super::$case) } )*
        }
    };
}

cases!(
    a_refused_change_aborts_its_whole_batch,
    a_gap_in_the_sequence_is_refused,
    every_step_is_an_event_once_and_survives_reopen,
    revocations_are_kept,
    pushes_are_applied_once_and_logged_at_their_latest_state,
    acknowledged_sequence_and_log_head_survive_reopen,
    a_backup_restores_into_an_empty_store_as_the_same_store,
    a_backup_taken_under_writes_is_the_store_at_one_instant,
    a_pair_is_proposed_once_whoever_writes_second,
);

fn record(clock: &mut Clock, owner: &NodeId, id: RecordId, title: &str) -> Record {
    let mut record = kechuang_types::testing::demand(title);
    record.meta.id = id;
    record.meta.owner = owner.clone();
    record.meta.version = clock.tick().unwrap();
    record
}

fn sz() -> Peer {
    Peer {
        id: NodeId::parse("n", "sz").unwrap(),
        kind: NodeKind::City,
        region: Region::parse("r", "440300").unwrap(),
        fields: Vec::new(),
    }
}

fn bounds() -> Bounds {
    Bounds { now_ms: Timestamp::now().0 as u64, max_skew_ms: 300_000, today: Date::today() }
}

fn applied(pushed: Pushed) -> PushOutcome {
    match pushed {
        Pushed::Applied(outcome) => outcome,
        Pushed::Refused(refused) => panic!("refused: {refused:?}"),
    }
}

fn open_with_sz(open: Open, name: &str) -> CentralStore {
    let store = open(name);
    store.register(&sz()).unwrap();
    store
}

fn a_refused_change_aborts_its_whole_batch(open: Open) {
    let store = open_with_sz(open, "a");
    let node = sz().id;
    let mut clock = Clock::resume(Hlc::ZERO);
    let mut forged = record(&mut clock, &node, RecordId::new(), "乙");
    forged.meta.owner = NodeId::parse("n", "gz").unwrap();
    let batch = vec![
        (1, Incoming::Record(record(&mut clock, &node, RecordId::new(), "甲").into())),
        (2, Incoming::Record(forged.into())),
    ];
    let Pushed::Refused(refused) = store.apply_push(&sz(), &batch, &bounds()).unwrap() else {
        panic!("a forged owner was admitted");
    };
    assert_eq!((refused[0].index, refused[0].refusal.field.as_str()), (1, "owner"));
    assert_eq!(store.head(), 0, "nothing of the batch was applied");
    assert_eq!(store.node(&node).unwrap().unwrap().acked_seq, 0);
}

fn a_gap_in_the_sequence_is_refused(open: Open) {
    let store = open_with_sz(open, "a");
    let mut clock = Clock::resume(Hlc::ZERO);
    let batch = vec![(2, Incoming::Record(record(&mut clock, &sz().id, RecordId::new(), "甲").into()))];
    let err = store.apply_push(&sz(), &batch, &bounds()).unwrap_err();
    assert!(matches!(err, Error::Sequence(_)), "{err}");
    assert_eq!(store.head(), 0);
}

fn every_step_is_an_event_once_and_survives_reopen(open: Open) {
    let mut m = kechuang_types::testing::proposed_match();
    m.demand_owner = sz().id;
    let mut record = kechuang_types::testing::demand("对接");
    record.meta.owner = NodeId::central();
    record.meta.version = m.version();
    record.body = kechuang_types::Body::Match(Box::new(m.clone()));
    let id = record.meta.id;
    {
        let store = open_with_sz(open, "a");
        store.apply_matching(std::slice::from_ref(&record), &[], &[]).unwrap();
        let mut answered = record.clone();
        if let kechuang_types::Body::Match(m) = &mut answered.body {
            m.demand_side = kechuang_types::Part::new(Hlc::from_u64(9), kechuang_types::Response::Accepted);
            answered.meta.version = m.version();
        }
        let push = vec![(1, Incoming::Record(answered.into()))];
        applied(store.apply_push(&sz(), &push, &bounds()).unwrap());
        applied(store.apply_push(&sz(), &push, &bounds()).unwrap());
        store.apply_matching(std::slice::from_ref(&record), &[], &[]).unwrap();
        store.flush().unwrap();
    }
    let store = open("a");
    let history = store.history_of(&id).unwrap();
    let steps: Vec<_> = history.iter().map(|e| (e.seq, e.step.part.as_str(), e.by.as_str())).collect();
    assert_eq!(steps, [(1, "core", "central"), (2, "demand_side", "sz")], "resends and replays add nothing");
    assert_eq!(history[1].step.to, serde_json::json!("accepted"));
    let mut all = Vec::new();
    store
        .events_after(1, |e| {
            all.push(e.seq);
            true
        })
        .unwrap();
    assert_eq!(all, [2]);
}

fn revocations_are_kept(open: Open) {
    let store = open("a");
    let node = NodeId::parse("n", "sz").unwrap();
    store.revoke(&node).unwrap();
    assert_eq!(store.revoked().unwrap(), vec![node]);
}

fn pushes_are_applied_once_and_logged_at_their_latest_state(open: Open) {
    let store = open_with_sz(open, "a");
    let node = sz().id;
    let mut clock = Clock::resume(Hlc::ZERO);
    let (a, b) = (RecordId::new(), RecordId::new());
    let batch = vec![
        (1, Incoming::Record(record(&mut clock, &node, a, "甲").into())),
        (2, Incoming::Record(record(&mut clock, &node, b, "乙").into())),
    ];
    let first = applied(store.apply_push(&sz(), &batch, &bounds()).unwrap());
    assert_eq!((first.acked_seq, first.changed.len()), (2, 2));
    let again = applied(store.apply_push(&sz(), &batch, &bounds()).unwrap());
    assert_eq!((again.acked_seq, again.changed.len()), (2, 0), "a resent batch is a no-op");

    let edit = vec![(3, Incoming::Record(record(&mut clock, &node, a, "甲改").into()))];
    applied(store.apply_push(&sz(), &edit, &bounds()).unwrap());
    let (records, cursor) = store.log_after(0, 3, 100).unwrap();
    let titles: Vec<String> = records.iter().map(Record::title).collect();
    assert_eq!(titles, ["乙", "甲改"], "the superseded entry is skipped");
    assert_eq!(cursor, 3);
    assert_eq!(store.log_after(cursor, 3, 100).unwrap(), (vec![], 3));
}

fn acknowledged_sequence_and_log_head_survive_reopen(open: Open) {
    {
        let store = open_with_sz(open, "a");
        let mut clock = Clock::resume(Hlc::ZERO);
        let change = (1, Incoming::Record(record(&mut clock, &sz().id, RecordId::new(), "甲").into()));
        applied(store.apply_push(&sz(), &[change], &bounds()).unwrap());
        store.flush().unwrap();
    }
    let store = open("a");
    assert_eq!(store.head(), 1);
    assert_eq!(store.node(&sz().id).unwrap().unwrap().acked_seq, 1);
}

fn a_backup_restores_into_an_empty_store_as_the_same_store(open: Open) {
    let store = open_with_sz(open, "a");
    let node = sz().id;
    let mut clock = Clock::resume(Hlc::ZERO);
    let ids: Vec<RecordId> = (0..5).map(|_| RecordId::new()).collect();
    for (seq, id) in ids.iter().enumerate() {
        let batch = vec![(seq as u64 + 1, Incoming::Record(record(&mut clock, &node, *id, "甲").into()))];
        applied(store.apply_push(&sz(), &batch, &bounds()).unwrap());
    }
    // One record moves to a later position; a match brings an event, routing and a pair.
    let batch = vec![(6, Incoming::Record(record(&mut clock, &node, ids[0], "甲改").into()))];
    applied(store.apply_push(&sz(), &batch, &bounds()).unwrap());
    let mut m = kechuang_types::testing::proposed_match();
    m.demand_owner = node.clone();
    let mut proposal = kechuang_types::testing::demand("对接");
    proposal.meta.owner = NodeId::central();
    proposal.meta.version = m.version();
    let (demand, supply) = (m.demand, m.supply);
    proposal.body = kechuang_types::Body::Match(Box::new(m));
    store
        .apply_matching(
            std::slice::from_ref(&proposal),
            &[(demand, vec![1, 2, 255])],
            &[(demand, supply, proposal.meta.id)],
        )
        .unwrap();
    store.set_matched_upto(store.head()).unwrap();
    store.note_seen(&node, Timestamp(1_800_000_000_000)).unwrap();
    store.revoke(&NodeId::parse("n", "gone").unwrap()).unwrap();

    let copies = tempfile::tempdir().unwrap();
    let copy = copies.path().join("backup");
    let manifest = store.backup(&copy, |_| {}).unwrap();
    assert_eq!((manifest.records, manifest.head, manifest.nodes, manifest.revoked), (6, store.head(), 1, 1));
    assert!(store.backup(&copy, |_| {}).is_err(), "a backup never writes over another");

    let restored = open("b");
    restored.restore(&copy, |_| {}).unwrap();
    let all = |s: &CentralStore| {
        let mut records = Vec::new();
        s.for_each(|r| records.push(r)).unwrap();
        records.sort_by_key(|r| r.meta.id);
        records
    };
    assert_eq!(all(&restored), all(&store));
    assert_eq!(restored.head(), store.head());
    assert_eq!(restored.nodes().unwrap(), store.nodes().unwrap());
    assert_eq!(restored.revoked().unwrap(), store.revoked().unwrap());
    assert_eq!(restored.last_seen(&node).unwrap(), store.last_seen(&node).unwrap());
    assert_eq!(restored.routing_all().unwrap(), store.routing_all().unwrap());
    assert_eq!(restored.pairs_of(&demand).unwrap(), store.pairs_of(&demand).unwrap());
    assert_eq!(restored.pairs_of_supply(&supply).unwrap(), store.pairs_of_supply(&supply).unwrap());
    assert_eq!(restored.matched_upto().unwrap(), store.matched_upto().unwrap());
    assert_eq!(restored.history_of(&proposal.meta.id).unwrap(), store.history_of(&proposal.meta.id).unwrap());
    let feed = |s: &CentralStore| {
        let mut ids: Vec<RecordId> =
            s.log_after(0, s.head(), usize::MAX).unwrap().0.iter().map(|r| r.meta.id).collect();
        ids.sort();
        ids
    };
    assert_eq!(feed(&restored), feed(&store), "a feed from the start reads the same records");
    assert!(restored.restore(&copy, |_| {}).is_err(), "restore wants an empty store");
    drop(restored);
    let reopened = open("b");
    assert_eq!(reopened.head(), store.head(), "the head survives reopening");
}

fn a_backup_taken_under_writes_is_the_store_at_one_instant(open: Open) {
    let store = std::sync::Arc::new(open_with_sz(open, "a"));
    let node = sz().id;
    // Push k writes a new record and retitles the record of push k / 2.
    let ids: Vec<RecordId> = (0..=3_000).map(|_| RecordId::new()).collect();
    let title = |k: usize, of: usize| format!("{of}@{k}");
    let writer = {
        let (store, ids, node) = (store.clone(), ids.clone(), node.clone());
        std::thread::spawn(move || {
            let mut clock = Clock::resume(Hlc::ZERO);
            for k in 1..=3_000usize {
                let mut batch = vec![(0, Incoming::Record(record(&mut clock, &node, ids[k], &title(k, k)).into()))];
                batch.push((0, Incoming::Record(record(&mut clock, &node, ids[k / 2], &title(k, k / 2)).into())));
                let batch: Vec<_> =
                    batch.into_iter().enumerate().map(|(i, (_, c))| ((k as u64 - 1) * 2 + i as u64 + 1, c)).collect();
                applied(store.apply_push(&sz(), &batch, &bounds()).unwrap());
            }
        })
    };
    while store.head() < 200 {
        std::thread::yield_now();
    }
    let copies = tempfile::tempdir().unwrap();
    let copy = copies.path().join("backup");
    store.backup(&copy, |_| {}).unwrap();
    writer.join().unwrap();

    let restored = open("b");
    restored.restore(&copy, |_| {}).unwrap();
    let acked = restored.node(&node).unwrap().unwrap().acked_seq;
    let pushes = (acked / 2) as usize;
    assert!(pushes >= 200, "the copy was taken while pushes went on: {pushes} pushes in it");
    // What the store held after exactly `pushes` pushes.
    let mut expected = std::collections::BTreeMap::new();
    for k in 1..=pushes {
        expected.insert(ids[k], title(k, k));
        expected.insert(ids[k / 2], title(k, k / 2));
    }
    let mut held = std::collections::BTreeMap::new();
    restored
        .for_each(|r| {
            held.insert(r.meta.id, r.title());
        })
        .unwrap();
    assert_eq!(held, expected, "every acknowledged push, nothing after, each record as of the same instant");
}

fn a_pair_is_proposed_once_whoever_writes_second(open: Open) {
    let store = open_with_sz(open, "a");
    let proposal = |id: RecordId| {
        let m = kechuang_types::testing::proposed_match();
        let mut record = kechuang_types::testing::demand("对接");
        record.meta.id = id;
        record.meta.owner = NodeId::central();
        record.meta.version = m.version();
        let pair = (m.demand, m.supply);
        record.body = kechuang_types::Body::Match(Box::new(m));
        (record, pair)
    };
    let (first, (demand, supply)) = proposal(RecordId::new());
    let (second, _) = proposal(RecordId::new());
    let written = store
        .apply_central("central:operator", std::slice::from_ref(&first), &[], &[(demand, supply, first.meta.id)])
        .unwrap();
    assert_eq!(written.len(), 1);
    let again =
        store.apply_central("sz", std::slice::from_ref(&second), &[], &[(demand, supply, second.meta.id)]).unwrap();
    assert!(again.is_empty(), "the second proposal of the pair is dropped");
    assert_eq!(store.pairs_of(&demand).unwrap(), [(supply, first.meta.id)]);
    assert!(store.get(&second.meta.id).unwrap().is_none());
}

fn peer(name: &str) -> Peer {
    Peer {
        id: NodeId::parse("n", name).unwrap(),
        kind: NodeKind::City,
        region: Region::parse("r", "440300").unwrap(),
        fields: Vec::new(),
    }
}

/// Instances writing at once through one database: a reader following the
/// log from a fourth sees every write exactly once, however the writers'
/// commits interleave.
#[test]
fn a_feed_over_a_shared_database_never_skips_a_concurrent_write() {
    let pg = kechuang_testkit::Postgres::start_with(&["fsync = off"]).unwrap();
    let url = pg.database("shared").unwrap();
    let writers: Vec<_> = (0..3)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let store = CentralStore::open_postgres(&url).unwrap();
                let node = peer(&format!("w{i}"));
                store.register(&node).unwrap();
                let mut clock = Clock::resume(Hlc::ZERO);
                let mut ids = Vec::new();
                for k in 0..200u64 {
                    let batch: Vec<_> = (0..3)
                        .map(|j| {
                            let id = RecordId::new();
                            ids.push(id);
                            (k * 3 + j + 1, Incoming::Record(record(&mut clock, &node.id, id, "并发").into()))
                        })
                        .collect();
                    applied(store.apply_push(&node, &batch, &bounds()).unwrap());
                }
                ids
            })
        })
        .collect();
    let reader = CentralStore::open_postgres(&url).unwrap();
    assert!(reader.changes().is_some(), "a shared store announces changes");
    let (mut cursor, mut seen, mut finished) = (0, Vec::new(), false);
    while !finished || cursor < reader.head() {
        let (entries, next) = reader.log_entries(cursor, reader.head(), 50).unwrap();
        seen.extend(entries.into_iter().map(|(_, r)| r.meta.id));
        cursor = next;
        if cursor == reader.head() {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        if !finished && writers.iter().all(|w| w.is_finished()) {
            finished = true;
            // The writers' last commits reach the reader by notification.
            let last = CentralStore::open_postgres(&url).unwrap().head();
            while reader.head() < last {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
    let mut written: Vec<RecordId> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    written.sort();
    let count = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(count, seen.len(), "no write was read twice");
    assert_eq!(seen, written, "every write was read");
}

/// Records on PostgreSQL stay readable with SQL through the JSON view.
#[test]
fn records_on_postgresql_can_be_queried_as_json() {
    let pg = kechuang_testkit::Postgres::start_with(&["fsync = off"]).unwrap();
    let store = CentralStore::open_postgres(&pg.url()).unwrap();
    let node = peer("sql");
    store.register(&node).unwrap();
    let mut clock = Clock::resume(Hlc::ZERO);
    let change = Incoming::Record(record(&mut clock, &node.id, RecordId::new(), "储能安全").into());
    applied(store.apply_push(&node, &[(1, change)], &bounds()).unwrap());
    let sql = "SELECT record->'body'->>'title' FROM kechuang_records_json";
    assert_eq!(pg.psql(sql).unwrap(), "储能安全");
}

/// One instance matches at a time; the others' matching writes are refused
/// until the holder lets go.
#[test]
fn only_the_lease_holder_writes_matching() {
    let pg = kechuang_testkit::Postgres::start_with(&["fsync = off"]).unwrap();
    let url = pg.database("lease").unwrap();
    let (first, second) = (CentralStore::open_postgres(&url).unwrap(), CentralStore::open_postgres(&url).unwrap());
    assert!(first.hold_lease().unwrap());
    assert!(!second.hold_lease().unwrap(), "the lease is held");
    assert!(first.hold_lease().unwrap(), "and stays held");
    first.set_matched_upto(0).unwrap();
    let proposal = kechuang_types::testing::demand("对接");
    assert!(matches!(second.apply_matching(std::slice::from_ref(&proposal), &[], &[]), Err(Error::LeaseLost(_))));
    assert!(matches!(second.set_matched_upto(1), Err(Error::LeaseLost(_))));
    second.apply_central("central:operator", std::slice::from_ref(&proposal), &[], &[]).unwrap();

    first.release_lease();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !second.hold_lease().unwrap() {
        assert!(std::time::Instant::now() < deadline, "the released lease was not taken over");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    second.set_matched_upto(1).unwrap();
    assert!(matches!(first.set_matched_upto(2), Err(Error::LeaseLost(_))), "the old holder is fenced off");
    assert_eq!(first.matched_upto().unwrap(), 1);
}

/// A revocation made through one instance reaches another's watchers.
#[test]
fn a_revocation_is_announced_to_every_instance() {
    let pg = kechuang_testkit::Postgres::start_with(&["fsync = off"]).unwrap();
    let url = pg.database("revoke").unwrap();
    let (first, second) = (CentralStore::open_postgres(&url).unwrap(), CentralStore::open_postgres(&url).unwrap());
    let mut told = second.revocations().unwrap();
    told.mark_unchanged();
    first.revoke(&NodeId::parse("n", "gone").unwrap()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !told.has_changed().unwrap() {
        assert!(std::time::Instant::now() < deadline, "no notification");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(second.revoked().unwrap(), [NodeId::parse("n", "gone").unwrap()]);
}
