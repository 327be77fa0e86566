//! Virtual time, and the timers that wake waiting threads.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::Tid;

/// A moment of a world's virtual clock: nanoseconds since the world began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct VirtualTime(u64);

impl VirtualTime {
    /// When the world begins.
    pub(crate) const START: VirtualTime = VirtualTime(0);

    /// The moment `duration` after this one (the end of time if that does
    /// not fit).
    pub(crate) fn after(self, duration: Duration) -> VirtualTime {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        VirtualTime(self.0.saturating_add(nanos))
    }

    /// The time from the world's beginning to this moment.
    pub(crate) fn since_start(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// The time from `earlier` to this moment; zero if `earlier` is later.
    pub(crate) fn since(self, earlier: VirtualTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Whole seconds since the world began.
    pub(crate) fn whole_seconds(self) -> u64 {
        self.0 / 1_000_000_000
    }
}

impl fmt::Display for VirtualTime {
    /// As reports print a time: `12.3 ms (virtual)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Virtual(self.since_start()))
    }
}

/// A span of virtual time, as reports print it.
pub(crate) struct Virtual(pub(crate) Duration);

impl fmt::Display for Virtual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} ms (virtual)", self.0.as_secs_f64() * 1e3)
    }
}

/// The virtual time one step costs, in nanoseconds: drawn uniformly from
/// this range, so that loops that poll advance the clock and no two steps
/// share a timestamp.
pub(crate) const QUANTUM_NS: RangeInclusive<u64> = 1_000..=10_000;

impl VirtualTime {
    /// This moment plus one step's quantum of `nanos`.
    pub(crate) fn plus_quantum(self, nanos: u64) -> VirtualTime {
        VirtualTime(self.0.saturating_add(nanos))
    }
}

/// A thread's deadline: when it passes, the thread wakes with a timeout,
/// unless it has woken since (its wait epoch moved on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timer {
    /// When it fires.
    pub(crate) deadline: VirtualTime,
    /// Order of setting: of two timers with one deadline, the older fires
    /// first.
    seq: u64,
    /// The thread it wakes.
    pub(crate) tid: Tid,
    /// The thread's wait epoch when the timer was set.
    pub(crate) epoch: u64,
}

/// Every pending timer of a world, the earliest first.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
    set: u64,
}

impl Timers {
    /// Sets a timer for thread `tid` in wait epoch `epoch`.
    pub(crate) fn set(&mut self, deadline: VirtualTime, tid: Tid, epoch: u64) {
        self.set += 1;
        self.heap.push(Reverse(Timer {
            deadline,
            seq: self.set,
            tid,
            epoch,
        }));
    }

    /// The earliest deadline, if any timer is pending.
    pub(crate) fn next_deadline(&self) -> Option<VirtualTime> {
        self.heap.peek().map(|Reverse(timer)| timer.deadline)
    }

    /// Takes the earliest timer if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: VirtualTime) -> Option<Timer> {
        if self.next_deadline()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(timer)| timer)
    }
}
