//! A report for people: a table for the terminal, CSV and XLSX with
//! Chinese headings for Excel and WPS.

use std::fmt::Write as _;
use std::path::Path;

use rust_xlsxwriter::{Format, Workbook, Worksheet};

use crate::report::{Assessments, Engagement, Report, Responsiveness, Row};
use crate::{Dimension, Error};

/// A cell: text, or a number a spreadsheet can add up.
enum Cell {
    Text(String),
    Number(f64),
    /// A share, 0 to 1, shown as a percentage.
    Share(f64),
    Empty,
}

impl Cell {
    fn count(n: u64) -> Self {
        Self::Number(n as f64)
    }

    fn maybe(v: Option<f64>) -> Self {
        v.map_or(Self::Empty, Self::Number)
    }

    fn share(v: Option<f64>) -> Self {
        v.map_or(Self::Empty, Self::Share)
    }

    fn text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Number(n) => number(*n),
            Self::Share(n) => format!("{}%", number((n * 1000.0).round() / 10.0)),
            Self::Empty => "—".into(),
        }
    }
}

/// A number without trailing zeros: `120`, `12.5`, `0.333`.
fn number(n: f64) -> String {
    let s = format!("{n:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

type Column = (&'static str, bool, fn(&Row) -> Cell);

/// Every column of a row: heading, whether the terminal table shows it, value.
const COLUMNS: &[Column] = &[
    ("发布需求", true, |r| Cell::count(r.demands.published)),
    ("获推荐需求", true, |r| Cell::count(r.demands.proposed)),
    ("对接需求", true, |r| Cell::count(r.demands.connected)),
    ("签约需求", true, |r| Cell::count(r.demands.contracted)),
    ("落地需求", true, |r| Cell::count(r.demands.landed)),
    ("撤回需求", false, |r| Cell::count(r.demands.withdrawn)),
    ("推荐", true, |r| Cell::count(r.proposals.total)),
    ("同城推荐", false, |r| Cell::count(r.proposals.city)),
    ("同省推荐", false, |r| Cell::count(r.proposals.province)),
    ("全国推荐", false, |r| Cell::count(r.proposals.national)),
    ("对接", false, |r| Cell::count(r.proposals.connected)),
    ("签约", false, |r| Cell::count(r.proposals.contracted)),
    ("落地", false, |r| Cell::count(r.proposals.landed)),
    ("拒绝", false, |r| Cell::count(r.proposals.declined)),
    ("过期", false, |r| Cell::count(r.proposals.expired)),
    ("撤回推荐", false, |r| Cell::count(r.proposals.withdrawn)),
    ("合同数", true, |r| Cell::count(r.contracts.count)),
    ("成交额(万元)", true, |r| Cell::Number(r.contracts.amount_wan)),
    ("跨省对接占比", true, |r| Cell::share(r.cross_province_share)),
    ("至首次推荐(天)", false, |r| Cell::maybe(r.median_days.to_proposal)),
    ("至对接(天)", true, |r| Cell::maybe(r.median_days.to_connected)),
    ("至签约(天)", false, |r| Cell::maybe(r.median_days.to_contracted)),
    ("至落地(天)", true, |r| Cell::maybe(r.median_days.to_landed)),
];

fn group_heading(report: &Report) -> &'static str {
    report.by.map_or("范围", Dimension::heading)
}

/// The report's rows with the total last, each as (key, label).
fn all_rows(report: &Report) -> impl Iterator<Item = (String, String, &Row)> {
    let total = std::iter::once((String::from("合计"), report.scope_label.clone(), &report.total));
    report.rows.iter().map(|r| (r.key.clone(), r.label.clone(), r)).chain(total)
}

/// Pads `cells` into aligned columns, counting a CJK character as two.
fn aligned(rows: &[Vec<String>]) -> String {
    let width = |s: &str| s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum::<usize>();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..columns).map(|i| rows.iter().filter_map(|r| r.get(i)).map(|s| width(s)).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w.saturating_sub(width(cell)))))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

/// The report as tables for the terminal: the figures, then who answers
/// and who was engaged.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let window = match (report.from, report.to) {
        (None, None) => "全部时间".to_owned(),
        (from, to) => format!(
            "{} 至 {}",
            from.map_or("最早".into(), |d| d.to_string()),
            to.map_or("今天".into(), |d| d.to_string())
        ),
    };
    let _ = writeln!(out, "{}  {window}  (仅计已核实的步骤)\n", report.scope_label);
    let mut rows = vec![
        std::iter::once(group_heading(report).to_owned())
            .chain(COLUMNS.iter().filter(|c| c.1).map(|c| c.0.to_owned()))
            .collect::<Vec<_>>(),
    ];
    for (key, label, row) in all_rows(report) {
        let name = match (key.as_str(), label.is_empty() || label == key) {
            ("合计", _) if !report.rows.is_empty() => key,
            (_, true) => key,
            _ => label,
        };
        rows.push(std::iter::once(name).chain(COLUMNS.iter().filter(|c| c.1).map(|c| (c.2)(row).text())).collect());
    }
    out.push_str(&aligned(&rows));
    if !report.responsiveness.is_empty() {
        out.push_str("\n站点响应\n");
        let mut rows = vec![RESPONSE_HEADINGS.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
        rows.extend(report.responsiveness.iter().map(|r| response_cells(r).iter().map(Cell::text).collect()));
        out.push_str(&aligned(&rows));
    }
    for (title, list) in [("专家对接", &report.experts), ("学会对接", &report.societies)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}");
        let mut rows = vec![ENGAGEMENT_HEADINGS.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
        rows.extend(list.iter().map(|e| engagement_cells(e).iter().map(Cell::text).collect()));
        out.push_str(&aligned(&rows));
    }
    if !report.assessments.is_empty() {
        out.push_str("\n学会评估\n");
        let mut rows = vec![ASSESSMENT_HEADINGS.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
        rows.extend(report.assessments.iter().map(|a| assessment_cells(a).iter().map(Cell::text).collect()));
        out.push_str(&aligned(&rows));
    }
    out
}

const ASSESSMENT_HEADINGS: [&str; 5] = ["学会", "评估", "推荐", "有条件推荐", "不推荐"];

fn assessment_cells(a: &Assessments) -> [Cell; 5] {
    [
        Cell::Text(a.society.clone()),
        Cell::count(a.total),
        Cell::count(a.recommended),
        Cell::count(a.conditional),
        Cell::count(a.not_recommended),
    ]
}

const RESPONSE_HEADINGS: [&str; 6] = ["站点", "类型", "收到推荐", "已答复", "答复率", "答复用时中位数(小时)"];

fn response_cells(r: &Responsiveness) -> [Cell; 6] {
    [
        Cell::Text(r.node.clone()),
        Cell::Text(r.kind.clone()),
        Cell::count(r.received),
        Cell::count(r.answered),
        Cell::share(r.response_rate),
        Cell::maybe(r.median_response_hours),
    ]
}

const ENGAGEMENT_HEADINGS: [&str; 3] = ["名称", "所属站点", "对接次数"];

fn engagement_cells(e: &Engagement) -> [Cell; 3] {
    [Cell::Text(e.name.clone()), Cell::Text(e.owner.clone()), Cell::count(e.engagements)]
}

/// The headings and cells of the main sheet.
fn main_sheet(report: &Report) -> (Vec<String>, Vec<Vec<Cell>>) {
    let headings = [group_heading(report), "名称"].into_iter().chain(COLUMNS.iter().map(|c| c.0)).map(String::from);
    let rows = all_rows(report)
        .map(|(key, label, row)| {
            [Cell::Text(key), Cell::Text(label)].into_iter().chain(COLUMNS.iter().map(|c| (c.2)(row))).collect()
        })
        .collect();
    (headings.collect(), rows)
}

/// The figures as CSV (UTF-8 with a byte-order mark, so Excel and WPS read
/// the Chinese headings), one row per group and the total last.
pub fn csv(report: &Report) -> String {
    let (headings, rows) = main_sheet(report);
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(&headings);
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Cell::Empty => String::new(),
                other => other.text(),
            })
            .collect();
        let _ = writer.write_record(&cells);
    }
    let bytes = writer.into_inner().unwrap_or_default();
    format!("\u{feff}{}", String::from_utf8_lossy(&bytes))
}

fn write_sheet(sheet: &mut Worksheet, headings: &[String], rows: &[Vec<Cell>]) -> Result<(), Error> {
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.0%");
    let xlsx = |e: rust_xlsxwriter::XlsxError| Error::Xlsx(e.to_string());
    for (c, h) in headings.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, h, &bold).map_err(xlsx)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => sheet.write_string(r, c, s).map(|_| ()),
                Cell::Number(n) => sheet.write_number(r, c, *n).map(|_| ()),
                Cell::Share(n) => sheet.write_number_with_format(r, c, *n, &percent).map(|_| ()),
                Cell::Empty => Ok(()),
            }
            .map_err(xlsx)?;
        }
    }
    sheet.autofit();
    Ok(())
}

/// The report as an XLSX workbook at `path`: 汇总 (the figures), 站点响应,
/// 专家对接, 学会对接 and 学会评估.
pub fn xlsx(report: &Report, path: &Path) -> Result<(), Error> {
    let xlsx = |e: rust_xlsxwriter::XlsxError| Error::Xlsx(e.to_string());
    let mut book = Workbook::new();
    let (headings, rows) = main_sheet(report);
    write_sheet(book.add_worksheet().set_name("汇总").map_err(xlsx)?, &headings, &rows)?;
    let headings: Vec<String> = RESPONSE_HEADINGS.iter().map(|h| h.to_string()).collect();
    let rows: Vec<Vec<Cell>> = report.responsiveness.iter().map(|r| response_cells(r).into()).collect();
    write_sheet(book.add_worksheet().set_name("站点响应").map_err(xlsx)?, &headings, &rows)?;
    for (name, list) in [("专家对接", &report.experts), ("学会对接", &report.societies)] {
        let headings: Vec<String> = ENGAGEMENT_HEADINGS.iter().map(|h| h.to_string()).collect();
        let rows: Vec<Vec<Cell>> = list.iter().map(|e| engagement_cells(e).into()).collect();
        write_sheet(book.add_worksheet().set_name(name).map_err(xlsx)?, &headings, &rows)?;
    }
    let headings: Vec<String> = ASSESSMENT_HEADINGS.iter().map(|h| h.to_string()).collect();
    let rows: Vec<Vec<Cell>> = report.assessments.iter().map(|a| assessment_cells(a).into()).collect();
    write_sheet(book.add_worksheet().set_name("学会评估").map_err(xlsx)?, &headings, &rows)?;
    book.save(path).map_err(xlsx)
}

const RANKING_HEADINGS: [&str; 4] = ["名次", "名称", "数值", "说明"];

fn ranking_cells(e: &crate::Entry) -> [Cell; 4] {
    [Cell::count(u64::from(e.rank)), Cell::Text(e.name.clone()), Cell::Number(e.value), Cell::Text(e.detail.clone())]
}

/// The rankings as tables for the terminal, each with its rule under it.
pub fn rankings_table(rankings: &crate::Rankings) -> String {
    let mut out = String::new();
    for list in &rankings.lists {
        let _ = writeln!(out, "{} {}\n", rankings.year, list.title);
        if list.entries.is_empty() {
            out.push_str("（暂无上榜）\n");
        } else {
            let mut rows = vec![RANKING_HEADINGS.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
            rows.extend(list.entries.iter().map(|e| ranking_cells(e).iter().map(Cell::text).collect()));
            out.push_str(&aligned(&rows));
        }
        let _ = writeln!(out, "规则：{}\n", list.method);
    }
    out
}

/// The rankings as an XLSX workbook at `path`: a sheet per list, its rule
/// in the row under the last place.
pub fn rankings_xlsx(rankings: &crate::Rankings, path: &Path) -> Result<(), Error> {
    let xlsx = |e: rust_xlsxwriter::XlsxError| Error::Xlsx(e.to_string());
    let mut book = Workbook::new();
    for list in &rankings.lists {
        let headings: Vec<String> = RANKING_HEADINGS.iter().map(|h| h.to_string()).collect();
        let mut rows: Vec<Vec<Cell>> = list.entries.iter().map(|e| ranking_cells(e).into()).collect();
        rows.push(vec![Cell::Text("规则".into()), Cell::Text(list.method.clone())]);
        write_sheet(book.add_worksheet().set_name(&list.title).map_err(xlsx)?, &headings, &rows)?;
    }
    book.save(path).map_err(xlsx)
}
