//! Matching demands with supply. A Chinese full-text index (tantivy over
//! jieba words, character bigrams and single characters, without what a
//! text says it does not do) finds candidates; scoring combines
//! text relevance with structure (industry, TRL fit, price against budget,
//! expert availability, region) and with the link between an expert and
//! the institution of a strongly matching outcome; tiers and escalation
//! decide which candidates are proposed when, local first.
//!
//! Pure matching logic over an in-process index: no network, no store. The
//! central binary feeds it records and turns its proposals into matches.

mod catalog;
mod engine;
mod error;
pub mod eval;
mod index;
mod plan;
mod text;

pub use catalog::{DemandProfile, SupplyProfile};
pub use engine::{Candidate, Catalogue, Engine, Params, tier};
pub use error::{Error, Result};
pub use plan::{Escalation, LAST_STAGE, Proposal, Stage, escalation, plan, takes_proposals, unanswered};
pub use text::Analyzer;

/// The version of what an index holds for a record; an index written under
/// another (an older analysis: no single characters, negations indexed) is
/// rebuilt.
pub const INDEX_FORMAT: u32 = 2;
