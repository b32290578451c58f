//! The dashboard's pages, in Chinese, rendered on the server from the
//! structures `/api/` serves. No script, no font, nothing from elsewhere.

use std::fmt::Write as _;

use kechuang_daemon::web::STYLE;
pub use kechuang_daemon::web::esc;
use kechuang_stats::{Rankings, Row};

use super::data::{Network, Overview, Province, RecentMatch};
use super::svg;

const NAV: [(&str, &str); 4] =
    [("/", "全国概览"), ("/network", "网络"), ("/rankings", "榜单"), ("/matches", "最新对接")];

/// A whole page around `body`.
fn page(title: &str, active: &str, body: &str) -> String {
    let mut nav = String::from("<strong>科创中国 · 科创网络</strong>");
    for (href, label) in NAV {
        let class = if href == active { " class=\"on\"" } else { "" };
        let _ = write!(nav, "<a href=\"{href}\"{class}>{label}</a>");
    }
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>{} · 科创网络</title>\
         <style>{STYLE}</style></head><body><header>{nav}</header><main>{body}</main></body></html>",
        esc(title)
    )
}

fn number(n: f64) -> String {
    let s = format!("{n:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn share(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{}%", number(v * 100.0)))
}

fn days(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), number)
}

/// A table of report rows: one per group and the total.
fn rows_table(heading: &str, rows: &[Row], total: &Row) -> String {
    let mut out = format!(
        "<table class=\"figures\"><tr><th>{}</th><th>发布需求</th><th>获推荐</th><th>对接</th><th>签约</th><th>落地</th>\
         <th>推荐（同城/同省/全国）</th><th>合同数</th><th>成交额（万元）</th><th>跨省对接占比</th><th>至对接（天）</th></tr>",
        esc(heading)
    );
    for (name, row) in rows.iter().map(|r| (r.label.as_str(), r)).chain(std::iter::once(("合计", total))) {
        let name = if name.is_empty() { row.key.as_str() } else { name };
        let p = &row.proposals;
        let _ = write!(
            out,
            "<tr data-key=\"{key}\"><td>{name}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} （{}/{}/{}）</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            row.demands.published,
            row.demands.proposed,
            row.demands.connected,
            row.demands.contracted,
            row.demands.landed,
            p.total,
            p.city,
            p.province,
            p.national,
            row.contracts.count,
            number(row.contracts.amount_wan),
            share(row.cross_province_share),
            days(row.median_days.to_connected),
            key = esc(&row.key),
            name = esc(name),
        );
    }
    out.push_str("</table>");
    out
}

/// The funnel as a chart and as a table whose cells carry their stage.
fn funnel_block(stages: &[super::data::Stage]) -> String {
    let mut table = String::from("<table class=\"funnel\"><tr>");
    for s in stages {
        let _ = write!(table, "<th>{}</th>", esc(s.label));
    }
    table.push_str("</tr><tr>");
    for s in stages {
        let _ = write!(table, "<td class=\"n\" data-stage=\"{}\">{}</td>", s.key, s.count);
    }
    table.push_str("</tr></table>");
    format!("{}{table}", svg::funnel(stages))
}

/// 全国概览.
pub fn overview(o: &Overview) -> String {
    let t = &o.report.total;
    let cards = [
        ("站点（在线/全部）", format!("{}/{}", o.stations.online, o.stations.total), "stations"),
        ("发布需求", t.demands.published.to_string(), "published"),
        ("对接", t.proposals.connected.to_string(), "connected"),
        ("已核实合同", t.contracts.count.to_string(), "contracts"),
        ("成交额（万元）", number(t.contracts.amount_wan), "amount"),
        ("落地", t.proposals.landed.to_string(), "landed"),
        ("跨省对接占比", share(t.cross_province_share), "cross"),
    ];
    let mut body = String::from("<h1>全国概览</h1><div class=\"cards\">");
    for (label, value, key) in cards {
        let _ = write!(body, "<div class=\"card\" data-card=\"{key}\"><span>{label}</span><b>{value}</b></div>");
    }
    body.push_str("</div><h2>需求→推荐→对接→签约→落地</h2>");
    body.push_str(&funnel_block(&o.funnel));
    body.push_str(
        "<p class=\"note\">仅计已核实的步骤：双方均接受的对接、双方一致记录类型的合同、落地节点记录的落地。</p>",
    );
    body.push_str("<h2>按月趋势</h2>");
    body.push_str(&svg::trend(&o.months));
    body.push_str(&rows_table("月份", &o.months, t));
    page("全国概览", "/", &body)
}

/// 网络: every province and its stations.
pub fn network(n: &Network) -> String {
    let mut body = String::from(
        "<h1>网络</h1><p class=\"note\">在线：该站点此刻与中央保持同步会话。待同步记录：中央日志中在其已发送位置之后的记录数（上限，并非每条都发往该站点）。</p>",
    );
    for p in &n.provinces {
        let _ = write!(
            body,
            "<h2 data-province=\"{code}\"><a href=\"/province/{code}\">{name}（{code}）</a></h2><table class=\"stations\">\
             <tr><th>站点</th><th>类型</th><th>地区</th><th>状态</th><th>最后联系</th><th>待同步记录</th><th>软件版本</th><th>证书到期</th></tr>",
            code = esc(&p.code),
            name = esc(&p.name),
        );
        for s in &p.stations {
            let status = match (s.revoked, s.online) {
                (true, _) => "<span class=\"off\">已吊销</span>",
                (false, true) => "<span class=\"on-line\">在线</span>",
                (false, false) => "<span class=\"off\">离线</span>",
            };
            let _ = write!(
                body,
                "<tr data-node=\"{id}\"><td>{id}</td><td>{kind}</td><td>{region}</td><td>{status}</td><td>{seen}</td>\
                 <td class=\"n\">{lag}</td><td>{version}</td><td>{expires}</td></tr>",
                id = esc(&s.id),
                kind = esc(&s.kind_label),
                region = esc(&s.region),
                seen = esc(s.last_seen.as_deref().unwrap_or("—")),
                lag = s.feed_lag_records.map_or_else(|| "—".into(), |l| l.to_string()),
                version = esc(if s.version.is_empty() { "—" } else { &s.version }),
                expires = esc(s.certificate_expires.as_deref().unwrap_or("—")),
            );
        }
        body.push_str("</table>");
    }
    if n.provinces.is_empty() {
        body.push_str("<p>尚无站点注册。</p>");
    }
    page("网络", "/network", &body)
}

/// One province.
pub fn province(p: &Province) -> String {
    let mut body = format!("<h1>{}（{}）</h1><h2>需求→推荐→对接→签约→落地</h2>", esc(&p.name), esc(&p.code));
    body.push_str(&funnel_block(&p.funnel));
    body.push_str("<h2>各城市</h2>");
    body.push_str(&rows_table("城市", &p.report.rows, &p.report.total));
    let _ = write!(
        body,
        "<h2>未结需求（按发布时长）</h2><table class=\"open\"><tr><th>需求</th><th>发布站点</th><th>地区</th><th>已发布（天）</th><th>推荐数</th><th>最远进展</th></tr>"
    );
    for d in &p.open_demands {
        let furthest = match d.furthest.as_str() {
            "contracted" => "签约",
            "connected" => "对接",
            "proposed" => "推荐",
            _ => "尚无推荐",
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{furthest}</td></tr>",
            esc(&d.title),
            esc(&d.owner),
            esc(&d.region),
            d.age_days,
            d.proposals
        );
    }
    body.push_str("</table>");
    page(&p.name, "/network", &body)
}

/// 榜单.
pub fn rankings(r: &Rankings) -> String {
    let mut body = format!("<h1>{} 年榜单</h1>", r.year);
    for list in &r.lists {
        let _ = write!(body, "<h2 data-list=\"{}\">{}</h2>", esc(&list.key), esc(&list.title));
        if list.entries.is_empty() {
            body.push_str("<p>（暂无上榜）</p>");
        } else {
            body.push_str("<table><tr><th>名次</th><th>名称</th><th>数值</th><th>说明</th></tr>");
            for e in &list.entries {
                let _ = write!(
                    body,
                    "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                    e.rank,
                    esc(&e.name),
                    number(e.value),
                    esc(&e.detail)
                );
            }
            body.push_str("</table>");
        }
        let _ = write!(body, "<p class=\"note\">规则：{}</p>", esc(&list.method));
    }
    page("榜单", "/rankings", &body)
}

/// 最新对接.
pub fn matches(list: &[RecentMatch]) -> String {
    let mut body = String::from(
        "<h1>最新对接</h1><p class=\"note\">联系方式只在双方均接受后交给双方，此处不显示。</p>\
         <table><tr><th>需求</th><th>成果/专家</th><th>双方站点</th><th>状态</th><th>层级</th><th>得分</th><th>推荐理由</th><th>更新</th></tr>",
    );
    for m in list {
        let _ = write!(
            body,
            "<tr data-match=\"{}\"><td>{}</td><td>{}</td><td>{} × {}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.id),
            esc(&m.demand_title),
            esc(&m.supply_title),
            esc(&m.demand_owner),
            esc(&m.supply_owner),
            esc(&m.state),
            esc(&m.tier),
            number(m.score),
            esc(&m.explanation),
            esc(&m.updated_at)
        );
    }
    body.push_str("</table>");
    page("最新对接", "/matches", &body)
}

/// A page saying what went wrong.
pub fn problem(status: u16, message: &str) -> String {
    page("出错了", "", &format!("<h1>{status}</h1><p>{}</p>", esc(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    }
}
