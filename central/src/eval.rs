//! `kechuang-central eval`: the real matching and routing pipeline (index,
//! scoring, tiers) run in-process over a labelled file, scored against its
//! relevance judgements.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use kechuang_matching::eval::{Metrics, score};
use kechuang_matching::{DemandProfile, Engine, Params, plan};
use kechuang_types::{Date, Hlc, Meta, NodeId, Record, RecordId, SupplyKind, Timestamp};
use serde_json::{Value, json};

use crate::matcher::MAX_PROPOSALS;

/// One demand's proposals, as `--rankings` writes them.
pub struct Ranking {
    /// The demand's id in the file.
    pub demand: String,
    /// `(supply id in the file, kind, score, tier)`, in proposal order.
    pub proposals: Vec<(String, SupplyKind, f64, kechuang_types::Tier)>,
}

/// `text` with every `"today+N"` (a JSON string) replaced by the day N days
/// after `today`: a dataset's deadlines and availability then stay ahead of
/// the evaluation day whenever it runs.
fn relative_dates(text: &str, today: Date) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\"today+") {
        let after = &rest[at + 7..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..at]);
        match (after[..digits].parse::<i64>(), after[digits..].starts_with('"')) {
            (Ok(days), true) => {
                let day = Date::from_days_since_epoch(today.days_since_epoch() + days);
                out.push_str(&format!("\"{day}\""));
                rest = &after[digits + 1..];
            }
            _ => {
                out.push_str("\"today+");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Runs the pipeline over `dataset`; writes rankings to `rankings` if given.
pub fn run(dataset: &Path, rankings: Option<&Path>, today: Date) -> anyhow::Result<(Metrics, Vec<Ranking>)> {
    let text = std::fs::read_to_string(dataset).with_context(|| format!("reading {}", dataset.display()))?;
    let text = relative_dates(&text, today);
    let drafts = kechuang_interchange::parse_json(&text).map_err(|errors| {
        let shown: Vec<String> = errors.iter().take(5).map(ToString::to_string).collect();
        anyhow::anyhow!("{}: {} bad row(s): {}", dataset.display(), errors.len(), shown.join("; "))
    })?;
    let grades = judgements(&text)?;

    let owner = NodeId::parse("owner", "eval")?;
    let mut engine = Engine::in_memory(Params::default())?;
    let mut by_file_id: HashMap<RecordId, String> = HashMap::new();
    let mut demands = Vec::new();
    for (n, draft) in drafts.into_iter().enumerate() {
        let Some(file_id) = draft.external_id.clone() else { bail!("row {}: every row needs an id", n + 1) };
        let record = Record {
            meta: Meta {
                id: RecordId::new(),
                owner: owner.clone(),
                version: Hlc::from_u64(1),
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
                deleted: false,
                external_id: Some(file_id.clone()),
                withdrawal: None,
            },
            body: draft.body,
        };
        engine.upsert(&record, true)?;
        if let Some(profile) = DemandProfile::from_record(&record) {
            demands.push((file_id.clone(), profile));
        }
        by_file_id.insert(record.meta.id, file_id);
    }
    engine.commit()?;

    let mut out = Vec::with_capacity(demands.len());
    for (file_id, demand) in &demands {
        let ranked = engine.rank(demand, today)?;
        let proposals = plan(&ranked, MAX_PROPOSALS)
            .into_iter()
            .map(|p| {
                let c = p.candidate;
                (by_file_id.get(&c.supply).cloned().unwrap_or_default(), c.kind, c.score, c.tier)
            })
            .collect();
        out.push(Ranking { demand: file_id.clone(), proposals });
    }
    if let Some(path) = rankings {
        write_rankings(path, &out)?;
    }
    let ranked: HashMap<String, Vec<String>> =
        out.iter().map(|r| (r.demand.clone(), r.proposals.iter().map(|p| p.0.clone()).collect())).collect();
    Ok((score(&ranked, &grades), out))
}

/// The `qrels` of a labelled file: demand → supply → grade.
fn judgements(text: &str) -> anyhow::Result<HashMap<String, HashMap<String, u32>>> {
    let value: Value = serde_json::from_str(text)?;
    let mut grades: HashMap<String, HashMap<String, u32>> = HashMap::new();
    let Some(qrels) = value.get("qrels").and_then(Value::as_array) else {
        bail!("qrels: the labelled file needs a qrels array");
    };
    for (i, q) in qrels.iter().enumerate() {
        let demand = q["demand"].as_str().with_context(|| format!("qrels[{i}].demand: missing"))?;
        let supply = q["outcome"]
            .as_str()
            .or_else(|| q["expert"].as_str())
            .with_context(|| format!("qrels[{i}]: needs outcome or expert"))?;
        let grade = q["grade"].as_u64().with_context(|| format!("qrels[{i}].grade: missing"))?;
        if grade > 0 {
            grades.entry(demand.to_owned()).or_default().insert(supply.to_owned(), grade as u32);
        }
    }
    Ok(grades)
}

fn write_rankings(path: &Path, rankings: &[Ranking]) -> anyhow::Result<()> {
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?);
    for r in rankings {
        let proposals: Vec<Value> = r
            .proposals
            .iter()
            .map(|(supply, kind, score, tier)| {
                let kind = match kind {
                    SupplyKind::Outcome => "outcome",
                    SupplyKind::Expert => "expert",
                    SupplyKind::Team => "team",
                };
                json!({"supply": supply, "kind": kind, "score": score, "tier": tier.as_str()})
            })
            .collect();
        writeln!(file, "{}", json!({"demand": r.demand, "proposals": proposals}))?;
    }
    file.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_dates_are_counted_from_the_evaluation_day() {
        let today = Date::parse("today", "2026-11-28").unwrap();
        let text = r#"{"deadline": "today+34", "note": "today+x", "to": "today+398"}"#;
        assert_eq!(relative_dates(text, today), r#"{"deadline": "2027-01-01", "note": "today+x", "to": "2027-12-31"}"#);
    }
}
