//! The simulated world: lab threads that take turns under a seeded
//! scheduler, in virtual time.
//!
//! Only one thread of a world runs at a time. Each facade call is a
//! *step*: the running thread records what it is doing (still runnable, or
//! blocked on which objects until when), the clock advances by a small
//! seeded quantum, due timers fire, and the policy picks the next thread to
//! run. The threads a world spawns are coroutines on the OS thread of its
//! main thread, so passing the world from one to another costs a few tens
//! of nanoseconds and a finished thread's stack serves the next
//! (`driver.rs`).
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
//! through the facade. [`ScheduleCheck`] records the schedule (who ran, from
//! which call site) so that a second run can be compared step by step.
//!
//! One concern per file of `src/rt/sim/`: `world.rs` (threads, steps,
//! waits, death), `driver.rs` (passing the world from coroutine to
//! coroutine: the pool's and the thread scopes'), `clock.rs` (virtual time and timers), `policy.rs` (who runs
//! next), `schedule.rs` (recording and comparing schedules), `report.rs`
//! (what a dead or stalled world says), `nodes.rs` (threads' nodes and
//! crashes), `watchdog.rs` (the wall-clock watchdog), `cpu.rs` (pinning a
//! world's OS threads to a CPU).
//!
//! What a coroutine cannot tell apart from its world's other threads: the
//! OS thread. `std::thread::current()` and `thread_local!` are the main
//! thread's in every simulated thread; the facade's [`crate::rt::thread::current`]
//! names the simulated thread, and lab code keeps no state in thread
//! locals (the grader's static gate refuses `thread_local!` in student
//! code). A thread that recurses deeply gets a 2 MiB stack, as
//! `std::thread::spawn` gives, or what it asks for with
//! `Builder::stack_size`; running off its end fails the test with a report
//! naming the thread.

mod clock;
mod cpu;
mod driver;
mod nodes;
mod policy;
mod report;
mod schedule;
mod watchdog;
mod world;

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread as std_thread;
use std::time::{Duration, Instant as WallInstant};

use parking_lot::Mutex;
use rand::RngExt;

pub(crate) use clock::VirtualTime;
pub(crate) use driver::{Backing, Body, ScopeId, ScopedBody};
pub(crate) use nodes::{idle_handler, serve};
pub use nodes::{kill_node, other_threads, with_node};
pub use policy::Policy;
pub use schedule::{Schedule, ScheduleCheck};
#[doc(hidden)]
pub use world::Op;
pub(crate) use world::{ThreadKind, Wake, World};

use clock::Virtual;
use world::{State, ThreadRec};

/// A thread's number within its world, in order of creation.
pub(crate) type Tid = usize;

/// The number of a world's main thread.
pub(crate) const MAIN: Tid = 0;

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

/// Makes the calling OS thread thread `here.tid` of `here.world`.
fn enter(here: Here) {
    CURRENT.with(|c| *c.borrow_mut() = Some(here));
}

/// Detaches the calling OS thread from its world.
fn leave() {
    CURRENT.with(|c| c.borrow_mut().take());
}

/// On the main OS thread of a world, which runs its coroutines: makes the
/// calling code thread `tid`; returns the thread it was.
fn set_current_tid(tid: Tid) -> Tid {
    CURRENT.with(|c| {
        let mut current = c.borrow_mut();
        let here = current.as_mut().expect("the driver is in its world");
        std::mem::replace(&mut here.tid, tid)
    })
}

/// A unique id for a synchronisation object (a mutex, a channel, a thread's
/// completion), used to wait on it and to wake its waiters.
pub(crate) fn new_object_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The payload a killed thread unwinds with. Not a panic: the panic hook
/// never sees it (it is raised with `resume_unwind`), and the thread's
/// wrapper swallows it.
pub(crate) struct Killed;

/// Whether `payload` is a killed thread's unwinding rather than a panic.
pub fn is_killed_payload(payload: &(dyn Any + Send)) -> bool {
    payload.is::<Killed>()
}

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
    let world = new_world(settings, Location::caller());
    cpu::pin(world.core);
    LIVE_WORLDS.fetch_add(1, Ordering::SeqCst);
    enter(Here {
        world: Arc::clone(&world),
        tid: MAIN,
    });
    watchdog::watch(&world);

    let result = panic::catch_unwind(AssertUnwindSafe(main));

    if !world.is_dead() && world.live() > 1 {
        // Whatever is left unwinds; wait for it.
        world.kill_all(MAIN);
        let site = Location::caller();
        while !world.is_dead() && world.live() > 1 {
            world.wait(MAIN, site, Op::EndOfWorld, &[world.any_finished], None);
        }
    }
    watchdog::unwatch(&world);
    world.coroutines.lock().dispose(world.is_dead());
    leave();
    if let Some(core) = world.core {
        cpu::release(core);
    }
    if std::env::var_os(crate::lab::SIM_STATS_VAR).is_some() {
        print_stats(&world);
    }
    LIVE_WORLDS.fetch_sub(1, Ordering::SeqCst);
    let schedule =
        match std::mem::replace(&mut world.state.lock().check, schedule::ScheduleState::Off) {
            schedule::ScheduleState::Record(schedule) => Some(schedule),
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

/// A world whose main thread is the calling OS thread, called from `site`.
fn new_world(settings: Settings, site: &'static Location<'static>) -> Arc<World> {
    let limit = VirtualTime::START.after(settings.limit);
    let mut state = State::new(settings.seed, limit, settings.policy);
    let rng_seed = state.rng.random();
    state.threads.push(Some(ThreadRec::new(
        std_thread::current().name().unwrap_or("main").to_owned(),
        settings.node.as_str().into(),
        ThreadKind::Lab,
        Backing::Main,
        site,
        0,
        rng_seed,
    )));
    state.runnable.insert(MAIN);
    state.live = 1;
    state.spawned = 1;
    state.sites = std::env::var_os(crate::lab::SIM_STATS_VAR).map(|_| HashMap::new());
    state.check = settings.schedule.into();
    Arc::new(World {
        state: Mutex::new(state),
        seed: settings.seed,
        replay: settings.replay,
        steps: AtomicU64::new(0),
        outside: AtomicBool::new(false),
        dead: AtomicBool::new(false),
        started_wall: WallInstant::now(),
        any_finished: new_object_id(),
        id: new_object_id(),
        core: cpu::choose(),
        coroutines: Mutex::new(driver::Coroutines::default()),
    })
}

/// With `LAB_SIM_STATS`: what the world cost, and its busiest call sites.
fn print_stats(world: &World) {
    let state = world.state.lock();
    let wall = world.started_wall.elapsed();
    eprintln!(
        "simulation: {} of virtual time in {:.3} s of wall time; {} steps, {} switches \
         ({:.2} µs per step), {} threads",
        Virtual(state.now.since_start()),
        wall.as_secs_f64(),
        state.step,
        state.switches,
        wall.as_secs_f64() * 1e6 / state.step.max(1) as f64,
        state.spawned
    );
    if let Some(sites) = &state.sites {
        let mut sites: Vec<_> = sites.iter().collect();
        sites.sort_by_key(|&(_, n)| std::cmp::Reverse(*n));
        for ((file, line, op), n) in sites.iter().take(25) {
            eprintln!("  {n:>9} {:<12} {file}:{line}", op.name());
        }
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
