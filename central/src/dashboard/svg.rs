//! Charts drawn on the server as SVG: nothing for a browser to fetch.

use std::fmt::Write as _;

use kechuang_stats::Row;

use super::data::Stage;
use super::html::esc;

/// Colours of the funnel's steps and the trend's series.
const PALETTE: [&str; 5] = ["#1f6feb", "#2f81f7", "#3fb950", "#d29922", "#db6d28"];

/// The funnel 需求→推荐→对接→签约→落地 as horizontal bars, each labelled
/// with its count and its share of the first step.
pub fn funnel(stages: &[Stage]) -> String {
    let (width, bar, gap, left) = (640.0, 34.0, 12.0, 64.0);
    let height = stages.len() as f64 * (bar + gap) + gap;
    let max = stages.iter().map(|s| s.count).max().unwrap_or(0).max(1) as f64;
    let first = stages.first().map_or(0, |s| s.count);
    let mut svg = format!(
        r#"<svg class="chart funnel" role="img" aria-label="需求转化漏斗" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">"#
    );
    for (i, stage) in stages.iter().enumerate() {
        let y = gap + i as f64 * (bar + gap);
        let w = ((width - left - 150.0) * stage.count as f64 / max).max(2.0);
        let x = left + (width - left - 150.0 - w) / 2.0;
        let share = match first {
            0 => String::new(),
            f => format!("（{:.0}%）", stage.count as f64 * 100.0 / f as f64),
        };
        let _ = write!(
            svg,
            r#"<text x="0" y="{ty}" font-size="15">{label}</text><rect x="{x:.1}" y="{y}" width="{w:.1}" height="{bar}" rx="4" fill="{colour}"/><text x="{tx:.1}" y="{ty}" font-size="14">{count}{share}</text>"#,
            ty = y + bar * 0.65,
            label = esc(stage.label),
            colour = PALETTE[i % PALETTE.len()],
            tx = width - 140.0,
            count = stage.count,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A series of the trend: its name and its value in a month's row.
type Series = (&'static str, fn(&Row) -> u64);

/// Published demands, connections and contracts per month as grouped bars.
pub fn trend(months: &[Row]) -> String {
    let series: [Series; 3] =
        [("发布需求", |r| r.demands.published), ("对接", |r| r.proposals.connected), ("签约", |r| r.contracts.count)];
    let (height, top, bottom, group) = (220.0, 24.0, 28.0, 3.0 * 16.0 + 20.0);
    let width = (months.len() as f64 * group + 60.0).max(320.0);
    let max = months.iter().flat_map(|r| series.iter().map(move |(_, f)| f(r))).max().unwrap_or(0).max(1) as f64;
    let plot = height - top - bottom;
    let mut svg = format!(
        r#"<svg class="chart trend" role="img" aria-label="按月趋势" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">"#
    );
    for (i, (name, _)) in series.iter().enumerate() {
        let x = 40.0 + i as f64 * 90.0;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="4" width="12" height="12" fill="{}"/><text x="{}" y="15" font-size="12">{}</text>"#,
            PALETTE[i * 2],
            x + 16.0,
            esc(name)
        );
    }
    let _ = write!(svg, r##"<line x1="30" y1="{y}" x2="{width}" y2="{y}" stroke="#888"/>"##, y = top + plot);
    for (m, row) in months.iter().enumerate() {
        let x0 = 40.0 + m as f64 * group;
        for (i, (name, value)) in series.iter().enumerate() {
            let v = value(row);
            let h = plot * v as f64 / max;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="14" height="{h:.1}" fill="{colour}"><title>{month} {name} {v}</title></rect>"#,
                x = x0 + i as f64 * 16.0,
                y = top + plot - h,
                colour = PALETTE[i * 2],
                month = esc(&row.key),
                name = esc(name),
            );
        }
        let _ = write!(svg, r#"<text x="{x0}" y="{}" font-size="11">{}</text>"#, height - 10.0, esc(&row.key));
    }
    svg.push_str("</svg>");
    svg
}
