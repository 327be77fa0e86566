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
//! | [`TIMELINE_VAR`] `LAB_TIMELINE` | `always`: write a key/value history's HTML timeline after every check, not only a failed one |
//! | [`RECORD_VAR`] `LAB_RECORD` | set by the tools: the file the harness appends its [run record](crate::record) to |
//! | [`GRADING_VAR`] `LAB_GRADING` | set by the grader only: the harness reads its token and records a verdict (see [`record`](crate::record)) |

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A part of the labs. Its [`name`](Part::name) is the suffix of its tests'
/// names (`initial_election_2a`, `reliable_put_kvsrv`), which is how
/// `cargo test 2a` picks it; a numbered part prints in capitals (`2A`), as
/// the course writes it, a named one as it is (`kvsrv`); each parses from
/// either case. Parts order as students do them: the versioned key/value
/// server and its lock (the 2025 course's first lab), then Raft, the
/// replicated state machine on it (the 2025 course's 4A), the
/// key/value service on Raft, and the sharded key/value service on the
/// replicated state machine (the 2025 course's Lab 5).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Part(usize);

/// The parts' names, in order: `Part(i)` is `NAMES[i]`.
/// No name may contain another, nor occur in the name of any other test of
/// the workspace: `cargo test NAME` selects by substring.
const NAMES: [&str; 12] = [
    "kvsrv", "kvlock", "2a", "2b", "2c", "2d", "rsm", "3a", "3b", "5a", "5b", "5c",
];

impl Part {
    /// Every part, in the order students do them.
    pub const ALL: [Part; NAMES.len()] = {
        let mut all = [Part(0); NAMES.len()];
        let mut i = 0;
        while i < NAMES.len() {
            all[i] = Part(i);
            i += 1;
        }
        all
    };

    /// The part's name, as its tests' names end: `2a`.
    pub fn name(self) -> &'static str {
        NAMES[self.0]
    }

    /// The part a test belongs to, from the suffix of its name (a test
    /// path's last segment): `part_2a::initial_election_2a` is in 2A.
    pub fn of_test(test: &str) -> Option<Part> {
        let name = test.rsplit("::").next().unwrap_or(test);
        Part::ALL.into_iter().find(|part| {
            name.strip_suffix(part.name())
                .is_some_and(|stem| stem.ends_with('_'))
        })
    }
}

impl fmt::Display for Part {
    /// `2A`, or `kvsrv`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            f.pad(&name.to_ascii_uppercase())
        } else {
            f.pad(name)
        }
    }
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Part({})", self.name())
    }
}

impl FromStr for Part {
    type Err = String;

    /// `2a` or `2A`; the error lists the parts.
    fn from_str(text: &str) -> Result<Part, String> {
        let lower = text.trim().to_ascii_lowercase();
        Part::ALL
            .into_iter()
            .find(|part| part.name() == lower)
            .ok_or_else(|| {
                let names: Vec<&str> = Part::ALL.iter().map(|p| p.name()).collect();
                format!("unknown part {text:?}; the parts are {}", names.join(", "))
            })
    }
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Part, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Part {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
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
/// Asks for a history's timeline after every check.
pub const TIMELINE_VAR: &str = "LAB_TIMELINE";
/// Set by the grader, and by it alone.
pub const GRADING_VAR: &str = "LAB_GRADING";
/// Set by the tools: the file the harness appends its run record to (see
/// [`record`](crate::record)).
pub const RECORD_VAR: &str = "LAB_RECORD";

/// The clock a lab test runs on; recorded by its [`name`](Time::name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
        let part = |name: &str| Part::of_test(name).map(Part::name);
        assert_eq!(part("part_2a::initial_election_2a"), Some("2a"));
        assert_eq!(
            part("beyond::a_snapshot_keeps_the_entries_after_it_2d"),
            Some("2d")
        );
        assert_eq!(part("basic_3a"), Some("3a"));
        assert_eq!(part("part_kvsrv::reliable_put_kvsrv"), Some("kvsrv"));
        assert_eq!(part("nested_kvlock"), Some("kvlock"));
        assert_eq!(part("part_2a::helper"), None);
        assert_eq!(part("x2a"), None);
        assert_eq!(part("tests_2a::helper_2e"), None);
    }

    #[test]
    fn a_part_prints_in_capitals_and_parses_either_way() {
        let b: Part = "2b".parse().unwrap();
        assert_eq!(b, Part::ALL[3]);
        assert_eq!("2B".parse::<Part>(), Ok(b));
        assert_eq!(b.to_string(), "2B");
        assert_eq!(format!("{b:<4}|"), "2B  |");
        let kvsrv: Part = "KVSRV".parse().unwrap();
        assert_eq!(kvsrv.to_string(), "kvsrv", "a named part prints as it is");
        assert_eq!(
            "2e".parse::<Part>(),
            Err(
                "unknown part \"2e\"; the parts are kvsrv, kvlock, 2a, 2b, 2c, 2d, rsm, 3a, 3b, 5a, 5b, 5c"
                    .to_owned()
            )
        );
        for (i, a) in Part::ALL.iter().enumerate() {
            for b in &Part::ALL[i + 1..] {
                assert!(
                    !a.name().contains(b.name()) && !b.name().contains(a.name()),
                    "`cargo test {}` would select {b} too, or the other way round",
                    a.name()
                );
            }
        }
        assert!(Part::ALL.windows(2).all(|w| w[0] < w[1]), "in order");
    }
}
