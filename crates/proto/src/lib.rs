//! The wire contract `kechuang.v1`, generated from `proto/` at build time,
//! and the one place that converts between wire and domain types.
//!
//! Receiving validates: `TryFrom<pb::X> for X` checks every field once and
//! names the field it rejects. Sending is an infallible `From<X> for pb::X`.
//! Nothing else in the workspace builds or reads a `pb::` record by hand.

mod convert;

pub use convert::{draft_from_wire, draft_to_wire};

/// The encoded `FileDescriptorSet` of `kechuang.v1`, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kechuang_descriptor.bin"));

/// gRPC health (the whole server and each of `services` serving) and
/// reflection of `kechuang.v1` in both versions grpcurl speaks, as routes to
/// serve beside `services`.
pub async fn probe_routes(services: &[&str]) -> Result<tonic::service::Routes, tonic_reflection::server::Error> {
    use tonic_health::ServingStatus;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("", ServingStatus::Serving).await;
    for service in services {
        reporter.set_service_status(*service, ServingStatus::Serving).await;
    }
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(health).add_service(reflection().build_v1()?).add_service(reflection().build_v1alpha()?);
    Ok(routes.routes())
}

/// Splits `items`, in order, into parts of at most `max_items` items and
/// `max_bytes` encoded bytes each (an item larger than that gets a part of
/// its own), so every part fits one message.
pub fn split_by_size<M: prost::Message>(items: Vec<M>, max_items: usize, max_bytes: usize) -> Vec<Vec<M>> {
    let mut parts: Vec<Vec<M>> = Vec::new();
    let mut size = 0;
    for item in items {
        let len = item.encoded_len();
        match parts.last_mut() {
            Some(part) if part.len() < max_items && size + len <= max_bytes => {
                part.push(item);
                size += len;
            }
            _ => {
                parts.push(vec![item]);
                size = len;
            }
        }
    }
    parts
}

/// Generated protobuf messages and gRPC services of `kechuang.v1`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("kechuang.v1");
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn parts_respect_both_limits_and_keep_the_order() {
        let items: Vec<pb::Change> = (1..=10).map(|seq| pb::Change { seq, record: None }).collect();
        let len = items[0].encoded_len();
        let by_count = split_by_size(items.clone(), 4, usize::MAX);
        assert_eq!(by_count.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
        let by_bytes = split_by_size(items.clone(), usize::MAX, 3 * len);
        assert_eq!(by_bytes.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 1]);
        let oversized = split_by_size(items.clone(), usize::MAX, 1);
        assert_eq!(oversized.len(), 10, "an item over the limit still travels, alone");
        assert_eq!(by_bytes.concat(), items);
    }
}
