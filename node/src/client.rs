//! The sync client: one session at a time with central, reconnecting with
//! backoff. A session opens with `Hello` (central says how far it applied
//! this node's pushes), then pushes the outbox in order and applies the
//! feed, each batch with its cursor in one atomic write.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kechuang_proto::pb::{self, sync_client::SyncClient};
use kechuang_store::{RefusedChange, crash};
use kechuang_types::{Record, limits};
use prost::Message;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tonic::transport::{Channel, Endpoint};
use tracing::{debug, info, warn};

use crate::daemon::{Node, Stats};
use crate::events;

/// Most changes sent per push.
const PUSH_BATCH: usize = 1_000;
/// Pushes on their way at once, when central applies them in turn.
const PUSH_WINDOW: usize = 2;
/// Most encoded bytes per push, well under the message limit (1,000
/// records of the longest allowed text would exceed it).
const PUSH_BYTES: usize = limits::MESSAGE_BYTES / 2;
/// The first reconnect delay; doubles up to the configured maximum.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// How often a node receiving a backlog logs how far it has got.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

type Client = SyncClient<Channel>;

/// A sync client over an open mutual-TLS channel.
pub fn sync_client(channel: Channel) -> Client {
    SyncClient::new(channel)
        .max_decoding_message_size(limits::MESSAGE_BYTES)
        .max_encoding_message_size(limits::MESSAGE_BYTES)
}

/// The endpoint of central's instance at `url`, with this node's certificate.
pub fn endpoint(node: &Node, url: &str) -> anyhow::Result<Endpoint> {
    let c = &node.config;
    let tls = kechuang_pki::client_tls(
        &kechuang_pki::read(&c.ca_cert)?,
        &kechuang_pki::read(&c.cert)?,
        &kechuang_pki::read(&c.key)?,
    );
    Ok(Endpoint::from_shared(url.to_owned())?
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5)))
}

/// Keeps a session with central up until `shutdown`. With several central
/// instances, a session that ends (an instance unreachable, or silent past
/// the keep-alive timeout) moves on to the next at once; only after every
/// instance has failed in a row does the node wait, doubling the wait up to
/// `max_backoff`, with jitter, so that thousands of stations cut off
/// together do not come back in step.
pub async fn run(node: Arc<Node>, shutdown: CancellationToken) {
    let urls = node.config.central.clone();
    let mut backoff = FIRST_BACKOFF;
    let (mut at, mut failed_in_a_row) = (0, 0);
    loop {
        let url = &urls[at % urls.len()];
        let started = Instant::now();
        let result = tokio::select! {
            r = session(&node, url) => r,
            () = shutdown.cancelled() => Ok(()),
        };
        node.stats.connected.store(false, Ordering::Relaxed);
        node.central.send_replace(None);
        if shutdown.is_cancelled() {
            return;
        }
        if let Err(e) = result {
            warn!(node = %node.config.id, central = %url, error = format!("{e:#}"), "sync session ended");
        }
        if started.elapsed() > Duration::from_secs(10) {
            backoff = FIRST_BACKOFF;
            failed_in_a_row = 0;
        }
        failed_in_a_row += 1;
        at += 1;
        if urls.len() > 1 && failed_in_a_row < urls.len() {
            continue; // the next instance, at once
        }
        failed_in_a_row = 0;
        let wait = jitter(backoff);
        debug!(retry_in_ms = wait.as_millis() as u64, "every central instance failed; waiting");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(node.config.max_backoff);
    }
}

/// `wait` scaled by a random factor between ½ and 1½.
fn jitter(wait: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    wait.mul_f64(0.5 + (random % 1_000) as f64 / 1_000.0)
}

async fn session(node: &Arc<Node>, url: &str) -> anyhow::Result<()> {
    let channel = endpoint(node, url)?.connect().await?;
    let mut client = sync_client(channel.clone());
    let hello = client.hello(pb::HelloRequest { version: env!("CARGO_PKG_VERSION").into() }).await?.into_inner();
    let acked = hello.acked_seq;
    check_clock(node, &hello);
    let store = node.store.clone();
    tokio::task::spawn_blocking(move || store.resume_from(acked)).await??;
    let cursor = node.store.cursor()?;
    let feed = client.feed(pb::FeedRequest { cursor }).await?.into_inner();
    node.stats.caught_up.store(false, Ordering::Relaxed);
    node.stats.connected.store(true, Ordering::Relaxed);
    node.central.send_replace(Some(channel));
    info!(node = %node.config.id, central = %url, acked, cursor, "connected to central");
    tokio::select! {
        r = push_loop(node, client.clone(), acked, hello.pipelined_push) => r,
        r = feed_loop(node, feed, cursor > 0) => r,
        r = repair_loop(node, client) => r,
    }
}

/// Notes how far this node's clock is from central's, and warns when it is
/// so far ahead that central will refuse what it versions.
fn check_clock(node: &Node, hello: &pb::HelloResponse) {
    let offset = kechuang_types::Timestamp::now().0 - hello.central_time_ms as i64;
    node.stats.clock_offset_ms.store(offset, Ordering::Relaxed);
    if offset > hello.max_skew_ms as i64 {
        warn!(
            node = %node.config.id,
            ahead_ms = offset,
            allowed_ms = hello.max_skew_ms,
            "this machine's clock is ahead of central's: central will refuse the changes it versions; set the clock right"
        );
    }
}

/// One push on its way: what it carries and the call that carries it.
struct InFlight {
    pushed: Vec<(u64, Option<Record>)>,
    last: u64,
    count: u64,
    bytes: u64,
    call: AbortOnDropHandle<Result<tonic::Response<pb::PushResponse>, tonic::Status>>,
}

/// Pushes the outbox in order. With a central that applies pushes in
/// turn, [`PUSH_WINDOW`] are on their way at once: the next batch travels
/// while central applies the one before. Acknowledgements are taken in
/// order; a refusal drops the pushes after it, which central judged out of
/// sequence, and the outbox is pushed again from what was acknowledged.
async fn push_loop(node: &Arc<Node>, client: Client, acked: u64, pipelined: bool) -> anyhow::Result<()> {
    let window = if pipelined { PUSH_WINDOW } else { 1 };
    let (mut acked, mut sent) = (acked, acked);
    let mut in_flight = std::collections::VecDeque::with_capacity(window);
    loop {
        while in_flight.len() < window {
            let Some(push) = next_push(node, &client, sent).await? else { break };
            sent = push.last;
            in_flight.push_back(push);
        }
        let Some(push) = in_flight.pop_front() else {
            node.outbox_grew.notified().await;
            continue;
        };
        let response = push.call.await??.into_inner();
        Stats::add(&node.stats.pushed_records, push.count);
        Stats::add(&node.stats.pushed_bytes, push.bytes);
        if !response.refused.is_empty() {
            // Nothing of the push was applied: withdraw what central
            // refused, put those records back to central's copy, and push
            // the rest again.
            in_flight.clear();
            take_refusals(node, push.pushed, response.refused).await?;
            sent = acked;
            continue;
        }
        if response.acked_seq < push.last {
            anyhow::bail!("central acknowledged {} of a batch up to {}", response.acked_seq, push.last);
        }
        acked = response.acked_seq;
        crash::point("push-acked");
        let store = node.store.clone();
        tokio::task::spawn_blocking(move || store.ack(acked)).await??;
        node.stats.synced();
        debug!(acked, count = push.count, "push acknowledged");
    }
}

/// Sends the outbox's next batch after `sent`, if there is one.
async fn next_push(node: &Node, client: &Client, sent: u64) -> anyhow::Result<Option<InFlight>> {
    let store = node.store.clone();
    let pending = tokio::task::spawn_blocking(move || store.outbox_after(sent, PUSH_BATCH)).await??;
    if pending.is_empty() {
        return Ok(None);
    }
    let wire: Vec<pb::Change> =
        pending.iter().map(|(seq, record)| pb::Change { seq: *seq, record: record.clone().map(Into::into) }).collect();
    // What does not fit one message goes in the next push.
    let changes = kechuang_proto::split_by_size(wire, PUSH_BATCH, PUSH_BYTES).into_iter().next().unwrap_or_default();
    let last = changes.last().map_or(sent, |c| c.seq);
    let mut pushed = pending;
    pushed.truncate(changes.len());
    let request = pb::PushRequest { changes };
    let (count, bytes) = (request.changes.len() as u64, request.encoded_len() as u64);
    let mut client = client.clone();
    let call = AbortOnDropHandle::new(tokio::spawn(async move { client.push(request).await }));
    Ok(Some(InFlight { pushed, last, count, bytes, call }))
}

/// Records central's refusals of `pushed` in the store (see
/// [`kechuang_store::NodeStore::refuse`]) and tells the operator's log.
async fn take_refusals(
    node: &Node,
    pushed: Vec<(u64, Option<Record>)>,
    refused: Vec<pb::Refusal>,
) -> anyhow::Result<()> {
    let mut changes = Vec::with_capacity(refused.len());
    for r in refused {
        let id = <[u8; 16]>::try_from(r.id.as_slice())
            .map(kechuang_types::RecordId::from_bytes)
            .map_err(|_| anyhow::anyhow!("central refused a change without a record id"))?;
        let current = r
            .current
            .map(Record::try_from)
            .transpose()
            .map_err(|e| anyhow::anyhow!("central sent an invalid record: {e}"))?;
        changes.push(RefusedChange { seq: r.seq, id, field: r.field, reason: r.reason, current });
    }
    let (store, me) = (node.store.clone(), node.config.id.clone());
    let logged = tokio::task::spawn_blocking(move || store.refuse(&me, &pushed, &changes)).await??;
    for r in &logged {
        node.events.tell(events::Event {
            seq: 0,
            kind: "refused",
            at: String::new(),
            record: r.id.to_string(),
            title: r.title.clone(),
            state: String::new(),
            detail: format!("{}: {}", r.field, r.reason),
        });
        warn!(
            node = %node.config.id, seq = r.seq, record = %r.id, kind = %r.kind, title = %r.title,
            field = %r.field, reason = %r.reason, restored = r.restored,
            "central refused a change; see `kechuang-node list refused`"
        );
    }
    Ok(())
}

/// Applies feed batches as they come; while a backlog streams in (an
/// initial sync, or catching up after time offline) logs its progress
/// every few seconds, and once when caught up.
///
/// Tells the operator of what the batches bring (see [`crate::events`]),
/// except during a node's first sync: `telling` is false until it is caught up.
async fn feed_loop(
    node: &Arc<Node>,
    mut feed: tonic::Streaming<pb::FeedBatch>,
    mut telling: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (mut received, mut reported, mut was_caught_up) = (0u64, Instant::now(), false);
    while let Some(batch) = feed.message().await? {
        let bytes: u64 = batch.records.iter().map(|r| r.encoded_len() as u64).sum();
        let records: Vec<Record> = batch
            .records
            .into_iter()
            .map(Record::try_from)
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("central sent an invalid record: {e}"))?;
        let count = records.len() as u64;
        let cursor = batch.cursor;
        let caught_up = batch.caught_up || count == 0;
        let n = node.clone();
        let changed = tokio::task::spawn_blocking(move || {
            let mut clock = n.clock();
            n.store.apply_feed(&records, cursor, &mut clock)
        })
        .await??;
        crash::point("feed-applied");
        node.stats.synced();
        if telling {
            for (held, now) in &changed {
                if let Some(now) = now
                    && let Some(event) = events::of_change(&node.config.id, held.as_ref(), now)
                {
                    node.events.tell(event);
                }
            }
        }
        telling |= caught_up;
        let changed = changed.len();
        node.stats.caught_up.store(caught_up, Ordering::Relaxed);
        Stats::add(&node.stats.feed_records, count);
        Stats::add(&node.stats.feed_bytes, bytes);
        debug!(count, changed, cursor, "feed batch applied");
        received += count;
        if caught_up && !was_caught_up && received > 0 {
            let secs = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
            info!(node = %node.config.id, records = received, cursor, secs, "caught up with central");
        } else if !caught_up && reported.elapsed() >= PROGRESS_EVERY {
            info!(node = %node.config.id, records = received, cursor, "receiving from central");
            reported = Instant::now();
        }
        was_caught_up = caught_up;
    }
    anyhow::bail!("central closed the feed")
}

/// Every `repair_every`, while the feed is caught up and nothing waits to be
/// pushed, compares this node's digest with what central says it should
/// hold; a difference seen twice in a row (so not a batch on its way) is
/// repaired by resyncing only the id ranges whose digests differ.
async fn repair_loop(node: &Arc<Node>, mut client: Client) -> anyhow::Result<()> {
    let mut suspect = false;
    loop {
        tokio::time::sleep(node.config.repair_every).await;
        if !node.stats.caught_up.load(Ordering::Relaxed) {
            suspect = false;
            continue;
        }
        let store = node.store.clone();
        let (unacked, ours) = tokio::task::spawn_blocking(move || {
            let (_, digest) = store.summary()?;
            Ok::<_, kechuang_store::Error>((store.unacked()?, digest))
        })
        .await??;
        let theirs = client.digest(pb::DigestRequest {}).await?.into_inner().digest;
        if unacked > 0 || theirs == ours.to_string() {
            suspect = false;
            continue;
        }
        if !suspect {
            suspect = true;
            continue;
        }
        suspect = false;
        repair(node, &mut client).await?;
    }
}

/// Resyncs the id ranges whose digest differs from central's.
async fn repair(node: &Arc<Node>, client: &mut Client) -> anyhow::Result<()> {
    let theirs = client.range_digests(pb::DigestRequest {}).await?.into_inner().digests;
    let store = node.store.clone();
    let ours = tokio::task::spawn_blocking(move || store.range_digests()).await??;
    anyhow::ensure!(theirs.len() == ours.len(), "central sent {} range digests, expected {}", theirs.len(), ours.len());
    let ranges: Vec<usize> =
        ours.iter().zip(&theirs).enumerate().filter(|(_, (o, t))| o.to_string() != **t).map(|(i, _)| i).collect();
    if ranges.is_empty() {
        return Ok(());
    }
    let request = pb::ResyncRequest { ranges: ranges.iter().map(|r| *r as u32).collect() };
    let mut stream = client.resync(request).await?.into_inner();
    let mut records = Vec::new();
    while let Some(batch) = stream.message().await? {
        for record in batch.records {
            records.push(Record::try_from(record).map_err(|e| anyhow::anyhow!("central sent an invalid record: {e}"))?);
        }
    }
    let received = records.len() as u64;
    let (store, me, repaired) = (node.store.clone(), node.config.id.clone(), ranges.clone());
    let report = tokio::task::spawn_blocking(move || store.repair(&repaired, &records, &me)).await??;
    Stats::add(&node.stats.repairs, 1);
    Stats::add(&node.stats.repaired_records, received);
    if report.requeued > 0 {
        node.outbox_grew.notify_one();
    }
    info!(
        node = %node.config.id,
        ranges = ranges.len(),
        received,
        written = report.written,
        removed = report.removed,
        requeued = report.requeued,
        "repaired the id ranges whose digest differed from central's"
    );
    Ok(())
}
