//! The hybrid logical clock that versions every change.
//!
//! A version packs wall-clock milliseconds (upper 48 bits) and a logical
//! counter (lower 16 bits) into one `u64`, so versions compare as integers,
//! stay close to real time, and still grow strictly when the wall clock
//! stalls or steps back.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

const LOGICAL_BITS: u32 = 16;
const LOGICAL_MASK: u64 = (1 << LOGICAL_BITS) - 1;

/// A hybrid-logical-clock version: totally ordered, comparable across nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Hlc(u64);

impl Hlc {
    /// The version before every other.
    pub const ZERO: Hlc = Hlc(0);

    /// The version with this packed value.
    pub const fn from_u64(packed: u64) -> Self {
        Self(packed)
    }

    /// The packed value.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Wall-clock milliseconds since the Unix epoch.
    pub const fn millis(self) -> u64 {
        self.0 >> LOGICAL_BITS
    }

    /// The logical counter within one millisecond.
    pub const fn logical(self) -> u64 {
        self.0 & LOGICAL_MASK
    }

    fn new(millis: u64, logical: u64) -> Self {
        Self((millis << LOGICAL_BITS) | (logical & LOGICAL_MASK))
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.millis(), self.logical())
    }
}

/// A node's clock: hands out strictly increasing versions.
#[derive(Debug, Clone)]
pub struct Clock {
    last: Hlc,
}

impl Clock {
    /// A clock that continues after `last` (the highest version persisted).
    pub fn resume(last: Hlc) -> Self {
        Self { last }
    }

    /// The highest version handed out or observed.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// A new version for a local change, using the system wall clock.
    pub fn tick(&mut self) -> Hlc {
        self.tick_at(wall_millis())
    }

    /// A new version for a local change at wall time `now_ms`.
    pub fn tick_at(&mut self, now_ms: u64) -> Hlc {
        let next = if now_ms > self.last.millis() {
            Hlc::new(now_ms, 0)
        } else if self.last.logical() < LOGICAL_MASK {
            Hlc::new(self.last.millis(), self.last.logical() + 1)
        } else {
            Hlc::new(self.last.millis() + 1, 0)
        };
        self.last = next;
        next
    }

    /// Takes note of a version seen from another node, so later local
    /// versions are greater than it.
    pub fn observe(&mut self, remote: Hlc) {
        if remote > self.last {
            self.last = remote;
        }
    }
}

/// Milliseconds since the Unix epoch, by the system clock.
pub fn wall_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn tick_follows_wall_clock_when_it_moves_forward() {
        let mut clock = Clock::resume(Hlc::ZERO);
        let a = clock.tick_at(1_000);
        let b = clock.tick_at(2_000);
        assert_eq!((a.millis(), a.logical()), (1_000, 0));
        assert_eq!((b.millis(), b.logical()), (2_000, 0));
    }

    #[test]
    fn tick_counts_logically_when_wall_clock_stalls_or_steps_back() {
        let mut clock = Clock::resume(Hlc::ZERO);
        let a = clock.tick_at(5_000);
        let b = clock.tick_at(5_000);
        let c = clock.tick_at(4_000);
        assert!(a < b && b < c);
        assert_eq!(c.millis(), 5_000);
        assert_eq!(c.logical(), 2);
    }

    #[test]
    fn logical_overflow_carries_into_millis() {
        let mut clock = Clock::resume(Hlc::new(7, LOGICAL_MASK));
        let next = clock.tick_at(0);
        assert_eq!((next.millis(), next.logical()), (8, 0));
    }

    #[test]
    fn observed_remote_versions_are_exceeded_by_local_ones() {
        let mut clock = Clock::resume(Hlc::ZERO);
        clock.tick_at(1_000);
        let remote = Hlc::new(9_000, 3);
        clock.observe(remote);
        assert!(clock.tick_at(1_001) > remote);
    }

    proptest! {
        #[test]
        fn versions_strictly_increase_whatever_the_wall_clock_does(
            steps in proptest::collection::vec((0u64..10_000, proptest::option::of(0u64..(20_000 << 16))), 1..200)
        ) {
            let mut clock = Clock::resume(Hlc::ZERO);
            let mut previous = Hlc::ZERO;
            for (now, remote) in steps {
                if let Some(remote) = remote {
                    clock.observe(Hlc::from_u64(remote));
                    previous = previous.max(Hlc::from_u64(remote));
                }
                let v = clock.tick_at(now);
                prop_assert!(v > previous, "{v} after {previous}");
                previous = v;
            }
        }
    }
}
