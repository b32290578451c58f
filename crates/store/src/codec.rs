//! The stored encoding: a format byte, then JSON of the domain type.
//!
//! JSON keeps stored records readable with standard tools and tolerant of
//! added optional fields; the format byte lets a denser encoding replace it
//! without a migration of old values.

use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, Result};

const FORMAT_JSON: u8 = 1;

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

/// Whether a stored record is of kind `kind` (`demand`, `match`, …), read
/// from its bytes without decoding it; `None` when the bytes do not tell.
///
/// A record is stored as `{"meta":{…},"body":{"kind":"…",…}}`; a string
/// value cannot hold an unescaped quote, so the first `"body":{"kind":"`
/// is the body's own tag.
pub fn record_is(bytes: &[u8], kind: &str) -> Option<bool> {
    const TAG: &[u8] = br#""body":{"kind":""#;
    let (&FORMAT_JSON, json) = bytes.split_first()? else { return None };
    let at = json.windows(TAG.len()).position(|w| w == TAG)? + TAG.len();
    let rest = &json[at..];
    let end = rest.iter().position(|&b| b == b'"')?;
    Some(&rest[..end] == kind.as_bytes())
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
}
