//! Central's store on PostgreSQL, shared by several central instances.
//!
//! Tables (`kechuang_` prefix): `records` (id, log position, record),
//! indexed by position — the change log feeds read: PostgreSQL keeps each
//! record's latest write, which is all a feed ever sends; `nodes` (registry
//! entry with the acknowledged sequence, last seen); `events` (the
//! lifecycle history, by sequence and by record); `routing`; `pairs` (by
//! demand and by supply); `revoked`; `meta` (the log head and matching's
//! cursor). Records and events are stored in the same encoding as on sled.
//!
//! Every write takes a transaction-scoped advisory lock first, so writers
//! of all instances take turns as they do on sled's head lock, and log
//! positions are assigned in commit order: the lock is held until the
//! commit is visible, so once a reader sees position `p` committed, no
//! position below `p` can still commit (the gap a bare BIGSERIAL leaves,
//! where a feed would skip a change that commits late). A commit is
//! announced with `NOTIFY kechuang_log`; each instance listens, and re-reads
//! the head after reconnecting. Matching runs under a session advisory lock
//! (the lease) and every matching write checks, in its own transaction,
//! that this instance's lease session still holds it.
//!
//! The store's interface is synchronous (central calls it from blocking
//! threads); the connections are driven by a small runtime of their own.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use kechuang_types::{Event, NodeId, Record, RecordId, Timestamp};
use tokio::sync::watch;
use tokio_postgres::{AsyncMessage, Client, NoTls};
use tracing::{debug, warn};

use super::embedded::SEEN_GRAIN_MS;
use super::{Backend, Batch, NodeEntry, Restoring, Sink, Snapshot, Stored, Txn};
use crate::codec::{decode, decode_record, encode};
use crate::{Error, Result};

/// The advisory lock space of Kechuang (`pg_advisory_lock(SPACE, …)`).
const SPACE: i32 = 0x4b43;
/// Schema creation.
const SCHEMA_LOCK: i32 = 0;
/// Writers take turns on this one, transaction-scoped.
const WRITERS_LOCK: i32 = 1;
/// Matching's lease, session-scoped.
const LEASE_LOCK: i32 = 2;
/// Connections per instance.
const POOL_SIZE: usize = 16;
/// How often the head is re-read even when no notification came.
const HEAD_POLL: Duration = Duration::from_secs(2);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kechuang_records (id bytea PRIMARY KEY, position bigint NOT NULL, body bytea NOT NULL);
CREATE INDEX IF NOT EXISTS kechuang_records_by_position ON kechuang_records (position);
CREATE TABLE IF NOT EXISTS kechuang_nodes (id text PRIMARY KEY, entry bytea NOT NULL, last_seen bigint);
CREATE TABLE IF NOT EXISTS kechuang_events (seq bigint PRIMARY KEY, record bytea NOT NULL, body bytea NOT NULL);
CREATE INDEX IF NOT EXISTS kechuang_events_by_record ON kechuang_events (record, seq);
CREATE TABLE IF NOT EXISTS kechuang_routing (demand bytea PRIMARY KEY, state bytea NOT NULL);
CREATE TABLE IF NOT EXISTS kechuang_pairs (demand bytea NOT NULL, supply bytea NOT NULL, match_id bytea NOT NULL, PRIMARY KEY (demand, supply));
CREATE INDEX IF NOT EXISTS kechuang_pairs_by_supply ON kechuang_pairs (supply, demand);
CREATE TABLE IF NOT EXISTS kechuang_revoked (node text PRIMARY KEY, at bigint NOT NULL);
CREATE TABLE IF NOT EXISTS kechuang_meta (key text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO kechuang_meta VALUES ('head', 0), ('matched_upto', 0) ON CONFLICT DO NOTHING;
CREATE OR REPLACE VIEW kechuang_records_json AS
    SELECT id, position, convert_from(substring(body FROM 2), 'UTF8')::jsonb AS record FROM kechuang_records;
";

/// SQL: whether the session whose pid is parameter `pid` holds matching's
/// lease (a two-key advisory lock shows as classid, objid, objsubid 2).
fn holds_lease(pid: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = {SPACE} \
         AND objid::bigint = {LEASE_LOCK} AND objsubid = 2 AND granted AND pid = {pid})"
    )
}

/// The URL with its password, if any, left out (for logs and messages).
pub(crate) fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn pg(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Storage(format!("postgres: {} ({})", db.message(), db.code().code())),
        None => Error::Storage(format!("postgres: {e}")),
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> Error {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg(e),
        other => Error::Storage(format!("postgres: {other}")),
    }
}

fn id_of(bytes: &[u8]) -> Result<RecordId> {
    let id: [u8; 16] =
        bytes.try_into().map_err(|_| Error::Corrupt { what: "record id", reason: "not a 16-byte id".into() })?;
    Ok(RecordId::from_bytes(id))
}

fn node_id(text: &str) -> Result<NodeId> {
    NodeId::parse("node", text).map_err(|e| Error::Corrupt { what: "node id", reason: e.to_string() })
}

/// Matching's lease: a session of its own holding the advisory lock.
struct Lease {
    client: Client,
    pid: i32,
}

/// Central's store on PostgreSQL.
pub(crate) struct PgBackend {
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    config: tokio_postgres::Config,
    url: String,
    head: Arc<watch::Sender<u64>>,
    revocations: Arc<watch::Sender<u64>>,
    /// When each node was last noted in contact, to skip writes within a minute.
    seen: Mutex<HashMap<NodeId, i64>>,
    lease: Mutex<Option<Lease>>,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend").field("url", &without_password(&self.url)).field("head", &self.head()).finish()
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Reads inside a write: records prefetched in one query, the rest one by one.
struct PgTxn<'a> {
    pg: &'a PgBackend,
    client: &'a Object,
    cache: HashMap<RecordId, Option<Record>>,
}

impl Txn for PgTxn<'_> {
    fn prefetch(&mut self, ids: &[RecordId]) -> Result<()> {
        let wanted: Vec<&[u8]> =
            ids.iter().filter(|id| !self.cache.contains_key(id)).map(|id| id.as_bytes().as_slice()).collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let rows = self.pg.run(async {
            let statement =
                self.client.prepare_cached("SELECT id, body FROM kechuang_records WHERE id = ANY($1)").await?;
            self.client.query(&statement, &[&wanted]).await
        })?;
        for id in ids {
            self.cache.entry(*id).or_insert(None);
        }
        for row in rows {
            let record: Record = decode_record("record", row.get(1))?;
            self.cache.insert(id_of(row.get(0))?, Some(record));
        }
        Ok(())
    }

    fn get(&mut self, id: &RecordId) -> Result<Option<Record>> {
        if let Some(held) = self.cache.get(id) {
            return Ok(held.clone());
        }
        self.pg.get_with(self.client, id)
    }

    fn node(&mut self, id: &NodeId) -> Result<Option<NodeEntry>> {
        let row = self.pg.run(async {
            let statement = self.client.prepare_cached("SELECT entry FROM kechuang_nodes WHERE id = $1").await?;
            self.client.query_opt(&statement, &[&id.as_str()]).await
        })?;
        row.map(|r| decode("node", r.get(0))).transpose()
    }

    fn pair(&mut self, demand: &RecordId, supply: &RecordId) -> Result<Option<RecordId>> {
        let row = self.pg.run(async {
            let statement = self
                .client
                .prepare_cached("SELECT match_id FROM kechuang_pairs WHERE demand = $1 AND supply = $2")
                .await?;
            self.client.query_opt(&statement, &[&demand.as_bytes().as_slice(), &supply.as_bytes().as_slice()]).await
        })?;
        row.map(|r| id_of(r.get(0))).transpose()
    }
}

impl PgBackend {
    /// Connects to `url` and creates the schema if it is missing.
    pub(crate) fn open(url: &str) -> Result<Self> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| Error::Storage(format!("store url {}: {e}", without_password(url))))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kechuang-pg")
            .enable_all()
            .build()
            .map_err(|e| Error::Storage(format!("postgres runtime: {e}")))?;
        let manager =
            Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = {
            let _entered = runtime.enter();
            Pool::builder(manager)
                .max_size(POOL_SIZE)
                .runtime(Runtime::Tokio1)
                .create_timeout(Some(Duration::from_secs(10)))
                .wait_timeout(Some(Duration::from_secs(30)))
                .build()
                .map_err(|e| Error::Storage(format!("postgres pool: {e}")))?
        };
        let backend = Self {
            runtime: Some(runtime),
            pool,
            config,
            url: url.to_owned(),
            head: Arc::new(watch::channel(0).0),
            revocations: Arc::new(watch::channel(0).0),
            seen: Mutex::new(HashMap::new()),
            lease: Mutex::new(None),
        };
        let client = backend.client()?;
        let head = backend.run(async {
            client.batch_execute("BEGIN").await?;
            client.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&SPACE, &SCHEMA_LOCK]).await?;
            client.batch_execute(SCHEMA).await?;
            client.batch_execute("COMMIT").await?;
            let row = client.query_one("SELECT value FROM kechuang_meta WHERE key = 'head'", &[]).await?;
            Ok(row.get::<_, i64>(0) as u64)
        })?;
        drop(client);
        backend.advance(head);
        let (config, head, revocations) = (backend.config.clone(), backend.head.clone(), backend.revocations.clone());
        backend.runtime().spawn(listen(config, head, revocations));
        Ok(backend)
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until drop")
    }

    /// Runs `future` to completion on the store's runtime from synchronous
    /// code, wherever that code runs.
    fn run<T: Send>(
        &self,
        future: impl Future<Output = std::result::Result<T, tokio_postgres::Error>> + Send,
    ) -> Result<T> {
        self.block_on(future).map_err(pg)
    }

    fn block_on<T: Send>(&self, future: impl Future<Output = T> + Send) -> T {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let runtime = self.runtime();
        match Handle::try_current() {
            Err(_) => runtime.block_on(future),
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::CurrentThread => std::thread::scope(|s| {
                s.spawn(|| runtime.block_on(future)).join().unwrap_or_else(|p| std::panic::resume_unwind(p))
            }),
            Ok(_) => tokio::task::block_in_place(|| runtime.block_on(future)),
        }
    }

    fn client(&self) -> Result<Object> {
        self.block_on(self.pool.get()).map_err(pool_error)
    }

    /// Runs one statement on a pooled connection and returns its rows.
    fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let client = self.client()?;
        self.run(async {
            let statement = client.prepare_cached(sql).await?;
            client.query(&statement, params).await
        })
    }

    fn execute(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<u64> {
        let client = self.client()?;
        self.run(async {
            let statement = client.prepare_cached(sql).await?;
            client.execute(&statement, params).await
        })
    }

    fn get_with(&self, client: &Object, id: &RecordId) -> Result<Option<Record>> {
        let row = self.run(async {
            let statement = client.prepare_cached("SELECT body FROM kechuang_records WHERE id = $1").await?;
            client.query_opt(&statement, &[&id.as_bytes().as_slice()]).await
        })?;
        row.map(|r| decode_record("record", r.get(0))).transpose()
    }

    /// Takes `position` as the head if it is further on.
    fn advance(&self, position: u64) {
        advance(&self.head, position);
    }

    fn lease_pid(&self) -> Option<i32> {
        self.lease.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|l| l.pid)
    }

    /// Writes `batch` at `position` inside the open transaction.
    async fn write(
        client: &Object,
        batch: &Batch,
        position: u64,
        events: Vec<Event>,
    ) -> std::result::Result<(), tokio_postgres::Error> {
        let position = position as i64;
        if !batch.records.is_empty() {
            let ids: Vec<&[u8]> = batch.records.iter().map(|r| r.meta.id.as_bytes().as_slice()).collect();
            let bodies: Vec<Vec<u8>> = batch.records.iter().map(encode).collect();
            let statement = client
                .prepare_cached(
                    "INSERT INTO kechuang_records (id, position, body) SELECT id, $2, body FROM unnest($1::bytea[], $3::bytea[]) AS t(id, body) \
                     ON CONFLICT (id) DO UPDATE SET position = excluded.position, body = excluded.body",
                )
                .await?;
            client.execute(&statement, &[&ids, &position, &bodies]).await?;
            client.execute("UPDATE kechuang_meta SET value = $1 WHERE key = 'head'", &[&position]).await?;
            client.execute("SELECT pg_notify('kechuang_log', $1)", &[&position.to_string()]).await?;
        }
        if !events.is_empty() {
            let seqs: Vec<i64> = events.iter().map(|e| e.seq as i64).collect();
            let records: Vec<&[u8]> = events.iter().map(|e| e.record.as_bytes().as_slice()).collect();
            let bodies: Vec<Vec<u8>> = events.iter().map(encode).collect();
            let statement = client
                .prepare_cached("INSERT INTO kechuang_events (seq, record, body) SELECT * FROM unnest($1::int8[], $2::bytea[], $3::bytea[])")
                .await?;
            client.execute(&statement, &[&seqs, &records, &bodies]).await?;
        }
        for entry in &batch.nodes {
            let statement = client
                .prepare_cached("INSERT INTO kechuang_nodes (id, entry) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET entry = excluded.entry")
                .await?;
            client.execute(&statement, &[&entry.id.as_str(), &encode(entry)]).await?;
        }
        if !batch.routing.is_empty() {
            let demands: Vec<&[u8]> = batch.routing.iter().map(|(d, _)| d.as_bytes().as_slice()).collect();
            let states: Vec<&[u8]> = batch.routing.iter().map(|(_, s)| s.as_slice()).collect();
            client
                .execute(
                    "INSERT INTO kechuang_routing (demand, state) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                     ON CONFLICT (demand) DO UPDATE SET state = excluded.state",
                    &[&demands, &states],
                )
                .await?;
        }
        if !batch.pairs.is_empty() {
            let column = |f: fn(&(RecordId, RecordId, RecordId)) -> &RecordId| -> Vec<&[u8]> {
                batch.pairs.iter().map(|p| f(p).as_bytes().as_slice()).collect()
            };
            client
                .execute(
                    "INSERT INTO kechuang_pairs (demand, supply, match_id) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) \
                     ON CONFLICT (demand, supply) DO UPDATE SET match_id = excluded.match_id",
                    &[&column(|p| &p.0), &column(|p| &p.1), &column(|p| &p.2)],
                )
                .await?;
        }
        Ok(())
    }

    /// Reads the whole store as of one instant, in a repeatable-read transaction.
    fn copy(&self, client: &Object, sink: &mut dyn Sink) -> Result<Snapshot> {
        let query =
            |sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]| self.run(client.query(sql, params));
        self.run(client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))?;
        let meta = |key: &str| -> Result<u64> {
            let rows = query("SELECT value FROM kechuang_meta WHERE key = $1", &[&key])?;
            Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
        };
        let (head, matched_upto) = (meta("head")?, meta("matched_upto")?);
        let mut after: Vec<u8> = Vec::new();
        loop {
            let rows = query(
                "SELECT id, position, body FROM kechuang_records WHERE id > $1 ORDER BY id LIMIT 5000",
                &[&after],
            )?;
            let Some(last) = rows.last() else { break };
            after = last.get::<_, &[u8]>(0).to_vec();
            for row in &rows {
                let record: Record = decode_record("record", row.get(2))?;
                sink.record(&Stored { position: row.get::<_, i64>(1) as u64, record })?;
            }
        }
        let mut last_event = 0i64;
        loop {
            let rows =
                query("SELECT seq, body FROM kechuang_events WHERE seq > $1 ORDER BY seq LIMIT 5000", &[&last_event])?;
            let Some(last) = rows.last() else { break };
            last_event = last.get(0);
            for row in &rows {
                sink.event(&decode("event", row.get(1))?)?;
            }
        }
        for row in query("SELECT entry, last_seen FROM kechuang_nodes ORDER BY id", &[])? {
            sink.node(decode("node", row.get(0))?, row.get::<_, Option<i64>>(1).map(Timestamp))?;
        }
        for row in query("SELECT demand, state FROM kechuang_routing ORDER BY demand", &[])? {
            sink.routing(id_of(row.get(0))?, row.get(1))?;
        }
        for row in query("SELECT demand, supply, match_id FROM kechuang_pairs ORDER BY demand, supply", &[])? {
            sink.pair(id_of(row.get(0))?, id_of(row.get(1))?, id_of(row.get(2))?)?;
        }
        for row in query("SELECT node FROM kechuang_revoked ORDER BY node", &[])? {
            sink.revoked(&node_id(row.get(0))?)?;
        }
        self.run(client.batch_execute("COMMIT"))?;
        Ok(Snapshot { head, last_event: last_event as u64, matched_upto })
    }
}

fn advance(head: &watch::Sender<u64>, position: u64) {
    head.send_if_modified(|h| {
        let moved = position > *h;
        *h = (*h).max(position);
        moved
    });
}

/// Listens for other instances' commits and revocations until the store is
/// dropped, reconnecting after a failure and re-reading what it missed.
async fn listen(config: tokio_postgres::Config, head: Arc<watch::Sender<u64>>, revocations: Arc<watch::Sender<u64>>) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut notes) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                if tx.send(n).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                debug!(error = %e, "the listening connection closed");
                                break;
                            }
                        }
                    }
                });
                let read_head = || async {
                    let row = client.query_one("SELECT value FROM kechuang_meta WHERE key = 'head'", &[]).await?;
                    Ok::<u64, tokio_postgres::Error>(row.get::<_, i64>(0) as u64)
                };
                if client.batch_execute("LISTEN kechuang_log; LISTEN kechuang_revoked").await.is_ok() {
                    // What was committed or revoked while nobody listened.
                    revocations.send_modify(|n| *n += 1);
                    loop {
                        match read_head().await {
                            Ok(position) => advance(&head, position),
                            Err(e) => {
                                warn!(error = %e, "reading the log head failed; reconnecting");
                                break;
                            }
                        }
                        let deadline = tokio::time::sleep(HEAD_POLL);
                        tokio::pin!(deadline);
                        loop {
                            tokio::select! {
                                note = notes.recv() => match note {
                                    Some(n) if n.channel() == "kechuang_log" => {
                                        if let Ok(position) = n.payload().parse() {
                                            advance(&head, position);
                                        }
                                    }
                                    Some(_) => revocations.send_modify(|n| *n += 1),
                                    None => break,
                                },
                                () = &mut deadline => break,
                            }
                        }
                        if driver.is_finished() {
                            break;
                        }
                    }
                }
                driver.abort();
            }
            Err(e) => warn!(error = %e, "connecting to PostgreSQL to listen failed; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl Backend for PgBackend {
    fn transact(
        &self,
        fenced: bool,
        work: &mut dyn FnMut(&mut dyn Txn) -> Result<Option<Batch>>,
    ) -> Result<Option<(Batch, u64)>> {
        let client = self.client()?;
        let lease = if fenced {
            Some(
                self.lease_pid()
                    .ok_or_else(|| Error::LeaseLost("this instance does not hold the matching lease".into()))?,
            )
        } else {
            None
        };
        self.run(client.batch_execute("BEGIN"))?;
        let result = (|| {
            self.run(client.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&SPACE, &WRITERS_LOCK]))?;
            if let Some(pid) = lease {
                let row = self.run(client.query_one(&format!("SELECT {}", holds_lease("$1")), &[&pid]))?;
                if !row.get::<_, bool>(0) {
                    return Err(Error::LeaseLost("another instance holds the matching lease".into()));
                }
            }
            let mut txn = PgTxn { pg: self, client: &client, cache: HashMap::new() };
            let Some(batch) = work(&mut txn)? else { return Ok(None) };
            let row = self.run(client.query_one(
                "SELECT (SELECT value FROM kechuang_meta WHERE key = 'head'), (SELECT coalesce(max(seq), 0) FROM kechuang_events)",
                &[],
            ))?;
            let (head, last_event) = (row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64);
            let position = if batch.records.is_empty() { head } else { head + 1 };
            let events = batch.events(last_event, Timestamp::now());
            self.run(Self::write(&client, &batch, position, events))?;
            crate::crash::point("central-before-commit");
            self.run(client.batch_execute("COMMIT"))?;
            Ok(Some((batch, position)))
        })();
        match &result {
            Ok(Some((_, position))) => self.advance(*position),
            Ok(None) | Err(_) => {
                // A broken connection is dropped by the pool; a sound one is clean again.
                let _ = self.block_on(client.batch_execute("ROLLBACK"));
            }
        }
        result
    }

    fn get(&self, id: &RecordId) -> Result<Option<Record>> {
        let client = self.client()?;
        self.get_with(&client, id)
    }

    fn node(&self, id: &NodeId) -> Result<Option<NodeEntry>> {
        let rows = self.query("SELECT entry FROM kechuang_nodes WHERE id = $1", &[&id.as_str()])?;
        rows.first().map(|r| decode("node", r.get(0))).transpose()
    }

    fn nodes(&self) -> Result<Vec<NodeEntry>> {
        let rows = self.query("SELECT entry FROM kechuang_nodes ORDER BY id", &[])?;
        rows.iter().map(|r| decode("node", r.get(0))).collect()
    }

    fn note_seen(&self, id: &NodeId, at: Timestamp) -> Result<()> {
        {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.get(id).is_some_and(|last| at.0 - last < SEEN_GRAIN_MS) {
                return Ok(());
            }
        }
        self.execute(
            "UPDATE kechuang_nodes SET last_seen = $2::int8 WHERE id = $1 AND (last_seen IS NULL OR last_seen < $2::int8 - 60000)",
            &[&id.as_str(), &at.0],
        )?;
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), at.0);
        Ok(())
    }

    fn last_seen(&self, id: &NodeId) -> Result<Option<Timestamp>> {
        let rows = self.query("SELECT last_seen FROM kechuang_nodes WHERE id = $1", &[&id.as_str()])?;
        Ok(rows.first().and_then(|r| r.get::<_, Option<i64>>(0)).map(Timestamp))
    }

    fn revoke(&self, node: &NodeId) -> Result<()> {
        let client = self.client()?;
        self.run(async {
            client.batch_execute("BEGIN").await?;
            client
                .execute(
                    "INSERT INTO kechuang_revoked (node, at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&node.as_str(), &Timestamp::now().0],
                )
                .await?;
            client.execute("SELECT pg_notify('kechuang_revoked', $1)", &[&node.as_str()]).await?;
            client.batch_execute("COMMIT").await
        })?;
        self.revocations.send_modify(|n| *n += 1);
        Ok(())
    }

    fn revoked(&self) -> Result<Vec<NodeId>> {
        self.query("SELECT node FROM kechuang_revoked ORDER BY node", &[])?.iter().map(|r| node_id(r.get(0))).collect()
    }

    fn routing(&self, demand: &RecordId) -> Result<Option<Vec<u8>>> {
        let rows =
            self.query("SELECT state FROM kechuang_routing WHERE demand = $1", &[&demand.as_bytes().as_slice()])?;
        Ok(rows.first().map(|r| r.get::<_, Vec<u8>>(0)))
    }

    fn routing_all(&self) -> Result<Vec<(RecordId, Vec<u8>)>> {
        let rows = self.query("SELECT demand, state FROM kechuang_routing ORDER BY demand", &[])?;
        rows.iter().map(|r| Ok((id_of(r.get(0))?, r.get(1)))).collect()
    }

    fn pairs(&self, of: &RecordId, by_supply: bool) -> Result<Vec<(RecordId, RecordId)>> {
        let sql = if by_supply {
            "SELECT demand, match_id FROM kechuang_pairs WHERE supply = $1 ORDER BY demand"
        } else {
            "SELECT supply, match_id FROM kechuang_pairs WHERE demand = $1 ORDER BY supply"
        };
        let rows = self.query(sql, &[&of.as_bytes().as_slice()])?;
        rows.iter().map(|r| Ok((id_of(r.get(0))?, id_of(r.get(1))?))).collect()
    }

    fn matched_upto(&self) -> Result<u64> {
        let rows = self.query("SELECT value FROM kechuang_meta WHERE key = 'matched_upto'", &[])?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    fn set_matched_upto(&self, position: u64) -> Result<()> {
        let pid = self
            .lease_pid()
            .ok_or_else(|| Error::LeaseLost("this instance does not hold the matching lease".into()))?;
        let sql = format!("UPDATE kechuang_meta SET value = $1 WHERE key = 'matched_upto' AND {}", holds_lease("$2"));
        match self.execute(&sql, &[&(position as i64), &pid])? {
            0 => Err(Error::LeaseLost("another instance holds the matching lease".into())),
            _ => Ok(()),
        }
    }

    fn head(&self) -> u64 {
        *self.head.borrow()
    }

    fn log_entries(&self, cursor: u64, upto: u64, limit: usize) -> Result<(Vec<(u64, Record)>, u64)> {
        let limit = limit.clamp(1, 1 << 40) as i64;
        let client = self.client()?;
        let rows = self.run(async {
            let statement = client
                .prepare_cached(
                    "SELECT position, body FROM kechuang_records WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3",
                )
                .await?;
            client.query(&statement, &[&(cursor as i64), &(upto as i64), &limit]).await
        })?;
        let full = rows.len() as i64 == limit;
        let mut out = rows
            .iter()
            .map(|r| Ok((r.get::<_, i64>(0) as u64, decode_record("record", r.get(1))?)))
            .collect::<Result<Vec<(u64, Record)>>>()?;
        let Some(&(last, _)) = out.last().filter(|_| full) else { return Ok((out, upto)) };
        // Never half of one write: the rest of the last position's records.
        out.retain(|(position, _)| *position != last);
        let rest = self.run(async {
            let statement = client.prepare_cached("SELECT body FROM kechuang_records WHERE position = $1").await?;
            client.query(&statement, &[&(last as i64)]).await
        })?;
        for row in rest {
            out.push((last, decode_record("record", row.get(0))?));
        }
        Ok((out, last))
    }

    fn logged_between(&self, cursor: u64, upto: u64, cap: u64) -> Result<u64> {
        let rows = self.query(
            "SELECT count(*) FROM (SELECT 1 FROM kechuang_records WHERE position > $1 AND position <= $2 LIMIT $3) t",
            &[&(cursor as i64), &(upto as i64), &(cap.min(i64::MAX as u64) as i64)],
        )?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    fn history_of(&self, record: &RecordId) -> Result<Vec<Event>> {
        let rows = self.query(
            "SELECT body FROM kechuang_events WHERE record = $1 ORDER BY seq",
            &[&record.as_bytes().as_slice()],
        )?;
        rows.iter().map(|r| decode("event", r.get(0))).collect()
    }

    fn events_page(&self, after: u64, limit: usize) -> Result<Vec<Event>> {
        let rows = self.query(
            "SELECT body FROM kechuang_events WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&(after.min(i64::MAX as u64) as i64), &(limit as i64)],
        )?;
        rows.iter().map(|r| decode("event", r.get(0))).collect()
    }

    fn records_page(&self, after: Option<&RecordId>, limit: usize) -> Result<Vec<Record>> {
        let after: &[u8] = after.map_or(&[], |id| id.as_bytes().as_slice());
        let rows = self.query(
            "SELECT body FROM kechuang_records WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after, &(limit as i64)],
        )?;
        rows.iter().map(|r| decode_record("record", r.get(0))).collect()
    }

    fn size_on_disk(&self) -> Result<u64> {
        let rows = self.query("SELECT pg_database_size(current_database())", &[])?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    fn flush(&self) -> Result<()> {
        // Every write is committed (and so durable) before it returns.
        Ok(())
    }

    fn snapshot(&self, sink: &mut dyn Sink) -> Result<Snapshot> {
        let client = self.client()?;
        let copied = self.copy(&client, sink);
        if copied.is_err() {
            let _ = self.block_on(client.batch_execute("ROLLBACK"));
        }
        copied
    }

    fn is_empty(&self) -> Result<bool> {
        let rows = self.query(
            "SELECT NOT EXISTS (SELECT 1 FROM kechuang_records) AND NOT EXISTS (SELECT 1 FROM kechuang_nodes) \
             AND NOT EXISTS (SELECT 1 FROM kechuang_revoked)",
            &[],
        )?;
        Ok(rows.first().is_some_and(|r| r.get(0)))
    }

    fn restore(&self, part: Restoring) -> Result<()> {
        let client = self.client()?;
        match part {
            Restoring::Records(records) => {
                // A later line for the same id wins, within the chunk too.
                let mut latest: HashMap<RecordId, &Stored> = HashMap::new();
                for stored in &records {
                    latest.insert(stored.record.meta.id, stored);
                }
                let ids: Vec<&[u8]> = latest.keys().map(|id| id.as_bytes().as_slice()).collect();
                let positions: Vec<i64> = latest.values().map(|s| s.position as i64).collect();
                let bodies: Vec<Vec<u8>> = latest.values().map(|s| encode(&s.record)).collect();
                self.run(client.execute(
                    "INSERT INTO kechuang_records (id, position, body) SELECT * FROM unnest($1::bytea[], $2::int8[], $3::bytea[]) \
                     ON CONFLICT (id) DO UPDATE SET position = excluded.position, body = excluded.body",
                    &[&ids, &positions, &bodies],
                ))?;
            }
            Restoring::Events(events) => {
                let batch_events = events;
                let seqs: Vec<i64> = batch_events.iter().map(|e| e.seq as i64).collect();
                let records: Vec<&[u8]> = batch_events.iter().map(|e| e.record.as_bytes().as_slice()).collect();
                let bodies: Vec<Vec<u8>> = batch_events.iter().map(encode).collect();
                self.run(client.execute(
                    "INSERT INTO kechuang_events (seq, record, body) SELECT * FROM unnest($1::int8[], $2::bytea[], $3::bytea[])",
                    &[&seqs, &records, &bodies],
                ))?;
            }
            Restoring::Nodes(nodes) => {
                for (node, last_seen) in nodes {
                    self.run(client.execute(
                        "INSERT INTO kechuang_nodes (id, entry, last_seen) VALUES ($1, $2, $3)",
                        &[&node.id.as_str(), &encode(&node), &last_seen.map(|t| t.0)],
                    ))?;
                }
            }
            Restoring::Routing(routing) => {
                self.run(Self::write(&client, &Batch { routing, ..Batch::default() }, 0, Vec::new()))?;
            }
            Restoring::Pairs(pairs) => {
                self.run(Self::write(&client, &Batch { pairs, ..Batch::default() }, 0, Vec::new()))?;
            }
            Restoring::Revoked(nodes) => {
                for node in nodes {
                    self.run(client.execute(
                        "INSERT INTO kechuang_revoked (node, at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        &[&node.as_str(), &Timestamp::now().0],
                    ))?;
                }
            }
            Restoring::Finish { matched_upto, head } => {
                // The head is the copy's, so every node's feed cursor still
                // points into the same log (a position is never reused).
                let top = self.run(async {
                    let row = client.query_one("SELECT coalesce(max(position), 0) FROM kechuang_records", &[]).await?;
                    let top = (row.get::<_, i64>(0) as u64).max(head) as i64;
                    client.execute("UPDATE kechuang_meta SET value = $1 WHERE key = 'head'", &[&top]).await?;
                    client
                        .execute(
                            "UPDATE kechuang_meta SET value = $1 WHERE key = 'matched_upto'",
                            &[&(matched_upto as i64)],
                        )
                        .await?;
                    Ok(top as u64)
                })?;
                self.advance(top);
            }
        }
        Ok(())
    }

    fn changes(&self) -> Option<watch::Receiver<u64>> {
        Some(self.head.subscribe())
    }

    fn revocations(&self) -> Option<watch::Receiver<u64>> {
        Some(self.revocations.subscribe())
    }

    fn hold_lease(&self) -> Result<bool> {
        let mut lease = self.lease.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = lease.as_ref() {
            let alive = !held.client.is_closed() && self.block_on(held.client.simple_query("SELECT 1")).is_ok();
            if alive {
                return Ok(true);
            }
            warn!("the matching lease's session ended; matching stops here until the lease is taken again");
            *lease = None;
        }
        let (client, connection) = self.block_on(self.config.connect(NoTls)).map_err(pg)?;
        self.runtime().spawn(async move {
            let _ = connection.await;
        });
        let row = self
            .run(client.query_one("SELECT pg_try_advisory_lock($1, $2), pg_backend_pid()", &[&SPACE, &LEASE_LOCK]))?;
        if row.get::<_, bool>(0) {
            *lease = Some(Lease { client, pid: row.get(1) });
            return Ok(true);
        }
        Ok(false)
    }

    fn release_lease(&self) {
        // Closing the session releases its advisory lock.
        self.lease.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}
