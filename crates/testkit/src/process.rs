//! One child process of ours: started, awaited until ready, stopped.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The variable `kechuang_store::crash` reads.
const CRASH_ENV: &str = "KECHUANG_CRASH_AT";

/// The path of one of the workspace's binaries, next to the test executable.
pub fn binary(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("KECHUANG_BIN_DIR") {
        return Path::new(&dir).join(name);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let profile_dir = exe.parent().and_then(Path::parent).expect("target directory");
    let path = profile_dir.join(name);
    assert!(path.exists(), "{} is missing: build the workspace first (`cargo build --workspace`)", path.display());
    path
}

/// A command running one of the workspace's binaries, in English whatever
/// the machine's locale (the scenarios read its output).
pub fn command(name: &str) -> Command {
    let mut command = Command::new(binary(name));
    english(&mut command);
    command
}

/// Makes `command` answer in English.
fn english(command: &mut Command) {
    command.env_remove("LC_ALL").env_remove("LC_MESSAGES").env("LANG", "C.UTF-8");
}

/// Runs a command to completion, failing with its output if it fails.
pub fn run_ok(command: &mut Command) -> anyhow::Result<Output> {
    let output = command.stdin(Stdio::null()).output().with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

thread_local! {
    /// Set when a wait of this test thread timed out, so the cluster prints its logs.
    pub(crate) static WAIT_FAILED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Polls `check` until it returns `Ok(true)` or `timeout` passes; the last
/// error or `what` explains a timeout.
pub fn eventually(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(20);
    loop {
        let last = check();
        if matches!(last, Ok(true)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            WAIT_FAILED.with(|f| f.set(true));
            return match last {
                Err(e) => Err(e.context(format!("timed out after {timeout:?} waiting for {what}"))),
                _ => bail!("timed out after {timeout:?} waiting for {what}"),
            };
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

/// A daemon of ours: its directory, its log and, while running, its child.
#[derive(Debug)]
pub struct Daemon {
    /// What to run, e.g. `kechuang-node`.
    pub program: &'static str,
    /// Its config file.
    pub config: PathBuf,
    /// Where its stderr goes.
    pub log: PathBuf,
    child: Option<Child>,
    crash_at: Option<String>,
    file_size_limit: Option<u64>,
    extra: Vec<String>,
}

impl Daemon {
    /// A daemon that is not running yet.
    pub fn new(program: &'static str, config: PathBuf) -> Self {
        let log = config.with_file_name("log.txt");
        Self { program, config, log, child: None, crash_at: None, file_size_limit: None, extra: Vec::new() }
    }

    /// The file the daemon writes once it listens.
    pub fn ready_file(&self) -> PathBuf {
        self.config.with_file_name("ready.json")
    }

    /// Makes the next start kill itself the `pass`-th time it reaches the
    /// crash point `point` (see `kechuang_store::crash`); later starts run normally.
    pub fn arm_crash(&mut self, point: &str, pass: u64) {
        self.crash_at = Some(format!("{point}:{pass}"));
    }

    /// Makes the next start shut itself down cleanly (SIGTERM) the
    /// `pass`-th time it reaches `point`; later starts run normally.
    pub fn arm_stop(&mut self, point: &str, pass: u64) {
        self.crash_at = Some(format!("{point}:{pass}:stop"));
    }

    /// Makes later starts pass `args` after `run --config FILE`.
    pub fn run_args(&mut self, args: &[&str]) {
        self.extra = args.iter().map(|a| a.to_string()).collect();
    }

    /// Makes later starts run with files limited to about `bytes` (`ulimit -f`
    /// in 512- or 1024-byte blocks, as the shell counts; SIGXFSZ ignored):
    /// writes past it fail as on a full disk. `None` lifts it.
    pub fn limit_file_size(&mut self, bytes: Option<u64>) {
        self.file_size_limit = bytes;
    }

    /// Starts the daemon and waits until its ready file names its pid, or,
    /// when a crash is armed, until it is ready or has crashed.
    pub fn start(&mut self) -> anyhow::Result<serde_json::Value> {
        if self.child.is_some() {
            bail!("{} is already running", self.program);
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let crash_at = self.crash_at.take();
        let mut command = match self.file_size_limit {
            // A shell applies the limit and ignores SIGXFSZ, then becomes the daemon.
            Some(limit) => {
                let mut c = Command::new("/bin/sh");
                let blocks = limit.div_ceil(512);
                c.arg("-c")
                    .arg(format!("trap '' XFSZ; ulimit -f {blocks} && exec \"$0\" \"$@\""))
                    .arg(binary(self.program));
                c
            }
            None => Command::new(binary(self.program)),
        };
        english(&mut command);
        match &crash_at {
            Some(at) => command.env(CRASH_ENV, at),
            None => command.env_remove(CRASH_ENV),
        };
        let child = command
            .args(["run", "--config"])
            .arg(&self.config)
            .args(&self.extra)
            .env("KECHUANG_LOG", std::env::var("KECHUANG_LOG").unwrap_or_else(|_| "info".into()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.program))?;
        let pid = child.id();
        crate::watchdog::started(pid);
        self.child = Some(child);
        let ready_file = self.ready_file();
        let mut ready = serde_json::Value::Null;
        let mut exited = None;
        eventually(Duration::from_secs(30), &format!("{} to be ready", self.program), || {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                exited = Some(status);
                return Ok(true);
            }
            let Ok(text) = std::fs::read_to_string(&ready_file) else { return Ok(false) };
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { return Ok(false) };
            let ok = value["pid"].as_u64() == Some(u64::from(pid));
            ready = value;
            Ok(ok)
        })?;
        match exited {
            Some(status) if !(crash_at.is_some() && (killed(status) || status.success())) => {
                self.exited();
                bail!("{} exited with {status}:\n{}", self.program, self.log_text())
            }
            _ => Ok(ready),
        }
    }

    /// Forgets a child that has exited on its own.
    fn exited(&mut self) {
        if let Some(child) = self.child.take() {
            crate::watchdog::stopped(child.id());
        }
    }

    /// Whether the daemon is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The running daemon's resident memory, in bytes (Linux `VmRSS`).
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        let Some(child) = &self.child else { bail!("{} is not running", self.program) };
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc status"))?;
        Ok(kib * 1024)
    }

    /// Waits (up to two minutes) until an armed crash point has killed the daemon.
    pub fn wait_crashed(&mut self) -> anyhow::Result<()> {
        self.wait_exit("crash", killed)
    }

    /// Waits (up to two minutes) until an armed stop point has shut the
    /// daemon down and it has exited cleanly.
    pub fn wait_stopped(&mut self) -> anyhow::Result<()> {
        self.wait_exit("stop", |status| status.success())
    }

    fn wait_exit(&mut self, point: &str, expected: fn(ExitStatus) -> bool) -> anyhow::Result<()> {
        let timeout = Duration::from_secs(120);
        let program = self.program;
        let mut status = None;
        eventually(timeout, &format!("{program} to reach its {point} point"), || {
            let Some(child) = self.child.as_mut() else { bail!("{program} is not running") };
            status = child.try_wait()?;
            Ok(status.is_some())
        })?;
        self.exited();
        match status {
            Some(s) if expected(s) => Ok(()),
            other => bail!("{program} exited with {other:?}, not by its {point} point:\n{}", self.log_text()),
        }
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill(&mut self) {
        self.stop(Signal::SIGKILL);
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(&mut self) -> anyhow::Result<()> {
        let status = self.stop(Signal::SIGTERM);
        match status {
            Some(s) if !s.success() => bail!("{} exited with {s} after SIGTERM:\n{}", self.program, self.log_text()),
            _ => Ok(()),
        }
    }

    fn stop(&mut self, signal: Signal) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = kill(Pid::from_raw(child.id() as i32), signal);
        let _stopped = Stopped(child.id());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn killed(status: ExitStatus) -> bool {
    status.signal() == Some(Signal::SIGKILL as i32)
}

/// Tells the watchdog a daemon is gone once its stop has waited for it.
struct Stopped(u32);

impl Drop for Stopped {
    fn drop(&mut self) {
        crate::watchdog::stopped(self.0);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}
