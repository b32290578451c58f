//! `/metrics` in the Prometheus text format: what an operator's monitoring
//! scrapes.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::server::State;

/// One metric: its help line, type and samples (labels, value).
fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// Escapes a label value.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The metrics as of now.
pub fn render(state: &State) -> Result<String, kechuang_store::Error> {
    let nodes = state.store.nodes()?;
    let head = state.store.head();
    let connected = nodes.iter().filter(|n| state.feeds.is_connected(&n.id)).count();
    let mut out = String::new();
    let one = |v: f64| vec![(String::new(), v)];
    metric(
        &mut out,
        "kechuang_nodes_registered",
        "gauge",
        "Stations central has registered.",
        &one(nodes.len() as f64),
    );
    metric(&mut out, "kechuang_nodes_connected", "gauge", "Stations with a feed open now.", &one(connected as f64));
    let c = &state.counters;
    metric(
        &mut out,
        "kechuang_pushes_total",
        "counter",
        "Pushes applied since central started.",
        &one(c.pushes.load(Ordering::Relaxed) as f64),
    );
    metric(
        &mut out,
        "kechuang_pushed_changes_total",
        "counter",
        "Changes in the pushes applied since central started.",
        &one(c.pushed_changes.load(Ordering::Relaxed) as f64),
    );
    metric(
        &mut out,
        "kechuang_refused_changes_total",
        "counter",
        "Changes central refused since it started.",
        &one(c.refused_changes.load(Ordering::Relaxed) as f64),
    );
    metric(&mut out, "kechuang_log_head", "gauge", "Central's change log position.", &one(head as f64));
    let backlog = head.saturating_sub(state.store.matched_upto()?);
    metric(
        &mut out,
        "kechuang_matching_backlog",
        "gauge",
        "Log positions the matcher has yet to read.",
        &one(backlog as f64),
    );
    metric(
        &mut out,
        "kechuang_store_bytes",
        "gauge",
        "Central's store size on disk.",
        &one(state.store.size_on_disk()? as f64),
    );
    let (mut counted, mut lags) = (super::data::FeedLags::new(state), Vec::new());
    for n in &nodes {
        if let Some(lag) = counted.of(state, state.roster.get(&n.id).feed_cursor)? {
            lags.push((format!("{{node=\"{}\"}}", label(n.id.as_str())), lag as f64));
        }
    }
    metric(
        &mut out,
        "kechuang_feed_lag_records",
        "gauge",
        "Records logged after a station's feed position (at most what it still needs).",
        &lags,
    );
    Ok(out)
}
