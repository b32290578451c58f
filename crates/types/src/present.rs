//! How records are shown: stable JSON for scripts and aligned tables for
//! people (CJK characters take two columns).

use serde_json::{Map, Value};

use crate::{Body, Lang, Match, MatchState, Record, Region, Response, Team};

/// The stable JSON form of a record: metadata fields (`id`, `kind`,
/// `owner`, `version`, `external_id`, `created_at`, `updated_at`,
/// `deleted`, `withdrawal`) followed by the body's fields in interchange
/// names; a match adds its `state` and its `verified_contract`.
pub fn record_json(record: &Record) -> Value {
    let m = &record.meta;
    let mut out = Map::new();
    out.insert("id".into(), m.id.to_string().into());
    out.insert("kind".into(), record.kind().as_str().into());
    out.insert("owner".into(), m.owner.as_str().into());
    out.insert("version".into(), m.version.as_u64().into());
    out.insert("external_id".into(), m.external_id.clone().map_or(Value::Null, Value::String));
    out.insert("created_at".into(), m.created_at.to_string().into());
    out.insert("updated_at".into(), m.updated_at.to_string().into());
    out.insert("deleted".into(), m.deleted.into());
    let withdrawal = m.withdrawal.as_ref().map(|w| serde_json::json!({"reason": w.reason.as_str(), "note": w.note}));
    out.insert("withdrawal".into(), withdrawal.unwrap_or(Value::Null));
    if let Ok(Value::Object(body)) = serde_json::to_value(&record.body) {
        out.extend(body.into_iter().filter(|(k, _)| k != "kind"));
    }
    if let Body::Match(m) = &record.body {
        out.insert("state".into(), m.state().as_str().into());
        let contract =
            m.verified_contract().map(|c| serde_json::json!({"type": c.kind.as_str(), "amount_wan": c.amount_wan}));
        out.insert("verified_contract".into(), contract.unwrap_or(Value::Null));
    }
    Value::Object(out)
}

/// Display width of `text` in a terminal: CJK and full-width characters count two.
pub fn width(text: &str) -> usize {
    text.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// Cuts `text` to at most `max` columns, marking the cut with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = if is_wide(c) { 2 } else { 1 };
        if used + w > max.saturating_sub(1) {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// Renders rows under a header as left-aligned columns separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (cell, w) in cells.zip(&widths) {
            text.push_str(cell);
            text.push_str(&" ".repeat(w - width(cell) + 2));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// A match's state in a few words: with the contract (type and amount) it
/// carries, the reason it was declined, or the day it landed.
pub fn state_label(m: &Match, lang: Lang) -> String {
    let state = m.state();
    let word = lang.state(state.as_str());
    let declined = [&m.demand_side.value, &m.supply_side.value].into_iter().find_map(|r| match r {
        Response::Declined(d) => Some(d.reason.as_str()),
        _ => None,
    });
    match state {
        MatchState::Contracted | MatchState::Landed => {
            let contract = m
                .verified_contract()
                .map_or_else(|| "unverified".to_owned(), |c| format!("{} {} 万元", c.kind.as_str(), c.amount_wan));
            match &m.landing.value {
                crate::Landing::Landed(l) => format!("{word} {} ({contract})", l.date),
                crate::Landing::Pending => format!("{word} {contract}"),
            }
        }
        MatchState::Declined => format!("{word}: {}", declined.unwrap_or_default()),
        _ => word,
    }
}

/// A lifecycle value as history stores it (JSON text) in a few words:
/// `accepted`, `contracted 技术许可 120 万元`, `declined 价格 太贵`.
pub fn describe_value(json: &str) -> String {
    fn words(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            Value::Object(fields) => {
                let mut parts: Vec<String> = Vec::new();
                for (key, value) in fields {
                    match (key.as_str(), value) {
                        (_, Value::String(s)) if s.is_empty() => {}
                        ("amount_wan", _) => {}
                        (_, Value::Object(_)) => parts.push(format!("{key} {}", words(value))),
                        (_, v) => parts.push(words(v)),
                    }
                }
                if let Some(amount) = fields.get("amount_wan") {
                    parts.push(format!("{} 万元", words(amount)));
                }
                parts.join(" ")
            }
            Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string()),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
    serde_json::from_str::<Value>(json).map_or_else(|_| json.to_owned(), |v| words(&v))
}

/// A region with its name: `440300 深圳市`.
pub fn region_cell(region: Region) -> String {
    format!("{region} {}", region.short_name())
}

/// How many rows a table showed, in `lang`.
fn footer(n: usize, what: &str, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("（共 {n} 条）\n"),
        Lang::En => format!("({n} {what})\n"),
    }
}

/// A table of matches: state, score, tier, both sides and why.
pub fn matches_table(records: &[Record], lang: Lang) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .filter_map(|r| match &r.body {
            Body::Match(m) => Some(vec![
                r.meta.id.to_string(),
                state_label(m, lang),
                format!("{:.2}", m.score),
                m.tier.to_string(),
                truncate(&m.demand_title, 28),
                truncate(&m.supply_title, 28),
                m.explanation.clone(),
            ]),
            _ => None,
        })
        .collect();
    let header = ["MATCH", "STATE", "SCORE", "TIER", "DEMAND", "SUPPLY", "WHY"].map(|h| lang.say(h));
    let header: Vec<&str> = header.iter().map(|h| h.as_ref()).collect();
    let mut out = table(&header, &rows);
    out.push_str(&footer(rows.len(), "matches", lang));
    out
}

/// A table of records with the columns that matter for their kind, in
/// `lang`; regions with their names.
pub fn records_table(records: &[Record], lang: Lang) -> String {
    if !records.is_empty() && records.iter().all(|r| matches!(r.body, Body::Match(_))) {
        return matches_table(records, lang);
    }
    let rows: Vec<Vec<String>> = records.iter().map(|r| record_row(r, lang)).collect();
    let header = RECORD_COLUMNS.map(|h| lang.say(h));
    let header: Vec<&str> = header.iter().map(|h| h.as_ref()).collect();
    let mut out = table(&header, &rows);
    out.push_str(&footer(records.len(), "records", lang));
    out
}

/// A table of search hits, best first: relevance, then the record's columns.
pub fn hits_table(hits: &[(Record, f64)], lang: Lang) -> String {
    let rows: Vec<Vec<String>> = hits
        .iter()
        .map(|(r, score)| std::iter::once(format!("{score:.2}")).chain(record_row(r, lang)).collect())
        .collect();
    let header: Vec<_> = std::iter::once("SCORE").chain(RECORD_COLUMNS).map(|h| lang.say(h)).collect();
    let header: Vec<&str> = header.iter().map(|h| h.as_ref()).collect();
    let mut out = table(&header, &rows);
    out.push_str(&footer(hits.len(), "records", lang));
    out
}

/// Each supply's load: how many of the open matches among `records`
/// engage it. A team's match engages each of its serving members (when the
/// team is among `records`), and a team's load is the sum of theirs.
pub fn loads(records: &[Record]) -> std::collections::HashMap<crate::RecordId, u32> {
    let teams: std::collections::HashMap<crate::RecordId, Vec<crate::RecordId>> = records
        .iter()
        .filter_map(|r| match &r.body {
            Body::Team(t) if !r.meta.deleted => Some((
                r.meta.id,
                t.members.iter().filter(|m| Team::serves(m, &r.meta.owner)).map(|m| m.expert).collect(),
            )),
            _ => None,
        })
        .collect();
    let mut loads = std::collections::HashMap::new();
    for record in records {
        if let Body::Match(m) = &record.body
            && m.state().is_open()
        {
            for engaged in teams.get(&m.supply).map_or(&[m.supply][..], Vec::as_slice) {
                *loads.entry(*engaged).or_insert(0) += 1;
            }
        }
    }
    for (team, members) in &teams {
        let sum = members.iter().map(|m| loads.get(m).copied().unwrap_or(0)).sum();
        loads.insert(*team, sum);
    }
    loads
}

/// A table of experts with their load: open engagements against capacity
/// (`1/3`; `1/—` when no capacity is set).
pub fn experts_table(
    records: &[Record],
    loads: &std::collections::HashMap<crate::RecordId, u32>,
    lang: Lang,
) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let load = loads.get(&r.meta.id).copied().unwrap_or(0);
            let capacity = match &r.body {
                Body::Expert(e) => e.capacity.map_or_else(|| "—".to_owned(), |c| c.to_string()),
                _ => "—".to_owned(),
            };
            record_row(r, lang).into_iter().chain([format!("{load}/{capacity}")]).collect()
        })
        .collect();
    let header: Vec<_> = RECORD_COLUMNS.into_iter().chain(["LOAD"]).map(|h| lang.say(h)).collect();
    let header: Vec<&str> = header.iter().map(|h| h.as_ref()).collect();
    let mut out = table(&header, &rows);
    out.push_str(&footer(records.len(), "records", lang));
    out
}

/// The assessments among `held` of any of `subjects`, by subject order:
/// what a challenge's owner reads before awarding, or an outcome's owner
/// of its outcomes.
pub fn assessments_of<'a>(subjects: &[Record], held: &'a [Record]) -> Vec<&'a Record> {
    let mut out: Vec<&Record> = Vec::new();
    for subject in subjects {
        out.extend(
            held.iter()
                .filter(|r| !r.meta.deleted && matches!(&r.body, Body::Assessment(a) if a.subject == subject.meta.id)),
        );
    }
    out
}

/// A table of assessments: subject, society, verdict, the four scores,
/// evaluator and text.
pub fn assessments_table(assessments: &[&Record], lang: Lang) -> String {
    let rows: Vec<Vec<String>> = assessments
        .iter()
        .filter_map(|r| {
            let Body::Assessment(a) = &r.body else { return None };
            let scores: Vec<String> = a.scores.named().iter().map(|(_, _, s)| s.to_string()).collect();
            Some(vec![
                a.subject.to_string(),
                r.meta.owner.to_string(),
                a.verdict.to_string(),
                scores.join("/"),
                a.evaluator.clone(),
                truncate(&a.text, 40),
            ])
        })
        .collect();
    let header = ["SUBJECT", "SOCIETY", "VERDICT", "SCORES", "EVALUATOR", "TEXT"].map(|h| lang.say(h));
    let header: Vec<&str> = header.iter().map(|h| h.as_ref()).collect();
    let mut out = table(&header, &rows);
    out.push_str(&footer(rows.len(), "assessments", lang));
    out
}

const RECORD_COLUMNS: [&str; 7] = ["ID", "KIND", "REF", "OWNER", "REGION", "DETAIL", "TITLE"];

/// One record's cells under [`RECORD_COLUMNS`].
fn record_row(r: &Record, lang: Lang) -> Vec<String> {
    let (region, detail) = match &r.body {
        Body::Demand(d) => (region_cell(d.region), format!("{} TRL≥{}", d.industry, d.min_trl.get())),
        Body::Outcome(o) => (region_cell(o.region), format!("{} TRL{}", o.industry, o.trl.get())),
        Body::Expert(e) => (region_cell(e.region), truncate(&e.fields.join("、"), 24)),
        Body::Match(m) => (
            format!("{}→{}", region_cell(m.supply_region), region_cell(m.demand_region)),
            format!("{} {}", m.tier, state_label(m, lang)),
        ),
        Body::Bid(b) => (String::new(), lang.tr(b.decision.value.as_str())),
        Body::Assessment(a) => (
            a.subject_region.map(region_cell).unwrap_or_default(),
            format!("{} {} {}", lang.tr(a.subject_kind.as_str()), a.industry, a.verdict),
        ),
        Body::Team(t) => {
            let serving = t.members.iter().filter(|m| Team::serves(m, &r.meta.owner)).count();
            (region_cell(t.region), format!("{serving}/{} {}", t.members.len(), truncate(&t.fields.join("、"), 18)))
        }
    };
    let detail = match &r.meta.withdrawal {
        Some(w) if r.meta.deleted => format!("{detail} 已撤回（{}）", w.reason.label()),
        None if r.meta.deleted => format!("{detail} 已撤回"),
        _ => detail,
    };
    vec![
        r.meta.id.to_string(),
        lang.tr(r.kind().as_str()),
        r.meta.external_id.clone().unwrap_or_else(|| "-".into()),
        r.meta.owner.to_string(),
        region,
        detail,
        truncate(&r.title(), 40),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_count_twice_and_columns_align() {
        assert_eq!(width("光伏ab"), 6);
        let t = table(&["A", "B"], &[vec!["光伏".into(), "x".into()], vec!["abc".into(), "y".into()]]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[1].find('x'), Some("光伏".len() + 2));
        assert_eq!(lines[2].find('y'), Some(6), "abc is 3 wide, padded to 4 + 2");
    }

    #[test]
    fn lifecycle_values_read_as_words() {
        assert_eq!(describe_value("\"accepted\""), "accepted");
        assert_eq!(
            describe_value(r#"{"contracted":{"amount_wan":120.0,"kind":"技术许可"}}"#),
            "contracted 技术许可 120 万元"
        );
        assert_eq!(describe_value(r#"{"declined":{"note":"","reason":"价格"}}"#), "declined 价格");
        assert_eq!(describe_value("not json"), "not json");
    }

    #[test]
    fn truncate_marks_the_cut_and_respects_width() {
        assert_eq!(truncate("光伏组件隐裂", 7), "光伏组…");
        assert_eq!(truncate("短", 7), "短");
    }
}
