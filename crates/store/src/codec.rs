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
