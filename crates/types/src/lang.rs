//! The message catalogue: what the CLI and the console say, in English or
//! Chinese. English text is the key; [`Lang::say`] gives it in the
//! operator's language. Chosen by `LC_ALL`, `LC_MESSAGES` or `LANG`
//! (`zh_CN.UTF-8` and any `zh*` mean Chinese), as the C library does.

use std::borrow::Cow;

/// The language people are answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The language of the environment: the first of `LC_ALL`,
    /// `LC_MESSAGES`, `LANG` that is set and not empty.
    pub fn from_env() -> Self {
        let var = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.trim().is_empty())
            .unwrap_or_default();
        Self::of_locale(&var)
    }

    /// The language of a locale name (`zh_CN.UTF-8` → Chinese).
    pub fn of_locale(locale: &str) -> Self {
        if locale.trim().to_ascii_lowercase().starts_with("zh") { Lang::Zh } else { Lang::En }
    }

    /// `english` in this language: its catalogue entry, or the text itself
    /// where the catalogue has none. An entry ending in `*` translates a
    /// message that starts with it, keeping the rest (a value, a number).
    pub fn say(self, english: &str) -> Cow<'_, str> {
        self.translate(english).map_or(Cow::Borrowed(english), Cow::Owned)
    }

    /// An error message (`field: reason`) in this language: the whole
    /// message if the catalogue has it, else the field and the reason each.
    pub fn error(self, message: &str) -> String {
        if self == Lang::En {
            return message.to_owned();
        }
        if let Some(said) = self.translate(message) {
            return said;
        }
        match message.split_once(": ") {
            Some((field, reason)) if !field.contains(' ') => {
                format!("{}：{}", self.say(&format!("field {field}")), self.error(reason))
            }
            _ => message.to_owned(),
        }
    }

    /// A match's state (`connected`) in this language.
    pub fn state(self, state: &str) -> String {
        self.translate(&format!("state {state}")).unwrap_or_else(|| state.to_owned())
    }

    /// Like [`Lang::say`], owned.
    pub fn tr(self, english: &str) -> String {
        self.say(english).into_owned()
    }

    fn translate(self, english: &str) -> Option<String> {
        if self == Lang::En {
            return None;
        }
        if let Some((_, zh)) = CATALOGUE.iter().find(|(en, _)| *en == english) {
            return Some((*zh).to_owned());
        }
        CATALOGUE
            .iter()
            .filter_map(|(en, zh)| Some((en.strip_suffix('*')?, zh)))
            .filter(|(prefix, _)| english.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(prefix, zh)| {
                let rest = UNITS.iter().fold(english[prefix.len()..].to_owned(), |t, (en, zh)| t.replace(en, zh));
                format!("{zh}{rest}")
            })
    }
}

/// Units in the variable part of a message.
const UNITS: &[(&str, &str)] = &[(" characters", " 个字"), (" entries", " 条")];

/// English → Chinese. Kept in one place so a term is said one way everywhere.
const CATALOGUE: &[(&str, &str)] = &[
    // Validation (reasons of kechuang_types::Error and the importer).
    ("missing", "必填，未填写"),
    ("must be text", "应为文字"),
    ("must be a number", "应为数字"),
    ("must be a whole number", "应为整数"),
    ("must be true or false", "应为 是 或 否"),
    ("must be a list", "应为列表"),
    ("must be 1-1000", "应为 1 至 1000"),
    ("TRL must be 1-9", "技术成熟度应为 1 至 9"),
    ("region codes are six digits (GB/T 2260)", "地区代码应为六位数字（GB/T 2260）"),
    ("unknown province prefix", "没有这个省级代码"),
    ("city digits must be 00-70 or 90", "地市代码应为 00-70 或 90"),
    ("a county code needs its city digits", "县级代码须含地市代码"),
    (
        "not a GB/T 2260 code or a province or city name (e.g. 440300 or 广东省深圳市)",
        "不是 GB/T 2260 地区代码，也不是省、市名称（例如 440300 或 广东省深圳市）",
    ),
    ("names more than one region: *", "对应多个地区，请写全称或代码："),
    ("industry codes are a letter and 2-4 digits (GB/T 4754)", "行业代码应为一个字母加 2 至 4 位数字（GB/T 4754）"),
    ("no such section letter (A-T)", "没有这个门类字母（A-T）"),
    ("no such day (dates are like 2027-03-31)", "没有这一天（日期写作 2027-03-31 或 2027年3月31日）"),
    ("dates are YYYY-MM-DD*", "日期格式应为 2027-03-31"),
    ("range ends before it starts", "结束早于开始"),
    ("windows are FROM~TO, e.g. 2027-02-01~2027-04-30", "时段写作 开始~结束，例如 2027-02-01~2027-04-30"),
    ("must be 0 to 10,000,000 万元", "应为 0 至 10,000,000 万元"),
    ("not an e-mail address", "不是电子邮箱地址"),
    ("digits, spaces, +, -, ( and ) only", "只能含数字、空格、+、-、( 和 )"),
    ("contains control characters", "含有控制字符"),
    ("has leading or trailing spaces", "首尾有空格"),
    ("longer than *", "超过长度上限："),
    ("more than *", "条目过多，上限："),
    ("a service mode is a short phrase such as 技术咨询", "服务方式应为简短词语，例如 技术咨询"),
    ("only demands, outcomes and experts are published from files", "文件中只能发布需求、成果和专家"),
    ("the cell holds the spreadsheet error *", "单元格中是表格错误值 "),
    ("one of *", "应为以下之一："),
    // Lifecycle refusals (kechuang_sync::lifecycle), and the fields they name.
    ("field demand_side", "需求方"),
    ("field supply_side", "供给方"),
    ("field landing", "落地"),
    ("field landing_date", "落地日期"),
    ("field decision", "授予"),
    ("field match", "对接"),
    ("field reason", "原因"),
    ("field type", "合同类型"),
    ("field amount", "金额"),
    ("field note", "说明"),
    ("field action", "操作"),
    ("field outcomes", "成果"),
    ("field experts", "专家"),
    ("field deadline", "截止日期"),
    ("field region", "所在地区"),
    ("declined is final", "已婉拒，不能再改"),
    ("contracted is final", "已签约，不能再改"),
    ("landed is final", "已落地，不能再改"),
    ("awarded is final", "已授予，不能再改"),
    ("not_chosen is final", "未入选，不能再改"),
    ("the match has landed: nothing more can be recorded", "已落地，不能再记录"),
    ("the match was withdrawn*", "对接已撤回"),
    ("the match was expired*", "对接已过期"),
    ("a contract is on record: the match can no longer be declined", "已有合同，不能再婉拒"),
    ("a contract needs both sides to have accepted; this side is *", "签约须双方都已接受；本方与对方分别为 "),
    ("this side already answered *", "本方已答复："),
    ("only a contracted match can land; it is *", "只有已签约的对接才能落地；当前为 "),
    ("landing is recorded by *", "落地由负责落地的城市站点记录："),
    ("a decline needs one of *", "婉拒须选择原因之一："),
    ("missing (万元)", "未填写（万元）"),
    ("a bid offers at least one outcome or expert", "揭榜须至少提供一项成果或一位专家"),
    ("a node does not bid on its own challenge", "不能揭自己发布的榜"),
    ("only the challenge's owner awards its bids", "只有发榜方能授予方案"),
    ("this challenge has already been awarded", "这个榜已经授予"),
    ("this bid has already been decided", "这个方案已有决定"),
    ("the challenge closed on *", "揭榜已截止："),
    // Operator verbs and status.
    ("node", "站点"),
    ("connected", "已连接"),
    ("unacked", "待确认"),
    ("records", "记录"),
    ("digest", "摘要"),
    ("central says", "中心摘要"),
    ("converged", "已一致"),
    ("sync", "同步"),
    ("received", "已接收"),
    ("pushed", "已上传"),
    ("repaired", "已修复"),
    ("refused", "被拒绝"),
    ("clock", "时钟"),
    ("certificate", "证书到期"),
    ("complete", "完成"),
    ("none", "无"),
    ("true", "是"),
    ("false", "否"),
    ("(not known yet)", "（尚未知）"),
    ("(waiting for central)", "（等待中心）"),
    ("demands", "需求"),
    ("outcomes", "成果"),
    ("experts", "专家"),
    ("matches", "对接"),
    ("bids", "揭榜"),
    ("KIND", "类型"),
    ("ID", "编号"),
    ("REF", "自有编号"),
    ("TITLE", "标题"),
    ("REGION", "地区"),
    ("DETAIL", "详情"),
    ("OWNER", "所属站点"),
    ("UPDATED", "更新时间"),
    ("STATE", "状态"),
    ("WHEN", "时间"),
    ("FIELD", "字段"),
    ("REASON", "原因"),
    ("RECORD", "记录"),
    ("EVENT", "事件"),
    ("MATCH", "对接编号"),
    ("SCORE", "相关度"),
    ("LOAD", "负荷"),
    ("TIER", "范围"),
    ("DEMAND", "需求"),
    ("SUPPLY", "供给"),
    ("WHY", "推荐理由"),
    ("SUBJECT", "评估对象"),
    ("SOCIETY", "学会"),
    ("VERDICT", "结论"),
    ("SCORES", "先进性/成熟度/市场前景/风险"),
    ("EVALUATOR", "评估人"),
    ("TEXT", "评估意见"),
    ("demand", "需求"),
    ("outcome", "成果"),
    ("expert", "专家"),
    ("match", "对接"),
    ("bid", "揭榜"),
    ("assessment", "评估"),
    ("team", "服务团"),
    ("warning", "警告"),
    ("submitted", "已提交"),
    ("awarded", "已授予"),
    ("not_chosen", "未入选"),
    ("error", "错误"),
    ("new proposal", "新的对接建议"),
    ("new assessment", "新的专业评估"),
    ("team invitation", "服务团邀请"),
    ("match changed", "对接状态变化"),
    ("refused by central", "中心拒绝"),
    ("new challenge", "新的揭榜挂帅"),
    ("new bid", "新的揭榜方案"),
    ("nothing was published", "没有发布任何记录"),
    ("bad row(s): nothing was published", "行有错误：没有发布任何记录"),
    ("problem(s) in the rows: nothing was published", "处问题：没有发布任何记录"),
    ("rows", "行"),
    ("created", "新增"),
    ("updated", "更新"),
    ("withdrawn", "已撤回"),
    // A match's states, asked for by [`Lang::state`].
    ("state proposed", "待回应"),
    ("state accepted_by_demand", "需求方已接受"),
    ("state accepted_by_supply", "供给方已接受"),
    ("state connected", "已对接"),
    ("state contracted", "已签约"),
    ("state landed", "已落地"),
    ("state declined", "已婉拒"),
    ("state expired", "已过期"),
    ("state withdrawn", "已撤回"),
    ("watching: events are printed as they come (Ctrl-C stops)", "正在关注：事件一到即显示（按 Ctrl-C 结束）"),
    ("the node stopped", "站点已停止"),
    ("unchanged", "未变"),
    ("exported", "已导出"),
    ("wrote the template", "已生成模板"),
    (
        "is not running: start it with `kechuang-node run --config …`",
        "未运行：请先用 `kechuang-node run --config …` 启动",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_picks_the_language() {
        assert_eq!(Lang::of_locale("zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(Lang::of_locale("zh_TW"), Lang::Zh);
        assert_eq!(Lang::of_locale("en_US.UTF-8"), Lang::En);
        assert_eq!(Lang::of_locale("C"), Lang::En);
        assert_eq!(Lang::of_locale(""), Lang::En);
    }

    #[test]
    fn messages_are_said_in_the_language_or_left_as_they_are() {
        assert_eq!(Lang::Zh.say("missing"), "必填，未填写");
        assert_eq!(Lang::En.say("missing"), "missing");
        assert_eq!(Lang::Zh.say("longer than 200 characters"), "超过长度上限：200 个字");
        assert_eq!(Lang::Zh.say("something new"), "something new");
    }

    #[test]
    fn errors_are_said_field_and_reason_each() {
        assert_eq!(Lang::Zh.error("demand_side: declined is final"), "需求方：已婉拒，不能再改");
        assert_eq!(
            Lang::Zh.error("landing: only a contracted match can land; it is connected"),
            "落地：只有已签约的对接才能落地；当前为 connected"
        );
        assert_eq!(Lang::Zh.error("a node does not bid on its own challenge"), "不能揭自己发布的榜");
        assert_eq!(Lang::En.error("landing: landed is final"), "landing: landed is final");
    }

    #[test]
    fn the_catalogue_says_each_english_text_once() {
        let mut keys: Vec<&str> = CATALOGUE.iter().map(|(en, _)| *en).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before, "an English text appears twice in the catalogue");
    }
}
