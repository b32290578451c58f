//! The interchange format: reading operator files (JSON, JSON Lines, CSV
//! and XLSX workbooks in the field names of the programme's format) into
//! validated drafts. Used by the node's `publish` and by central's `eval`.
//!
//! Every row is checked in full before anything is sent; a bad row is
//! reported by its line (CSV, JSON Lines), position (JSON) or sheet and
//! row (XLSX), and field.
//! The row's `id` is the operator's own reference, kept as `external_id`.

use std::fmt;
use std::path::Path;

use kechuang_types::limits;
use kechuang_types::{
    Body, Contact, Date, DateRange, Demand, Draft, Error, Expert, Industry, Lang, Outcome, RecordKind, Region,
    TransferMode, Trl, WithdrawReason, Withdrawal,
};
use serde_json::{Map, Value};

/// Where a row came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A line of a CSV or JSON Lines file (1-based).
    Line(u64),
    /// An element of a JSON array (1-based), with the array's name if any.
    Item(Option<&'static str>, usize),
    /// A row of a workbook's sheet (1-based, as the spreadsheet numbers it).
    Cell(String, u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Item(Some(list), n) => write!(f, "{list} item {n}"),
            Location::Item(None, n) => write!(f, "item {n}"),
            Location::Cell(sheet, row) => write!(f, "sheet {sheet} row {row}"),
        }
    }
}

/// A row that could not be read, with where and which field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Where the row is.
    pub location: Location,
    /// The field at fault (`-` when the row itself is unreadable).
    pub field: String,
    /// What is wrong, in English, with the field and the value.
    pub message: String,
    /// What is wrong, without the field or the value: a catalogue key.
    pub reason: String,
    /// The value at fault, as written; empty when none.
    pub value: String,
}

impl RowError {
    /// A field's error in Chinese, without a place: `所在地区：不是 … （填写的是 "火星"）`.
    pub fn describe(e: &Error) -> String {
        let mut error = row_error(Location::Line(0), e.clone());
        error.location = Location::Line(0);
        let said = error.say(Lang::Zh);
        said.strip_prefix("文件 · ").unwrap_or(&said).to_owned()
    }

    /// An error of the whole row or file (`field` is `-`).
    fn whole(location: Location, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self { location, field: "-".into(), message: reason.clone(), reason, value: String::new() }
    }

    /// An error of one field.
    fn at(location: Location, field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self { location, field: field.into(), message: format!("{field}: {reason}"), reason, value: String::new() }
    }

    /// The error in `lang`: where, the column's heading, what is wrong, and
    /// what was written (`工作表「需求」第 3 行 · 行业代码：… （填写的是 "X99"）`).
    pub fn say(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        let mut out = format!("{} · ", self.location.zh());
        if self.field != "-" {
            out.push_str(&format!("{}：", field_zh(&self.field)));
        }
        out.push_str(&lang.say(&self.reason));
        if !self.value.is_empty() {
            out.push_str(&format!("（填写的是 \"{}\"）", self.value));
        }
        out
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl Location {
    /// Where, in Chinese: `第 3 行`, `工作表「需求」第 3 行`, `demands 第 2 项`.
    pub fn zh(&self) -> String {
        match self {
            Location::Line(0) => "文件".into(),
            Location::Line(n) => format!("第 {n} 行"),
            Location::Item(Some(list), n) => format!("{} 第 {n} 项", Lang::Zh.say(list)),
            Location::Item(None, n) => format!("第 {n} 项"),
            Location::Cell(sheet, row) => format!("工作表「{sheet}」第 {row} 行"),
        }
    }
}

/// A field named in an error, by its Chinese heading: `关键词[2]` for
/// `keywords[2]`, `联系人.电话` stays readable for `contact.phone`.
pub fn field_zh(field: &str) -> String {
    let (base, rest) = match field.find(['[', '.']) {
        Some(i) => field.split_at(i),
        None => (field, ""),
    };
    let flat = match (base, rest) {
        ("contact", ".person") => return "联系人".into(),
        ("contact", ".phone") => return "联系电话".into(),
        ("contact", ".email") => return "电子邮箱".into(),
        _ => base,
    };
    let heading = HEADINGS.iter().find(|(f, _)| *f == flat).map_or(flat, |(_, h)| h);
    format!("{heading}{rest}")
}

/// A column the reader does not know and ignored: most often a misspelt
/// heading, whose values would otherwise be lost without a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where the column is: a sheet's name, a JSON list, or empty for a CSV file.
    pub place: String,
    /// The column's heading as written.
    pub column: String,
    /// The known column it most likely meant.
    pub suggestion: Option<String>,
}

impl Warning {
    /// The warning in Chinese: `未知列 "keyword"，是否应为 "keywords"？`.
    pub fn zh(&self) -> String {
        let place = if self.place.is_empty() { String::new() } else { format!("工作表 {}：", self.place) };
        match &self.suggestion {
            Some(s) => format!("{place}未知列 \"{}\"，是否应为 \"{s}\"？该列已忽略", self.column),
            None => format!("{place}未知列 \"{}\"，该列已忽略", self.column),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.place.is_empty() {
            write!(f, "{}: ", self.place)?;
        }
        write!(f, "unknown column {:?} ignored", self.column)?;
        match &self.suggestion {
            Some(s) => write!(f, ": did you mean {s:?}?"),
            None => Ok(()),
        }
    }
}

/// What reading a file gave: its drafts, every bad row, and the columns it
/// ignored. Nothing of a file with errors may be published.
#[derive(Debug, Default)]
pub struct Reading {
    /// The rows, validated; empty when there are errors.
    pub drafts: Vec<Draft>,
    /// Where each draft's row is, in the same order.
    pub places: Vec<Location>,
    /// Every bad field of every row.
    pub errors: Vec<RowError>,
    /// Unknown columns.
    pub warnings: Vec<Warning>,
}

impl Reading {
    fn of(result: Result<Vec<Located>, Vec<RowError>>, warnings: Vec<Warning>) -> Self {
        match result {
            Ok(rows) => {
                let (places, drafts) = rows.into_iter().unzip();
                Self { drafts, places, errors: vec![], warnings }
            }
            Err(errors) => Self { errors, warnings, ..Self::default() },
        }
    }

    /// The drafts, or the errors when there are any.
    pub fn into_result(self) -> Result<Vec<Draft>, Vec<RowError>> {
        if self.errors.is_empty() { Ok(self.drafts) } else { Err(self.errors) }
    }

    fn failed(message: String) -> Self {
        Self::of(Err(vec![RowError::whole(Location::Line(0), message)]), vec![])
    }
}

/// Reads one file into drafts, or every bad row in it.
pub fn read_file(path: &Path) -> Reading {
    match std::fs::read(path) {
        Ok(bytes) => read(&path.to_string_lossy(), &bytes),
        Err(e) => Reading::failed(format!("cannot read {}: {e}", path.display())),
    }
}

/// Reads a file's bytes, its type told by the extension of `name`.
pub fn read(name: &str, bytes: &[u8]) -> Reading {
    let ext = Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let mut warnings = Vec::new();
    let text = || std::str::from_utf8(bytes).map_err(|_| vec![RowError::whole(Location::Line(0), "not UTF-8 text")]);
    let result = match ext.as_str() {
        "csv" => match csv_text(bytes) {
            Ok(text) => csv_rows(&text, &mut warnings),
            Err(message) => return Reading::failed(message),
        },
        "jsonl" | "ndjson" => text().and_then(|t| jsonl_rows(t, &mut warnings)),
        "json" => text().and_then(|t| json_rows(t, &mut warnings)),
        "xlsx" | "xlsm" => xlsx_rows(bytes, &mut warnings),
        other => return Reading::failed(format!("unknown file type {other:?}: use .json, .jsonl, .csv or .xlsx")),
    };
    Reading::of(result, warnings)
}

/// The text of a CSV file: UTF-8 (with or without a byte-order mark), or
/// GBK/GB18030 as Excel and WPS save "CSV (逗号分隔)" on a Chinese Windows.
pub fn csv_text(bytes: &[u8]) -> Result<String, String> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
    if had_errors {
        return Err("neither UTF-8 nor GBK/GB18030 text: save the sheet as CSV (UTF-8) or XLSX".into());
    }
    Ok(text.into_owned())
}

/// Parses a JSON document: an array of rows, one row, or an object with
/// `demands`, `outcomes` and `experts` arrays.
pub fn parse_json(text: &str) -> Result<Vec<Draft>, Vec<RowError>> {
    json_rows(text, &mut vec![]).map(unlocated)
}

/// Parses JSON Lines: one row object per non-empty line.
pub fn parse_jsonl(text: &str) -> Result<Vec<Draft>, Vec<RowError>> {
    jsonl_rows(text, &mut vec![]).map(unlocated)
}

/// Parses CSV with a header row; list fields are separated by `;`, `；`, `|` or `、`.
pub fn parse_csv(text: &str) -> Result<Vec<Draft>, Vec<RowError>> {
    csv_rows(text, &mut vec![]).map(unlocated)
}

/// Parses an XLSX workbook: every sheet with a header row in its first
/// row, like CSV. A sheet named `demands`, `outcomes` or `experts` (or 需求,
/// 成果, 专家) holds that kind; in others the fields tell. Numbers, dates
/// and true/false cells are read as their values.
pub fn parse_xlsx(bytes: &[u8]) -> Result<Vec<Draft>, Vec<RowError>> {
    xlsx_rows(bytes, &mut vec![]).map(unlocated)
}

/// A draft and where its row is.
type Located = (Location, Draft);

fn unlocated(rows: Vec<Located>) -> Vec<Draft> {
    rows.into_iter().map(|(_, d)| d).collect()
}

fn json_rows(text: &str, warnings: &mut Vec<Warning>) -> Result<Vec<Located>, Vec<RowError>> {
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| vec![RowError::whole(Location::Line(e.line() as u64), format!("not JSON: {e}"))])?;
    let mut rows = Vec::new();
    match value {
        Value::Array(items) => {
            rows.extend(items.into_iter().enumerate().map(|(i, v)| (Location::Item(None, i + 1), None, v)))
        }
        Value::Object(map) if ["demands", "outcomes", "experts"].iter().any(|k| map.contains_key(*k)) => {
            for (list, kind) in
                [("demands", RecordKind::Demand), ("outcomes", RecordKind::Outcome), ("experts", RecordKind::Expert)]
            {
                match map.get(list) {
                    Some(Value::Array(items)) => rows.extend(
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (Location::Item(Some(list), i + 1), Some(kind), v.clone())),
                    ),
                    Some(_) => {
                        return Err(vec![RowError::at(Location::Line(1), list, "must be a list")]);
                    }
                    None => {}
                }
            }
        }
        single @ Value::Object(_) => rows.push((Location::Item(None, 1), None, single)),
        _ => {
            return Err(vec![RowError::whole(Location::Line(1), "expected an object or an array of rows")]);
        }
    }
    for (location, _, value) in &rows {
        if let Value::Object(map) = value {
            let place = match location {
                Location::Item(Some(list), _) => (*list).to_owned(),
                _ => String::new(),
            };
            warn_unknown(&place, map.keys().map(String::as_str), warnings);
        }
    }
    collect(rows.into_iter().map(|(location, kind, value)| match value {
        Value::Object(map) => drafted(location, kind, &map),
        _ => Err(vec![RowError::whole(location, "a row must be an object")]),
    }))
}

fn jsonl_rows(text: &str, warnings: &mut Vec<Warning>) -> Result<Vec<Located>, Vec<RowError>> {
    collect(text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, line)| {
        let location = Location::Line(i as u64 + 1);
        match serde_json::from_str::<Value>(line.trim_start_matches('\u{feff}')) {
            Ok(Value::Object(map)) => {
                warn_unknown("", map.keys().map(String::as_str), warnings);
                drafted(location, None, &map)
            }
            Ok(_) => Err(vec![RowError::whole(location, "a row must be an object")]),
            Err(e) => Err(vec![RowError::whole(location, format!("not JSON: {e}"))]),
        }
    }))
}

fn csv_rows(text: &str, warnings: &mut Vec<Warning>) -> Result<Vec<Located>, Vec<RowError>> {
    let mut reader =
        csv::ReaderBuilder::new().flexible(false).from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().map_err(|e| vec![csv_error(1, e)])?.clone();
    warn_unknown("", headers.iter(), warnings);
    let mut rows = Vec::new();
    for record in reader.records() {
        let row = match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                let map: Map<String, Value> = headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, v)| !v.trim().is_empty())
                    .map(|(k, v)| (field_of(k), Value::String(v.to_owned())))
                    .collect();
                drafted(Location::Line(line), None, &map)
            }
            Err(e) => Err(vec![csv_error(e.position().map_or(0, |p| p.line()), e)]),
        };
        rows.push(row);
    }
    collect(rows.into_iter())
}

fn xlsx_rows(bytes: &[u8], warnings: &mut Vec<Warning>) -> Result<Vec<Located>, Vec<RowError>> {
    use calamine::Reader;

    let unreadable = |message: String| vec![RowError::whole(Location::Line(0), message)];
    // The reader can panic on malformed files (calamine 0.38 overflows on an
    // over-long cell reference, found by fuzzing): a bad file is an error,
    // never a crash of `publish`.
    let sheets = std::panic::catch_unwind(|| {
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).map(|mut workbook| {
            // A hidden sheet holds helpers (the template's 代码表), not rows.
            let hidden: Vec<String> = workbook
                .sheets_metadata()
                .iter()
                .filter(|s| s.visible != calamine::SheetVisible::Visible)
                .map(|s| s.name.clone())
                .collect();
            let mut sheets = workbook.worksheets();
            sheets.retain(|(name, _)| !hidden.contains(name));
            sheets
        })
    })
    .map_err(|_| unreadable("not a readable XLSX workbook: the reader failed on it".into()))?
    .map_err(|e| unreadable(format!("not an XLSX workbook: {e}")))?;
    let mut rows = Vec::new();
    for (sheet, range) in sheets {
        let kind = match sheet.trim().to_lowercase().as_str() {
            "demands" | "需求" => Some(RecordKind::Demand),
            "outcomes" | "成果" => Some(RecordKind::Outcome),
            "experts" | "专家" => Some(RecordKind::Expert),
            _ => None,
        };
        let first_row = range.start().map_or(0, |(row, _)| u64::from(row)) + 1;
        let mut lines = range.rows().zip(first_row..);
        let Some((header, _)) = lines.next() else { continue };
        let headings: Vec<String> = header.iter().map(|cell| cell.to_string()).collect();
        warn_unknown(&sheet, headings.iter().map(String::as_str).filter(|h| !h.trim().is_empty()), warnings);
        let header: Vec<String> = header.iter().map(|cell| field_of(&cell.to_string())).collect();
        for (cells, number) in lines {
            let location = Location::Cell(sheet.clone(), number);
            let mut map = Map::new();
            let mut bad = Vec::new();
            for (name, cell) in header.iter().zip(cells) {
                match cell_value(cell) {
                    _ if name.is_empty() => {}
                    Ok(Some(value)) => {
                        map.insert(name.clone(), value);
                    }
                    Ok(None) => {}
                    Err(reason) => bad.push(RowError::at(location.clone(), name, reason)),
                }
            }
            if map.is_empty() && bad.is_empty() {
                continue; // a blank row
            }
            rows.push(match drafted(location, kind, &map) {
                Err(mut errors) => {
                    // A bad cell's own message first; its field's again from the row only once.
                    errors.retain(|e| !bad.iter().any(|b| b.field == e.field));
                    bad.extend(errors);
                    Err(bad)
                }
                Ok(_) if !bad.is_empty() => Err(bad),
                ok => ok,
            });
        }
    }
    collect(rows.into_iter())
}

/// A cell as the JSON value a row of the interchange format would hold.
fn cell_value(cell: &calamine::Data) -> Result<Option<Value>, String> {
    use calamine::Data;

    Ok(match cell {
        Data::Empty => None,
        Data::String(s) if s.trim().is_empty() => None,
        Data::String(s) | Data::DurationIso(s) => Some(Value::String(s.clone())),
        Data::Int(n) => Some(Value::from(*n)),
        // Whole numbers (codes typed as numbers: 440300, TRL 7) stay whole.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(Value::from(*f as i64)),
        Data::Float(f) => Some(serde_json::Number::from_f64(*f).map_or(Value::String(f.to_string()), Value::Number)),
        Data::Bool(b) => Some(Value::Bool(*b)),
        Data::DateTime(dt) => {
            let (year, month, day, ..) = dt.to_ymd_hms_milli();
            Some(Value::String(format!("{year:04}-{month:02}-{day:02}")))
        }
        Data::DateTimeIso(s) => Some(Value::String(s.split('T').next().unwrap_or(s).to_owned())),
        Data::Error(e) => return Err(format!("the cell holds the spreadsheet error {e}")),
    })
}

/// The order of exported CSV columns.
const CSV_COLUMNS: &[&str] = &[
    "kind",
    "id",
    "title",
    "name",
    "description",
    "abstract",
    "industry",
    "keywords",
    "fields",
    "region",
    "enterprise",
    "owner",
    "affiliation",
    "budget_wan",
    "price_wan",
    "deadline",
    "is_challenge",
    "min_trl",
    "trl",
    "ip",
    "transfer_modes",
    "available",
    "service_modes",
    "capacity",
    "contact_person",
    "contact_phone",
    "contact_email",
];

/// The Chinese heading of each field, as exported to XLSX and accepted on
/// import beside the field's own name.
const HEADINGS: &[(&str, &str)] = &[
    ("kind", "类型"),
    ("id", "编号"),
    ("title", "标题"),
    ("name", "姓名"),
    ("description", "需求描述"),
    ("abstract", "成果简介"),
    ("industry", "行业代码"),
    ("keywords", "关键词"),
    ("fields", "研究领域"),
    ("region", "所在地区"),
    ("enterprise", "企业名称"),
    ("owner", "所属单位"),
    ("affiliation", "工作单位"),
    ("budget_wan", "预算（万元）"),
    ("price_wan", "转让价格（万元）"),
    ("deadline", "截止日期"),
    ("is_challenge", "揭榜挂帅"),
    ("min_trl", "最低技术成熟度"),
    ("trl", "技术成熟度"),
    ("ip", "知识产权"),
    ("transfer_modes", "转化方式"),
    ("available", "可约时间"),
    ("service_modes", "服务方式"),
    ("capacity", "服务容量"),
    ("contact_person", "联系人"),
    ("contact_phone", "联系电话"),
    ("contact_email", "电子邮箱"),
    ("withdrawn", "撤回原因"),
    ("withdrawn_note", "撤回说明"),
];

/// The heading of `field` in a sheet of `kind`: an expert's `title` is a 职称.
fn heading(kind: RecordKind, field: &str) -> &str {
    if kind == RecordKind::Expert && field == "title" {
        return "职称";
    }
    HEADINGS.iter().find(|(f, _)| *f == field).map_or(field, |(_, h)| h)
}

/// The field a column heading names: a Chinese heading (with or without
/// full-width brackets) or the field's own name.
fn field_of(heading: &str) -> String {
    let heading = heading.trim();
    if heading == "职称" {
        return "title".into();
    }
    let plain = |s: &str| s.replace(['（', '('], "(").replace(['）', ')'], ")");
    HEADINGS
        .iter()
        .find(|(_, h)| plain(h) == plain(heading))
        .map_or_else(|| heading.to_owned(), |(f, _)| (*f).to_owned())
}

/// Every column name the reader knows: fields and their Chinese headings.
fn known_columns() -> impl Iterator<Item = &'static str> {
    const OTHERS: &[&str] = &["contact", "institution", "职称"];
    CSV_COLUMNS.iter().copied().chain(OTHERS.iter().copied()).chain(HEADINGS.iter().flat_map(|(f, h)| [*f, *h]))
}

/// Warns of each heading in `headings` that names no field, once per place.
fn warn_unknown<'a>(place: &str, headings: impl Iterator<Item = &'a str>, warnings: &mut Vec<Warning>) {
    for heading in headings {
        let column = heading.trim();
        let known = |c: &str| field_of(c) != c || known_columns().any(|k| k == c);
        if known(column) || warnings.iter().any(|w| w.place == place && w.column == column) {
            continue;
        }
        let suggestion = closest(column).map(str::to_owned);
        warnings.push(Warning { place: place.to_owned(), column: column.to_owned(), suggestion });
    }
}

/// The known column `column` most likely misspells: the nearest by edits,
/// within a third of its length (at least one edit).
fn closest(column: &str) -> Option<&'static str> {
    let lower = column.to_lowercase();
    let budget = (lower.chars().count() / 3).max(1);
    known_columns().map(|k| (edits(&lower, k), k)).filter(|(d, _)| *d <= budget).min_by_key(|(d, _)| *d).map(|(_, k)| k)
}

/// Levenshtein distance in characters.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// One exported row and its kind.
pub type KindRow = (RecordKind, Map<String, Value>);

/// The demands, outcomes and experts of `records` as rows to export;
/// withdrawn records and other kinds are left out.
pub fn rows_of<'a>(records: impl Iterator<Item = &'a kechuang_types::Record>) -> Vec<KindRow> {
    records
        .filter(|r| !r.meta.deleted)
        .filter_map(|r| Some((r.kind(), to_row(r.meta.external_id.as_deref(), &r.body)?)))
        .collect()
}

/// A demand, outcome or expert as a row of the interchange format (what
/// `publish` reads back), with `id` the operator's reference; `None` for
/// other kinds.
pub fn to_row(external_id: Option<&str>, body: &Body) -> Option<Map<String, Value>> {
    let mut row = Map::new();
    let text = |s: &str| Value::String(s.to_owned());
    let list = |items: &[String]| Value::Array(items.iter().map(|s| text(s)).collect());
    let number = |n: Option<f64>| match n {
        Some(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(n as i64),
        other => other.and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number),
    };
    row.insert("id".into(), external_id.map_or(Value::Null, text));
    let contact = match body {
        Body::Demand(d) => {
            row.insert("title".into(), text(&d.title));
            row.insert("description".into(), text(&d.description));
            row.insert("industry".into(), text(d.industry.as_str()));
            row.insert("keywords".into(), list(&d.keywords));
            row.insert("region".into(), d.region.to_string().into());
            row.insert("budget_wan".into(), number(d.budget_wan));
            row.insert("deadline".into(), d.deadline.map_or(Value::Null, |d| d.to_string().into()));
            row.insert("is_challenge".into(), d.is_challenge.into());
            row.insert("min_trl".into(), d.min_trl.get().into());
            row.insert("enterprise".into(), text(&d.enterprise));
            row.insert("service_modes".into(), list(&d.service_modes));
            &d.contact
        }
        Body::Outcome(o) => {
            row.insert("title".into(), text(&o.title));
            row.insert("abstract".into(), text(&o.summary));
            row.insert("industry".into(), text(o.industry.as_str()));
            row.insert("keywords".into(), list(&o.keywords));
            row.insert("owner".into(), text(&o.institution));
            row.insert("region".into(), o.region.to_string().into());
            row.insert("trl".into(), o.trl.get().into());
            row.insert("ip".into(), text(&o.ip));
            let modes: Vec<String> = o.transfer_modes.iter().map(|m| m.as_str().to_owned()).collect();
            row.insert("transfer_modes".into(), list(&modes));
            row.insert("price_wan".into(), number(o.price_wan));
            &o.contact
        }
        Body::Expert(e) => {
            row.insert("name".into(), text(&e.name));
            row.insert("affiliation".into(), text(&e.affiliation));
            row.insert("title".into(), text(&e.title));
            row.insert("fields".into(), list(&e.fields));
            row.insert("keywords".into(), list(&e.keywords));
            row.insert("region".into(), e.region.to_string().into());
            let windows = e
                .available
                .iter()
                .map(|w| serde_json::json!({"from": w.from.to_string(), "to": w.to.to_string()}))
                .collect();
            row.insert("available".into(), Value::Array(windows));
            row.insert("service_modes".into(), list(&e.service_modes));
            row.insert("capacity".into(), e.capacity.map_or(Value::Null, Value::from));
            &e.contact
        }
        _ => return None,
    };
    if let Some(c) = contact {
        row.insert("contact".into(), serde_json::json!({"person": c.person, "phone": c.phone, "email": c.email}));
    }
    Some(row)
}

/// Rows as one JSON document with `demands`, `outcomes` and `experts`
/// arrays (the layout of the programme's data files).
pub fn write_json(rows: &[KindRow]) -> String {
    let mut doc = Map::new();
    for (list, kind) in
        [("demands", RecordKind::Demand), ("outcomes", RecordKind::Outcome), ("experts", RecordKind::Expert)]
    {
        let items: Vec<Value> =
            rows.iter().filter(|(k, _)| *k == kind).map(|(_, r)| Value::Object(r.clone())).collect();
        if !items.is_empty() {
            doc.insert(list.into(), Value::Array(items));
        }
    }
    let mut out = serde_json::to_string_pretty(&Value::Object(doc)).expect("JSON values serialise");
    out.push('\n');
    out
}

/// Rows as JSON Lines, each with its `kind`.
pub fn write_jsonl(rows: &[KindRow]) -> String {
    let mut out = String::new();
    for (kind, row) in rows {
        let mut line = Map::new();
        line.insert("kind".into(), kind.as_str().into());
        line.extend(row.clone());
        out.push_str(&Value::Object(line).to_string());
        out.push('\n');
    }
    out
}

/// One exported cell, typed for a spreadsheet.
enum Cell {
    Text(String),
    Number(Value),
    Bool(bool),
    /// `YYYY-MM-DD`.
    Date(String),
    Empty,
}

impl Cell {
    /// The cell as CSV text.
    fn text(&self) -> String {
        match self {
            Self::Text(s) | Self::Date(s) => s.clone(),
            Self::Number(n) => n.to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Empty => String::new(),
        }
    }
}

/// A row as flat cells: lists joined by `;`, windows as `FROM~TO`,
/// contacts as `contact_*` cells.
fn flatten(row: &Map<String, Value>) -> Vec<(String, Cell)> {
    let mut cells = Vec::new();
    for (field, value) in row {
        match (field.as_str(), value) {
            ("contact", Value::Object(c)) => {
                for part in ["person", "phone", "email"] {
                    let v = c.get(part).and_then(Value::as_str).unwrap_or_default();
                    cells.push((format!("contact_{part}"), Cell::Text(v.to_owned())));
                }
            }
            ("available", Value::Array(windows)) => {
                let joined: Vec<String> = windows
                    .iter()
                    .map(|w| {
                        let day = |k: &str| w.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                        format!("{}~{}", day("from"), day("to"))
                    })
                    .collect();
                cells.push((field.clone(), Cell::Text(joined.join(";"))));
            }
            (_, Value::Array(items)) => {
                let joined: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                cells.push((field.clone(), Cell::Text(joined.join(";"))));
            }
            ("deadline", Value::String(s)) => cells.push((field.clone(), Cell::Date(s.clone()))),
            (_, Value::String(s)) => cells.push((field.clone(), Cell::Text(s.clone()))),
            (_, Value::Null) => cells.push((field.clone(), Cell::Empty)),
            (_, Value::Bool(b)) => cells.push((field.clone(), Cell::Bool(*b))),
            (_, other) => cells.push((field.clone(), Cell::Number(other.clone()))),
        }
    }
    cells
}

/// The columns of `rows` in the format's own order, as a person reads a
/// record; anything else after.
fn columns<'a>(rows: impl Iterator<Item = &'a Vec<(String, Cell)>>) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for cells in rows {
        for (name, _) in cells {
            if !columns.contains(name) {
                columns.push(name.clone());
            }
        }
    }
    let rank = |c: &String| CSV_COLUMNS.iter().position(|k| k == c).unwrap_or(CSV_COLUMNS.len());
    columns.sort_by_key(rank);
    columns
}

/// Rows as CSV with a `kind` column and every field any row has; lists
/// joined by `;`, windows as `FROM~TO`, contacts as `contact_*` columns.
/// Starts with a byte-order mark so spreadsheet programs read it as UTF-8.
pub fn write_csv(rows: &[KindRow]) -> String {
    let flat: Vec<Vec<(String, Cell)>> = rows
        .iter()
        .map(|(kind, row)| {
            let mut cells = vec![("kind".to_owned(), Cell::Text(kind.as_str().to_owned()))];
            cells.extend(flatten(row));
            cells
        })
        .collect();
    let columns = columns(flat.iter());
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    writer.write_record(&columns).expect("in-memory CSV");
    for cells in &flat {
        let record =
            columns.iter().map(|c| cells.iter().find(|(n, _)| n == c).map_or(String::new(), |(_, v)| v.text()));
        writer.write_record(record).expect("in-memory CSV");
    }
    let bytes = writer.into_inner().expect("in-memory CSV");
    format!("\u{feff}{}", String::from_utf8(bytes).expect("CSV of UTF-8 text"))
}

/// Rows as an XLSX workbook: a sheet per kind (需求, 成果, 专家) with
/// Chinese headings, codes kept as text (a region never becomes a number),
/// numbers as numbers and deadlines as dates. `publish` reads it back.
pub fn write_xlsx(rows: &[KindRow]) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::Workbook;

    let failed = |e: rust_xlsxwriter::XlsxError| format!("writing the workbook: {e}");
    let mut book = Workbook::new();
    for (kind, name) in [(RecordKind::Demand, "需求"), (RecordKind::Outcome, "成果"), (RecordKind::Expert, "专家")]
    {
        let flat: Vec<Vec<(String, Cell)>> = rows.iter().filter(|(k, _)| *k == kind).map(|(_, r)| flatten(r)).collect();
        if flat.is_empty() {
            continue;
        }
        let columns = columns(flat.iter());
        let sheet = book.add_worksheet().set_name(name).map_err(failed)?;
        write_sheet(sheet, kind, &columns, &flat).map_err(failed)?;
    }
    if rows.is_empty() {
        book.add_worksheet().set_name("需求").map_err(failed)?;
    }
    book.save_to_buffer().map_err(failed)
}

/// Writes a heading row and `rows` under it: text stays text (a code never
/// becomes a number), dates are date cells.
fn write_sheet(
    sheet: &mut rust_xlsxwriter::Worksheet,
    kind: RecordKind,
    columns: &[String],
    rows: &[Vec<(String, Cell)>],
) -> Result<(), rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{ExcelDateTime, Format};

    let (bold, date) = (Format::new().set_bold(), Format::new().set_num_format("yyyy-mm-dd"));
    for (c, field) in columns.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, heading(kind, field), &bold)?;
    }
    for (r, cells) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, field) in columns.iter().enumerate() {
            let c = c as u16;
            match cells.iter().find(|(n, _)| n == field).map(|(_, v)| v) {
                Some(Cell::Text(s)) => sheet.write_string(r, c, s).map(|_| ()),
                Some(Cell::Number(n)) => sheet.write_number(r, c, n.as_f64().unwrap_or_default()).map(|_| ()),
                Some(Cell::Bool(b)) => sheet.write_boolean(r, c, *b).map(|_| ()),
                Some(Cell::Date(s)) => match ExcelDateTime::parse_from_str(s) {
                    Ok(day) => sheet.write_datetime_with_format(r, c, &day, &date).map(|_| ()),
                    Err(_) => sheet.write_string(r, c, s).map(|_| ()),
                },
                Some(Cell::Empty) | None => Ok(()),
            }?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    Ok(())
}

/// The reference a template's example row carries: a row with it is
/// skipped on import, so a template filled in below its example publishes
/// only what the operator wrote.
pub const EXAMPLE_ID: &str = "示例";

/// The columns of each sheet of the template, in order.
const TEMPLATE: &[(RecordKind, &str, &[&str])] = &[
    (
        RecordKind::Demand,
        "需求",
        &[
            "id",
            "title",
            "description",
            "industry",
            "keywords",
            "region",
            "enterprise",
            "budget_wan",
            "deadline",
            "is_challenge",
            "min_trl",
            "service_modes",
            "contact_person",
            "contact_phone",
            "contact_email",
        ],
    ),
    (
        RecordKind::Outcome,
        "成果",
        &[
            "id",
            "title",
            "abstract",
            "industry",
            "keywords",
            "owner",
            "region",
            "trl",
            "ip",
            "transfer_modes",
            "price_wan",
            "contact_person",
            "contact_phone",
            "contact_email",
        ],
    ),
    (
        RecordKind::Expert,
        "专家",
        &[
            "id",
            "name",
            "affiliation",
            "title",
            "fields",
            "keywords",
            "region",
            "available",
            "service_modes",
            "capacity",
            "contact_person",
            "contact_phone",
            "contact_email",
        ],
    ),
];

/// The example row of each sheet of the template.
fn example(kind: RecordKind) -> Vec<(String, Cell)> {
    let text = |field: &str, value: &str| (field.to_owned(), Cell::Text(value.to_owned()));
    let number = |field: &str, value: u32| (field.to_owned(), Cell::Number(value.into()));
    let mut row = vec![text("id", EXAMPLE_ID)];
    row.extend(match kind {
        RecordKind::Demand => vec![
            text("title", "锂电池低温性能提升"),
            text("description", "储能电池在零下二十度容量衰减严重，寻求电解液或材料改性方案"),
            text("industry", "C38"),
            text("keywords", "锂电池;低温;电解液"),
            text("region", "广东省深圳市"),
            text("enterprise", "某储能科技有限公司"),
            number("budget_wan", 80),
            ("deadline".to_owned(), Cell::Date("2027-03-31".into())),
            text("is_challenge", "否"),
            number("min_trl", 5),
        ],
        RecordKind::Outcome => vec![
            text("title", "宽温域锂离子电池电解液"),
            text("abstract", "一种在零下四十度至六十度保持容量的电解液配方，已完成中试"),
            text("industry", "C38"),
            text("keywords", "电解液;宽温域;锂电池"),
            text("owner", "某大学"),
            text("region", "四川省成都市"),
            number("trl", 6),
            text("ip", "发明专利 ZL202110000000.0"),
            text("transfer_modes", "技术许可;技术转让"),
            number("price_wan", 120),
        ],
        _ => vec![
            text("name", "张三"),
            text("affiliation", "某大学材料学院"),
            text("title", "教授"),
            text("fields", "电化学;储能材料"),
            text("keywords", "电解液;固态电池"),
            text("region", "四川省成都市"),
            text("available", "2027-02-01~2027-04-30"),
            text("service_modes", "技术咨询;现场指导"),
            number("capacity", 3),
        ],
    });
    row.extend([text("contact_person", "李老师"), text("contact_phone", "028-00000000")]);
    row.push(text("contact_email", "contact@example.edu.cn"));
    row
}

/// An empty workbook to fill in: the three sheets with Chinese headings, an
/// example row each (its 编号 is [`EXAMPLE_ID`]), and drop-down lists for
/// industry, region, TRL, transfer and service modes and 揭榜挂帅.
pub fn write_template() -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::{DataValidation, DataValidationErrorStyle, DataValidationRule, Formula, Workbook};

    let failed = |e: rust_xlsxwriter::XlsxError| format!("writing the template: {e}");
    let mut book = Workbook::new();
    // The long lists live on a hidden sheet; a list typed into the rule
    // itself is limited to 255 characters.
    let industries = kechuang_types::Industry::divisions();
    let regions: Vec<String> = kechuang_types::region_table().into_iter().map(|(code, _)| code.full_name()).collect();
    let lists: [(&str, Vec<String>); 4] = [
        ("行业代码", industries),
        ("所在地区", regions),
        ("转化方式", TransferMode::ALL.iter().map(|m| m.as_str().to_owned()).collect()),
        ("服务方式", kechuang_types::SERVICE_MODES.iter().map(|m| (*m).to_owned()).collect()),
    ];
    let list = |column: usize, len: usize| {
        let letter = (b'A' + column as u8) as char;
        Formula::new(format!("=代码表!${letter}$2:${letter}${}", len + 1))
    };
    for (kind, name, fields) in TEMPLATE {
        let columns: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        let sheet = book.add_worksheet().set_name(*name).map_err(failed)?;
        write_sheet(sheet, *kind, &columns, &[example(*kind)]).map_err(failed)?;
        for (c, field) in fields.iter().enumerate() {
            let rule = match *field {
                "industry" => DataValidation::new().allow_list_formula(list(0, lists[0].1.len())),
                "region" => DataValidation::new()
                    .allow_list_formula(list(1, lists[1].1.len()))
                    // A county's code is typed, not picked.
                    .set_error_style(DataValidationErrorStyle::Information),
                "transfer_modes" => DataValidation::new()
                    .allow_list_formula(list(2, lists[2].1.len()))
                    // Several are written 技术许可;技术转让.
                    .set_error_style(DataValidationErrorStyle::Information),
                "service_modes" => DataValidation::new()
                    .allow_list_formula(list(3, lists[3].1.len()))
                    .set_error_style(DataValidationErrorStyle::Information),
                "trl" | "min_trl" => DataValidation::new()
                    .allow_list_strings(&["1", "2", "3", "4", "5", "6", "7", "8", "9"])
                    .map_err(failed)?,
                "is_challenge" => DataValidation::new().allow_list_strings(&["是", "否"]).map_err(failed)?,
                "capacity" => DataValidation::new().allow_whole_number(DataValidationRule::Between(1, 1000)),
                _ => continue,
            };
            sheet.add_data_validation(1, c as u16, 10_000, c as u16, &rule).map_err(failed)?;
        }
    }
    let codes = book.add_worksheet().set_name("代码表").map_err(failed)?;
    for (c, (title, values)) in lists.iter().enumerate() {
        codes.write_string(0, c as u16, *title).map_err(failed)?;
        for (r, value) in values.iter().enumerate() {
            codes.write_string(r as u32 + 1, c as u16, value).map_err(failed)?;
        }
    }
    codes.set_hidden(true);
    book.save_to_buffer().map_err(failed)
}

/// A day as people type it: `2027-03-31`, `2027/3/31`, `2027.3.31` or
/// `2027年3月31日`.
fn date(field: &str, text: &str) -> Result<Date, Error> {
    let text = text.trim();
    let parts: Vec<&str> = text.trim_end_matches('日').split(['-', '/', '.', '年', '月']).map(str::trim).collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && (1..=2).contains(&m.len()) && (1..=2).contains(&d.len()) => {
            Date::parse(field, &format!("{y}-{m:0>2}-{d:0>2}"))
                .map_err(|_| Error::invalid(field, text, "no such day (dates are like 2027-03-31)"))
        }
        _ => Date::parse(field, text),
    }
}

fn csv_error(line: u64, e: csv::Error) -> RowError {
    RowError::whole(Location::Line(line), format!("not CSV: {e}"))
}

fn row_error(location: Location, e: Error) -> RowError {
    let (reason, value) = match &e {
        Error::Missing { .. } => ("missing".to_owned(), String::new()),
        Error::Invalid { reason, value, .. } => (reason.clone(), value.clone()),
    };
    RowError { location, field: e.field().to_owned(), message: e.to_string(), reason, value }
}

/// A row's draft, or every bad field of it at `location`.
fn drafted(location: Location, kind: Option<RecordKind>, map: &Map<String, Value>) -> Result<Located, Vec<RowError>> {
    match draft(kind, map) {
        Ok(draft) => Ok((location, draft)),
        Err(errors) => Err(errors.into_iter().map(|e| row_error(location.clone(), e)).collect()),
    }
}

/// The drafts of `rows`, or every error; a template's example rows are left out.
fn collect(rows: impl Iterator<Item = Result<Located, Vec<RowError>>>) -> Result<Vec<Located>, Vec<RowError>> {
    let (mut drafts, mut errors) = (Vec::new(), Vec::new());
    for row in rows {
        match row {
            Ok((_, d)) if d.external_id.as_deref() == Some(EXAMPLE_ID) => {}
            Ok(located) => drafts.push(located),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() { Ok(drafts) } else { Err(errors) }
}

/// One row's fields, read by name with precise errors.
struct Row<'a>(&'a Map<String, Value>);

impl Row<'_> {
    fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
    }

    fn text(&self, field: &str) -> Result<String, Error> {
        match self.get(field) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.trim().to_owned()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(v) => Err(Error::invalid(field, v.to_string(), "must be text")),
        }
    }

    fn required(&self, field: &str) -> Result<String, Error> {
        let text = self.text(field)?;
        if text.is_empty() { Err(Error::missing(field)) } else { Ok(text) }
    }

    fn list(&self, field: &str) -> Result<Vec<String>, Error> {
        let items: Vec<String> = match self.get(field) {
            None => vec![],
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .map(|s| s.trim().to_owned())
                        .ok_or_else(|| Error::invalid(format!("{field}[{i}]"), v.to_string(), "must be text"))
                })
                .collect::<Result<_, _>>()?,
            Some(Value::String(s)) => {
                s.split([';', '；', '|', '、']).map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()
            }
            Some(v) => return Err(Error::invalid(field, v.to_string(), "must be a list")),
        };
        if items.len() > limits::KEYWORDS {
            return Err(Error::invalid(
                field,
                items.len().to_string(),
                format!("more than {} entries", limits::KEYWORDS),
            ));
        }
        Ok(items)
    }

    fn integer(&self, field: &str) -> Result<Option<i64>, Error> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                n.as_i64().map(Some).ok_or_else(|| Error::invalid(field, n.to_string(), "must be a whole number"))
            }
            Some(Value::String(s)) => {
                s.trim().parse().map(Some).map_err(|_| Error::invalid(field, s, "must be a whole number"))
            }
            Some(v) => Err(Error::invalid(field, v.to_string(), "must be a whole number")),
        }
    }

    fn number(&self, field: &str) -> Result<Option<f64>, Error> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => {
                s.trim().parse().map(Some).map_err(|_| Error::invalid(field, s, "must be a number"))
            }
            Some(v) => Err(Error::invalid(field, v.to_string(), "must be a number")),
        }
    }

    fn flag(&self, field: &str) -> Result<bool, Error> {
        match self.get(field) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "是" => Ok(true),
                "false" | "0" | "no" | "否" => Ok(false),
                _ => Err(Error::invalid(field, s, "must be true or false")),
            },
            Some(v) => Err(Error::invalid(field, v.to_string(), "must be true or false")),
        }
    }

    fn trl(&self, field: &str) -> Result<Trl, Error> {
        let level = self.integer(field)?.ok_or_else(|| Error::missing(field))?;
        Trl::new(field, level)
    }

    fn region(&self) -> Result<Region, Error> {
        // A code, or a name as people write it (广东省深圳市, 深圳市).
        Region::lookup("region", &self.required("region")?)
    }

    fn industry(&self) -> Result<Industry, Error> {
        // `c38` as typed is `C38`.
        Industry::parse("industry", &self.required("industry")?.to_uppercase())
    }

    fn date(&self, field: &str) -> Result<Option<Date>, Error> {
        let text = self.text(field)?;
        if text.is_empty() { Ok(None) } else { date(field, &text).map(Some) }
    }

    fn contact(&self) -> Result<Option<Contact>, Error> {
        let contact = match self.get("contact") {
            Some(Value::Object(map)) => {
                let nested = Row(map);
                Contact { person: nested.text("person")?, phone: nested.text("phone")?, email: nested.text("email")? }
            }
            Some(v) => {
                return Err(Error::invalid("contact", v.to_string(), "must be an object with person, phone, email"));
            }
            None => Contact {
                person: self.text("contact_person")?,
                phone: self.text("contact_phone")?,
                email: self.text("contact_email")?,
            },
        };
        contact.validate()?;
        Ok((!contact.is_empty()).then_some(contact))
    }

    /// The `withdrawn` column (a reason: solved, licensed, cancelled, other,
    /// or 已解决, 已转让或许可, 已取消, 其他) and `withdrawn_note`.
    fn withdrawal(&self) -> Result<Option<Withdrawal>, Error> {
        let reason = self.text("withdrawn")?;
        let note = self.text("withdrawn_note")?;
        if reason.is_empty() {
            return match note.is_empty() {
                true => Ok(None),
                false => Err(Error::missing("withdrawn")),
            };
        }
        kechuang_types::check_text("withdrawn_note", &note, limits::SHORT_TEXT * 5, false)?;
        Ok(Some(Withdrawal { reason: WithdrawReason::parse_any("withdrawn", &reason)?, note }))
    }

    fn windows(&self) -> Result<Vec<DateRange>, Error> {
        let field = "available";
        let ranges: Vec<(String, String)> = match self.get(field) {
            None => vec![],
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let f = format!("{field}[{i}]");
                    let from =
                        v.get("from").and_then(Value::as_str).ok_or_else(|| Error::missing(format!("{f}.from")))?;
                    let to = v.get("to").and_then(Value::as_str).ok_or_else(|| Error::missing(format!("{f}.to")))?;
                    Ok((from.to_owned(), to.to_owned()))
                })
                .collect::<Result<_, Error>>()?,
            Some(Value::String(s)) => s
                .split([';', '；', '|'])
                .filter(|p| !p.trim().is_empty())
                .enumerate()
                .map(|(i, p)| {
                    let (from, to) = p.split_once('~').or_else(|| p.split_once('至')).ok_or_else(|| {
                        Error::invalid(format!("{field}[{i}]"), p, "windows are FROM~TO, e.g. 2027-02-01~2027-04-30")
                    })?;
                    Ok((from.trim().to_owned(), to.trim().to_owned()))
                })
                .collect::<Result<_, Error>>()?,
            Some(v) => return Err(Error::invalid(field, v.to_string(), "must be a list of {from, to}")),
        };
        ranges
            .iter()
            .enumerate()
            .map(|(i, (from, to))| {
                let f = format!("{field}[{i}]");
                DateRange::new(&f, date(&f, from)?, date(&f, to)?)
            })
            .collect()
    }
}

fn kind_of(kind: Option<RecordKind>, row: &Row<'_>) -> Result<RecordKind, Error> {
    if let Some(kind) = kind {
        return Ok(kind);
    }
    if row.get("kind").is_some() {
        return RecordKind::parse("kind", &row.text("kind")?);
    }
    if row.get("abstract").is_some() {
        Ok(RecordKind::Outcome)
    } else if row.get("affiliation").is_some() || row.get("name").is_some() {
        Ok(RecordKind::Expert)
    } else if row.get("description").is_some() {
        Ok(RecordKind::Demand)
    } else {
        Err(Error::missing("kind"))
    }
}

/// Builds and validates one draft from a row's fields.
/// Every problem of one row, gathered field by field.
#[derive(Default)]
struct Problems(Vec<Error>);

impl Problems {
    /// The value, or `None` with its error kept.
    fn take<T>(&mut self, result: Result<T, Error>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }
}

/// The list `field` of `row`, each item parsed and named by its place.
fn listed<T>(row: &Row<'_>, field: &str, parse: impl Fn(&str, &str) -> Result<T, Error>) -> Result<Vec<T>, Error> {
    row.list(field)?.iter().enumerate().map(|(i, m)| parse(&format!("{field}[{i}]"), m)).collect()
}

/// A row as a draft, or every bad field of it (not only the first), so a
/// sheet is fixed in one pass.
fn draft(kind: Option<RecordKind>, map: &Map<String, Value>) -> Result<Draft, Vec<Error>> {
    let row = Row(map);
    let mut p = Problems::default();
    let kind = kind_of(kind, &row).map_err(|e| vec![e])?;
    let body = match kind {
        RecordKind::Demand => {
            let fields = (
                p.take(row.required("title")),
                p.take(row.required("description")),
                p.take(row.industry()),
                p.take(row.list("keywords")),
                p.take(row.region()),
                p.take(row.number("budget_wan")),
                p.take(row.date("deadline")),
                p.take(row.trl("min_trl")),
                p.take(row.flag("is_challenge")),
                p.take(row.text("enterprise")),
                p.take(row.contact()),
                p.take(listed(&row, "service_modes", kechuang_types::service_mode)),
            );
            let (
                Some(title),
                Some(description),
                Some(industry),
                Some(keywords),
                Some(region),
                Some(budget_wan),
                Some(deadline),
                Some(min_trl),
                Some(is_challenge),
                Some(enterprise),
                Some(contact),
                Some(service_modes),
            ) = fields
            else {
                return Err(p.0);
            };
            let demand = Demand {
                title,
                description,
                industry,
                keywords,
                region,
                budget_wan,
                deadline,
                min_trl,
                is_challenge,
                enterprise,
                contact,
                service_modes,
            };
            Body::Demand(demand)
        }
        RecordKind::Outcome => {
            let institution =
                if row.get("institution").is_some() { row.text("institution") } else { row.text("owner") };
            let modes = listed(&row, "transfer_modes", TransferMode::parse);
            let fields = (
                p.take(row.required("title")),
                p.take(row.required("abstract")),
                p.take(row.industry()),
                p.take(row.list("keywords")),
                p.take(institution),
                p.take(row.region()),
                p.take(row.trl("trl")),
                p.take(row.text("ip")),
                p.take(modes),
                p.take(row.number("price_wan")),
                p.take(row.contact()),
            );
            let (
                Some(title),
                Some(summary),
                Some(industry),
                Some(keywords),
                Some(institution),
                Some(region),
                Some(trl),
                Some(ip),
                Some(transfer_modes),
                Some(price_wan),
                Some(contact),
            ) = fields
            else {
                return Err(p.0);
            };
            Body::Outcome(Outcome {
                title,
                summary,
                industry,
                keywords,
                institution,
                region,
                trl,
                ip,
                transfer_modes,
                price_wan,
                contact,
            })
        }
        RecordKind::Expert => {
            let capacity = row.integer("capacity").and_then(|c| {
                c.map(|c| u32::try_from(c).map_err(|_| Error::invalid("capacity", c.to_string(), "must be 1-1000")))
                    .transpose()
            });
            let fields = (
                p.take(row.required("name")),
                p.take(row.text("affiliation")),
                p.take(row.text("title")),
                p.take(row.list("fields")),
                p.take(row.list("keywords")),
                p.take(row.region()),
                p.take(row.windows()),
                p.take(listed(&row, "service_modes", kechuang_types::service_mode)),
                p.take(capacity),
                p.take(row.contact()),
            );
            let (
                Some(name),
                Some(affiliation),
                Some(title),
                Some(fields),
                Some(keywords),
                Some(region),
                Some(available),
                Some(service_modes),
                Some(capacity),
                Some(contact),
            ) = fields
            else {
                return Err(p.0);
            };
            Body::Expert(Expert {
                name,
                affiliation,
                title,
                fields,
                keywords,
                region,
                available,
                service_modes,
                capacity,
                contact,
            })
        }
        other => {
            return Err(vec![Error::invalid(
                "kind",
                other.as_str(),
                "only demands, outcomes and experts are published from files",
            )]);
        }
    };
    let external_id = p.take(row.text("id").and_then(|id| {
        kechuang_types::check_text("id", &id, limits::EXTERNAL_ID, false)?;
        Ok(id)
    }));
    let withdrawal = p.take(row.withdrawal());
    p.take(body.validate());
    match (external_id, withdrawal) {
        (Some(external_id), Some(withdrawal)) if p.0.is_empty() => {
            Ok(Draft { external_id: (!external_id.is_empty()).then_some(external_id), body, withdrawal })
        }
        _ => Err(p.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMAND_CSV: &str = "id,title,description,industry,keywords,region,budget_wan,deadline,is_challenge,min_trl\n\
        D-1,锂电池热失控预警,储能电站需要提前发现电芯热失控,C38,储能;热失控;BMS,440300,80,2027-03-31,false,6\n";

    #[test]
    fn csv_rows_become_drafts_with_their_external_id() {
        let drafts = parse_csv(DEMAND_CSV).unwrap();
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].external_id.as_deref(), Some("D-1"));
        let Body::Demand(d) = &drafts[0].body else { panic!("not a demand") };
        assert_eq!(d.keywords, ["储能", "热失控", "BMS"]);
        assert_eq!(d.min_trl.get(), 6);
    }

    #[test]
    fn bad_csv_rows_are_reported_by_line_and_field() {
        let text = format!(
            "{DEMAND_CSV}D-2,标题,描述,I38,储能,440300,10,2027-01-01,false,5\nD-3,标题,描述,C38,储能,440300,10,2027-02-30,false,5\n"
        );
        let errors = parse_csv(&text).unwrap_err();
        let found: Vec<(String, String)> = errors.iter().map(|e| (e.location.to_string(), e.field.clone())).collect();
        assert_eq!(found, [("line 3".into(), "industry".into()), ("line 4".into(), "deadline".into())]);
    }

    #[test]
    fn every_bad_field_of_a_row_is_reported_not_only_the_first() {
        let text = "id,title,description,industry,keywords,region,budget_wan,deadline,is_challenge,min_trl\n\
            D-1,标题,描述,I38,储能,999999,10,2027-02-30,false,5\n";
        let errors = parse_csv(text).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["industry", "region", "deadline"], "{errors:?}");
        assert!(errors.iter().all(|e| e.location.to_string() == "line 2"));
    }

    #[test]
    fn a_misspelt_column_is_warned_with_the_column_it_likely_meant() {
        let text = "id,标题,需求描述,行业代码,keyword,所在地区,截止日期,min_trl,备注\n\
            D-1,标题,描述,c38,储能,广东省深圳市,2027年3月31日,5,x\n";
        let reading = read("需求.csv", text.as_bytes());
        assert!(reading.errors.is_empty(), "{:?}", reading.errors);
        let Body::Demand(demand) = &reading.drafts[0].body else { panic!("not a demand") };
        assert_eq!((demand.region.code(), demand.industry.as_str()), (440300, "C38"));
        let warned: Vec<_> = reading.warnings.iter().map(|w| (w.column.as_str(), w.suggestion.as_deref())).collect();
        assert_eq!(warned, [("keyword", Some("keywords")), ("备注", None)]);
        assert_eq!(reading.warnings[0].zh(), "未知列 \"keyword\"，是否应为 \"keywords\"？该列已忽略");
        assert_eq!(reading.warnings[0].to_string(), "unknown column \"keyword\" ignored: did you mean \"keywords\"?");
        let reading =
            read("x.csv", "id,标题,需求描述,行业代码,关键字,所在地区,min_trl\nD-1,t,d,C38,k,440300,5\n".as_bytes());
        assert_eq!(reading.warnings[0].suggestion.as_deref(), Some("关键词"));
    }

    #[test]
    fn errors_are_said_in_chinese_with_the_column_heading() {
        let text = "id,title,description,industry,region,min_trl\nD-1,标题,描述,X99,火星,5\n";
        let reading = read("x.csv", text.as_bytes());
        let said: Vec<String> = reading.errors.iter().map(|e| e.say(Lang::Zh)).collect();
        assert!(said[0].starts_with("第 2 行 · 行业代码：") && said[0].contains("（填写的是 \"X99\"）"), "{said:?}");
        assert!(said[1].starts_with("第 2 行 · 所在地区：不是 GB/T 2260 地区代码"), "{said:?}");
        assert_eq!(field_zh("keywords[2]"), "关键词[2]");
        assert_eq!(field_zh("contact.phone"), "联系电话");
    }

    #[test]
    fn the_template_has_its_sheets_lists_and_example_rows_that_would_import() {
        use calamine::Reader;

        let book = write_template().unwrap();
        let workbook = calamine::Xlsx::new(std::io::Cursor::new(book.clone())).unwrap();
        let sheets: Vec<_> = workbook.sheets_metadata().iter().map(|s| (s.name.as_str(), s.visible)).collect();
        use calamine::SheetVisible::{Hidden, Visible};
        assert_eq!(sheets, [("需求", Visible), ("成果", Visible), ("专家", Visible), ("代码表", Hidden)]);
        let reading = read("模板.xlsx", &book);
        assert!(reading.errors.is_empty() && reading.warnings.is_empty(), "{reading:?}");
        assert!(reading.drafts.is_empty(), "the example rows are not published");
        for (kind, _, _) in TEMPLATE {
            let row: Map<String, Value> = example(*kind)
                .into_iter()
                .map(|(field, cell)| match cell {
                    super::Cell::Number(n) => (field, n),
                    other => (field, Value::String(other.text())),
                })
                .collect();
            let draft = draft(None, &row).unwrap_or_else(|e| panic!("{kind:?} example: {e:?}"));
            assert_eq!(draft.body.kind(), *kind);
        }
        assert_eq!(kechuang_types::Industry::divisions().len(), 97);
    }

    /// A cell of a test workbook.
    enum Cell {
        Text(&'static str),
        Number(f64),
        Bool(bool),
        /// An Excel serial date, shown with a date format.
        Date(u32),
        /// The cell's XML as written.
        Raw(&'static str),
    }

    /// A one-sheet XLSX workbook named `sheet` holding `rows` from row 1
    /// (`None` leaves a row blank), built the way a spreadsheet writes one.
    fn workbook(sheet: &str, rows: &[Option<Vec<Cell>>]) -> Vec<u8> {
        use std::io::Write;

        const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
        const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
        let mut data = String::new();
        for (r, row) in rows.iter().enumerate() {
            let Some(cells) = row else { continue };
            data.push_str(&format!("<row r=\"{}\">", r + 1));
            for (c, cell) in cells.iter().enumerate() {
                let at = format!("{}{}", char::from(b'A' + c as u8), r + 1);
                data.push_str(&match cell {
                    Cell::Text(t) => format!("<c r=\"{at}\" t=\"inlineStr\"><is><t>{t}</t></is></c>"),
                    Cell::Number(n) => format!("<c r=\"{at}\"><v>{n}</v></c>"),
                    Cell::Bool(b) => format!("<c r=\"{at}\" t=\"b\"><v>{}</v></c>", u8::from(*b)),
                    Cell::Date(serial) => format!("<c r=\"{at}\" s=\"1\"><v>{serial}</v></c>"),
                    Cell::Raw(xml) => (*xml).to_owned(),
                });
            }
            data.push_str("</row>");
        }
        let parts = [
            (
                "[Content_Types].xml",
                "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
                 <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
                 <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
                 <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
                 <Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>\
                 <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>\
                 </Types>"
                    .to_owned(),
            ),
            (
                "_rels/.rels",
                format!(
                    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
                     <Relationship Id=\"rId1\" Type=\"{REL}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
                ),
            ),
            (
                "xl/workbook.xml",
                format!(
                    "<workbook xmlns=\"{MAIN}\" xmlns:r=\"{REL}\"><sheets>\
                     <sheet name=\"{sheet}\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"
                ),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                format!(
                    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
                     <Relationship Id=\"rId1\" Type=\"{REL}/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
                     <Relationship Id=\"rId2\" Type=\"{REL}/styles\" Target=\"styles.xml\"/></Relationships>"
                ),
            ),
            (
                "xl/styles.xml",
                format!(
                    "<styleSheet xmlns=\"{MAIN}\"><cellXfs count=\"2\"><xf numFmtId=\"0\"/>\
                     <xf numFmtId=\"14\" applyNumberFormat=\"1\"/></cellXfs></styleSheet>"
                ),
            ),
            ("xl/worksheets/sheet1.xml", format!("<worksheet xmlns=\"{MAIN}\"><sheetData>{data}</sheetData></worksheet>")),
        ];
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        for (name, xml) in parts {
            zip.start_file(name, stored).unwrap();
            zip.write_all(xml.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn header() -> Vec<Cell> {
        [
            "id",
            "title",
            "description",
            "industry",
            "keywords",
            "region",
            "budget_wan",
            "deadline",
            "is_challenge",
            "min_trl",
        ]
        .into_iter()
        .map(Cell::Text)
        .collect()
    }

    /// A demand row with numbers, a date and a true/false typed as a spreadsheet types them.
    fn demand_row(id: &'static str, industry: &'static str) -> Vec<Cell> {
        vec![
            Cell::Text(id),
            Cell::Text("锂电池热失控预警"),
            Cell::Text("储能电站需要提前发现电芯热失控"),
            Cell::Text(industry),
            Cell::Text("储能；热失控"),
            Cell::Number(440300.0),
            Cell::Number(80.5),
            Cell::Date(46477),
            Cell::Bool(true),
            Cell::Number(6.0),
        ]
    }

    #[test]
    fn xlsx_rows_become_drafts_with_typed_cells_read_as_values() {
        let book =
            workbook("需求", &[Some(header()), Some(demand_row("D-1", "C38")), None, Some(demand_row("D-2", "C39"))]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("需求表.xlsx");
        std::fs::write(&path, book).unwrap();
        let drafts = read_file(&path).into_result().unwrap();
        let refs: Vec<_> = drafts.iter().map(|d| d.external_id.as_deref()).collect();
        assert_eq!(refs, [Some("D-1"), Some("D-2")], "the blank row is skipped");
        let Body::Demand(d) = &drafts[0].body else { panic!("not a demand") };
        assert_eq!(d.region.to_string(), "440300");
        assert_eq!(d.budget_wan, Some(80.5));
        assert_eq!(d.deadline.map(|d| d.to_string()).as_deref(), Some("2027-03-31"));
        assert!(d.is_challenge);
        assert_eq!(d.min_trl.get(), 6);
        assert_eq!(d.keywords, ["储能", "热失控"]);
    }

    #[test]
    fn bad_xlsx_rows_are_reported_by_sheet_row_and_field() {
        let book =
            workbook("需求", &[Some(header()), Some(demand_row("D-1", "C38")), None, Some(demand_row("D-2", "I38"))]);
        let errors = parse_xlsx(&book).unwrap_err();
        let found: Vec<(String, String)> = errors.iter().map(|e| (e.location.to_string(), e.field.clone())).collect();
        assert_eq!(found, [("sheet 需求 row 4".into(), "industry".into())]);
        assert!(parse_xlsx(b"not a workbook").is_err());
    }

    #[test]
    fn a_workbook_the_reader_chokes_on_is_an_error_not_a_crash() {
        // A cell reference of 20 letters overflows calamine's column arithmetic.
        let book =
            workbook("需求", &[Some(header()), Some(vec![Cell::Raw("<c r=\"AAAAAAAAAAAAAAAAAAAA2\"><v>1</v></c>")])]);
        let errors = parse_xlsx(&book).unwrap_err();
        assert!(errors[0].message.contains("XLSX"), "{errors:?}");
    }

    #[test]
    fn interchange_json_with_all_three_lists_is_read() {
        let text = r#"{
          "demands": [{"id": "d-1", "title": "光伏组件隐裂判定", "description": "需要自动识别", "industry": "I65",
                       "keywords": ["隐裂"], "region": "510700", "budget_wan": 80, "deadline": "2027-03-31",
                       "is_challenge": false, "min_trl": 6}],
          "outcomes": [{"id": "o-1", "title": "织物缺陷识别", "abstract": "无监督异常检测", "industry": "I65",
                        "keywords": ["异常检测"], "owner": "钱塘大学", "region": "330100", "trl": 7,
                        "ip": "发明专利 CN202010476989.9", "transfer_modes": ["技术许可"], "price_wan": 160}],
          "experts": [{"id": "e-1", "name": "贺嘉宁", "affiliation": "浦江研究院", "fields": ["细胞培养"],
                       "region": "310000", "title": "研究员", "available": [{"from": "2027-02-01", "to": "2027-04-30"}],
                       "service_modes": ["技术咨询"]}]
        }"#;
        let drafts = parse_json(text).unwrap();
        let kinds: Vec<RecordKind> = drafts.iter().map(|d| d.body.kind()).collect();
        assert_eq!(kinds, [RecordKind::Demand, RecordKind::Outcome, RecordKind::Expert]);
        let Body::Outcome(o) = &drafts[1].body else { panic!() };
        assert_eq!(o.institution, "钱塘大学");
    }

    #[test]
    fn exported_rows_read_back_as_the_same_drafts_in_every_format() {
        let text = r#"{
          "demands": [{"id": "d-1", "title": "光伏组件隐裂判定", "description": "需要自动识别，含\"引号\"与逗号,", "industry": "I65",
                       "keywords": ["隐裂", "质检"], "region": "510700", "budget_wan": 80.5, "deadline": "2027-03-31",
                       "is_challenge": true, "min_trl": 6, "enterprise": "绵阳光伏",
                       "contact": {"person": "周工", "phone": "0816-2660 1188", "email": "zhou@pv.example.cn"}}],
          "outcomes": [{"id": "o-1", "title": "织物缺陷识别", "abstract": "无监督异常检测", "industry": "I65",
                        "keywords": ["异常检测"], "owner": "钱塘大学", "region": "330100", "trl": 7,
                        "ip": "发明专利 CN202010476989.9", "transfer_modes": ["技术许可", "技术开发"], "price_wan": 160}],
          "experts": [{"id": "e-1", "name": "贺嘉宁", "affiliation": "浦江研究院", "fields": ["细胞培养"],
                       "region": "310000", "title": "研究员", "capacity": 3,
                       "available": [{"from": "2027-02-01", "to": "2027-04-30"}, {"from": "2027-09-01", "to": "2027-11-30"}],
                       "service_modes": ["技术咨询"]}]
        }"#;
        let drafts = parse_json(text).unwrap();
        let rows: Vec<(RecordKind, Map<String, Value>)> =
            drafts.iter().map(|d| (d.body.kind(), to_row(d.external_id.as_deref(), &d.body).unwrap())).collect();
        assert_eq!(parse_json(&write_json(&rows)).unwrap(), drafts, "JSON");
        assert_eq!(parse_jsonl(&write_jsonl(&rows)).unwrap(), drafts, "JSON Lines");
        let csv = write_csv(&rows);
        assert!(csv.starts_with('\u{feff}'), "spreadsheet programs need the BOM to read UTF-8");
        assert_eq!(parse_csv(&csv).unwrap(), drafts, "CSV:\n{csv}");
        let xlsx = write_xlsx(&rows).unwrap();
        assert_eq!(parse_xlsx(&xlsx).unwrap(), drafts, "XLSX");
    }

    #[test]
    fn an_exported_workbook_has_chinese_headings_and_keeps_codes_as_text() {
        use calamine::{Data, Reader};
        let drafts = parse_json(
            r#"{"demands": [{"id": "d-1", "title": "隐裂判定", "description": "自动识别", "industry": "I65",
                "region": "510700", "deadline": "2027-03-31", "min_trl": 6}],
                "experts": [{"id": "e-1", "name": "贺嘉宁", "affiliation": "浦江研究院", "fields": ["细胞培养"],
                "region": "310000", "title": "研究员"}]}"#,
        )
        .unwrap();
        let rows: Vec<KindRow> =
            drafts.iter().map(|d| (d.body.kind(), to_row(d.external_id.as_deref(), &d.body).unwrap())).collect();
        let bytes = write_xlsx(&rows).unwrap();
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(book.sheet_names(), ["需求", "专家"]);
        let demands = book.worksheet_range("需求").unwrap();
        let header: Vec<String> = demands.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
        assert_eq!(header[..4], ["编号", "标题", "需求描述", "行业代码"]);
        let region = header.iter().position(|h| h == "所在地区").unwrap();
        assert_eq!(demands.get((1, region)), Some(&Data::String("510700".into())), "a code stays text");
        let deadline = header.iter().position(|h| h == "截止日期").unwrap();
        assert!(matches!(demands.get((1, deadline)), Some(Data::DateTime(_))), "a deadline is a date");
        let experts = book.worksheet_range("专家").unwrap();
        assert!(experts.rows().next().unwrap().iter().any(|c| *c == "职称"), "an expert's title is 职称");
    }

    #[test]
    fn a_csv_saved_as_gbk_reads_like_utf8() {
        let utf8 = "kind,id,title,description,industry,region,min_trl\ndemand,d-1,隐裂判定,需要自动识别,I65,510700,6\n";
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(utf8);
        assert!(!unmappable && std::str::from_utf8(&gbk).is_err(), "really GBK bytes");
        assert_eq!(csv_text(&gbk).unwrap(), utf8);
        assert_eq!(parse_csv(&csv_text(&gbk).unwrap()).unwrap(), parse_csv(utf8).unwrap());
        let garbage = [0x81, 0x20, 0xff, 0xfe, 0x81];
        assert!(csv_text(&garbage).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn dates_are_read_as_people_type_them() {
        for text in ["2027-03-31", "2027/3/31", "2027.03.31", "2027年3月31日", " 2027 年 3 月 31 日 "] {
            assert_eq!(date("deadline", text).unwrap().to_string(), "2027-03-31", "{text}");
        }
        for bad in ["2027/2/30", "31/3/2027", "明年三月"] {
            let e = date("deadline", bad).unwrap_err().to_string();
            assert!(e.contains("deadline"), "{bad}: {e}");
        }
    }

    #[test]
    fn chinese_headings_are_read_as_their_fields() {
        let csv = "\u{feff}类型,编号,标题,需求描述,行业代码,所在地区,最低技术成熟度,预算(万元)\n\
                   demand,d-9,隐裂判定,自动识别,i65,510700,6,80\n";
        let drafts = parse_csv(csv).unwrap();
        let english = parse_csv(
            "kind,id,title,description,industry,region,min_trl,budget_wan\ndemand,d-9,隐裂判定,自动识别,I65,510700,6,80\n",
        )
        .unwrap();
        assert_eq!(drafts, english, "half-width brackets like full-width ones, i65 like I65");
    }

    #[test]
    fn jsonl_infers_kind_and_names_bad_fields() {
        let text = "{\"id\":\"e-1\",\"name\":\"王\",\"fields\":[\"焊接\"],\"region\":\"440300\",\"available\":\"2027-01-01~2026-12-01\"}\n\n{\"title\":\"x\"}\n";
        let errors = parse_jsonl(text).unwrap_err();
        assert_eq!(errors[0].location, Location::Line(1));
        assert_eq!(errors[0].field, "available[0]");
        assert_eq!(errors[1].location, Location::Line(3));
        assert_eq!(errors[1].field, "kind");
    }

    #[test]
    fn contacts_are_read_nested_or_flat() {
        let nested = r#"[{"kind":"expert","name":"王","fields":["焊接"],"region":"440300","contact":{"person":"王","phone":"138 0000 0000","email":"w@x.cn"}}]"#;
        let flat = "kind,name,fields,region,contact_person,contact_phone,contact_email\nexpert,王,焊接,440300,王,138 0000 0000,w@x.cn\n";
        let a = parse_json(nested).unwrap();
        let b = parse_csv(flat).unwrap();
        assert_eq!(a[0].body, b[0].body);
    }
}
