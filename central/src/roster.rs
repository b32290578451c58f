//! What central knows of each station beyond its registration, for the
//! dashboard: the software it runs, when its certificate expires, and how
//! far its feed has got. Kept in memory: a restart learns it again at each
//! station's next session.

use std::collections::HashMap;
use std::sync::Mutex;

use kechuang_types::{NodeId, Timestamp};

/// One station's presence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presence {
    /// The software version it reported at its last `Hello`.
    pub version: String,
    /// When its certificate expires.
    pub certificate_expires: Option<Timestamp>,
    /// The log position its feed has been sent up to.
    pub feed_cursor: Option<u64>,
}

/// Every station's presence.
#[derive(Debug, Default)]
pub struct Roster {
    stations: Mutex<HashMap<NodeId, Presence>>,
}

impl Roster {
    fn with(&self, node: &NodeId, f: impl FnOnce(&mut Presence)) {
        let mut stations = self.stations.lock().unwrap_or_else(|p| p.into_inner());
        f(stations.entry(node.clone()).or_default());
    }

    /// Notes a session's opening.
    pub fn hello(&self, node: &NodeId, version: &str, certificate_expires: Option<Timestamp>) {
        let version: String = version.chars().take(40).collect();
        self.with(node, |p| {
            p.version = version;
            p.certificate_expires = certificate_expires;
        });
    }

    /// Notes how far `node`'s feed has been sent.
    pub fn fed(&self, node: &NodeId, cursor: u64) {
        self.with(node, |p| p.feed_cursor = Some(cursor));
    }

    /// What central knows of `node`.
    pub fn get(&self, node: &NodeId) -> Presence {
        self.stations.lock().unwrap_or_else(|p| p.into_inner()).get(node).cloned().unwrap_or_default()
    }
}

/// Counters of central's work since it started, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Pushes applied.
    pub pushes: std::sync::atomic::AtomicU64,
    /// Changes those pushes carried.
    pub pushed_changes: std::sync::atomic::AtomicU64,
    /// Changes refused.
    pub refused_changes: std::sync::atomic::AtomicU64,
}
