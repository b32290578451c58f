//! The Kechuang station node: its embedded store, the sync client that
//! pushes local changes to central and follows its feed, the operator API
//! on loopback, and the command-line verbs that talk to it.
//!
//! Keeps working offline: operator writes go to the local store and outbox
//! and reach central whenever the link is up. Must not depend on central's
//! internals, only on the wire contract.

pub mod api;
pub mod client;
pub mod config;
pub mod console;
pub mod daemon;
pub mod events;
pub mod lifecycle;
pub mod notify;
pub mod publish;

pub use config::Config;
pub use daemon::run;
