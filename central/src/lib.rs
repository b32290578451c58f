//! The Kechuang central coordinator: the sync server nodes push to and
//! follow, the reconciled store of every record, and the admin API the
//! national office inspects it with.
//!
//! Must not depend on node internals; talks to nodes only through the wire
//! contract in `kechuang-proto`.

mod admin;
pub mod backup;
pub mod config;
mod dashboard;
mod durability;
mod error;
pub mod eval;
mod feed;
mod identity;
pub mod init;
mod limit;
mod listener;
mod matcher;
mod roster;
mod server;
pub mod stats;
mod sync_service;
mod tail;
#[cfg(test)]
mod testing;
mod turns;

pub use config::Config;
pub use server::{Listeners, run};
