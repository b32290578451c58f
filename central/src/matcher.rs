//! Central's matching loop: keeps the full-text index up to date with the
//! records nodes push, proposes matches local first, escalates demands
//! whose proposals go unanswered, releases contacts once both sides
//! accept, and turns an awarded challenge bid into a contracted match.
//!
//! Runs off the request path: one task follows the durable change log like
//! a feed (so a burst of pushes waits on disk, not in memory), indexes and
//! matches each chunk in a blocking thread and writes the resulting matches
//! through the store and the durable log, so feeds deliver them like any
//! other change.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use kechuang_matching::{
    Candidate, Catalogue, DemandProfile, Engine, Escalation, LAST_STAGE, Params, Proposal, SupplyProfile, escalation,
    plan, takes_proposals, unanswered,
};
use kechuang_store::{CentralStore, NodeEntry};
use kechuang_sync::{Peer, contacts_released};
use kechuang_types::{
    BidState, Body, Clock, Contact, Date, Hlc, Landing, Match, MatchState, Meta, NodeId, NodeKind, Part, Record,
    RecordId, Region, Response, SupplyKind, Timestamp,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::server::State;

/// A (demand, supply) pair and its match's id, as the store keeps pairs.
type Pair = (RecordId, RecordId, RecordId);

/// Who the history credits with what matching does.
const CENTRAL: &str = "central";

/// Most proposals one demand receives over all its stages.
pub const MAX_PROPOSALS: usize = 10;
/// Open demands re-examined when new supply arrives.
const DEMANDS_PER_SUPPLY: usize = 50;
/// Log entries matched at a time.
const CHUNK: usize = 1_024;

/// What indexing and matching one chunk of the log wrote.
struct Ingested {
    /// Matches and other records written.
    written: Vec<Record>,
    /// Every demand the chunk touched was routed (false when stopped).
    complete: bool,
}

/// Where a demand is in its escalation, as central keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Routing {
    /// The stage reached: proposals up to it have been made.
    stage: u8,
    /// When that stage was reached (ms since the epoch).
    since_ms: i64,
    /// A proposal was accepted: no more escalation.
    settled: bool,
}

/// The matching engine and what drives it.
pub struct Matcher {
    engine: Mutex<Engine>,
    clock: Mutex<Clock>,
    window: Duration,
    /// How long a proposal waits for its answers before it expires.
    ttl: Duration,
    /// Versions further ahead of the wall clock than this are not taken
    /// into central's clock (they can only be left from before pushes
    /// were bounded).
    max_skew: Duration,
    index_dir: PathBuf,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher").field("window", &self.window).finish_non_exhaustive()
    }
}

fn marker(dir: &Path) -> PathBuf {
    dir.join("indexed-head")
}

/// The log position a marker records (`FORMAT POSITION`), if the index was
/// written in the current [`kechuang_matching::INDEX_FORMAT`].
fn parse_marker(text: &str) -> Option<u64> {
    let (format, at) = text.trim().split_once(' ')?;
    (format.parse::<u32>().ok()? == kechuang_matching::INDEX_FORMAT).then(|| at.parse().ok()).flatten()
}

impl Matcher {
    /// Opens the index in `index_dir`; matching starts once [`run`] has
    /// loaded (or rebuilt) it.
    pub fn open(index_dir: &Path, window: Duration, ttl: Duration, max_skew: Duration) -> anyhow::Result<Self> {
        let engine = Engine::open(index_dir, Params::default())
            .with_context(|| format!("opening the index in {}", index_dir.display()))?;
        Ok(Self {
            engine: Mutex::new(engine),
            clock: Mutex::new(Clock::resume(Hlc::ZERO)),
            window,
            ttl,
            max_skew,
            index_dir: index_dir.to_owned(),
        })
    }

    fn engine(&self) -> std::sync::MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tick(&self) -> anyhow::Result<Hlc> {
        Ok(self.clock.lock().unwrap_or_else(|p| p.into_inner()).tick()?)
    }

    /// Takes `version` into central's clock, unless it is further ahead of
    /// the wall clock than any push may be.
    fn observe(&self, version: Hlc) {
        let now = Timestamp::now().0.max(0) as u64;
        let mut clock = self.clock.lock().unwrap_or_else(|p| p.into_inner());
        if !clock.observe_within(version, now, self.max_skew.as_millis() as u64) {
            warn!(%version, "a stored version is far ahead of the clock: not taken into central's clock");
        }
    }

    /// Loads the profiles from the store, rebuilding the index if it is
    /// missing or was not closed cleanly; returns the log position to
    /// follow the log from: where the clean index ends, or after a crash
    /// where matching last recorded its progress, so changes acknowledged
    /// but not yet matched are matched now.
    /// `None` when `stop` came first: the index is then left without its
    /// marker, so the next start rebuilds it.
    fn load(&self, store: &CentralStore, stop: &CancellationToken) -> anyhow::Result<Option<u64>> {
        let head = store.head();
        let indexed: Option<u64> = std::fs::read_to_string(marker(&self.index_dir))
            .ok()
            .and_then(|s| parse_marker(&s))
            .filter(|at| *at <= head);
        // From now on the index may move ahead of the marker: a crash must force a rebuild.
        let _ = std::fs::remove_file(marker(&self.index_dir));
        let rebuild = indexed.is_none();
        let mut engine = self.engine();
        if rebuild {
            engine.clear()?;
        }
        let mut count = 0u64;
        for record in store.records() {
            if stop.is_cancelled() {
                return Ok(None);
            }
            let record = record?;
            self.observe(record.meta.version);
            if let Err(e) = engine.upsert(&record, rebuild) {
                error!(error = %e, "indexing a record failed");
            }
            count += 1;
        }
        engine.commit()?;
        let (outcomes, experts, demands) = engine.sizes();
        info!(rebuilt = rebuild, records = count, outcomes, experts, demands, "matching index ready");
        // Another instance sharing the store may have matched further
        // than this index's marker: its cursor is then the one to follow.
        let matched = store.matched_upto()?.min(head);
        Ok(Some(indexed.map_or(matched, |at| at.max(matched))))
    }

    /// Indexes `records` without matching them (an instance standing by).
    fn index(&self, records: &[Record]) -> anyhow::Result<()> {
        let mut engine = self.engine();
        for record in records {
            self.observe(record.meta.version);
            engine.upsert(record, true)?;
        }
        engine.commit()?;
        Ok(())
    }

    /// Notes that the index reflects the log up to `cursor` (on clean shutdown).
    fn save_marker(&self, cursor: u64) {
        let text = format!("{} {cursor}", kechuang_matching::INDEX_FORMAT);
        if let Err(e) = std::fs::write(marker(&self.index_dir), text) {
            warn!(error = %e, "could not record the index state; it will be rebuilt at start");
        }
    }

    /// Indexes `records` and works out the matching they cause; stops
    /// between demands once `stop` is cancelled, leaving the rest for the
    /// next start (routing a demand twice proposes nothing new).
    fn ingest(&self, store: &CentralStore, records: &[Record], stop: &CancellationToken) -> anyhow::Result<Ingested> {
        let mut demands: Vec<RecordId> = Vec::new();
        let mut writes: Vec<Record> = Vec::new();
        if stop.is_cancelled() {
            return Ok(Ingested { written: writes, complete: false });
        }
        {
            let mut engine = self.engine();
            for record in records {
                self.observe(record.meta.version);
                engine.upsert(record, true)?;
            }
            engine.commit()?;
            for record in records {
                match &record.body {
                    Body::Demand(_) => demands.push(record.meta.id),
                    Body::Outcome(_) | Body::Expert(_) | Body::Team(_) if !record.meta.deleted => {
                        if stop.is_cancelled() {
                            return Ok(Ingested { written: writes, complete: false });
                        }
                        demands.extend(engine.demands_for(record, DEMANDS_PER_SUPPLY)?);
                    }
                    _ => {}
                }
            }
        }
        for record in records {
            match &record.body {
                Body::Demand(_) | Body::Outcome(_) | Body::Expert(_) | Body::Team(_) if record.meta.deleted => {
                    writes.extend(self.withdraw_proposals(store, record)?);
                }
                Body::Match(_) => writes.extend(self.release_contacts(store, record)?),
                Body::Bid(b) if b.decision.value == BidState::Awarded => {
                    writes.extend(self.award(store, record)?);
                }
                _ => {}
            }
        }
        if !writes.is_empty() {
            store.apply_matching(&writes, &[], &[])?;
        }
        let mut seen = HashSet::new();
        let mut out = writes;
        let demands: Vec<RecordId> = demands.into_iter().filter(|d| seen.insert(*d)).collect();
        for (routed, demand) in demands.iter().enumerate() {
            if stop.is_cancelled() {
                info!(routed, left = demands.len() - routed, "matching stopped part-way; the rest is matched at start");
                return Ok(Ingested { written: out, complete: false });
            }
            out.extend(self.route(store, *demand, None, CENTRAL)?);
            kechuang_store::crash::point("matching-routed");
        }
        Ok(Ingested { written: out, complete: true })
    }

    /// Proposes the demand's candidates up to its current stage (or `stage`,
    /// when escalating); stores the matches and the routing state together.
    fn route(
        &self,
        store: &CentralStore,
        demand_id: RecordId,
        stage: Option<u8>,
        by: &str,
    ) -> anyhow::Result<Vec<Record>> {
        let now = Timestamp::now().0;
        let mut routing = match store.routing(&demand_id)? {
            Some(bytes) => serde_json::from_slice(&bytes).context("routing state")?,
            None => Routing { stage: 0, since_ms: now, settled: false },
        };
        if let Some(stage) = stage {
            routing.stage = stage;
            routing.since_ms = now;
        }
        let Some(record) = store.get(&demand_id)? else { return Ok(vec![]) };
        let existing: HashMap<RecordId, RecordId> = store.pairs_of(&demand_id)?.into_iter().collect();
        let held = self.proposals(store, &demand_id)?;
        let today = Date::today();
        if !takes_proposals(&record, &held, today) {
            return Ok(vec![]); // withdrawn, landed or closed
        }
        let Some(demand) = DemandProfile::from_record(&record) else { return Ok(vec![]) };
        let wanted = match &record.body {
            Body::Demand(d) => d.service_modes.clone(),
            _ => Vec::new(),
        };
        let engine = self.engine();
        let mut candidates = engine.rank(&demand, today)?;
        // An expert or team is proposed only in a mode the demand asks for,
        // where it serves, and with room for another engagement (already
        // proposed pairs stay).
        let mut fits = HashMap::new();
        for c in candidates.iter().filter(|c| c.kind != SupplyKind::Outcome && !existing.contains_key(&c.supply)) {
            if let Some(supply) = engine.supply(&c.supply) {
                fits.insert(c.supply, fits_demand(store, &engine, supply, &demand, &wanted)?);
            }
        }
        candidates.retain(|c| fits.get(&c.supply).copied().unwrap_or(true));
        let proposals = plan(&candidates, MAX_PROPOSALS);
        let nodes: Vec<NodeEntry> = store.nodes()?;
        let mut matches = Vec::new();
        let mut pairs = Vec::new();
        for Proposal { candidate, stage } in &proposals {
            if *stage > routing.stage || existing.contains_key(&candidate.supply) {
                continue;
            }
            let Some(supply) = engine.supply(&candidate.supply) else { continue };
            let explanation = engine.explain(&demand, candidate);
            let mut record =
                self.proposal(&demand, supply, candidate, landing_node(&demand, &nodes), MatchState::Proposed)?;
            if let Body::Match(m) = &mut record.body {
                m.explanation = explanation;
            }
            pairs.push((demand_id, candidate.supply, record.meta.id));
            matches.push(record);
        }
        drop(engine);
        let state = serde_json::to_vec(&routing)?;
        let written = store.apply_central(by, &matches, &[(demand_id, state)], &pairs)?;
        if !written.is_empty() {
            info!(demand = %demand_id, stage = routing.stage, proposed = written.len(), "matches proposed");
        }
        Ok(written)
    }

    /// A new match record from central.
    fn proposal(
        &self,
        demand: &DemandProfile,
        supply: &SupplyProfile,
        c: &Candidate,
        landing_node: NodeId,
        state: MatchState,
    ) -> anyhow::Result<Record> {
        let version = self.tick()?;
        let now = Timestamp::now();
        let m = Match {
            demand: demand.id,
            demand_owner: demand.owner.clone(),
            demand_region: demand.region,
            supply: supply.id,
            supply_kind: supply.kind,
            supply_owner: supply.owner.clone(),
            supply_region: supply.region,
            supply_nodes: supply.member_nodes.clone(),
            landing_node,
            score: (c.score * 1000.0).round() / 1000.0,
            tier: c.tier,
            explanation: String::new(),
            demand_title: demand.title.clone(),
            supply_title: supply.title.clone(),
            core: Part::new(version, state),
            core_reason: String::new(),
            demand_side: Part::new(Hlc::ZERO, Response::Pending),
            supply_side: Part::new(Hlc::ZERO, Response::Pending),
            landing: Part::new(Hlc::ZERO, Landing::Pending),
            demand_contact: None,
            supply_contact: None,
        };
        Ok(Record { meta: Meta::new(NodeId::central(), version, now), body: Body::Match(Box::new(m)) })
    }

    /// Once both sides have accepted, writes their contacts into the match
    /// (feeds show them to the two sides only).
    fn release_contacts(&self, store: &CentralStore, record: &Record) -> anyhow::Result<Option<Record>> {
        let Some(held) = store.get(&record.meta.id)? else { return Ok(None) };
        let Body::Match(m) = &held.body else { return Ok(None) };
        if m.demand_contact.is_some() || m.supply_contact.is_some() {
            return Ok(None);
        }
        let Some((demand_contact, supply_contact)) = contacts_for(store, m)? else { return Ok(None) };
        if demand_contact.is_none() && supply_contact.is_none() {
            return Ok(None);
        }
        let mut released = held.clone();
        let version = self.tick()?;
        if let Body::Match(m) = &mut released.body {
            m.demand_contact = demand_contact;
            m.supply_contact = supply_contact;
            m.core.version = version;
            released.meta.version = m.version();
        }
        released.meta.updated_at = Timestamp::now();
        info!(r#match = %record.meta.id, "both sides accepted: contacts released to them");
        Ok(Some(released))
    }

    /// The match of a demand and a supply: the one already proposed, or a
    /// new one from central (with its pair, to be stored with it); `None`
    /// when central's index does not hold both.
    fn pair_match(
        &self,
        store: &CentralStore,
        demand_id: RecordId,
        supply_id: RecordId,
        score: f64,
    ) -> anyhow::Result<Option<(Record, Option<Pair>)>> {
        let existing = store.pairs_of(&demand_id)?.into_iter().find(|(s, _)| *s == supply_id).map(|(_, id)| id);
        if let Some(held) = existing.map(|id| store.get(&id)).transpose()?.flatten() {
            return Ok(Some((held, None)));
        }
        let demand = store.get(&demand_id)?.as_ref().and_then(DemandProfile::from_record);
        let supply = self.engine().supply(&supply_id).cloned();
        let (Some(demand), Some(supply)) = (demand, supply) else { return Ok(None) };
        let candidate = Candidate {
            supply: supply.id,
            kind: supply.kind,
            score,
            strength: 1.0,
            tier: kechuang_matching::tier(demand.region, supply.region),
            linked: false,
        };
        let landing = landing_node(&demand, &store.nodes()?);
        let record = self.proposal(&demand, &supply, &candidate, landing, MatchState::Proposed)?;
        let pair = (demand.id, supply.id, record.meta.id);
        Ok(Some((record, Some(pair))))
    }

    /// An awarded bid becomes a match at `contracted` (central's part) for
    /// every outcome and expert it offered, with contacts released: the
    /// proposal for that pair if there is one, else a new match.
    fn award(&self, store: &CentralStore, bid_record: &Record) -> anyhow::Result<Vec<Record>> {
        let Body::Bid(bid) = &bid_record.body else { return Ok(vec![]) };
        // Admission checked every version of the bid; what an award turns
        // into is checked again here, where the matches are made.
        let bidder = &bid_record.meta.owner;
        let demand_ok = store
            .get(&bid.demand)?
            .is_some_and(|d| d.meta.owner == bid.demand_owner && matches!(&d.body, Body::Demand(x) if x.is_challenge));
        if !demand_ok || bid_record.meta.deleted {
            warn!(bid = %bid_record.meta.id, "an awarded bid names no open challenge of its owner: no match");
            return Ok(vec![]);
        }
        let award = format!("揭榜挂帅中标：{}", bid.proposal.chars().take(60).collect::<String>());
        let (mut records, mut pairs) = (Vec::new(), Vec::new());
        for supply_id in bid.outcomes.iter().chain(&bid.experts).copied() {
            let own = store.get(&supply_id)?.is_some_and(|s| s.meta.owner == *bidder && !s.meta.deleted);
            if !own {
                warn!(bid = %bid_record.meta.id, supply = %supply_id, "an awarded bid offers supply not its bidder's: left out");
                continue;
            }
            let Some((mut record, pair)) = self.pair_match(store, bid.demand, supply_id, 1.0)? else {
                warn!(bid = %bid_record.meta.id, supply = %supply_id, "central does not hold the awarded supply");
                continue;
            };
            let Body::Match(m) = &mut record.body else { continue };
            if m.core.value == MatchState::Contracted {
                continue; // already recorded
            }
            m.core = Part::new(self.tick()?, MatchState::Contracted);
            if let Some((demand_contact, supply_contact)) = contacts_for(store, m)? {
                m.demand_contact = demand_contact;
                m.supply_contact = supply_contact;
            }
            m.explanation =
                if m.explanation.is_empty() { award.clone() } else { format!("{award}；{}", m.explanation) };
            record.meta.version = m.version();
            record.meta.updated_at = Timestamp::now();
            pairs.extend(pair);
            records.push(record);
        }
        if records.is_empty() {
            return Ok(vec![]);
        }
        let routing = Routing { stage: 0, since_ms: Timestamp::now().0, settled: true };
        let written = store.apply_matching(&records, &[(bid.demand, serde_json::to_vec(&routing)?)], &pairs)?;
        info!(bid = %bid_record.meta.id, demand = %bid.demand, matches = written.len(), "challenge awarded: matches contracted");
        Ok(written)
    }

    /// The national office proposes `supply` for `demand` by hand (人工推荐,
    /// a 技术经理人's act): a match like any other, explained by `note`,
    /// credited to `by` in the history.
    pub fn propose(
        &self,
        store: &CentralStore,
        demand_id: RecordId,
        supply_id: RecordId,
        note: &str,
        by: &str,
    ) -> Result<Record, Act> {
        let record = self.propose_pair(store, demand_id, supply_id, format!("人工推荐：{note}"), by)?;
        info!(demand = %demand_id, supply = %supply_id, %by, "proposed by hand");
        Ok(record)
    }

    /// A supply node offers its own outcome or expert for a demand it may
    /// see (主动对接, EEN's expression of interest): a match like any other,
    /// credited to the node in the history.
    pub fn interest(
        &self,
        store: &CentralStore,
        peer: &Peer,
        demand_id: RecordId,
        supply_id: RecordId,
        note: &str,
    ) -> Result<Record, Act> {
        let supply =
            store.get(&supply_id)?.ok_or_else(|| Act::refused(format!("supply: no outcome or expert {supply_id}")))?;
        if supply.meta.owner != peer.id {
            return Err(Act::refused(format!("supply: {supply_id} is not this node's own outcome or expert")));
        }
        let demand = store.get(&demand_id)?.ok_or_else(|| Act::refused(format!("demand_id: no demand {demand_id}")))?;
        if !matches!(demand.body, Body::Demand(_)) || !may_find(peer, &demand) {
            return Err(Act::refused(format!("demand_id: {demand_id} is not a demand this node may see")));
        }
        if demand.meta.owner == peer.id {
            return Err(Act::refused("demand_id: a node does not offer for its own demand"));
        }
        let engine = self.engine();
        if let Some(profile) = engine.supply(&supply_id).filter(|p| p.kind != SupplyKind::Outcome)
            && let Some(capacity) = capacity(&engine, profile)
            && load(store, &engine, profile)? >= capacity
        {
            return Err(Act::refused(format!(
                "supply: at capacity ({capacity} open engagements): offer again once one lands or closes"
            )));
        }
        drop(engine);
        let said = if note.is_empty() { "能够解决这一需求".to_owned() } else { note.to_owned() };
        let record = self.propose_pair(store, demand_id, supply_id, format!("主动对接：{said}"), peer.id.as_str())?;
        info!(demand = %demand_id, supply = %supply_id, node = %peer.id, "interest registered");
        Ok(record)
    }

    /// Proposes `supply` for `demand` outside matching, explained by `explanation`.
    fn propose_pair(
        &self,
        store: &CentralStore,
        demand_id: RecordId,
        supply_id: RecordId,
        explanation: String,
        by: &str,
    ) -> Result<Record, Act> {
        let demand = store.get(&demand_id)?.ok_or_else(|| Act::refused(format!("no demand {demand_id}")))?;
        if !matches!(demand.body, Body::Demand(_)) {
            return Err(Act::refused(format!("{demand_id} is a {}, not a demand", demand.kind())));
        }
        if !takes_proposals(&demand, &self.proposals(store, &demand_id)?, Date::today()) {
            return Err(Act::refused("the demand is withdrawn, landed or past its deadline"));
        }
        let supply = store.get(&supply_id)?.ok_or_else(|| Act::refused(format!("no outcome or expert {supply_id}")))?;
        if !matches!(supply.body, Body::Outcome(_) | Body::Expert(_) | Body::Team(_)) || supply.meta.deleted {
            return Err(Act::refused(format!("{supply_id} is not an outcome, expert or team on offer")));
        }
        let Some((mut record, pair)) = self.pair_match(store, demand_id, supply_id, 0.0)? else {
            return Err(Act::refused("the index does not hold them yet; try again in a moment"));
        };
        let Some(pair) = pair else {
            return Err(Act::refused(format!("already proposed: match {}", record.meta.id)));
        };
        if let Body::Match(m) = &mut record.body {
            m.explanation = explanation;
        }
        let written = store.apply_central(by, &[record], &[], &[pair])?;
        // Another writer may have proposed the pair meanwhile: the store keeps the first.
        written.into_iter().next().ok_or_else(|| Act::refused("already proposed: the pair was proposed meanwhile"))
    }

    /// The national catalogue searched as `peer` may see it ([`may_find`]),
    /// contacts removed, best first.
    pub fn search(&self, store: &CentralStore, peer: &Peer, query: &SearchQuery) -> Result<Vec<(Record, f64)>, Act> {
        let fetch = (query.limit * 10).clamp(50, 1_000);
        let hits = self.engine().search(query.catalogue, &query.text, fetch).context("searching the index")?;
        let today = Date::today();
        let mut out = Vec::new();
        for (id, score) in hits {
            let Some(mut record) = store.get(&id)? else { continue };
            let open = match &record.body {
                Body::Demand(d) => d.deadline.is_none_or(|deadline| deadline >= today),
                _ => true,
            };
            if record.meta.deleted || !open || !may_find(peer, &record) || !query.admits(&record) {
                continue;
            }
            record.redact_contacts();
            out.push((record, score));
            if out.len() == query.limit {
                break;
            }
        }
        Ok(out)
    }

    /// The national office withdraws an open match, for `reason`.
    pub fn withdraw_match(
        &self,
        store: &CentralStore,
        match_id: RecordId,
        reason: &str,
        by: &str,
    ) -> Result<Record, Act> {
        let held = store.get(&match_id)?.ok_or_else(|| Act::refused(format!("no match {match_id}")))?;
        let Body::Match(m) = &held.body else {
            return Err(Act::refused(format!("{match_id} is a {}, not a match", held.kind())));
        };
        let state = m.state();
        if !matches!(
            state,
            MatchState::Proposed | MatchState::AcceptedByDemand | MatchState::AcceptedBySupply | MatchState::Connected
        ) {
            return Err(Act::refused(format!("the match is {}: only an open match is withdrawn", state.as_str())));
        }
        let record = self.close(held, MatchState::Withdrawn, reason.to_owned())?;
        let written = store.apply_central(by, &[record], &[], &[])?;
        info!(r#match = %match_id, %by, "match withdrawn by hand");
        written.into_iter().next().ok_or_else(|| Act::refused("nothing was written"))
    }

    /// The national office escalates `demand` to its next stage now.
    pub fn escalate_now(&self, store: &CentralStore, demand_id: RecordId, by: &str) -> Result<Vec<Record>, Act> {
        let bytes = store.routing(&demand_id)?.ok_or_else(|| Act::refused(format!("{demand_id} was never routed")))?;
        let routing: Routing = serde_json::from_slice(&bytes).context("routing state")?;
        if routing.stage >= LAST_STAGE {
            return Err(Act::refused("every tier has been proposed already"));
        }
        let written = self.route(store, demand_id, Some(routing.stage + 1), by)?;
        info!(demand = %demand_id, stage = routing.stage + 1, proposed = written.len(), %by, "escalated by hand");
        Ok(written)
    }

    /// The matches proposed for `demand`, as central holds them.
    fn proposals(&self, store: &CentralStore, demand: &RecordId) -> anyhow::Result<Vec<Match>> {
        let mut out = Vec::new();
        for (_, id) in store.pairs_of(demand)? {
            if let Some(Record { body: Body::Match(m), .. }) = store.get(&id)? {
                out.push(*m);
            }
        }
        Ok(out)
    }

    /// Central's part of `held` set to `state`, for `reason`: a new version.
    fn close(&self, mut held: Record, state: MatchState, reason: String) -> anyhow::Result<Record> {
        if let Body::Match(m) = &mut held.body {
            m.core = Part::new(self.tick()?, state);
            m.core_reason = reason;
            held.meta.version = m.version();
        }
        held.meta.updated_at = Timestamp::now();
        Ok(held)
    }

    /// A withdrawn demand, outcome or expert withdraws its open proposals
    /// (those not yet contracted, landed, declined or expired), at every
    /// node that holds them.
    fn withdraw_proposals(&self, store: &CentralStore, record: &Record) -> anyhow::Result<Vec<Record>> {
        let pairs = match record.body {
            Body::Demand(_) => store.pairs_of(&record.meta.id)?,
            _ => store.pairs_of_supply(&record.meta.id)?,
        };
        let what = match record.body {
            Body::Demand(_) => "需求",
            Body::Outcome(_) => "成果",
            Body::Team(_) => "服务团",
            _ => "专家",
        };
        let why = record.meta.withdrawal.as_ref().map_or("已撤回".to_owned(), |w| match w.note.as_str() {
            "" => format!("已撤回（{}）", w.reason.label()),
            note => format!("已撤回（{}：{note}）", w.reason.label()),
        });
        let mut out = Vec::new();
        for (_, id) in pairs {
            let Some(held) = store.get(&id)? else { continue };
            let Body::Match(m) = &held.body else { continue };
            let open = matches!(
                m.state(),
                MatchState::Proposed
                    | MatchState::AcceptedByDemand
                    | MatchState::AcceptedBySupply
                    | MatchState::Connected
            );
            if open {
                out.push(self.close(held, MatchState::Withdrawn, format!("{what}{why}"))?);
            }
        }
        if !out.is_empty() {
            info!(record = %record.meta.id, withdrawn = out.len(), "open proposals of a withdrawn record withdrawn");
        }
        Ok(out)
    }

    /// Expires every proposal that has waited longer than the time to live
    /// for its answers.
    fn expire(&self, store: &CentralStore, stop: &CancellationToken) -> anyhow::Result<Vec<Record>> {
        let (now, ttl) = (Timestamp::now(), self.ttl.as_millis() as i64);
        let reason = format!("{}内未获应答", lifetime(self.ttl));
        let mut expired = Vec::new();
        for (demand, _) in store.routing_all()? {
            if stop.is_cancelled() {
                break;
            }
            for (_, id) in store.pairs_of(&demand)? {
                let Some(held) = store.get(&id)? else { continue };
                let Body::Match(m) = &held.body else { continue };
                if unanswered(m, held.meta.created_at, now, ttl) {
                    expired.push(self.close(held, MatchState::Expired, reason.clone())?);
                }
            }
        }
        if !expired.is_empty() {
            store.apply_matching(&expired, &[], &[])?;
            info!(expired = expired.len(), "proposals expired unanswered");
        }
        Ok(expired)
    }

    /// Escalates every demand whose stage has waited a whole window with no
    /// accepted proposal.
    fn escalate(&self, store: &CentralStore, stop: &CancellationToken) -> anyhow::Result<Vec<Record>> {
        let now = Timestamp::now().0;
        let window = self.window.as_millis() as i64;
        let mut out = Vec::new();
        for (demand, bytes) in store.routing_all()? {
            if stop.is_cancelled() {
                break; // the rest escalate at the next start
            }
            let mut routing: Routing = serde_json::from_slice(&bytes).context("routing state")?;
            if routing.settled || now - routing.since_ms < window {
                continue;
            }
            let proposals = self.proposals(store, &demand)?;
            match escalation(routing.stage, &proposals) {
                Escalation::Settled => {
                    routing.settled = true;
                    store.apply_matching(&[], &[(demand, serde_json::to_vec(&routing)?)], &[])?;
                }
                Escalation::Wait | Escalation::Exhausted => {}
                Escalation::Next(stage) => {
                    debug!(%demand, stage, "escalating");
                    out.extend(self.route(store, demand, Some(stage), CENTRAL)?);
                }
            }
        }
        Ok(out)
    }
}

/// Why an act of the national office did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Act {
    /// The act does not fit the records as they are.
    #[error("{0}")]
    Refused(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl Act {
    fn refused(reason: impl Into<String>) -> Self {
        Self::Refused(reason.into())
    }
}

impl From<kechuang_store::Error> for Act {
    fn from(e: kechuang_store::Error) -> Self {
        Self::Failed(e.into())
    }
}

/// The contacts of a match's two sides, if the match has released them
/// ([`contacts_released`], the one rule), each from the side's own record.
fn contacts_for(store: &CentralStore, m: &Match) -> anyhow::Result<Option<(Option<Contact>, Option<Contact>)>> {
    if !contacts_released(m) {
        return Ok(None);
    }
    let contact = |id: &RecordId, owner: &NodeId| -> anyhow::Result<Option<Contact>> {
        let record = store.get(id)?.filter(|r| r.meta.owner == *owner);
        Ok(match record.map(|r| r.body) {
            Some(Body::Demand(d)) => d.contact,
            Some(Body::Outcome(o)) => o.contact,
            Some(Body::Expert(e)) => e.contact,
            // A team is reached through its lead expert.
            Some(Body::Team(t)) => match store.get(&t.lead)?.map(|r| r.body) {
                Some(Body::Expert(e)) => e.contact,
                _ => None,
            },
            _ => None,
        })
    };
    Ok(Some((contact(&m.demand, &m.demand_owner)?, contact(&m.supply, &m.supply_owner)?)))
}

/// How many open matches (proposed to contracted, not landed or closed)
/// engage `supply`.
pub fn open_engagements(store: &CentralStore, supply: &RecordId) -> anyhow::Result<u32> {
    let mut open = 0;
    for (_, id) in store.pairs_of_supply(supply)? {
        if let Some(Record { body: Body::Match(m), .. }) = store.get(&id)?
            && m.state().is_open()
        {
            open += 1;
        }
    }
    Ok(open)
}

/// How many open matches engage an expert (its own, and those of every
/// team it serves in) or a team (the sum of its members' loads).
pub fn load(store: &CentralStore, engine: &Engine, supply: &SupplyProfile) -> anyhow::Result<u32> {
    let expert = |id: &RecordId| -> anyhow::Result<u32> {
        let mut open = open_engagements(store, id)?;
        for team in engine.teams_of(id) {
            open += open_engagements(store, team)?;
        }
        Ok(open)
    };
    match supply.kind {
        SupplyKind::Team => supply.members.iter().map(expert).sum(),
        _ => expert(&supply.id),
    }
}

/// How many engagements an expert takes at once, or a team (the sum of
/// its members'); `None` for no limit (a member without one makes none).
pub fn capacity(engine: &Engine, supply: &SupplyProfile) -> Option<u32> {
    match supply.kind {
        SupplyKind::Team => supply.members.iter().map(|m| engine.supply(m).and_then(|e| e.capacity)).sum(),
        _ => supply.capacity,
    }
}

/// Whether an expert or team may be proposed for `demand`, wanting
/// `modes`: it offers one of them (when the demand names any), a team
/// serves the demand's place and industry, and it has room for another
/// engagement (the store is read only for a capacity).
fn fits_demand(
    store: &CentralStore,
    engine: &Engine,
    supply: &SupplyProfile,
    demand: &DemandProfile,
    modes: &[String],
) -> anyhow::Result<bool> {
    if !modes.is_empty() && !supply.service_modes.iter().any(|m| modes.contains(m)) {
        return Ok(false);
    }
    let (cities, industries) = &supply.serves;
    if !kechuang_types::Team::covers(cities, industries, demand.region, &demand.industry) {
        return Ok(false);
    }
    match capacity(engine, supply) {
        Some(capacity) => Ok(load(store, engine, supply)? < capacity),
        None => Ok(true),
    }
}

/// What a node searches for, checked.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// The words.
    pub text: String,
    /// The catalogue.
    pub catalogue: Catalogue,
    /// An industry code or its prefix; empty for any.
    pub industry: String,
    /// The region the records must lie in.
    pub region: Option<RegionFilter>,
    /// At most this many hits.
    pub limit: usize,
}

/// A region a search is narrowed to: a code prefix (`44`, `4403`) or a
/// named province or city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionFilter {
    /// Codes starting with these digits.
    Prefix(String),
    /// Within this province or city.
    Within(Region),
}

impl SearchQuery {
    fn admits(&self, record: &Record) -> bool {
        let industry = match &record.body {
            Body::Demand(d) => Some(d.industry.as_str()),
            Body::Outcome(o) => Some(o.industry.as_str()),
            _ => None,
        };
        let industry_ok = self.industry.is_empty() || industry.is_some_and(|i| i.starts_with(&self.industry));
        let region_ok = match (&self.region, record.region()) {
            (None, _) => true,
            (Some(RegionFilter::Prefix(p)), Some(r)) => r.to_string().starts_with(p.as_str()),
            (Some(RegionFilter::Within(within)), Some(r)) => within.contains(r),
            (Some(_), None) => false,
        };
        industry_ok && region_ok
    }
}

/// Whether `peer` may find `record` by searching: open demands nationally
/// for a university or society (the supply side looks for work), its own
/// area's for a provincial or city station; outcomes and experts for every
/// station (the programme's public catalogue). Contacts never.
pub fn may_find(peer: &Peer, record: &Record) -> bool {
    match &record.body {
        Body::Demand(d) => match peer.kind {
            NodeKind::University | NodeKind::Society | NodeKind::Central => true,
            NodeKind::Provincial => peer.region.same_province(d.region),
            NodeKind::City => peer.region.same_city(d.region),
        },
        Body::Outcome(_) | Body::Expert(_) | Body::Team(_) => true,
        Body::Match(_) | Body::Bid(_) | Body::Assessment(_) => false,
    }
}

/// The city node responsible for landing a demand's matches: its owner if
/// that is a city node, else the city node of the demand's city, else its owner.
fn landing_node(demand: &DemandProfile, nodes: &[NodeEntry]) -> NodeId {
    let owner_is_city = nodes.iter().any(|n| n.id == demand.owner && n.kind == NodeKind::City);
    if owner_is_city {
        return demand.owner.clone();
    }
    nodes
        .iter()
        .filter(|n| n.kind == NodeKind::City && n.region.same_city(demand.region))
        .map(|n| n.id.clone())
        .min()
        .unwrap_or_else(|| demand.owner.clone())
}

/// A proposal's lifetime in the words of its expiry note: 30 天, 6 小时, 20 秒.
fn lifetime(ttl: Duration) -> String {
    let secs = ttl.as_secs_f64();
    let (amount, unit) = match secs {
        s if s >= 86_400.0 => (s / 86_400.0, "天"),
        s if s >= 3_600.0 => (s / 3_600.0, "小时"),
        s if s >= 60.0 => (s / 60.0, "分钟"),
        s => (s, "秒"),
    };
    format!("{} {unit}", (amount * 10.0).round() / 10.0)
}

/// How often an instance without the matching lease tries to take it.
const LEASE_RETRY: Duration = Duration::from_secs(1);

/// Matching on whichever instance holds the store's lease (always, on an
/// embedded store): takes the lease, matches until shutdown or until the
/// lease is lost, and stands by while another instance holds it.
pub async fn run(state: Arc<State>, shutdown: CancellationToken) {
    let mut standing_by = false;
    // Where this instance's index reaches while it stands by: every
    // instance keeps one, so each can answer searches and interest.
    let mut indexed: Option<u64> = None;
    while !shutdown.is_cancelled() {
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.hold_lease()).await {
            Ok(Ok(true)) => {
                info!("this central instance runs matching");
                standing_by = false;
                leased(state.clone(), shutdown.clone(), indexed.take()).await;
                if shutdown.is_cancelled() {
                    return;
                }
                warn!("the matching lease was lost; another instance takes over");
            }
            Ok(Ok(false)) => {
                if !standing_by {
                    info!("another central instance runs matching; standing by");
                    standing_by = true;
                }
                match follow_index(&state, &shutdown, indexed).await {
                    Ok(reached) => indexed = reached,
                    Err(e) => warn!(error = format!("{e:#}"), "keeping the index current failed; retrying"),
                }
            }
            Ok(Err(e)) => warn!(error = %e, "taking the matching lease failed"),
            Err(e) => warn!(error = %e, "taking the matching lease failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(LEASE_RETRY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Brings a standing-by instance's index up to the log's head: loaded from
/// the store the first time (`indexed` is `None`), then what the log added.
/// Returns where the index reaches (`None` if stopped while loading).
async fn follow_index(
    state: &Arc<State>,
    shutdown: &CancellationToken,
    indexed: Option<u64>,
) -> anyhow::Result<Option<u64>> {
    let (m, s, stop) = (state.matcher.clone(), state.store.clone(), shutdown.clone());
    let Some(mut cursor) = indexed else {
        let head = s.head();
        let loaded = tokio::task::spawn_blocking(move || m.load(&s, &stop)).await??;
        return Ok(loaded.map(|_| head));
    };
    let head = state.store.head();
    while cursor < head && !shutdown.is_cancelled() {
        let (records, next) = read_log(state, cursor, head).await?;
        let m = state.matcher.clone();
        tokio::task::spawn_blocking(move || m.index(&records)).await??;
        cursor = next;
    }
    Ok(Some(cursor))
}

/// Whether `e` says another instance holds the matching lease.
fn lease_lost(e: &anyhow::Error) -> bool {
    e.chain().any(|c| matches!(c.downcast_ref::<kechuang_store::Error>(), Some(kechuang_store::Error::LeaseLost(_))))
}

/// The matching loop: loads the index (unless it was kept current while
/// standing by, up to `indexed`), then follows the durable log, matching
/// what changed, and escalates on a timer until shutdown or until the
/// lease is lost.
async fn leased(state: Arc<State>, shutdown: CancellationToken, indexed: Option<u64>) {
    let matcher = state.matcher.clone();
    let store = state.store.clone();
    let loaded = {
        let (m, s, stop) = (matcher.clone(), store.clone(), shutdown.clone());
        tokio::task::spawn_blocking(move || match indexed {
            // Matching resumes where the last holder recorded it, and never
            // after what this index holds (re-matching is idempotent).
            Some(reached) => Ok(Some(s.matched_upto()?.min(reached))),
            None => m.load(&s, &stop),
        })
        .await
    };
    let mut cursor = match loaded.map_err(anyhow::Error::from).and_then(|r| r) {
        Ok(Some(cursor)) => cursor,
        Ok(None) => return, // stopped while loading
        Err(e) => {
            error!(error = format!("{e:#}"), "loading the matching index failed; matching is off");
            return;
        }
    };
    let tick = (matcher.window / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
    // Expiry reads every demand's proposals: often enough for a twentieth of
    // the time to live, at most hourly.
    let expiry_every = (matcher.ttl / 20).clamp(Duration::from_millis(100), Duration::from_secs(3_600));
    let mut next_expiry = tokio::time::Instant::now() + expiry_every;
    let mut end = state.tail.subscribe();
    let mut next_escalation = tokio::time::Instant::now() + tick;
    // A chunk in debug builds or on a slow disk can take many seconds to
    // match: every blocking step below checks `shutdown` between demands,
    // and a chunk left half done is matched again from its start.
    while !shutdown.is_cancelled() {
        let head = *end.borrow_and_update();
        let work = if cursor < head {
            match read_log(&state, cursor, head).await {
                Ok((records, next)) => {
                    kechuang_store::crash::point("matching-read");
                    Some((records, next))
                }
                Err(e) => {
                    error!(error = format!("{e:#}"), "reading the change log for matching failed");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        () = shutdown.cancelled() => break,
                    }
                }
            }
        } else {
            tokio::select! {
                changed = end.changed() => if changed.is_err() { break } else { continue },
                () = tokio::time::sleep_until(next_escalation.min(next_expiry)) => None,
                () = shutdown.cancelled() => break,
            }
        };
        // Escalation runs on time even while a backlog is being matched.
        let escalate = tokio::time::Instant::now() >= next_escalation;
        if escalate {
            next_escalation = tokio::time::Instant::now() + tick;
        }
        let expire = tokio::time::Instant::now() >= next_expiry;
        if expire {
            next_expiry = tokio::time::Instant::now() + expiry_every;
        }
        let (m, s, stop) = (matcher.clone(), store.clone(), shutdown.clone());
        let result = tokio::task::spawn_blocking(move || {
            if escalate && !s.hold_lease()? {
                return Err(kechuang_store::Error::LeaseLost("another instance holds it".into()).into());
            }
            let mut pass = Ingested { written: Vec::new(), complete: true };
            let mut matched_upto = None;
            if let Some((records, upto)) = work {
                if !records.is_empty() {
                    pass = m.ingest(&s, &records, &stop)?;
                }
                if pass.complete {
                    s.set_matched_upto(upto)?;
                    matched_upto = Some(upto);
                }
            }
            if expire {
                pass.written.extend(m.expire(&s, &stop)?);
            }
            if escalate {
                pass.written.extend(m.escalate(&s, &stop)?);
            }
            anyhow::Ok((pass.written, matched_upto))
        })
        .await;
        match result.map_err(anyhow::Error::from).and_then(|r| r) {
            Ok((written, matched_upto)) => {
                if let Some(upto) = matched_upto {
                    cursor = upto;
                }
                if !written.is_empty()
                    && let Err(e) = state.durability.wait().await
                {
                    error!(error = %e, "flushing matches failed");
                }
            }
            Err(e) if lease_lost(&e) => return,
            Err(e) => {
                error!(error = format!("{e:#}"), "matching failed; retrying the chunk");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = shutdown.cancelled() => break,
                }
            }
        }
    }
    let _ = state.durability.wait().await;
    matcher.save_marker(cursor);
}

/// The next chunk of the log after `cursor`, and
/// the position to resume from: from the shared tail when it still holds
/// `cursor`, else from the store.
async fn read_log(state: &Arc<State>, cursor: u64, head: u64) -> anyhow::Result<(Vec<Record>, u64)> {
    if let Some((records, next)) = state.tail.after(cursor, CHUNK) {
        return Ok((records.iter().map(|r| (**r).clone()).collect(), next));
    }
    let store = state.store.clone();
    Ok(tokio::task::spawn_blocking(move || store.log_after(cursor, head, CHUNK)).await??)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_of_another_index_format_means_a_rebuild() {
        let format = kechuang_matching::INDEX_FORMAT;
        assert_eq!(parse_marker(&format!("{format} 42\n")), Some(42));
        assert_eq!(parse_marker("42"), None, "written before formats were recorded");
        assert_eq!(parse_marker(&format!("{} 42", format + 1)), None);
        assert_eq!(parse_marker(&format!("{format} x")), None);
    }

    #[test]
    fn an_expiry_note_names_the_lifetime_in_its_own_unit() {
        assert_eq!(lifetime(Duration::from_secs(30 * 86_400)), "30 天");
        assert_eq!(lifetime(Duration::from_secs(43_200)), "12 小时");
        assert_eq!(lifetime(Duration::from_secs(90)), "1.5 分钟");
        assert_eq!(lifetime(Duration::from_secs(20)), "20 秒");
    }
}
