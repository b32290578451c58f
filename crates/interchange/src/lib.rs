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
    Body, Contact, Date, DateRange, Demand, Draft, Error, Expert, Industry, Outcome, RecordKind, Region, TransferMode,
    Trl, WithdrawReason, Withdrawal,
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
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Reads one file into drafts, or every bad row in it.
pub fn read_file(path: &Path) -> Result<Vec<Draft>, Vec<RowError>> {
    let unreadable = |e: std::io::Error| {
        vec![RowError {
            location: Location::Line(0),
            field: "-".into(),
            message: format!("cannot read {}: {e}", path.display()),
        }]
    };
    let text = || std::fs::read_to_string(path).map_err(unreadable);
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" => {
            let bytes = std::fs::read(path).map_err(unreadable)?;
            let text = csv_text(&bytes)
                .map_err(|message| vec![RowError { location: Location::Line(0), field: "-".into(), message }])?;
            parse_csv(&text)
        }
        "jsonl" | "ndjson" => parse_jsonl(&text()?),
        "json" => parse_json(&text()?),
        "xlsx" | "xlsm" => parse_xlsx(&std::fs::read(path).map_err(unreadable)?),
        other => Err(vec![RowError {
            location: Location::Line(0),
            field: "-".into(),
            message: format!("unknown file type {other:?}: use .json, .jsonl, .csv or .xlsx"),
        }]),
    }
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
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        vec![RowError {
            location: Location::Line(e.line() as u64),
            field: "-".into(),
            message: format!("not JSON: {e}"),
        }]
    })?;
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
                        return Err(vec![RowError {
                            location: Location::Line(1),
                            field: list.into(),
                            message: format!("{list}: must be an array"),
                        }]);
                    }
                    None => {}
                }
            }
        }
        single @ Value::Object(_) => rows.push((Location::Item(None, 1), None, single)),
        _ => {
            return Err(vec![RowError {
                location: Location::Line(1),
                field: "-".into(),
                message: "expected an object or an array of rows".into(),
            }]);
        }
    }
    collect(rows.into_iter().map(|(location, kind, value)| match value {
        Value::Object(map) => drafted(location, kind, &map),
        _ => Err(vec![RowError { location, field: "-".into(), message: "a row must be an object".into() }]),
    }))
}

/// Parses JSON Lines: one row object per non-empty line.
pub fn parse_jsonl(text: &str) -> Result<Vec<Draft>, Vec<RowError>> {
    collect(text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, line)| {
        let location = Location::Line(i as u64 + 1);
        match serde_json::from_str::<Value>(line.trim_start_matches('\u{feff}')) {
            Ok(Value::Object(map)) => drafted(location, None, &map),
            Ok(_) => Err(vec![RowError { location, field: "-".into(), message: "a row must be an object".into() }]),
            Err(e) => Err(vec![RowError { location, field: "-".into(), message: format!("not JSON: {e}") }]),
        }
    }))
}

/// Parses CSV with a header row; list fields are separated by `;`, `；`, `|` or `、`.
pub fn parse_csv(text: &str) -> Result<Vec<Draft>, Vec<RowError>> {
    let mut reader =
        csv::ReaderBuilder::new().flexible(false).from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().map_err(|e| vec![csv_error(1, e)])?.clone();
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

/// Parses an XLSX workbook: every sheet with a header row in its first
/// row, like CSV. A sheet named `demands`, `outcomes` or `experts` (or 需求,
/// 成果, 专家) holds that kind; in others the fields tell. Numbers, dates
/// and true/false cells are read as their values.
pub fn parse_xlsx(bytes: &[u8]) -> Result<Vec<Draft>, Vec<RowError>> {
    use calamine::Reader;

    let unreadable = |message: String| vec![RowError { location: Location::Line(0), field: "-".into(), message }];
    // The reader can panic on malformed files (calamine 0.38 overflows on an
    // over-long cell reference, found by fuzzing): a bad file is an error,
    // never a crash of `publish`.
    let sheets = std::panic::catch_unwind(|| {
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).map(|mut workbook| workbook.worksheets())
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
                    Err(message) => {
                        let message = format!("{name}: {message}");
                        bad.push(RowError { location: location.clone(), field: name.clone(), message });
                    }
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

/// One exported row and its kind.
pub type KindRow = (RecordKind, Map<String, Value>);

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
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

    let failed = |e: rust_xlsxwriter::XlsxError| format!("writing the workbook: {e}");
    let (bold, date) = (Format::new().set_bold(), Format::new().set_num_format("yyyy-mm-dd"));
    let mut book = Workbook::new();
    for (kind, name) in [(RecordKind::Demand, "需求"), (RecordKind::Outcome, "成果"), (RecordKind::Expert, "专家")]
    {
        let flat: Vec<Vec<(String, Cell)>> = rows.iter().filter(|(k, _)| *k == kind).map(|(_, r)| flatten(r)).collect();
        if flat.is_empty() {
            continue;
        }
        let columns = columns(flat.iter());
        let sheet = book.add_worksheet().set_name(name).map_err(failed)?;
        for (c, field) in columns.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, heading(kind, field), &bold).map_err(failed)?;
        }
        for (r, cells) in flat.iter().enumerate() {
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
                }
                .map_err(failed)?;
            }
        }
        sheet.autofit();
    }
    if rows.is_empty() {
        book.add_worksheet().set_name("需求").map_err(failed)?;
    }
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
    RowError { location: Location::Line(line), field: "-".into(), message: format!("not CSV: {e}") }
}

fn row_error(location: Location, e: Error) -> RowError {
    RowError { location, field: e.field().to_owned(), message: e.to_string() }
}

/// A row's draft, or every bad field of it at `location`.
fn drafted(location: Location, kind: Option<RecordKind>, map: &Map<String, Value>) -> Result<Draft, Vec<RowError>> {
    draft(kind, map).map_err(|errors| errors.into_iter().map(|e| row_error(location.clone(), e)).collect())
}

fn collect(rows: impl Iterator<Item = Result<Draft, Vec<RowError>>>) -> Result<Vec<Draft>, Vec<RowError>> {
    let (mut drafts, mut errors) = (Vec::new(), Vec::new());
    for row in rows {
        match row {
            Ok(d) => drafts.push(d),
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
        Region::parse("region", &self.required("region")?)
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
        let drafts = read_file(&path).unwrap();
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
