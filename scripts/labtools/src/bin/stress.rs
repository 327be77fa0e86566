//! `scripts/stress`: runs tests many times in parallel and keeps only the
//! failed runs' output. See the README's "Stress runs".

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use labtools::suite::{self, Linking, Outcome, Runs, Test};
use serde::{Deserialize, Serialize};

/// Runs each test matching PATTERN many times, each run in its own process
/// with its own seed, keeping P runs going at once: in simulation (one seed
/// per run, or M with --seeds), or in real time with --real. Only failed
/// runs' output is kept, with the command that replays each. Interrupt with
/// Ctrl-C and run the same command again to resume.
#[derive(Parser)]
#[command(name = "scripts/stress")]
struct Args {
    /// Runs per test.
    #[arg(short = 'n', long, default_value_t = 10)]
    runs: u32,
    /// Runs at once (default: the number of cores).
    #[arg(short = 'p', long)]
    jobs: Option<usize>,
    /// Seconds (of wall time, per seed) after which a run is killed and
    /// counted as failed.
    #[arg(short = 't', long, default_value_t = 150)]
    timeout: u64,
    /// Run in real time (`LAB_TIME=real`), as the course does, instead of
    /// in simulation.
    #[arg(long)]
    real: bool,
    /// Seeds per run in simulation, one after another in one process
    /// (`LAB_RUNS`): cheaper than a process per seed.
    #[arg(long, default_value_t = 1, conflicts_with = "real")]
    seeds: u32,
    /// Where failed runs' output and the list of finished runs go.
    #[arg(short = 'o', long, default_value = "target/stress")]
    out: PathBuf,
    /// Forget the runs listed in the output directory and start afresh
    /// (without it, a rerun resumes where the last one stopped).
    #[arg(long)]
    fresh: bool,
    /// Also write the summary, every run included, to this JSON file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Run only the K-th of N deterministic slices of the runs (1 <= K <= N),
    /// to spread one stress over N machines; merge their JSON with --merge.
    #[arg(long, value_name = "K/N", value_parser = suite::parse_shard)]
    shard: Option<(usize, usize)>,
    /// Instead of running, merge these JSON summaries and print the table
    /// (with --json, also write the merged summary).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    merge: Vec<PathBuf>,
    /// Test name patterns, as `cargo test` takes them (`2a`,
    /// `initial_election`); every test of the suites when none.
    patterns: Vec<String>,
}

/// One finished run, as listed (one JSON line each in `OUT/runs.jsonl`)
/// and in the JSON summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Run {
    test: String,
    run: u32,
    seed: u64,
    outcome: Outcome,
    seconds: f64,
    /// The kept output of a failed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log: Option<PathBuf>,
    /// The command that replays a failed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replay: Option<String>,
}

impl Run {
    fn passed(&self) -> bool {
        self.outcome == Outcome::Passed
    }
}

/// What `--json` writes: a line of the table per test, and every run.
#[derive(Serialize, Deserialize)]
struct Summary {
    #[serde(default)]
    tests: Vec<TestSummary>,
    runs: Vec<Run>,
}

/// A line of the final table.
#[derive(Serialize, Deserialize)]
struct TestSummary {
    test: String,
    failed: usize,
    total: usize,
    mean_seconds: f64,
    sd_seconds: f64,
    max_seconds: f64,
}

fn summarize(runs: &[Run]) -> Vec<TestSummary> {
    let mut by_test: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    for run in runs {
        by_test.entry(run.test.as_str()).or_default().push(run);
    }
    by_test
        .into_iter()
        .map(|(test, runs)| {
            let seconds: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
            let (mean, sd, max) = suite::spread(&seconds);
            TestSummary {
                test: test.to_owned(),
                failed: runs.iter().filter(|r| !r.passed()).count(),
                total: runs.len(),
                mean_seconds: mean,
                sd_seconds: sd,
                max_seconds: max,
            }
        })
        .collect()
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.merge.is_empty() {
        return merge(&args);
    }
    match stress(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("stress: {message}");
            ExitCode::from(2)
        }
    }
}

fn merge(args: &Args) -> ExitCode {
    let mut runs = Vec::new();
    for file in &args.merge {
        let text = match fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("stress: cannot read {}: {e}", file.display());
                return ExitCode::from(2);
            }
        };
        match serde_json::from_str::<Summary>(&text) {
            Ok(summary) => runs.extend(summary.runs),
            Err(e) => {
                eprintln!(
                    "stress: {} is not a summary written by --json: {e}",
                    file.display()
                );
                return ExitCode::from(2);
            }
        }
    }
    print_table(&runs);
    if let Some(path) = &args.json
        && let Err(message) = write_json(path, &runs)
    {
        eprintln!("stress: {message}");
        return ExitCode::from(2);
    }
    exit_code(&runs, false)
}

fn stress(args: &Args) -> Result<ExitCode, String> {
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    let root = suite::this_checkout();
    eprintln!("stress: building the tests");
    let tests = suite::build_and_list(&root, None, Linking::Reuse, &[])?;
    let selected = suite::select(&tests, &args.patterns);
    if selected.is_empty() {
        return Err(format!(
            "no test matches {:?}; tests are named like initial_election_2a \
             (list them with `cargo test -p tests -- --list`)",
            args.patterns
        ));
    }
    let out = root.join(&args.out);
    fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let runs_path = out.join("runs.jsonl");
    if args.fresh && runs_path.exists() {
        fs::remove_file(&runs_path)
            .map_err(|e| format!("cannot remove {}: {e}", runs_path.display()))?;
    }
    let plan: Vec<(&Test, u32)> = suite::plan(selected.len(), args.runs, args.shard)
        .into_iter()
        .map(|(test, run)| (selected[test], run))
        .collect();
    let (mut done, queue) = resume(&plan, read_finished(&runs_path)?);
    if !done.is_empty() {
        eprintln!(
            "stress: resuming: {} of {} runs already done (listed in {}; \
             --fresh starts over)",
            done.len(),
            plan.len(),
            runs_path.display()
        );
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let interrupted = Arc::clone(&interrupted);
        ctrlc::set_handler(move || interrupted.store(true, Ordering::SeqCst))
            .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    }
    let progress = Progress::new(plan.len() as u64, done.len() as u64, failures(&done));
    let mode = if args.real {
        Runs::Real
    } else {
        Runs::Sim { seeds: args.seeds }
    };
    let place = Place {
        root: &root,
        out: &out,
        runs: &runs_path,
    };
    let ran = run_queue(args, mode, queue, &place, &progress, &interrupted);
    progress.finish();
    done.extend(ran?);
    print_table(&done);
    if let Some(path) = &args.json {
        write_json(path, &done)?;
    }
    let stopped = interrupted.load(Ordering::SeqCst);
    if stopped {
        eprintln!(
            "stress: interrupted after {} of {} runs; the same command (without --fresh) resumes",
            done.len(),
            plan.len()
        );
    }
    Ok(exit_code(&done, stopped))
}

/// Where a stress keeps things: the checkout, the output directory, and the
/// list of finished runs in it.
struct Place<'a> {
    root: &'a Path,
    out: &'a Path,
    runs: &'a Path,
}

/// Of `plan`, the runs an earlier stress already finished (listed in
/// `earlier`), and those still to do.
fn resume(plan: &[(&Test, u32)], earlier: Vec<Run>) -> (Vec<Run>, Vec<(Test, u32)>) {
    let planned: HashSet<(String, u32)> = plan.iter().map(|(t, r)| (t.path.clone(), *r)).collect();
    let done: Vec<Run> = earlier
        .into_iter()
        .filter(|r| planned.contains(&(r.test.clone(), r.run)))
        .collect();
    let finished: HashSet<(String, u32)> = done.iter().map(|r| (r.test.clone(), r.run)).collect();
    let queue = plan
        .iter()
        .filter(|(t, r)| !finished.contains(&(t.path.clone(), *r)))
        .map(|(t, r)| ((*t).clone(), *r))
        .collect();
    (done, queue)
}

/// Runs `queue`, `--jobs` at once, listing each finished run in the runs
/// file as it ends (an interrupted one is not listed, so a rerun redoes
/// it); the finished runs.
fn run_queue(
    args: &Args,
    mode: Runs,
    queue: Vec<(Test, u32)>,
    place: &Place<'_>,
    progress: &Progress,
    interrupted: &AtomicBool,
) -> Result<Vec<Run>, String> {
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let timeout = Duration::from_secs(args.timeout.saturating_mul(u64::from(args.seeds)));
    let finished = Mutex::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(place.runs)
            .map_err(|e| format!("cannot open {}: {e}", place.runs.display()))?,
    );
    let results = Mutex::new(Vec::new());
    suite::in_parallel(jobs, queue, interrupted, |(test, run)| {
        let Some(result) = one_run(
            &test,
            mode,
            run,
            timeout,
            place.out,
            place.root,
            interrupted,
        )?
        else {
            return Ok(()); // interrupted: not listed, so a rerun redoes it
        };
        let line = serde_json::to_string(&result).expect("plain data");
        writeln!(finished.lock().expect("no panics"), "{line}")
            .map_err(|e| format!("cannot write {}: {e}", place.runs.display()))?;
        progress.finished(&result);
        results.lock().expect("no panics").push(result);
        Ok(())
    })?;
    Ok(results.into_inner().expect("no panics"))
}

/// Runs one test once; keeps its output only if it failed. `None` when the
/// run was interrupted.
fn one_run(
    test: &Test,
    mode: Runs,
    run: u32,
    timeout: Duration,
    out: &Path,
    root: &Path,
    interrupted: &AtomicBool,
) -> Result<Option<Run>, String> {
    let seed: u64 = rand::random();
    let running = out.join(format!(".running-{}-{run}.log", test.name()));
    let ran = suite::run_once(
        &suite::TestRun {
            test,
            mode,
            seed,
            timeout,
            log: &running,
        },
        interrupted,
        None,
    )?;
    let (outcome, elapsed) = (ran.outcome, ran.took);
    let mut result = Run {
        test: test.path.clone(),
        run,
        seed,
        outcome,
        seconds: elapsed.as_secs_f64(),
        log: None,
        replay: None,
    };
    match outcome {
        Outcome::Passed | Outcome::Interrupted => {
            let _ = fs::remove_file(&running);
            Ok((outcome == Outcome::Passed).then_some(result))
        }
        Outcome::Failed | Outcome::NoVerdict | Outcome::TimedOut => {
            let kept = out.join(format!("{}-run{run}-seed{seed}.log", test.name()));
            if outcome == Outcome::TimedOut {
                let mut file = OpenOptions::new()
                    .append(true)
                    .open(&running)
                    .map_err(|e| format!("cannot open {}: {e}", running.display()))?;
                let _ = writeln!(
                    file,
                    "stress: killed after {:.1} s (--timeout {})",
                    elapsed.as_secs_f64(),
                    timeout.as_secs()
                );
            }
            // With several seeds in the run, the one that failed.
            let failed = ran.failed_seed(seed);
            fs::rename(&running, &kept)
                .map_err(|e| format!("cannot keep {}: {e}", kept.display()))?;
            result.log = Some(kept.strip_prefix(root).unwrap_or(&kept).to_owned());
            result.replay = Some(test.replay_command(mode, failed));
            Ok(Some(result))
        }
    }
}

fn read_finished(path: &Path) -> Result<Vec<Run>, String> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| {
                format!(
                    "{} line {} is not a finished run ({e}); delete the file to start afresh",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

fn failures(runs: &[Run]) -> u64 {
    runs.iter().filter(|r| !r.passed()).count() as u64
}

fn exit_code(runs: &[Run], interrupted: bool) -> ExitCode {
    if failures(runs) > 0 {
        ExitCode::FAILURE
    } else if interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    }
}

/// The live progress: a bar on a terminal, a line per run otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    state: Mutex<(u64, u64)>,
    started: Instant,
}

impl Progress {
    fn new(total: u64, done: u64, failed: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} runs, {msg}, {elapsed} elapsed, ETA {eta}",
                )
                .expect("a valid template"),
            );
            bar.set_position(done);
            bar.set_message(format!("{failed} failed"));
            bar.reset_eta();
            bar
        });
        Progress {
            bar,
            total,
            state: Mutex::new((done, failed)),
            started: Instant::now(),
        }
    }

    fn finished(&self, run: &Run) {
        let mut state = self.state.lock().expect("no panics");
        state.0 += 1;
        if !run.passed() {
            state.1 += 1;
        }
        let (done, failed) = *state;
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(format!("{failed} failed"));
                if !run.passed() {
                    bar.println(format!(
                        "{} run {} {} after {:.1} s: {}",
                        run.test,
                        run.run,
                        run.outcome,
                        run.seconds,
                        run.log.as_deref().unwrap_or(Path::new("?")).display()
                    ));
                }
            }
            None => eprintln!(
                "[{done}/{}] {} run {}: {} in {:.1} s ({failed} failed so far, {:.0} s elapsed)",
                self.total,
                run.test,
                run.run,
                run.outcome,
                run.seconds,
                self.started.elapsed().as_secs_f64()
            ),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn print_table(runs: &[Run]) {
    let lines = summarize(runs);
    let width = lines.iter().map(|l| l.test.len()).max().unwrap_or(4).max(4);
    println!(
        "{:<width$}  {:>6}  {:>5}  {:>15}  {:>7}",
        "test", "failed", "total", "time (mean ± σ)", "max"
    );
    for line in &lines {
        println!(
            "{:<width$}  {:>6}  {:>5}  {:>7.2} ± {:<5.2}  {:>6.2}s",
            line.test,
            line.failed,
            line.total,
            line.mean_seconds,
            line.sd_seconds,
            line.max_seconds
        );
    }
    let mut failed: Vec<&Run> = runs.iter().filter(|r| !r.passed()).collect();
    failed.sort_by(|a, b| (&a.test, a.run).cmp(&(&b.test, b.run)));
    if !failed.is_empty() {
        println!("\nfailed runs (output kept; replay with the command below each):");
        for run in failed {
            println!(
                "  {} run {} ({}): {}",
                run.test,
                run.run,
                run.outcome,
                run.log.as_deref().unwrap_or(Path::new("?")).display()
            );
            if let Some(replay) = &run.replay {
                println!("    {replay}");
            }
        }
    }
}

fn write_json(path: &Path, runs: &[Run]) -> Result<(), String> {
    let summary = Summary {
        tests: summarize(runs),
        runs: runs.to_vec(),
    };
    let text = serde_json::to_string_pretty(&summary).expect("plain data");
    fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}
