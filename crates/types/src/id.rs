//! Identities: record ids (UUIDv7) and node ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Error, Result};

/// The id of a record: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(Uuid);

impl RecordId {
    /// A fresh id for a record created now.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id whose 16 bytes are `bytes`.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(Uuid::from_bytes(bytes))
    }

    /// The id's 16 bytes, big-endian: they sort like the ids.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// Parses an id, naming `field` when it is not a UUIDv7.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let uuid = Uuid::parse_str(text).map_err(|_| Error::invalid(field, text, "not a UUID"))?;
        if uuid.get_version_num() != 7 {
            return Err(Error::invalid(field, text, "not a UUIDv7"));
        }
        Ok(Self(uuid))
    }
}

impl Default for RecordId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for RecordId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse("id", s)
    }
}

/// The id of a node: lowercase ASCII letters, digits and `-`, 1 to 64 long.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(String);

impl NodeId {
    /// The id of the central coordinator.
    pub const CENTRAL: &'static str = "central";

    /// Parses a node id, naming `field` when it is malformed.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !text.starts_with('-');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::invalid(field, text, "node ids are 1-64 of a-z, 0-9 and '-'"))
        }
    }

    /// The central coordinator's id.
    pub fn central() -> Self {
        Self(Self::CENTRAL.to_owned())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for NodeId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse("node_id", &s)
    }
}

impl From<NodeId> for String {
    fn from(id: NodeId) -> String {
        id.0
    }
}

impl FromStr for NodeId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse("node_id", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_are_v7_and_sort_by_creation() {
        let a = RecordId::new();
        let b = RecordId::new();
        assert!(a < b);
        assert_eq!(RecordId::parse("id", &a.to_string()).unwrap(), a);
        let v4 = "6f1c2b8e-3d4a-4e5f-9a0b-1c2d3e4f5a6b";
        assert_eq!(RecordId::parse("demand", v4).unwrap_err().field(), "demand");
    }

    #[test]
    fn node_ids_reject_uppercase_spaces_and_empty() {
        assert!(NodeId::parse("node_id", "city-440300").is_ok());
        for bad in ["", "City", "a b", "-x", &"a".repeat(65)] {
            assert!(NodeId::parse("node_id", bad).is_err(), "{bad:?} accepted");
        }
    }
}
