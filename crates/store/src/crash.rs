//! Crash points for fault tests: with `KECHUANG_CRASH_AT=POINT:N` set, the
//! process kills itself with SIGKILL the N-th time it passes `POINT`, so a
//! test can crash it at an exact step instead of racing a timer. Unset, a
//! pass costs one load of an initialised cell.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms a crash point.
pub const ENV: &str = "KECHUANG_CRASH_AT";

static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
static PASSES: AtomicU64 = AtomicU64::new(0);

/// Marks one pass through `point`; kills the process if it is the armed pass.
pub fn point(point: &str) {
    let Some((armed, at)) = ARMED.get_or_init(|| parse(std::env::var(ENV).ok().as_deref())) else { return };
    if armed != point {
        return;
    }
    if PASSES.fetch_add(1, Ordering::SeqCst) + 1 == *at {
        tracing::warn!(point, pass = at, "crash point reached: killing this process");
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).expect("raising SIGKILL");
    }
}

/// `feed-applied:3` → the point and the pass to crash on; anything else disarms.
fn parse(value: Option<&str>) -> Option<(String, u64)> {
    let (point, at) = value?.split_once(':')?;
    let at: u64 = at.trim().parse().ok().filter(|n| *n > 0)?;
    Some((point.trim().to_owned(), at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_point_and_pass() {
        assert_eq!(parse(Some("feed-applied:3")), Some(("feed-applied".into(), 3)));
        assert_eq!(parse(Some("push-durable: 12")), Some(("push-durable".into(), 12)));
    }

    #[test]
    fn ignores_what_it_cannot_read() {
        assert_eq!(parse(None), None);
        assert_eq!(parse(Some("feed-applied")), None);
        assert_eq!(parse(Some("feed-applied:0")), None);
        assert_eq!(parse(Some("feed-applied:x")), None);
    }
}
