//! An upload: a file read and checked in full (every bad field of every
//! row, unknown columns, this node's own checks of area and deadlines),
//! kept until the person confirms, then published in batches with progress.
//! Nothing of a file with errors can be published.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use kechuang_interchange::{self as import, Location, Reading};
use kechuang_types::Draft;
use serde::Serialize;

use super::html;
use crate::api::PUBLISH_BATCH;
use crate::daemon::Node;

/// Checked uploads kept for confirmation; older ones are forgotten.
const KEPT: usize = 8;

/// The uploads awaiting confirmation or being published.
#[derive(Default)]
pub struct Uploads {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    held: VecDeque<(u64, Upload)>,
}

struct Upload {
    /// Taken when publishing starts.
    drafts: Option<Vec<Draft>>,
    progress: Arc<Mutex<Progress>>,
}

/// How far a publish has got, as the page polls it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Progress {
    /// checked, publishing, done or failed.
    pub state: &'static str,
    /// Rows to publish.
    pub total: usize,
    /// Rows published so far.
    pub done: usize,
    /// New records.
    pub created: u32,
    /// Changed records.
    pub updated: u32,
    /// Rows that changed nothing.
    pub unchanged: u32,
    /// Records withdrawn by their row.
    pub withdrawn: u32,
    /// Why it failed.
    pub error: String,
}

/// A file as read and checked.
pub struct Checked {
    /// The file's name, as uploaded.
    pub name: String,
    /// Its rows, errors and warnings.
    pub reading: Reading,
    /// What this node finds wrong with valid rows: place, field, reason.
    pub problems: Vec<(Location, String, String)>,
}

impl Checked {
    /// Whether it may be published.
    pub fn ok(&self) -> bool {
        self.reading.errors.is_empty() && self.problems.is_empty() && !self.reading.drafts.is_empty()
    }
}

/// Reads `bytes` as the file `name` and checks every row.
pub fn check(node: &Node, name: &str, bytes: &[u8]) -> kechuang_store::Result<Checked> {
    let reading = import::read(name, bytes);
    let mut problems = Vec::new();
    for (draft, place) in reading.drafts.iter().zip(&reading.places) {
        for (field, reason) in crate::publish::check_draft(node, draft)? {
            problems.push((place.clone(), field, reason));
        }
    }
    Ok(Checked { name: name.to_owned(), reading, problems })
}

/// The page's answer to an upload: the report, and an id to confirm with
/// when the file may be published.
pub fn answer(uploads: &Uploads, checked: Checked) -> serde_json::Value {
    let report = html::report(&checked);
    let (ok, rows) = (checked.ok(), checked.reading.drafts.len());
    let id = ok.then(|| uploads.keep(checked.reading.drafts));
    serde_json::json!({"ok": ok, "rows": rows, "id": id, "html": report})
}

impl Uploads {
    fn keep(&self, drafts: Vec<Draft>) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.next += 1;
        let id = inner.next;
        let progress = Progress { state: "checked", total: drafts.len(), ..Progress::default() };
        if inner.held.len() == KEPT {
            inner.held.pop_front();
        }
        inner.held.push_back((id, Upload { drafts: Some(drafts), progress: Arc::new(Mutex::new(progress)) }));
        id
    }

    /// The progress of upload `id`, as JSON.
    pub fn progress(&self, id: u64) -> Option<serde_json::Value> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (_, upload) = inner.held.iter().find(|(i, _)| *i == id)?;
        let progress = upload.progress.lock().unwrap_or_else(|p| p.into_inner()).clone();
        serde_json::to_value(progress).ok()
    }
}

/// Starts publishing upload `id` in the background.
pub fn publish(uploads: &Uploads, node: Arc<Node>, id: u64) -> Result<(), String> {
    let (drafts, progress) = {
        let mut inner = uploads.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some((_, upload)) = inner.held.iter_mut().find(|(i, _)| *i == id) else {
            return Err(format!("没有待发布的上传 {id}：请重新上传文件"));
        };
        let drafts = upload.drafts.take().ok_or("这个文件已在发布或已发布")?;
        (drafts, upload.progress.clone())
    };
    progress.lock().unwrap_or_else(|p| p.into_inner()).state = "publishing";
    tokio::task::spawn_blocking(move || {
        let update = |f: &dyn Fn(&mut Progress)| f(&mut progress.lock().unwrap_or_else(|p| p.into_inner()));
        for chunk in drafts.chunks(PUBLISH_BATCH) {
            let result = {
                let mut clock = node.clock();
                node.store.publish(&node.config.id, &mut clock, chunk)
            };
            match result {
                Ok(report) => {
                    update(&|p| {
                        p.done += chunk.len();
                        p.created += report.created;
                        p.updated += report.updated;
                        p.unchanged += report.unchanged;
                        p.withdrawn += report.withdrawn;
                    });
                    node.outbox_grew.notify_one();
                }
                Err(e) => {
                    tracing::error!(error = %e, "console: publishing an upload failed");
                    update(&|p| {
                        p.state = "failed";
                        p.error = format!("本站存储出错：{e}（已发布的 {} 行保留）", p.done);
                    });
                    return;
                }
            }
        }
        update(&|p| p.state = "done");
        tracing::info!(rows = drafts.len(), "published from the console");
    });
    Ok(())
}
