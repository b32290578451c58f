//! Generated rows of realistic shape (Chinese title ~20 characters,
//! description ~300, codes, dates) for volume tests. Deterministic per seed.

use serde_json::{Value, json};

const SUBJECTS: &[&str] = &[
    "锂电池",
    "光伏组件",
    "注塑件",
    "数控机床",
    "工业机器人",
    "污水处理",
    "冷链物流",
    "高分子膜",
    "柔性显示",
    "纺织印染",
    "精密铸造",
    "风电叶片",
    "农产品溯源",
    "中药提取",
    "稀土永磁",
    "芯片封装",
];
const PROBLEMS: &[&str] = &[
    "表面缺陷检测",
    "能耗优化",
    "寿命预测",
    "故障诊断",
    "工艺参数调优",
    "在线质量监测",
    "热管理",
    "降本增效",
    "智能排产",
    "材料替代",
    "废料回收利用",
    "噪声振动抑制",
];
const SENTENCES: &[&str] = &[
    "企业现有产线依赖人工经验判断，质量波动明显，客户投诉逐年增加。",
    "希望引入成熟可靠的技术方案，在不大幅改造现有设备的前提下实现升级。",
    "要求方案具备中试或工程化应用案例，并能提供现场技术支持与人员培训。",
    "目标是将不良率降低百分之三十以上，同时单位能耗下降百分之十五。",
    "项目预算可分两期支付，首期用于方案验证，二期用于规模化推广。",
    "需兼容现有制造执行系统的数据接口，输出结果可追溯、可审计。",
    "夜班和换线期间问题尤为突出，亟需自动化、智能化的解决手段。",
    "欢迎高校院所以技术许可、联合开发或作价入股等方式开展合作。",
];
const INDUSTRIES: &[&str] = &["C38", "C29", "C34", "C39", "C26", "C17", "I65", "N77", "C27", "D44"];

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One element of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn paragraph(rng: &mut Rng, sentences: usize) -> String {
    (0..sentences).map(|_| rng.pick(SENTENCES)).collect()
}

/// `n` demand rows of `region`, with ids `{prefix}-000001`….
pub fn demands(prefix: &str, n: usize, region: &str, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    (1..=n)
        .map(|i| {
            let (subject, problem) = (rng.pick(SUBJECTS), rng.pick(PROBLEMS));
            json!({
                "id": format!("{prefix}-{i:06}"),
                "title": format!("{subject}{problem}技术需求（第{i}号）"),
                "description": format!("{subject}生产企业面临{problem}难题。{}", paragraph(&mut rng, 9)),
                "industry": rng.pick(INDUSTRIES),
                "keywords": [subject, problem],
                "region": region,
                "budget_wan": 10 + rng.below(490),
                // Two draws, as when the dates were fixed, so the rows after stay the same.
                "deadline": days_from_today(60 + (rng.below(12) * 28 + rng.below(28)) as i64),
                "is_challenge": false,
                "min_trl": 3 + rng.below(5),
                "enterprise": format!("{subject}科技有限公司"),
                "contact": {"person": "联系人", "phone": format!("0755-{:08}", rng.below(99_999_999)), "email": format!("c{i}@example.cn")},
            })
        })
        .collect()
}

/// `n` outcome rows of `region`, with ids `{prefix}-000001`….
pub fn outcomes(prefix: &str, n: usize, region: &str, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    (1..=n)
        .map(|i| {
            let (subject, problem) = (rng.pick(SUBJECTS), rng.pick(PROBLEMS));
            json!({
                "id": format!("{prefix}-{i:06}"),
                "title": format!("面向{subject}的{problem}方法与系统"),
                "abstract": format!("本成果针对{subject}{problem}问题提出新方法。{}", paragraph(&mut rng, 8)),
                "industry": rng.pick(INDUSTRIES),
                "keywords": [subject, problem, "产业化"],
                "owner": "示范大学",
                "region": region,
                "trl": 4 + rng.below(5),
                "ip": "发明专利 CN113580476B",
                "transfer_modes": ["技术许可", "技术开发"],
                "price_wan": 50 + rng.below(500),
            })
        })
        .collect()
}

/// The date `days` from today (UTC), as `YYYY-MM-DD`: sample deadlines stay
/// ahead whenever the tests run.
pub fn days_from_today(days: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = (now / 86_400) as i64 + days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_date_from_today_is_a_calendar_date() {
        let today = super::days_from_today(0);
        let out = std::process::Command::new("date").args(["-u", "+%Y-%m-%d"]).output().unwrap();
        assert_eq!(today, String::from_utf8_lossy(&out.stdout).trim());
        assert!(super::days_from_today(400) > today);
    }
}
