//! The `Admin` service, on loopback: the national office's view of central.

use std::sync::Arc;

use kechuang_proto::pb::{self, admin_server::Admin};
use kechuang_sync::{Peer, held_by, without_foreign_contacts};
use kechuang_types::{NodeId, RecordKind};
use tonic::{Request, Response, Status};
use tracing::info;

use crate::error;
use crate::server::State;

/// Central's implementation of `kechuang.v1.Admin`.
#[derive(Clone)]
pub struct AdminService {
    state: Arc<State>,
}

impl AdminService {
    /// A service over central's shared state.
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn list(&self, request: Request<pb::AdminListRequest>) -> Result<Response<pb::AdminListResponse>, Status> {
        let request = request.into_inner();
        let kind = match request.kind.as_str() {
            "" => None,
            k => Some(RecordKind::parse("kind", k).map_err(|e| error::invalid("list", e))?),
        };
        let store = self.state.store.clone();
        let peer = match request.node_id.as_str() {
            "" => None,
            id => {
                let id = NodeId::parse("node_id", id).map_err(|e| error::invalid("list", e))?;
                let entry = store
                    .node(&id)
                    .map_err(error::storage)?
                    .ok_or_else(|| Status::not_found(format!("node_id: unknown node {id}")))?;
                Some(Peer { id: entry.id, kind: entry.kind, region: entry.region })
            }
        };
        let records = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            store.for_each(|record| {
                if kind.is_some_and(|k| record.kind() != k) {
                    return;
                }
                // The national office sees everything but contacts, which
                // leave their owner only to the two sides of a match.
                let view = match &peer {
                    None => Some(without_foreign_contacts(record, &NodeId::central())),
                    Some(p) => held_by(&record, p),
                };
                out.extend(view.map(pb::Record::from));
            })?;
            Ok::<_, kechuang_store::Error>(out)
        })
        .await
        .map_err(error::join)?
        .map_err(error::storage)?;
        Ok(Response::new(pb::AdminListResponse { records }))
    }

    async fn nodes(&self, _request: Request<pb::NodesRequest>) -> Result<Response<pb::NodesResponse>, Status> {
        let nodes = self.state.store.nodes().map_err(error::storage)?;
        let nodes = nodes
            .into_iter()
            .map(|n| pb::NodeInfo {
                connected: self.state.feeds.is_connected(&n.id),
                connections: self.state.gate.open(&n.id) as u32,
                revoked: self.state.trust.is_revoked(&n.id),
                last_seen: self.state.store.last_seen(&n.id).ok().flatten().map(|t| t.to_string()).unwrap_or_default(),
                node_id: n.id.into(),
                kind: n.kind.as_str().into(),
                region: n.region.to_string(),
                acked_seq: n.acked_seq,
            })
            .collect();
        Ok(Response::new(pb::NodesResponse { nodes, log_head: self.state.store.head() }))
    }

    async fn revoke(&self, request: Request<pb::RevokeRequest>) -> Result<Response<pb::RevokeResponse>, Status> {
        let id = NodeId::parse("node_id", &request.into_inner().node_id).map_err(|e| error::invalid("revoke", e))?;
        let store = self.state.store.clone();
        let node = id.clone();
        tokio::task::spawn_blocking(move || store.revoke(&node)).await.map_err(error::join)?.map_err(error::storage)?;
        let open = self.state.feeds.open_feeds(&id);
        self.state.trust.revoke(id.clone());
        info!(node = %id, closed_streams = open, "node revoked");
        Ok(Response::new(pb::RevokeResponse { closed_streams: open as u32 }))
    }
}
