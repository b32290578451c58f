//! What a report counts: whose figures, over which days, grouped how.

use std::fmt;
use std::str::FromStr;

use kechuang_types::{Date, NodeId, NodeKind, Region, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Whose figures a report holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "level", content = "of")]
pub enum Scope {
    /// The whole network (the national office).
    National,
    /// One province: its demands, its stations, its supply.
    Province(Region),
    /// One station: its own demands, the matches it is a side of or lands,
    /// its own supply.
    Node(NodeId),
}

impl Scope {
    /// What a station may see of the figures: a provincial station its
    /// province, any other station its own.
    pub fn for_station(id: &NodeId, kind: NodeKind, region: Region) -> Self {
        match kind {
            NodeKind::Central => Self::National,
            NodeKind::Provincial => Self::Province(region.province()),
            _ => Self::Node(id.clone()),
        }
    }

    /// For people: `全国`, `广东省 (440000)`, `节点 sz`.
    pub fn label(&self) -> String {
        match self {
            Self::National => "全国".into(),
            Self::Province(p) => format!("{} ({p})", p.province_name()),
            Self::Node(n) => format!("节点 {n}"),
        }
    }
}

/// How a report's rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// By the demand's province.
    Province,
    /// By the demand's city.
    City,
    /// By station: a demand under its owner, a match under both its sides.
    Node,
    /// By the demand's industry (GB/T 4754 code as published).
    Industry,
    /// By the match's tier; demands by the tier of the match that took them there.
    Tier,
    /// By month (China Standard Time) of the step counted.
    Month,
}

impl Dimension {
    /// Every dimension, in the order `--by` lists them.
    pub const ALL: [Dimension; 6] = [Self::Province, Self::City, Self::Node, Self::Industry, Self::Tier, Self::Month];

    /// The name `--by` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Province => "province",
            Self::City => "city",
            Self::Node => "node",
            Self::Industry => "industry",
            Self::Tier => "tier",
            Self::Month => "month",
        }
    }

    /// The column heading for people.
    pub fn heading(self) -> &'static str {
        match self {
            Self::Province => "省份",
            Self::City => "城市",
            Self::Node => "站点",
            Self::Industry => "行业",
            Self::Tier => "层级",
            Self::Month => "月份",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dimension {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL.into_iter().find(|d| d.as_str() == s.trim()).ok_or_else(|| Error::Invalid {
            field: "by",
            reason: format!("`{s}` is not one of province, city, node, industry, tier, month"),
        })
    }
}

/// A question for the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// Whose figures.
    pub scope: Scope,
    /// Rows by this; the totals only when absent.
    pub by: Option<Dimension>,
    /// Count steps on or after this day (China Standard Time).
    pub from: Option<Date>,
    /// Count steps on or before this day (China Standard Time).
    pub to: Option<Date>,
}

impl Query {
    /// Every figure of `scope`, all time, totals only.
    pub fn all(scope: Scope) -> Self {
        Self { scope, by: None, from: None, to: None }
    }

    /// Checks that the window does not end before it starts.
    pub fn check(&self) -> Result<(), Error> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to < from
        {
            return Err(Error::Invalid { field: "to", reason: format!("{to} is before --from {from}") });
        }
        Ok(())
    }

    /// The window as instants: from the first day's midnight to the last
    /// day's end, China Standard Time.
    pub(crate) fn window(&self) -> Window {
        const DAY_MS: i64 = 86_400_000;
        const CST_MS: i64 = 8 * 3_600_000;
        let midnight = |d: Date| d.days_since_epoch() * DAY_MS - CST_MS;
        Window { from: self.from.map_or(i64::MIN, midnight), until: self.to.map_or(i64::MAX, |d| midnight(d) + DAY_MS) }
    }
}

/// A query's window as instants: `from` included, `until` not.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    from: i64,
    until: i64,
}

impl Window {
    /// Whether a step at `at` falls in the window.
    pub(crate) fn contains(&self, at: Timestamp) -> bool {
        self.from <= at.0 && at.0 < self.until
    }
}
