//! Everything Kechuang keeps: a station's store on sled, central's over
//! sled or PostgreSQL. Engine types never leave this crate, so node and
//! central logic is the same whichever engine holds the data.
//!
//! Two stores: [`NodeStore`] (a station's records, its outbox of local
//! changes, its feed cursor and clock) and [`CentralStore`] (all records,
//! the change log every feed is cut from, and what each node has pushed).
//! Records are stored in their own versioned encoding, never as wire types.

mod central;
mod codec;
pub mod crash;
mod error;
mod node;
#[cfg(test)]
mod testing;

pub use central::{Backing, CentralStore, MATCHING, Manifest, NodeEntry, PushOutcome, Pushed};
pub use error::{Error, Result};
pub use node::{Change, NodeStore, PublishReport, RepairReport};
pub use node::{Refusal, RefusedChange};
