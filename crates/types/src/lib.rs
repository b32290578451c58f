//! The Kechuang domain model: record ids, node identities, the records that
//! flow through the federation (demands, outcomes, experts, matches, bids,
//! assessments, teams),
//! the national codes they carry (GB/T 2260 regions, GB/T 4754 industries,
//! TRL), the hybrid logical clock that versions them, and their validation.
//!
//! This crate owns meaning, not transport or storage: it must not depend on
//! tonic, sled or tokio. Everything that enters the system is checked here
//! once, and every error names the field it is about.

mod clock;
mod codes;
mod date;
mod error;
mod history;
mod id;
mod lang;
pub mod limits;
pub mod present;
mod record;
mod regions;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use clock::{Clock, Exhausted, Hlc};
pub use codes::{
    ContractType, DeclineReason, Industry, NodeKind, Recommendation, Region, SERVICE_MODES, Tier, TransferMode, Trl,
    WithdrawReason, service_mode,
};
pub use date::{Date, DateRange, Timestamp};
pub use error::{Error, Result};
pub use history::{Event, Step};
pub use id::{NodeId, RecordId};
pub use lang::Lang;
pub use record::{
    Assessment, Bid, BidState, Body, Contact, Contract, Decline, Demand, Draft, Expert, Landed, Landing, Match,
    MatchState, Member, Meta, Outcome, Part, Record, RecordKind, Response, Scores, SupplyKind, Team, Text, Withdrawal,
};
pub use record::{check_patents, check_text};
pub use regions::table as region_table;
