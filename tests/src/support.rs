//! What every lab test shares, whatever it tests: the mode it runs in
//! (simulated or real time), a hard time limit, panics from any thread
//! counted as failures, no thread left behind, and randomness that replays
//! from the seed.

use std::collections::HashSet;
use std::fs;

use labrpc::lab::{
    CHECK_DETERMINISM_VAR, GRADING_VAR, Part, RUNS_VAR, SCHED_VAR, SEED_VAR, TIME_VAR,
};
use labrpc::record::{self, Failure};
use labrpc::rt::channel::{self, Receiver, Sender};
use labrpc::rt::sim::{self, Policy, ScheduleCheck, Settings};
use labrpc::rt::sync::{Arc, Mutex, MutexGuard, OnceLock, PlainMutex};
use labrpc::rt::thread;
use labrpc::rt::time::{Duration, Instant};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use crate::cluster::Cluster;
use crate::linearizability::html::EventKind;

pub use labrpc::lab::{TEST_LIMIT, Time};

/// The course's `RaftElectionTimeout`, which both labs' tests use: they
/// sleep this long to let an election happen, and solutions are expected to
/// elect a leader within it.
pub const ELECTION_TIMEOUT: Duration = Duration::from_millis(1000);

/// Whether the network delivers every message (the course's `unreliable`
/// flag, named).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Net {
    /// Every request and reply arrives, after a short delay.
    #[default]
    Reliable,
    /// Requests wait 0–26 ms, and 10 % of requests and 10 % of replies are
    /// lost (see [`labrpc::Network::set_reliable`]).
    Unreliable,
}

impl Net {
    /// `reliable` or `unreliable`, as titles and logs say it.
    pub fn name(self) -> &'static str {
        match self {
            Net::Reliable => "reliable",
            Net::Unreliable => "unreliable",
        }
    }

    /// Sets `cluster`'s network to deliver as `self` says, and records it
    /// (see [`Cluster::event`]).
    pub fn apply_to(self, cluster: &Cluster) {
        cluster.event(EventKind::Network, format!("network {}", self.name()));
        cluster.net().set_reliable(self == Net::Reliable);
    }
}

/// The command that runs test `name` (its full path, `part_2b::backup_2b`,
/// which `--exact` needs) again with `seed` in `mode`.
pub fn replay_command(mode: Time, seed: u64, name: &str) -> String {
    let policy = match (mode, Policy::from_env()) {
        (Time::Sim, Policy::Pct) => format!(" {SCHED_VAR}=pct"),
        _ => String::new(),
    };
    format!(
        "{SEED_VAR}={seed} {TIME_VAR}={}{policy} cargo test {name} -- --exact",
        mode.name(),
    )
}

/// Runs one lab test's body in the mode `LAB_TIME` asks for.
///
/// In real time, once. In a simulation, in a world seeded from `LAB_SEED`
/// (or a fresh seed); with `LAB_RUNS=N`, N worlds with the seeds that
/// follow it; with `LAB_CHECK_DETERMINISM=1`, each world twice, failing at
/// the first step where the two schedules differ.
///
/// Each run (a world, or the test in real time) is also written to the run
/// record the tools ask for with `LAB_RECORD`: its seed, its replay
/// command, and how it ended (see [`labrpc::record`]).
///
/// # Panics
/// When the test fails: the message says what was expected, what happened,
/// and the command that replays it.
///
/// Under the grader (`LAB_GRADING=1`), first reads the grader's token from
/// standard input, before any lab code runs, and records the verdict with
/// it once the test has passed every run.
pub fn run(body: impl Fn()) {
    let token = grader_token();
    let mode = Time::from_env();
    let name = thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_owned();
    if mode == Time::Real {
        let seed = labrpc::seed::from_env();
        let _seed = RealSeed::set(seed);
        let run = record::Run::start(&name, mode, seed, replay_command(mode, seed, &name));
        body();
        run.passed();
        if let Some(token) = &token {
            record::verdict(&name, mode, token, 1);
        }
        return;
    }
    let first = labrpc::seed::from_env();
    let runs = env_count(RUNS_VAR).unwrap_or(1);
    let check = determinism_checked();
    for k in 0..runs {
        let seed = first.wrapping_add(k);
        let replay = replay_command(Time::Sim, seed, &name);
        let settings = |schedule| Settings {
            seed,
            policy: Policy::from_env(),
            limit: TEST_LIMIT,
            replay: replay.clone(),
            node: "tester".to_owned(),
            schedule,
        };
        eprintln!("labrpc: simulation seed {seed} (replay with {replay})");
        let run = record::Run::start(&name, mode, seed, replay.clone());
        let body = || {
            if let Some(world) = sim::world_id() {
                run.in_world(world);
            }
            body();
        };
        if check {
            let ((), schedule) = sim::run(settings(ScheduleCheck::Record), body);
            let schedule = schedule.expect("a recording run returns its schedule");
            let steps = schedule.len();
            sim::run(settings(ScheduleCheck::Compare(Arc::new(schedule))), body);
            eprintln!("determinism: seed {seed}: both runs took the same {steps} steps");
        } else {
            sim::run(settings(ScheduleCheck::Off), body);
        }
        run.passed();
    }
    if let Some(token) = &token {
        record::verdict(&name, mode, token, runs);
    }
}

/// The seed of each real-time test under way, by the thread that runs it:
/// [`run`] draws it (from `LAB_SEED`, or fresh) and records it, and the
/// test's [`Session`] must use the same.
static REAL_SEEDS: PlainMutex<Vec<(thread::ThreadId, u64)>> = PlainMutex::new(Vec::new());

/// The calling thread's entry in [`REAL_SEEDS`], while it lives.
struct RealSeed(thread::ThreadId);

impl RealSeed {
    fn set(seed: u64) -> RealSeed {
        let me = thread::current().id();
        REAL_SEEDS.lock().push((me, seed));
        RealSeed(me)
    }

    fn of_this_thread() -> Option<u64> {
        let me = thread::current().id();
        REAL_SEEDS
            .lock()
            .iter()
            .find_map(|&(t, seed)| (t == me).then_some(seed))
    }
}

impl Drop for RealSeed {
    fn drop(&mut self) {
        REAL_SEEDS.lock().retain(|&(t, _)| t != self.0);
    }
}

/// The grader's token for this process, read once from standard input when
/// `LAB_GRADING` is set; `None` outside the grader.
///
/// # Panics
/// When the grader asked for a verdict but gave no token.
fn grader_token() -> Option<String> {
    static TOKEN: OnceLock<Option<String>> = OnceLock::new();
    TOKEN
        .get_or_init(|| {
            std::env::var_os(GRADING_VAR)?;
            let mut token = String::new();
            let _ = std::io::stdin().read_line(&mut token);
            let token = token.trim().to_owned();
            assert!(
                !token.is_empty(),
                "{GRADING_VAR} is set, but standard input held no token: only the grader sets it"
            );
            Some(token)
        })
        .clone()
}

/// A count from the environment (`LAB_RUNS=100`).
///
/// Whether each simulated world runs twice, its schedule recorded and
/// compared (`LAB_CHECK_DETERMINISM`): the record grows with every step.
pub fn determinism_checked() -> bool {
    env_count(CHECK_DETERMINISM_VAR).is_some_and(|n| n > 0)
}

/// # Panics
/// When the variable is set to something else than a number.
fn env_count(var: &str) -> Option<u64> {
    let text = std::env::var(var).ok()?;
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("{var} must be a number, got {text:?}")),
    )
}

/// How long threads started during a test may take to exit after cleanup
/// (in this crate's own unit tests, which check the wait itself, less, to
/// keep them short).
const THREAD_EXIT_GRACE: Duration = if cfg!(test) {
    Duration::from_millis(300)
} else {
    Duration::from_secs(2)
};

static SERIAL: Mutex<()> = Mutex::new(());
/// Threads of the test runner that were waiting for their turn when a test
/// began: not the test's to clean up.
static WAITING: Mutex<Vec<u32>> = Mutex::new(Vec::new());
/// Panics seen in any thread, with the world they happened in (0 for real
/// time): simulated tests run side by side, and each must see its own only.
/// A plain lock, because every world of the process shares it.
static PANICS: PlainMutex<Vec<(u64, String)>> = PlainMutex::new(Vec::new());

/// A running test's hold on the machine. Real-time tests are
/// timing-sensitive and the machine may have two cores, so they run one at
/// a time even when the test runner starts several: each waits here for the
/// one before to finish. Simulated tests share no clock, and run side by
/// side.
pub struct Session {
    name: String,
    seed: u64,
    mode: Time,
    started: Instant,
    threads_before: HashSet<u32>,
    _watchdog: Option<Watchdog>,
    _turn: Option<MutexGuard<'static, ()>>,
}

impl Session {
    /// The seed of this test: its world's in a simulation, else the one
    /// [`run`] drew (from `LAB_SEED`, or fresh).
    pub fn seed() -> u64 {
        sim::seed()
            .or_else(RealSeed::of_this_thread)
            .unwrap_or_else(labrpc::seed::from_env)
    }

    /// Starts a test. In real time, waits for this test's turn first, then
    /// starts its clock and its watchdog; a simulated world has its own
    /// limits, and shares no clock with another.
    pub fn begin(seed: u64) -> Session {
        install_panic_recorder();
        init_logging();
        let name = thread::current()
            .name()
            .unwrap_or("unnamed test")
            .to_owned();
        if sim::is_simulated() {
            return Session {
                name,
                seed,
                mode: Time::Sim,
                started: Instant::now(),
                threads_before: HashSet::new(),
                _watchdog: None,
                _turn: None,
            };
        }
        let me = current_tid();
        if let Some(tid) = me {
            WAITING.lock().push(tid);
        }
        let turn = SERIAL.lock();
        if let Some(tid) = me {
            WAITING.lock().retain(|&t| t != tid);
        }
        PANICS.lock().clear();
        eprintln!(
            "labrpc: network seed {seed} (replay with {})",
            replay_command(Time::Real, seed, &name)
        );
        let (watchdog, stop) = channel::bounded(1);
        spawn_watchdog(&name, seed, stop);
        *FAILING.lock() = Some((thread::current().id(), watchdog.clone()));
        let watchdog = Watchdog { _sender: watchdog };
        Session {
            name,
            seed,
            mode: Time::Real,
            started: Instant::now(),
            threads_before: thread_ids(),
            _watchdog: Some(watchdog),
            _turn: Some(turn),
        }
    }

    /// The test's name, as the test runner knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lab part the test belongs to, from its name's suffix (`2c`);
    /// `None` for the harness's own tests.
    pub fn part(&self) -> Option<Part> {
        Part::of_test(&self.name)
    }

    /// When the test began.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The command that replays this test.
    pub fn replay(&self) -> String {
        replay_command(self.mode, self.seed, &self.name)
    }

    /// Fails the test: `message`, then how to replay it.
    #[track_caller]
    pub fn fail(&self, message: impl std::fmt::Display) -> ! {
        let how = match self.mode {
            Time::Sim => "replay this run exactly",
            Time::Real => "replay the network's choices",
        };
        panic!("{message}\n  ({how} with: {})", self.replay());
    }

    /// The crash of a node (`server-1`): its threads die where they stand,
    /// as a machine's do. In a simulation, the lab code must have stopped
    /// its own threads already (`kill` returned); any that it left running
    /// fails the test.
    pub fn crash_node(&self, node: &str) {
        let left = sim::kill_node(node);
        if !left.is_empty() {
            self.fail(format!(
                "{} thread(s) of {node} still running after its kill() returned (kill must \
                 stop every thread it started and wait for it):\n  {}",
                left.len(),
                left.join("\n  ")
            ));
        }
    }

    /// The checks at cleanup, once every peer is killed and the network shut
    /// down: no panic in another thread, the time limit, and every thread the
    /// test started gone. Does nothing while the test is already failing.
    pub fn finish(&self) {
        if thread::panicking() {
            return;
        }
        if let Err(e) = self.check_end().and_then(|()| self.check_threads_exited()) {
            self.fail(e);
        }
    }

    /// Panics from other threads, and the time limit, checked at the end.
    pub fn check_end(&self) -> Result<(), String> {
        let world = sim::world_id().unwrap_or(0);
        let panics: Vec<String> = {
            let mut all = PANICS.lock();
            let (mine, others) = std::mem::take(&mut *all)
                .into_iter()
                .partition(|(w, _)| *w == world);
            *all = others;
            mine.into_iter().map(|(_, message)| message).collect()
        };
        if let Some(first) = panics.first() {
            return Err(format!(
                "{} panic(s) in other threads during the test; the first: {first}",
                panics.len()
            ));
        }
        let took = self.started.elapsed();
        if took > TEST_LIMIT {
            return Err(format!(
                "test took longer than {} seconds ({:.1} s)",
                TEST_LIMIT.as_secs(),
                took.as_secs_f64()
            ));
        }
        Ok(())
    }

    /// Waits for every thread started during the test to exit; names those
    /// that do not.
    pub fn check_threads_exited(&self) -> Result<(), String> {
        let deadline = Instant::now() + THREAD_EXIT_GRACE;
        if self.mode == Time::Sim {
            // Exact: the world knows its threads, and where each waits.
            loop {
                let left = sim::other_threads();
                if left.is_empty() {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "{} thread(s) still running {:?} after every peer was killed and the \
                         network cleaned up:\n  {}",
                        left.len(),
                        THREAD_EXIT_GRACE,
                        left.join("\n  ")
                    ));
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        loop {
            let waiting: HashSet<u32> = WAITING.lock().iter().copied().collect();
            let left: Vec<u32> = thread_ids()
                .into_iter()
                .filter(|t| !self.threads_before.contains(t) && !waiting.contains(t))
                .collect();
            if left.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let mut names: Vec<String> = left.iter().map(|&t| thread_name(t)).collect();
                names.sort();
                return Err(format!(
                    "{} thread(s) still running {:?} after every peer was killed and the \
                     network cleaned up: {}",
                    left.len(),
                    THREAD_EXIT_GRACE,
                    names.join(", ")
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// A generator for the test's own random choices, replayed by the seed.
    pub fn rng(&self) -> Xoshiro256PlusPlus {
        // Not the network's stream: the two must not consume each other's
        // numbers.
        Xoshiro256PlusPlus::seed_from_u64(self.seed ^ 0x5eed_7e57)
    }

    /// A generator for the harness's own draws that the test's scenario
    /// does not depend on (the tags on Raft entries, the persistence
    /// probe's value), replayed by the seed: a check added to the harness
    /// then changes nothing of what a seed does to the test's own choices.
    pub fn checks_rng(&self) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(self.seed ^ 0xc4ec_5eed_0000_0000)
    }
}

/// How long a real-time test that has failed may take to wind down (stop
/// its servers, join its threads) before its watchdog ends the process: a
/// thread blocked for good, such as a clerk waiting in a minority
/// partition, must not hold a failure back until the time limit. (In this
/// crate's own unit tests, which check the watchdog itself, 1 s, to keep
/// them short.)
const FAILURE_GRACE: Duration = if cfg!(test) {
    Duration::from_secs(1)
} else {
    Duration::from_secs(5)
};

/// The real-time test running now: its thread, and its watchdog, which the
/// panic hook tells when that thread fails.
static FAILING: PlainMutex<Option<(thread::ThreadId, Sender<String>)>> = PlainMutex::new(None);

/// A real-time test's hold on its watchdog: dropped when the test ends, as
/// it should, which stands the watchdog down.
struct Watchdog {
    _sender: Sender<String>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        FAILING.lock().take();
    }
}

/// Ends the process, saying why and how to replay the test (unless `why`
/// says it already), and recording the test as failed.
fn stop_process(name: &str, why: &str, replay: &str) -> ! {
    let replay = if why.contains(replay) {
        String::new()
    } else {
        format!("\n  (replay the network's choices with: {replay})")
    };
    record::stop_process(
        "test-watchdog",
        &format!("\ntest {name} FAILED: {why}\nThe test process stops here.{replay}"),
    );
}

/// Starts the watchdog of a real-time test: it ends the process (a test that
/// hangs must still fail, and a thread cannot fail another thread's test)
/// when the test outlives the time limit, or when the test has failed (a message on
/// `stop`) and has not finished winding down [`FAILURE_GRACE`] later. It
/// stands down when `stop` is disconnected: the test is over.
fn spawn_watchdog(name: &str, seed: u64, stop: Receiver<String>) {
    let replay = replay_command(Time::Real, seed, name);
    let name = name.to_owned();
    thread::Builder::new()
        .name("test-watchdog".into())
        .spawn(move || match stop.recv_timeout(TEST_LIMIT) {
            Ok(failure) => {
                if stop
                    .recv_timeout(FAILURE_GRACE)
                    .is_err_and(|e| e.is_timeout())
                {
                    let why = format!(
                        "{failure}\n  (its threads were still running {} s after this failure, \
                         waiting for something that will not come)",
                        FAILURE_GRACE.as_secs()
                    );
                    stop_process(&name, &why, &replay);
                }
            }
            Err(e) if e.is_timeout() => {
                let why = format!("test took longer than {} seconds", TEST_LIMIT.as_secs());
                stop_process(&name, &why, &replay);
            }
            Err(_) => {}
        })
        .expect("cannot spawn the test watchdog");
}

/// Sends `log` records to the test's output, one bare line each (the lines
/// carry their own time and topic); silent unless `RUST_LOG` asks.
fn init_logging() {
    let _ = env_logger::builder()
        .is_test(true)
        .format(|buf, record| {
            use std::io::Write;
            writeln!(buf, "{}", record.args())
        })
        .try_init();
    labrpc::trace::epoch();
}

/// Records every panic (in any thread) for [`Session::check_end`] and for
/// the run record, then reports it as usual.
fn install_panic_recorder() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = thread::current();
            let thread_name = thread.name().unwrap_or("unnamed");
            let message = format!("thread '{thread_name}': {info}");
            if let Some(at) = info.location() {
                let payload = info.payload();
                let said = payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(a panic with no message)");
                record::panicked(sim::world_id(), &Failure::at(thread_name, at, said));
            }
            if let Some((test, watchdog)) = &*FAILING.lock()
                && *test == thread.id()
            {
                let _ = watchdog.try_send(message.clone());
            }
            PANICS.lock().push((sim::world_id().unwrap_or(0), message));
            if sim::is_simulated() {
                // The standard report would name the OS thread, which runs
                // every coroutine of the world.
                report_simulated(thread_name, info);
            } else {
                report(info);
            }
        }));
    });
}

/// A panic of a simulated thread, reported as the standard hook reports
/// one: the thread, where, what it said, and a backtrace when
/// `RUST_BACKTRACE` asks for one (else, once, how to ask).
fn report_simulated(thread_name: &str, info: &std::panic::PanicHookInfo<'_>) {
    static NOTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let backtrace = std::backtrace::Backtrace::capture();
    let trailer = match backtrace.status() {
        std::backtrace::BacktraceStatus::Captured => format!("\nstack backtrace:\n{backtrace}"),
        _ if !NOTED.swap(true, std::sync::atomic::Ordering::Relaxed) => {
            "\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
                .to_owned()
        }
        _ => String::new(),
    };
    eprintln!("\nthread '{thread_name}' {info}{trailer}");
}

/// The kernel's id of the calling thread, if this system shows it.
fn current_tid() -> Option<u32> {
    let link = fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// The ids of this process's threads (empty where `/proc` is missing, which
/// turns the leak check off rather than failing it).
fn thread_ids() -> HashSet<u32> {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return HashSet::new();
    };
    tasks
        .filter_map(|t| t.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn thread_name(tid: u32) -> String {
    fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .map(|n| n.trim().to_owned())
        .unwrap_or_else(|_| format!("thread {tid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_left_running_is_named() {
        let session = Session::begin(1);
        let (release, wait) = channel::bounded::<()>(0);
        let straggler = thread::Builder::new()
            .name("left-behind".into())
            .spawn(move || {
                let _ = wait.recv();
            })
            .unwrap();
        let error = session.check_threads_exited().unwrap_err();
        assert!(error.contains("left-behind"), "{error}");
        drop(release);
        straggler.join().unwrap();
        assert_eq!(session.check_threads_exited(), Ok(()));
    }

    /// Run by [`a_failed_test_whose_threads_hang_ends_its_process`], in a
    /// process of its own: a real-time test that fails while a thread it
    /// started waits for good (the scope never finishes joining it).
    #[test]
    #[ignore = "run by a_failed_test_whose_threads_hang_ends_its_process"]
    fn fails_with_a_thread_blocked_for_good() {
        let _session = Session::begin(1);
        let (_never_sent, wait) = channel::bounded::<()>(0);
        thread::scope(|s| {
            s.spawn(move || {
                let _ = wait.recv();
            });
            panic!("deliberate failure with a thread blocked for good");
        });
    }

    /// The failure, not the 120 s limit, ends such a test, and says what it
    /// was: the watchdog's time-limit message would name no failure.
    #[test]
    fn a_failed_test_whose_threads_hang_ends_its_process() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "support::tests::fails_with_a_thread_blocked_for_good",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(101), "{stderr}");
        assert!(
            stderr.contains("deliberate failure with a thread blocked for good")
                && stderr.contains(&format!(
                    "still running {} s after this failure",
                    FAILURE_GRACE.as_secs()
                ))
                && stderr.contains("The test process stops here."),
            "{stderr}"
        );
    }

    /// Run by [`a_dead_simulation_with_a_thread_blocked_for_good_ends_its_process`],
    /// in a process of its own: a simulated test that deadlocks while a
    /// thread of its scope waits for good.
    #[test]
    #[ignore = "run by a_dead_simulation_with_a_thread_blocked_for_good_ends_its_process"]
    fn deadlocks_with_a_scoped_thread_blocked() {
        run(|| {
            let (_never_sent, wait) = channel::bounded::<()>(0);
            let waits_too = wait.clone();
            thread::scope(|s| {
                s.spawn(move || {
                    let _ = waits_too.recv();
                });
                let _ = wait.recv();
            });
        });
    }

    /// A world that died (here, deadlocked) stops its threads where they
    /// stand, so the failing test cannot join them: the process ends with
    /// the report instead of hanging at the scope's end.
    #[test]
    fn a_dead_simulation_with_a_thread_blocked_for_good_ends_its_process() {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "support::tests::deadlocks_with_a_scoped_thread_blocked",
            ])
            .env(TIME_VAR, "sim")
            .env(SEED_VAR, "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > std::time::Duration::from_secs(60) {
                let _ = child.kill();
                panic!("the failed test's process still runs after 60 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(101), "{stderr}");
        assert!(
            stderr.contains("deadlock at")
                && stderr.contains("replay: LAB_SEED=1 LAB_TIME=sim")
                && stderr.contains("stopping the test process."),
            "{stderr}"
        );
    }

    #[test]
    fn a_panic_in_another_thread_fails_the_test() {
        let session = Session::begin(1);
        let _ = thread::Builder::new()
            .name("doomed".into())
            .spawn(|| panic!("deliberate panic in a helper thread"))
            .unwrap()
            .join();
        let error = session.check_end().unwrap_err();
        assert!(error.contains("doomed"), "{error}");
        assert!(error.contains("deliberate panic"), "{error}");
        assert_eq!(session.check_end(), Ok(()), "each panic is reported once");
    }

    #[test]
    fn the_replay_command_names_the_test_by_its_full_path() {
        // `--exact` matches a test's whole path, not its last segment.
        assert_eq!(
            replay_command(Time::Sim, 42, "part_2b::backup_2b"),
            "LAB_SEED=42 LAB_TIME=sim cargo test part_2b::backup_2b -- --exact"
        );
        assert_eq!(
            replay_command(Time::Real, 7, "part_3a::basic_3a"),
            "LAB_SEED=7 LAB_TIME=real cargo test part_3a::basic_3a -- --exact"
        );
    }
}
