//! The station console: the node's web pages, in Chinese, for the people
//! who run a station. Upload a workbook and see every bad row before
//! anything is published; browse and filter what the node holds; answer
//! matches, bid and award challenges with the same rules as the CLI (the
//! lifecycle module); download XLSX or CSV; watch events arrive.
//!
//! On its own listen address (loopback by default), always behind the
//! node's operator token: `kechuang-node console` prints the address with
//! the token once, which the browser then keeps as a cookie.

mod html;
mod upload;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kechuang_daemon::web;
use kechuang_interchange as import;
use kechuang_types::{Body, Date, Lang, NodeKind, Record, RecordKind, Region, Timestamp, WithdrawReason, Withdrawal};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::daemon::Node;
use crate::lifecycle::{self, Answer, Refused};

/// The cookie that keeps the operator token.
const COOKIE: &str = "kechuang_node_token";
/// Rows per page of a list.
const PAGE: usize = 50;
/// The largest file the console takes.
const UPLOAD_BYTES: usize = 128 * 1024 * 1024;

/// What every handler shares.
struct Console {
    node: Arc<Node>,
    uploads: upload::Uploads,
}

type Shared = Arc<Console>;

/// Serves the console on `listener` until `shutdown`.
pub async fn serve(node: Arc<Node>, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let console = Arc::new(Console { node, uploads: upload::Uploads::default() });
    let router = Router::new()
        .route("/", get(status_page))
        .route("/events", get(events))
        .route("/upload", get(upload_page).post(upload_check))
        .route("/upload/{id}", get(upload_progress))
        .route("/upload/{id}/publish", post(upload_publish))
        .route("/records/{kind}", get(records_page))
        .route("/records/{id}/withdraw", post(withdraw))
        .route("/matches", get(matches_page))
        .route("/matches/{id}", post(respond))
        .route("/challenges", get(challenges_page))
        .route("/challenges/{id}/bid", post(bid))
        .route("/bids/{id}/award", post(award))
        .route("/search", get(search_page))
        .route("/search/interest", post(interest))
        .route("/assessments", get(assessments_page))
        .route("/assessments/{id}", post(assess))
        .route("/teams", get(teams_page).post(publish_team))
        .route("/teams/{id}/{answer}", post(answer_team))
        .route("/export/{file}", get(export))
        .route("/template.xlsx", get(template))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(|| async { Failure::NotFound("没有这个页面".into()) })
        .layer(DefaultBodyLimit::max(UPLOAD_BYTES))
        .layer(middleware::from_fn_with_state(console.clone(), guard))
        .with_state(console);
    axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await?;
    Ok(())
}

/// Every request carries the node's operator token.
async fn guard(State(console): State<Shared>, request: Request, next: Next) -> Response {
    let token = console.node.token.clone();
    web::require_token(&token, COOKIE, request, next, || Failure::Forbidden.into_response()).await
}

/// Why a request was not answered.
enum Failure {
    NotFound(String),
    BadRequest(String),
    Unavailable(String),
    Forbidden,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Self::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            Self::Forbidden => (
                StatusCode::UNAUTHORIZED,
                "需要本站的操作令牌：请用 `kechuang-node console --config node.toml` 给出的地址打开".into(),
            ),
        };
        web::html(status, html::problem(status.as_u16(), &message))
    }
}

impl From<kechuang_store::Error> for Failure {
    fn from(e: kechuang_store::Error) -> Self {
        tracing::error!(error = %e, "console: storage failure");
        Self::Unavailable(format!("本站存储暂不可用：{e}"))
    }
}

fn page(text: String) -> Response {
    web::html(StatusCode::OK, text)
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    console: &Shared,
    f: impl FnOnce(&Node) -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    let node = console.node.clone();
    tokio::task::spawn_blocking(move || f(&node))
        .await
        .map_err(|e| Failure::Unavailable(format!("console task failed: {e}")))?
}

/// Back to `to` with a message for the person (shown once on the page).
fn back(to: &str, message: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}msg={}", web::url_encode(message))).into_response()
}

/// A lifecycle refusal, said for people.
fn refusal_text(e: &Refused) -> String {
    format!("操作未完成：{}", Lang::Zh.error(&e.to_string()))
}

/// 状态.
async fn status_page(
    State(console): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let status = blocking(&console, |node| {
        let store = &node.store;
        let (counts, _) = store.summary()?;
        let stats = &node.stats;
        let awaiting = store
            .list(Some(RecordKind::Match))?
            .iter()
            .filter(|r| matches!(&r.body, Body::Match(m) if html::awaits(m, &node.config.id)))
            .count();
        Ok(html::Status {
            node: node.config.id.to_string(),
            kind: node.config.kind,
            region: node.config.region,
            connected: stats.connected.load(Ordering::Relaxed),
            unacked: store.unacked()?,
            refusals: store.refusals()?,
            last_sync: match stats.last_sync_ms.load(Ordering::Relaxed) {
                0 => None,
                ms => Some(Timestamp(ms).in_china()),
            },
            counts: counts.into_iter().collect(),
            awaiting,
            events: node.events.recent(),
        })
    })
    .await?;
    Ok(page(html::status(&status, q.get("msg").map(String::as_str))))
}

/// Events as they come, for the page's live list (server-sent events).
async fn events(State(console): State<Shared>) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = tokio_stream::wrappers::BroadcastStream::new(console.node.events.subscribe()).filter_map(|event| {
        let event = event.ok()?;
        let data = serde_json::json!({"seq": event.seq, "kind": event.kind, "label": event.label(Lang::Zh),
            "at": event.at, "title": event.title, "state": Lang::Zh.state(&event.state), "detail": event.detail});
        Some(Ok(SseEvent::default().data(data.to_string())))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// 上传.
async fn upload_page(Query(q): Query<HashMap<String, String>>) -> Response {
    page(html::upload(q.get("msg").map(String::as_str)))
}

/// Reads and checks an uploaded file; publishes nothing.
async fn upload_check(State(console): State<Shared>, RawQuery(query): RawQuery, body: axum::body::Bytes) -> Response {
    let name = web::query_value(query.as_deref(), "name").map(web::url_decode).unwrap_or_default();
    let node = console.node.clone();
    let checked = tokio::task::spawn_blocking(move || upload::check(&node, &name, &body)).await;
    match checked {
        Ok(Ok(checked)) => {
            let answer = upload::answer(&console.uploads, checked);
            ([(header::CONTENT_TYPE, "application/json")], answer.to_string()).into_response()
        }
        Ok(Err(e)) => Failure::from(e).into_response(),
        Err(e) => Failure::Unavailable(format!("console task failed: {e}")).into_response(),
    }
}

/// Publishes a checked upload, in the background.
async fn upload_publish(State(console): State<Shared>, Path(id): Path<u64>) -> Result<Response, Failure> {
    upload::publish(&console.uploads, console.node.clone(), id).map_err(Failure::BadRequest)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// How far a publish has got.
async fn upload_progress(State(console): State<Shared>, Path(id): Path<u64>) -> Result<Response, Failure> {
    let progress = console.uploads.progress(id).ok_or_else(|| Failure::NotFound(format!("没有上传 {id}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], progress.to_string()).into_response())
}

/// What a list page asks for.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// Words in the title, text or keywords.
    pub q: String,
    /// open, withdrawn or all (records); a match state (matches).
    pub state: String,
    /// An industry code or its beginning (`C38`).
    pub industry: String,
    /// A region code or name; records within it.
    pub region: String,
    /// Updated on or after (YYYY-MM-DD).
    pub from: String,
    /// Updated on or before.
    pub to: String,
    /// Only this node's own.
    pub own: String,
    /// The page, from 1.
    pub page: Option<usize>,
    /// A message to show once.
    pub msg: String,
}

impl Filter {
    /// Keeps `records` that pass, newest first; a bad filter is an error naming it.
    fn apply(&self, node: &Node, mut records: Vec<Record>) -> Result<Vec<Record>, Failure> {
        let bad = |e: kechuang_types::Error| Failure::BadRequest(import::RowError::describe(&e));
        let region = match self.region.trim() {
            "" => None,
            text => Some(Region::lookup("region", text).map_err(bad)?),
        };
        let day = |field: &str, text: &str| match text.trim() {
            "" => Ok(None),
            text => Date::parse(field, text).map(Some).map_err(bad),
        };
        let (from, to) = (day("from", &self.from)?, day("to", &self.to)?);
        let words: Vec<String> = self.q.split_whitespace().map(str::to_lowercase).collect();
        let industry = self.industry.trim().to_uppercase();
        records.retain(|r| {
            let state_ok = match (self.state.as_str(), &r.body) {
                ("" | "open", Body::Demand(_) | Body::Outcome(_) | Body::Expert(_)) => !r.meta.deleted,
                ("withdrawn", _) => r.meta.deleted,
                ("all" | "", _) => true,
                (state, Body::Match(m)) => m.state().as_str() == state,
                _ => true,
            };
            let updated = Date::on(r.meta.updated_at);
            state_ok
                && (self.own.is_empty() || r.meta.owner == node.config.id)
                && region.is_none_or(|area| r.body.region().is_some_and(|at| area.contains(at)))
                && (industry.is_empty() || html::industry(r).is_some_and(|i| i.starts_with(&industry)))
                && from.is_none_or(|d| updated >= d)
                && to.is_none_or(|d| updated <= d)
                && (words.is_empty() || {
                    let text = html::searchable(r).to_lowercase();
                    words.iter().all(|w| text.contains(w))
                })
        });
        records.sort_by_key(|r| std::cmp::Reverse(r.meta.updated_at));
        Ok(records)
    }
}

/// 需求 / 成果 / 专家.
async fn records_page(
    State(console): State<Shared>,
    Path(kind): Path<String>,
    Query(filter): Query<Filter>,
) -> Result<Response, Failure> {
    let kind = match kind.as_str() {
        "demands" => RecordKind::Demand,
        "outcomes" => RecordKind::Outcome,
        "experts" => RecordKind::Expert,
        other => return Err(Failure::NotFound(format!("没有 {other} 这一类记录"))),
    };
    let (rows, total, filter, me, loads) = blocking(&console, move |node| {
        let (rows, total) = filter_page(node, kind, &filter)?;
        let loads = match kind {
            RecordKind::Expert => {
                let mut engaging = node.store.list(Some(RecordKind::Match))?;
                engaging.extend(node.store.list(Some(RecordKind::Team))?);
                kechuang_types::present::loads(&engaging)
            }
            _ => HashMap::new(),
        };
        Ok((rows, total, filter, node.config.id.clone(), loads))
    })
    .await?;
    Ok(page(html::records(kind, &rows, total, &filter, &me, &loads)))
}

/// The page of `kind` records `filter` asks for, and how many passed.
fn filter_page(node: &Node, kind: RecordKind, filter: &Filter) -> Result<(Vec<Record>, usize), Failure> {
    let records = filter.apply(node, node.store.list(Some(kind))?)?;
    let total = records.len();
    let first = (filter.page.unwrap_or(1).max(1) - 1) * PAGE;
    Ok((records.into_iter().skip(first).take(PAGE).collect(), total))
}

/// 对接.
async fn matches_page(State(console): State<Shared>, Query(filter): Query<Filter>) -> Result<Response, Failure> {
    let (rows, total, filter, me) = blocking(&console, move |node| {
        let (rows, total) = filter_page(node, RecordKind::Match, &filter)?;
        Ok((rows, total, filter, node.config.id.clone()))
    })
    .await?;
    Ok(page(html::matches(&rows, total, &filter, &me)))
}

/// An answer to a match, as the page's forms send it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AnswerForm {
    action: String,
    reason: String,
    note: String,
    contract_type: String,
    amount: String,
    date: String,
}

async fn respond(State(console): State<Shared>, Path(id): Path<String>, Form(form): Form<AnswerForm>) -> Response {
    let amount_wan = match form.amount.trim() {
        "" => None,
        text => match text.parse::<f64>() {
            Ok(n) => Some(n),
            Err(_) => return back("/matches", &format!("金额应为数字（万元），填写的是 \"{text}\"")),
        },
    };
    let answer = Answer {
        verb: form.action.clone(),
        reason: form.reason,
        note: form.note,
        contract_type: form.contract_type,
        amount_wan,
        date: form.date,
    };
    let result = act(&console, move |node| lifecycle::respond(node, &id, answer.action()?)).await;
    match result {
        Ok(_) => back("/matches", &format!("已提交：{}", html::action_label(&form.action))),
        Err(message) => back("/matches", &message),
    }
}

/// Runs a lifecycle action and wakes the push loop; a refusal for people.
async fn act<T: Send + 'static>(
    console: &Shared,
    f: impl FnOnce(&Node) -> Result<T, Refused> + Send + 'static,
) -> Result<T, String> {
    let node = console.node.clone();
    let result = tokio::task::spawn_blocking(move || f(&node)).await.map_err(|e| format!("操作失败：{e}"))?;
    let value = result.map_err(|e| refusal_text(&e))?;
    console.node.outbox_grew.notify_one();
    Ok(value)
}

/// 揭榜.
async fn challenges_page(
    State(console): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let view = blocking(&console, |node| {
        let me = node.config.id.clone();
        let today = Date::today();
        let mut open = Vec::new();
        let mut mine = Vec::new();
        for r in node.store.list(Some(RecordKind::Demand))? {
            let Body::Demand(d) = &r.body else { continue };
            if !d.is_challenge || r.meta.deleted {
                continue;
            }
            if r.meta.owner == me {
                mine.push(r);
            } else if d.deadline.is_none_or(|d| d >= today) {
                open.push(r);
            }
        }
        let bids = node.store.list(Some(RecordKind::Bid))?;
        Ok(html::Challenges {
            assessments: node.store.list(Some(RecordKind::Assessment))?,
            open,
            mine,
            bids,
            outcomes: on_offer(node, RecordKind::Outcome)?,
            experts: on_offer(node, RecordKind::Expert)?,
            me,
        })
    })
    .await?;
    Ok(page(html::challenges(&view, q.get("msg").map(String::as_str))))
}

/// 评估.
async fn assessments_page(
    State(console): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let view = blocking(&console, |node| {
        let me = node.config.id.clone();
        let society = node.config.kind == NodeKind::Society;
        let mut subjects = Vec::new();
        let mut titles = HashMap::new();
        for kind in [RecordKind::Demand, RecordKind::Outcome, RecordKind::Bid] {
            for r in node.store.list(Some(kind))? {
                titles.insert(r.meta.id, r.title());
                if society && r.meta.owner != me && !r.meta.deleted {
                    subjects.push(r);
                }
            }
        }
        let held = node.store.list(Some(RecordKind::Assessment))?.into_iter().filter(|r| !r.meta.deleted).collect();
        Ok(html::Assessments { society, subjects, held, titles })
    })
    .await?;
    Ok(page(html::assessments(&view, q.get("msg").map(String::as_str))))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AssessForm {
    advancement: u32,
    maturity: u32,
    market: u32,
    risk: u32,
    verdict: String,
    evaluator: String,
    text: String,
}

async fn assess(State(console): State<Shared>, Path(id): Path<String>, Form(f): Form<AssessForm>) -> Response {
    let said = lifecycle::Verdict {
        evaluator: f.evaluator,
        scores: [f.advancement, f.maturity, f.market, f.risk],
        verdict: f.verdict,
        text: f.text,
    };
    match act(&console, move |node| lifecycle::assess(node, &id, said)).await {
        Ok(_) => back("/assessments", "已提交评估，将送达被评估方及所在省级站"),
        Err(message) => back("/assessments", &message),
    }
}

/// 服务团.
async fn teams_page(
    State(console): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let view = blocking(&console, |node| {
        let teams = node.store.list(Some(RecordKind::Team))?;
        let mut engaging = node.store.list(Some(RecordKind::Match))?;
        engaging.extend(teams.iter().cloned());
        Ok(html::Teams {
            me: node.config.id.clone(),
            publishes: matches!(node.config.kind, NodeKind::University | NodeKind::Society),
            loads: kechuang_types::present::loads(&engaging),
            teams,
            names: node.store.list(Some(RecordKind::Expert))?.iter().map(|e| (e.meta.id, e.title())).collect(),
            experts: on_offer(node, RecordKind::Expert)?,
        })
    })
    .await?;
    Ok(page(html::teams(&view, q.get("msg").map(String::as_str))))
}

async fn publish_team(State(console): State<Shared>, Form(form): Form<Vec<(String, String)>>) -> Response {
    let value = |key: &str| form.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect::<Vec<_>>();
    let split = |key: &str| -> Vec<String> {
        value(key)
            .concat()
            .split([',', '，', '、', '\n'])
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let draft = lifecycle::TeamDraft {
        name: value("name").concat(),
        description: value("description").concat(),
        lead: value("lead").concat(),
        members: value("member").into_iter().chain(split("others")).collect(),
        fields: split("fields"),
        keywords: split("keywords"),
        cities: split("cities"),
        industries: split("industries"),
        service_modes: value("mode"),
    };
    match act(&console, move |node| lifecycle::publish_team(node, draft)).await {
        Ok(_) => back("/teams", "已发布服务团；外站专家经其所在站点接受后加入"),
        Err(message) => back("/teams", &message),
    }
}

async fn answer_team(State(console): State<Shared>, Path((id, answer)): Path<(String, String)>) -> Response {
    let accept = answer == "accept";
    match act(&console, move |node| lifecycle::answer_team(node, &id, accept)).await {
        Ok(_) if accept => back("/teams", "已接受邀请：本站专家加入该服务团"),
        Ok(_) => back("/teams", "已退出该服务团"),
        Err(message) => back("/teams", &message),
    }
}

/// This node's own records of `kind` that are not withdrawn: what it may offer.
fn on_offer(node: &Node, kind: RecordKind) -> Result<Vec<Record>, Failure> {
    let me = &node.config.id;
    Ok(node.store.list(Some(kind))?.into_iter().filter(|r| r.meta.owner == *me && !r.meta.deleted).collect())
}

async fn bid(
    State(console): State<Shared>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let value = |key: &str| form.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect::<Vec<_>>();
    let proposal = value("proposal").concat().trim().to_owned();
    let (outcomes, experts) = (value("outcome"), value("expert"));
    let result = act(&console, move |node| lifecycle::bid(node, &id, proposal, &outcomes, &experts)).await;
    match result {
        Ok(_) => back("/challenges", "已提交揭榜方案"),
        Err(message) => back("/challenges", &message),
    }
}

async fn award(State(console): State<Shared>, Path(id): Path<String>) -> Response {
    match act(&console, move |node| lifecycle::award(node, &id)).await {
        Ok((_, not_chosen)) => back("/challenges", &format!("已授予；其余 {not_chosen} 个方案未入选")),
        Err(message) => back("/challenges", &message),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SearchForm {
    q: String,
    kind: String,
    industry: String,
    region: String,
    msg: String,
}

/// 查找: asks central, shows the hits, and offers 我能解决 on demands.
async fn search_page(State(console): State<Shared>, Query(f): Query<SearchForm>) -> Result<Response, Failure> {
    use kechuang_proto::pb;
    let supply_side =
        matches!(console.node.config.kind, kechuang_types::NodeKind::University | kechuang_types::NodeKind::Society);
    let kind = match f.kind.as_str() {
        "demands" | "outcomes" | "experts" => f.kind.clone(),
        _ if supply_side => "demands".to_owned(),
        _ => "outcomes".to_owned(),
    };
    let q = f.q.trim().to_owned();
    let (mut hits, mut error) = (Vec::new(), None);
    if !q.is_empty() {
        let request = pb::SearchRequest {
            text: q.clone(),
            kind: kind.clone(),
            industry: f.industry.trim().to_owned(),
            region: f.region.trim().to_owned(),
            limit: PAGE as u32,
        };
        match crate::api::search_central(&console.node, request).await {
            Ok(answer) => {
                for hit in answer.hits {
                    match hit.record.map(Record::try_from) {
                        Some(Ok(record)) => hits.push((record, hit.score)),
                        _ => error = Some("中心返回的结果无法读取".to_owned()),
                    }
                }
            }
            Err(status) => error = Some(format!("查找未完成：{}", Lang::Zh.error(status.message()))),
        }
    }
    let supply = blocking(&console, |node| {
        let mut own = on_offer(node, RecordKind::Outcome)?;
        own.extend(on_offer(node, RecordKind::Expert)?);
        Ok(own)
    })
    .await?;
    let view = html::Search { q, kind, industry: f.industry, region: f.region, hits, error, supply };
    let msg = (!f.msg.is_empty()).then_some(f.msg.as_str());
    Ok(page(html::search(&view, msg)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InterestForm {
    demand: String,
    supply: String,
    note: String,
    back: String,
}

/// 我能解决: offers one of this node's outcomes or experts for a demand.
async fn interest(State(console): State<Shared>, Form(f): Form<InterestForm>) -> Response {
    let to = if f.back.starts_with("/search") { f.back.clone() } else { "/search".to_owned() };
    let supply = f.supply.clone();
    let record = match act(&console, move |node| lifecycle::own_supply(node, &supply)).await {
        Ok(record) => record,
        Err(message) => return back(&to, &message),
    };
    let request = kechuang_proto::pb::InterestRequest {
        demand_id: f.demand.trim().to_owned(),
        supply: record.meta.id.to_string(),
        note: f.note.trim().to_owned(),
    };
    match crate::api::interest_central(&console.node, request).await {
        Ok(answer) => {
            let id = answer.r#match.map(Record::try_from).and_then(Result::ok).map(|m| m.meta.id.to_string());
            back(&to, &format!("已提出主动对接：对接 {}，已送达需求方及两地省级站", id.unwrap_or_default()))
        }
        Err(status) => back(&to, &format!("操作未完成：{}", Lang::Zh.error(status.message()))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WithdrawForm {
    reason: String,
    note: String,
    back: String,
}

async fn withdraw(State(console): State<Shared>, Path(id): Path<String>, Form(form): Form<WithdrawForm>) -> Response {
    let to = if form.back.starts_with('/') { form.back.clone() } else { "/".into() };
    let reason = match WithdrawReason::parse_any("reason", &form.reason) {
        Ok(reason) => reason,
        Err(e) => return back(&to, &import::RowError::describe(&e)),
    };
    let withdrawal = Withdrawal { reason, note: form.note.trim().to_owned() };
    match act(&console, move |node| lifecycle::withdraw(node, &id, withdrawal)).await {
        Ok(record) => back(&to, &format!("已撤回：{}", record.title())),
        Err(message) => back(&to, &message),
    }
}

/// The workbook to fill in (as `kechuang-node template` writes it).
async fn template() -> Response {
    match import::write_template() {
        Ok(book) => (
            [
                (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"template.xlsx\"; filename*=UTF-8''%E6%A8%A1%E6%9D%BF.xlsx".to_owned(),
                ),
            ],
            book,
        )
            .into_response(),
        Err(e) => Failure::Unavailable(e).into_response(),
    }
}

/// 导出: `records.xlsx` or `records.csv`, `?own=1` for this node's own only.
async fn export(State(console): State<Shared>, Path(file): Path<String>, RawQuery(query): RawQuery) -> Response {
    let own = web::query_value(query.as_deref(), "own").is_some_and(|v| v == "1");
    let xlsx = match file.as_str() {
        "records.xlsx" => true,
        "records.csv" => false,
        _ => return Failure::NotFound("导出的文件名应为 records.xlsx 或 records.csv".into()).into_response(),
    };
    let built = blocking(&console, move |node| {
        let records = node.store.list(None)?;
        let me = own.then_some(&node.config.id);
        let rows = import::rows_of(records.iter().filter(|r| me.is_none_or(|me| r.meta.owner == *me)));
        if xlsx {
            import::write_xlsx(&rows).map_err(Failure::Unavailable)
        } else {
            Ok(import::write_csv(&rows).into_bytes())
        }
    })
    .await;
    match built {
        Ok(bytes) => {
            let name = format!("{}-{}.{}", console.node.config.id, Date::today(), if xlsx { "xlsx" } else { "csv" });
            let kind = if xlsx {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            } else {
                "text/csv; charset=utf-8"
            };
            let disposition = format!("attachment; filename=\"{name}\"");
            ([(header::CONTENT_TYPE, kind.to_owned()), (header::CONTENT_DISPOSITION, disposition)], bytes)
                .into_response()
        }
        Err(failure) => failure.into_response(),
    }
}
