//! What `kechuang-central` and `kechuang-node` share as processes: the
//! runtime, quiet-by-default logging, stopping on SIGTERM or SIGINT,
//! reading a TOML config file next to its data, and the ready file a
//! daemon writes once it listens; and what their web pages share.

pub mod web;

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// The multi-threaded tokio runtime both daemons and their CLIs run on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logs to stderr in `format`, filtered by `KECHUANG_LOG` or else `default`
/// (e.g. `warn,kechuang_node=info`).
pub fn init_logging(default: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KECHUANG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
pub async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

/// Reads and parses a TOML config file; returns it with the directory it
/// lives in, which relative paths in it are taken from.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> anyhow::Result<(T, PathBuf)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    // `node.toml` alone lives in the current directory.
    let home = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok((file, home.to_path_buf()))
}

/// Writes the ready file atomically (a temp file renamed over it), so a
/// reader never sees half of it; `pid` is added to `fields`.
pub fn write_ready(path: &Path, mut fields: serde_json::Map<String, serde_json::Value>) -> anyhow::Result<()> {
    fields.insert("pid".into(), std::process::id().into());
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::Value::Object(fields).to_string())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
