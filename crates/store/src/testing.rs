//! Helpers for this crate's unit tests.

use std::time::{Duration, Instant};

/// Opens a store again with `open`; sled's background threads may hold the
/// file lock for a moment after the previous handle is dropped.
pub fn reopen<T>(open: impl Fn() -> crate::Result<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open() {
            Ok(store) => return store,
            Err(e) if Instant::now() < deadline && e.to_string().contains("lock") => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("reopening the store: {e}"),
        }
    }
}
