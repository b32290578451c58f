//! The options `kechuang-central stats` and `kechuang-node stats` share,
//! and where a report goes.

use std::path::{Path, PathBuf};

use crate::{Error, Report};

/// What to count and where to put it.
#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    /// Rows by province, city, node, industry, tier or month.
    #[arg(long)]
    pub by: Option<String>,
    /// Count steps on or after this day (YYYY-MM-DD, China Standard Time).
    #[arg(long)]
    pub from: Option<String>,
    /// Count steps on or before this day (YYYY-MM-DD, China Standard Time).
    #[arg(long)]
    pub to: Option<String>,
    /// Stable JSON instead of tables.
    #[arg(long, conflicts_with_all = ["csv", "xlsx"])]
    pub json: bool,
    /// Write the figures to this CSV file (UTF-8 with BOM, Chinese headings).
    #[arg(long, value_name = "FILE", conflicts_with = "xlsx")]
    pub csv: Option<PathBuf>,
    /// Write the figures to this XLSX workbook (Chinese headings).
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<PathBuf>,
}

impl StatsArgs {
    /// Prints `report` or writes it where the options say.
    pub fn emit(&self, report: &Report) -> Result<(), Error> {
        let write = |path: &Path, bytes: &[u8]| {
            std::fs::write(path, bytes)
                .map_err(|e| Error::Invalid { field: "out", reason: format!("{}: {e}", path.display()) })
        };
        if self.json {
            println!("{}", serde_json::to_string_pretty(report).unwrap_or_default());
        } else if let Some(path) = &self.csv {
            write(path, crate::csv(report).as_bytes())?;
            eprintln!("wrote {} ({} rows)", path.display(), report.rows.len() + 1);
        } else if let Some(path) = &self.xlsx {
            crate::xlsx(report, path)?;
            eprintln!("wrote {} ({} rows)", path.display(), report.rows.len() + 1);
        } else {
            print!("{}", crate::table(report));
        }
        Ok(())
    }
}
