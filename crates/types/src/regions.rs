//! Region names from the GB/T 2260 table: a code's name for people, and a
//! name as people write it (`广东省深圳市`, `深圳市`, `深圳`) back to its code.
//!
//! The table holds the province-level divisions, the prefecture-level
//! cities, and the county-level cities a province administers directly
//! (`429004` 仙桃市); a county's name is its city's.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::{Error, Region, Result};

/// `code<TAB>name` lines; `#` starts a comment.
const TABLE: &str = include_str!("regions.txt");

/// Every division in the table, by code.
fn names() -> &'static HashMap<u32, &'static str> {
    static NAMES: OnceLock<HashMap<u32, &'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (code, name) = l.split_once('\t')?;
                Some((code.parse().ok()?, name.trim()))
            })
            .collect()
    })
}

/// A name without its level's suffix, as people shorten it: 广东 for
/// 广东省, 广西 for 广西壮族自治区, 深圳 for 深圳市, 兴安 for 兴安盟.
fn short(name: &str) -> &str {
    const AUTONOMOUS: &[&str] = &["壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区"];
    for suffix in AUTONOMOUS.iter().chain(&["省", "市", "地区", "盟"]) {
        if let Some(stem) = name.strip_suffix(suffix)
            && stem.chars().count() >= 2
        {
            return stem;
        }
    }
    name
}

/// Every way of writing each division, and the codes each way names.
fn forms() -> &'static HashMap<String, Vec<u32>> {
    static FORMS: OnceLock<HashMap<String, Vec<u32>>> = OnceLock::new();
    FORMS.get_or_init(|| {
        let mut forms: HashMap<String, Vec<u32>> = HashMap::new();
        let mut add = |form: String, code: u32| {
            let codes = forms.entry(form).or_default();
            if !codes.contains(&code) {
                codes.push(code);
            }
        };
        for (&code, &name) in names() {
            add(name.to_owned(), code);
            add(short(name).to_owned(), code);
            let province = code / 10_000 * 10_000;
            if code != province
                && let Some(&p) = names().get(&province)
            {
                for p in [p, short(p)] {
                    add(format!("{p}{name}"), code);
                    add(format!("{p}{}", short(name)), code);
                }
            }
        }
        for codes in forms.values_mut() {
            codes.sort_unstable();
        }
        forms
    })
}

impl Region {
    /// The division's own name, when the table has it (`深圳市` for 440300).
    pub fn own_name(self) -> Option<&'static str> {
        names().get(&self.code()).copied()
    }

    /// The name of the city (or, for a province-level code, the province)
    /// a region lies in, for a table cell: `深圳市` for 440305, `广东省` for
    /// 440000, `北京市` for 110105.
    pub fn short_name(self) -> &'static str {
        self.own_name().or_else(|| self.city().own_name()).unwrap_or_else(|| self.province_name())
    }

    /// The full name down to the city: `广东省深圳市` for 440300 and 440305,
    /// `广东省` for 440000, `北京市` for 110105.
    pub fn full_name(self) -> String {
        let province = self.province_name();
        match self.own_name().or_else(|| self.city().own_name()) {
            Some(name) if name != province => format!("{province}{name}"),
            _ => province.to_owned(),
        }
    }

    /// A code (`440300`) or a name as people write it (`广东省深圳市`,
    /// `广东深圳`, `深圳市`, `深圳`), naming `field` on error.
    pub fn lookup(field: &str, text: &str) -> Result<Self> {
        let text = text.trim();
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return Self::parse(field, text);
        }
        let plain: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        match forms().get(&plain).map(Vec::as_slice) {
            Some([code]) => Self::parse(field, &format!("{code:06}")),
            Some(codes) => {
                let named: Vec<String> = codes.iter().map(|&c| format!("{c:06} {}", Region(c).full_name())).collect();
                Err(Error::invalid(field, text, format!("names more than one region: {}", named.join(", "))))
            }
            None => Err(Error::invalid(
                field,
                text,
                "not a GB/T 2260 code or a province or city name (e.g. 440300 or 广东省深圳市)",
            )),
        }
    }
}

/// The divisions of the table, by code: provinces, cities and directly
/// administered county-level cities, for drop-down lists.
pub fn table() -> Vec<(Region, &'static str)> {
    let mut all: Vec<_> = names().iter().map(|(&code, &name)| (Region(code), name)).collect();
    all.sort_unstable();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> u32 {
        Region::lookup("region", text).unwrap().code()
    }

    #[test]
    fn names_are_read_as_people_write_them() {
        for text in ["440300", "深圳市", "深圳", "广东省深圳市", "广东深圳", "广东 深圳市"] {
            assert_eq!(code(text), 440300, "{text}");
        }
        assert_eq!(code("广东省"), 440000);
        assert_eq!(code("广西"), 450000);
        assert_eq!(code("内蒙古自治区"), 150000);
        assert_eq!(code("北京市"), 110000);
        assert_eq!(code("仙桃市"), 429004);
        assert_eq!(code("那曲市"), 540600);
    }

    #[test]
    fn an_ambiguous_or_unknown_name_is_an_error_naming_the_field() {
        // 吉林 is a province and a city in it.
        let err = Region::lookup("region", "吉林").unwrap_err();
        assert_eq!(err.field(), "region");
        assert!(err.to_string().contains("220000") && err.to_string().contains("220200"), "{err}");
        assert_eq!(code("吉林市"), 220200);
        assert_eq!(code("吉林省"), 220000);
        let err = Region::lookup("region", "火星市").unwrap_err();
        assert!(err.to_string().contains("GB/T 2260"), "{err}");
        assert!(Region::lookup("region", "44030").is_err());
    }

    #[test]
    fn codes_show_their_names() {
        let r = |c: &str| Region::parse("region", c).unwrap();
        assert_eq!(r("440305").short_name(), "深圳市");
        assert_eq!(r("440305").full_name(), "广东省深圳市");
        assert_eq!(r("440000").full_name(), "广东省");
        assert_eq!(r("110105").full_name(), "北京市");
        assert_eq!(r("110105").short_name(), "北京市");
        assert!(table().iter().any(|(c, n)| c.code() == 510100 && *n == "成都市"));
    }
}
