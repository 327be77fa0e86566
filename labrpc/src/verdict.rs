//! The line a lab test prints when it passes under the grader, and nowhere
//! else.
//!
//! A graded submission runs in the same process as the harness, so its exit
//! status and its output prove nothing: the student's code can call
//! `exit(0)` or print a test runner's summary. The grader therefore counts a
//! pass only when the harness itself says so, with a secret the student's
//! code never sees:
//!
//! 1. the grader starts each test process with
//!    [`GRADING_VAR`](crate::lab::GRADING_VAR)`=1` and writes a fresh random
//!    token, one line, to its standard input, then closes it;
//! 2. the harness reads that line before it runs any of the student's code
//!    (so a student's read of standard input finds it empty), and keeps it
//!    in a private variable;
//! 3. when the test's body has returned and every check has passed (every
//!    seed, in a simulation), the harness prints [`line()`] with the token;
//! 4. the grader counts the run as passed only if a line [`parse`]s with
//!    the token it wrote, the test's name and the number of runs it asked
//!    for, and the process exited successfully.
//!
//! Outside the grader ([`GRADING_VAR`](crate::lab::GRADING_VAR) unset)
//! nothing is read and nothing printed.

/// How every verdict line begins.
const PREFIX: &str = "labgrade: verdict";

/// A verdict the harness printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The token the grader gave the process.
    pub token: String,
    /// The test's full name (`part_2a::initial_election_2a`).
    pub test: String,
    /// How many times the body ran and passed (seeds in a simulation, 1 in
    /// real time).
    pub runs: u64,
}

/// The line that says `test` passed `runs` times, with `token`.
pub fn line(token: &str, test: &str, runs: u64) -> String {
    format!("{PREFIX} {token} passed {test} runs={runs}")
}

/// The verdict in `text`, if it is a verdict line.
pub fn parse(text: &str) -> Option<Verdict> {
    let mut words = text.trim_end().strip_prefix(PREFIX)?.split(' ').skip(1);
    let token = words.next()?;
    if words.next()? != "passed" {
        return None;
    }
    let test = words.next()?;
    let runs = words.next()?.strip_prefix("runs=")?.parse().ok()?;
    if words.next().is_some() || token.is_empty() {
        return None;
    }
    Some(Verdict {
        token: token.to_owned(),
        test: test.to_owned(),
        runs,
    })
}

/// Whether `text` looks like a verdict line (valid or not): the grader
/// keeps such lines out of what it shows students.
pub fn is_verdict_like(text: &str) -> bool {
    text.contains(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_back() {
        let text = line("5f3a", "part_2a::initial_election_2a", 20);
        assert_eq!(
            parse(&text),
            Some(Verdict {
                token: "5f3a".into(),
                test: "part_2a::initial_election_2a".into(),
                runs: 20
            })
        );
        assert_eq!(parse(&format!("{text}\n")).map(|v| v.runs), Some(20));
        assert!(is_verdict_like(&text));
    }

    #[test]
    fn anything_else_is_no_verdict() {
        for text in [
            "",
            "test result: ok. 1 passed; 0 failed",
            "labgrade: verdict",
            "labgrade: verdict  passed x runs=1",
            "labgrade: verdict t failed x runs=1",
            "labgrade: verdict t passed x runs=one",
            "labgrade: verdict t passed x runs=1 extra",
            "  labgrade: verdict t passed x runs=1",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }
}
