//! Scheduling policies: which runnable thread goes next.

use std::cmp::Reverse;
use std::fmt;

use rand::RngExt;

use super::Tid;
use super::world::State;

/// The scheduling policy: which runnable thread goes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// At random: the thread that just stepped keeps running with a fixed
    /// probability if it can, else the next is drawn uniformly among the
    /// runnable threads.
    Random,
    /// PCT-style: each thread has a random priority and the highest runnable
    /// one runs; at random change points the running thread drops below all
    /// others. Finds bugs that need one thread to be starved for a while.
    Pct,
}

impl Policy {
    /// The policy named by `LAB_SCHED` (`random`, the default, or `pct`).
    ///
    /// # Panics
    /// When `LAB_SCHED` names something else.
    pub fn from_env() -> Policy {
        match std::env::var(crate::lab::SCHED_VAR)
            .as_deref()
            .map(str::trim)
        {
            Err(_) | Ok("" | "random") => Policy::Random,
            Ok("pct") => Policy::Pct,
            Ok(other) => panic!(
                "{} must be `random` or `pct`, got {other:?}",
                crate::lab::SCHED_VAR
            ),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Random => "random",
            Policy::Pct => "pct",
        })
    }
}

/// On average, a PCT change point every this many steps.
const PCT_CHANGE_PERIOD: u64 = 4000;

/// Under the random policy, a thread that stays runnable after its step
/// keeps running with this probability (in percent); otherwise the next
/// thread is drawn uniformly from all runnable ones, itself included. Every
/// interleaving stays possible, and a switch happens at a third of the
/// steps instead of most.
const STAY_PERCENT: u32 = 75;

impl State {
    /// A priority for a new thread under PCT.
    pub(super) fn new_priority(&mut self) -> i64 {
        self.rng.random_range(0..1_000_000)
    }

    /// Under PCT, at random change points, drops thread `tid` below every
    /// other.
    pub(super) fn maybe_demote(&mut self, tid: Tid) {
        if self.policy == Policy::Pct && self.rng.random_range(0..PCT_CHANGE_PERIOD) == 0 {
            self.pct_floor -= 1;
            let floor = self.pct_floor;
            self.thread_mut(tid).priority = floor;
        }
    }

    /// Chooses among the runnable threads (there is one at least);
    /// `current` is the thread that just took a step, if it still exists.
    pub(super) fn choose(&mut self, current: Option<Tid>) -> Tid {
        match self.policy {
            Policy::Random
                if current.is_some_and(|t| self.runnable.contains(&t))
                    && self.rng.random_range(0..100) < STAY_PERCENT =>
            {
                current.expect("checked above")
            }
            Policy::Random => {
                let k = self.rng.random_range(0..self.runnable.len());
                *self.runnable.iter().nth(k).expect("k < len")
            }
            Policy::Pct => *self
                .runnable
                .iter()
                .max_by_key(|&&t| (self.thread(t).priority, Reverse(t)))
                .expect("runnable is not empty"),
        }
    }
}
