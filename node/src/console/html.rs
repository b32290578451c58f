//! The console's pages, in Chinese, rendered on the server. The only
//! scripts are the page's own (upload, progress, live events); nothing is
//! loaded from elsewhere.

use std::fmt::Write as _;

use kechuang_daemon::web::{STYLE, esc};
use kechuang_interchange::field_zh;
use kechuang_stats::{kind_label, tier_label};
use kechuang_store::Refusal;
use kechuang_types::{
    Body, DeclineReason, Landing, Lang, Match, MatchState, NodeId, NodeKind, Record, RecordKind, Region, Response,
    TransferMode, WithdrawReason,
};

use super::upload::Checked;
use super::{Filter, PAGE};
use crate::events::Event;

const NAV: [(&str, &str); 11] = [
    ("/", "状态"),
    ("/upload", "上传"),
    ("/records/demands", "需求"),
    ("/records/outcomes", "成果"),
    ("/records/experts", "专家"),
    ("/matches", "对接"),
    ("/challenges", "揭榜"),
    ("/search", "查找"),
    ("/assessments", "评估"),
    ("/teams", "服务团"),
    ("/#export", "导出"),
];

const CONSOLE_STYLE: &str = ".flash{background:#dafbe1;border:1px solid #1a7f37;padding:8px 12px;margin:8px 0}\
.flash.bad{background:#ffebe9;border-color:#cf222e}form.inline{display:inline}\
.drop{border:2px dashed #8c959f;border-radius:8px;padding:32px;text-align:center;background:#fff;margin:12px 0}\
.drop.over{background:#ddf4ff}.filters input,.filters select{margin-right:8px}\
.bad{color:#cf222e}td.nw{white-space:nowrap}.good{color:#1a7f37}progress{width:320px}#events li{margin:4px 0}";

/// A whole page around `body`, with the message `msg` shown once.
fn page(title: &str, active: &str, msg: Option<&str>, body: &str) -> String {
    let mut nav = String::from("<strong>科创中国 · 站点控制台</strong>");
    for (href, label) in NAV {
        let class = if href == active { " class=\"on\"" } else { "" };
        let _ = write!(nav, "<a href=\"{href}\"{class}>{label}</a>");
    }
    let flash = match msg.filter(|m| !m.is_empty()) {
        Some(m) => {
            let class = if m.starts_with("操作未完成") || m.contains("应为") { "flash bad" } else { "flash" };
            format!("<p class=\"{class}\" id=\"flash\">{}</p>", esc(m))
        }
        None => String::new(),
    };
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">\
         <title>{} · 站点控制台</title><style>{STYLE}{CONSOLE_STYLE}</style></head>\
         <body><header>{nav}</header><main>{flash}{body}</main></body></html>",
        esc(title)
    )
}

/// An error page.
pub fn problem(status: u16, message: &str) -> String {
    page("出错了", "", None, &format!("<h1>出错了（{status}）</h1><p>{}</p>", esc(message)))
}

/// A region as people read it: `440300 广东省深圳市`.
fn region(r: Region) -> String {
    format!("{r} {}", r.full_name())
}

/// What `status` shows.
pub struct Status {
    pub node: String,
    pub kind: NodeKind,
    pub region: Region,
    pub connected: bool,
    pub unacked: u64,
    pub refusals: Vec<Refusal>,
    pub last_sync: Option<String>,
    pub counts: Vec<(RecordKind, u64)>,
    pub awaiting: usize,
    pub events: Vec<Event>,
}

/// Whether match `m` waits for node `me` to answer.
pub fn awaits(m: &Match, me: &NodeId) -> bool {
    let pending = |side: &Response| matches!(side, Response::Pending);
    matches!(m.state(), MatchState::Proposed | MatchState::AcceptedByDemand | MatchState::AcceptedBySupply)
        && ((m.demand_owner == *me && pending(&m.demand_side.value))
            || (m.supply_owner == *me && pending(&m.supply_side.value)))
}

fn event_item(e: &Event) -> String {
    let state = if e.state.is_empty() { String::new() } else { format!(" 【{}】", esc(&Lang::Zh.state(&e.state))) };
    format!(
        "<li data-kind=\"{}\"><span class=\"note\">{}</span> <b>{}</b> {}{state} <span class=\"note\">{}</span></li>",
        e.kind,
        esc(&e.at),
        esc(&e.label(Lang::Zh)),
        esc(&e.title),
        esc(&kechuang_types::present::truncate(&e.detail, 80))
    )
}

/// 状态.
pub fn status(s: &Status, msg: Option<&str>) -> String {
    let count = |k: RecordKind| s.counts.iter().find(|(kind, _)| *kind == k).map_or(0, |(_, n)| *n);
    let link = if s.connected { "<b class=\"on-line\">已连接</b>" } else { "<b class=\"off\">未连接</b>" };
    let mut body = format!(
        "<h1>{} <span class=\"note\">{} · {}</span></h1><div class=\"cards\">\
         <div class=\"card\" id=\"connected\">与中心{link}</div>\
         <div class=\"card\" id=\"unacked\">待上传到中心<b>{}</b></div>\
         <div class=\"card\" id=\"refused\">被中心拒绝<b>{}</b></div>\
         <div class=\"card\" id=\"last-sync\">最近同步<b style=\"font-size:15px\">{}</b></div>\
         <div class=\"card\"><a href=\"/matches?state=proposed\">待我回应的对接</a><b id=\"awaiting\">{}</b></div></div>",
        esc(&s.node),
        kind_label(s.kind),
        region(s.region),
        s.unacked,
        s.refusals.len(),
        s.last_sync.as_deref().unwrap_or("本次启动后尚未同步"),
        s.awaiting,
    );
    body.push_str(
        "<h2>本站持有</h2><table><tr><th>需求</th><th>成果</th><th>专家</th><th>对接</th><th>揭榜方案</th></tr><tr>",
    );
    for k in [RecordKind::Demand, RecordKind::Outcome, RecordKind::Expert, RecordKind::Match, RecordKind::Bid] {
        let _ = write!(body, "<td class=\"n\">{}</td>", count(k));
    }
    body.push_str("</tr></table>");
    body.push_str("<h2>最新动态 <span class=\"note\">（新的对接建议、对接状态变化、被拒绝的修改、新的揭榜挂帅，到达即显示）</span></h2><ul id=\"events\">");
    for e in s.events.iter().rev() {
        body.push_str(&event_item(e));
    }
    body.push_str("</ul>");
    if !s.refusals.is_empty() {
        body.push_str(
            "<h2>被中心拒绝的修改</h2><table><tr><th>时间</th><th>类型</th><th>标题</th><th>字段</th><th>原因</th></tr>",
        );
        for r in s.refusals.iter().rev().take(20) {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.at.in_china()),
                esc(&Lang::Zh.say(r.kind.as_str())),
                esc(&r.title),
                esc(&field_zh(&r.field)),
                esc(&Lang::Zh.say(&r.reason))
            );
        }
        body.push_str("</table>");
    }
    body.push_str(
        "<h2 id=\"export\">导出</h2><p>本站持有的需求、成果和专家，可直接用 Excel 或 WPS 打开，改好后可在「上传」重新发布：</p>\
         <p><a href=\"/export/records.xlsx\">下载 XLSX（全部）</a> · <a href=\"/export/records.xlsx?own=1\">下载 XLSX（仅本站发布）</a> · \
         <a href=\"/export/records.csv\">下载 CSV（全部）</a> · <a href=\"/export/records.csv?own=1\">下载 CSV（仅本站发布）</a></p>",
    );
    body.push_str(
        "<script>const list=document.getElementById('events');\
         const es=new EventSource('/events');es.onmessage=m=>{const e=JSON.parse(m.data);const li=document.createElement('li');\
         li.dataset.kind=e.kind;li.innerHTML='<span class=\"note\"></span> <b></b> <span></span> <span class=\"note\"></span>';\
         const p=li.children;p[0].textContent=e.at;p[1].textContent=e.label;\
         p[2].textContent=e.title+(e.state?' 【'+e.state+'】':'');p[3].textContent=(e.detail||'').slice(0,80);\
         list.prepend(li);};</script>",
    );
    page("状态", "/", msg, &body)
}

/// 上传.
pub fn upload(msg: Option<&str>) -> String {
    let body = "<h1>上传需求、成果、专家</h1>\
        <p>支持 Excel/WPS 工作簿（.xlsx）、CSV（UTF-8 或 GBK 均可）和 JSON。列名可用中文（标题、需求描述、行业代码、关键词、所在地区……）；\
        所在地区可写代码（440300）或名称（广东省深圳市）。先检查全部行，<b>有任何问题都不会发布</b>；检查通过后再确认发布。\
        没有表格？先<a href=\"/template.xlsx\" id=\"template\">下载模板</a>（需求、成果、专家三张表，带示例行和下拉选项），或从「导出」下载本站现有记录改起。</p>\
        <div class=\"drop\" id=\"drop\">把文件拖到这里，或 <input type=\"file\" id=\"file\" accept=\".xlsx,.csv,.json,.jsonl\"></div>\
        <div id=\"report\"></div><div id=\"confirm\"></div><div id=\"progress\"></div>\
        <script>\
        const drop=document.getElementById('drop'),report=document.getElementById('report'),\
        confirmBox=document.getElementById('confirm'),progressBox=document.getElementById('progress');\
        async function check(file){report.textContent='正在检查 '+file.name+' …';confirmBox.innerHTML='';progressBox.innerHTML='';\
        const r=await fetch('/upload?name='+encodeURIComponent(file.name),{method:'POST',body:file});\
        if(!r.ok){report.textContent='上传失败：'+r.status;return;}\
        const a=await r.json();report.innerHTML=a.html;\
        if(a.ok){const b=document.createElement('button');b.id='publish';b.textContent='确认发布 '+a.rows+' 行';\
        b.onclick=()=>publish(a.id,b);confirmBox.appendChild(b);}}\
        async function publish(id,button){button.disabled=true;\
        const r=await fetch('/upload/'+id+'/publish',{method:'POST'});\
        if(!r.ok){progressBox.textContent='发布失败：'+(await r.text());return;}\
        progressBox.innerHTML='<progress id=\"bar\" value=\"0\" max=\"1\"></progress> <span id=\"done\"></span>';\
        for(;;){const p=await (await fetch('/upload/'+id)).json();\
        document.getElementById('bar').max=p.total;document.getElementById('bar').value=p.done;\
        const t=document.getElementById('done');\
        if(p.state==='done'){t.className='good';t.id='published';\
        t.textContent='发布完成：共 '+p.total+' 行，新增 '+p.created+'，更新 '+p.updated+'，撤回 '+p.withdrawn+'，未变 '+p.unchanged;break;}\
        if(p.state==='failed'){t.className='bad';t.textContent=p.error;break;}\
        t.textContent='正在发布 '+p.done+' / '+p.total+' 行';await new Promise(r=>setTimeout(r,300));}}\
        document.getElementById('file').onchange=e=>{if(e.target.files[0])check(e.target.files[0]);};\
        drop.ondragover=e=>{e.preventDefault();drop.classList.add('over');};\
        drop.ondragleave=()=>drop.classList.remove('over');\
        drop.ondrop=e=>{e.preventDefault();drop.classList.remove('over');if(e.dataTransfer.files[0])check(e.dataTransfer.files[0]);};\
        </script>";
    page("上传", "/upload", msg, body)
}

/// The report on an upload: every bad field, every unknown column, this
/// node's own problems; or what would be published.
pub fn report(c: &Checked) -> String {
    let r = &c.reading;
    let mut out = format!("<h2>检查结果：{}</h2>", esc(&c.name));
    for w in &r.warnings {
        let _ = write!(out, "<p class=\"warning\" data-column=\"{}\">⚠ {}</p>", esc(&w.column), esc(&w.zh()));
    }
    let bad = r.errors.len() + c.problems.len();
    if bad > 0 {
        let _ = write!(
            out,
            "<p class=\"bad\" id=\"verdict\">发现 {bad} 处问题，<b>没有发布任何内容</b>。请在表格中改正后重新上传。</p>\
             <table id=\"errors\"><tr><th>位置</th><th>列</th><th>问题</th><th>填写的内容</th></tr>"
        );
        for e in &r.errors {
            let (sheet, row) = match &e.location {
                kechuang_interchange::Location::Cell(sheet, row) => (sheet.clone(), row.to_string()),
                kechuang_interchange::Location::Line(n) => (String::new(), n.to_string()),
                kechuang_interchange::Location::Item(_, n) => (String::new(), n.to_string()),
            };
            let field = if e.field == "-" { String::new() } else { field_zh(&e.field) };
            let _ = write!(
                out,
                "<tr class=\"error\" data-sheet=\"{}\" data-row=\"{row}\" data-field=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&sheet),
                esc(&e.field),
                esc(&e.location.zh()),
                esc(&field),
                esc(&Lang::Zh.say(&e.reason)),
                esc(&e.value)
            );
        }
        for (place, field, reason) in &c.problems {
            let _ = write!(
                out,
                "<tr class=\"error\" data-field=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td></td></tr>",
                esc(field),
                esc(&place.zh()),
                esc(&field_zh(field)),
                esc(&Lang::Zh.say(reason))
            );
        }
        out.push_str("</table>");
        return out;
    }
    if r.drafts.is_empty() {
        out.push_str("<p class=\"bad\" id=\"verdict\">文件里没有可发布的行（模板的示例行不发布）。</p>");
        return out;
    }
    let count = |k: RecordKind| r.drafts.iter().filter(|d| d.body.kind() == k).count();
    let _ = write!(
        out,
        "<p class=\"good\" id=\"verdict\">全部 {} 行检查通过：需求 {}，成果 {}，专家 {}。确认后发布；已发布过的行按编号更新，不会重复。</p>",
        r.drafts.len(),
        count(RecordKind::Demand),
        count(RecordKind::Outcome),
        count(RecordKind::Expert)
    );
    out
}

/// A record's industry code, if it has one.
pub fn industry(r: &Record) -> Option<&str> {
    match &r.body {
        Body::Demand(d) => Some(d.industry.as_str()),
        Body::Outcome(o) => Some(o.industry.as_str()),
        _ => None,
    }
}

/// The text a search looks in.
pub fn searchable(r: &Record) -> String {
    let mut text = r.title();
    match &r.body {
        Body::Demand(d) => {
            text.push_str(&d.description);
            text.push_str(&d.keywords.join(" "));
            text.push_str(&d.enterprise);
        }
        Body::Outcome(o) => {
            text.push_str(&o.summary);
            text.push_str(&o.keywords.join(" "));
            text.push_str(&o.institution);
        }
        Body::Expert(e) => {
            text.push_str(&e.affiliation);
            text.push_str(&e.fields.join(" "));
            text.push_str(&e.keywords.join(" "));
        }
        Body::Match(m) => {
            text.push_str(&m.supply_title);
            text.push_str(&m.explanation);
        }
        Body::Bid(b) => text.push_str(&b.proposal),
        Body::Assessment(a) => text.push_str(&a.text),
        Body::Team(t) => {
            text.push_str(&t.description);
            text.push_str(&t.fields.join(" "));
            text.push_str(&t.keywords.join(" "));
        }
    }
    if let Some(ext) = &r.meta.external_id {
        text.push_str(ext);
    }
    text
}

fn option(value: &str, label: &str, selected: &str) -> String {
    let on = if value == selected { " selected" } else { "" };
    format!("<option value=\"{}\"{on}>{}</option>", esc(value), esc(label))
}

/// The filter form of a list.
fn filters(action: &str, f: &Filter, states: &[(&str, &str)], with_place: bool) -> String {
    let mut out = format!("<form class=\"filters\" method=\"get\" action=\"{action}\">");
    let _ =
        write!(out, "<input name=\"q\" placeholder=\"搜索标题、内容、关键词\" value=\"{}\" size=\"24\">", esc(&f.q));
    out.push_str("<select name=\"state\">");
    for (value, label) in states {
        out.push_str(&option(value, label, &f.state));
    }
    out.push_str("</select>");
    if with_place {
        let _ = write!(
            out,
            "<input name=\"industry\" placeholder=\"行业代码 如 C38\" value=\"{}\" size=\"12\">\
             <input name=\"region\" placeholder=\"地区 如 深圳市 或 440300\" value=\"{}\" size=\"18\">",
            esc(&f.industry),
            esc(&f.region)
        );
    }
    let _ = write!(
        out,
        "更新日期 <input name=\"from\" type=\"date\" value=\"{}\"> 至 <input name=\"to\" type=\"date\" value=\"{}\">\
         <label><input type=\"checkbox\" name=\"own\" value=\"1\"{}> 仅本站</label> <button>筛选</button></form>",
        esc(&f.from),
        esc(&f.to),
        if f.own.is_empty() { "" } else { " checked" }
    );
    out
}

/// Links to the other pages of a list.
fn pager(action: &str, f: &Filter, total: usize) -> String {
    let pages = total.div_ceil(PAGE).max(1);
    let current = f.page.unwrap_or(1).clamp(1, pages);
    let query = |page: usize| {
        let pairs = [
            ("q", &f.q),
            ("state", &f.state),
            ("industry", &f.industry),
            ("region", &f.region),
            ("from", &f.from),
            ("to", &f.to),
            ("own", &f.own),
        ];
        let mut q: String = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}&", kechuang_daemon::web::url_encode(v)))
            .collect();
        let _ = write!(q, "page={page}");
        format!("{action}?{q}")
    };
    let mut out = format!("<p class=\"pager\">共 <b id=\"total\">{total}</b> 条 · 第 {current} / {pages} 页 ");
    if current > 1 {
        let _ = write!(out, "<a href=\"{}\">上一页</a> ", esc(&query(current - 1)));
    }
    if current < pages {
        let _ = write!(out, "<a href=\"{}\" id=\"next\">下一页</a>", esc(&query(current + 1)));
    }
    out.push_str("</p>");
    out
}

fn withdraw_form(r: &Record, back: &str) -> String {
    let mut out = format!(
        "<form class=\"inline\" method=\"post\" action=\"/records/{}/withdraw\" onsubmit=\"return confirm('确定撤回？撤回后其他站点不再看到它。')\">\
         <input type=\"hidden\" name=\"back\" value=\"{}\"><select name=\"reason\">",
        r.meta.id,
        esc(back)
    );
    for reason in WithdrawReason::ALL {
        out.push_str(&option(reason.as_str(), reason.label(), ""));
    }
    out.push_str("</select> <button>撤回</button></form>");
    out
}

/// 需求 / 成果 / 专家.
pub fn records(
    kind: RecordKind,
    rows: &[Record],
    total: usize,
    f: &Filter,
    me: &NodeId,
    loads: &std::collections::HashMap<kechuang_types::RecordId, u32>,
) -> String {
    let (title, path, columns): (&str, &str, &[&str]) = match kind {
        RecordKind::Demand => (
            "需求",
            "/records/demands",
            &[
                "编号",
                "标题",
                "行业",
                "所在地区",
                "企业",
                "预算（万元）",
                "截止日期",
                "揭榜挂帅",
                "所属站点",
                "更新时间",
                "",
            ],
        ),
        RecordKind::Outcome => (
            "成果",
            "/records/outcomes",
            &["编号", "标题", "行业", "所在地区", "单位", "技术成熟度", "转化方式", "所属站点", "更新时间", ""],
        ),
        _ => (
            "专家",
            "/records/experts",
            &[
                "编号",
                "姓名",
                "职称",
                "工作单位",
                "研究领域",
                "所在地区",
                "服务方式",
                "负荷/容量",
                "所属站点",
                "更新时间",
                "",
            ],
        ),
    };
    let states = [("open", "有效"), ("withdrawn", "已撤回"), ("all", "全部")];
    let mut body = format!("<h1>{title}</h1>{}{}", filters(path, f, &states, true), pager(path, f, total));
    body.push_str("<table id=\"records\"><tr>");
    for c in columns {
        let _ = write!(body, "<th>{c}</th>");
    }
    body.push_str("</tr>");
    for r in rows {
        let ext = r.meta.external_id.as_deref().unwrap_or("");
        let cells: Vec<String> = match &r.body {
            Body::Demand(d) => vec![
                esc(ext),
                esc(&d.title),
                esc(d.industry.as_str()),
                esc(&region(d.region)),
                esc(&d.enterprise),
                d.budget_wan.map_or_else(String::new, |b| b.to_string()),
                d.deadline.map_or_else(String::new, |d| d.to_string()),
                if d.is_challenge { "是".into() } else { String::new() },
            ],
            Body::Outcome(o) => vec![
                esc(ext),
                esc(&o.title),
                esc(o.industry.as_str()),
                esc(&region(o.region)),
                esc(&o.institution),
                o.trl.get().to_string(),
                esc(&o.transfer_modes.iter().map(|m| m.as_str()).collect::<Vec<_>>().join("、")),
            ],
            Body::Expert(e) => vec![
                esc(ext),
                esc(&e.name),
                esc(&e.title),
                esc(&e.affiliation),
                esc(&e.fields.join("、")),
                esc(&region(e.region)),
                esc(&e.service_modes.join("、")),
                format!(
                    "{}/{}",
                    loads.get(&r.meta.id).copied().unwrap_or(0),
                    e.capacity.map_or_else(|| "不限".to_owned(), |c| c.to_string())
                ),
            ],
            _ => continue,
        };
        let mine = r.meta.owner == *me;
        let owner = if mine { "本站".to_owned() } else { esc(r.meta.owner.as_str()) };
        let action = match (mine, r.meta.deleted) {
            (_, true) => format!(
                "<span class=\"note\">已撤回{}</span>",
                r.meta.withdrawal.as_ref().map_or(String::new(), |w| format!("（{}）", w.reason.label()))
            ),
            (true, false) => withdraw_form(r, path),
            (false, false) => String::new(),
        };
        let _ = write!(body, "<tr data-id=\"{}\">", r.meta.id);
        for cell in cells {
            let _ = write!(body, "<td>{cell}</td>");
        }
        let _ =
            write!(body, "<td>{owner}</td><td>{}</td><td>{action}</td></tr>", esc(&r.meta.updated_at.in_china()[..16]));
    }
    body.push_str("</table>");
    page(title, path, Some(&f.msg), &body)
}

/// What an action is called on the page.
pub fn action_label(action: &str) -> &'static str {
    match action {
        "accept" => "接受",
        "decline" => "婉拒",
        "contracted" => "已签约",
        "landed" => "已落地",
        _ => "操作",
    }
}

/// The forms node `me` may use on match `r` now.
fn match_actions(r: &Record, m: &Match, me: &NodeId) -> String {
    let id = r.meta.id;
    let party = m.demand_owner == *me || m.supply_owner == *me;
    let state = m.state();
    let mut out = String::new();
    if party && awaits(m, me) {
        let _ = write!(
            out,
            "<form class=\"inline\" method=\"post\" action=\"/matches/{id}\"><input type=\"hidden\" name=\"action\" value=\"accept\">\
             <button class=\"accept\">接受</button></form> \
             <form class=\"inline\" method=\"post\" action=\"/matches/{id}\"><input type=\"hidden\" name=\"action\" value=\"decline\">\
             <select name=\"reason\">{}</select> <input name=\"note\" placeholder=\"说明（可选）\" size=\"12\"> <button>婉拒</button></form>",
            DeclineReason::ALL.iter().map(|r| option(r.as_str(), r.as_str(), "")).collect::<String>()
        );
    }
    let my_side = if m.demand_owner == *me { Some(&m.demand_side.value) } else { None }.or(if m.supply_owner == *me {
        Some(&m.supply_side.value)
    } else {
        None
    });
    if party && state == MatchState::Connected
        || matches!(my_side, Some(Response::Accepted)) && state == MatchState::Contracted
    {
        let _ = write!(
            out,
            "<form class=\"inline\" method=\"post\" action=\"/matches/{id}\"><input type=\"hidden\" name=\"action\" value=\"contracted\">\
             <select name=\"contract_type\">{}</select> <input name=\"amount\" placeholder=\"金额（万元）\" size=\"10\"> <button>已签约</button></form>",
            TransferMode::ALL.iter().map(|t| option(t.as_str(), t.as_str(), "")).collect::<String>()
        );
    }
    if m.landing_node == *me && state == MatchState::Contracted && matches!(m.landing.value, Landing::Pending) {
        let _ = write!(
            out,
            "<form class=\"inline\" method=\"post\" action=\"/matches/{id}\"><input type=\"hidden\" name=\"action\" value=\"landed\">\
             落地日期 <input name=\"date\" type=\"date\"> <input name=\"note\" placeholder=\"说明（可选）\" size=\"12\"> <button>已落地</button></form>"
        );
    }
    out
}

/// This node's part in a match.
fn role(m: &Match, me: &NodeId) -> &'static str {
    if m.demand_owner == *me {
        "需求方"
    } else if m.supply_owner == *me {
        "供给方"
    } else if m.landing_node == *me {
        "落地城市"
    } else {
        "知悉"
    }
}

/// 对接.
pub fn matches(rows: &[Record], total: usize, f: &Filter, me: &NodeId) -> String {
    let mut states = vec![("all", "全部状态")];
    for s in [
        MatchState::Proposed,
        MatchState::AcceptedByDemand,
        MatchState::AcceptedBySupply,
        MatchState::Connected,
        MatchState::Contracted,
        MatchState::Landed,
        MatchState::Declined,
        MatchState::Expired,
        MatchState::Withdrawn,
    ] {
        states.push((s.as_str(), "")); // labelled below
    }
    let labelled: Vec<(String, String)> = states
        .iter()
        .map(|(v, l)| (v.to_string(), if l.is_empty() { Lang::Zh.state(v) } else { l.to_string() }))
        .collect();
    let pairs: Vec<(&str, &str)> = labelled.iter().map(|(v, l)| (v.as_str(), l.as_str())).collect();
    let mut body = format!("<h1>对接</h1>{}{}", filters("/matches", f, &pairs, false), pager("/matches", f, total));
    body.push_str(
        "<table id=\"matches\"><tr><th>需求</th><th>供给</th><th>范围</th><th>状态</th><th>推荐理由</th><th>本站</th><th>联系方式</th><th>操作</th></tr>",
    );
    for r in rows {
        let Body::Match(m) = &r.body else { continue };
        let contact = [&m.demand_contact, &m.supply_contact]
            .into_iter()
            .flatten()
            .map(|c| esc(&format!("{} {} {}", c.person, c.phone, c.email)))
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = write!(
            body,
            "<tr data-id=\"{}\" data-state=\"{}\"><td>{}<br><span class=\"note\">{}</span></td><td>{}<br><span class=\"note\">{}</span></td>\
             <td class=\"nw\">{}</td><td class=\"state nw\">{}</td><td class=\"note\">{}</td><td class=\"nw\">{}</td><td>{}</td><td>{}</td></tr>",
            r.meta.id,
            m.state().as_str(),
            esc(&m.demand_title),
            esc(&region(m.demand_region)),
            esc(&m.supply_title),
            esc(&region(m.supply_region)),
            tier_label(m.tier),
            esc(&Lang::Zh.state(m.state().as_str())),
            esc(&m.explanation),
            role(m, me),
            contact,
            match_actions(r, m, me)
        );
    }
    body.push_str("</table>");
    page("对接", "/matches", Some(&f.msg), &body)
}

/// What `challenges` shows.
pub struct Challenges {
    /// The assessments held (of the bids on this node's challenges, among others).
    pub assessments: Vec<Record>,
    pub open: Vec<Record>,
    pub mine: Vec<Record>,
    pub bids: Vec<Record>,
    pub outcomes: Vec<Record>,
    pub experts: Vec<Record>,
    pub me: NodeId,
}

/// 揭榜.
pub fn challenges(v: &Challenges, msg: Option<&str>) -> String {
    let mut body = String::from("<h1>揭榜挂帅</h1><h2>可揭榜的难题</h2>");
    if v.open.is_empty() {
        body.push_str("<p class=\"note\">目前没有可揭榜的难题。</p>");
    }
    let offers = |records: &[Record], name: &str| -> String {
        records
            .iter()
            .map(|r| {
                format!(
                    "<label><input type=\"checkbox\" name=\"{name}\" value=\"{}\"> {}</label> ",
                    r.meta.id,
                    esc(&r.title())
                )
            })
            .collect()
    };
    let my_bid = |demand: &Record| {
        v.bids.iter().find(|b| b.meta.owner == v.me && matches!(&b.body, Body::Bid(x) if x.demand == demand.meta.id))
    };
    for r in &v.open {
        let Body::Demand(d) = &r.body else { continue };
        let _ = write!(
            body,
            "<div class=\"card challenge\" data-id=\"{}\"><b style=\"font-size:16px\">{}</b> <span class=\"note\">{} · {} · 截止 {}</span><p>{}</p>",
            r.meta.id,
            esc(&d.title),
            esc(&region(d.region)),
            esc(d.industry.as_str()),
            d.deadline.map_or_else(|| "不限".into(), |d| d.to_string()),
            esc(&d.description)
        );
        match my_bid(r) {
            Some(b) => {
                let state = match &b.body {
                    Body::Bid(x) => x.decision.value.as_str(),
                    _ => "",
                };
                let _ = write!(body, "<p class=\"good\">本站已揭榜（{}）</p>", esc(&Lang::Zh.tr(state)));
            }
            None if v.outcomes.is_empty() && v.experts.is_empty() => {
                body.push_str("<p class=\"note\">本站还没有发布成果或专家，发布后即可揭榜。</p>");
            }
            None => {
                let _ = write!(
                    body,
                    "<form method=\"post\" action=\"/challenges/{}/bid\"><p>本站方案：<br><textarea name=\"proposal\" rows=\"3\" cols=\"70\" required></textarea></p>\
                     <p>提供的成果：{}</p><p>提供的专家：{}</p><button>揭榜</button></form>",
                    r.meta.id,
                    offers(&v.outcomes, "outcome"),
                    offers(&v.experts, "expert")
                );
            }
        }
        body.push_str("</div>");
    }
    body.push_str("<h2>本站发布的难题与收到的方案</h2>");
    if v.mine.is_empty() {
        body.push_str("<p class=\"note\">本站没有发布揭榜挂帅需求（在需求表的「揭榜挂帅」列填「是」）。</p>");
    }
    for r in &v.mine {
        let Body::Demand(d) = &r.body else { continue };
        let _ = write!(
            body,
            "<h3>{} <span class=\"note\">截止 {}</span></h3><table class=\"bids\"><tr><th>揭榜站点</th><th>方案</th><th>学会评估</th><th>状态</th><th></th></tr>",
            esc(&d.title),
            d.deadline.map_or_else(|| "不限".into(), |d| d.to_string())
        );
        let bids: Vec<&Record> = v
            .bids
            .iter()
            .filter(|b| matches!(&b.body, Body::Bid(x) if x.demand == r.meta.id) && !b.meta.deleted)
            .collect();
        if bids.is_empty() {
            body.push_str("<tr><td colspan=\"5\" class=\"note\">尚未收到方案</td></tr>");
        }
        for b in bids {
            let Body::Bid(x) = &b.body else { continue };
            let award = if x.decision.value == kechuang_types::BidState::Submitted {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/bids/{}/award\" onsubmit=\"return confirm('授予这个方案？其余方案将标为未入选。')\"><button>授予</button></form>",
                    b.meta.id
                )
            } else {
                String::new()
            };
            let assessed: String =
                v.assessments.iter().filter(|a| subject_of(a) == Some(b.meta.id)).map(assessment_note).collect();
            let _ = write!(
                body,
                "<tr data-id=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{award}</td></tr>",
                b.meta.id,
                esc(b.meta.owner.as_str()),
                esc(&x.proposal),
                if assessed.is_empty() { "<span class=\"note\">暂无</span>".to_owned() } else { assessed },
                esc(&Lang::Zh.tr(x.decision.value.as_str()))
            );
        }
        body.push_str("</table>");
    }
    page("揭榜", "/challenges", msg, &body)
}

/// The subject of an assessment record.
fn subject_of(r: &Record) -> Option<kechuang_types::RecordId> {
    match &r.body {
        Body::Assessment(a) if !r.meta.deleted => Some(a.subject),
        _ => None,
    }
}

/// One assessment in a sentence: society, verdict, scores, evaluator, text.
fn assessment_note(r: &Record) -> String {
    let Body::Assessment(a) = &r.body else { return String::new() };
    let scores: Vec<String> = a.scores.named().iter().map(|(_, label, s)| format!("{label}{s}")).collect();
    format!(
        "<div class=\"assessment\"><b>{}</b>：{}（{}）<br><span class=\"note\">{} · {}</span></div>",
        esc(r.meta.owner.as_str()),
        esc(a.verdict.as_str()),
        esc(&scores.join(" ")),
        esc(&a.evaluator),
        esc(&a.text)
    )
}

/// What `assessments` shows.
pub struct Assessments {
    /// Whether this node is a society (and so assesses).
    pub society: bool,
    /// What a society may assess: others' demands, outcomes and bids it holds.
    pub subjects: Vec<Record>,
    /// Every assessment held: this society's own, or those of this node's records.
    pub held: Vec<Record>,
    /// Titles of the subjects held, by id.
    pub titles: std::collections::HashMap<kechuang_types::RecordId, String>,
}

/// 评估: a society's subjects to assess, and the assessments held.
pub fn assessments(v: &Assessments, msg: Option<&str>) -> String {
    let mut body = String::from("<h1>专业评估</h1>");
    if v.society {
        body.push_str(
            "<h2>待评估</h2><p class=\"note\">本学会领域内的需求、成果和揭榜方案。评分 1–5；再次评估同一对象即修订原评估。</p>",
        );
        if v.subjects.is_empty() {
            body.push_str("<p class=\"note\">目前没有本学会领域的需求、成果或揭榜方案。</p>");
        }
        let select = |name: &str| -> String {
            let options: String =
                (1..=5).map(|n| format!("<option{}>{n}</option>", if n == 3 { " selected" } else { "" })).collect();
            format!("<select name=\"{name}\">{options}</select>")
        };
        for r in &v.subjects {
            let mine = v.held.iter().find(|a| subject_of(a) == Some(r.meta.id));
            let _ = write!(
                body,
                "<div class=\"card subject\" data-id=\"{}\"><b>{}</b> <span class=\"note\">{} · {}</span>{}\
                 <form method=\"post\" action=\"/assessments/{}\">先进性 {} 成熟度 {} 市场前景 {} 风险 {} \
                 结论 <select name=\"verdict\"><option>推荐</option><option>有条件推荐</option><option>不推荐</option></select> \
                 评估人 <input name=\"evaluator\" size=\"10\" required><br>\
                 <textarea name=\"text\" rows=\"2\" cols=\"70\" placeholder=\"评估意见\" required></textarea><br><button>提交评估</button></form></div>",
                r.meta.id,
                esc(&r.title()),
                esc(&Lang::Zh.tr(r.kind().as_str())),
                esc(r.meta.owner.as_str()),
                mine.map(assessment_note).unwrap_or_default(),
                r.meta.id,
                select("advancement"),
                select("maturity"),
                select("market"),
                select("risk"),
            );
        }
    }
    body.push_str(if v.society { "<h2>本学会的评估</h2>" } else { "<h2>收到的学会评估</h2>" });
    if v.held.is_empty() {
        body.push_str("<p class=\"note\">暂无评估。</p>");
    } else {
        body.push_str("<table class=\"assessments\"><tr><th>评估对象</th><th>类型</th><th>评估</th></tr>");
        for r in &v.held {
            let Some(subject) = subject_of(r) else { continue };
            let Body::Assessment(a) = &r.body else { continue };
            let _ = write!(
                body,
                "<tr data-id=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                r.meta.id,
                esc(v.titles.get(&subject).map_or(subject.to_string().as_str(), String::as_str)),
                esc(&Lang::Zh.tr(a.subject_kind.as_str())),
                assessment_note(r)
            );
        }
        body.push_str("</table>");
    }
    page("评估", "/assessments", msg, &body)
}

/// What `teams` shows.
pub struct Teams {
    /// This node.
    pub me: NodeId,
    /// Whether this node publishes teams (a university or society).
    pub publishes: bool,
    /// The teams held: this node's own and those that list its experts.
    pub teams: Vec<Record>,
    /// This node's experts on offer (for the lead and members).
    pub experts: Vec<Record>,
    /// Each team's load, and each expert's.
    pub loads: std::collections::HashMap<kechuang_types::RecordId, u32>,
    /// The names of the experts this node holds (a member's name may not
    /// have been known to the team's owner).
    pub names: std::collections::HashMap<kechuang_types::RecordId, String>,
}

/// 服务团: this node's teams, invitations to answer, and a form to publish one.
pub fn teams(v: &Teams, msg: Option<&str>) -> String {
    let mut body = String::from("<h1>科技服务团</h1>");
    if v.teams.is_empty() {
        body.push_str("<p class=\"note\">还没有服务团。</p>");
    }
    for r in v.teams.iter().filter(|r| !r.meta.deleted) {
        let Body::Team(t) = &r.body else { continue };
        let members: Vec<String> = t
            .members
            .iter()
            .map(|m| {
                let state = if kechuang_types::Team::serves(m, &r.meta.owner) { "在岗" } else { "待接受" };
                let lead = if m.expert == t.lead { "（团长）" } else { "" };
                let name = match (m.name.as_str(), v.names.get(&m.expert)) {
                    ("", Some(known)) => known.clone(),
                    ("", None) => format!("专家 {}", m.expert.to_string().chars().take(13).collect::<String>()),
                    (name, _) => name.to_owned(),
                };
                format!("{}{lead} · {} · {state}", esc(&name), esc(m.node.as_str()))
            })
            .collect();
        let serves = |list: Vec<String>| if list.is_empty() { "不限".to_owned() } else { list.join("、") };
        let _ = write!(
            body,
            "<div class=\"card team\" data-id=\"{}\"><b style=\"font-size:16px\">{}</b> <span class=\"note\">{} · 负荷 {}</span><p>{}</p>\
             <p>成员：{}</p><p class=\"note\">领域：{} · 服务城市：{} · 服务行业：{} · 服务方式：{}</p>",
            r.meta.id,
            esc(&t.name),
            esc(r.meta.owner.as_str()),
            v.loads.get(&r.meta.id).copied().unwrap_or(0),
            esc(&t.description),
            members.join("；"),
            esc(&t.fields.join("、")),
            esc(&serves(t.cities.iter().map(|c| region(*c)).collect())),
            esc(&serves(t.industries.iter().map(|i| i.to_string()).collect())),
            esc(&serves(t.service_modes.clone()))
        );
        if r.meta.owner != v.me {
            let accepted = t.members.iter().filter(|m| m.node == v.me).all(|m| m.accepted.value);
            let (action, label) = if accepted { ("decline", "退出") } else { ("accept", "接受邀请") };
            let _ = write!(
                body,
                "<form class=\"inline\" method=\"post\" action=\"/teams/{}/{action}\"><button>{label}</button></form>",
                r.meta.id
            );
        }
        body.push_str("</div>");
    }
    if v.publishes {
        body.push_str("<h2>组建或修订服务团</h2>");
        if v.experts.is_empty() {
            body.push_str("<p class=\"note\">本站还没有发布专家，发布后即可组建服务团。</p>");
            return page("服务团", "/teams", msg, &body);
        }
        let options: String =
            v.experts.iter().map(|e| format!("<option value=\"{}\">{}</option>", e.meta.id, esc(&e.title()))).collect();
        let boxes: String = v
            .experts
            .iter()
            .map(|e| {
                format!(
                    "<label><input type=\"checkbox\" name=\"member\" value=\"{}\"> {}</label> ",
                    e.meta.id,
                    esc(&e.title())
                )
            })
            .collect();
        let modes: String = kechuang_types::SERVICE_MODES
            .iter()
            .map(|m| format!("<label><input type=\"checkbox\" name=\"mode\" value=\"{m}\"> {m}</label> "))
            .collect();
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/teams\" id=\"publish-team\"><p>名称 <input name=\"name\" size=\"30\" required>（同名即修订）</p>\
             <p>简介<br><textarea name=\"description\" rows=\"2\" cols=\"70\"></textarea></p>\
             <p>团长 <select name=\"lead\">{options}</select></p><p>本站成员：{boxes}</p>\
             <p>外站专家（每行一位，站点:专家编号，可在「查找」专家中找到）<br><textarea name=\"others\" rows=\"2\" cols=\"70\"></textarea></p>\
             <p>领域 <input name=\"fields\" size=\"30\" placeholder=\"默认同团长，用逗号分隔\"> 关键词 <input name=\"keywords\" size=\"30\"></p>\
             <p>服务城市 <input name=\"cities\" size=\"20\" placeholder=\"如 深圳市，空为不限\"> 服务行业 <input name=\"industries\" size=\"12\" placeholder=\"如 C38\"></p>\
             <p>服务方式 {modes}</p><button>发布服务团</button></form>"
        );
    }
    page("服务团", "/teams", msg, &body)
}

/// What `search` shows.
pub struct Search {
    /// The words searched for.
    pub q: String,
    /// `demands`, `outcomes` or `experts`.
    pub kind: String,
    pub industry: String,
    pub region: String,
    /// Central's hits, best first, with their relevance.
    pub hits: Vec<(Record, f64)>,
    /// Why central did not answer.
    pub error: Option<String>,
    /// This node's own outcomes and experts on offer (for 我能解决).
    pub supply: Vec<Record>,
}

/// 查找: the national catalogue, searched at central.
pub fn search(v: &Search, msg: Option<&str>) -> String {
    let mut body = String::from("<h1>查找全国需求与成果</h1>");
    let kinds = [("demands", "需求"), ("outcomes", "成果"), ("experts", "专家")];
    let options: String = kinds
        .iter()
        .map(|(k, label)| {
            format!("<option value=\"{k}\"{}>{label}</option>", if v.kind == *k { " selected" } else { "" })
        })
        .collect();
    let _ = write!(
        body,
        "<form class=\"filters\" method=\"get\" action=\"/search\"><input name=\"q\" size=\"40\" placeholder=\"关键词，如 锂电池 热失控\" value=\"{}\" required>\
         <select name=\"kind\">{options}</select><input name=\"industry\" size=\"6\" placeholder=\"行业 C38\" value=\"{}\">\
         <input name=\"region\" size=\"8\" placeholder=\"地区 44 或 广东\" value=\"{}\"><button>查找</button></form>\
         <p class=\"note\">在科创中国全国目录中查找（高校和学会可查全国开放需求，各站可查本地区需求和全国成果、专家）；结果不含联系方式。</p>",
        esc(&v.q),
        esc(&v.industry),
        esc(&v.region)
    );
    if let Some(error) = &v.error {
        let _ = write!(body, "<p class=\"flash bad\">{}</p>", esc(error));
    }
    if !v.q.is_empty() && v.error.is_none() && v.hits.is_empty() {
        body.push_str("<p class=\"note\">没有找到。</p>");
    }
    if !v.hits.is_empty() {
        body.push_str("<table class=\"hits\"><tr><th>相关度</th><th>标题</th><th>地区</th><th>行业</th><th>发布站点</th><th></th></tr>");
    }
    let back = format!(
        "/search?q={}&kind={}&industry={}&region={}",
        web_encode(&v.q),
        web_encode(&v.kind),
        web_encode(&v.industry),
        web_encode(&v.region)
    );
    let offer_options: String = v
        .supply
        .iter()
        .map(|r| {
            format!(
                "<option value=\"{}\">{}：{}</option>",
                r.meta.id,
                esc(&Lang::Zh.tr(r.kind().as_str())),
                esc(&r.title())
            )
        })
        .collect();
    for (r, score) in &v.hits {
        let industry = match &r.body {
            Body::Demand(d) => d.industry.to_string(),
            Body::Outcome(o) => o.industry.to_string(),
            _ => String::new(),
        };
        let offer = match &r.body {
            Body::Demand(_) if !v.supply.is_empty() => format!(
                "<form class=\"interest\" method=\"post\" action=\"/search/interest\"><input type=\"hidden\" name=\"demand\" value=\"{}\">\
                 <input type=\"hidden\" name=\"back\" value=\"{}\"><select name=\"supply\">{offer_options}</select>\
                 <input name=\"note\" size=\"24\" placeholder=\"说明（可选）\"><button>我能解决</button></form>",
                r.meta.id,
                esc(&back)
            ),
            _ => String::new(),
        };
        let _ = write!(
            body,
            "<tr data-id=\"{}\"><td>{score:.2}</td><td>{}</td><td class=\"nw\">{}</td><td>{}</td><td>{}</td><td>{offer}</td></tr>",
            r.meta.id,
            esc(&r.title()),
            esc(&r.region().map(region).unwrap_or_default()),
            esc(&industry),
            esc(r.meta.owner.as_str())
        );
    }
    if !v.hits.is_empty() {
        body.push_str("</table>");
    }
    page("查找", "/search", msg, &body)
}

fn web_encode(text: &str) -> String {
    kechuang_daemon::web::url_encode(text)
}
