//! The grading scheme and the results file of `scripts/grade`.
//!
//! Every test of the lab suites is worth [`POINTS_PER_TEST`] points. A test
//! scores them only if it passes every one of its simulation seeds and every
//! one of its real-time runs, each run within [`TEST_LIMIT`] (the course's
//! limit), and every real-time pass through its part fits in
//! [`PART_LIMIT`]: a part over its limit scores nothing. (In simulation the
//! budget is virtual time, which the test itself checks.)

use std::time::Duration;

use labrpc::lab::{PART_LIMIT, Part, TEST_LIMIT};
use serde::{Deserialize, Serialize};

/// Points for each test.
pub const POINTS_PER_TEST: f64 = 5.0;

/// What happened to one test over all its runs.
#[derive(Clone, Debug)]
pub struct TestResult {
    /// The part.
    pub part: Part,
    /// The test's name.
    pub name: String,
    /// Simulation seeds it ran (0: none asked for).
    pub seeds: u32,
    /// Whether every seed passed.
    pub seeds_passed: bool,
    /// Real-time runs that passed.
    pub passed: u32,
    /// Real-time runs in all.
    pub runs: u32,
    /// The longest real-time run.
    pub max_time: Duration,
    /// Whether its part stayed within [`PART_LIMIT`] on every pass.
    pub part_in_budget: bool,
    /// What a student needs to see: the failing runs' outcome, the command
    /// that replays each, and the end of their output.
    pub output: String,
}

impl TestResult {
    /// Test `name` of `part`, before any run.
    pub fn not_run(part: Part, name: &str) -> TestResult {
        TestResult {
            part,
            name: name.to_owned(),
            seeds: 0,
            seeds_passed: false,
            passed: 0,
            runs: 0,
            max_time: Duration::ZERO,
            part_in_budget: true,
            output: String::new(),
        }
    }

    /// The points the test earned.
    pub fn score(&self) -> f64 {
        let ran = self.seeds > 0 || self.runs > 0;
        let simulated = self.seeds == 0 || self.seeds_passed;
        if ran && simulated && self.passed == self.runs && self.part_in_budget {
            POINTS_PER_TEST
        } else {
            0.0
        }
    }
}

/// How the grading of a submission ended, besides its tests' points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Its tests ran.
    #[default]
    Graded,
    /// It tried to change the build, or failed the static gate: nothing ran.
    Refused,
    /// The suites did not build against it: nothing ran.
    DidNotBuild,
    /// A test binary changed under the grader: every result is void.
    Void,
}

impl Status {
    /// How the status reads in the summary table (nothing when graded).
    pub fn note(self) -> &'static str {
        match self {
            Status::Graded => "",
            Status::Refused => "refused",
            Status::DidNotBuild => "did not build",
            Status::Void => "void: a test binary changed",
        }
    }
}

/// What Gradescope keeps without showing (its `extra_data`).
#[derive(Serialize, Deserialize, Default)]
pub struct Extra {
    /// How the grading ended.
    pub status: Status,
}

/// The results file of a Gradescope autograder
/// (<https://gradescope-autograders.readthedocs.io/en/latest/specs/>).
#[derive(Serialize, Deserialize)]
pub struct Results {
    /// Total points earned.
    pub score: f64,
    /// Seconds the grading took.
    pub execution_time: f64,
    /// Shown above the tests.
    pub output: String,
    /// One entry per test.
    pub tests: Vec<ResultsTest>,
    /// How the grading ended.
    #[serde(default)]
    pub extra_data: Extra,
}

/// One test in [`Results`].
#[derive(Serialize, Deserialize)]
pub struct ResultsTest {
    /// `2A: initial_election_2a`.
    pub name: String,
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
    /// `passed` or `failed`.
    pub status: String,
    /// Why it failed, or how long it took.
    pub output: String,
}

/// The results file for `results`, graded in `elapsed` and ended as
/// `status`; `notes` (a refusal, files the grader did not take) come first
/// in its output.
pub fn results(
    results: &[TestResult],
    elapsed: Duration,
    notes: &[String],
    status: Status,
) -> Results {
    let tests: Vec<ResultsTest> = results
        .iter()
        .map(|r| ResultsTest {
            name: format!("{}: {}", r.part, r.name),
            score: r.score(),
            max_score: POINTS_PER_TEST,
            status: if r.score() == POINTS_PER_TEST {
                "passed"
            } else {
                "failed"
            }
            .to_owned(),
            output: r.output.clone(),
        })
        .collect();
    // Folded from +0.0: an empty sum of floats is -0.0, which would print.
    let score = tests.iter().fold(0.0, |sum, t| sum + t.score);
    let max = tests.iter().fold(0.0, |sum, t| sum + t.max_score);
    Results {
        score,
        execution_time: elapsed.as_secs_f64(),
        output: notes
            .iter()
            .map(|note| format!("{note}\n\n"))
            .chain([format!(
                "{score} of {max} points. Each test is worth {POINTS_PER_TEST} points if it \
                 passes every simulation seed and every real-time run, each within {} s, and \
                 its part within {} s.",
                TEST_LIMIT.as_secs(),
                PART_LIMIT.as_secs()
            )])
            .collect(),
        tests,
        extra_data: Extra { status },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn result(name: &str, passed: u32, part_in_budget: bool) -> TestResult {
        TestResult {
            part: "2a".parse().unwrap(),
            name: name.into(),
            seeds: 0,
            seeds_passed: false,
            passed,
            runs: 2,
            max_time: Duration::from_secs(3),
            part_in_budget,
            output: String::new(),
        }
    }

    #[test]
    fn a_test_scores_only_if_every_run_passes_within_budget() {
        assert_eq!(result("a_2a", 2, true).score(), POINTS_PER_TEST);
        assert_eq!(result("a_2a", 1, true).score(), 0.0);
        assert_eq!(result("a_2a", 2, false).score(), 0.0);
        let simulated = |seeds_passed| TestResult {
            seeds: 20,
            seeds_passed,
            ..result("a_2a", 2, true)
        };
        assert_eq!(simulated(true).score(), POINTS_PER_TEST);
        assert_eq!(
            simulated(false).score(),
            0.0,
            "a failed seed costs the test"
        );
        let sim_only = |seeds_passed| TestResult {
            runs: 0,
            passed: 0,
            ..simulated(seeds_passed)
        };
        assert_eq!(sim_only(true).score(), POINTS_PER_TEST);
        assert_eq!(sim_only(false).score(), 0.0);
        let nothing = TestResult {
            seeds: 0,
            ..sim_only(true)
        };
        assert_eq!(nothing.score(), 0.0, "a test that never ran scores nothing");
    }

    /// The shape Gradescope reads: top-level score, execution_time and
    /// output; `tests[]` with name, score, max_score, status and output.
    #[test]
    fn nothing_graded_is_zero_points_not_minus_zero() {
        let json = results(&[], Duration::ZERO, &["refused".into()], Status::Refused);
        assert!(json.score.is_sign_positive());
        assert!(json.output.contains("\n0 of 0 points"), "{}", json.output);
    }

    #[test]
    fn results_have_the_gradescope_shape() {
        let graded = [result("a_2a", 2, true), result("b_2a", 0, true)];
        let json = serde_json::to_value(results(
            &graded,
            Duration::from_secs(7),
            &["refused: x".into()],
            Status::Graded,
        ))
        .unwrap();
        let top = json.as_object().unwrap();
        assert_eq!(top["score"], Value::from(5.0));
        assert_eq!(top["execution_time"], Value::from(7.0));
        assert!(
            top["output"]
                .as_str()
                .unwrap()
                .starts_with("refused: x\n\n5 of 10 points")
        );
        assert_eq!(top["extra_data"]["status"], "graded");
        let tests = top["tests"].as_array().unwrap();
        assert_eq!(tests.len(), 2);
        for test in tests {
            let test = test.as_object().unwrap();
            let mut keys: Vec<&str> = test.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["max_score", "name", "output", "score", "status"]);
            assert!(test["name"].is_string() && test["output"].is_string());
            assert!(test["score"].is_number() && test["max_score"].is_number());
        }
        assert_eq!(tests[0]["name"], "2A: a_2a");
        assert_eq!(tests[0]["status"], "passed");
        assert_eq!(tests[1]["score"], Value::from(0.0));
        assert_eq!(tests[1]["status"], "failed");
    }
}
