//! Who is calling: the peer a request comes from.
//!
//! Until certificates carry identities, a node names itself in request
//! metadata (`x-kechuang-node`, `-kind`, `-region`); this is the one place
//! that reads it, so swapping in certificate identities touches nothing else.

use kechuang_sync::Peer;
use kechuang_types::{NodeId, NodeKind, Region};
use tonic::{Request, Status};

/// Metadata key carrying the node id.
pub const NODE: &str = "x-kechuang-node";
/// Metadata key carrying the node kind.
pub const KIND: &str = "x-kechuang-kind";
/// Metadata key carrying the node region.
pub const REGION: &str = "x-kechuang-region";

/// The calling node, or UNAUTHENTICATED.
pub fn peer<T>(request: &Request<T>) -> Result<Peer, Status> {
    let get = |key: &str| {
        request
            .metadata()
            .get(key)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Status::unauthenticated(format!("missing {key}")))
    };
    let bad = |e: kechuang_types::Error| Status::unauthenticated(format!("identity: {e}"));
    let id = NodeId::parse("node_id", get(NODE)?).map_err(bad)?;
    let kind = NodeKind::parse("kind", get(KIND)?).map_err(bad)?;
    let region = Region::parse("region", get(REGION)?).map_err(bad)?;
    if kind == NodeKind::Central {
        return Err(Status::unauthenticated("a node cannot claim to be central"));
    }
    Ok(Peer { id, kind, region })
}
