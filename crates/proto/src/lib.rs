//! The wire contract `kechuang.v1`, generated from `proto/` at build time,
//! and the one place that converts between wire and domain types.
//!
//! Receiving validates: `TryFrom<pb::X> for X` checks every field once and
//! names the field it rejects. Sending is an infallible `From<X> for pb::X`.
//! Nothing else in the workspace builds or reads a `pb::` record by hand.

mod convert;

pub use convert::{draft_from_wire, draft_to_wire};

/// Generated protobuf messages and gRPC services of `kechuang.v1`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("kechuang.v1");
}
