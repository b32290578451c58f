//! The national office's dashboard: the programme's numbers, the network
//! and the rankings as web pages in Chinese, and the same data as JSON
//! under `/api/` for scripts, and `/metrics` for monitoring. On loopback by default; bound elsewhere,
//! every request must carry central's admin token (once as `?token=`, which
//! sets a cookie, or as `Authorization: Bearer`).

mod data;
mod html;
mod metrics;
mod svg;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State as Shared};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kechuang_daemon::web::{self, query_value};
use kechuang_types::{Date, Region};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::server::State;

/// What every handler shares.
struct Dash {
    state: Arc<State>,
    token: Option<String>,
}

type Dashboard = Arc<Dash>;

/// Serves the dashboard on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    token: Option<String>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let dash = Arc::new(Dash { state, token });
    let router = Router::new()
        .route("/", get(overview_page))
        .route("/network", get(network_page))
        .route("/province/{code}", get(province_page))
        .route("/rankings", get(rankings_page))
        .route("/matches", get(matches_page))
        .route("/api/overview", get(overview_api))
        .route("/api/network", get(network_api))
        .route("/api/province/{code}", get(province_api))
        .route("/api/rankings", get(rankings_api))
        .route("/api/matches", get(matches_api))
        .route("/metrics", get(metrics_text))
        // Pages name no icon; a browser that asks anyway gets nothing, not an error.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(|| async { Failure::NotFound("没有这个页面".into()) })
        .layer(middleware::from_fn_with_state(dash.clone(), guard))
        .with_state(dash);
    axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await?;
    Ok(())
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
            Self::Forbidden => (StatusCode::UNAUTHORIZED, "需要中央的 admin_token：在地址后加 ?token=…".into()),
        };
        web::html(status, html::problem(status.as_u16(), &message))
    }
}

impl From<kechuang_store::Error> for Failure {
    fn from(e: kechuang_store::Error) -> Self {
        tracing::error!(error = %e, "dashboard: storage failure");
        Self::Unavailable(format!("中央存储暂不可用：{e}"))
    }
}

fn page(text: String) -> Response {
    web::html(StatusCode::OK, text)
}

fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => Failure::Unavailable(e.to_string()).into_response(),
    }
}

/// Runs `f` on the blocking pool with the dashboard's state.
async fn blocking<T: Send + 'static>(
    dash: &Dashboard,
    f: impl FnOnce(&Dash) -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    let dash = dash.clone();
    tokio::task::spawn_blocking(move || f(&dash))
        .await
        .map_err(|e| Failure::Unavailable(format!("dashboard task failed: {e}")))?
}

/// Lets a request through if no token is needed or it carries the token.
async fn guard(Shared(dash): Shared<Dashboard>, request: Request, next: Next) -> Response {
    match dash.token.as_deref() {
        None => next.run(request).await,
        Some(token) => {
            web::require_token(token, "kechuang_token", request, next, || Failure::Forbidden.into_response()).await
        }
    }
}

async fn overview(dash: &Dashboard) -> Result<data::Overview, Failure> {
    blocking(dash, |d| {
        let (overview, _) = d.state.ledger.with(&d.state.store, |ledger| data::overview(&d.state, ledger))?;
        Ok(overview?)
    })
    .await
}

async fn overview_page(Shared(dash): Shared<Dashboard>) -> Result<Response, Failure> {
    Ok(page(html::overview(&overview(&dash).await?)))
}

async fn overview_api(Shared(dash): Shared<Dashboard>) -> Result<Response, Failure> {
    Ok(json(&overview(&dash).await?))
}

async fn network(dash: &Dashboard) -> Result<data::Network, Failure> {
    blocking(dash, |d| Ok(data::network(&d.state)?)).await
}

async fn network_page(Shared(dash): Shared<Dashboard>) -> Result<Response, Failure> {
    Ok(page(html::network(&network(&dash).await?)))
}

async fn network_api(Shared(dash): Shared<Dashboard>) -> Result<Response, Failure> {
    Ok(json(&network(&dash).await?))
}

async fn province(dash: &Dashboard, code: &str) -> Result<data::Province, Failure> {
    let region = Region::parse("province", code).map_err(|e| Failure::BadRequest(e.to_string()))?;
    blocking(dash, move |d| Ok(d.state.ledger.with(&d.state.store, |ledger| data::province(ledger, region))?.0)).await
}

async fn province_page(Shared(dash): Shared<Dashboard>, Path(code): Path<String>) -> Result<Response, Failure> {
    Ok(page(html::province(&province(&dash, &code).await?)))
}

async fn province_api(Shared(dash): Shared<Dashboard>, Path(code): Path<String>) -> Result<Response, Failure> {
    Ok(json(&province(&dash, &code).await?))
}

async fn rankings(dash: &Dashboard, query: Option<String>) -> Result<kechuang_stats::Rankings, Failure> {
    let year = match query_value(query.as_deref(), "year") {
        None => Date::today().to_string()[..4].parse().unwrap_or(2026),
        Some(y) => match y.parse::<i32>() {
            Ok(y) if (2000..=2100).contains(&y) => y,
            _ => return Err(Failure::BadRequest(format!("year: {y} is not a year between 2000 and 2100"))),
        },
    };
    blocking(dash, move |d| Ok(d.state.ledger.with(&d.state.store, |ledger| ledger.rankings(year))?.0)).await
}

async fn rankings_page(Shared(dash): Shared<Dashboard>, RawQuery(query): RawQuery) -> Result<Response, Failure> {
    Ok(page(html::rankings(&rankings(&dash, query).await?)))
}

async fn rankings_api(Shared(dash): Shared<Dashboard>, RawQuery(query): RawQuery) -> Result<Response, Failure> {
    Ok(json(&rankings(&dash, query).await?))
}

/// How many recent matches the pages list.
const RECENT: usize = 100;

async fn matches(dash: &Dashboard) -> Result<Vec<data::RecentMatch>, Failure> {
    blocking(dash, |d| Ok(data::recent_matches(&d.state, RECENT)?)).await
}

async fn matches_page(Shared(dash): Shared<Dashboard>) -> Result<Response, Failure> {
    Ok(page(html::matches(&matches(&dash).await?)))
}

async fn matches_api(Shared(dash): Shared<Dashboard>) -> Result<Response, Failure> {
    Ok(json(&matches(&dash).await?))
}

async fn metrics_text(Shared(dash): Shared<Dashboard>) -> Result<Response, Failure> {
    let text = blocking(&dash, |d| Ok(metrics::render(&d.state)?)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
