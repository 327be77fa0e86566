//! What the graded suites and the lab's tools agree on, said once: the
//! parts, the course's time limits, and the environment variables that
//! steer a run of a lab test.
//!
//! | variable | meaning |
//! |---|---|
//! | [`TIME_VAR`] `LAB_TIME` | `sim` (the default): a simulated world in virtual time; `real`: the wall clock, as the course runs |
//! | [`SEED_VAR`] `LAB_SEED` | the seed of the run (of its first world, with `LAB_RUNS`); fresh and printed when unset |
//! | [`RUNS_VAR`] `LAB_RUNS` | in simulation, run this many worlds, with the seeds that follow `LAB_SEED` |
//! | [`SCHED_VAR`] `LAB_SCHED` | the simulated scheduler's policy: `random` (the default) or `pct` |
//! | [`CHECK_DETERMINISM_VAR`] `LAB_CHECK_DETERMINISM` | `1`: run each world twice and fail where the two schedules part |
//! | [`SIM_STATS_VAR`] `LAB_SIM_STATS` | set: count a simulation's steps per call site and print the busiest |
//! | [`GRADING_VAR`] `LAB_GRADING` | set by the grader only (see [`verdict`](crate::verdict)) |

use std::time::Duration;

/// The parts of the labs, in the order students do them; a test's name ends
/// with its part (`initial_election_2a`), which is how `cargo test 2a` picks
/// a part.
pub const PARTS: [&str; 6] = ["2a", "2b", "2c", "2d", "3a", "3b"];

/// The part a test belongs to, from the suffix of its name (a test path's
/// last segment): `part_2a::initial_election_2a` is in `2a`.
pub fn part_of(test: &str) -> Option<&'static str> {
    let name = test.rsplit("::").next().unwrap_or(test);
    PARTS.into_iter().find(|part| {
        name.strip_suffix(part)
            .is_some_and(|stem| stem.ends_with('_'))
    })
}

/// The course's limit on one test: wall time in real time, virtual time in
/// a simulation.
pub const TEST_LIMIT: Duration = Duration::from_secs(120);

/// The course's limit on one real-time pass through a part's tests.
pub const PART_LIMIT: Duration = Duration::from_secs(600);

/// Picks simulated or real time: `sim` or `real`.
pub const TIME_VAR: &str = "LAB_TIME";
/// Fixes the seed.
pub const SEED_VAR: &str = "LAB_SEED";
/// Asks for several simulated worlds, one seed after another.
pub const RUNS_VAR: &str = "LAB_RUNS";
/// Picks the simulated scheduler's policy.
pub const SCHED_VAR: &str = "LAB_SCHED";
/// Asks for each simulated world to run twice and be compared.
pub const CHECK_DETERMINISM_VAR: &str = "LAB_CHECK_DETERMINISM";
/// Asks a simulation to count its steps per call site.
pub const SIM_STATS_VAR: &str = "LAB_SIM_STATS";
/// Set by the grader, and by it alone.
pub const GRADING_VAR: &str = "LAB_GRADING";

/// The clock a lab test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Time {
    /// A simulated world: virtual time, one seed fixes everything.
    Sim,
    /// The wall clock and the OS scheduler, as the course runs.
    Real,
}

impl Time {
    /// The value of [`TIME_VAR`] that picks it.
    pub fn name(self) -> &'static str {
        match self {
            Time::Sim => "sim",
            Time::Real => "real",
        }
    }

    /// The clock [`TIME_VAR`] names; simulation when it is unset or empty.
    ///
    /// # Panics
    /// When it names something else than `sim` or `real`.
    pub fn from_env() -> Time {
        match std::env::var(TIME_VAR).as_deref().map(str::trim) {
            Err(_) | Ok("" | "sim") => Time::Sim,
            Ok("real") => Time::Real,
            Ok(other) => panic!("{TIME_VAR} must be `sim` or `real`, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_belongs_to_the_part_its_name_ends_with() {
        assert_eq!(part_of("part_2a::initial_election_2a"), Some("2a"));
        assert_eq!(
            part_of("beyond::a_snapshot_keeps_the_entries_after_it_2d"),
            Some("2d")
        );
        assert_eq!(part_of("basic_3a"), Some("3a"));
        assert_eq!(part_of("part_2a::helper"), None);
        assert_eq!(part_of("x2a"), None);
        assert_eq!(part_of("tests_2a::helper_2e"), None);
    }
}
