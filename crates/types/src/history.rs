//! The history of matches and bids: every step as central recorded it
//! (全程跟踪), append-only.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Hlc, RecordId, RecordKind, Timestamp};

/// One step of one part of a match or bid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Which part moved: `core`, `demand_side`, `supply_side`, `landing`
    /// (a match) or `decision` (a bid).
    pub part: String,
    /// Its value before (`None` when the record was created), with what
    /// goes with it (a decline's reason, a contract's type and amount).
    pub from: Option<Value>,
    /// Its value after.
    pub to: Value,
    /// The writer's clock for the part.
    pub version: Hlc,
}

/// A step as central recorded it: when, and by whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Central's sequence of events, from 1, without gaps.
    pub seq: u64,
    /// The match or bid.
    pub record: RecordId,
    /// Match or bid.
    pub kind: RecordKind,
    /// What moved.
    #[serde(flatten)]
    pub step: Step,
    /// Who moved it: a node's id, `central`, or `central:` and the operator
    /// for the national office's own acts.
    pub by: String,
    /// When central received it.
    pub at: Timestamp,
}
