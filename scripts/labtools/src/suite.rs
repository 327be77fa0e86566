//! Building the test binaries of a checkout once, listing their tests, and
//! running one test in a process of its own.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{cargo, output};

/// The package that holds the graded suites.
pub const PACKAGE: &str = "tests";

pub use labrpc::lab::Part;
use labrpc::lab::{GRADING_VAR, RECORD_VAR, RUNS_VAR, SEED_VAR, TIME_VAR};
use labrpc::record::{self, Failure, Record};

/// How a test process runs the lab tests: in a simulation, `seeds` seeds
/// one after another (`LAB_TIME=sim`, `LAB_RUNS`), or once in real time
/// (`LAB_TIME=real`). Its clock is [`time`](Runs::time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runs {
    /// Simulated, with this many seeds per process, from the run's seed on.
    Sim {
        /// Seeds per process.
        seeds: u32,
    },
    /// On the wall clock.
    Real,
}

impl Runs {
    /// The clock it runs on.
    pub fn time(self) -> labrpc::lab::Time {
        match self {
            Runs::Sim { .. } => labrpc::lab::Time::Sim,
            Runs::Real => labrpc::lab::Time::Real,
        }
    }

    /// `sim` or `real`, as `LAB_TIME` takes it.
    pub fn name(self) -> &'static str {
        self.time().name()
    }
}

/// One test of a test binary.
#[derive(Clone, Debug)]
pub struct Test {
    /// Its name as the test binary lists it (`initial_election_2a`, or with
    /// its module path, `part_2a::initial_election_2a`).
    pub path: String,
    /// The binary that runs it.
    pub binary: PathBuf,
    /// Cargo's name of the test target (`raft`, `kv`, or the package's for
    /// its library's unit tests).
    pub target: String,
    /// The directory cargo runs the binary in: its package's.
    pub package_dir: PathBuf,
    /// Whether the target is an integration test (`--test NAME`) rather
    /// than the library's unit tests (`--lib`).
    pub integration: bool,
}

impl Test {
    /// The test's name without its module path.
    pub fn name(&self) -> &str {
        self.path.rsplit("::").next().unwrap_or(&self.path)
    }

    /// The lab part the test belongs to, from its suffix.
    pub fn part(&self) -> Option<Part> {
        Part::of_test(&self.path)
    }

    /// The command that runs this test once with the given seed in `mode`,
    /// as a user would type it in the checkout's root.
    pub fn replay_command(&self, mode: Runs, seed: u64) -> String {
        let target = if self.integration {
            format!("--test {}", self.target)
        } else {
            "--lib".to_owned()
        };
        format!(
            "{SEED_VAR}={seed} {TIME_VAR}={} cargo test -p {PACKAGE} {target} {} -- --exact --nocapture",
            mode.name(),
            self.path
        )
    }
}

/// The root of the checkout these tools belong to.
pub fn this_checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the tools' crate sits two levels below the checkout's root")
}

/// Whether [`build_and_list`] may use a test binary an earlier build left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linking {
    /// Cargo's usual: a binary it finds fresh is used as it is.
    Reuse,
    /// Every test binary comes from this build: one left by an earlier
    /// build is deleted and linked again (the grader: a test run since could
    /// have replaced it).
    Relink,
}

/// Builds the test binaries of the [`PACKAGE`] in the checkout at `root`
/// (compiler messages go to the terminal) and lists every test in them.
/// With `target_dir`, builds there whatever `CARGO_TARGET_DIR` says;
/// `linking` says whether a binary an earlier build left may be used. Each name in `cfg` is
/// set for every crate (`--cfg NAME`, added to `RUSTFLAGS`); such a build
/// belongs in a target directory of its own, or it rebuilds everything twice.
///
/// # Errors
/// When the build fails, or a binary cannot be listed; the message says
/// which command failed.
pub fn build_and_list(
    root: &Path,
    target_dir: Option<&Path>,
    linking: Linking,
    cfg: &[&str],
) -> Result<Vec<Test>, String> {
    let mut binaries = build(root, target_dir, cfg)?;
    // To relink, a test binary cargo found fresh (linked by an earlier
    // build, and a test run since could have replaced it) is linked again.
    let stale: Vec<&Built> = binaries
        .iter()
        .filter(|b| linking == Linking::Relink && b.fresh)
        .collect();
    if !stale.is_empty() {
        for binary in stale {
            let _ = std::fs::remove_file(&binary.executable);
        }
        binaries = build(root, target_dir, cfg)?;
    }
    let mut tests = Vec::new();
    for Built {
        executable: binary,
        target,
        package_dir,
        integration,
        ..
    } in binaries
    {
        let output = Command::new(&binary)
            .args(["--list", "--format=terse"])
            .current_dir(&package_dir)
            .output()
            .map_err(|e| format!("cannot list the tests of {}: {e}", binary.display()))?;
        if !output.status.success() {
            return Err(format!(
                "listing the tests of {} failed ({}): {}",
                binary.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Some(path) = line.strip_suffix(": test") {
                tests.push(Test {
                    path: path.to_owned(),
                    binary: binary.clone(),
                    target: target.clone(),
                    package_dir: package_dir.clone(),
                    integration,
                });
            }
        }
    }
    Ok(tests)
}

/// A test binary a build produced.
struct Built {
    executable: PathBuf,
    target: String,
    package_dir: PathBuf,
    integration: bool,
    /// Whether cargo reused it from an earlier build.
    fresh: bool,
}

/// Builds the test binaries of the [`PACKAGE`] in the checkout at `root`.
fn build(root: &Path, target_dir: Option<&Path>, cfg: &[&str]) -> Result<Vec<Built>, String> {
    let mut command = cargo::command(root);
    if let Some(dir) = target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    if !cfg.is_empty() {
        let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        for name in cfg {
            flags.push_str(&format!(" --cfg {name}"));
        }
        command.env("RUSTFLAGS", flags.trim_start());
    }
    command
        .args([
            "test",
            "--no-run",
            "--locked",
            "--message-format=json-render-diagnostics",
        ])
        .args(["-p", PACKAGE]);
    let shown = format!(
        "cargo test --no-run --locked -p {PACKAGE} (in {})",
        root.display()
    );
    let mut binaries = Vec::new();
    // The compiler's messages go on to the terminal, and are kept for the
    // error when the build fails.
    let ended = cargo::run(command, &shown, cargo::Stderr::Relay, |message| {
        if message.reason != "compiler-artifact" {
            return;
        }
        let (Some(executable), Some(target), Some(manifest), Some(profile)) = (
            message.executable,
            message.target,
            message.manifest_path,
            message.profile,
        ) else {
            return;
        };
        if !profile.test || target.kind.iter().any(|k| k == "bin") {
            return;
        }
        let package_dir = manifest
            .parent()
            .map_or_else(|| root.to_owned(), Path::to_owned);
        let integration = target.kind.iter().any(|k| k == "test");
        binaries.push(Built {
            executable,
            target: target.name,
            package_dir,
            integration,
            fresh: message.fresh,
        });
    })?;
    if !ended.status.success() {
        let messages = &ended.stderr;
        let start = messages
            .iter()
            .position(|l| l.starts_with("error"))
            .unwrap_or(messages.len().saturating_sub(40));
        let shown_lines = &messages[start..messages.len().min(start + 60)];
        return Err(format!(
            "{shown} failed ({}):\n{}",
            ended.status,
            shown_lines.join("\n")
        ));
    }
    Ok(binaries)
}

/// The tests whose name contains one of `patterns` (as `cargo test`
/// filters), in the order listed; all of them for no pattern.
pub fn select<'a>(tests: &'a [Test], patterns: &[String]) -> Vec<&'a Test> {
    tests
        .iter()
        .filter(|t| patterns.is_empty() || patterns.iter().any(|p| t.path.contains(p.as_str())))
        .collect()
}

/// `K/N` (1 <= K <= N), as `--shard` takes it: the K-th of N shares of
/// some work.
///
/// # Errors
/// When the text is not of that form; the message shows an example.
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let error = || format!("expected K/N with 1 <= K <= N, e.g. 2/4; got {text:?}");
    let (k, n) = text.split_once('/').ok_or_else(error)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| error())?,
        n.trim().parse().map_err(|_| error())?,
    );
    if k == 0 || k > n {
        return Err(error());
    }
    Ok((k, n))
}

/// The runs of a stress: every (test, run) pair, runs interleaved so that
/// each test gets going early (`run` counts from 1), then [`shard`]ed.
pub fn plan(tests: usize, runs: u32, shard: Option<(usize, usize)>) -> Vec<(usize, u32)> {
    let all = (1..=runs).flat_map(|run| (0..tests).map(move |test| (test, run)));
    self::shard(all, shard)
}

/// With `shard` (K, N), only every N-th of `items` from the K-th on: the N
/// shards split the items between them, each in exactly one; all of them
/// without.
pub fn shard<T>(items: impl IntoIterator<Item = T>, shard: Option<(usize, usize)>) -> Vec<T> {
    match shard {
        None => items.into_iter().collect(),
        Some((k, n)) => items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % n == k - 1)
            .map(|(_, item)| item)
            .collect(),
    }
}

/// The lab tests the suites' sources under `root` declare (`#[test]`
/// functions of `tests/tests/`, whose names end with their part): each
/// test's part and name, in name order. Read from the sources, without a
/// build: what a submission that was never built would have been graded
/// on.
///
/// # Errors
/// When the sources cannot be read.
pub fn declared_tests(root: &Path) -> Result<Vec<(Part, String)>, String> {
    let dir = root.join(PACKAGE).join("tests");
    let mut tests = Vec::new();
    for file in crate::tree::files(&dir, &[])? {
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let path = dir.join(&file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut lines = text.lines().map(str::trim);
        while let Some(line) = lines.next() {
            if line != "#[test]" {
                continue;
            }
            let name = lines
                .find(|l| l.starts_with("fn "))
                .and_then(|l| l["fn ".len()..].split('(').next())
                .unwrap_or("");
            if let Some(part) = Part::of_test(name) {
                tests.push((part, name.to_owned()));
            }
        }
    }
    tests.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(tests)
}

/// How one run of a test ended. Recorded by name (`"passed"`,
/// `"timed_out"`, ...); [`label`](Outcome::label) is how tables show it.
/// Records written when the label was stored still read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The test passed.
    Passed,
    /// The test failed: the process exited unsuccessfully.
    #[serde(alias = "FAILED")]
    Failed,
    /// Under the grader: the process exited successfully, but its run
    /// record holds no verdict from the harness for this run (see
    /// [`labrpc::record`]), so the test never got to its end: something
    /// ended the process early.
    #[serde(alias = "NO VERDICT")]
    NoVerdict,
    /// The run exceeded its time limit and was killed.
    #[serde(alias = "TIMED OUT")]
    TimedOut,
    /// The run was stopped because the user interrupted the tool.
    Interrupted,
}

impl Outcome {
    /// How the outcome reads in tables and progress lines.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "FAILED",
            Outcome::NoVerdict => "NO VERDICT",
            Outcome::TimedOut => "TIMED OUT",
            Outcome::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.label())
    }
}

/// How the grader runs a test process, beyond what `cargo test` does: it
/// hands the harness a fresh token and counts a pass only with the verdict
/// carrying it in the run record, and may run the process as another user.
#[derive(Clone, Copy, Debug, Default)]
pub struct Graded {
    /// The user and group ids to run the test as (the grader must be root).
    pub run_as: Option<(u32, u32)>,
}

/// The number of runs a verdict must report for a run in `mode`.
fn runs_in(mode: Runs) -> u64 {
    match mode {
        Runs::Sim { seeds } => u64::from(seeds),
        Runs::Real => 1,
    }
}

/// What one test process did: how it ended, how long it took, and the run
/// record its harness wrote (see [`labrpc::record`]).
#[derive(Clone, Debug)]
pub struct Ran {
    /// How it ended.
    pub outcome: Outcome,
    /// Its wall time.
    pub took: Duration,
    /// The lines of its run record, in order.
    pub records: Vec<Record>,
}

impl Ran {
    /// The seed of the run that failed, as its record says (the seed the
    /// process was given when the record says nothing: it ended before its
    /// first run began).
    pub fn failed_seed(&self, seed: u64) -> u64 {
        record::failed_run(&self.records).map_or(seed, |r| r.seed)
    }

    /// Why the failed run failed: its first panic, or the report that
    /// stopped the process, if the record says.
    pub fn failure(&self) -> Option<&Failure> {
        record::first_failure(&self.records)
    }
}

/// One run of a test in a process of its own: `test` with `LAB_SEED=seed`
/// in `mode`, killed after `timeout`, its output going to `log`.
#[derive(Clone, Copy, Debug)]
pub struct TestRun<'a> {
    /// The test.
    pub test: &'a Test,
    /// Its clock (and, simulated, how many seeds).
    pub mode: Runs,
    /// Its seed (the first, with several).
    pub seed: u64,
    /// Its wall-time limit.
    pub timeout: Duration,
    /// Where its output goes.
    pub log: &'a Path,
}

/// Runs `run`, its output (stdout and stderr, interleaved) going to its log,
/// cut to its head and tail past a few MiB (see [`output`]), and its run
/// record to a file beside it, read back and removed when the process has
/// ended. Kills it after its timeout, or as soon as `interrupted` is set.
/// With `graded`, the run passes only with the harness's verdict in the
/// record (see [`Graded`]).
///
/// # Errors
/// When the log or the record cannot be created or the process cannot be
/// started.
pub fn run_once(
    run: &TestRun<'_>,
    interrupted: &AtomicBool,
    graded: Option<Graded>,
) -> Result<Ran, String> {
    let record_path = run.log.with_extension("record.jsonl");
    File::create(&record_path)
        .map_err(|e| format!("cannot create {}: {e}", record_path.display()))?;
    let token = graded.map(|_| format!("{:032x}", rand::random::<u128>()));
    let started = Instant::now();
    let (mut child, output) = start(run, &record_path, graded)?;
    if let (Some(token), Some(mut stdin)) = (&token, child.stdin.take()) {
        // A test that has already died cannot take it: its outcome says so.
        let _ = writeln!(stdin, "{token}");
    }
    let exited = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| format!("waiting for {}: {e}", run.test.path))?
        {
            break Some(status);
        }
        if interrupted.load(Ordering::SeqCst) || started.elapsed() > run.timeout {
            // Killing fails only when it has just exited, which is as good.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();
    // The log is complete (or as complete as it gets) once this returns.
    let _ = output.recv_timeout(OUTPUT_GRACE);
    let records = read_record(&record_path, run.log);
    let outcome = match exited {
        _ if interrupted.load(Ordering::SeqCst)
            && !exited.is_some_and(|status| status.success()) =>
        {
            Outcome::Interrupted
        }
        None => Outcome::TimedOut,
        Some(status) if !status.success() => Outcome::Failed,
        Some(_) => match &token {
            Some(token)
                if !record::has_verdict(&records, token, &run.test.path, runs_in(run.mode)) =>
            {
                Outcome::NoVerdict
            }
            _ => Outcome::Passed,
        },
    };
    Ok(Ran {
        outcome,
        took,
        records,
    })
}

/// Where the thread that keeps a process's output says it is done.
type OutputKept = std::sync::mpsc::Receiver<std::io::Result<output::Kept>>;

/// Starts `run`'s process, its run record going to `record_path`, and a
/// thread that keeps its output in its log; the process, and the channel
/// on which that thread says it is done.
fn start(
    run: &TestRun<'_>,
    record_path: &Path,
    graded: Option<Graded>,
) -> Result<(std::process::Child, OutputKept), String> {
    let log = run.log;
    let file = File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let (output, stdout) = std::io::pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    let stderr = stdout
        .try_clone()
        .map_err(|e| format!("cannot share a pipe: {e}"))?;
    let mut command = Command::new(&run.test.binary);
    if let Some(graded) = graded {
        command.env(GRADING_VAR, "1").stdin(Stdio::piped());
        if let Some((uid, gid)) = graded.run_as {
            // The record is the one file the test process writes.
            std::os::unix::fs::chown(record_path, Some(uid), Some(gid))
                .map_err(|e| format!("cannot hand {} over: {e}", record_path.display()))?;
            command.uid(uid).gid(gid);
        }
    } else {
        command.env_remove(GRADING_VAR).stdin(Stdio::null());
    }
    let child = command
        .args([
            run.test.path.as_str(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SEED_VAR, run.seed.to_string())
        .env(TIME_VAR, run.mode.name())
        .env(
            RUNS_VAR,
            match run.mode {
                Runs::Sim { seeds } => seeds.to_string(),
                Runs::Real => String::new(),
            },
        )
        .env(RECORD_VAR, record_path)
        .current_dir(&run.test.package_dir)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", run.test.binary.display()))?;
    // The command holds the pipe's writing ends: without them, the output
    // ends when the process (and anything it left holding them) is gone.
    drop(command);
    let (done, kept) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(output::keep(output, file));
    });
    Ok((child, kept))
}

/// The run record at `path`, which is then removed; none if it cannot be
/// read, with a note of why at the end of `log`.
fn read_record(path: &Path, log: &Path) -> Vec<Record> {
    let records = record::read(path).unwrap_or_else(|e| {
        if let Ok(mut log) = std::fs::OpenOptions::new().append(true).open(log) {
            let _ = writeln!(log, "\n(the run record was left out: {e})");
        }
        Vec::new()
    });
    let _ = std::fs::remove_file(path);
    records
}

/// How long a test's output may go on after its process has ended (held
/// open by a process it left behind) before the run's log is taken as it
/// is.
const OUTPUT_GRACE: Duration = Duration::from_secs(5);

/// A digest of each test binary, taken right after the grader built them:
/// a run counts only if its binary still has it, before and after.
#[derive(Debug, Default)]
pub struct Fingerprints(Vec<(PathBuf, Vec<u8>)>);

impl Fingerprints {
    /// The digests of the binaries of `tests`.
    ///
    /// # Errors
    /// When a binary cannot be read.
    pub fn take(tests: &[Test]) -> Result<Fingerprints, String> {
        let mut binaries: Vec<&Path> = tests.iter().map(|t| t.binary.as_path()).collect();
        binaries.sort_unstable();
        binaries.dedup();
        binaries
            .into_iter()
            .map(|b| Ok((b.to_owned(), digest(b)?)))
            .collect::<Result<_, String>>()
            .map(Fingerprints)
    }

    /// `Err` with what changed, unless `binary` is as it was built.
    ///
    /// # Errors
    /// When it differs, or cannot be read, or was never fingerprinted.
    pub fn check(&self, binary: &Path) -> Result<(), String> {
        let Some((_, expected)) = self.0.iter().find(|(b, _)| b == binary) else {
            return Err(format!("{} was not built by the grader", binary.display()));
        };
        if &digest(binary)? == expected {
            Ok(())
        } else {
            Err(format!(
                "the test binary {} changed after the grader built it: every result since is \
                 void",
                binary.display()
            ))
        }
    }
}

fn digest(path: &Path) -> Result<Vec<u8>, String> {
    use sha2::Digest;
    let mut file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let n = std::io::Read::read(&mut file, &mut buffer)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            return Ok(hasher.finalize().to_vec());
        }
        hasher.update(&buffer[..n]);
    }
}

/// The last `lines` lines of a file, at most [`TAIL_CHARS`] characters,
/// for reports (empty if unreadable); after the note of what was cut, if
/// the test's output was (see [`output`]).
///
/// The frames of stack backtraces are left out: they would crowd out the
/// panic's message (the log keeps them).
pub fn tail(path: &Path, lines: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text
        .lines()
        .filter(|line| !is_backtrace_frame(line))
        .collect();
    let tail = output::last_chars(
        &all[all.len().saturating_sub(lines)..].join("\n"),
        TAIL_CHARS,
    );
    match output::cut_note(path) {
        Some(note) => format!("{note}\n{tail}"),
        None => tail,
    }
}

/// The most characters [`tail`] returns: a report (a results file shown on
/// Gradescope) stays readable, and small, however long the lines printed.
pub const TAIL_CHARS: usize = 4000;

/// Whether `line` is a frame of a Rust stack backtrace (`  12: name` or
/// `             at path:line:column`).
fn is_backtrace_frame(line: &str) -> bool {
    let trimmed = line.trim_start();
    let indented = trimmed.len() < line.len();
    let numbered = trimmed
        .split_once(": ")
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    indented && (numbered || trimmed.starts_with("at "))
}

/// Runs `work` on each of `items`, `jobs` threads at once, taking the items
/// in order, until they run out or `stop` is set (by a Ctrl-C handler, or
/// by `work` when one result is enough). The first error sets `stop`, so
/// the other threads take nothing more, and is returned once they are done.
///
/// # Errors
/// The first error `work` returned.
pub fn in_parallel<T: Send>(
    jobs: usize,
    items: impl IntoIterator<Item = T, IntoIter: Send>,
    stop: &AtomicBool,
    work: impl Fn(T) -> Result<(), String> + Sync,
) -> Result<(), String> {
    let queue = std::sync::Mutex::new(items.into_iter());
    let mut errors = Vec::new();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    while !stop.load(Ordering::SeqCst) {
                        let Some(item) = queue.lock().expect("no panics").next() else {
                            break;
                        };
                        work(item).inspect_err(|_| stop.store(true, Ordering::SeqCst))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok(Ok(())) => {}
                Ok(Err(message)) => errors.push(message),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    errors.into_iter().next().map_or(Ok(()), Err)
}

/// Mean, standard deviation and maximum of some durations, in seconds.
pub fn spread(seconds: &[f64]) -> (f64, f64, f64) {
    if seconds.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let n = seconds.len() as f64;
    let mean = seconds.iter().sum::<f64>() / n;
    let variance = seconds.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
    let max = seconds.iter().copied().fold(0.0, f64::max);
    (mean, variance.sqrt(), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_recorded_by_name_and_old_labels_still_read() {
        for outcome in [
            Outcome::Passed,
            Outcome::Failed,
            Outcome::NoVerdict,
            Outcome::TimedOut,
            Outcome::Interrupted,
        ] {
            let json = serde_json::to_string(&outcome).unwrap();
            assert!(!json.contains(' '), "{json}");
            assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), outcome);
            let label = serde_json::to_string(outcome.label()).unwrap();
            assert_eq!(
                serde_json::from_str::<Outcome>(&label).unwrap(),
                outcome,
                "{label}"
            );
        }
        assert_eq!(
            serde_json::to_string(&Outcome::TimedOut).unwrap(),
            "\"timed_out\""
        );
    }

    /// As many tests per part as the README says (`cargo test 2a`: 8 tests,
    /// …), read from the sources.
    #[test]
    fn the_declared_tests_are_the_readme_counts() {
        let tests = declared_tests(&this_checkout()).unwrap();
        let count = |part: Part| tests.iter().filter(|(p, _)| *p == part).count();
        let counts: Vec<usize> = Part::ALL.into_iter().map(count).collect();
        assert_eq!(
            counts,
            [5, 7, 8, 12, 13, 11, 11, 14, 9, 17, 2, 8],
            "per part, {:?}",
            Part::ALL
        );
        assert!(
            tests
                .iter()
                .any(|(p, n)| p.name() == "2a" && n == "initial_election_2a")
        );
    }

    #[test]
    fn in_parallel_does_every_item_once_and_stops_at_an_error_or_when_told() {
        let done = std::sync::Mutex::new(Vec::new());
        let stop = AtomicBool::new(false);
        in_parallel(3, 0..50, &stop, |i| {
            done.lock().unwrap().push(i);
            Ok(())
        })
        .expect("no errors");
        let mut done = done.into_inner().unwrap();
        done.sort_unstable();
        assert_eq!(done, (0..50).collect::<Vec<_>>());

        let taken = std::sync::atomic::AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let result = in_parallel(2, 0..1000, &stop, |i| {
            taken.fetch_add(1, Ordering::SeqCst);
            if i == 10 {
                Err(format!("item {i} failed"))
            } else {
                Ok(())
            }
        });
        assert_eq!(result, Err("item 10 failed".to_owned()));
        assert!(stop.load(Ordering::SeqCst), "an error stops the others");
        assert!(
            taken.load(Ordering::SeqCst) < 1000,
            "nothing is taken after an error"
        );

        let taken = std::sync::atomic::AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        in_parallel(1, 0..1000, &stop, |i| {
            taken.fetch_add(1, Ordering::SeqCst);
            if i == 4 {
                stop.store(true, Ordering::SeqCst);
            }
            Ok(())
        })
        .expect("no errors");
        assert_eq!(taken.load(Ordering::SeqCst), 5, "stop ends the taking");
    }

    fn test_named(path: &str) -> Test {
        Test {
            path: path.into(),
            binary: PathBuf::from("/nonexistent"),
            target: "raft".into(),
            package_dir: PathBuf::from("."),
            integration: true,
        }
    }

    #[test]
    fn parts_come_from_name_suffixes() {
        let part = |path: &str| test_named(path).part().map(Part::name);
        assert_eq!(part("part_2a::initial_election_2a"), Some("2a"));
        assert_eq!(part("snapshot_size_3b"), Some("3b"));
        assert_eq!(part("support::tests::seeds"), None);
        assert_eq!(
            test_named("part_2a::initial_election_2a").name(),
            "initial_election_2a"
        );
    }

    #[test]
    fn patterns_select_by_substring() {
        let tests = [
            test_named("a::x_2a"),
            test_named("a::y_2b"),
            test_named("b::z_3a"),
        ];
        let names = |ps: &[&str]| -> Vec<String> {
            let ps: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
            select(&tests, &ps)
                .iter()
                .map(|t| t.name().to_owned())
                .collect()
        };
        assert_eq!(names(&["2a", "3a"]), ["x_2a", "z_3a"]);
        assert_eq!(names(&[]).len(), 3);
        assert!(names(&["4a"]).is_empty());
    }

    #[test]
    fn replay_commands_name_the_target_seed_and_mode() {
        assert_eq!(
            test_named("part_2a::initial_election_2a").replay_command(Runs::Real, 7),
            "LAB_SEED=7 LAB_TIME=real cargo test -p tests --test raft part_2a::initial_election_2a -- --exact --nocapture"
        );
        assert_eq!(
            test_named("x_2a").replay_command(Runs::Sim { seeds: 20 }, 8),
            "LAB_SEED=8 LAB_TIME=sim cargo test -p tests --test raft x_2a -- --exact --nocapture"
        );
    }

    #[test]
    fn tails_leave_out_backtrace_frames() {
        let dir = std::env::temp_dir().join(format!("labtools-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("run.log");
        std::fs::write(
            &log,
            "thread 'x' panicked at labraft/src/raft.rs:60:36:\n\
             Permission denied\n\
             stack backtrace:\n   \
             0: __rustc::rust_begin_unwind\n             \
             at /rustc/library/std/src/panicking.rs:689:5\n  \
             12: labraft::raft::Raft::new\n\
             test result: FAILED. 0 passed; 1 failed\n",
        )
        .unwrap();
        assert_eq!(
            tail(&log, 30),
            "thread 'x' panicked at labraft/src/raft.rs:60:36:\nPermission denied\n\
             stack backtrace:\ntest result: FAILED. 0 passed; 1 failed"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shards_split_the_runs_exactly() {
        let whole = plan(3, 4, None);
        assert_eq!(whole.len(), 12);
        assert_eq!(&whole[..4], &[(0, 1), (1, 1), (2, 1), (0, 2)]);
        let mut pieces: Vec<(usize, u32)> =
            (1..=5).flat_map(|k| plan(3, 4, Some((k, 5)))).collect();
        pieces.sort_unstable();
        let mut sorted = whole.clone();
        sorted.sort_unstable();
        assert_eq!(pieces, sorted, "every run in exactly one shard");
        assert_eq!(plan(3, 4, Some((2, 5))), plan(3, 4, Some((2, 5))));
    }

    #[test]
    fn spread_of_durations() {
        let (mean, sd, max) = spread(&[1.0, 3.0]);
        assert_eq!((mean, sd, max), (2.0, 1.0, 3.0));
        assert_eq!(spread(&[]), (0.0, 0.0, 0.0));
    }
}
