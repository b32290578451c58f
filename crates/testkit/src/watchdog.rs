//! A bound on how long one test's network may live, so that a hang fails
//! the run in minutes, naming the test and printing its logs, instead of
//! holding CI until its own limit.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a cluster may live unless `KECHUANG_TEST_WATCHDOG_SECS` says otherwise.
const LIMIT: Duration = Duration::from_secs(15 * 60);

/// Every daemon started by this test binary and not yet stopped.
static RUNNING: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Notes a started daemon, so a firing watchdog can kill it.
pub(crate) fn started(pid: u32) {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner()).insert(pid);
}

/// Notes a daemon that has exited.
pub(crate) fn stopped(pid: u32) {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
}

/// Aborts the test binary if it is not dropped within the limit.
pub(crate) struct Watchdog {
    _alive: mpsc::Sender<()>,
}

impl Watchdog {
    /// Watches the test on this thread, whose processes live under `dir`.
    pub(crate) fn start(dir: &Path) -> Self {
        let limit = std::env::var("KECHUANG_TEST_WATCHDOG_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(LIMIT, Duration::from_secs);
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let dir = dir.to_owned();
        let (alive, dropped) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if dropped.recv_timeout(limit) == Err(RecvTimeoutError::Timeout) {
                fire(&test, &dir, limit);
            }
        });
        Self { _alive: alive }
    }
}

/// Prints the logs under `dir`, kills every daemon and aborts.
fn fire(test: &str, dir: &Path, limit: Duration) -> ! {
    // Straight to stderr: the test harness captures `eprintln!` and would
    // lose it with the abort.
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "===== {test} still runs after {limit:?}: aborting the test binary =====");
    for log in logs(dir) {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = writeln!(err, "===== {} =====\n{text}", log.display());
    }
    for pid in RUNNING.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
    }
    std::process::abort()
}

/// The daemon logs one or two levels under `dir`.
fn logs(dir: &Path) -> Vec<PathBuf> {
    let entries = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default()
    };
    let mut found: Vec<PathBuf> = entries(dir)
        .into_iter()
        .flat_map(|p| if p.is_dir() { entries(&p) } else { vec![p] })
        .filter(|p| p.file_name().is_some_and(|n| n == "log.txt"))
        .collect();
    found.sort();
    found
}
