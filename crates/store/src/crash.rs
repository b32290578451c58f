//! Crash points for fault tests: with `KECHUANG_CRASH_AT=POINT:N` set, the
//! process kills itself with SIGKILL the N-th time it passes `POINT`, so a
//! test can crash it at an exact step instead of racing a timer;
//! `POINT:N:stop` sends SIGTERM instead, for a clean shutdown at that step.
//! Unset, a pass costs one load of an initialised cell.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, raise};

/// The environment variable that arms a crash point.
pub const ENV: &str = "KECHUANG_CRASH_AT";

/// What an armed point does to the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// SIGKILL: a crash.
    Kill,
    /// SIGTERM: a clean shutdown that starts at this step.
    Stop,
}

static ARMED: OnceLock<Option<(String, u64, Action)>> = OnceLock::new();
static PASSES: AtomicU64 = AtomicU64::new(0);

/// Marks one pass through `point`; kills (or stops) the process if it is the armed pass.
pub fn point(point: &str) {
    let Some((armed, at, action)) = ARMED.get_or_init(|| parse(std::env::var(ENV).ok().as_deref())) else {
        return;
    };
    if armed != point || PASSES.fetch_add(1, Ordering::SeqCst) + 1 != *at {
        return;
    }
    match action {
        Action::Kill => {
            tracing::warn!(point, pass = at, "crash point reached: killing this process");
            raise(Signal::SIGKILL).expect("raising SIGKILL");
        }
        Action::Stop => {
            tracing::warn!(point, pass = at, "stop point reached: shutting this process down");
            raise(Signal::SIGTERM).expect("raising SIGTERM");
            // Lets the signal task cancel the shutdown token before this
            // thread takes its next step, so the stop lands at this point.
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// `feed-applied:3` → the point, the pass and the action; anything else disarms.
fn parse(value: Option<&str>) -> Option<(String, u64, Action)> {
    let (point, rest) = value?.split_once(':')?;
    let (at, action) = match rest.split_once(':') {
        None => (rest, Action::Kill),
        Some((at, "stop")) => (at, Action::Stop),
        Some(_) => return None,
    };
    let at: u64 = at.trim().parse().ok().filter(|n| *n > 0)?;
    Some((point.trim().to_owned(), at, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_point_and_pass() {
        assert_eq!(parse(Some("feed-applied:3")), Some(("feed-applied".into(), 3, Action::Kill)));
        assert_eq!(parse(Some("push-durable: 12")), Some(("push-durable".into(), 12, Action::Kill)));
        assert_eq!(parse(Some("matching-routed:5:stop")), Some(("matching-routed".into(), 5, Action::Stop)));
    }

    #[test]
    fn ignores_what_it_cannot_read() {
        assert_eq!(parse(None), None);
        assert_eq!(parse(Some("feed-applied")), None);
        assert_eq!(parse(Some("feed-applied:0")), None);
        assert_eq!(parse(Some("feed-applied:x")), None);
        assert_eq!(parse(Some("feed-applied:3:pause")), None);
    }
}
