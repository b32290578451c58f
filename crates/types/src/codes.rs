//! National codes and closed vocabularies: GB/T 2260 regions, GB/T 4754-2017
//! industries, technology readiness levels, node kinds, transfer and service
//! modes, routing tiers.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Province-level prefixes of GB/T 2260 (first two digits).
const PROVINCES: &[u8] = &[
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
    64, 65, 71, 81, 82,
];

/// Codes of places abroad: 99 followed by the ISO 3166-1 numeric code of
/// the country (never a GB/T 2260 prefix); `990000` groups them all.
const ABROAD: u32 = 990_000;

/// A GB/T 2260 administrative region code, e.g. `440300` (Shenzhen), or a
/// country abroad (`DE`) for supply located outside China (海智计划).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(pub(crate) u32);

impl Region {
    /// Parses a six-digit code with a real province prefix, or an ISO
    /// 3166-1 alpha-2 country code for a place abroad, naming `field` on error.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Self::country(field, text);
        }
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(field, text, "region codes are six digits (GB/T 2260)"));
        }
        let code: u32 = text.parse().map_err(|_| Error::invalid(field, text, "not a number"))?;
        let province = (code / 10_000) as u8;
        if !PROVINCES.contains(&province) {
            return Err(Error::invalid(field, text, "unknown province prefix"));
        }
        let city = code / 100 % 100;
        if !(city <= 70 || city == 90) {
            return Err(Error::invalid(field, text, "city digits must be 00-70 or 90"));
        }
        if city == 0 && !code.is_multiple_of(100) {
            return Err(Error::invalid(field, text, "a county code needs its city digits"));
        }
        Ok(Self(code))
    }

    /// A country abroad by its ISO 3166-1 alpha-2 code (`DE`), naming `field` on error.
    pub fn country(field: &str, alpha2: &str) -> Result<Self> {
        let upper = alpha2.trim().to_ascii_uppercase();
        if upper == "CN" {
            return Err(Error::invalid(field, alpha2, "a place in China is a GB/T 2260 region code (e.g. 440300)"));
        }
        let country = celes::Country::from_alpha2(&upper)
            .map_err(|_| Error::invalid(field, alpha2, "not an ISO 3166-1 country code (e.g. DE, US, JP)"))?;
        Ok(Self(ABROAD + country.value as u32))
    }

    /// The ISO 3166-1 alpha-2 code of a country abroad; `None` in China.
    pub fn abroad(self) -> Option<&'static str> {
        if !self.is_abroad() || self.0 == ABROAD {
            return None;
        }
        celes::Country::from_value((self.0 - ABROAD) as usize).ok().map(|c| c.alpha2)
    }

    /// Whether the region lies outside China.
    pub fn is_abroad(self) -> bool {
        self.0 / 10_000 == ABROAD / 10_000
    }

    /// The code as a number (`440305`).
    pub fn code(self) -> u32 {
        self.0
    }

    /// The province this region belongs to (`440000` for `440305`); every
    /// country abroad belongs to one group, 境外.
    pub fn province(self) -> Region {
        Region(self.0 / 10_000 * 10_000)
    }

    /// The city this region belongs to (`440300` for `440305`); a
    /// province-level code is its own city, and so is a country abroad.
    pub fn city(self) -> Region {
        if self.is_abroad() { self } else { Region(self.0 / 100 * 100) }
    }

    /// The name of the province this region belongs to (`广东省` for `440305`).
    pub fn province_name(self) -> &'static str {
        self.province().own_name().unwrap_or("")
    }

    /// Whether the code names a whole province (`440000`).
    pub fn is_province(self) -> bool {
        self.0.is_multiple_of(10_000)
    }

    /// Whether both regions are in the same province.
    pub fn same_province(self, other: Region) -> bool {
        self.province() == other.province()
    }

    /// Whether both regions are in the same city.
    pub fn same_city(self, other: Region) -> bool {
        self.city() == other.city()
    }

    /// Whether `other` lies within this region: anywhere in the province
    /// for a province-level code, anywhere in the city otherwise.
    pub fn contains(self, other: Region) -> bool {
        if self.is_province() { self.same_province(other) } else { self.same_city(other) }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.abroad() {
            Some(alpha2) => f.write_str(alpha2),
            None => write!(f, "{:06}", self.0),
        }
    }
}

impl TryFrom<String> for Region {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse("region", &s)
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.to_string()
    }
}

/// GB/T 4754-2017 sections: letter and the range of two-digit divisions in it.
const SECTIONS: &[(char, u8, u8)] = &[
    ('A', 1, 5),
    ('B', 6, 12),
    ('C', 13, 43),
    ('D', 44, 46),
    ('E', 47, 50),
    ('F', 51, 52),
    ('G', 53, 60),
    ('H', 61, 62),
    ('I', 63, 65),
    ('J', 66, 69),
    ('K', 70, 70),
    ('L', 71, 72),
    ('M', 73, 75),
    ('N', 76, 79),
    ('O', 80, 82),
    ('P', 83, 83),
    ('Q', 84, 85),
    ('R', 86, 90),
    ('S', 91, 96),
    ('T', 97, 97),
];

/// A GB/T 4754-2017 industry code: section letter and division, optionally
/// with group and class digits (`C38`, `C381`, `C3811`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Industry(String);

impl Industry {
    /// Parses an industry code, checking the letter against the division, naming `field` on error.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let text = text.trim();
        let mut chars = text.chars();
        let letter = chars.next().unwrap_or(' ');
        let digits = chars.as_str();
        if !letter.is_ascii_uppercase()
            || !(2..=4).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(Error::invalid(field, text, "industry codes are a letter and 2-4 digits (GB/T 4754)"));
        }
        let Some(&(_, low, high)) = SECTIONS.iter().find(|(l, _, _)| *l == letter) else {
            return Err(Error::invalid(field, text, "no such section letter (A-T)"));
        };
        let division: u8 = digits[..2].parse().map_err(|_| Error::invalid(field, text, "not a number"))?;
        if !(low..=high).contains(&division) {
            return Err(Error::invalid(
                field,
                text,
                format!("division {division:02} is not in section {letter} ({low:02}-{high:02})"),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// Every division code (`A01` … `T97`), for drop-down lists.
    pub fn divisions() -> Vec<String> {
        SECTIONS.iter().flat_map(|&(letter, low, high)| (low..=high).map(move |d| format!("{letter}{d:02}"))).collect()
    }

    /// The section letter (`C`).
    pub fn section(&self) -> char {
        self.0.chars().next().unwrap_or('?')
    }

    /// The section letter and division (`C38`).
    pub fn division(&self) -> &str {
        &self.0[..3]
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Industry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Industry {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse("industry", &s)
    }
}

impl From<Industry> for String {
    fn from(i: Industry) -> String {
        i.0
    }
}

/// A technology readiness level, 1 to 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Trl(u8);

impl Trl {
    /// Checks a level, naming `field` when it is outside 1–9.
    pub fn new(field: &str, level: i64) -> Result<Self> {
        if (1..=9).contains(&level) {
            Ok(Self(level as u8))
        } else {
            Err(Error::invalid(field, level.to_string(), "TRL must be 1-9"))
        }
    }

    /// The level.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Trl {
    type Error = Error;
    fn try_from(v: u8) -> Result<Self> {
        Self::new("trl", v.into())
    }
}

impl From<Trl> for u8 {
    fn from(t: Trl) -> u8 {
        t.0
    }
}

/// Defines a closed vocabulary with its canonical Chinese (or wire) names.
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The canonical name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// Parses a canonical name, naming `field` when it is unknown.
            pub fn parse(field: &str, text: &str) -> Result<Self> {
                let text = text.trim();
                Self::ALL.iter().copied().find(|v| v.as_str() == text).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    Error::invalid(field, text, format!(concat!("unknown ", $what, "; one of {}"), names.join(" / ")))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// The kind of a station in the three-level network.
    NodeKind, "node kind" {
        /// The national office.
        Central = "central",
        /// A provincial station (省级中心站).
        Provincial = "provincial",
        /// A city sub-station (市级分站).
        City = "city",
        /// A university association (高校科协).
        University = "university",
        /// A learned society's collaboration station (学会协作站).
        Society = "society",
    }
);

vocabulary!(
    /// How an outcome may be transferred.
    TransferMode, "transfer mode" {
        /// 技术转让.
        Assignment = "技术转让",
        /// 技术许可.
        License = "技术许可",
        /// 技术开发.
        Development = "技术开发",
        /// 技术咨询.
        Consulting = "技术咨询",
        /// 技术服务.
        Service = "技术服务",
        /// 作价入股.
        Equity = "作价入股",
    }
);

/// The six categories of a technology contract (技术合同), as the
/// programme's statistics count them: the transfer modes.
pub type ContractType = TransferMode;

vocabulary!(
    /// Why one side declined a proposal.
    DeclineReason, "decline reason" {
        /// 技术不匹配: the technology does not fit.
        Mismatch = "技术不匹配",
        /// 成熟度不足: not mature enough.
        Immature = "成熟度不足",
        /// 价格: the price.
        Price = "价格",
        /// 已有方案: a solution is already in hand.
        Solved = "已有方案",
        /// 时机不合适: not the right time.
        Timing = "时机不合适",
        /// 其他: another reason (say which in the note).
        Other = "其他",
    }
);

vocabulary!(
    /// A society's verdict in an assessment (专业评估).
    Recommendation, "verdict" {
        /// 推荐: recommended.
        Recommend = "推荐",
        /// 有条件推荐: recommended on conditions (say which in the text).
        Conditional = "有条件推荐",
        /// 不推荐: not recommended.
        NotRecommend = "不推荐",
    }
);

vocabulary!(
    /// Why an owner withdrew a record.
    WithdrawReason, "withdrawal reason" {
        /// The demand was solved.
        Solved = "solved",
        /// The outcome was licensed or transferred.
        Licensed = "licensed",
        /// Cancelled.
        Cancelled = "cancelled",
        /// Another reason (say which in the note).
        Other = "other",
    }
);

impl WithdrawReason {
    /// The reason in Chinese, for people and spreadsheets.
    pub fn label(self) -> &'static str {
        match self {
            Self::Solved => "已解决",
            Self::Licensed => "已转让或许可",
            Self::Cancelled => "已取消",
            Self::Other => "其他",
        }
    }

    /// Parses the canonical name or the Chinese label, naming `field`.
    pub fn parse_any(field: &str, text: &str) -> Result<Self> {
        let t = text.trim();
        Self::ALL.iter().copied().find(|r| r.label() == t).map_or_else(|| Self::parse(field, t), Ok)
    }
}

/// The service modes of the programme (技术咨询, 现场指导, 评估评审, 联合攻关, 培训).
pub const SERVICE_MODES: [&str; 5] = ["技术咨询", "现场指导", "评估评审", "联合攻关", "培训"];

/// Common spreadsheet variants of the service modes, and their canonical names.
const SERVICE_MODE_ALIASES: &[(&str, &str)] = &[
    ("咨询", "技术咨询"),
    ("技术指导", "现场指导"),
    ("项目评审", "评估评审"),
    ("评审", "评估评审"),
    ("评估", "评估评审"),
    ("联合研发", "联合攻关"),
    ("技术培训", "培训"),
];

/// Normalises how an expert offers service: the programme's modes and
/// their common variants become canonical; other modes (中试放大, say) are
/// kept as written, checked like keywords.
pub fn service_mode(field: &str, text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::missing(field));
    }
    if text.chars().count() > crate::limits::KEYWORD || text.chars().any(char::is_control) {
        return Err(Error::invalid(field, text, "a service mode is a short phrase such as 技术咨询"));
    }
    let canonical = SERVICE_MODE_ALIASES.iter().find(|(alias, _)| *alias == text).map_or(text, |(_, c)| c);
    Ok(canonical.to_owned())
}

vocabulary!(
    /// How far a match reached: same city, same province, or across provinces.
    Tier, "tier" {
        /// Same city.
        City = "city",
        /// Same province.
        Province = "province",
        /// Across provinces.
        National = "national",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_derives_province_and_city() {
        let r = Region::parse("region", "440305").unwrap();
        assert_eq!(r.province().to_string(), "440000");
        assert_eq!(r.city().to_string(), "440300");
        assert_eq!(r.province_name(), "广东省");
        let named = |p: &u8| Region(u32::from(*p) * 10_000).own_name().is_some();
        assert!(PROVINCES.iter().all(named), "every province has a name");
        assert!(Region::parse("region", "440000").unwrap().is_province());
        assert!(r.same_province(Region::parse("region", "441900").unwrap()));
        assert!(!r.same_city(Region::parse("region", "440100").unwrap()));
    }

    #[test]
    fn a_province_contains_its_cities_and_a_city_its_districts() {
        let r = |s| Region::parse("region", s).unwrap();
        assert!(r("440000").contains(r("440305")));
        assert!(r("440300").contains(r("440305")));
        assert!(r("440305").contains(r("440300")), "a district names its city");
        assert!(!r("440300").contains(r("440100")));
        assert!(!r("440000").contains(r("330100")));
    }

    #[test]
    fn region_rejects_bad_structure() {
        for bad in ["44030", "4403000", "44030a", "990000", "000000", "448000", "440001", " "] {
            let err = Region::parse("region", bad).unwrap_err();
            assert_eq!(err.field(), "region", "{bad}");
        }
        assert!(Region::parse("region", "469000").is_ok(), "省直辖县级 90 is valid");
    }

    #[test]
    fn industry_letter_must_match_division() {
        assert_eq!(Industry::parse("industry", "C38").unwrap().division(), "C38");
        assert!(Industry::parse("industry", "I6513").is_ok());
        assert!(Industry::parse("industry", "A05").is_ok());
        for bad in ["C12", "I38", "Z01", "c38", "C3", "C38111", "38", "K71"] {
            assert!(Industry::parse("industry", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn trl_is_one_to_nine() {
        assert!(Trl::new("min_trl", 1).is_ok() && Trl::new("min_trl", 9).is_ok());
        assert_eq!(Trl::new("min_trl", 10).unwrap_err().field(), "min_trl");
        assert!(Trl::new("trl", 0).is_err());
    }

    #[test]
    fn vocabularies_parse_their_chinese_names() {
        assert_eq!(TransferMode::parse("transfer_modes", "作价入股").unwrap(), TransferMode::Equity);
        assert_eq!(service_mode("service_modes", " 技术培训 ").unwrap(), "培训");
        assert_eq!(service_mode("service_modes", "中试放大").unwrap(), "中试放大");
        assert!(service_mode("service_modes", "").is_err());
        assert!(TransferMode::parse("transfer_modes", "卖掉").is_err());
        assert_eq!(NodeKind::parse("kind", "city").unwrap(), NodeKind::City);
    }
}
