// handout: omit-file
// (It plants bugs in the reference solution, which the handout does not have.)
//! `scripts/mutants`: plants each bug of the catalogue (`mutants/`) in a copy
//! of the reference solution and runs its part's tests until one fails. See
//! the README's "What the suites catch".

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use labtools::mutants::{self, Mutant, WorkCopy};
use labtools::suite::{self, Linking, Outcome, Part, Runs, Test};
use serde::Serialize;

/// Plants each planted bug of the catalogue (`mutants/*.toml`), one at a
/// time, in a copy of this checkout built with `--cfg lab_mutant` (the
/// reference's own invariant checks off), and runs the tests of the bug's
/// part in simulation, K seeds each, several tests at once, until one
/// fails. With --real, a bug the simulation missed gets one real-time pass
/// of its part too. Prints a table: caught or SURVIVED, by which test,
/// where the failing panic was raised (`tests`: a check of the suites';
/// `labraft` or `kvraft`: the solution's own bounds check or `expect`),
/// after how many seeds and seconds. Exits with 1 if any bug survived or
/// could not be planted.
#[derive(Parser)]
#[command(name = "scripts/mutants")]
struct Args {
    /// Seeds per test in simulation.
    #[arg(short = 'k', long, default_value_t = 10)]
    seeds: u32,
    /// The first seed (each test runs seeds SEED, SEED+1, ...); random when
    /// not given. The table says which was used: give it again to repeat
    /// the run exactly.
    #[arg(long)]
    seed: Option<u64>,
    /// Also run the part once in real time when the simulation missed the
    /// bug.
    #[arg(long)]
    real: bool,
    /// Test processes at once (default: the number of cores).
    #[arg(short = 'p', long)]
    jobs: Option<usize>,
    /// Seconds of wall time per seed after which a test process is killed
    /// (counted as catching the bug: the test did not finish).
    #[arg(short = 't', long, default_value_t = 120)]
    timeout: u64,
    /// Also write the table, with the log and replay of every catch, here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// List the catalogue and stop.
    #[arg(long)]
    list: bool,
    /// Plant this one mutant in the working copy (target/mutants/src) and
    /// stop, to run its tests by hand; the command to use is printed.
    #[arg(long, value_name = "MUTANT", conflicts_with = "list")]
    plant: Option<String>,
    /// Mutants to run: a part (`2b`) or part of a name; all when none.
    patterns: Vec<String>,
}

/// What became of a planted bug. In the JSON results, by name
/// (`"caught"`, `"survived"`, ...); in the table, as `Display` writes it,
/// what went wrong in capitals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    /// A test failed on it.
    Caught,
    /// Every test passed with it.
    Survived,
    /// An edit does not apply to the reference.
    NotPlanted,
    /// The planted copy does not build.
    DoesNotBuild,
    /// The run was interrupted before its tests were done.
    Interrupted,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Verdict::Caught => "caught",
            Verdict::Survived => "SURVIVED",
            Verdict::NotPlanted => "NOT PLANTED",
            Verdict::DoesNotBuild => "DOES NOT BUILD",
            Verdict::Interrupted => "interrupted",
        })
    }
}

/// How one mutant fared: a line of the table.
#[derive(Serialize)]
struct Row {
    mutant: String,
    part: Part,
    description: String,
    verdict: Verdict,
    /// The test that caught it, and how.
    #[serde(skip_serializing_if = "Option::is_none")]
    caught: Option<Catch>,
    /// Seconds building the mutant.
    build_seconds: f64,
    /// Seconds of testing until the catch (or all of it).
    test_seconds: f64,
    /// Why it was not planted or built.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Clone, Serialize)]
struct Catch {
    test: String,
    mode: &'static str,
    /// `FAILED` or `TIMED OUT`.
    outcome: &'static str,
    /// Which of the test's seeds failed, from 1 (in real time, 1).
    seed_number: u32,
    seed: u64,
    /// The failure's message (the first panic's).
    message: Option<String>,
    /// Where the first panic was raised (`FILE:LINE:COLUMN`).
    panicked_at: Option<String>,
    /// The workspace member whose code raised it: `tests` for the suites'
    /// checks, `labraft` or `kvraft` for the solution's own (a bounds
    /// check a student's code may not have), `labrpc`, or `other`.
    raised_in: Option<&'static str>,
    log: PathBuf,
    /// Runs the failing test on the planted mutant (after `--plant`).
    replay: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("mutants: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<ExitCode, String> {
    let root = suite::this_checkout();
    let catalogue = mutants::catalogue(&root.join(mutants::CATALOGUE))?;
    if args.list {
        for mutant in mutants::select(&catalogue, &args.patterns) {
            println!(
                "{:<34} {}  {}",
                mutant.name,
                mutant.part.name(),
                mutant.description
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let scratch = root.join("target/mutants");
    let target_dir = scratch.join("target");
    let logs = scratch.join("logs");
    fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    let _lock = Lock::take(&scratch.join("lock"))?;
    let mut copy = WorkCopy::sync(&root, &scratch.join("src"))?;
    if let Some(name) = &args.plant {
        plant_by_hand(&catalogue, name, &mut copy, &target_dir)?;
        return Ok(ExitCode::SUCCESS);
    }
    let selected = mutants::select(&catalogue, &args.patterns);
    if selected.is_empty() {
        return Err(format!(
            "no mutant matches {:?} (list them with --list)",
            args.patterns
        ));
    }
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    let settings = Settings {
        seeds: args.seeds,
        first_seed: args.seed.unwrap_or_else(rand::random),
        real: args.real,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1),
        timeout: Duration::from_secs(args.timeout),
        target_dir,
        logs,
    };
    eprintln!(
        "mutants: {} mutant(s), {} seed(s) per test from seed {}{}, {} at once; the copy is {}",
        selected.len(),
        settings.seeds,
        settings.first_seed,
        if settings.real {
            ", then real time"
        } else {
            ""
        },
        settings.jobs,
        copy.dir().display()
    );
    let started = Instant::now();
    let (rows, interrupted) = measure(&selected, &mut copy, &settings)?;
    copy.restore()?;
    print_table(&rows, settings.first_seed, settings.seeds);
    eprintln!("mutants: {:.0} s in all", started.elapsed().as_secs_f64());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&rows).expect("plain data");
        fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if interrupted {
        eprintln!("mutants: interrupted");
        return Ok(ExitCode::from(130));
    }
    let failed = rows.iter().filter(|r| r.verdict != Verdict::Caught).count();
    if failed > 0 {
        eprintln!("mutants: {failed} of {} not caught", rows.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--plant NAME`: leaves that mutant planted in the copy, and says how to
/// run its tests there.
fn plant_by_hand(
    catalogue: &[Mutant],
    name: &str,
    copy: &mut WorkCopy,
    target_dir: &Path,
) -> Result<(), String> {
    let mutant = catalogue
        .iter()
        .find(|m| m.name == *name)
        .ok_or_else(|| format!("no mutant named {name} (list them with --list)"))?;
    copy.plant(mutant)?;
    println!(
        "mutants: planted {name} in {}; run its tests there with\n  cd {} && {}",
        copy.dir().display(),
        copy.dir().display(),
        cargo_env(target_dir)
    );
    Ok(())
}

/// Plants each of `selected` in `copy` in turn and tests it, printing how
/// each fared; the rows, and whether Ctrl-C cut the measurement short.
fn measure(
    selected: &[&Mutant],
    copy: &mut WorkCopy,
    settings: &Settings,
) -> Result<(Vec<Row>, bool), String> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (interrupted, stop) = (Arc::clone(&interrupted), Arc::clone(&stop));
        ctrlc::set_handler(move || {
            interrupted.store(true, Ordering::SeqCst);
            stop.store(true, Ordering::SeqCst);
        })
        .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    }
    let mut rows = Vec::new();
    for (n, mutant) in selected.iter().enumerate() {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        eprintln!(
            "[{}/{}] {} ({}): {}",
            n + 1,
            selected.len(),
            mutant.name,
            mutant.part.name(),
            mutant.description
        );
        stop.store(false, Ordering::SeqCst);
        let row = one_mutant(mutant, copy, settings, &stop)?;
        eprintln!("      {}", summary(&row));
        rows.push(row);
    }
    Ok((rows, interrupted.load(Ordering::SeqCst)))
}

/// The working copy's lock: two runs planting in one copy would test each
/// other's mutants. Holds this process's id; a lock whose process is gone is
/// taken over.
struct Lock(PathBuf);

impl Lock {
    fn take(path: &Path) -> Result<Lock, String> {
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut file) => {
                    let _ = write!(file, "{}", std::process::id());
                    return Ok(Lock(path.to_owned()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(path).unwrap_or_default();
                    let alive = holder
                        .trim()
                        .parse::<u32>()
                        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                    if alive {
                        return Err(format!(
                            "another scripts/mutants (process {}) is using the working copy; \
                             wait for it to finish (its lock is {})",
                            holder.trim(),
                            path.display()
                        ));
                    }
                    let _ = fs::remove_file(path);
                }
                Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
            }
        }
        Err(format!("cannot take the lock {}", path.display()))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

struct Settings {
    seeds: u32,
    first_seed: u64,
    real: bool,
    jobs: usize,
    timeout: Duration,
    target_dir: PathBuf,
    logs: PathBuf,
}

/// How to run the suites in the working copy by hand: its build settings.
fn cargo_env(target_dir: &Path) -> String {
    format!(
        "RUSTFLAGS='--cfg {}' CARGO_TARGET_DIR={} cargo test -p {} ...",
        mutants::CFG,
        target_dir.display(),
        suite::PACKAGE
    )
}

fn one_mutant(
    mutant: &Mutant,
    copy: &mut WorkCopy,
    settings: &Settings,
    stop: &AtomicBool,
) -> Result<Row, String> {
    let mut row = Row {
        mutant: mutant.name.clone(),
        part: mutant.part,
        description: mutant.description.clone(),
        verdict: Verdict::Interrupted,
        caught: None,
        build_seconds: 0.0,
        test_seconds: 0.0,
        error: None,
    };
    if let Err(message) = copy.plant(mutant) {
        row.verdict = Verdict::NotPlanted;
        row.error = Some(message);
        return Ok(row);
    }
    let building = Instant::now();
    let built = suite::build_and_list(
        copy.dir(),
        Some(&settings.target_dir),
        Linking::Reuse,
        &[mutants::CFG],
    );
    row.build_seconds = building.elapsed().as_secs_f64();
    let tests = match built {
        Ok(tests) => tests,
        Err(message) => {
            row.verdict = Verdict::DoesNotBuild;
            row.error = Some(message);
            return Ok(row);
        }
    };
    let part_tests: Vec<Test> = tests
        .into_iter()
        .filter(|t| t.integration && t.part() == Some(mutant.part))
        .collect();
    if part_tests.is_empty() {
        return Err(format!("the suites have no test of part {}", mutant.part));
    }
    let testing = Instant::now();
    let mode = Runs::Sim {
        seeds: settings.seeds,
    };
    let mut caught = hunt(mutant, &part_tests, mode, settings, settings.jobs, stop)?;
    if caught.is_none() && settings.real && !stop.load(Ordering::SeqCst) {
        caught = hunt(mutant, &part_tests, Runs::Real, settings, 1, stop)?;
    }
    row.test_seconds = testing.elapsed().as_secs_f64();
    row.verdict = if caught.is_some() {
        Verdict::Caught
    } else if stop.load(Ordering::SeqCst) {
        Verdict::Interrupted
    } else {
        Verdict::Survived
    };
    row.caught = caught;
    Ok(row)
}

/// The seeds of each test in rounds, as (offset from the first seed, how
/// many): 1, 1, 2, 4, 8, ... adding up to `seeds`, so that every test gets
/// its first seeds early, where most bugs show.
fn rounds(seeds: u32) -> Vec<(u32, u32)> {
    let mut rounds = Vec::new();
    let (mut offset, mut size) = (0, 1);
    while offset < seeds {
        let count = size.min(seeds - offset);
        rounds.push((offset, count));
        offset += count;
        if rounds.len() > 1 {
            size *= 2;
        }
    }
    rounds
}

/// Runs `tests` in `mode`, `jobs` processes at once, round by round (see
/// [`rounds`]), until one fails (the others are stopped then); the first
/// failure.
fn hunt(
    mutant: &Mutant,
    tests: &[Test],
    mode: Runs,
    settings: &Settings,
    jobs: usize,
    stop: &AtomicBool,
) -> Result<Option<Catch>, String> {
    let seeds = match mode {
        Runs::Sim { seeds } => seeds,
        Runs::Real => 1,
    };
    let work: Vec<(&Test, u32, u32)> = rounds(seeds)
        .into_iter()
        .flat_map(|(offset, count)| tests.iter().map(move |test| (test, offset, count)))
        .collect();
    let first: Mutex<Option<Catch>> = Mutex::new(None);
    suite::in_parallel(jobs, work, stop, |(test, offset, count)| {
        let (run_mode, per_process) = match mode {
            Runs::Sim { .. } => (
                Runs::Sim { seeds: count },
                settings.timeout.saturating_mul(count),
            ),
            Runs::Real => (Runs::Real, settings.timeout),
        };
        let run_seed = settings.first_seed.wrapping_add(u64::from(offset));
        let log = settings.logs.join(format!(
            "{}-{}-{}-{run_seed}.log",
            mutant.name,
            test.name(),
            mode.name()
        ));
        let run = suite::TestRun {
            test,
            mode: run_mode,
            seed: run_seed,
            timeout: per_process,
            log: &log,
        };
        let ran = suite::run_once(&run, stop, None)?;
        let outcome = match ran.outcome {
            Outcome::Passed | Outcome::Interrupted => {
                let _ = fs::remove_file(&log);
                return Ok(());
            }
            Outcome::TimedOut => {
                note_timeout(&log, ran.took);
                Outcome::TimedOut
            }
            other => other,
        };
        let seed = ran.failed_seed(run_seed);
        let seed_number = u32::try_from(seed.wrapping_sub(settings.first_seed).wrapping_add(1))
            .unwrap_or(seeds)
            .min(seeds);
        let failure = ran.failure();
        let mut first = first.lock().expect("no panics");
        if first.is_none() {
            stop.store(true, Ordering::SeqCst);
            *first = Some(Catch {
                test: test.path.clone(),
                mode: mode.name(),
                outcome: outcome.label(),
                seed_number,
                seed,
                raised_in: failure.map(mutants::raised_in),
                panicked_at: failure.map(|f| f.at.clone()),
                message: failure.map(|f| f.message.clone()),
                replay: test.replay_command(mode, seed),
                log,
            });
        }
        Ok(())
    })?;
    Ok(first.into_inner().expect("no panics"))
}

fn note_timeout(log: &Path, elapsed: Duration) {
    if let Ok(mut file) = fs::OpenOptions::new().append(true).open(log) {
        let _ = writeln!(
            file,
            "mutants: killed after {:.1} s of wall time",
            elapsed.as_secs_f64()
        );
    }
}

/// The longest failure message the progress output shows whole.
const MESSAGE_SHOWN: usize = 300;

/// `message` as the progress output shows it: whole if short, else its
/// beginning and where the whole is.
fn abbreviated(message: &str, log: &Path) -> String {
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match message.char_indices().nth(MESSAGE_SHOWN) {
        None => message,
        Some((cut, _)) => format!(
            "{}… ({} characters in all; the whole is in {})",
            &message[..cut],
            message.chars().count(),
            log.display()
        ),
    }
}

/// One line on how a mutant fared, for the progress output.
fn summary(row: &Row) -> String {
    match (&row.caught, &row.error) {
        (Some(catch), _) => format!(
            "caught by {} ({}, seed {} of the test's, {:.1} s{}): {}",
            catch.test,
            catch.mode,
            catch.seed_number,
            row.test_seconds,
            catch
                .panicked_at
                .as_ref()
                .map(|at| format!("; panicked at {at}"))
                .unwrap_or_default(),
            abbreviated(
                catch.message.as_deref().unwrap_or(catch.outcome),
                &catch.log
            )
        ),
        (None, Some(error)) => format!("{}: {error}", row.verdict),
        (None, None) => format!("{} ({:.1} s of tests)", row.verdict, row.test_seconds),
    }
}

fn print_table(rows: &[Row], first_seed: u64, seeds: u32) {
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|row| {
            let raised_in = row
                .caught
                .as_ref()
                .and_then(|catch| catch.raised_in)
                .unwrap_or("-");
            let (test, seed) = match &row.caught {
                Some(catch) => (
                    format!(
                        "{}{}",
                        catch.test.rsplit("::").next().unwrap_or(&catch.test),
                        if catch.mode == "real" { " (real)" } else { "" }
                    ),
                    catch.seed_number.to_string(),
                ),
                None => ("-".to_owned(), "-".to_owned()),
            };
            [row.mutant.clone(), test, raised_in.to_owned(), seed]
        })
        .collect();
    // Each text column as wide as its longest entry, so a long test name
    // does not push the row's later columns out of line.
    let width = |column: usize, header: &str| {
        cells
            .iter()
            .map(|c| c[column].len())
            .chain([header.len()])
            .max()
            .unwrap_or(0)
    };
    let (mutant_w, test_w) = (width(0, "mutant"), width(1, "caught by"));
    println!();
    println!("Planted bugs, {seeds} simulation seed(s) per test from seed {first_seed}:");
    println!(
        "{:<mutant_w$} {:<4} {:<14} {:<test_w$} {:<9} {:>5} {:>7}",
        "mutant", "part", "verdict", "caught by", "raised in", "seed", "seconds"
    );
    for (row, [mutant, test, raised_in, seed]) in rows.iter().zip(&cells) {
        println!(
            "{mutant:<mutant_w$} {:<4} {:<14} {test:<test_w$} {raised_in:<9} {seed:>5} {:>7.1}",
            row.part.name(),
            row.verdict,
            row.test_seconds
        );
    }
    let caught = rows.iter().filter(|r| r.verdict == Verdict::Caught).count();
    println!("{caught} of {} caught", rows.len());
}

#[cfg(test)]
mod tests {
    use super::rounds;

    #[test]
    fn rounds_double_and_add_up() {
        assert_eq!(rounds(1), [(0, 1)]);
        assert_eq!(rounds(2), [(0, 1), (1, 1)]);
        assert_eq!(rounds(10), [(0, 1), (1, 1), (2, 2), (4, 4), (8, 2)]);
    }
}
