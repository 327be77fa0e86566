//! The simulated world: lab threads that take turns under a seeded
//! scheduler, in virtual time.
//!
//! Every thread of a world is a real OS thread, but only the holder of the
//! *baton* runs. Each facade call is a *step*: the running thread records
//! what it is doing (still runnable, or blocked on which objects until
//! when), the clock advances by a small seeded quantum, due timers fire, and
//! the policy picks the next thread to run. Each thread has its own wake-up
//! slot (an atomic flag and the OS thread's park token), so a hand-off costs
//! one unpark whatever the number of threads.
//!
//! When no thread is runnable the clock jumps to the earliest timer. When
//! there is no timer either, the world is deadlocked; when the clock passes
//! the world's limit, it has run out of time. Either way the world *dies*:
//! its main thread fails with a report naming every thread, its node, and
//! the call site and age of its blocking call, and the other threads are
//! frozen where they stand.
//!
//! Determinism: the schedule depends only on the seed and on what the
//! threads do, as long as they do everything that waits or reads the clock
//! through the facade. [`ScheduleCheck`] records the schedule (who ran, from which
//! call site) so that a second run can be compared step by step.

use std::any::Any;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::fmt::{self, Write as _};
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self as std_thread, Thread};
use std::time::{Duration, Instant as WallInstant};

use parking_lot::Mutex;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// A thread's number within its world, in order of creation; the main
/// thread is 0.
pub(crate) type Tid = usize;

/// How many worlds exist in this process. While it is zero, every facade
/// call takes the real path without looking at thread-local state.
static LIVE_WORLDS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static CURRENT: RefCell<Option<Here>> = const { RefCell::new(None) };
}

/// The calling thread's place in a world (opaque outside this crate).
#[doc(hidden)]
#[derive(Clone)]
pub struct Here {
    pub(crate) world: Arc<World>,
    pub(crate) tid: Tid,
}

/// The world the calling thread belongs to, if any.
#[inline]
pub(crate) fn here() -> Option<Here> {
    if LIVE_WORLDS.load(Ordering::Relaxed) == 0 {
        return None;
    }
    CURRENT.with(|c| c.borrow().clone())
}

/// Whether the calling thread runs in a simulated world.
#[inline]
pub fn is_simulated() -> bool {
    here().is_some()
}

/// A unique id for a synchronisation object (a mutex, a channel, a thread's
/// completion), used to wait on it and to wake its waiters.
pub(crate) fn new_object_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The scheduling policy: which runnable thread goes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// At random: the thread that just stepped keeps running with a fixed
    /// probability if it can, else the next is drawn uniformly among the
    /// runnable threads.
    Random,
    /// PCT-style: each thread has a random priority and the highest runnable
    /// one runs; at random change points the running thread drops below all
    /// others. Finds bugs that need one thread to be starved for a while.
    Pct,
}

impl Policy {
    /// The policy named by `LAB_SCHED` (`random`, the default, or `pct`).
    ///
    /// # Panics
    /// When `LAB_SCHED` names something else.
    pub fn from_env() -> Policy {
        match std::env::var(crate::lab::SCHED_VAR)
            .as_deref()
            .map(str::trim)
        {
            Err(_) | Ok("" | "random") => Policy::Random,
            Ok("pct") => Policy::Pct,
            Ok(other) => panic!(
                "{} must be `random` or `pct`, got {other:?}",
                crate::lab::SCHED_VAR
            ),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Random => "random",
            Policy::Pct => "pct",
        })
    }
}

/// On average, a PCT change point every this many steps.
const PCT_CHANGE_PERIOD: u64 = 4000;

/// The virtual time one step costs, in nanoseconds: drawn uniformly from
/// this range, so that loops that poll advance the clock and no two steps
/// share a timestamp.
const QUANTUM_NS: std::ops::RangeInclusive<u64> = 1_000..=10_000;

/// Under the random policy, a thread that stays runnable after its step
/// keeps the baton with this probability (in percent); otherwise the next
/// thread is drawn uniformly from all runnable ones, itself included. Every
/// interleaving stays possible, and a hand-over (an OS context switch, the
/// main cost of a step) happens at a third of the steps instead of most.
const STAY_PERCENT: u32 = 75;

/// How a world runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Seeds the schedule, every quantum and every facade RNG.
    pub seed: u64,
    /// Scheduling policy.
    pub policy: Policy,
    /// The world dies when virtual time passes this.
    pub limit: Duration,
    /// Printed with every failure: how to run this world again.
    pub replay: String,
    /// The node of the main thread, for reports.
    pub node: String,
    /// Record the schedule for a later comparison, or compare with one.
    pub schedule: ScheduleCheck,
}

/// What a world does with its schedule.
#[derive(Clone, Debug, Default)]
pub enum ScheduleCheck {
    /// Nothing.
    #[default]
    Off,
    /// Records every step, to compare a later run with.
    Record,
    /// Compares every step with a recorded schedule and dies at the first
    /// difference.
    Compare(Arc<Schedule>),
}

/// A world's schedule: at each step, who ran and from where.
#[derive(Debug, Default)]
pub struct Schedule {
    steps: Vec<(Tid, &'static Location<'static>, u64)>,
    names: Vec<String>,
}

impl Schedule {
    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether no step was taken.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Why a world died.
#[derive(Debug, Clone)]
pub struct Death {
    /// The whole report: what happened, every thread, how to replay.
    pub report: String,
}

impl fmt::Display for Death {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report)
    }
}

/// A simulated world: its clock, its threads and its scheduler.
pub(crate) struct World {
    state: Mutex<State>,
    pub(crate) seed: u64,
    replay: String,
    /// Steps taken; the stall watchdog watches it move.
    steps: AtomicU64,
    /// Set while the running thread does work that is outside the
    /// simulation on purpose (a long check): the stall watchdog waits.
    outside: AtomicBool,
    dead: AtomicBool,
    started_wall: WallInstant,
    /// Notified whenever a thread finishes.
    any_finished: u64,
    /// Tells this world's thread-local state (random generators) apart
    /// from an earlier world's on the same OS thread.
    pub(crate) id: u64,
    /// The CPU every thread of this world runs on, where the OS lets us
    /// choose: only one runs at a time, and handing the baton to a thread
    /// on the same CPU costs a fraction of waking one on another.
    core: Option<core_affinity::CoreId>,
}

impl World {
    /// Pins the calling thread to the world's CPU.
    pub(crate) fn pin(&self) {
        if let Some(core) = self.core {
            core_affinity::set_for_current(core);
        }
    }
}

/// A CPU for a new world, counted as in use until [`release_core`]: one
/// that fewest live worlds of this process use (so that tests running side
/// by side in one process do not share a CPU), preferring the one the
/// calling thread runs on now, where the OS has placed it beside whatever
/// else runs (so that test processes side by side tend not to share one).
fn next_core() -> Option<core_affinity::CoreId> {
    let cores = all_cores();
    let mut load = CORE_LOAD.lock();
    load.resize(cores.len(), 0);
    let fewest = *load.iter().min()?;
    let here = current_cpu().and_then(|cpu| cores.iter().position(|core| core.id == cpu));
    let chosen = match here {
        Some(i) if load[i] == fewest => i,
        _ => load.iter().position(|&n| n == fewest)?,
    };
    load[chosen] += 1;
    Some(cores[chosen])
}

/// A world that ran on `core` has ended.
fn release_core(core: core_affinity::CoreId) {
    let Some(i) = all_cores().iter().position(|c| c.id == core.id) else {
        return;
    };
    if let Some(n) = CORE_LOAD.lock().get_mut(i) {
        *n = n.saturating_sub(1);
    }
}

/// How many live worlds of this process use each CPU of [`all_cores`].
static CORE_LOAD: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// The CPUs this process may use, read before any world pinned a thread (a
/// pinned thread sees its own CPU only).
fn all_cores() -> &'static [core_affinity::CoreId] {
    static CORES: std::sync::OnceLock<Vec<core_affinity::CoreId>> = std::sync::OnceLock::new();
    CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default())
}

/// The CPU the calling thread last ran on (Linux: field 39 of
/// `/proc/thread-self/stat`).
fn current_cpu() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it do not.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(39 - 3)?.parse().ok()
}

struct State {
    /// Virtual nanoseconds since the world began.
    now: u64,
    limit: u64,
    running: Tid,
    threads: Vec<Option<ThreadRec>>,
    runnable: BTreeSet<Tid>,
    live: usize,
    /// (deadline, sequence, thread, the thread's wait epoch).
    timers: BinaryHeap<Reverse<(u64, u64, Tid, u64)>>,
    timer_seq: u64,
    /// Threads waiting on each object.
    waiters: HashMap<u64, Vec<Tid>>,
    /// Who holds each simulated lock, and where it took it.
    holders: HashMap<u64, (Tid, &'static Location<'static>)>,
    rng: Xoshiro256PlusPlus,
    policy: Policy,
    step: u64,
    /// Steps that handed the baton to another thread.
    switches: u64,
    /// Threads ever started, the main one included.
    spawned: u64,
    /// With `LAB_SIM_STATS`: steps per call site.
    sites: Option<HashMap<(&'static str, u32, &'static str), u64>>,
    check: ScheduleState,
    death: Option<String>,
    /// Priority floor for PCT demotions (goes down).
    pct_floor: i64,
}

enum ScheduleState {
    Off,
    Record(Schedule),
    Compare(Arc<Schedule>),
}

/// Who a simulated thread runs for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThreadKind {
    /// The lab code made it.
    Lab,
    /// The network runs RPC handlers on it.
    Handlers,
}

struct ThreadRec {
    name: String,
    node: Arc<str>,
    kind: ThreadKind,
    /// The RPC method whose handler the thread runs now, if any.
    serving: Option<&'static str>,
    /// The thread is in its node only for a call ([`with_node`]): the
    /// node's crash neither kills it nor counts it as left running.
    visiting: bool,
    os: Option<Thread>,
    baton: Arc<AtomicBool>,
    blocked: Option<Blocked>,
    /// The last facade call's site.
    site: &'static Location<'static>,
    /// What the thread was woken by, read when it resumes.
    woken_by: Wake,
    /// Incremented at every wait, so that a stale timer is ignored.
    epoch: u64,
    killed: bool,
    priority: i64,
    rng_seed: u64,
}

struct Blocked {
    what: &'static str,
    since: u64,
    deadline: Option<u64>,
    objects: Vec<u64>,
}

/// Why a waiting thread runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// An object it waited on changed.
    Notified,
    /// Its deadline passed.
    Timeout,
}

/// The payload a killed thread unwinds with. Not a panic: the panic hook
/// never sees it (it is raised with `resume_unwind`), and the thread's
/// wrapper swallows it.
pub(crate) struct Killed;

/// Whether `payload` is a killed thread's unwinding rather than a panic.
pub fn is_killed_payload(payload: &(dyn Any + Send)) -> bool {
    payload.is::<Killed>()
}

impl World {
    /// The current virtual time, in nanoseconds since the world began.
    pub(crate) fn now(&self) -> u64 {
        self.state.lock().now
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// The node of thread `tid`.
    pub(crate) fn node_of(&self, tid: Tid) -> Arc<str> {
        let state = self.state.lock();
        Arc::clone(&state.thread(tid).node)
    }

    /// Puts handler thread `tid` in `node`, running the handler of
    /// `method` (`None`: none).
    pub(crate) fn serve(&self, tid: Tid, node: Arc<str>, method: Option<&'static str>) {
        let mut state = self.state.lock();
        let rec = state.thread_mut(tid);
        rec.node = node;
        rec.serving = method;
    }

    /// Moves thread `tid` to `node` as a visitor (or back, with the node and
    /// flag it had); returns the node and flag it had.
    fn visit(&self, tid: Tid, node: Arc<str>, visiting: bool) -> (Arc<str>, bool) {
        let mut state = self.state.lock();
        let rec = state.thread_mut(tid);
        let before = (std::mem::replace(&mut rec.node, node), rec.visiting);
        rec.visiting = visiting;
        before
    }

    /// The seed of thread `tid`'s own random generator.
    pub(crate) fn rng_seed(&self, tid: Tid) -> u64 {
        self.state.lock().thread(tid).rng_seed
    }

    /// One step of thread `tid`, which stays runnable.
    pub(crate) fn step_at(&self, tid: Tid, site: &'static Location<'static>, what: &'static str) {
        self.switch(tid, site, what, None, None);
    }

    /// A number in `0..bound` from the scheduler's generator (a choice the
    /// simulation makes, such as which ready arm of a select completes).
    pub(crate) fn random_below(&self, bound: usize) -> usize {
        self.state.lock().rng.random_range(0..bound)
    }

    /// Called by a thread about to wait for another to finish: in a dead
    /// world that wait would never end (its other threads stopped where they
    /// stood, for good), so the process ends here with the world's report,
    /// straight to stderr (the test's captured output is lost on exit).
    pub(crate) fn stop_if_dead(&self, what: &str) {
        if !self.is_dead() {
            return;
        }
        let report = self.death_report();
        crate::record::stop_process(
            "simulation",
            &format!(
                "\n{report}\n(the failing test waits for its threads to finish ({what}), which \
                 this failure stopped for good)\nstopping the test process."
            ),
        );
    }

    /// Why the world died, with its replay command.
    fn death_report(&self) -> String {
        self.state
            .lock()
            .death
            .clone()
            .unwrap_or_else(|| "the simulation died".to_owned())
    }

    /// Whether thread `tid` has finished.
    pub(crate) fn is_finished(&self, tid: Tid) -> bool {
        self.state.lock().threads[tid].is_none()
    }

    /// Kills the given threads: each unwinds at its next facade call.
    pub(crate) fn kill_threads(&self, tids: &[Tid]) {
        let mut state = self.state.lock();
        for &tid in tids {
            if let Some(rec) = state.threads[tid].as_mut() {
                rec.killed = true;
                state.make_runnable(tid, Wake::Notified);
            }
        }
    }

    /// Thread `tid` waits until one of `objects` is notified, or until
    /// `deadline` (virtual nanoseconds) if given.
    pub(crate) fn wait(
        &self,
        tid: Tid,
        site: &'static Location<'static>,
        what: &'static str,
        objects: &[u64],
        deadline: Option<u64>,
    ) -> Wake {
        self.switch(tid, site, what, Some(objects), deadline)
    }

    /// Records that thread `tid` took lock `object` at `site` (`None`: that
    /// it released it), for reports.
    pub(crate) fn set_holder(
        &self,
        object: u64,
        holder: Option<(Tid, &'static Location<'static>)>,
    ) {
        let mut state = self.state.lock();
        match holder {
            Some(holder) => state.holders.insert(object, holder),
            None => state.holders.remove(&object),
        };
    }

    /// Wakes every thread waiting on `object`.
    pub(crate) fn notify(&self, object: u64) {
        let mut state = self.state.lock();
        state.notify(object, usize::MAX);
    }

    /// Wakes every thread waiting on `object`; returns how many.
    pub(crate) fn notify_all(&self, object: u64) -> usize {
        self.state.lock().notify(object, usize::MAX)
    }

    /// Wakes one thread waiting on `object`, if any.
    pub(crate) fn notify_one(&self, object: u64) -> bool {
        let mut state = self.state.lock();
        state.notify(object, 1) > 0
    }

    /// Whether `tid` is waiting (on anything).
    pub(crate) fn is_waiting(&self, tid: Tid) -> bool {
        self.state.lock().thread(tid).blocked.is_some()
    }

    /// Makes a waiting thread runnable, as if an object it waits on changed.
    pub(crate) fn wake(&self, tid: Tid) {
        let mut state = self.state.lock();
        state.make_runnable(tid, Wake::Notified);
    }

    /// The core of every step: record what `tid` does, advance the clock,
    /// pick who runs next, and hand over the baton if it is someone else.
    fn switch(
        &self,
        tid: Tid,
        site: &'static Location<'static>,
        what: &'static str,
        wait_on: Option<&[u64]>,
        deadline: Option<u64>,
    ) -> Wake {
        self.steps.fetch_add(1, Ordering::Relaxed);
        let baton = {
            let mut state = self.state.lock();
            if state.death.is_some() {
                drop(state);
                return self.after_death(tid);
            }
            assert_eq!(
                state.running, tid,
                "simulation invariant broken: thread #{tid} took a step at {site} while #{} holds \
                 the baton",
                state.running
            );
            if let Some(report) = state.check_step(tid, site) {
                drop(state);
                self.die(report);
                return self.after_death(tid);
            }
            if let Some(sites) = state.sites.as_mut() {
                *sites.entry((site.file(), site.line(), what)).or_insert(0) += 1;
            }
            let quantum = state.rng.random_range(QUANTUM_NS);
            state.now += quantum;
            state.step += 1;
            let now = state.now;
            {
                let epoch;
                {
                    let rec = state.thread_mut(tid);
                    rec.site = site;
                    rec.woken_by = Wake::Notified;
                    rec.epoch += 1;
                    epoch = rec.epoch;
                    if let Some(objects) = wait_on {
                        rec.blocked = Some(Blocked {
                            what,
                            since: now,
                            deadline,
                            objects: objects.to_vec(),
                        });
                    }
                }
                if let Some(objects) = wait_on {
                    state.runnable.remove(&tid);
                    for &object in objects {
                        state.waiters.entry(object).or_default().push(tid);
                    }
                    if let Some(deadline) = deadline {
                        state.timer_seq += 1;
                        let seq = state.timer_seq;
                        state.timers.push(Reverse((deadline, seq, tid, epoch)));
                    }
                }
            }
            if state.policy == Policy::Pct && state.rng.random_range(0..PCT_CHANGE_PERIOD) == 0 {
                state.pct_floor -= 1;
                let floor = state.pct_floor;
                state.thread_mut(tid).priority = floor;
            }
            match state.pick(Some(tid)) {
                Ok(next) if next == tid => None,
                Ok(next) => {
                    state.running = next;
                    state.switches += 1;
                    let rec = state.thread(next);
                    Some((Arc::clone(&rec.baton), rec.os.clone()))
                }
                Err(report) => {
                    drop(state);
                    self.die(report);
                    return self.after_death(tid);
                }
            }
        };
        if let Some((next_baton, next_os)) = baton {
            hand_over(&next_baton, next_os.as_ref());
            let mine = Arc::clone(&self.state.lock().thread(tid).baton);
            take_baton(&mine);
        }
        self.resumed(tid)
    }

    /// What a thread finds when it runs again.
    fn resumed(&self, tid: Tid) -> Wake {
        if self.is_dead() {
            return self.after_death(tid);
        }
        let (killed, woken_by) = {
            let state = self.state.lock();
            let rec = state.thread(tid);
            (rec.killed, rec.woken_by)
        };
        if killed && !std_thread::panicking() {
            panic::resume_unwind(Box::new(Killed));
        }
        woken_by
    }

    /// A thread of a dead world: the main thread fails with the report;
    /// any other thread stops here for good.
    fn after_death(&self, tid: Tid) -> Wake {
        if tid == 0 {
            if std_thread::panicking() {
                // Unwinding already: let it finish without scheduling.
                return Wake::Timeout;
            }
            let report = self.death_report();
            panic!("{report}");
        }
        loop {
            std_thread::park();
        }
    }

    /// Ends the world with `report`, and wakes its main thread to fail.
    fn die(&self, report: String) {
        let main = {
            let mut state = self.state.lock();
            if state.death.is_some() {
                return;
            }
            let report = format!("{report}\n  replay: {}", self.replay);
            state.death = Some(report);
            state.running = 0;
            state
                .threads
                .first()
                .and_then(|t| t.as_ref())
                .map(|rec| (Arc::clone(&rec.baton), rec.os.clone()))
        };
        self.dead.store(true, Ordering::Release);
        if let Some((baton, os)) = main {
            hand_over(&baton, os.as_ref());
        }
    }

    /// Registers a new thread, runnable, and returns its id and baton.
    pub(crate) fn add_thread(
        &self,
        name: String,
        node: Arc<str>,
        kind: ThreadKind,
    ) -> (Tid, Arc<AtomicBool>) {
        let mut state = self.state.lock();
        let tid = state.threads.len();
        let baton = Arc::new(AtomicBool::new(false));
        let priority = state.rng.random_range(0..1_000_000);
        let rng_seed = state.rng.random();
        let site = state.thread(state.running).site;
        state.threads.push(Some(ThreadRec {
            name,
            node,
            kind,
            serving: None,
            visiting: false,
            os: None,
            baton: Arc::clone(&baton),
            blocked: None,
            site,
            woken_by: Wake::Notified,
            epoch: 0,
            killed: false,
            priority,
            rng_seed,
        }));
        state.runnable.insert(tid);
        state.live += 1;
        state.spawned += 1;
        (tid, baton)
    }

    /// Records the OS thread behind `tid`, to unpark it.
    pub(crate) fn set_os_thread(&self, tid: Tid, os: Thread) {
        self.state.lock().thread_mut(tid).os = Some(os);
    }

    /// Thread `tid` has finished: wake those waiting on `completion`, and
    /// pass the baton on for good.
    pub(crate) fn finish(&self, tid: Tid, completion: u64) {
        let next = {
            let mut state = self.state.lock();
            if state.death.is_some() {
                return;
            }
            state.notify(completion, usize::MAX);
            state.notify(self.any_finished, usize::MAX);
            state.runnable.remove(&tid);
            state.threads[tid] = None;
            state.live -= 1;
            match state.pick(None) {
                Ok(next) => {
                    state.running = next;
                    let rec = state.thread(next);
                    Some((Arc::clone(&rec.baton), rec.os.clone()))
                }
                Err(report) => {
                    drop(state);
                    self.die(report);
                    None
                }
            }
        };
        if let Some((baton, os)) = next {
            hand_over(&baton, os.as_ref());
        }
    }

    /// Kills every thread of `node` but the caller and visitors: each
    /// unwinds at its next facade call. Returns the names and sites of those
    /// that were not the network's handler threads (threads the lab code
    /// should have stopped).
    pub(crate) fn kill_node(&self, node: &str, caller: Tid) -> Vec<String> {
        let mut state = self.state.lock();
        let now = state.now;
        let mut survivors = Vec::new();
        let tids: Vec<Tid> = state
            .threads
            .iter()
            .enumerate()
            .filter_map(|(tid, rec)| {
                let rec = rec.as_ref()?;
                (tid != caller && !rec.visiting && &*rec.node == node).then_some(tid)
            })
            .collect();
        for tid in tids {
            let rec = state.thread_mut(tid);
            rec.killed = true;
            if rec.kind == ThreadKind::Lab {
                survivors.push(describe(tid, rec, now));
            }
            state.make_runnable(tid, Wake::Notified);
        }
        survivors
    }

    /// Every live thread but the caller, described for a report.
    pub(crate) fn others(&self, caller: Tid) -> Vec<String> {
        let state = self.state.lock();
        state
            .threads
            .iter()
            .enumerate()
            .filter_map(|(tid, rec)| {
                let rec = rec.as_ref()?;
                (tid != caller).then(|| describe(tid, rec, state.now))
            })
            .collect()
    }

    /// Kills every thread but the caller.
    pub(crate) fn kill_all(&self, caller: Tid) {
        let mut state = self.state.lock();
        let tids: Vec<Tid> = (0..state.threads.len())
            .filter(|&t| t != caller && state.threads[t].is_some())
            .collect();
        for tid in tids {
            state.thread_mut(tid).killed = true;
            state.make_runnable(tid, Wake::Notified);
        }
    }

    /// How many threads are alive, the caller included.
    pub(crate) fn live(&self) -> usize {
        self.state.lock().live
    }

    /// Runs `work` as computation outside the simulation: it takes no
    /// virtual time, and the stall watchdog leaves it alone.
    pub(crate) fn outside<R>(&self, work: impl FnOnce() -> R) -> R {
        self.outside.store(true, Ordering::Relaxed);
        let result = panic::catch_unwind(AssertUnwindSafe(work));
        self.outside.store(false, Ordering::Relaxed);
        result.unwrap_or_else(|payload| panic::resume_unwind(payload))
    }

    /// A report of every thread, for the stall watchdog.
    fn stall_report(&self) -> String {
        let state = self.state.lock();
        let running = state.thread(state.running);
        let mut report = format!(
            "simulation stalled: thread '{}' ({}) has run for more than {} s of wall time \
             without a facade call. It is blocked in something the simulation cannot see \
             (std::thread::sleep, a std or parking_lot lock, I/O) or it is spinning. Its last \
             facade call was at {}.\n",
            running.name,
            whereabouts(running),
            STALL.as_secs(),
            running.site
        );
        state.describe_threads(&mut report);
        report
    }
}

/// The wall time a thread may hold the baton without a facade call.
const STALL: Duration = Duration::from_secs(5);

/// The wall time a world may run in all.
const WALL_LIMIT: Duration = Duration::from_secs(300);

fn describe(tid: Tid, rec: &ThreadRec, now: u64) -> String {
    match &rec.blocked {
        Some(b) => format!(
            "thread '{}' (#{tid}, {}): blocked in {} at {} for {}{}",
            rec.name,
            whereabouts(rec),
            b.what,
            rec.site,
            virtual_ms(now - b.since),
            match b.deadline {
                Some(deadline) => format!(", until {}", virtual_ms(deadline)),
                None => String::new(),
            }
        ),
        None => format!(
            "thread '{}' (#{tid}, {}): runnable, last at {}",
            rec.name,
            whereabouts(rec),
            rec.site
        ),
    }
}

/// A thread's node, and the handler it runs if it runs one.
fn whereabouts(rec: &ThreadRec) -> String {
    match rec.serving {
        Some(method) => format!("{}, in the handler of {method}", rec.node),
        None => rec.node.to_string(),
    }
}

/// Threads of a report that differ only in number and age: the first (the
/// longest waiting) and how many more.
struct Group<'a> {
    tid: Tid,
    rec: &'a ThreadRec,
    /// For a thread waiting for a lock: who holds it, taken where.
    holder: Option<(Tid, &'static Location<'static>)>,
    more: usize,
}

impl Group<'_> {
    fn is_like(&self, rec: &ThreadRec, holder: Option<(Tid, &'static Location<'static>)>) -> bool {
        let first = self.rec;
        first.name == rec.name
            && first.node == rec.node
            && first.serving == rec.serving
            && first.site == rec.site
            && self.holder.map(|(h, _)| h) == holder.map(|(h, _)| h)
            && match (&first.blocked, &rec.blocked) {
                (Some(a), Some(b)) => {
                    a.what == b.what && a.deadline.is_some() == b.deadline.is_some()
                }
                (None, None) => true,
                _ => false,
            }
    }
}

/// A virtual time in nanoseconds, as reports print it.
fn virtual_ms(ns: u64) -> String {
    format!("{:.1} ms (virtual)", ns as f64 / 1e6)
}

impl State {
    fn thread(&self, tid: Tid) -> &ThreadRec {
        self.threads[tid]
            .as_ref()
            .expect("a scheduled thread is alive")
    }

    fn thread_mut(&mut self, tid: Tid) -> &mut ThreadRec {
        self.threads[tid]
            .as_mut()
            .expect("a scheduled thread is alive")
    }

    /// Records or compares a step; a report when it differs from the
    /// recorded one.
    fn check_step(&mut self, tid: Tid, site: &'static Location<'static>) -> Option<String> {
        let step = self.step;
        let now = self.now;
        match &mut self.check {
            ScheduleState::Off => None,
            ScheduleState::Record(schedule) => {
                schedule.steps.push((tid, site, now));
                if schedule.names.len() <= tid {
                    schedule.names.resize(tid + 1, String::new());
                }
                if schedule.names[tid].is_empty() {
                    schedule.names[tid] = self.threads[tid]
                        .as_ref()
                        .map_or_else(String::new, |t| t.name.clone());
                }
                None
            }
            ScheduleState::Compare(schedule) => {
                let expected = schedule.steps.get(step as usize);
                if expected.is_none_or(|&(t, s, n)| t != tid || s != site || n != now) {
                    let name = |t: Tid| {
                        self.threads
                            .get(t)
                            .and_then(|r| r.as_ref())
                            .map_or("?", |r| r.name.as_str())
                            .to_owned()
                    };
                    let first = match expected {
                        Some(&(t, s, n)) => format!(
                            "thread '{}' (#{t}) at {s}, time {}",
                            schedule.names.get(t).map_or("?", String::as_str),
                            virtual_ms(n)
                        ),
                        None => "nothing: the first run had ended".to_owned(),
                    };
                    let mut before = String::new();
                    let from = (step as usize).saturating_sub(8);
                    for (k, &(t, s, n)) in schedule.steps[from..step as usize].iter().enumerate() {
                        let _ = write!(
                            before,
                            "\n    step {}: thread '{}' (#{t}) at {s}, time {}",
                            from + k,
                            schedule.names.get(t).map_or("?", String::as_str),
                            virtual_ms(n)
                        );
                    }
                    let report = format!(
                        "nondeterminism: the two runs of this seed differ at step {step}.\n  \
                         first run: {first}\n  second run: thread '{}' (#{tid}) at {site}, \
                         time {}\n  the steps before, the same in both runs:{before}\n\
                         Something outside the facade decided what happened: a \
                         std/parking_lot/crossbeam primitive, the real clock, an unseeded \
                         random number, or HashMap iteration order.",
                        name(tid),
                        virtual_ms(now)
                    );
                    return Some(report);
                }
                None
            }
        }
    }

    /// Wakes up to `max` threads waiting on `object`; returns how many.
    fn notify(&mut self, object: u64, max: usize) -> usize {
        let Some(mut tids) = self.waiters.remove(&object) else {
            return 0;
        };
        let mut woken = 0;
        while woken < max && !tids.is_empty() {
            let tid = tids.remove(0);
            if self.make_runnable(tid, Wake::Notified) {
                woken += 1;
            }
        }
        if !tids.is_empty() {
            self.waiters.insert(object, tids);
        }
        woken
    }

    /// Makes a waiting thread runnable; false if it was not waiting.
    fn make_runnable(&mut self, tid: Tid, why: Wake) -> bool {
        let Some(rec) = self.threads.get_mut(tid).and_then(Option::as_mut) else {
            return false;
        };
        let Some(blocked) = rec.blocked.take() else {
            return false;
        };
        rec.woken_by = why;
        for object in blocked.objects {
            if let Some(list) = self.waiters.get_mut(&object) {
                list.retain(|&t| t != tid);
                if list.is_empty() {
                    self.waiters.remove(&object);
                }
            }
        }
        self.runnable.insert(tid);
        true
    }

    /// Fires the timers that are due.
    fn fire_timers(&mut self) {
        while let Some(&Reverse((deadline, _, tid, epoch))) = self.timers.peek() {
            if deadline > self.now {
                break;
            }
            self.timers.pop();
            let current = self
                .threads
                .get(tid)
                .and_then(Option::as_ref)
                .is_some_and(|r| r.epoch == epoch && r.blocked.is_some());
            if current {
                self.make_runnable(tid, Wake::Timeout);
            }
        }
    }

    /// Picks the next thread to run, moving the clock to the next timer
    /// when nobody can run; a report when the world cannot go on.
    /// `current` is the thread that just took a step, if it still exists.
    fn pick(&mut self, current: Option<Tid>) -> Result<Tid, String> {
        self.fire_timers();
        while self.runnable.is_empty() {
            let Some(&Reverse((deadline, ..))) = self.timers.peek() else {
                return Err(self.deadlock_report());
            };
            self.now = self.now.max(deadline);
            self.fire_timers();
        }
        if self.now > self.limit {
            return Err(self.limit_report());
        }
        let tid = match self.policy {
            Policy::Random
                if current.is_some_and(|t| self.runnable.contains(&t))
                    && self.rng.random_range(0..100) < STAY_PERCENT =>
            {
                current.expect("checked above")
            }
            Policy::Random => {
                let k = self.rng.random_range(0..self.runnable.len());
                *self.runnable.iter().nth(k).expect("k < len")
            }
            Policy::Pct => *self
                .runnable
                .iter()
                .max_by_key(|&&t| (self.thread(t).priority, Reverse(t)))
                .expect("runnable is not empty"),
        };
        Ok(tid)
    }

    fn deadlock_report(&self) -> String {
        let mut report = format!(
            "deadlock at {}: no thread can run and no timer is pending.\n",
            virtual_ms(self.now)
        );
        self.describe_threads(&mut report);
        report
    }

    fn limit_report(&self) -> String {
        let mut report = format!(
            "test took longer than {} s of virtual time.\n",
            self.limit / 1_000_000_000
        );
        self.describe_threads(&mut report);
        report
    }

    /// Every live thread, those waiting without a deadline the longest
    /// first (in a deadlock, the threads that cause it), each with where it
    /// waits and, for a lock, who holds it and since where.
    fn describe_threads(&self, report: &mut String) {
        let mut threads: Vec<(Tid, &ThreadRec)> = self
            .threads
            .iter()
            .enumerate()
            .filter_map(|(tid, rec)| Some((tid, rec.as_ref()?)))
            .collect();
        threads.sort_by_key(|&(tid, rec)| match &rec.blocked {
            Some(b) if b.deadline.is_none() => (0, b.since, tid),
            Some(b) => (1, b.since, tid),
            None => (2, 0, tid),
        });
        let _ = writeln!(
            report,
            "threads (those waiting with no deadline the longest first):"
        );
        // Threads with the same name, node and state (a handler thread per
        // request, all waiting for one lock) are one line and a count.
        let mut groups: Vec<Group<'_>> = Vec::new();
        for (tid, rec) in threads {
            let holder = rec
                .blocked
                .as_ref()
                .filter(|b| b.what == "lock")
                .and_then(|b| b.objects.first())
                .and_then(|o| self.holders.get(o).copied());
            match groups.iter_mut().find(|g| g.is_like(rec, holder)) {
                Some(group) => group.more += 1,
                None => groups.push(Group {
                    tid,
                    rec,
                    holder,
                    more: 0,
                }),
            }
        }
        for Group {
            tid,
            rec,
            holder,
            more,
        } in groups
        {
            let _ = write!(report, "  {}", describe(tid, rec, self.now));
            if let Some((holder, site)) = holder {
                let name = self.threads[holder]
                    .as_ref()
                    .map_or("a finished thread", |h| h.name.as_str());
                let _ = write!(
                    report,
                    "; the lock is held by '{name}' (#{holder}), taken at {site}"
                );
            }
            if more > 0 {
                let _ = write!(
                    report,
                    "\n    (and {more} more threads like it, for less long)"
                );
            }
            let _ = writeln!(report);
        }
    }
}

/// Makes the calling OS thread thread `here.tid` of `here.world`.
pub(crate) fn enter(here: Here) {
    CURRENT.with(|c| *c.borrow_mut() = Some(here));
}

/// Detaches the calling OS thread from its world.
pub(crate) fn leave() {
    CURRENT.with(|c| c.borrow_mut().take());
}

/// Gives the baton to a thread.
fn hand_over(baton: &AtomicBool, os: Option<&Thread>) {
    baton.store(true, Ordering::Release);
    if let Some(os) = os {
        os.unpark();
    }
}

/// Waits for the baton.
pub(crate) fn take_baton(baton: &AtomicBool) {
    while !baton.swap(false, Ordering::AcqRel) {
        std_thread::park();
    }
}

/// Enters a new world on the calling thread, runs `main` in it, and leaves.
///
/// When `main` returns, every other thread of the world must have finished
/// (the harness checks that itself, with a better message); any that has
/// not is killed. A world that died (deadlock, time limit, a comparison
/// that failed) makes `main` panic with the report.
///
/// Returns `main`'s result and the recorded schedule, if asked for.
///
/// # Panics
/// When the calling thread is already in a world; and again with `main`'s
/// own panic, after the world is torn down.
#[track_caller]
pub fn run<R>(settings: Settings, main: impl FnOnce() -> R) -> (R, Option<Schedule>) {
    assert!(
        here().is_none(),
        "labrpc::rt::sim::run: this thread is already in a simulated world"
    );
    let baton = Arc::new(AtomicBool::new(false));
    let node: Arc<str> = settings.node.as_str().into();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(settings.seed);
    let rng_seed = rng.random();
    let main_rec = ThreadRec {
        name: std_thread::current().name().unwrap_or("main").to_owned(),
        node,
        kind: ThreadKind::Lab,
        serving: None,
        visiting: false,
        os: Some(std_thread::current()),
        baton,
        blocked: None,
        site: Location::caller(),
        woken_by: Wake::Notified,
        epoch: 0,
        killed: false,
        priority: 0,
        rng_seed,
    };
    let world = Arc::new(World {
        state: Mutex::new(State {
            now: 0,
            limit: u64::try_from(settings.limit.as_nanos()).unwrap_or(u64::MAX),
            running: 0,
            threads: vec![Some(main_rec)],
            runnable: BTreeSet::from([0]),
            live: 1,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            waiters: HashMap::new(),
            holders: HashMap::new(),
            rng,
            policy: settings.policy,
            step: 0,
            switches: 0,
            spawned: 1,
            sites: std::env::var_os(crate::lab::SIM_STATS_VAR).map(|_| HashMap::new()),
            check: match settings.schedule {
                ScheduleCheck::Off => ScheduleState::Off,
                ScheduleCheck::Record => ScheduleState::Record(Schedule::default()),
                ScheduleCheck::Compare(schedule) => ScheduleState::Compare(schedule),
            },
            death: None,
            pct_floor: 0,
        }),
        seed: settings.seed,
        replay: settings.replay,
        steps: AtomicU64::new(0),
        outside: AtomicBool::new(false),
        dead: AtomicBool::new(false),
        started_wall: WallInstant::now(),
        any_finished: new_object_id(),
        id: new_object_id(),
        core: next_core(),
    });
    world.pin();
    LIVE_WORLDS.fetch_add(1, Ordering::SeqCst);
    enter(Here {
        world: Arc::clone(&world),
        tid: 0,
    });
    watchdog::watch(&world);

    let result = panic::catch_unwind(AssertUnwindSafe(main));

    if !world.is_dead() && world.live() > 1 {
        // Whatever is left unwinds; wait for it.
        world.kill_all(0);
        let site = Location::caller();
        while !world.is_dead() && world.live() > 1 {
            world.wait(0, site, "the end of the world", &[world.any_finished], None);
        }
    }
    watchdog::unwatch(&world);
    leave();
    if let Some(core) = world.core {
        release_core(core);
    }
    if std::env::var_os(crate::lab::SIM_STATS_VAR).is_some() {
        let state = world.state.lock();
        let wall = world.started_wall.elapsed();
        eprintln!(
            "simulation: {} of virtual time in {:.3} s of wall time; {} steps, {} switches \
             ({:.1} µs per step), {} threads",
            virtual_ms(state.now),
            wall.as_secs_f64(),
            state.step,
            state.switches,
            wall.as_secs_f64() * 1e6 / state.step.max(1) as f64,
            state.spawned
        );
        if let Some(sites) = &state.sites {
            let mut sites: Vec<_> = sites.iter().collect();
            sites.sort_by_key(|&(_, n)| std::cmp::Reverse(*n));
            for ((file, line, what), n) in sites.iter().take(25) {
                eprintln!("  {n:>9} {what:<12} {file}:{line}");
            }
        }
    }
    LIVE_WORLDS.fetch_sub(1, Ordering::SeqCst);
    let schedule = match std::mem::replace(&mut world.state.lock().check, ScheduleState::Off) {
        ScheduleState::Record(schedule) => Some(schedule),
        _ => None,
    };
    match result {
        Ok(value) => {
            if let Some(report) = world.state.lock().death.clone() {
                panic!("{report}");
            }
            (value, schedule)
        }
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// The wall-clock watchdog of every world in the process.
mod watchdog {
    use super::*;
    use std::sync::{OnceLock, Weak};

    static WORLDS: Mutex<Vec<(Weak<World>, u64, WallInstant)>> = Mutex::new(Vec::new());

    pub(super) fn watch(world: &Arc<World>) {
        static STARTED: OnceLock<()> = OnceLock::new();
        WORLDS
            .lock()
            .push((Arc::downgrade(world), u64::MAX, WallInstant::now()));
        STARTED.get_or_init(|| {
            std_thread::Builder::new()
                .name("sim-watchdog".into())
                .spawn(patrol)
                .expect("cannot start the simulation's watchdog");
        });
    }

    pub(super) fn unwatch(world: &Arc<World>) {
        WORLDS
            .lock()
            .retain(|(w, ..)| w.upgrade().is_some_and(|w| !Arc::ptr_eq(&w, world)));
    }

    fn patrol() {
        loop {
            std_thread::sleep(Duration::from_millis(250));
            let mut worlds = WORLDS.lock();
            worlds.retain(|(w, ..)| w.strong_count() > 0);
            for (weak, last_steps, since) in worlds.iter_mut() {
                let Some(world) = weak.upgrade() else {
                    continue;
                };
                if world.is_dead() {
                    continue;
                }
                let steps = world.steps.load(Ordering::Relaxed);
                if steps != *last_steps || world.outside.load(Ordering::Relaxed) {
                    *last_steps = steps;
                    *since = WallInstant::now();
                    if world.started_wall.elapsed() > WALL_LIMIT {
                        stop(
                            &world,
                            format!(
                                "the simulation ran for more than {} s of wall time (at {} of \
                             virtual time): something burns CPU without end.",
                                WALL_LIMIT.as_secs(),
                                virtual_ms(world.now())
                            ),
                        );
                    }
                    continue;
                }
                if since.elapsed() > STALL {
                    stop(&world, world.stall_report());
                }
            }
        }
    }

    /// A thread that never comes back to the facade cannot be made to fail
    /// its test: the only way to end the run is to end the process.
    fn stop(world: &World, report: String) -> ! {
        crate::record::stop_process(
            "sim-watchdog",
            &format!(
                "\n{report}\n  replay: {}\nstopping the test process.",
                world.replay
            ),
        );
    }
}

/// An id of the calling thread's world, unique in the process, if it is in
/// one.
pub fn world_id() -> Option<u64> {
    here().map(|h| h.world.id)
}

/// The seed of the calling thread's world, if it is in one.
pub fn seed() -> Option<u64> {
    here().map(|h| h.world.seed)
}

/// Runs `f` with the calling thread counted as part of `node` (a server, a
/// client) as a visitor: reports show it there, and the threads it spawns
/// belong to `node` for good, but a crash of `node` meanwhile ([`kill_node`])
/// leaves the calling thread alone (a tester calling a peer's API is not
/// the peer's thread). Outside a simulation it just runs `f`.
pub fn with_node<R>(node: &str, f: impl FnOnce() -> R) -> R {
    let Some(here) = here() else {
        return f();
    };
    let (node_before, visiting_before) = here.world.visit(here.tid, node.into(), true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    here.world.visit(here.tid, node_before, visiting_before);
    result.unwrap_or_else(|payload| panic::resume_unwind(payload))
}

/// Counts the calling thread (a network handler thread) as part of `node`
/// from now on, running the handler of `method` (`None`: none), so that a
/// crash of `node` kills it and reports say what it runs.
pub(crate) fn serve(node: Arc<str>, method: Option<&'static str>) {
    if let Some(here) = here() {
        here.world.serve(here.tid, node, method);
    }
}

/// The node of an idle network handler thread: no server's, so that the
/// crash of the last server it served does not kill it (the network's pool
/// counts it as ready for the next request).
const IDLE_HANDLER_NODE: &str = "network";

/// Counts the calling handler thread, done with its request, as the
/// network's own again: see [`IDLE_HANDLER_NODE`].
pub(crate) fn idle_handler() {
    serve(Arc::from(IDLE_HANDLER_NODE), None);
}

/// Kills every thread of `node` (but the caller): each unwinds at its next
/// facade call, as the threads of a crashed machine stop. Returns a
/// description of each that the lab code started (not the network's
/// handler threads), for a check that the lab code stopped its own threads
/// before. Outside a simulation it does nothing.
pub fn kill_node(node: &str) -> Vec<String> {
    match here() {
        Some(here) => here.world.kill_node(node, here.tid),
        None => Vec::new(),
    }
}

/// Every other thread of the caller's world that is still alive, described
/// with where it waits.
pub fn other_threads() -> Vec<String> {
    here().map_or_else(Vec::new, |h| h.world.others(h.tid))
}

/// Runs `work`, pure computation, outside simulated time: it takes no
/// virtual time, and however long it runs the stall watchdog waits.
pub fn outside<R>(work: impl FnOnce() -> R) -> R {
    match here() {
        Some(here) => here.world.outside(work),
        None => work(),
    }
}

/// Whether the caller's world has died (a deadlock, its time limit, a
/// failed comparison): nothing in it will run again, so cleanup that waits
/// for other threads must be skipped.
pub fn is_dead() -> bool {
    here().is_some_and(|h| h.world.is_dead())
}
