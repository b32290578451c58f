//! Assertions shared by the scenarios.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::ensure;
use serde_json::Value;

/// How long a scenario waits for the network to settle.
pub const SETTLE: Duration = Duration::from_secs(60);

/// `id → version` of a list of records, failing on a duplicate id.
pub fn ids_versions(records: &[Value]) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for r in records {
        let id = r["id"].as_str().unwrap_or_default().to_owned();
        let version = r["version"].as_u64().unwrap_or_default();
        ensure!(out.insert(id.clone(), version).is_none(), "duplicate record {id}");
    }
    Ok(out)
}

/// The `external_id`s of a list of records, sorted.
pub fn refs(records: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = records.iter().filter_map(|r| r["external_id"].as_str().map(str::to_owned)).collect();
    out.sort();
    out
}
