//! `scripts/grade`: grades a checkout, a submission or a directory of
//! submissions with the lab suites. See the README's "Grading",
//! [`labtools::grading`] for the scheme and [`labtools::submission`] for
//! what is taken from a submission.

use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use labrpc::lab::{PART_LIMIT, TEST_LIMIT};
use labtools::grading::{self, POINTS_PER_TEST, Results, Status, TestResult};
use labtools::suite::{self, Fingerprints, Graded, Linking, Outcome, Part, Runs};
use labtools::{gate, output, submission};

/// Grades a checkout: runs every test of the lab suites in simulation with
/// K seeds (in parallel), then N times in real time, part by part, one test
/// at a time; prints a table and optionally writes a Gradescope results
/// file. A test scores only if it passes every seed and every real-time run
/// within 120 s, and each real-time pass through its part takes at most
/// 600 s.
///
/// A submission (PATH, or each directory under --submissions) is untrusted:
/// only its labraft/src/ and kvraft/src/ are graded, in a copy of this
/// checkout; it is refused if it tries to change the build; its code must
/// pass a static gate (clippy with the lab's rules forbidden); and a test
/// passes only when the harness records its verdict with a secret token the
/// grader gives it. The README's "Grading" has the whole threat model.
#[derive(Parser)]
#[command(name = "scripts/grade")]
struct Args {
    /// Simulation seeds per test (0: no simulation).
    #[arg(short = 's', long, default_value_t = 20)]
    seeds: u32,
    /// Real-time runs per test (0: no real time).
    #[arg(
        short = 'n',
        long = "real-runs",
        visible_alias = "runs",
        default_value_t = 1
    )]
    real_runs: u32,
    /// Simulated tests run at once (default: the number of cores). Real-time
    /// tests always run one at a time.
    #[arg(short = 'p', long)]
    jobs: Option<usize>,
    /// Write the results in Gradescope's format to this file.
    #[arg(long, conflicts_with = "submissions")]
    json: Option<PathBuf>,
    /// Grade only these parts (comma-separated, e.g. 2a,2b).
    #[arg(long, value_delimiter = ',')]
    parts: Vec<Part>,
    /// Where to build a submission's graded copy (default:
    /// target/grade/NAME here; with --submissions, one directory for all,
    /// so that each build reuses the last).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Run the test processes as this user (the grader must run as root):
    /// the graded copy and its build are then read-only to the code under
    /// test. The Gradescope bundle uses `nobody`.
    #[arg(long, value_name = "USER")]
    run_as: Option<String>,
    /// Grade every directory under DIR as a submission, in name order,
    /// writing RESULTS/NAME.json for each and a summary table at the end.
    #[arg(
        long,
        value_name = "DIR",
        requires = "results",
        conflicts_with = "path"
    )]
    submissions: Option<PathBuf>,
    /// Where --submissions writes its results files.
    #[arg(long, value_name = "RESULTS")]
    results: Option<PathBuf>,
    /// With --submissions, grade only the K-th of every N submissions (in
    /// name order), to spread them over N machines; gather the results
    /// files into one directory and print their table with --summary.
    #[arg(long, value_name = "K/N", value_parser = suite::parse_shard, requires = "submissions")]
    shard: Option<(usize, usize)>,
    /// Print the summary table of the results files in DIR, and run
    /// nothing.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["path", "submissions"])]
    summary: Option<PathBuf>,
    /// For testing the grader's other defences only: skip the static gate.
    #[arg(long, hide = true)]
    no_static_gate: bool,
    /// The checkout or submission to grade (default: this checkout, in
    /// place). A submission's labraft/src/ and kvraft/src/ are graded with
    /// this checkout's everything else, in a copy.
    path: Option<PathBuf>,
}

/// Wall time a simulated test may take per seed before it is killed: far
/// more than any passing seed needs (a few seconds), so only a run that
/// burns CPU without end reaches it.
const WALL_PER_SEED: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("grade: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<ExitCode, String> {
    if let Some(dir) = &args.summary {
        return print_summary(dir).map(|()| ExitCode::SUCCESS);
    }
    if args.seeds == 0 && args.real_runs == 0 {
        return Err("nothing to run: --seeds and --real-runs are both 0".into());
    }
    let parts: Vec<Part> = if args.parts.is_empty() {
        Part::ALL.to_vec()
    } else {
        args.parts.clone()
    };
    let run_as = args.run_as.as_deref().map(user_ids).transpose()?;
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let interrupted = Arc::clone(&interrupted);
        ctrlc::set_handler(move || interrupted.store(true, Ordering::SeqCst))
            .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    }
    let grader = Grader {
        args,
        parts,
        this: suite::this_checkout(),
        graded: Graded { run_as },
        interrupted,
    };
    if let Some(dir) = &args.submissions {
        return grader.grade_many(dir, args.results.as_deref().expect("clap requires it"));
    }
    let work = match (&args.path, &args.work_dir) {
        (_, Some(dir)) => dir.clone(),
        (Some(path), None) => {
            let name = path
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_owned()))
                .unwrap_or_else(|| "submission".into());
            grader.this.join("target/grade").join(name)
        }
        (None, None) => grader.this.join("target/grade/submission"),
    };
    let logs = grader.this.join("target/grade-logs");
    let report = grader.grade(args.path.as_deref(), &work, &logs)?;
    for note in &report.notes {
        println!("{note}\n");
    }
    print_table(&report.results, args.seeds);
    if let Some(path) = &args.json {
        write_results(path, &report)?;
        eprintln!("grade: results written to {}", path.display());
    }
    let full =
        !report.results.is_empty() && report.results.iter().all(|r| r.score() == POINTS_PER_TEST);
    Ok(if grader.interrupted.load(Ordering::SeqCst) {
        ExitCode::from(130)
    } else if full {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The user and group ids of `user`, from `id`.
fn user_ids(user: &str) -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let output = Command::new("id")
            .args([flag, user])
            .output()
            .map_err(|e| format!("cannot run `id {flag} {user}`: {e}"))?;
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("--run-as {user}: no such user (`id {flag} {user}` failed)"))
    };
    Ok((id("-u")?, id("-g")?))
}

/// The grade of one submission.
struct Report {
    /// Its tests' results (none when it was refused before its tests were
    /// built).
    results: Vec<TestResult>,
    /// What the student must read first: why it was refused, which files
    /// were not taken, why every result is void.
    notes: Vec<String>,
    status: Status,
    elapsed: Duration,
}

/// The most characters of one note (a refusal's reasons, the compiler's
/// messages) that a report keeps: its head, where the first errors are.
const NOTE_CHARS: usize = 20_000;

impl Report {
    /// The report of a submission none of whose tests ran: every test of
    /// the graded parts, as the instructor's suites declare them, with no
    /// points and `why` as its output.
    fn nothing_ran(
        grader: &Grader<'_>,
        status: Status,
        notes: Vec<String>,
        why: &str,
        started: Instant,
    ) -> Result<Report, String> {
        let results = suite::declared_tests(&grader.this)?
            .into_iter()
            .filter(|(part, _)| grader.parts.contains(part))
            .map(|(part, name)| TestResult {
                output: why.to_owned(),
                ..TestResult::not_run(part, &name)
            })
            .collect();
        let notes = notes.into_iter().map(|note| head_of(&note)).collect();
        Ok(Report {
            results,
            notes,
            status,
            elapsed: started.elapsed(),
        })
    }
}

/// At most the first [`NOTE_CHARS`] characters of `note`, saying so if cut.
fn head_of(note: &str) -> String {
    match note.char_indices().nth(NOTE_CHARS) {
        None => note.to_owned(),
        Some((end, _)) => format!(
            "{}\n[... {} more characters cut ...]",
            &note[..end],
            note[end..].chars().count()
        ),
    }
}

struct Grader<'a> {
    args: &'a Args,
    parts: Vec<Part>,
    this: PathBuf,
    graded: Graded,
    interrupted: Arc<AtomicBool>,
}

/// The tree a grading builds and runs.
struct Tree {
    root: PathBuf,
    /// Its build's target directory.
    target: PathBuf,
    /// Whether it is this checkout, graded in place (trusted).
    in_place: bool,
}

/// Why a grading stopped before its runs.
enum Halt {
    /// The submission scores 0 on every test: `note` says why, and each
    /// test's entry `not_run`.
    Stopped {
        status: Status,
        note: String,
        not_run: &'static str,
    },
    /// The grader itself failed.
    Error(String),
}

impl From<String> for Halt {
    fn from(error: String) -> Halt {
        Halt::Error(error)
    }
}

impl Grader<'_> {
    /// Grades the checkout at `path` (this one, in place, if `None`),
    /// building a submission's copy in `work` and keeping failed runs'
    /// output under `logs`: its graded copy, the static gate, the build,
    /// then the runs, each step able to end the grading with 0 points.
    fn grade(&self, path: Option<&Path>, work: &Path, logs: &Path) -> Result<Report, String> {
        let started = Instant::now();
        let mut notes = Vec::new();
        let graded = self.graded_copy(path, work, &mut notes).and_then(|tree| {
            self.static_gate(&tree)?;
            let tests = self.build_tests(&tree)?;
            self.run_tests(&tests, &tree.root, logs, &mut notes)
                .map_err(Halt::Error)
        });
        match graded {
            Ok((results, status)) => {
                if self.interrupted.load(Ordering::SeqCst) {
                    eprintln!("grade: interrupted");
                }
                Ok(Report {
                    results,
                    notes,
                    status,
                    elapsed: started.elapsed(),
                })
            }
            Err(Halt::Stopped {
                status,
                note,
                not_run,
            }) => {
                notes.push(note);
                Report::nothing_ran(self, status, notes, not_run, started)
            }
            Err(Halt::Error(e)) => Err(e),
        }
    }

    /// The tree to grade: this checkout in place, or a copy of it with the
    /// submission at `path`'s student sources, written to `work`, unless
    /// the submission is refused. Notes what was left out of it.
    fn graded_copy(
        &self,
        path: Option<&Path>,
        work: &Path,
        notes: &mut Vec<String>,
    ) -> Result<Tree, Halt> {
        let in_place = match path {
            None => true,
            Some(path) => {
                path.canonicalize()
                    .map_err(|e| format!("cannot grade {}: {e}", path.display()))?
                    == self.this
            }
        };
        if in_place {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| self.this.join("target"), PathBuf::from);
            return Ok(Tree {
                root: self.this.clone(),
                target,
                in_place,
            });
        }
        let path = path.expect("not in place");
        eprintln!("grade: inspecting {}", path.display());
        let submission = submission::inspect(path, &self.this).map_err(|reasons| {
            eprintln!("grade: refused:\n  {}", reasons.join("\n  "));
            Halt::Stopped {
                status: Status::Refused,
                note: format!(
                    "REFUSED, 0 points: this submission tries to change how it is built or \
                     graded.\n  {}",
                    reasons.join("\n  ")
                ),
                not_run: "not run: the submission was refused (see above)",
            }
        })?;
        notes.extend(submission.replaced_notice());
        submission::write_graded_copy(&submission, &self.this, work)?;
        Ok(Tree {
            root: work.to_owned(),
            target: work.join("target"),
            in_place,
        })
    }

    /// The static gate over `tree`'s student crates (unless skipped): a
    /// refusal, or a submission that does not compile, ends the grading.
    fn static_gate(&self, tree: &Tree) -> Result<(), Halt> {
        if self.args.no_static_gate {
            eprintln!("grade: the static gate is SKIPPED (--no-static-gate)");
            return Ok(());
        }
        eprintln!(
            "grade: static gate: clippy over the student crates with {} forbidden",
            gate::FORBIDDEN.join(", ")
        );
        let findings = gate::check(&tree.root, &tree.target)?;
        if !findings.refusals.is_empty() {
            let errors = &findings.refusals;
            eprintln!(
                "grade: refused by the static gate:\n  {}",
                errors.join("\n  ")
            );
            return Err(Halt::Stopped {
                status: Status::Refused,
                note: format!(
                    "REFUSED, 0 points: the static gate (a scan for state that outlives a \
                     peer's instance, and clippy with the lab's rules, which an #[allow] cannot \
                     switch off) found:\n  {}",
                    errors.join("\n  ")
                ),
                not_run: "not run: the submission was refused by the static gate (see above)",
            });
        }
        if !findings.compile_errors.is_empty() && !tree.in_place {
            eprintln!("grade: the submission does not build");
            return Err(Halt::Stopped {
                status: Status::DidNotBuild,
                note: format!(
                    "0 points: the submission does not build; the compiler says:\n{}",
                    findings.compile_errors.join("\n")
                ),
                not_run: "not run: the submission does not build (see above)",
            });
        }
        Ok(())
    }

    /// Builds `tree`'s test binaries afresh and lists their tests.
    fn build_tests(&self, tree: &Tree) -> Result<Vec<suite::Test>, Halt> {
        eprintln!("grade: building the tests in {}", tree.root.display());
        let own_target = (!tree.in_place).then_some(tree.target.as_path());
        match suite::build_and_list(&tree.root, own_target, Linking::Relink, &[]) {
            Ok(tests) => Ok(tests),
            Err(e) if tree.in_place => Err(Halt::Error(e)),
            Err(e) => Err(Halt::Stopped {
                status: Status::DidNotBuild,
                note: format!("0 points: the suites do not build against this submission:\n{e}"),
                not_run: "not run: the suites do not build against the submission (see above)",
            }),
        }
    }

    /// Runs the graded parts' tests (simulated, then in real time), their
    /// failed runs' output kept under `logs`: the results of the tests that
    /// ran, and whether they stand (void once a test binary changed).
    fn run_tests(
        &self,
        tests: &[suite::Test],
        root: &Path,
        logs: &Path,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<TestResult>, Status), String> {
        let fingerprints = Fingerprints::take(tests)?;
        fs::create_dir_all(logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
        let mut graded: Vec<(&suite::Test, TestResult)> = Vec::new();
        for part in &self.parts {
            let in_part: Vec<&suite::Test> =
                tests.iter().filter(|t| t.part() == Some(*part)).collect();
            if in_part.is_empty() {
                return Err(format!("no test of part {part} in {}", root.display()));
            }
            graded.extend(
                in_part
                    .into_iter()
                    .map(|t| (t, TestResult::not_run(*part, t.name()))),
            );
        }
        let run = Run {
            grader: self,
            logs,
            fingerprints: &fingerprints,
            tampered: Mutex::new(None),
            width: graded
                .iter()
                .map(|(t, _)| t.name().len())
                .max()
                .unwrap_or(0),
        };
        if self.args.seeds > 0 {
            run.simulate(&mut graded)?;
        }
        if self.args.real_runs > 0 && !self.interrupted.load(Ordering::SeqCst) {
            run.real_time(&mut graded)?;
        }
        // A binary changed after its last check, by the last run: caught here.
        let mut binaries: Vec<&suite::Test> = graded.iter().map(|(t, _)| *t).collect();
        binaries.sort_by(|a, b| a.binary.cmp(&b.binary));
        binaries.dedup_by(|a, b| a.binary == b.binary);
        for test in binaries {
            run.check_binary(test);
        }
        let mut results: Vec<TestResult> = graded
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| r.runs > 0 || r.seeds > 0)
            .collect();
        let Some(why) = run.tampered.into_inner().expect("no worker panics") else {
            return Ok((results, Status::Graded));
        };
        for result in &mut results {
            result.seeds_passed = false;
            result.passed = 0;
        }
        notes.push(format!("0 points: {why}"));
        Ok((results, Status::Void))
    }

    /// Grades every directory under `dir`, writing `results/NAME.json`
    /// for each, then prints the summary of `results`.
    fn grade_many(&self, dir: &Path, results: &Path) -> Result<ExitCode, String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.'))
            .collect();
        names.sort();
        let names = suite::shard(names, self.args.shard);
        if names.is_empty() {
            return Err(format!("no submission directory in {}", dir.display()));
        }
        fs::create_dir_all(results)
            .map_err(|e| format!("cannot create {}: {e}", results.display()))?;
        let work = self
            .args
            .work_dir
            .clone()
            .unwrap_or_else(|| self.this.join("target/grade/submissions"));
        for (i, name) in names.iter().enumerate() {
            if self.interrupted.load(Ordering::SeqCst) {
                break;
            }
            eprintln!("\ngrade: [{}/{}] {name}", i + 1, names.len());
            let logs = self.this.join("target/grade-logs").join(name);
            let report = self.grade(Some(&dir.join(name)), &work, &logs)?;
            let file = results.join(format!("{name}.json"));
            write_results(&file, &report)?;
            let score = report.results.iter().fold(0.0, |sum, r| sum + r.score());
            eprintln!(
                "grade: [{}/{}] {name}: {score} points; results in {}",
                i + 1,
                names.len(),
                file.display()
            );
        }
        print_summary(results)?;
        Ok(if self.interrupted.load(Ordering::SeqCst) {
            ExitCode::from(130)
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// One submission's runs, shared by the workers that run them.
struct Run<'a> {
    grader: &'a Grader<'a>,
    logs: &'a Path,
    fingerprints: &'a Fingerprints,
    /// Why every result is void, once a test binary changed.
    tampered: Mutex<Option<String>>,
    width: usize,
}

impl Run<'_> {
    /// Checks `test`'s binary is the one built; records it if not. Whether
    /// it still is.
    fn check_binary(&self, test: &suite::Test) -> bool {
        match self.fingerprints.check(&test.binary) {
            Ok(()) => true,
            Err(why) => {
                let mut tampered = self.tampered.lock().expect("no worker panics");
                if tampered.is_none() {
                    eprintln!("grade: {why}");
                    *tampered = Some(why);
                }
                false
            }
        }
    }

    /// Runs `test` once, unless its binary was changed: then, or if it
    /// changed during the run (or was gone when it was to start), its
    /// outcome is a failure.
    fn run_checked(
        &self,
        test: &suite::Test,
        mode: Runs,
        seed: u64,
        timeout: Duration,
        log: &Path,
    ) -> Result<suite::Ran, String> {
        let void = |took| suite::Ran {
            outcome: Outcome::Failed,
            took,
            records: Vec::new(),
        };
        if !self.check_binary(test) {
            return Ok(void(Duration::ZERO));
        }
        let interrupted = &self.grader.interrupted;
        let run = suite::TestRun {
            test,
            mode,
            seed,
            timeout,
            log,
        };
        let ran = match suite::run_once(&run, interrupted, Some(self.grader.graded)) {
            Ok(ran) => ran,
            // A binary that another test's process removed or replaced
            // between the check and the start cannot be started: void, as
            // a changed one, not an end of the grading.
            Err(_) if !self.check_binary(test) => return Ok(void(Duration::ZERO)),
            Err(e) => return Err(e),
        };
        if !self.check_binary(test) {
            return Ok(void(ran.took));
        }
        Ok(ran)
    }

    /// Runs every test in simulation with the seeds asked for (one process
    /// each, from a fresh seed on), as many at once as asked.
    fn simulate(&self, graded: &mut [(&suite::Test, TestResult)]) -> Result<(), String> {
        let seeds = self.grader.args.seeds;
        let jobs = self
            .grader
            .args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        eprintln!("grade: simulation, {seeds} seeds per test, {jobs} at once");
        let mode = Runs::Sim { seeds };
        let timeout = WALL_PER_SEED * seeds;
        let interrupted = &self.grader.interrupted;
        suite::in_parallel(jobs, graded.iter_mut(), interrupted, |(test, result)| {
            let seed: u64 = rand::random();
            let log = self.logs.join(format!("{}-sim.log", test.name()));
            let ran = self.run_checked(test, mode, seed, timeout, &log)?;
            let outcome = ran.outcome;
            if outcome == Outcome::Interrupted {
                return Ok(());
            }
            result.seeds = seeds;
            result.seeds_passed = outcome == Outcome::Passed;
            eprintln!(
                "{} {:<width$} {seeds} seeds: {}",
                result.part,
                result.name,
                outcome.label(),
                width = self.width
            );
            if let Some(note) = output::cut_note(&log) {
                eprintln!("{} {}: {note}", result.part, result.name);
            }
            if outcome == Outcome::Passed {
                let _ = fs::remove_file(&log);
                return Ok(());
            }
            let failed = ran.failed_seed(seed);
            let _ = writeln!(
                result.output,
                "simulation: seed {failed} {}; output in {}; replay with\n  {}\n{}\n",
                why(outcome, timeout, "was killed after"),
                log.display(),
                test.replay_command(mode, failed),
                suite::tail(&log, 30)
            );
            Ok(())
        })
    }

    /// Runs every test the asked number of times in real time, part by
    /// part, one at a time, checking the part's budget on each pass.
    fn real_time(&self, graded: &mut [(&suite::Test, TestResult)]) -> Result<(), String> {
        let runs = self.grader.args.real_runs;
        eprintln!("grade: real time, {runs} run(s) per test, one at a time");
        for &part in &self.grader.parts {
            for pass in 1..=runs {
                let mut part_time = Duration::ZERO;
                for (test, result) in graded.iter_mut().filter(|(_, r)| r.part == part) {
                    if part_time > PART_LIMIT {
                        // The part scores nothing now: the rest of this pass
                        // would only take time.
                        result.runs += 1;
                        let _ = writeln!(
                            result.output,
                            "real time: run {pass} not run: the pass through part {part} was \
                             already over its {} s budget",
                            PART_LIMIT.as_secs()
                        );
                        continue;
                    }
                    let seed: u64 = rand::random();
                    let log = self.logs.join(format!("{}-run{pass}.log", test.name()));
                    let ran = self.run_checked(test, Runs::Real, seed, TEST_LIMIT, &log)?;
                    let (outcome, time) = (ran.outcome, ran.took);
                    if outcome == Outcome::Interrupted {
                        return Ok(());
                    }
                    part_time += time;
                    result.runs += 1;
                    result.max_time = result.max_time.max(time);
                    eprintln!(
                        "{} {:<width$} real run {pass}/{runs}: {} in {:.1} s",
                        result.part,
                        result.name,
                        outcome.label(),
                        time.as_secs_f64(),
                        width = self.width
                    );
                    if let Some(note) = output::cut_note(&log) {
                        eprintln!("{} {}: {note}", result.part, result.name);
                    }
                    if outcome == Outcome::Passed {
                        result.passed += 1;
                        let _ = fs::remove_file(&log);
                    } else {
                        let _ = writeln!(
                            result.output,
                            "real time: run {pass} {} after {:.1} s; output in {}; replay with\n  {}\n{}\n",
                            why(outcome, TEST_LIMIT, "was over the budget of"),
                            time.as_secs_f64(),
                            log.display(),
                            test.replay_command(Runs::Real, seed),
                            suite::tail(&log, 30)
                        );
                    }
                }
                if part_time > PART_LIMIT {
                    for (_, result) in graded.iter_mut().filter(|(_, r)| r.part == part) {
                        result.part_in_budget = false;
                        let _ = writeln!(
                            result.output,
                            "real-time pass {pass} through part {} took {:.1} s, over its {} s budget",
                            result.part,
                            part_time.as_secs_f64(),
                            PART_LIMIT.as_secs()
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

/// Why a run did not pass, in words.
fn why(outcome: Outcome, limit: Duration, timed_out: &str) -> String {
    match outcome {
        Outcome::TimedOut => format!("{timed_out} {} s", limit.as_secs()),
        Outcome::NoVerdict => "exited successfully without the harness's verdict (the test \
                               never reached its end: did the code under test end the \
                               process?)"
            .to_owned(),
        _ => "failed".to_owned(),
    }
}

fn write_results(path: &Path, report: &Report) -> Result<(), String> {
    let json = grading::results(
        &report.results,
        report.elapsed,
        &report.notes,
        report.status,
    );
    let text = serde_json::to_string_pretty(&json).expect("plain data");
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Prints one line per results file in `dir`: its points, how many tests
/// passed, and how its grading ended if not as usual.
fn print_summary(dir: &Path) -> Result<(), String> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no results file (NAME.json) in {}", dir.display()));
    }
    let rows: Vec<(String, Results)> = files
        .iter()
        .map(|file| {
            let text = fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let results: Results = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a results file: {e}", file.display()))?;
            let name = file
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            Ok((name, results))
        })
        .collect::<Result<_, String>>()?;
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0).max(10);
    println!(
        "{:<width$}  {:>9}  {:>6}  note",
        "submission", "points", "tests"
    );
    for (name, results) in &rows {
        let passed = results
            .tests
            .iter()
            .filter(|t| t.status == "passed")
            .count();
        let note = results.extra_data.status.note();
        let line = format!(
            "{name:<width$}  {:>9}  {:>6}  {note}",
            results.score,
            format!("{passed}/{}", results.tests.len())
        );
        println!("{}", line.trim_end());
    }
    Ok(())
}

fn print_table(results: &[TestResult], seeds: u32) {
    let width = results
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let sim_header = format!("{seeds} seeds");
    println!(
        "{:<6}  {:<width$}  {:>9}  {:>9}  {:>9}  {:>6}",
        "part", "test", sim_header, "real time", "max time", "points"
    );
    let (mut total, mut possible) = (0.0, 0.0);
    for result in results {
        total += result.score();
        possible += POINTS_PER_TEST;
        let note = if result.part_in_budget {
            ""
        } else {
            "  (part over budget)"
        };
        let sim = match (result.seeds, result.seeds_passed) {
            (0, _) => "-",
            (_, true) => "passed",
            (_, false) => "FAILED",
        };
        let real = if result.runs == 0 {
            "-".to_owned()
        } else {
            format!("{}/{}", result.passed, result.runs)
        };
        let max_time = if result.runs == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}s", result.max_time.as_secs_f64())
        };
        println!(
            "{:<6}  {:<width$}  {:>9}  {:>9}  {:>9}  {:>6}{note}",
            result.part,
            result.name,
            sim,
            real,
            max_time,
            format!("{}/{}", result.score(), POINTS_PER_TEST)
        );
    }
    println!(
        "{:<6}  {:<width$}  {:>9}  {:>9}  {:>9}  {:>6}",
        "",
        "total",
        "",
        "",
        "",
        format!("{total}/{possible}")
    );
    for result in results.iter().filter(|r| !r.output.is_empty()) {
        println!(
            "\n{} {}:\n{}",
            result.part,
            result.name,
            result.output.trim_end()
        );
    }
}
