//! Calendar dates (deadlines, availability windows) and timestamps.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A calendar date, `YYYY-MM-DD`, between 2000 and 2100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD`, naming `field` when it is not a real date.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let text = text.trim();
        let bad = |reason: &str| Error::invalid(field, text, reason);
        let parts: Vec<&str> = text.split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return Err(bad("dates are YYYY-MM-DD"));
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad("dates are YYYY-MM-DD"));
        }
        let number = |s: &str| s.parse::<u16>().map_err(|_| bad("dates are YYYY-MM-DD"));
        let (year, month, day) = (number(y)?, number(m)?, number(d)?);
        if !(2000..=2100).contains(&year) {
            return Err(bad("year must be between 2000 and 2100"));
        }
        if !(1..=12).contains(&month) {
            return Err(bad("month must be 01-12"));
        }
        if day == 0 || day > days_in_month(year, month as u8) as u16 {
            return Err(bad("no such day in that month"));
        }
        Ok(Self { year, month: month as u8, day: day as u8 })
    }

    /// Today's date in China Standard Time (UTC+8), whatever the host's
    /// zone: deadlines are dates in China.
    pub fn today() -> Self {
        Self::on(Timestamp::now())
    }

    /// The date in China Standard Time at instant `at`.
    pub fn on(at: Timestamp) -> Self {
        const CST_MS: i64 = 8 * 3_600_000;
        Self::from_days_since_epoch((at.0 + CST_MS).div_euclid(86_400_000))
    }

    /// The date `days` after 1970-01-01, clamped to the supported years.
    pub fn from_days_since_epoch(days: i64) -> Self {
        let (y, m, d) = civil_from_days(days);
        let year = y.clamp(2000, 2100) as u16;
        Self { year, month: m as u8, day: d as u8 }
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        days_from_civil(self.year as i64, self.month as i64, self.day as i64)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl TryFrom<String> for Date {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse("date", &s)
    }
}

impl From<Date> for String {
    fn from(d: Date) -> String {
        d.to_string()
    }
}

/// An inclusive range of dates, `from` ≤ `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    /// The first day.
    pub from: Date,
    /// The last day.
    pub to: Date,
}

impl DateRange {
    /// A range, naming `field` when `to` comes before `from`.
    pub fn new(field: &str, from: Date, to: Date) -> Result<Self> {
        if to < from {
            return Err(Error::invalid(field, format!("{from}~{to}"), "range ends before it starts"));
        }
        Ok(Self { from, to })
    }

    /// Whether the two ranges share at least one day.
    pub fn overlaps(&self, other: &DateRange) -> bool {
        self.from <= other.to && other.from <= self.to
    }
}

/// Milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time by the system clock.
    pub fn now() -> Self {
        Self(crate::clock::wall_millis() as i64)
    }
}

impl Timestamp {
    /// The time in China Standard Time, to the second (`2026-11-28 13:05:00 +08:00`).
    pub fn in_china(&self) -> String {
        let secs = (self.0 + 8 * 3_600_000).div_euclid(1000);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +08:00", rem / 3600, rem / 60 % 60, rem % 60)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = Error;

    /// Parses what `Display` writes: RFC 3339 in UTC to the second.
    fn from_str(text: &str) -> Result<Self> {
        let bad = || Error::invalid("time", text, "times are like 2026-11-28T05:00:00Z");
        let (day, time) = text.trim().strip_suffix('Z').and_then(|t| t.split_once('T')).ok_or_else(bad)?;
        let day = Date::parse("time", day)?;
        let parts: Vec<i64> = time.split(':').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_>>()?;
        let [h, m, s] = parts[..] else { return Err(bad()) };
        if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..61).contains(&s) {
            return Err(bad());
        }
        Ok(Self((day.days_since_epoch() * 86_400 + h * 3_600 + m * 60 + s) * 1_000))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, to the second.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1000);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
    }
}

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_timestamp_reads_back_what_it_writes() {
        let t = Timestamp(1_795_900_000_000);
        assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
        assert!("2026-11-28 05:00".parse::<Timestamp>().is_err());
        assert!("2026-11-28T25:00:00Z".parse::<Timestamp>().is_err());
    }

    use super::*;

    #[test]
    fn parses_real_dates_and_rejects_impossible_ones() {
        assert_eq!(Date::parse("deadline", "2027-03-31").unwrap().to_string(), "2027-03-31");
        assert!(Date::parse("deadline", "2028-02-29").is_ok());
        for bad in ["2027-02-29", "2027-13-01", "2027-3-1", "27-03-01", "1999-01-01", "明年三月", ""] {
            let err = Date::parse("deadline", bad).unwrap_err();
            assert_eq!(err.field(), "deadline", "{bad}");
        }
    }

    #[test]
    fn ranges_overlap_inclusively() {
        let d = |s| Date::parse("d", s).unwrap();
        let a = DateRange::new("a", d("2027-01-01"), d("2027-01-31")).unwrap();
        let b = DateRange::new("b", d("2027-01-31"), d("2027-02-28")).unwrap();
        let c = DateRange::new("c", d("2027-02-01"), d("2027-02-28")).unwrap();
        assert!(a.overlaps(&b) && !a.overlaps(&c));
        assert!(DateRange::new("available", d("2027-02-01"), d("2027-01-01")).is_err());
    }

    #[test]
    fn timestamps_print_as_rfc3339() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1_795_000_000_000).to_string(), "2026-11-18T11:06:40Z");
        assert_eq!(Timestamp(1_795_000_000_000).in_china(), "2026-11-18 19:06:40 +08:00");
        let d = Date::parse("d", "2026-11-18").unwrap();
        assert_eq!(d.days_since_epoch() * 86_400_000 + 40_000_000, 1_795_000_000_000);
        assert_eq!(Date::from_days_since_epoch(d.days_since_epoch()), d);
    }

    #[test]
    fn today_is_the_date_in_china() {
        let midnight_utc = Date::parse("d", "2026-11-18").unwrap().days_since_epoch() * 86_400_000;
        assert_eq!(Date::on(Timestamp(midnight_utc - 8 * 3_600_000 - 1)).to_string(), "2026-11-17");
        assert_eq!(Date::on(Timestamp(midnight_utc - 8 * 3_600_000)).to_string(), "2026-11-18", "00:00 in Beijing");
        assert_eq!(Date::on(Timestamp(midnight_utc + 15 * 3_600_000)).to_string(), "2026-11-18");
        assert_eq!(Date::on(Timestamp(midnight_utc + 16 * 3_600_000)).to_string(), "2026-11-19");
    }
}
