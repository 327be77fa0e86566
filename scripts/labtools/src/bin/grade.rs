//! `scripts/grade`: grades a checkout with the lab suites. See the README's
//! "Grading" and [`labtools::grading`] for the scheme.

use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use labtools::grading::{self, PART_BUDGET, POINTS_PER_TEST, TEST_BUDGET, TestResult};
use labtools::suite::{self, Outcome, PARTS};
use labtools::tree;

/// Grades a checkout: runs every test of the lab suites, part by part, one
/// at a time, each test N times; prints a table and optionally writes a
/// Gradescope results file. A test scores only if it passes every run within
/// 120 s and each pass through its part takes at most 600 s.
#[derive(Parser)]
#[command(name = "scripts/grade")]
struct Args {
    /// Runs per test.
    #[arg(short = 'n', long, default_value_t = 1)]
    runs: u32,
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
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
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
    let width = tests
        .iter()
        .filter(|t| t.part().is_some())
        .map(|t| t.name().len())
        .max()
        .unwrap_or(0);
    let mut results: Vec<TestResult> = Vec::new();
    'parts: for part in parts {
        let in_part: Vec<&suite::Test> = tests.iter().filter(|t| t.part() == Some(part)).collect();
        if in_part.is_empty() {
            return Err(format!("no test of part {part} in {}", root.display()));
        }
        let first = results.len();
        results.extend(in_part.iter().map(|t| TestResult {
            part: part.to_ascii_uppercase(),
            name: t.name().to_owned(),
            passed: 0,
            runs: 0,
            max_time: Duration::ZERO,
            part_in_budget: true,
            output: String::new(),
        }));
        for pass in 1..=args.runs {
            let mut part_time = Duration::ZERO;
            for (test, result) in in_part.iter().zip(&mut results[first..]) {
                let seed: u64 = rand::random();
                let log = logs.join(format!("{}-run{pass}.log", test.name()));
                let (outcome, time) = suite::run_once(test, seed, TEST_BUDGET, &log, &interrupted)?;
                if outcome == Outcome::Interrupted {
                    eprintln!("grade: interrupted");
                    break 'parts;
                }
                part_time += time;
                result.runs += 1;
                result.max_time = result.max_time.max(time);
                eprintln!(
                    "{} {:<width$} run {pass}/{}: {} in {:.1} s",
                    result.part,
                    result.name,
                    args.runs,
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
                        "run {pass} {why} after {:.1} s; output in {}; replay with\n  {}\n{}\n",
                        time.as_secs_f64(),
                        log.display(),
                        test.replay_command(seed),
                        suite::tail(&log, 30)
                    );
                }
            }
            if part_time > PART_BUDGET {
                for result in &mut results[first..] {
                    result.part_in_budget = false;
                    let _ = writeln!(
                        result.output,
                        "pass {pass} through part {} took {:.1} s, over its {} s budget",
                        result.part,
                        part_time.as_secs_f64(),
                        PART_BUDGET.as_secs()
                    );
                }
            }
        }
    }
    let results: Vec<TestResult> = results.into_iter().filter(|r| r.runs > 0).collect();
    print_table(&results);
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

fn print_table(results: &[TestResult]) {
    let width = results
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<4}  {:<width$}  {:>6}  {:>8}  {:>6}",
        "part", "test", "passed", "max time", "points"
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
        println!(
            "{:<4}  {:<width$}  {:>6}  {:>7.1}s  {:>6}{note}",
            result.part,
            result.name,
            format!("{}/{}", result.passed, result.runs),
            result.max_time.as_secs_f64(),
            format!("{}/{}", result.score(), POINTS_PER_TEST)
        );
    }
    println!(
        "{:<4}  {:<width$}  {:>6}  {:>8}  {:>6}",
        "",
        "total",
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
