//! `scripts/grade`: grades a checkout with the lab suites. See the README's
//! "Grading" and [`labtools::grading`] for the scheme.

use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use labtools::grading::{self, PART_BUDGET, POINTS_PER_TEST, TEST_BUDGET, TestResult};
use labtools::suite::{self, Mode, Outcome, PARTS};
use labtools::tree;

/// Grades a checkout: runs every test of the lab suites in simulation with
/// K seeds (in parallel), then N times in real time, part by part, one test
/// at a time; prints a table and optionally writes a Gradescope results
/// file. A test scores only if it passes every seed and every real-time run
/// within 120 s, and each real-time pass through its part takes at most
/// 600 s.
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
    #[arg(long)]
    json: Option<PathBuf>,
    /// Grade only these parts (comma-separated, e.g. 2a,2b).
    #[arg(long, value_delimiter = ',')]
    parts: Vec<String>,
    /// The checkout to grade (default: this one). Its labraft/ and kvraft/
    /// are graded with this checkout's labrpc/, tests/ and scripts/, in a
    /// copy under target/grade/, so a submission cannot change the suites.
    path: Option<PathBuf>,
}

/// Wall time a simulated test may take per seed before it is killed: far
/// more than any passing seed needs (a few seconds), so only a run that
/// burns CPU without end reaches it.
const WALL_PER_SEED: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args = Args::parse();
    match grade(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("grade: {message}");
            ExitCode::from(2)
        }
    }
}

fn grade(args: &Args) -> Result<ExitCode, String> {
    if args.seeds == 0 && args.real_runs == 0 {
        return Err("nothing to run: --seeds and --real-runs are both 0".into());
    }
    let parts: Vec<&str> = if args.parts.is_empty() {
        PARTS.to_vec()
    } else {
        args.parts
            .iter()
            .map(|p| {
                let p = p.to_ascii_lowercase();
                PARTS.into_iter().find(|&known| known == p).ok_or_else(|| {
                    format!("unknown part {p:?}; the parts are {}", PARTS.join(", "))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let this = suite::this_checkout();
    let root = match &args.path {
        None => this.clone(),
        Some(path) => overlay(path, &this)?,
    };
    eprintln!("grade: building the tests in {}", root.display());
    // A copy builds in its own target directory, even when CARGO_TARGET_DIR
    // names one: cargo tells a workspace's crates apart by their paths inside
    // the workspace, so two checkouts sharing one would overwrite each
    // other's builds.
    let own_target = (root != this).then(|| root.join("target"));
    let tests = suite::build_and_list(&root, own_target.as_deref())?;
    let logs = this.join("target/grade-logs");
    fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;

    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let interrupted = Arc::clone(&interrupted);
        ctrlc::set_handler(move || interrupted.store(true, Ordering::SeqCst))
            .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    }
    let started = Instant::now();
    let mut graded: Vec<(&suite::Test, TestResult)> = Vec::new();
    for part in &parts {
        let in_part: Vec<&suite::Test> = tests.iter().filter(|t| t.part() == Some(part)).collect();
        if in_part.is_empty() {
            return Err(format!("no test of part {part} in {}", root.display()));
        }
        graded.extend(in_part.into_iter().map(|t| {
            (
                t,
                TestResult {
                    part: part.to_ascii_uppercase(),
                    name: t.name().to_owned(),
                    seeds: 0,
                    seeds_passed: false,
                    passed: 0,
                    runs: 0,
                    max_time: Duration::ZERO,
                    part_in_budget: true,
                    output: String::new(),
                },
            )
        }));
    }
    let width = graded
        .iter()
        .map(|(t, _)| t.name().len())
        .max()
        .unwrap_or(0);

    if args.seeds > 0 {
        let jobs = args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        eprintln!(
            "grade: simulation, {} seeds per test, {jobs} at once",
            args.seeds
        );
        simulate(&mut graded, args.seeds, jobs, &logs, &interrupted, width)?;
    }
    if args.real_runs > 0 && !interrupted.load(Ordering::SeqCst) {
        eprintln!(
            "grade: real time, {} run(s) per test, one at a time",
            args.real_runs
        );
        real_time(
            &mut graded,
            &parts,
            args.real_runs,
            &logs,
            &interrupted,
            width,
        )?;
    }
    let results: Vec<TestResult> = graded
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.runs > 0 || r.seeds > 0)
        .collect();
    if interrupted.load(Ordering::SeqCst) {
        eprintln!("grade: interrupted");
    }
    print_table(&results, args.seeds);
    if let Some(path) = &args.json {
        let json = grading::results(&results, started.elapsed());
        let text = serde_json::to_string_pretty(&json).expect("plain data");
        fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("grade: results written to {}", path.display());
    }
    let full = results.iter().all(|r| r.score() == POINTS_PER_TEST);
    Ok(if interrupted.load(Ordering::SeqCst) {
        ExitCode::from(130)
    } else if full {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs every test in simulation with `seeds` seeds (one process each, from
/// a fresh seed on), `jobs` at once.
fn simulate(
    graded: &mut [(&suite::Test, TestResult)],
    seeds: u32,
    jobs: usize,
    logs: &Path,
    interrupted: &AtomicBool,
    width: usize,
) -> Result<(), String> {
    let mode = Mode::Sim { seeds };
    let timeout = WALL_PER_SEED * seeds;
    let next = Mutex::new(graded.iter_mut());
    let error: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    let Some((test, result)) = next.lock().expect("no worker panics").next() else {
                        return;
                    };
                    if interrupted.load(Ordering::SeqCst) {
                        return;
                    }
                    let seed: u64 = rand::random();
                    let log = logs.join(format!("{}-sim.log", test.name()));
                    let outcome =
                        match suite::run_once(test, mode, seed, timeout, &log, interrupted) {
                            Ok((outcome, _)) => outcome,
                            Err(e) => {
                                error.lock().expect("no worker panics").get_or_insert(e);
                                return;
                            }
                        };
                    if outcome == Outcome::Interrupted {
                        return;
                    }
                    result.seeds = seeds;
                    result.seeds_passed = outcome == Outcome::Passed;
                    eprintln!(
                        "{} {:<width$} {seeds} seeds: {}",
                        result.part,
                        result.name,
                        outcome.label()
                    );
                    if outcome == Outcome::Passed {
                        let _ = fs::remove_file(&log);
                        continue;
                    }
                    let failed = suite::failing_seed(&log).unwrap_or(seed);
                    let why = if outcome == Outcome::TimedOut {
                        format!("was killed after {} s of wall time", timeout.as_secs())
                    } else {
                        "failed".to_owned()
                    };
                    let _ = writeln!(
                        result.output,
                        "simulation: seed {failed} {why}; output in {}; replay with\n  {}\n{}\n",
                        log.display(),
                        test.replay_command(mode, failed),
                        suite::tail(&log, 30)
                    );
                }
            });
        }
    });
    match error.into_inner().expect("no worker panics") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Runs every test `runs` times in real time, part by part, one at a time,
/// checking the part's budget on each pass.
fn real_time(
    graded: &mut [(&suite::Test, TestResult)],
    parts: &[&str],
    runs: u32,
    logs: &Path,
    interrupted: &AtomicBool,
    width: usize,
) -> Result<(), String> {
    for part in parts {
        let part = part.to_ascii_uppercase();
        for pass in 1..=runs {
            let mut part_time = Duration::ZERO;
            for (test, result) in graded.iter_mut().filter(|(_, r)| r.part == part) {
                let seed: u64 = rand::random();
                let log = logs.join(format!("{}-run{pass}.log", test.name()));
                let (outcome, time) =
                    suite::run_once(test, Mode::Real, seed, TEST_BUDGET, &log, interrupted)?;
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
                    time.as_secs_f64()
                );
                if outcome == Outcome::Passed {
                    result.passed += 1;
                    let _ = fs::remove_file(&log);
                } else {
                    let why = if outcome == Outcome::TimedOut {
                        format!("over the {} s budget", TEST_BUDGET.as_secs())
                    } else {
                        "failed".to_owned()
                    };
                    let _ = writeln!(
                        result.output,
                        "real time: run {pass} {why} after {:.1} s; output in {}; replay with\n  {}\n{}\n",
                        time.as_secs_f64(),
                        log.display(),
                        test.replay_command(Mode::Real, seed),
                        suite::tail(&log, 30)
                    );
                }
            }
            if part_time > PART_BUDGET {
                for (_, result) in graded.iter_mut().filter(|(_, r)| r.part == part) {
                    result.part_in_budget = false;
                    let _ = writeln!(
                        result.output,
                        "real-time pass {pass} through part {} took {:.1} s, over its {} s budget",
                        result.part,
                        part_time.as_secs_f64(),
                        PART_BUDGET.as_secs()
                    );
                }
            }
        }
    }
    Ok(())
}

/// A copy of the submission at `path` with this checkout's framework and
/// suites, under `this/target/grade/`; its build directory is kept between
/// gradings.
fn overlay(path: &Path, this: &Path) -> Result<PathBuf, String> {
    let path = path
        .canonicalize()
        .map_err(|e| format!("cannot grade {}: {e}", path.display()))?;
    if path == this {
        return Ok(path);
    }
    for crate_dir in ["labraft", "kvraft"] {
        if !path.join(crate_dir).join("Cargo.toml").is_file() {
            return Err(format!(
                "{} is not a lab checkout: it has no {crate_dir}/Cargo.toml",
                path.display()
            ));
        }
    }
    let name = path
        .file_name()
        .map_or_else(|| "submission".into(), |n| n.to_owned());
    let copy = this.join("target/grade").join(name);
    fs::create_dir_all(&copy).map_err(|e| format!("cannot create {}: {e}", copy.display()))?;
    for entry in fs::read_dir(&copy).map_err(|e| format!("cannot read {}: {e}", copy.display()))? {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", copy.display()))?;
        if entry.file_name() != "target" {
            remove(&entry.path())?;
        }
    }
    let framework = ["labrpc", "tests", "scripts"];
    for file in tree::files(&path, &[&framework[..], &[".git"]].concat())? {
        tree::copy(&path, &copy, &file)?;
    }
    for dir in framework {
        for file in tree::files(&this.join(dir), &[])? {
            tree::copy(&this.join(dir), &copy.join(dir), &file)?;
        }
    }
    Ok(copy)
}

fn remove(path: &Path) -> Result<(), String> {
    let result = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    result.map_err(|e| format!("cannot remove {}: {e}", path.display()))
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
        "{:<4}  {:<width$}  {:>9}  {:>9}  {:>9}  {:>6}",
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
            "{:<4}  {:<width$}  {:>9}  {:>9}  {:>9}  {:>6}{note}",
            result.part,
            result.name,
            sim,
            real,
            max_time,
            format!("{}/{}", result.score(), POINTS_PER_TEST)
        );
    }
    println!(
        "{:<4}  {:<width$}  {:>9}  {:>9}  {:>9}  {:>6}",
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
