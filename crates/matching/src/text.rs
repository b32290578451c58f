//! Chinese text into index terms: jieba words (search mode, so compounds
//! also yield their parts) plus character bigrams of every run of Chinese
//! characters, which catch variants and plain-language paraphrases that
//! segmentation splits differently. Function words and words every
//! technology-transfer text uses are dropped.

use std::collections::HashMap;
use std::sync::LazyLock;

use jieba_rs::Jieba;

static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

/// Words that carry no topic in this domain.
const STOPWORDS: &[&str] = &[
    "的", "和", "与", "及", "在", "对", "等", "为", "是", "了", "有", "我们", "希望", "需要", "能", "可", "并", "技术",
    "企业", "公司", "项目", "一", "个", "要", "也", "不", "把", "都", "现有", "目前", "方法", "本", "成果", "系统",
    "可以", "以及", "进行", "通过", "实现", "具有", "一种", "基于", "用于", "提供", "相关", "采用", "其", "该", "将",
    "已", "或", "但", "而", "就", "还", "从", "到",
];

/// Splits text into index terms.
#[derive(Debug, Clone, Copy, Default)]
pub struct Analyzer;

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF)
}

fn keep(word: &str) -> bool {
    let has_content = word.chars().any(|c| c.is_alphanumeric());
    has_content && !STOPWORDS.contains(&word) && !word.chars().all(|c| c.is_ascii_digit() || c == '.')
}

impl Analyzer {
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
                if !STOPWORDS.contains(&gram.as_str()) {
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

    /// Index terms of `text`: words, then bigrams.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut terms = self.words(text);
        terms.extend(self.bigrams(text));
        terms
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
    fn weights_repeat_parts() {
        let once = Analyzer.weighted(&[("储能电站", 1)]);
        let twice = Analyzer.weighted(&[("储能电站", 2)]);
        assert!(once.iter().all(|(term, n)| twice.get(term) == Some(&(2 * n))), "{once:?} {twice:?}");
    }
}
