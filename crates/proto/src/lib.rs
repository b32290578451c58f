//! The wire contract `kechuang.v1`, generated from `proto/` at build time,
//! and the one place that converts between wire and domain types.
//!
//! Receiving validates: `TryFrom<pb::X> for X` checks every field once and
//! names the field it rejects. Sending is an infallible `From<X> for pb::X`.
//! Nothing else in the workspace builds or reads a `pb::` record by hand.

mod convert;

pub use convert::{draft_from_wire, draft_to_wire};

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
