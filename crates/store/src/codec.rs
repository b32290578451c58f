//! The stored encoding: a format byte, then the value.
//!
//! In the embedded stores (central's and the nodes' sled), records, the
//! bulk of what is stored and read back on every feed, scan and matching
//! pass, are kept in their protobuf wire form (format 2), the encoding
//! nodes push and receive: dense, and decoded without the JSON parser's
//! buffering. Everything else, and records on PostgreSQL (where the
//! `kechuang_records_json` view lets people query them with SQL), is JSON
//! of the domain type (format 1). Records written as JSON by earlier
//! versions still decode, so a store needs no migration.

use kechuang_proto::pb;
use kechuang_types::Record;
use prost::Message;
use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, Result};

const FORMAT_JSON: u8 = 1;
const FORMAT_PROTO: u8 = 2;

/// Encodes a value for storage.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_JSON];
    // Serialising plain data structs to a Vec cannot fail.
    serde_json::to_writer(&mut out, value).expect("serialisable value");
    out
}

/// Decodes a stored value.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&FORMAT_JSON, rest)) => {
            serde_json::from_slice(rest).map_err(|e| Error::Corrupt { what, reason: e.to_string() })
        }
        Some((other, _)) => Err(Error::Corrupt { what, reason: format!("unknown format byte {other}") }),
        None => Err(Error::Corrupt { what, reason: "empty value".into() }),
    }
}

/// Encodes a record for storage.
pub fn encode_record(record: &Record) -> Vec<u8> {
    wire_after(&[], record)
}

/// Decodes a stored record (either format).
pub fn decode_record(what: &'static str, bytes: &[u8]) -> Result<Record> {
    match bytes.split_first() {
        Some((&FORMAT_PROTO, wire)) => record_from_wire(what, wire),
        _ => decode(what, bytes),
    }
}

/// Encodes a record with the log position it was written at (central).
pub fn encode_positioned(position: u64, record: &Record) -> Vec<u8> {
    wire_after(&position.to_be_bytes(), record)
}

/// Decodes what [`encode_positioned`] wrote, or its JSON form (a `Stored`).
pub fn decode_positioned(what: &'static str, bytes: &[u8]) -> Result<(u64, Record)> {
    match bytes.split_first() {
        Some((&FORMAT_PROTO, rest)) if rest.len() >= 8 => {
            let (position, wire) = rest.split_at(8);
            Ok((read_u64(what, position)?, record_from_wire(what, wire)?))
        }
        _ => decode::<crate::central::Stored>(what, bytes).map(|s| (s.position, s.record)),
    }
}

/// The format byte, `header`, then `record` in wire form.
fn wire_after(header: &[u8], record: &Record) -> Vec<u8> {
    let wire = pb::Record::from(record.clone());
    let mut out = Vec::with_capacity(1 + header.len() + wire.encoded_len());
    out.push(FORMAT_PROTO);
    out.extend_from_slice(header);
    wire.encode_raw(&mut out);
    out
}

fn record_from_wire(what: &'static str, wire: &[u8]) -> Result<Record> {
    let corrupt = |reason: String| Error::Corrupt { what, reason };
    let decoded = pb::Record::decode(wire).map_err(|e| corrupt(e.to_string()))?;
    Record::try_from(decoded).map_err(|e| corrupt(e.to_string()))
}

/// The body field numbers of `kechuang.v1.Record`, by kind.
const BODY_FIELDS: [(u64, &str); 7] =
    [(10, "demand"), (11, "outcome"), (12, "expert"), (13, "match"), (14, "bid"), (15, "assessment"), (16, "team")];

/// Whether a stored record is of kind `kind` (`demand`, `match`, …), read
/// from its bytes without decoding it; `None` when the bytes do not tell.
///
/// A record is stored as `{"meta":{…},"body":{"kind":"…",…}}`; a string
/// value cannot hold an unescaped quote, so the first `"body":{"kind":"`
/// is the body's own tag.
pub fn record_is(bytes: &[u8], kind: &str) -> Option<bool> {
    const TAG: &[u8] = br#""body":{"kind":""#;
    let (&format, json) = bytes.split_first()?;
    if format == FORMAT_PROTO {
        return wire_body_kind(json).map(|k| k == kind);
    }
    if format != FORMAT_JSON {
        return None;
    }
    let at = json.windows(TAG.len()).position(|w| w == TAG)? + TAG.len();
    let rest = &json[at..];
    let end = rest.iter().position(|&b| b == b'"')?;
    Some(&rest[..end] == kind.as_bytes())
}

/// The kind of a record in wire form, from the number of its body field:
/// the top-level fields are walked, their contents skipped.
fn wire_body_kind(mut wire: &[u8]) -> Option<&'static str> {
    use prost::encoding::{WireType, decode_key, decode_varint};
    while !wire.is_empty() {
        let (number, wire_type) = decode_key(&mut wire).ok()?;
        if let Some((_, kind)) = BODY_FIELDS.iter().find(|(n, _)| u64::from(number) == *n) {
            return Some(kind);
        }
        let skip = match wire_type {
            WireType::Varint => {
                decode_varint(&mut wire).ok()?;
                0
            }
            WireType::SixtyFourBit => 8,
            WireType::ThirtyTwoBit => 4,
            WireType::LengthDelimited => usize::try_from(decode_varint(&mut wire).ok()?).ok()?,
            WireType::StartGroup | WireType::EndGroup => return None,
        };
        wire = wire.get(skip..)?;
    }
    None
}

/// A big-endian `u64` key, so keys sort numerically.
pub fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// Reads a big-endian `u64` key or value.
pub fn read_u64(what: &'static str, bytes: &[u8]) -> Result<u64> {
    let array: [u8; 8] =
        bytes.try_into().map_err(|_| Error::Corrupt { what, reason: format!("{} bytes, expected 8", bytes.len()) })?;
    Ok(u64::from_be_bytes(array))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_tells_its_kind_without_being_decoded() {
        let demand = serde_json::json!({"meta": {"id": "x", "external_id": "\"body\":{\"kind\":\"match"}, "body": {"kind": "demand", "title": "t"}});
        let bytes = encode(&demand);
        assert_eq!(record_is(&bytes, "demand"), Some(true));
        assert_eq!(record_is(&bytes, "match"), Some(false), "a quoted string cannot fake the tag");
        assert_eq!(record_is(&[FORMAT_JSON, b'{', b'}'], "demand"), None);
        assert_eq!(record_is(&[], "demand"), None);
    }

    #[test]
    fn records_of_every_kind_survive_storage_and_tell_their_kind() {
        for record in kechuang_types::testing::one_of_each_kind() {
            let kind = record.kind().as_str();
            let bytes = encode_record(&record);
            assert_eq!(decode_record("record", &bytes).unwrap(), record, "{kind}");
            assert_eq!(record_is(&bytes, kind), Some(true), "{kind}");
            assert_eq!(record_is(&bytes, if kind == "match" { "demand" } else { "match" }), Some(false));
            let (position, back) = decode_positioned("record", &encode_positioned(42, &record)).unwrap();
            assert_eq!((position, back), (42, record.clone()), "{kind}");
            // Written as JSON by an earlier version, still read.
            assert_eq!(decode_record("record", &encode(&record)).unwrap(), record, "{kind}");
            let old = encode(&serde_json::json!({"position": 7, "record": record}));
            assert_eq!(decode_positioned("record", &old).unwrap(), (7, record), "{kind}");
        }
    }

    #[test]
    fn a_damaged_record_is_reported_not_guessed() {
        let record = kechuang_types::testing::one_of_each_kind().remove(0);
        let bytes = encode_record(&record);
        let cut = &bytes[..bytes.len() / 2];
        assert!(matches!(decode_record("record", cut), Err(Error::Corrupt { what: "record", .. })));
        assert!(matches!(decode_positioned("record", &[FORMAT_PROTO, 0, 0]), Err(Error::Corrupt { .. })));
    }
}
