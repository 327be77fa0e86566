//! Time: `std::time`'s `Instant`, read from the virtual clock in a
//! simulation, and `sleep`.
//!
//! A simulated world's clock starts at [`epoch`] and moves only when its
//! threads take steps or all of them wait; log lines stamped with
//! [`millis`] are therefore the same in every run of a seed.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::sync::OnceLock;

use super::sim;

pub use std::time::Duration;

pub use super::thread::sleep;

/// [`epoch`] on the std clock: the first time anyone asked.
fn origin() -> std::time::Instant {
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now)
}

/// Milliseconds from [`epoch`] to `now`: in a simulation, the
/// virtual milliseconds since the world began.
pub fn millis(now: Instant) -> u128 {
    now.saturating_duration_since(epoch()).as_millis()
}

/// The instant time counts from, the same for the whole process: every
/// simulated world begins there (its clock reads `epoch()` plus its virtual
/// time), and in real time it is the first moment anyone asked for it (the
/// harness and `Raft::new` ask early, so log time starts near 0).
pub fn epoch() -> Instant {
    Instant(origin())
}

/// A point in time, as [`std::time::Instant`]; virtual in a simulation.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// The current time: the virtual clock in a simulation, else the
    /// monotonic clock.
    pub fn now() -> Instant {
        match sim::here() {
            Some(here) => Instant(origin() + here.world.now().since_start()),
            None => Instant(std::time::Instant::now()),
        }
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_duration_since(earlier.0)
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// The time since `self`.
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self + duration`, unless it overflows.
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self - duration`, unless it underflows.
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Instant({:?} after the origin)",
            self.0.saturating_duration_since(origin())
        )
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, duration: Duration) -> Instant {
        Instant(self.0 + duration)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        self.0 += duration;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, duration: Duration) -> Instant {
        Instant(self.0 - duration)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, duration: Duration) {
        self.0 -= duration;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}
