//! Generated records of realistic shape: a Chinese title of ~20
//! characters, a description of ~300, codes and dates. Deterministic per seed.

use kechuang_types::{
    Body, Demand, Hlc, Industry, Meta, NodeId, Outcome, Record, RecordId, Region, Timestamp, TransferMode, Trl,
};

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
    "氢燃料电池",
    "碳化硅器件",
    "生物发酵",
    "医用影像",
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
    "良率提升",
    "低温性能",
    "腐蚀防护",
];
const SENTENCES: &[&str] = &[
    "企业现有产线依赖人工经验判断，质量波动明显，客户投诉逐年增加，夜班和换线期间问题尤为突出。",
    "希望引入成熟可靠的技术方案，在不大幅改造现有设备的前提下实现升级，并兼容现有制造执行系统接口。",
    "要求方案具备中试或工程化应用案例，并能提供现场技术支持、人员培训和长期维护服务。",
    "目标是将不良率降低百分之三十以上，同时单位能耗下降百分之十五，投资回收期不超过两年。",
    "项目预算可分两期支付，首期用于方案验证，二期用于规模化推广，知识产权归属可协商。",
    "欢迎高校院所以技术许可、联合开发或作价入股等方式开展合作，优先考虑本省团队。",
];
const INDUSTRIES: &[&str] = &["C38", "C29", "C34", "C39", "C26", "C17", "I65", "N77", "C27", "D44"];
const REGIONS: &[&str] = &["440300", "440100", "510100", "330100", "320500", "420100", "610100", "370200"];

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn meta(owner: &str, i: usize) -> Meta {
    Meta {
        id: RecordId::new(),
        owner: NodeId::parse("owner", owner).expect("bench node id"),
        version: Hlc::from_u64(((1_795_000_000_000 + i as u64) << 16) | 1),
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
        deleted: false,
        external_id: Some(format!("XQ-{i:07}")),
        withdrawal: None,
    }
}

fn paragraph(rng: &mut Rng) -> String {
    (0..6).map(|_| rng.pick(SENTENCES)).collect()
}

/// `n` demands owned by `owner`.
pub fn records(owner: &str, n: usize, seed: u64) -> Vec<Record> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..n)
        .map(|i| {
            let (subject, problem) = (rng.pick(SUBJECTS), rng.pick(PROBLEMS));
            Record {
                meta: meta(owner, i),
                body: Body::Demand(Demand {
                    title: format!("{subject}{problem}技术需求第{i}号"),
                    description: format!("{subject}生产企业面临{problem}难题。{}", paragraph(&mut rng)),
                    industry: Industry::parse("industry", rng.pick(INDUSTRIES)).expect("industry"),
                    keywords: vec![subject.into(), problem.into()],
                    region: Region::parse("region", "440300").expect("region"),
                    budget_wan: Some((10 + rng.below(490)) as f64),
                    deadline: None,
                    min_trl: Trl::new("min_trl", 3 + rng.below(5) as i64).expect("trl"),
                    is_challenge: false,
                    enterprise: format!("{subject}科技有限公司"),
                    contact: None,
                    service_modes: Vec::new(),
                }),
            }
        })
        .collect()
}

/// `n` outcomes owned by `owner`, spread over several regions.
pub fn outcomes(owner: &str, n: usize, seed: u64) -> Vec<Record> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..n)
        .map(|i| {
            let (subject, problem) = (rng.pick(SUBJECTS), rng.pick(PROBLEMS));
            Record {
                meta: meta(owner, i),
                body: Body::Outcome(Outcome {
                    title: format!("面向{subject}的{problem}方法与系统{i}"),
                    summary: format!("本成果针对{subject}{problem}问题提出新方法。{}", paragraph(&mut rng)),
                    industry: Industry::parse("industry", rng.pick(INDUSTRIES)).expect("industry"),
                    keywords: vec![subject.into(), problem.into(), "产业化".into()],
                    institution: format!("示范大学{}", i % 500),
                    region: Region::parse("region", rng.pick(REGIONS)).expect("region"),
                    trl: Trl::new("trl", 4 + rng.below(5) as i64).expect("trl"),
                    ip: String::new(),
                    transfer_modes: vec![TransferMode::License],
                    price_wan: Some((50 + rng.below(500)) as f64),
                    contact: None,
                }),
            }
        })
        .collect()
}

/// The record with a changed title and a newer version.
pub fn edited(record: &Record) -> Record {
    let mut r = record.clone();
    r.meta.version = Hlc::from_u64(r.meta.version.as_u64() + (1 << 20));
    if let Body::Demand(d) = &mut r.body {
        d.title.push_str("（修订）");
    }
    r
}

/// A code word unique to pair `i`, so demand `i` matches outcome `i` strongly.
fn code(i: usize) -> String {
    // Letters only: jieba keeps a run of letters as one word (digits split off).
    let mut n = i;
    let letters: String = (0..5)
        .map(|_| {
            let c = char::from(b'a' + (n % 26) as u8);
            n /= 26;
            c
        })
        .collect();
    format!("KC{letters}")
}

/// The subject and problem of pair `i`.
fn topic(i: usize) -> (&'static str, &'static str) {
    (SUBJECTS[i % SUBJECTS.len()], PROBLEMS[(i / SUBJECTS.len()) % PROBLEMS.len()])
}

/// `n` outcomes, the i-th answering [`paired_demands`]'s i-th demand.
pub fn paired_outcomes(owner: &str, n: usize) -> Vec<Record> {
    let mut out = outcomes(owner, n, 7);
    for (i, r) in out.iter_mut().enumerate() {
        if let Body::Outcome(o) = &mut r.body {
            let (subject, problem) = topic(i);
            o.title = format!("{}{subject}{problem}方法", code(i));
            o.summary = format!("本成果面向{}型{subject}的{problem}，已完成中试验证。", code(i));
            o.keywords = vec![code(i), subject.into(), problem.into()];
            o.price_wan = Some(100.0);
            o.trl = Trl::new("trl", 7).expect("trl");
            o.region = Region::parse("region", "510100").expect("region");
        }
    }
    out
}

/// `n` demands of a city node, the i-th answered by [`paired_outcomes`]'s i-th outcome.
pub fn paired_demands(owner: &str, n: usize) -> Vec<Record> {
    let mut out = records(owner, n, 8);
    for (i, r) in out.iter_mut().enumerate() {
        if let Body::Demand(d) = &mut r.body {
            let (subject, problem) = topic(i);
            d.title = format!("{}{subject}{problem}需求", code(i));
            d.description = format!("我们的{}型{subject}面临{problem}难题。{}", code(i), d.description);
            d.keywords = vec![code(i), subject.into(), problem.into()];
            d.budget_wan = Some(200.0);
            d.min_trl = Trl::new("min_trl", 6).expect("trl");
        }
    }
    out
}
