//! The record a lab test keeps for the tools: one line of JSON per run,
//! written by the harness and read by `scripts/stress`, `scripts/grade` and
//! `scripts/mutants`, so that no tool has to find a seed, a panic or a
//! verdict in text written for people.
//!
//! A tool names a file with [`RECORD_VAR`](crate::lab::RECORD_VAR)
//! (`LAB_RECORD`); every run of a lab test in that process then appends its
//! lines there: [`Event::Started`] when a run begins (a simulated world,
//! or the test in real time), then [`Event::Passed`] or [`Event::Failed`]
//! when it ends. A failure carries the first panic of its run (in any of
//! its threads: where it was raised, by which thread, and its message), or,
//! when the process is stopped without unwinding (a simulated world that
//! deadlocked with its test waiting for its threads, a thread that never
//! comes back to the simulation, a real-time test that hangs), the report
//! that stopped it. A run with a [`Started`](Event::Started) line and no
//! end was killed from outside (the tool's time limit).
//!
//! # The verdict
//!
//! A graded submission runs in the same process as the harness, so its
//! exit status and its output prove nothing: the student's code can call
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
//!    seed, in a simulation), the harness records [`Event::Verdict`] with
//!    the token;
//! 4. the grader counts the run as passed only if the record holds that
//!    verdict, for that test and the number of runs it asked for, and the
//!    process exited successfully.
//!
//! Nothing the test prints counts, and lab code has no business with files
//! or the environment (the grader's gate refuses both), so a submission can
//! neither forge a line of the record nor confuse the tools with one it
//! prints; without the token, a line it wrote would not be a verdict.
//!
//! Outside the tools (`LAB_RECORD` unset) nothing is written.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;
use std::thread::ThreadId;

use serde::{Deserialize, Serialize};

use crate::lab::{RECORD_VAR, Time};
use crate::rt::sync::PlainMutex;

/// One line of the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The test's full name (`part_2a::initial_election_2a`).
    pub test: String,
    /// The clock it ran on.
    pub time: Time,
    /// The run's seed (a world's, in a simulation; `0` on a verdict line).
    pub seed: u64,
    /// The command that replays the run (empty on a verdict line).
    pub replay: String,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// What a line of the record says of its run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run began.
    Started,
    /// The run ended, and every check passed.
    Passed,
    /// The run failed.
    Failed {
        /// Why: its first panic, or what stopped the process.
        failure: Failure,
    },
    /// Under the grader: the test passed `runs` runs (seeds in a
    /// simulation, 1 in real time), every check included.
    Verdict {
        /// The token the grader gave the process.
        token: String,
        /// How many runs passed.
        runs: u64,
    },
}

/// The panic that failed a run, or the report that stopped its process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The thread it happened on.
    pub thread: String,
    /// Where it was raised, `FILE:LINE:COLUMN` (for a report, the place
    /// that wrote it).
    pub at: String,
    /// What it said.
    pub message: String,
}

impl Failure {
    /// A failure raised at `location`.
    pub fn at(
        thread: &str,
        location: &std::panic::Location<'_>,
        message: impl Into<String>,
    ) -> Failure {
        Failure {
            thread: thread.to_owned(),
            at: location.to_string(),
            message: message.into(),
        }
    }

    /// The file it was raised in (`labraft/src/core/log.rs`).
    pub fn file(&self) -> &str {
        // FILE:LINE:COLUMN; a file name may itself hold a colon.
        let mut parts = self.at.rsplitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(_), Some(file)) => file,
            _ => &self.at,
        }
    }
}

/// Appends `record` to the file `LAB_RECORD` names, if it is set. A line
/// that cannot be written is reported on stderr (a panic here could be one
/// during another's unwinding); the tool then finds the run without its
/// end, and judges it failed.
pub fn write(record: &Record) {
    let Some(path) = std::env::var_os(RECORD_VAR) else {
        return;
    };
    let mut line = serde_json::to_string(record).expect("a record always serialises");
    line.push('\n');
    // One line in one write to a file opened for appending: lines of
    // several threads never interleave.
    let written = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!(
            "labrpc: cannot write the run record {} ({RECORD_VAR}): {e}",
            Path::new(&path).display()
        );
    }
}

/// The lines of the record in `path`, in order; none if it does not exist.
///
/// # Errors
/// When it cannot be read, or a line is not a record (the message names
/// the line).
pub fn read(path: &Path) -> Result<Vec<Record>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| format!("{} line {} is not a run record: {e}", path.display(), i + 1))
        })
        .collect()
}

/// The run that failed, in a process's record: the first with a
/// [`Failed`](Event::Failed) line, else the last that started and never
/// ended (its process was killed). `None` when every run ended well.
pub fn failed_run(records: &[Record]) -> Option<&Record> {
    let same_run =
        |a: &Record, b: &Record| a.test == b.test && a.time == b.time && a.seed == b.seed;
    records
        .iter()
        .find(|r| matches!(r.event, Event::Failed { .. }))
        .or_else(|| {
            records.iter().rev().find(|started| {
                started.event == Event::Started
                    && !records
                        .iter()
                        .any(|r| r.event == Event::Passed && same_run(r, started))
            })
        })
}

/// The failure `records` hold for their failed run, if they say why.
pub fn first_failure(records: &[Record]) -> Option<&Failure> {
    records.iter().find_map(|r| match &r.event {
        Event::Failed { failure } => Some(failure),
        _ => None,
    })
}

/// Whether `records` hold the verdict that `test` passed `runs` runs,
/// with `token`.
pub fn has_verdict(records: &[Record], token: &str, test: &str, runs: u64) -> bool {
    records.iter().any(|r| {
        r.test == test
            && matches!(&r.event, Event::Verdict { token: t, runs: n } if t == token && *n == runs)
    })
}

/// A run under way: written as started when made, and as passed
/// ([`passed`](Run::passed)) or failed (when dropped otherwise: the run's
/// body panicked) when it ends.
///
/// The harness tells the record of every panic ([`panicked`]); each open
/// run keeps the first of its own: in a simulation those of its world, and
/// those outside any world on the thread that runs it (the simulator's
/// report of a world that died is raised there); in real time, every panic
/// outside a world (real-time tests run one at a time).
pub struct Run {
    id: u64,
}

/// Where a run's panics come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// A simulated world, run from thread `thread`; its id once known.
    Sim {
        thread: ThreadId,
        world: Option<u64>,
    },
    /// A real-time test: every panic outside a world.
    Real,
}

struct Open {
    id: u64,
    record: Record,
    scope: Scope,
    first: Option<Failure>,
}

/// The runs of this process under way, in every world: a plain lock (held
/// for a few lines, never across a wait).
static OPEN: PlainMutex<Vec<Open>> = PlainMutex::new(Vec::new());

fn open_runs() -> parking_lot::MutexGuard<'static, Vec<Open>> {
    OPEN.lock()
}

impl Run {
    /// Starts the record of a run of `test` with `seed`, replayed by
    /// `replay`, on the calling thread.
    pub fn start(test: &str, time: Time, seed: u64, replay: String) -> Run {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let record = Record {
            test: test.to_owned(),
            time,
            seed,
            replay,
            event: Event::Started,
        };
        write(&record);
        let scope = match time {
            Time::Sim => Scope::Sim {
                thread: std::thread::current().id(),
                world: None,
            },
            Time::Real => Scope::Real,
        };
        open_runs().push(Open {
            id,
            record,
            scope,
            first: None,
        });
        Run { id }
    }

    /// Names the simulated world the run's body runs in (called from inside
    /// it): its panics are the run's.
    pub fn in_world(&self, world: u64) {
        if let Some(open) = open_runs().iter_mut().find(|o| o.id == self.id)
            && let Scope::Sim { world: w, .. } = &mut open.scope
        {
            *w = Some(world);
        }
    }

    /// Records that the run passed.
    pub fn passed(self) {
        self.end(None);
    }

    fn end(&self, stopped: Option<Failure>) {
        let Some(open) = ({
            let mut runs = open_runs();
            let i = runs.iter().position(|o| o.id == self.id);
            i.map(|i| runs.remove(i))
        }) else {
            return;
        };
        write(&ended(open, stopped));
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // Still open: the body did not return.
        self.end(Some(Failure {
            thread: std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_owned(),
            at: String::new(),
            message: "the run ended without passing, and without a panic".to_owned(),
        }));
    }
}

/// The end line of `open`: passed, unless it saw a panic or was `stopped`.
fn ended(open: Open, stopped: Option<Failure>) -> Record {
    let event = match (open.first, stopped) {
        (Some(failure), _) | (None, Some(failure)) => Event::Failed { failure },
        (None, None) => Event::Passed,
    };
    Record {
        event,
        ..open.record
    }
}

/// Tells the record of a panic in `world` (`None`: outside any simulated
/// world) on the calling thread; the runs it belongs to keep it if it is
/// their first.
pub fn panicked(world: Option<u64>, failure: &Failure) {
    let here = std::thread::current().id();
    for open in open_runs().iter_mut() {
        let ours = match (open.scope, world) {
            (Scope::Sim { world: Some(w), .. }, Some(p)) => w == p,
            (Scope::Sim { thread, .. }, None) => thread == here,
            (Scope::Real, None) => true,
            _ => false,
        };
        if ours && open.first.is_none() {
            open.first = Some(failure.clone());
        }
    }
}

/// Ends the process for a failure that cannot unwind (a thread that never
/// comes back, a world whose threads were stopped for good): writes
/// `report` straight to stderr (a test's captured output is lost on exit),
/// records every run under way in this process as failed, by its first
/// panic if it had one, else by `report` raised by `thread` at the caller,
/// and exits with status 101, as a failed test does.
#[track_caller]
pub fn stop_process(thread: &str, report: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "{report}");
    let why = Failure::at(thread, std::panic::Location::caller(), report);
    // Taken out first: no lock is held while the lines are written.
    let open = std::mem::take(&mut *open_runs());
    for open in open {
        write(&ended(open, Some(why.clone())));
    }
    std::process::exit(101);
}

/// Records the verdict that `test` passed `runs` runs, with the grader's
/// `token`.
pub fn verdict(test: &str, time: Time, token: &str, runs: u64) {
    write(&Record {
        test: test.to_owned(),
        time,
        seed: 0,
        replay: String::new(),
        event: Event::Verdict {
            token: token.to_owned(),
            runs,
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(at: &str) -> Failure {
        Failure {
            thread: "raft-0-ticker".into(),
            at: at.into(),
            message: "entries 5.. requested,\nbut the log stores 7..9".into(),
        }
    }

    fn record(seed: u64, event: Event) -> Record {
        Record {
            test: "part_2d::snapshot_basic_2d".into(),
            time: Time::Sim,
            seed,
            replay: format!("LAB_SEED={seed} LAB_TIME=sim cargo test x -- --exact"),
            event,
        }
    }

    #[test]
    fn records_read_back_as_written() {
        let records = [
            record(41, Event::Started),
            record(41, Event::Passed),
            record(42, Event::Started),
            record(
                42,
                Event::Failed {
                    failure: failure("labraft/src/core/log.rs:88:9"),
                },
            ),
            Record {
                seed: 0,
                replay: String::new(),
                ..record(
                    0,
                    Event::Verdict {
                        token: "5f3a".into(),
                        runs: 2,
                    },
                )
            },
        ];
        let text: String = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        assert!(text.contains(r#""event":"failed""#), "{text}");
        assert!(text.contains(r#""time":"sim""#), "{text}");
        let dir = std::env::temp_dir().join(format!("labrpc-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("round-trip.jsonl");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(read(&path).unwrap(), records);
        assert_eq!(failed_run(&records).map(|r| r.seed), Some(42));
        assert_eq!(
            first_failure(&records).map(Failure::file),
            Some("labraft/src/core/log.rs")
        );
        assert!(has_verdict(
            &records,
            "5f3a",
            "part_2d::snapshot_basic_2d",
            2
        ));
        assert!(!has_verdict(
            &records,
            "5f3b",
            "part_2d::snapshot_basic_2d",
            2
        ));
        assert!(!has_verdict(
            &records,
            "5f3a",
            "part_2d::snapshot_basic_2d",
            1
        ));
        assert!(!has_verdict(&records, "5f3a", "part_2d::other_2d", 2));

        std::fs::write(&path, format!("{text}labrpc: simulation seed 7\n")).unwrap();
        let error = read(&path).unwrap_err();
        assert!(error.contains("line 6 is not a run record"), "{error}");
        assert_eq!(read(&dir.join("absent.jsonl")), Ok(Vec::new()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_run_killed_from_outside_is_the_last_that_never_ended() {
        let records = [
            record(1, Event::Started),
            record(1, Event::Passed),
            record(2, Event::Started),
        ];
        assert_eq!(failed_run(&records).map(|r| r.seed), Some(2));
        assert_eq!(first_failure(&records), None);
        assert_eq!(failed_run(&records[..2]), None);
    }

    #[test]
    fn a_file_name_may_hold_colons() {
        assert_eq!(failure("C:/w/src/x.rs:3:1").file(), "C:/w/src/x.rs");
        assert_eq!(failure("nowhere").file(), "nowhere");
    }

    #[test]
    fn a_run_keeps_the_first_panic_of_its_own_scope() {
        // Not through `write`: LAB_RECORD is unset in unit tests.
        let run = Run::start("x_2a", Time::Sim, 9, String::new());
        run.in_world(u64::MAX - 1);
        panicked(Some(u64::MAX - 2), &failure("elsewhere.rs:1:1"));
        panicked(Some(u64::MAX - 1), &failure("tests/src/raft.rs:1:1"));
        panicked(Some(u64::MAX - 1), &failure("later.rs:1:1"));
        let first = open_runs()
            .iter()
            .find(|o| o.id == run.id)
            .and_then(|o| o.first.clone());
        assert_eq!(
            first.map(|f| f.at),
            Some("tests/src/raft.rs:1:1".to_owned())
        );
        let id = run.id;
        run.passed();
        assert!(open_runs().iter().all(|o| o.id != id), "ended");
    }
}
