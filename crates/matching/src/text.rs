//! Chinese text into index terms: jieba words (search mode, so compounds
//! also yield their parts) plus character bigrams and single characters of
//! every run of Chinese characters, which catch variants and plain-language
//! paraphrases that segmentation splits differently (叶子黄 / 叶片黄化).
//! Function words and words every technology-transfer text uses are
//! dropped. Also: what a text says it does *not* do ([`negated`]).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use jieba_rs::Jieba;

static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);
static STOPWORD_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| STOPWORDS.iter().copied().collect());

fn is_stopword(term: &str) -> bool {
    STOPWORD_SET.contains(term)
}

/// Words that carry no topic in this domain.
const STOPWORDS: &[&str] = &[
    "的", "和", "与", "及", "在", "对", "等", "为", "是", "了", "有", "我们", "希望", "需要", "能", "可", "并", "技术",
    "企业", "公司", "项目", "一", "个", "要", "也", "不", "把", "都", "现有", "目前", "方法", "本", "成果", "系统",
    "可以", "以及", "进行", "通过", "实现", "具有", "一种", "基于", "用于", "提供", "相关", "采用", "其", "该", "将",
    "已", "或", "但", "而", "就", "还", "从", "到",
];

/// Words that open what a text says it does *not* do, to the end of the
/// clause (本成果针对负极，不处理层状正极吸潮问题).
const NEGATIONS: &[&str] = &[
    "不涉及",
    "不适用于",
    "不适用",
    "不处理",
    "不针对",
    "不解决",
    "不包括",
    "不具备",
    "不含",
    "不能",
    "无法",
    "不面向",
    "不覆盖",
    "不支持",
    "不用于",
    "并非",
    "不属于",
];

/// Words that negate what follows them, as jieba segments them (不 of 不锈钢
/// or 不良率 is part of another word).
const NEGATORS: &[&str] = &["不", "未", "没有", "没", "无法", "并非", "不是", "而不是", "不能"];

/// `text` split into what it affirms and the scopes of its negations: each
/// clause from a negation (不涉及, 不适用于, 未, 没有…) to the clause's end,
/// with the X of 对X不… before it, and the X of each 与X无关.
pub fn negated(text: &str) -> (String, String) {
    let (mut affirmed, mut negated) = (String::new(), String::new());
    for clause in text.split_inclusive(['，', '。', '；', ';', ',', '！', '？', '\n']) {
        // Every negation starts with one of these: most clauses need no closer look.
        if !clause.contains(['不', '未', '没', '并', '无']) {
            affirmed.push_str(clause);
            continue;
        }
        let by_word = JIEBA
            .cut(clause, true)
            .into_iter()
            .find(|t| NEGATORS.contains(&t.word))
            .map(|t| (t.byte_start, t.byte_end - t.byte_start));
        // The first cue, and the longest one there (不适用于 over 不适用).
        let by_phrase = NEGATIONS
            .iter()
            .filter_map(|cue| clause.find(cue).map(|at| (at, std::cmp::Reverse(cue.len()))))
            .min()
            .map(|(at, std::cmp::Reverse(len))| (at, len));
        let cue = match (by_word, by_phrase) {
            (Some(w), Some(p)) => Some(if p.0 <= w.0 { p } else { w }),
            (w, p) => w.or(p),
        };
        if let Some((at, len)) = cue {
            // 对X未做验证: the negated X stands before the negation.
            match clause[..at].rfind('对') {
                Some(dui) => {
                    affirmed.push_str(&clause[..dui]);
                    negated.push_str(&clause[dui + '对'.len_utf8()..at]);
                }
                None => affirmed.push_str(&clause[..at]),
            }
            negated.push_str(&clause[at + len..]);
        } else if let Some(at) = clause.find("无关") {
            let (before, scope) = match clause[..at].rfind('与') {
                Some(w) => (w, w + '与'.len_utf8()),
                None => (0, 0),
            };
            affirmed.push_str(&clause[..before]);
            affirmed.push_str(&clause[at + "无关".len()..]);
            negated.push_str(&clause[scope..at]);
            negated.push('，');
        } else {
            affirmed.push_str(clause);
        }
    }
    (affirmed, negated)
}

/// Splits text into index terms.
#[derive(Debug, Clone, Copy, Default)]
pub struct Analyzer;

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF)
}

fn keep(word: &str) -> bool {
    let has_content = word.chars().any(|c| c.is_alphanumeric());
    has_content && !is_stopword(word) && !word.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The tokens behind jieba's dictionary frequencies (the sum of its
/// `dict.txt`), and the tokens taken as one background document.
const DICTIONARY_TOKENS: f32 = 60_101_964.0;
const BACKGROUND_DOCUMENT_TOKENS: f32 = 300.0;

impl Analyzer {
    /// The share of documents of Chinese at large that contain `term`:
    /// jieba's dictionary frequency over a background corpus of documents
    /// of ~300 words (a rare word counts once per document). Terms jieba
    /// does not know get the frequency its segmentation estimates from
    /// their parts.
    pub fn background_share(&self, term: &str) -> f32 {
        let documents = DICTIONARY_TOKENS / BACKGROUND_DOCUMENT_TOKENS;
        (JIEBA.suggest_freq(term) as f32 / documents).min(1.0)
    }

    /// Jieba words of `text` (search mode), lowercased, without stopwords.
    pub fn words(&self, text: &str) -> Vec<String> {
        JIEBA.cut_for_search(text, true).into_iter().map(|t| t.word.trim().to_lowercase()).filter(|w| keep(w)).collect()
    }

    /// Character bigrams of every run of Chinese characters in `text`.
    pub fn bigrams(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut run: Vec<char> = Vec::new();
        let flush = |run: &mut Vec<char>, out: &mut Vec<String>| {
            for pair in run.windows(2) {
                let gram: String = pair.iter().collect();
                if !is_stopword(&gram) {
                    out.push(gram);
                }
            }
            run.clear();
        };
        for c in text.chars() {
            if is_cjk(c) {
                run.push(c);
            } else {
                flush(&mut run, &mut out);
            }
        }
        flush(&mut run, &mut out);
        out
    }

    /// The words of two characters or more in `text` (what a person would
    /// call a matched or ruled-out word).
    pub fn long_words(&self, text: &str) -> Vec<String> {
        self.words(text).into_iter().filter(|w| w.chars().count() >= 2).collect()
    }

    /// Query terms of `text`: words, then bigrams.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut terms = self.words(text);
        terms.extend(self.bigrams(text));
        terms
    }

    /// The Chinese characters of `text`, each a term, without stopwords.
    pub fn characters(&self, text: &str) -> Vec<String> {
        text.chars().filter(|c| is_cjk(*c)).map(String::from).filter(|c| keep(c)).collect()
    }

    /// Weighted terms of several parts of a text, each part repeated
    /// `weight` times (titles and keywords count more than bodies).
    pub fn weighted(&self, parts: &[(&str, u32)]) -> HashMap<String, u32> {
        let mut counts = HashMap::new();
        for (text, weight) in parts {
            for term in self.terms(text) {
                *counts.entry(term).or_insert(0) += weight;
            }
        }
        counts
    }

    /// Weighted terms of several parts of a text with its characters as
    /// well as its words and bigrams: what an outcome or expert is indexed with.
    pub fn weighted_document(&self, parts: &[(&str, u32)]) -> HashMap<String, u32> {
        let mut counts = self.weighted(parts);
        for (term, weight) in self.weighted_characters(parts) {
            *counts.entry(term).or_insert(0) += weight;
        }
        counts
    }

    /// Weighted characters of several parts of a text (see [`Analyzer::weighted`]).
    pub fn weighted_characters(&self, parts: &[(&str, u32)]) -> HashMap<String, u32> {
        let mut counts = HashMap::new();
        for (text, weight) in parts {
            for c in self.characters(text) {
                *counts.entry(c).or_insert(0) += weight;
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_yields_words_and_bigrams_without_stopwords() {
        let a = Analyzer;
        let words = a.words("锂电池热失控的早期预警技术");
        assert!(words.contains(&"热失控".to_owned()) || words.contains(&"失控".to_owned()), "{words:?}");
        assert!(!words.iter().any(|w| w == "的" || w == "技术"), "{words:?}");
        let grams = a.bigrams("热失控，预警");
        assert_eq!(grams, ["热失", "失控", "预警"]);
    }

    #[test]
    fn ascii_is_lowercased_and_bare_numbers_dropped() {
        let words = Analyzer.words("BMS 与 5G 模组 2027");
        assert!(words.contains(&"bms".to_owned()), "{words:?}");
        assert!(!words.contains(&"2027".to_owned()), "{words:?}");
    }

    #[test]
    fn documents_are_indexed_with_their_characters_too() {
        let document = Analyzer.weighted_document(&[("果子小还酸", 2)]);
        assert!(document.get("酸").is_some_and(|n| *n >= 2), "{document:?}");
        assert!(document.contains_key("果子"), "{document:?}");
        let characters = Analyzer.weighted_characters(&[("果子小还酸", 1)]);
        assert!(characters.keys().all(|c| c.chars().count() == 1), "{characters:?}");
        assert!(!Analyzer.characters("的酸").contains(&"的".to_owned()), "stopwords stay out as characters too");
    }

    #[test]
    fn negations_are_split_from_what_a_text_affirms() {
        let cases = [
            (
                "本成果针对负极，不处理层状正极吸潮问题。已在多家用户现场稳定运行。",
                "本成果针对负极，已在多家用户现场稳定运行。",
                "层状正极吸潮问题。",
            ),
            ("用于钛合金产品，与可降解材料无关。", "用于钛合金产品，。", "可降解材料，"),
            ("面向电站运维，不适用于工厂产线在线质检", "面向电站运维，", "工厂产线在线质检"),
            (
                "本成果面向心血管支架，对骨科螺钉的力学强度未做验证。",
                "本成果面向心血管支架，",
                "骨科螺钉的力学强度做验证。",
            ),
            ("本成果针对焊接，不筛选掉电快的电芯", "本成果针对焊接，", "筛选掉电快的电芯"),
            // 不 inside a word negates nothing.
            ("采用不锈钢外壳，不良率降低百分之三十。", "采用不锈钢外壳，不良率降低百分之三十。", ""),
        ];
        for (text, affirmed, negations) in cases {
            assert_eq!(negated(text), (affirmed.to_owned(), negations.to_owned()), "{text}");
        }
    }

    #[test]
    fn weights_repeat_parts() {
        let once = Analyzer.weighted(&[("储能电站", 1)]);
        let twice = Analyzer.weighted(&[("储能电站", 2)]);
        assert!(once.iter().all(|(term, n)| twice.get(term) == Some(&(2 * n))), "{once:?} {twice:?}");
    }
}
