//! The anchor: PostgreSQL 15 logical replication moving the same records
//! as `push` does, measured in the same run on the same machine, so every
//! ratio in the README comes from one run. A publisher and a subscriber
//! cluster are started here (`initdb` in temp dirs, loopback ports, fsync
//! on); a client writes the records into the publisher in the same batches
//! a node pushes, and a figure ends when the subscriber has applied them.
//! The subscription commits with `synchronous_commit = on`: what it
//! applied is flushed, as central flushes a push before acknowledging it.

use std::time::{Duration, Instant};

use anyhow::Context;
use kechuang_proto::pb;
use kechuang_testkit::Postgres;
use prost::Message;
use serde_json::json;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

use crate::{percentile, report, sample};

/// How often the subscriber is asked whether it has caught up.
const POLL: Duration = Duration::from_millis(2);

/// Replicates `records` records (bulk), then 1% of them changed
/// (incremental), then times the subscription reconnecting with nothing to
/// receive (no-op).
pub async fn anchor(records: usize, batch: usize) -> anyhow::Result<()> {
    kechuang_testkit::server_binaries()
        .context("anchor: PostgreSQL 15's server binaries are missing (install Debian's postgresql package)")?;
    let publisher = Postgres::start_with(&["wal_level = logical"])?;
    // The launcher starts a re-enabled subscription's worker within 50 ms
    // (5 s by default), so the no-op times the reconnection itself.
    let subscriber = Postgres::start_with(&["wal_retrieve_retry_interval = '50ms'"])?;
    let schema = "CREATE TABLE records (id text PRIMARY KEY, version bigint NOT NULL, body bytea NOT NULL)";
    publisher.psql(&format!("{schema}; CREATE PUBLICATION anchor FOR TABLE records"))?;
    subscriber.psql(schema)?;
    // On its own: CREATE SUBSCRIPTION cannot run inside psql's transaction.
    subscriber.psql(&format!(
        "CREATE SUBSCRIPTION anchor CONNECTION 'host=127.0.0.1 port={} user=kechuang dbname=postgres' \
         PUBLICATION anchor WITH (synchronous_commit = 'on')",
        publisher.port()
    ))?;
    let mut source = connect(&publisher).await?;
    let replica = connect(&subscriber).await?;
    wait("the subscription's initial sync", Duration::from_secs(60), || async {
        let ready = "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'";
        Ok(replica.query_one(ready, &[]).await?.get::<_, i64>(0) == 0)
    })
    .await?;

    let rows = sample::records("anchor", records, 2);
    let encoded: Vec<(String, Vec<u8>)> =
        rows.iter().map(|r| (r.meta.id.to_string(), pb::Record::from(r.clone()).encode_to_vec())).collect();
    let bytes: usize = encoded.iter().map(|(id, body)| id.len() + body.len()).sum();

    // Bulk: every batch committed at the publisher, and applied at the subscriber.
    let insert = "INSERT INTO records SELECT id, 1, body FROM unnest($1::text[], $2::bytea[]) AS r(id, body)";
    let started = Instant::now();
    for chunk in encoded.chunks(batch) {
        let (ids, bodies): (Vec<&str>, Vec<&[u8]>) = chunk.iter().map(|(i, b)| (i.as_str(), b.as_slice())).unzip();
        source.execute(insert, &[&ids, &bodies]).await?;
    }
    held(&replica, "SELECT count(*) FROM records", records, "every record at the subscriber").await?;
    let secs = started.elapsed().as_secs_f64();
    let rate = records as f64 / secs;
    report(
        json!({"scenario": "anchor", "records": records, "batch": batch, "seconds": secs, "records_per_sec": rate,
               "mb_per_sec": bytes as f64 / secs / 1e6, "record_bytes": bytes / records.max(1)}),
        format!(
            "anchor (PostgreSQL 15 logical replication): {records} records committed at the publisher and applied \
             at the subscriber in {secs:.2} s = {rate:.0} records/s"
        ),
    );

    // The same records again (new ids), a statement per record in each
    // batch's transaction, pipelined on the connection: how a client
    // writing record by record loads them.
    let again: Vec<(String, &[u8])> = encoded.iter().map(|(id, body)| (format!("{id}-2"), body.as_slice())).collect();
    let single = source.prepare("INSERT INTO records VALUES ($1, 1, $2)").await?;
    let started = Instant::now();
    for chunk in again.chunks(batch) {
        let tx = source.transaction().await?;
        let params: Vec<[&(dyn ToSql + Sync); 2]> = chunk.iter().map(|(id, body)| [id as _, body as _]).collect();
        futures_util::future::try_join_all(params.iter().map(|p| tx.execute(&single, p))).await?;
        tx.commit().await?;
    }
    held(&replica, "SELECT count(*) FROM records", 2 * records, "every record at the subscriber").await?;
    let secs = started.elapsed().as_secs_f64();
    let rate = records as f64 / secs;
    report(
        json!({"scenario": "anchor_per_record", "records": records, "batch": batch, "seconds": secs,
               "records_per_sec": rate}),
        format!(
            "anchor, a pipelined statement per record: {records} records committed at the publisher and applied at the \
             subscriber in {secs:.2} s = {rate:.0} records/s"
        ),
    );

    // Incremental: 1% of the records changed, in one batch as a node would push them.
    let changed: Vec<(String, Vec<u8>)> = rows
        .iter()
        .step_by(100)
        .map(|r| (r.meta.id.to_string(), pb::Record::from(sample::edited(r)).encode_to_vec()))
        .collect();
    let update = "UPDATE records SET version = 2, body = u.body \
                  FROM unnest($1::text[], $2::bytea[]) AS u(id, body) WHERE records.id = u.id";
    let started = Instant::now();
    for chunk in changed.chunks(batch) {
        let (ids, bodies): (Vec<&str>, Vec<&[u8]>) = chunk.iter().map(|(i, b)| (i.as_str(), b.as_slice())).unzip();
        source.execute(update, &[&ids, &bodies]).await?;
    }
    let query = "SELECT count(*) FROM records WHERE version = 2";
    held(&replica, query, changed.len(), "the changes at the subscriber").await?;
    let secs = started.elapsed().as_secs_f64();
    report(
        json!({"scenario": "anchor_incremental", "records": changed.len(), "milliseconds": secs * 1e3}),
        format!("anchor incremental: {} changed records at the subscriber in {:.1} ms", changed.len(), secs * 1e3),
    );

    // No-op: the subscription reconnecting with nothing to receive, until
    // its worker streams again.
    let mut times = Vec::new();
    for _ in 0..5 {
        replica.execute("ALTER SUBSCRIPTION anchor DISABLE", &[]).await?;
        wait("the subscription's worker to stop", Duration::from_secs(60), || async {
            Ok(streaming(&replica).await? == 0)
        })
        .await?;
        let started = Instant::now();
        replica.execute("ALTER SUBSCRIPTION anchor ENABLE", &[]).await?;
        wait("the subscription streaming again", Duration::from_secs(60), || async {
            Ok(streaming(&replica).await? > 0)
        })
        .await?;
        times.push(started.elapsed());
    }
    times.sort();
    report(
        json!({"scenario": "anchor_noop", "p50_ms": percentile(&times, 0.5), "p99_ms": percentile(&times, 0.99),
               "records_sent": 0}),
        format!(
            "anchor no-op: the subscription reconnected and streaming with nothing to receive, p50 {:.1} ms",
            percentile(&times, 0.5)
        ),
    );
    Ok(())
}

/// How many subscription workers are streaming (they have received something).
async fn streaming(replica: &Client) -> anyhow::Result<i64> {
    let query = "SELECT count(*) FROM pg_stat_subscription WHERE pid IS NOT NULL AND received_lsn IS NOT NULL";
    Ok(replica.query_one(query, &[]).await?.get(0))
}

/// Waits until `count` (a `SELECT count(*)`) at the subscriber reaches `target`.
async fn held(replica: &Client, count: &str, target: usize, what: &str) -> anyhow::Result<()> {
    wait(what, Duration::from_secs(600), || async {
        Ok(replica.query_one(count, &[]).await?.get::<_, i64>(0) >= target as i64)
    })
    .await
}

async fn connect(cluster: &Postgres) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(&cluster.url(), NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("anchor: connection to PostgreSQL ended: {e}");
        }
    });
    Ok(client)
}

/// Polls `done` every [`POLL`] until it holds, or fails after `limit`.
async fn wait<F, Fut>(what: &str, limit: Duration, mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + limit;
    while !done().await? {
        anyhow::ensure!(Instant::now() < deadline, "anchor: waited {limit:?} for {what}");
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}
