//! Matching demands with supply. A Chinese full-text index (tantivy over
//! jieba words and character bigrams) finds candidates; scoring combines
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
pub use engine::{Candidate, Engine, Params, tier};
pub use error::{Error, Result};
pub use plan::{Proposal, Stage, plan};
pub use text::Analyzer;
