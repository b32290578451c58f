//! The operator API: what the `kechuang-node` verbs call, on loopback.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use kechuang_proto::pb::{self, operator_server::Operator, operator_server::OperatorServer};
use kechuang_types::{RecordKind, WithdrawReason, Withdrawal, limits};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};
use tracing::{error, info};

use crate::client::sync_client;
use crate::daemon::Node;
use crate::lifecycle::{self, Answer, Refused};

/// Searches the national catalogue at central, over the node's session.
pub async fn search_central(node: &Node, request: pb::SearchRequest) -> Result<pb::SearchResponse, Status> {
    let offline = || Status::unavailable("central is not reachable: the national catalogue is searched at central");
    let channel = node.central.borrow().clone().ok_or_else(offline)?;
    Ok(sync_client(channel).search(request).await?.into_inner())
}

/// Offers this node's supply (by id) for a demand at central, over the node's session.
pub async fn interest_central(node: &Node, request: pb::InterestRequest) -> Result<pb::InterestResponse, Status> {
    let offline = || Status::unavailable("central is not reachable: an offer is made at central");
    let channel = node.central.borrow().clone().ok_or_else(offline)?;
    let supply = request.supply.clone();
    let answer = sync_client(channel).interest(request).await?.into_inner();
    info!(%supply, "interest registered at central");
    Ok(answer)
}

/// Most drafts in one publish request.
pub const PUBLISH_BATCH: usize = 1_000;

/// Serves the operator API on `listener` until `shutdown`.
pub async fn serve(node: Arc<Node>, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let guard = kechuang_pki::RequireToken::new(&node.token, "the node's operator token, in its data directory");
    let service = OperatorServer::new(Api { node })
        .max_decoding_message_size(limits::MESSAGE_BYTES)
        .max_encoding_message_size(256 * 1024 * 1024);
    tonic::transport::Server::builder()
        .add_routes(kechuang_proto::probe_routes(&["kechuang.v1.Operator"]).await?)
        .add_service(InterceptedService::new(service, guard))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned())
        .await?;
    Ok(())
}

struct Api {
    node: Arc<Node>,
}

/// An event as the wire carries it.
pub fn wire_event(e: crate::events::Event) -> pb::WatchEvent {
    pb::WatchEvent {
        seq: e.seq,
        kind: e.kind.into(),
        at: e.at,
        record: e.record,
        title: e.title,
        state: e.state,
        detail: e.detail,
    }
}

fn storage(e: impl std::fmt::Display) -> Status {
    error!(error = %e, "storage failure");
    Status::unavailable(format!("node storage: {e}"))
}

#[tonic::async_trait]
impl Operator for Api {
    type WatchStream = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::WatchEvent, Status>> + Send>>;

    async fn watch(&self, _request: Request<pb::WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let events = tokio_stream::wrappers::BroadcastStream::new(self.node.events.subscribe());
        let stream = tokio_stream::StreamExt::filter_map(events, |event| {
            // A watcher that fell behind misses the oldest; it is not cut off.
            event.ok().map(|e| Ok(wire_event(e)))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn publish(&self, request: Request<pb::PublishRequest>) -> Result<Response<pb::PublishResponse>, Status> {
        let pb::PublishRequest { drafts: wire, check_only } = request.into_inner();
        if wire.len() > PUBLISH_BATCH {
            return Err(Status::invalid_argument(format!(
                "drafts: {} in one request, at most {PUBLISH_BATCH}",
                wire.len()
            )));
        }
        let node = self.node.clone();
        let (drafts, problems) = tokio::task::spawn_blocking(move || crate::publish::check(&node, wire))
            .await
            .map_err(storage)?
            .map_err(storage)?;
        if check_only || !problems.is_empty() {
            return Ok(Response::new(pb::PublishResponse { problems, ..Default::default() }));
        }
        let node = self.node.clone();
        let report = tokio::task::spawn_blocking(move || {
            let mut clock = node.clock();
            node.store.publish(&node.config.id, &mut clock, &drafts)
        })
        .await
        .map_err(storage)?
        .map_err(storage)?;
        if report.created + report.updated + report.withdrawn > 0 {
            self.node.outbox_grew.notify_one();
            info!(created = report.created, updated = report.updated, withdrawn = report.withdrawn, "published");
        }
        Ok(Response::new(pb::PublishResponse {
            created: report.created,
            updated: report.updated,
            unchanged: report.unchanged,
            withdrawn: report.withdrawn,
            problems: vec![],
        }))
    }

    async fn list(&self, request: Request<pb::ListRequest>) -> Result<Response<pb::ListResponse>, Status> {
        let kind = request.into_inner().kind;
        let kind = match kind.as_str() {
            "" => None,
            k => Some(RecordKind::parse("kind", k).map_err(|e| Status::invalid_argument(e.to_string()))?),
        };
        let store = self.node.store.clone();
        let records = tokio::task::spawn_blocking(move || store.list(kind)).await.map_err(storage)?.map_err(storage)?;
        Ok(Response::new(pb::ListResponse { records: records.into_iter().map(Into::into).collect() }))
    }

    async fn respond(&self, request: Request<pb::RespondRequest>) -> Result<Response<pb::RespondResponse>, Status> {
        let r = request.into_inner();
        let answer = Answer {
            verb: r.action.clone(),
            reason: r.reason,
            note: r.note,
            contract_type: r.contract_type,
            amount_wan: r.amount_wan,
            date: r.date,
        };
        let action = answer.action().map_err(|e| Status::invalid_argument(e.to_string()))?;
        let record = self.act(move |node| lifecycle::respond(node, &r.match_id, action)).await?;
        info!(r#match = %record.meta.id, action = %r.action, "match answered");
        Ok(Response::new(pb::RespondResponse { r#match: Some(record.into()) }))
    }

    async fn bid(&self, request: Request<pb::BidRequest>) -> Result<Response<pb::BidResponse>, Status> {
        let r = request.into_inner();
        let record =
            self.act(move |node| lifecycle::bid(node, &r.demand_id, r.proposal, &r.outcomes, &r.experts)).await?;
        info!(bid = %record.meta.id, "bid submitted");
        Ok(Response::new(pb::BidResponse { bid: Some(record.into()) }))
    }

    async fn assess(&self, request: Request<pb::AssessRequest>) -> Result<Response<pb::AssessResponse>, Status> {
        let r = request.into_inner();
        let said = lifecycle::Verdict {
            evaluator: r.evaluator,
            scores: [r.advancement, r.maturity, r.market, r.risk],
            verdict: r.verdict,
            text: r.text,
        };
        let record = self.act(move |node| lifecycle::assess(node, &r.subject, said)).await?;
        info!(assessment = %record.meta.id, "assessment written");
        Ok(Response::new(pb::AssessResponse { assessment: Some(record.into()) }))
    }

    async fn publish_team(
        &self,
        request: Request<pb::PublishTeamRequest>,
    ) -> Result<Response<pb::TeamResponse>, Status> {
        let r = request.into_inner();
        let draft = lifecycle::TeamDraft {
            name: r.name,
            description: r.description,
            lead: r.lead,
            members: r.members,
            fields: r.fields,
            keywords: r.keywords,
            cities: r.cities,
            industries: r.industries,
            service_modes: r.service_modes,
        };
        let record = self.act(move |node| lifecycle::publish_team(node, draft)).await?;
        info!(team = %record.meta.id, "team published");
        Ok(Response::new(pb::TeamResponse { team: Some(record.into()) }))
    }

    async fn answer_team(&self, request: Request<pb::AnswerTeamRequest>) -> Result<Response<pb::TeamResponse>, Status> {
        let r = request.into_inner();
        let record = self.act(move |node| lifecycle::answer_team(node, &r.team_id, r.accept)).await?;
        info!(team = %record.meta.id, accept = r.accept, "team membership answered");
        Ok(Response::new(pb::TeamResponse { team: Some(record.into()) }))
    }

    async fn award(&self, request: Request<pb::AwardRequest>) -> Result<Response<pb::AwardResponse>, Status> {
        let r = request.into_inner();
        let (record, not_chosen) = self.act(move |node| lifecycle::award(node, &r.bid_id)).await?;
        info!(bid = %record.meta.id, not_chosen, "bid awarded");
        Ok(Response::new(pb::AwardResponse { awarded: Some(record.into()), not_chosen }))
    }

    async fn withdraw(&self, request: Request<pb::WithdrawRequest>) -> Result<Response<pb::WithdrawResponse>, Status> {
        let r = request.into_inner();
        let reason =
            WithdrawReason::parse_any("reason", &r.reason).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let withdrawal = Withdrawal { reason, note: r.note.trim().to_owned() };
        kechuang_types::check_text("note", &withdrawal.note, limits::SHORT_TEXT * 5, false)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let record = self.act(move |node| lifecycle::withdraw(node, &r.id, withdrawal)).await?;
        info!(record = %record.meta.id, reason = %reason, "withdrawn");
        Ok(Response::new(pb::WithdrawResponse { record: Some(record.into()) }))
    }

    async fn refusals(&self, _request: Request<pb::RefusalsRequest>) -> Result<Response<pb::RefusalsResponse>, Status> {
        let store = self.node.store.clone();
        let refusals =
            tokio::task::spawn_blocking(move || store.refusals()).await.map_err(storage)?.map_err(storage)?;
        let refusals = refusals
            .into_iter()
            .map(|r| pb::RefusalEntry {
                seq: r.seq,
                at: r.at.to_string(),
                id: r.id.as_bytes().to_vec(),
                kind: r.kind.as_str().into(),
                title: r.title,
                field: r.field,
                reason: r.reason,
                restored: r.restored,
            })
            .collect();
        Ok(Response::new(pb::RefusalsResponse { refusals }))
    }

    async fn stats(&self, request: Request<pb::StatsRequest>) -> Result<Response<pb::StatsResponse>, Status> {
        let offline = || Status::unavailable("central is not reachable: the figures are computed by central");
        let channel = self.node.central.borrow().clone().ok_or_else(offline)?;
        let mut client = sync_client(channel);
        let call = client.stats(request.into_inner());
        match tokio::time::timeout(Duration::from_secs(60), call).await {
            Ok(answer) => answer,
            Err(_) => Err(Status::deadline_exceeded("central took more than 60 s to compute the figures")),
        }
    }

    async fn search(&self, request: Request<pb::SearchRequest>) -> Result<Response<pb::SearchResponse>, Status> {
        search_central(&self.node, request.into_inner()).await.map(Response::new)
    }

    async fn interest(&self, request: Request<pb::InterestRequest>) -> Result<Response<pb::InterestResponse>, Status> {
        let mut r = request.into_inner();
        let supply = r.supply.clone();
        let record = self.act(move |node| lifecycle::own_supply(node, &supply)).await?;
        r.supply = record.meta.id.to_string();
        interest_central(&self.node, r).await.map(Response::new)
    }

    async fn status(&self, _request: Request<pb::StatusRequest>) -> Result<Response<pb::StatusResponse>, Status> {
        let node = &self.node;
        let store = node.store.clone();
        let (counts, digest, unacked, acked, cursor, refused) = tokio::task::spawn_blocking(move || {
            let (counts, digest) = store.summary()?;
            let (unacked, acked, cursor) = (store.unacked()?, store.acked()?, store.cursor()?);
            Ok::<_, kechuang_store::Error>((counts, digest, unacked, acked, cursor, store.refusal_count()?))
        })
        .await
        .map_err(storage)?
        .map_err(storage)?;
        // Central's digest costs it a scan charged to this node: not worth
        // asking while changes are still on their way (nothing can match yet),
        // or a watched push would spend the node's scan budget.
        let expected = if unacked == 0 { self.expected_digest().await } else { None };
        if let Some(expected) = &expected {
            node.store.set_expected_digest(expected).map_err(storage)?;
        }
        let expected = match expected {
            Some(d) => d,
            None => node.store.expected_digest().map_err(storage)?.unwrap_or_default(),
        };
        let stats = &node.stats;
        Ok(Response::new(pb::StatusResponse {
            node_id: node.config.id.to_string(),
            kind: node.config.kind.as_str().into(),
            region: node.config.region.to_string(),
            connected: stats.connected.load(Ordering::Relaxed),
            unacked,
            counts: counts.into_iter().map(|(k, n)| (k.as_str().to_owned(), n)).collect(),
            digest: digest.to_string(),
            expected_digest: expected,
            acked_seq: acked,
            feed_cursor: cursor,
            feed_records: stats.feed_records.load(Ordering::Relaxed),
            pushed_records: stats.pushed_records.load(Ordering::Relaxed),
            feed_bytes: stats.feed_bytes.load(Ordering::Relaxed),
            pushed_bytes: stats.pushed_bytes.load(Ordering::Relaxed),
            repairs: stats.repairs.load(Ordering::Relaxed),
            repaired_records: stats.repaired_records.load(Ordering::Relaxed),
            refused,
            clock_offset_ms: stats.clock_offset_ms.load(Ordering::Relaxed),
            certificate_expires: node.certificate_expires().map(|t| t.to_string()).unwrap_or_default(),
        }))
    }
}

impl Api {
    /// Runs a lifecycle action in a blocking thread, waking the push loop.
    async fn act<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Node) -> Result<T, Refused> + Send + 'static,
    ) -> Result<T, Status> {
        let node = self.node.clone();
        let result = tokio::task::spawn_blocking(move || f(&node)).await.map_err(storage)?;
        let value = result.map_err(|e| match e {
            Refused::NotFound(m) => Status::not_found(m),
            Refused::Precondition(m) => Status::failed_precondition(m),
            Refused::Invalid(m) => Status::invalid_argument(m),
            Refused::Storage(e) => storage(e),
            Refused::Clock(e) => Status::failed_precondition(e.to_string()),
        })?;
        self.node.outbox_grew.notify_one();
        Ok(value)
    }

    /// Asks central what this node should hold, if a session is up.
    async fn expected_digest(&self) -> Option<String> {
        let channel = self.node.central.borrow().clone()?;
        let mut client = sync_client(channel);
        let call = client.digest(pb::DigestRequest {});
        match tokio::time::timeout(Duration::from_secs(5), call).await {
            Ok(Ok(response)) => Some(response.into_inner().digest),
            _ => None,
        }
    }
}
