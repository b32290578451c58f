//! The hybrid logical clock that versions every change.
//!
//! A version packs wall-clock milliseconds (upper 48 bits) and a logical
//! counter (lower 16 bits) into one `u64`, so versions compare as integers,
//! stay close to real time, and still grow strictly when the wall clock
//! stalls or steps back. Nothing here wraps or saturates: a clock that has
//! no greater version to give says so ([`Exhausted`]).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

const LOGICAL_BITS: u32 = 16;
const LOGICAL_MASK: u64 = (1 << LOGICAL_BITS) - 1;
/// The largest wall-clock millisecond a version can carry (in the year 10889).
const MAX_MILLIS: u64 = u64::MAX >> LOGICAL_BITS;

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

    /// The version of wall-clock millisecond `millis` and logical counter
    /// `logical`, if both fit.
    pub fn checked(millis: u64, logical: u64) -> Option<Self> {
        (millis <= MAX_MILLIS && logical <= LOGICAL_MASK).then_some(Self((millis << LOGICAL_BITS) | logical))
    }

    /// How many milliseconds this version's wall time is ahead of `now_ms`
    /// (0 when it is not ahead).
    pub fn ahead_of(self, now_ms: u64) -> u64 {
        self.millis().saturating_sub(now_ms)
    }
}

/// The clock has no version greater than the last one to give: it has
/// seen a version at the very end of the representable time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("clock: no version after {last} can be represented (a version from the far future was taken in)")]
pub struct Exhausted {
    /// The last version the clock handed out or observed.
    pub last: Hlc,
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
    pub fn tick(&mut self) -> Result<Hlc, Exhausted> {
        self.tick_at(wall_millis())
    }

    /// A new version for a local change at wall time `now_ms`: greater
    /// than every version before, or [`Exhausted`] if none can be.
    pub fn tick_at(&mut self, now_ms: u64) -> Result<Hlc, Exhausted> {
        let last = self.last;
        let next = if now_ms > last.millis() {
            Hlc::checked(now_ms, 0)
        } else if last.logical() < LOGICAL_MASK {
            Hlc::checked(last.millis(), last.logical() + 1)
        } else {
            last.millis().checked_add(1).and_then(|millis| Hlc::checked(millis, 0))
        };
        let next = next.ok_or(Exhausted { last })?;
        self.last = next;
        Ok(next)
    }

    /// Takes note of a version seen from another node, so later local
    /// versions are greater than it.
    pub fn observe(&mut self, remote: Hlc) {
        if remote > self.last {
            self.last = remote;
        }
    }

    /// Like [`Clock::observe`], unless `remote` is more than `max_ahead_ms`
    /// ahead of the wall time `now_ms`: a version from the far future is not
    /// taken in (it would leave this clock nothing to hand out). Returns
    /// whether it was.
    pub fn observe_within(&mut self, remote: Hlc, now_ms: u64, max_ahead_ms: u64) -> bool {
        if remote.ahead_of(now_ms) > max_ahead_ms {
            return false;
        }
        self.observe(remote);
        true
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
        let a = clock.tick_at(1_000).unwrap();
        let b = clock.tick_at(2_000).unwrap();
        assert_eq!((a.millis(), a.logical()), (1_000, 0));
        assert_eq!((b.millis(), b.logical()), (2_000, 0));
    }

    #[test]
    fn tick_counts_logically_when_wall_clock_stalls_or_steps_back() {
        let mut clock = Clock::resume(Hlc::ZERO);
        let a = clock.tick_at(5_000).unwrap();
        let b = clock.tick_at(5_000).unwrap();
        let c = clock.tick_at(4_000).unwrap();
        assert!(a < b && b < c);
        assert_eq!(c.millis(), 5_000);
        assert_eq!(c.logical(), 2);
    }

    #[test]
    fn logical_overflow_carries_into_millis() {
        let mut clock = Clock::resume(Hlc::checked(7, LOGICAL_MASK).unwrap());
        let next = clock.tick_at(0).unwrap();
        assert_eq!((next.millis(), next.logical()), (8, 0));
    }

    #[test]
    fn a_clock_at_the_end_of_time_refuses_instead_of_wrapping() {
        for last in [u64::MAX, Hlc::checked(MAX_MILLIS, LOGICAL_MASK).unwrap().as_u64()] {
            let mut clock = Clock::resume(Hlc::ZERO);
            clock.observe(Hlc::from_u64(last));
            assert_eq!(clock.tick_at(1_000), Err(Exhausted { last: Hlc::from_u64(last) }));
            assert_eq!(clock.last(), Hlc::from_u64(last), "a refused tick changes nothing");
        }
        let mut clock = Clock::resume(Hlc::checked(MAX_MILLIS, 5).unwrap());
        assert_eq!(clock.tick_at(0).unwrap().logical(), 6, "what still fits is handed out");
        assert!(Clock::resume(Hlc::ZERO).tick_at(MAX_MILLIS + 1).is_err(), "a wall clock beyond the end");
        assert_eq!(Hlc::checked(MAX_MILLIS + 1, 0), None);
        assert_eq!(Hlc::checked(1, LOGICAL_MASK + 1), None);
    }

    #[test]
    fn observed_remote_versions_are_exceeded_by_local_ones() {
        let mut clock = Clock::resume(Hlc::ZERO);
        clock.tick_at(1_000).unwrap();
        let remote = Hlc::checked(9_000, 3).unwrap();
        clock.observe(remote);
        assert!(clock.tick_at(1_001).unwrap() > remote);
    }

    #[test]
    fn versions_from_the_far_future_are_not_taken_in() {
        let mut clock = Clock::resume(Hlc::ZERO);
        assert!(clock.observe_within(Hlc::checked(1_500, 0).unwrap(), 1_000, 600));
        assert!(!clock.observe_within(Hlc::from_u64(u64::MAX), 1_000, 600));
        assert_eq!(clock.last(), Hlc::checked(1_500, 0).unwrap());
        assert!(clock.tick_at(1_000).is_ok());
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
                let v = clock.tick_at(now).unwrap();
                prop_assert!(v > previous, "{v} after {previous}");
                previous = v;
            }
        }
    }
}
