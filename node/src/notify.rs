//! `notify_url`: every event POSTed as JSON to a relay the station runs (a
//! chat-bot bridge, a mail gateway), in order, each retried until taken.
//!
//! It never holds sync up: it reads the event bus like any listener, and
//! if the relay is down so long that more than the bus holds pile up, the
//! oldest are dropped and the log says how many.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::config::NotifyUrl;
use crate::daemon::Node;

/// Longest wait for one POST.
const POST_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per event before it is given up (about two minutes of waits).
const ATTEMPTS: u32 = 8;

/// Posts events to `url` until `shutdown`.
pub async fn run(node: Arc<Node>, url: NotifyUrl, shutdown: CancellationToken) {
    let mut events = node.events.subscribe();
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            () = shutdown.cancelled() => return,
        };
        let event = match event {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                warn!(missed, url = %url.authority, "notify_url: the relay fell behind; the oldest events were not sent");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let body = event.json(&node.config.id).to_string();
        let mut wait = Duration::from_secs(1);
        for attempt in 1..=ATTEMPTS {
            match post(&url, body.clone()).await {
                Ok(()) => {
                    debug!(seq = event.seq, kind = event.kind, "event posted to notify_url");
                    break;
                }
                Err(e) if attempt == ATTEMPTS => {
                    warn!(
                        seq = event.seq,
                        error = format!("{e:#}"),
                        "notify_url: event given up after {ATTEMPTS} attempts"
                    );
                }
                Err(e) => {
                    debug!(seq = event.seq, attempt, error = format!("{e:#}"), "notify_url: will retry");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = shutdown.cancelled() => return,
                    }
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}

/// One POST; a 2xx answer is success.
async fn post(url: &NotifyUrl, body: String) -> anyhow::Result<()> {
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(&url.authority)
            .await
            .with_context(|| format!("connecting to {}", url.authority))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let request = hyper::Request::post(&url.path)
            .header(hyper::header::HOST, &url.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Full::new(Bytes::from(body)))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        // Read the answer through, so the relay is not cut off mid-reply.
        let _ = response.into_body().collect().await;
        if !status.is_success() {
            bail!("the relay answered {status}");
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(POST_TIMEOUT, attempt).await.context("no answer within 5 s")?
}
