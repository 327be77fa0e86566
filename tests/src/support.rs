//! What every lab test shares, whatever it tests: one test at a time, a hard
//! time limit, panics from any thread counted as failures, no thread left
//! behind, and randomness that replays from the seed.

use std::collections::HashSet;
use std::fs;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use labrpc::{ClientEnd, Network};
use parking_lot::{Mutex, MutexGuard};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// The course's real-time limit on one test.
pub const TEST_LIMIT: Duration = Duration::from_secs(120);

/// How long threads started during a test may take to exit after cleanup.
const THREAD_EXIT_GRACE: Duration = Duration::from_secs(2);

static SERIAL: Mutex<()> = Mutex::new(());
/// Threads of the test runner that were waiting for their turn when a test
/// began: not the test's to clean up.
static WAITING: Mutex<Vec<u32>> = Mutex::new(Vec::new());
/// Panics seen in any thread since the current test began.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A running test's hold on the machine. Tests are timing-sensitive and the
/// machine may have two cores, so they run one at a time even when the test
/// runner starts several: each waits here for the one before to finish.
pub struct Session {
    name: String,
    seed: u64,
    started: Instant,
    threads_before: HashSet<u32>,
    _watchdog: Sender<()>,
    _turn: MutexGuard<'static, ()>,
}

impl Session {
    /// Waits for this test's turn, then starts its clock and its watchdog.
    pub fn begin(seed: u64) -> Session {
        install_panic_recorder();
        init_logging();
        let me = current_tid();
        if let Some(tid) = me {
            WAITING.lock().push(tid);
        }
        let turn = SERIAL.lock();
        if let Some(tid) = me {
            WAITING.lock().retain(|&t| t != tid);
        }
        PANICS.lock().clear();
        let name = thread::current()
            .name()
            .unwrap_or("unnamed test")
            .to_owned();
        let (watchdog, stop) = crossbeam_channel::bounded(0);
        spawn_watchdog(name.clone(), seed, stop);
        Session {
            name,
            seed,
            started: Instant::now(),
            threads_before: thread_ids(),
            _watchdog: watchdog,
            _turn: turn,
        }
    }

    /// The test's name, as the test runner knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the test began.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Fails the test: `message`, then how to replay the network.
    #[track_caller]
    pub fn fail(&self, message: impl std::fmt::Display) -> ! {
        panic!(
            "{message}\n  (replay the network's choices with {VAR}={})",
            self.seed,
            VAR = labrpc::seed::VAR
        );
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
        let panics = std::mem::take(&mut *PANICS.lock());
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
}

/// After the limit, print why and stop the whole test process: a test that
/// hangs must still fail, and a thread cannot fail another thread's test.
fn spawn_watchdog(name: String, seed: u64, stop: Receiver<()>) {
    thread::Builder::new()
        .name("test-watchdog".into())
        .spawn(move || {
            if stop.recv_timeout(TEST_LIMIT).is_err_and(|e| e.is_timeout()) {
                eprintln!(
                    "\ntest {name} FAILED: test took longer than {} seconds; stopping the test \
                     process.\n  (replay the network's choices with LAB_SEED={seed})",
                    TEST_LIMIT.as_secs()
                );
                std::process::exit(101);
            }
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
    labraft::trace::epoch();
}

/// Records every panic (in any thread) for [`Session::check_end`], then
/// reports it as usual.
fn install_panic_recorder() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = thread::current();
            let message = format!("thread '{}': {info}", thread.name().unwrap_or("unnamed"));
            PANICS.lock().push(message);
            report(info);
        }));
    });
}

/// A random integer in `0..bound` from `rng`.
pub fn random(rng: &Mutex<Xoshiro256PlusPlus>, bound: u64) -> u64 {
    rng.lock().random_range(0..bound)
}

/// A random string of `len` letters and digits from `rng`.
pub fn random_string(rng: &Mutex<Xoshiro256PlusPlus>, len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rng.lock();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// The network name of server `i`.
pub fn server_name(i: usize) -> String {
    format!("server-{i}")
}

/// Fresh ends with random names, one to each of `n` servers, connected but
/// not enabled; their names and the ends.
pub fn fresh_ends(
    net: &Network,
    rng: &Mutex<Xoshiro256PlusPlus>,
    n: usize,
) -> (Vec<String>, Vec<ClientEnd>) {
    let names: Vec<String> = (0..n).map(|_| random_string(rng, 20)).collect();
    let ends = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let end = net.make_end(name);
            net.connect(name, &server_name(j));
            end
        })
        .collect();
    (names, ends)
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
        let (release, wait) = crossbeam_channel::bounded::<()>(0);
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
}
