//! The programme's figures (考核评估): how many demands were published,
//! proposed, connected, contracted and landed, for how much, how fast, and
//! who answers — computed from central's records and its lifecycle history.
//!
//! Only verified steps count: a connection both sides accepted, a contract
//! both sides recorded with the same type, a landing recorded by the landing
//! node (the lifecycle lets nobody else write it). A [`Ledger`] takes the
//! records and events once; a [`Query`] picks the scope, the window and the
//! grouping; [`Ledger::report`] answers it.

mod cli;
mod ledger;
mod open;
mod query;
mod rankings;
mod render;
mod report;

pub use cli::StatsArgs;
pub use ledger::Ledger;
pub use open::OpenDemand;
pub use query::{Dimension, Query, Scope};
pub use rankings::{Entry, MIN_ANSWERED, Ranking, Rankings};
pub use render::{csv, rankings_table, rankings_xlsx, table, xlsx};
pub use report::{
    Assessments, Contracts, DemandFunnel, Engagement, MedianDays, Proposals, Report, Responsiveness, Row, kind_label,
    tier_label,
};

/// Why a query or an export failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query's field has a bad value.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as the command line names it.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing the spreadsheet failed.
    #[error("writing the spreadsheet: {0}")]
    Xlsx(String),
}
