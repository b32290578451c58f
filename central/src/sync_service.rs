//! The `Sync` service: nodes open a session, push their changes, follow
//! their feed and ask what they should hold. Every call is identified by
//! the node's certificate and rate-limited per node; calls that read the
//! whole store are also charged by the records they read.

use std::pin::Pin;
use std::sync::Arc;

use kechuang_proto::pb::{self, sync_server::Sync};
use kechuang_store::{Pushed, crash};
use kechuang_sync::{Bounds, Digest, Incoming, Peer, RANGES, Refusal, held_by, range_of};
use kechuang_types::{Date, Record, RecordId, Timestamp, limits};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::{debug, info, warn};

use crate::error;
use crate::server::State;

/// Central's implementation of `kechuang.v1.Sync`.
#[derive(Clone)]
pub struct SyncService {
    state: Arc<State>,
}

impl SyncService {
    /// A service over central's shared state.
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    /// The calling node, admitted by certificate, revocation list and rate limit.
    fn admit<T>(&self, request: &Request<T>) -> Result<Peer, Status> {
        let peer = self.state.trust.peer(request)?;
        self.state.limit.check(&peer.id)?;
        Ok(peer)
    }

    /// What admission measures pushes against, now.
    fn bounds(&self) -> Bounds {
        let now = Timestamp::now();
        Bounds {
            now_ms: now.0.max(0) as u64,
            max_skew_ms: self.state.max_clock_skew.as_millis() as u64,
            today: Date::on(now),
        }
    }

    /// The digest of what `peer` should hold, whole and per id range: from
    /// the cache when nothing was logged since, else by a scan charged to
    /// the node. A node's scans run one at a time, and a scan whose caller
    /// gave up still finishes into the cache: a node polling a slow central
    /// waits for the scan under way instead of piling up new ones.
    async fn digests(&self, peer: Peer) -> Result<Arc<Digests>, Status> {
        let state = &self.state;
        if let Some(cached) = state.digests.get(&peer.id, state.store.head()) {
            return Ok(cached);
        }
        let turn = state.digests.scan_turn(&peer.id).await;
        let head = state.store.head();
        if let Some(cached) = state.digests.get(&peer.id, head) {
            return Ok(cached);
        }
        state.scans.admit(&peer.id)?;
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let started = std::time::Instant::now();
            let mut ranges = vec![Digest::default(); RANGES];
            let mut scanned = 0u64;
            let scan = state.store.for_each(|record| {
                scanned += 1;
                if let Some(view) = held_by(&record, &peer) {
                    ranges[range_of(&view.meta.id)].add(&view);
                }
            });
            state.scans.charge(&peer.id, scanned);
            debug!(node = %peer.id, scanned, ms = started.elapsed().as_millis() as u64, "digest scanned");
            scan.map_err(error::storage)?;
            let mut whole = Digest::default();
            ranges.iter().for_each(|d| whole.combine(d));
            let digests = Arc::new(Digests { whole, ranges });
            state.digests.put(peer.id, head, digests.clone());
            Ok(digests)
        })
        .await
        .map_err(error::join)?
    }
}

/// What a node should hold, as digests.
#[derive(Debug)]
pub struct Digests {
    whole: Digest,
    ranges: Vec<Digest>,
}

type FeedStream = Pin<Box<dyn Stream<Item = Result<pb::FeedBatch, Status>> + Send>>;

#[tonic::async_trait]
impl Sync for SyncService {
    async fn hello(&self, request: Request<pb::HelloRequest>) -> Result<Response<pb::HelloResponse>, Status> {
        let peer = self.admit(&request)?;
        let store = self.state.store.clone();
        let p = peer.clone();
        let entry = tokio::task::spawn_blocking(move || store.register(&p))
            .await
            .map_err(error::join)?
            .map_err(error::storage)?;
        // The sequence reported acknowledges: it must be on disk, whoever applied it.
        self.state.durability.wait().await.map_err(error::storage)?;
        if let Err(e) = self.state.store.note_seen(&peer.id, Timestamp::now()) {
            warn!(node = %peer.id, error = %e, "noting the node's contact failed");
        }
        let expires = request
            .peer_certs()
            .and_then(|certs| certs.first().and_then(|leaf| kechuang_pki::expiry_of(leaf).ok()))
            .map(Timestamp);
        self.state.roster.hello(&peer.id, &request.get_ref().version, expires);
        self.state.turns.session(&peer.id, entry.acked_seq);
        info!(node = %peer.id, kind = %peer.kind, region = %peer.region, acked = entry.acked_seq, "node session opened");
        let bounds = self.bounds();
        Ok(Response::new(pb::HelloResponse {
            acked_seq: entry.acked_seq,
            central_time_ms: bounds.now_ms,
            max_skew_ms: bounds.max_skew_ms,
            pipelined_push: true,
        }))
    }

    async fn push(&self, request: Request<pb::PushRequest>) -> Result<Response<pb::PushResponse>, Status> {
        let peer = self.admit(&request)?;
        let changes = request.into_inner().changes;
        if changes.len() > limits::BATCH {
            return Err(Status::invalid_argument(format!(
                "changes: {} in one batch, at most {}",
                changes.len(),
                limits::BATCH
            )));
        }
        let changes_in = changes.len();
        let mut batch = Vec::with_capacity(changes.len());
        for (i, change) in changes.into_iter().enumerate() {
            batch.push((change.seq, incoming(i, change.record)?));
        }
        if let Some((first, _)) = batch.first() {
            self.state.turns.wait(&peer.id, *first).await?;
        }
        // Applied and flushed in a task of its own: if the node goes away
        // mid-call, its write is still made durable and reaches the feeds.
        let state = self.state.clone();
        let (writer, bounds) = (peer.clone(), self.bounds());
        let pushed = tokio::spawn(async move {
            let store = state.store.clone();
            let node = writer.id.clone();
            let pushed = tokio::task::spawn_blocking(move || store.apply_push(&writer, &batch, &bounds)).await;
            if let Ok(Ok(Pushed::Applied(outcome))) = &pushed {
                // The node's next batch may apply while this one is flushed.
                state.turns.applied(&node, outcome.acked_seq);
                crash::point("push-applied");
                state.durability.wait().await?;
                crash::point("push-durable");
            } else {
                state.turns.broken(&node);
            }
            Ok::<_, kechuang_store::Error>(pushed)
        })
        .await
        .map_err(error::join)?
        .map_err(error::storage)?
        .map_err(error::join)?;
        match pushed {
            Ok(Pushed::Applied(outcome)) => {
                debug!(node = %peer.id, acked = outcome.acked_seq, changed = outcome.changed.len(), "push applied");
                let counters = &self.state.counters;
                counters.pushes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                counters.pushed_changes.fetch_add(changes_in as u64, std::sync::atomic::Ordering::Relaxed);
                Ok(Response::new(pb::PushResponse { acked_seq: outcome.acked_seq, refused: vec![] }))
            }
            Ok(Pushed::Refused(refused)) => {
                self.state
                    .counters
                    .refused_changes
                    .fetch_add(refused.len() as u64, std::sync::atomic::Ordering::Relaxed);
                for r in &refused {
                    info!(node = %peer.id, seq = r.seq, record = %r.id, field = %r.refusal.field, reason = %r.refusal.reason, "change refused");
                }
                let acked_seq = self.state.store.node(&peer.id).map_err(error::storage)?.map_or(0, |n| n.acked_seq);
                let refused = refused
                    .into_iter()
                    .map(|r| pb::Refusal {
                        seq: r.seq,
                        id: r.id.as_bytes().to_vec(),
                        field: r.refusal.field,
                        reason: r.refusal.reason,
                        current: r.current.map(Into::into),
                    })
                    .collect();
                Ok(Response::new(pb::PushResponse { acked_seq, refused }))
            }
            Err(kechuang_store::Error::Sequence(reason)) => {
                info!(node = %peer.id, %reason, "push out of sequence");
                Err(Status::invalid_argument(format!("{reason}; nothing of this push was applied")))
            }
            Err(e) => Err(error::storage(e)),
        }
    }

    type FeedStream = FeedStream;

    async fn feed(&self, request: Request<pb::FeedRequest>) -> Result<Response<Self::FeedStream>, Status> {
        let peer = self.admit(&request)?;
        let connection = request.remote_addr();
        let cursor = request.into_inner().cursor;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        info!(node = %peer.id, cursor, "feed opened");
        let state = self.state.clone();
        let shutdown = self.state.shutdown.child_token();
        self.state.tasks.spawn(crate::feed::serve(state, peer, connection, cursor, tx, shutdown));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn stats(&self, request: Request<pb::StatsRequest>) -> Result<Response<pb::StatsResponse>, Status> {
        let peer = self.admit(&request)?;
        let scope = kechuang_stats::Scope::for_station(&peer.id, peer.kind, peer.region);
        let query = crate::stats::query(request.get_ref(), scope)?;
        self.state.scans.admit(&peer.id)?;
        let (report, read) = crate::stats::answer(self.state.clone(), query).await?;
        self.state.scans.charge(&peer.id, read);
        Ok(Response::new(crate::stats::response(&report)?))
    }

    async fn search(&self, request: Request<pb::SearchRequest>) -> Result<Response<pb::SearchResponse>, Status> {
        let peer = self.admit(&request)?;
        let query = search_query(request.get_ref())?;
        let matcher = self.state.matcher.clone();
        let store = self.state.store.clone();
        let hits = tokio::task::spawn_blocking(move || matcher.search(&store, &peer, &query))
            .await
            .map_err(error::join)?
            .map_err(error::act)?;
        let hits =
            hits.into_iter().map(|(record, score)| pb::SearchHit { record: Some(record.into()), score }).collect();
        Ok(Response::new(pb::SearchResponse { hits }))
    }

    async fn interest(&self, request: Request<pb::InterestRequest>) -> Result<Response<pb::InterestResponse>, Status> {
        let peer = self.admit(&request)?;
        let r = request.into_inner();
        let id = |field: &str, text: &str| {
            text.trim()
                .parse::<RecordId>()
                .map_err(|_| Status::invalid_argument(format!("{field}: not a record id: {text:?}")))
        };
        let (demand, supply) = (id("demand_id", &r.demand_id)?, id("supply", &r.supply)?);
        let note = r.note.trim().to_owned();
        kechuang_types::check_text("note", &note, kechuang_types::limits::SHORT_TEXT * 5, false)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let (matcher, store) = (self.state.matcher.clone(), self.state.store.clone());
        let record = tokio::task::spawn_blocking(move || matcher.interest(&store, &peer, demand, supply, &note))
            .await
            .map_err(error::join)?
            .map_err(error::act)?;
        // Acknowledged once durable, so the feeds deliver it.
        self.state.durability.wait().await.map_err(error::storage)?;
        Ok(Response::new(pb::InterestResponse { r#match: Some(record.into()) }))
    }

    async fn digest(&self, request: Request<pb::DigestRequest>) -> Result<Response<pb::DigestResponse>, Status> {
        let peer = self.admit(&request)?;
        let digests = self.digests(peer).await?;
        Ok(Response::new(pb::DigestResponse { digest: digests.whole.to_string() }))
    }

    async fn range_digests(
        &self,
        request: Request<pb::DigestRequest>,
    ) -> Result<Response<pb::RangeDigestsResponse>, Status> {
        let peer = self.admit(&request)?;
        let digests = self.digests(peer).await?;
        Ok(Response::new(pb::RangeDigestsResponse { digests: digests.ranges.iter().map(Digest::to_string).collect() }))
    }

    type ResyncStream = FeedStream;

    async fn resync(&self, request: Request<pb::ResyncRequest>) -> Result<Response<Self::ResyncStream>, Status> {
        let peer = self.admit(&request)?;
        let connection = request.remote_addr();
        let mut wanted = [false; RANGES];
        for (i, range) in request.into_inner().ranges.into_iter().enumerate() {
            let slot = wanted
                .get_mut(range as usize)
                .ok_or_else(|| Status::invalid_argument(format!("ranges[{i}]: {range} is not below {RANGES}")))?;
            *slot = true;
        }
        self.state.scans.admit(&peer.id)?;
        info!(node = %peer.id, ranges = wanted.iter().filter(|w| **w).count(), "resync requested");
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let state = self.state.clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let (node, stall) = (peer.id.clone(), state.feed_stall);
            let send = |batch| runtime.block_on(crate::feed::send(&state, connection, &tx, batch, stall));
            let mut batch = Vec::with_capacity(RESYNC_BATCH);
            let (mut scanned, mut open) = (0u64, true);
            let result = state.store.for_each(|record| {
                scanned += 1;
                if !open || !wanted[range_of(&record.meta.id)] {
                    return;
                }
                if let Some(view) = held_by(&record, &peer) {
                    batch.push(view.into());
                }
                if batch.len() == RESYNC_BATCH {
                    let records = std::mem::replace(&mut batch, Vec::with_capacity(RESYNC_BATCH));
                    open = send(pb::FeedBatch { records, cursor: 0, caught_up: false });
                }
            });
            state.scans.charge(&node, scanned);
            match result {
                Ok(()) if open => {
                    send(pb::FeedBatch { records: batch, cursor: 0, caught_up: true });
                }
                Ok(()) => {}
                Err(e) => {
                    let _ = tx.try_send(Err(error::storage(e)));
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Records sent per resync batch.
const RESYNC_BATCH: usize = 512;

/// What change `index` carries: a record that fails validation is refused
/// like any other change, unless it does not even name a record.
fn incoming(index: usize, wire: Option<pb::Record>) -> Result<Incoming, Status> {
    let Some(wire) = wire else { return Ok(Incoming::Withdrawn) };
    let id = wire.meta.as_ref().and_then(|m| <[u8; 16]>::try_from(m.id.as_slice()).ok()).map(RecordId::from_bytes);
    match (Record::try_from(wire), id) {
        (Ok(record), _) => Ok(Incoming::Record(Box::new(record))),
        (Err(e), Some(id)) => Ok(Incoming::Invalid { id, refusal: Refusal::new(e.field(), e.reason()) }),
        (Err(e), None) => Err(error::invalid(&format!("changes[{index}]"), e)),
    }
}

/// Most hits one search returns.
const SEARCH_MOST: u32 = 100;

/// A search request checked field by field.
fn search_query(r: &pb::SearchRequest) -> Result<crate::matcher::SearchQuery, Status> {
    use crate::matcher::{RegionFilter, SearchQuery};
    use kechuang_matching::Catalogue;
    let invalid = |field: &str, why: String| Status::invalid_argument(format!("{field}: {why}"));
    let text = r.text.trim().to_owned();
    if text.is_empty() || text.chars().count() > 200 {
        return Err(invalid("text", "say what to look for, in at most 200 characters".into()));
    }
    let catalogue = match r.kind.as_str() {
        "demands" | "demand" => Catalogue::Demands,
        "outcomes" | "outcome" => Catalogue::Outcomes,
        "experts" | "expert" => Catalogue::Experts,
        other => return Err(invalid("kind", format!("demands, outcomes or experts, not {other:?}"))),
    };
    let industry = r.industry.trim().to_ascii_uppercase();
    let mut chars = industry.chars();
    let industry_ok = industry.is_empty()
        || (industry.len() <= 5
            && chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && chars.all(|c| c.is_ascii_digit()));
    if !industry_ok {
        return Err(invalid("industry", format!("a GB/T 4754 code or its prefix (C38, C), not {:?}", r.industry)));
    }
    let region = r.region.trim();
    let region = match region {
        "" => None,
        digits if digits.len() < 6 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(RegionFilter::Prefix(digits.into()))
        }
        text => Some(RegionFilter::Within(
            kechuang_types::Region::lookup("region", text).map_err(|e| Status::invalid_argument(e.to_string()))?,
        )),
    };
    let limit = match r.limit {
        0 => 20,
        n if n <= SEARCH_MOST => n,
        n => return Err(invalid("limit", format!("at most {SEARCH_MOST}, not {n}"))),
    };
    Ok(SearchQuery { text, catalogue, industry, region, limit: limit as usize })
}
