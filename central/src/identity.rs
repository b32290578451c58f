//! Who is calling: the node identity in the peer's verified certificate,
//! unless that node is revoked. Central believes nothing else: no message
//! field or header can name a node.

use std::collections::HashSet;
use std::sync::RwLock;

use kechuang_store::CentralStore;
use kechuang_sync::Peer;
use kechuang_types::NodeId;
use tokio::sync::watch;
use tonic::{Request, Status};

/// The revocation list, shared by every handler and feed.
#[derive(Debug)]
pub struct Trust {
    revoked: RwLock<HashSet<NodeId>>,
    changes: watch::Sender<u64>,
}

impl Trust {
    /// Loads the revocation list from the store.
    pub fn load(store: &CentralStore) -> kechuang_store::Result<Self> {
        let revoked = store.revoked()?.into_iter().collect();
        Ok(Self { revoked: RwLock::new(revoked), changes: watch::channel(0).0 })
    }

    /// Whether `node` is revoked.
    pub fn is_revoked(&self, node: &NodeId) -> bool {
        self.revoked.read().unwrap_or_else(|p| p.into_inner()).contains(node)
    }

    /// Revokes `node` at once (the caller has stored the revocation).
    pub fn revoke(&self, node: NodeId) {
        self.revoked.write().unwrap_or_else(|p| p.into_inner()).insert(node);
        self.changes.send_modify(|n| *n += 1);
    }

    /// Wakes on every revocation.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The calling node: UNAUTHENTICATED without a Kechuang node
    /// certificate, PERMISSION_DENIED if it is revoked.
    pub fn peer<T>(&self, request: &Request<T>) -> Result<Peer, Status> {
        let certs = request.peer_certs().ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
        let leaf = certs.first().ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
        let identity =
            kechuang_pki::identity_of(leaf).map_err(|e| Status::unauthenticated(format!("client certificate: {e}")))?;
        if self.is_revoked(&identity.id) {
            return Err(Status::permission_denied(format!("node {} is revoked", identity.id)));
        }
        Ok(Peer { id: identity.id, kind: identity.kind, region: identity.region, fields: identity.fields })
    }
}
