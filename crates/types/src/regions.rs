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

/// Chinese names of the countries experts most often come from; others
/// show their English short name.
const COUNTRIES_ZH: &[(&str, &str)] = &[
    ("US", "美国"),
    ("DE", "德国"),
    ("JP", "日本"),
    ("GB", "英国"),
    ("FR", "法国"),
    ("KR", "韩国"),
    ("SG", "新加坡"),
    ("RU", "俄罗斯"),
    ("IT", "意大利"),
    ("CA", "加拿大"),
    ("AU", "澳大利亚"),
    ("NL", "荷兰"),
    ("CH", "瑞士"),
    ("SE", "瑞典"),
    ("IL", "以色列"),
    ("FI", "芬兰"),
    ("DK", "丹麦"),
    ("NO", "挪威"),
    ("AT", "奥地利"),
    ("BE", "比利时"),
    ("ES", "西班牙"),
    ("IE", "爱尔兰"),
    ("NZ", "新西兰"),
    ("MY", "马来西亚"),
    ("TH", "泰国"),
    ("VN", "越南"),
    ("IN", "印度"),
    ("ID", "印度尼西亚"),
    ("PK", "巴基斯坦"),
    ("SA", "沙特阿拉伯"),
    ("AE", "阿联酋"),
    ("EG", "埃及"),
    ("ZA", "南非"),
    ("BR", "巴西"),
    ("AR", "阿根廷"),
    ("MX", "墨西哥"),
    ("UA", "乌克兰"),
    ("PL", "波兰"),
    ("CZ", "捷克"),
    ("HU", "匈牙利"),
    ("PT", "葡萄牙"),
    ("GR", "希腊"),
    ("TR", "土耳其"),
    ("KZ", "哈萨克斯坦"),
];

/// The name of all places abroad together, as a province-level group.
const ABROAD_NAME: &str = "境外";

impl Region {
    /// The division's own name, when the table has it (`深圳市` for 440300;
    /// `德国` for DE, a country's English name when it has no Chinese one here).
    pub fn own_name(self) -> Option<&'static str> {
        if self.is_abroad() {
            let Some(alpha2) = self.abroad() else { return Some(ABROAD_NAME) };
            let zh = COUNTRIES_ZH.iter().find(|(a, _)| *a == alpha2).map(|(_, name)| *name);
            return zh.or_else(|| celes::Country::from_alpha2(alpha2).ok().map(|c| c.long_name));
        }
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
        if self.is_abroad() {
            return self.own_name().unwrap_or(ABROAD_NAME).to_owned();
        }
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
        if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Self::country(field, text);
        }
        let plain: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if let Some((alpha2, _)) = COUNTRIES_ZH.iter().find(|(_, name)| *name == plain) {
            return Self::country(field, alpha2);
        }
        if let Ok(country) = celes::Country::from_name(text).or_else(|_| celes::Country::from_alias(text)) {
            return Self::country(field, country.alpha2);
        }
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
    fn a_country_abroad_is_its_iso_code_and_lies_in_no_province() {
        let de = Region::lookup("region", "DE").unwrap();
        assert!(de.is_abroad());
        assert_eq!((de.to_string(), de.abroad()), ("DE".to_owned(), Some("DE")));
        assert_eq!(Region::parse("region", "de").unwrap(), de, "either case");
        assert_eq!(Region::lookup("region", "德国").unwrap(), de);
        assert_eq!(Region::lookup("region", "Germany").unwrap(), de);
        assert_eq!((de.short_name(), de.full_name()), ("德国", "德国".to_owned()));
        assert_eq!(
            Region::parse("region", "NP").unwrap().short_name(),
            "Nepal",
            "English where no Chinese name is kept"
        );
        let shenzhen = Region::parse("region", "440300").unwrap();
        assert!(!de.same_province(shenzhen) && !de.same_city(shenzhen) && !shenzhen.contains(de));
        assert_eq!(de.province().own_name(), Some("境外"));
        assert_eq!(serde_json::to_string(&de).unwrap(), "\"DE\"", "stored and sent as the ISO code");
        assert_eq!(serde_json::from_str::<Region>("\"DE\"").unwrap(), de);
        let err = Region::parse("region", "CN").unwrap_err();
        assert!(err.to_string().contains("GB/T 2260"), "{err}");
        assert!(Region::parse("region", "XX").unwrap_err().to_string().contains("ISO 3166"));
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
