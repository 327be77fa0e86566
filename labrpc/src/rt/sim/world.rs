//! The world's state machine: its threads, the step every facade call
//! takes, waits and wake-ups, and how a world dies.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread as std_thread;
use std::time::Instant as WallInstant;

use parking_lot::Mutex;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::clock::{QUANTUM_NS, Timers, VirtualTime};
use super::cpu::CoreId;
use super::driver::{Backing, Coroutines, ScopeId, ScopeRec};
use super::policy::Policy;
use super::schedule::ScheduleState;
use super::{Killed, MAIN, Tid};

/// What a facade call does, as a step records it and a report shows it
/// (opaque outside this crate).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Takes a lock (a wait: for it to be free).
    Lock,
    /// Tries a lock.
    TryLock,
    /// Releases a lock.
    Unlock,
    /// Waits on a condition variable.
    CondvarWait,
    /// Sends on a channel (a wait: for room or a receiver).
    Send,
    /// Receives from a channel (a wait: for a message).
    Recv,
    /// Selects among channel operations (a wait: for one to be ready).
    Select,
    /// Sleeps (a wait: for its deadline).
    Sleep,
    /// Lets another thread run.
    Yield,
    /// Starts a thread.
    Spawn,
    /// Joins a thread (a wait: for it to finish).
    Join,
    /// Ends a thread scope (a wait: for its threads to finish).
    ScopeEnd,
    /// The world's main thread waits for the others to finish.
    EndOfWorld,
}

impl Op {
    /// The name reports and statistics print.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Lock => "lock",
            Op::TryLock => "try_lock",
            Op::Unlock => "unlock",
            Op::CondvarWait => "condvar wait",
            Op::Send => "send",
            Op::Recv => "recv",
            Op::Select => "select",
            Op::Sleep => "sleep",
            Op::Yield => "yield_now",
            Op::Spawn => "spawn",
            Op::Join => "join",
            Op::ScopeEnd => "scope end",
            Op::EndOfWorld => "the end of the world",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who a simulated thread runs for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThreadKind {
    /// The lab code made it.
    Lab,
    /// The network runs RPC handlers on it.
    Handlers,
}

/// Why a waiting thread runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// An object it waited on changed.
    Notified,
    /// Its deadline passed.
    Timeout,
}

/// A simulated world: its clock, its threads and its scheduler.
pub(crate) struct World {
    pub(super) state: Mutex<State>,
    pub(crate) seed: u64,
    pub(super) replay: String,
    /// Steps taken; the stall watchdog watches it move.
    pub(super) steps: AtomicU64,
    /// Set while the running thread does work that is outside the
    /// simulation on purpose (a long check): the stall watchdog waits.
    pub(super) outside: AtomicBool,
    pub(super) dead: AtomicBool,
    pub(super) started_wall: WallInstant,
    /// Notified whenever a thread finishes.
    pub(super) any_finished: u64,
    /// Tells this world apart from every other of the process.
    pub(crate) id: u64,
    /// The CPU this world's OS threads run on, where the OS lets us choose.
    pub(super) core: Option<CoreId>,
    /// The coroutines of its threads that are not running.
    pub(super) coroutines: Mutex<Coroutines>,
}

pub(crate) struct State {
    pub(super) now: VirtualTime,
    pub(super) limit: VirtualTime,
    pub(super) running: Tid,
    /// Every thread ever started, by number; `None` once finished.
    pub(super) threads: Vec<Option<ThreadRec>>,
    pub(super) runnable: BTreeSet<Tid>,
    pub(super) live: usize,
    pub(super) timers: Timers,
    /// Threads waiting on each object.
    waiters: HashMap<u64, Vec<Tid>>,
    /// Who holds each simulated lock, and where it took it.
    pub(super) holders: HashMap<u64, (Tid, &'static Location<'static>)>,
    pub(super) rng: Xoshiro256PlusPlus,
    pub(super) policy: Policy,
    /// Priority floor for PCT demotions (goes down).
    pub(super) pct_floor: i64,
    pub(super) step: u64,
    /// Steps that handed the world to another thread.
    pub(super) switches: u64,
    /// Threads ever started, the main one included.
    pub(super) spawned: u64,
    /// With `LAB_SIM_STATS`: steps per call site.
    pub(super) sites: Option<HashMap<(&'static str, u32, Op), u64>>,
    pub(super) check: ScheduleState,
    pub(super) death: Option<String>,
    /// How many threads switched away while unwinding (see
    /// [`State::unwinding`]).
    suspended_unwinding: usize,
    /// Every thread scope ever opened, by number.
    pub(super) scopes: Vec<ScopeRec>,
}

pub(crate) struct ThreadRec {
    pub(super) name: String,
    pub(super) node: Arc<str>,
    pub(super) kind: ThreadKind,
    /// The RPC method whose handler the thread runs now, if any.
    pub(super) serving: Option<&'static str>,
    /// The thread is in its node only for a call ([`super::with_node`]):
    /// the node's crash neither kills it nor counts it as left running.
    pub(super) visiting: bool,
    pub(super) backing: Backing,
    /// The thread scopes it has open, innermost last.
    pub(super) open_scopes: Vec<ScopeId>,
    pub(super) status: Status,
    /// The last facade call's site.
    pub(super) site: &'static Location<'static>,
    /// What the thread was woken by, read when it resumes.
    woken_by: Wake,
    /// Incremented at every wait, so that a stale timer is ignored.
    epoch: u64,
    pub(super) killed: bool,
    pub(super) priority: i64,
    /// The thread's own random generator, seeded from the world's.
    rng: Xoshiro256PlusPlus,
    /// Whether the thread was unwinding (a panic, or its kill) when last
    /// seen: see [`State::unwinding`].
    unwinding: bool,
    /// It switched away while unwinding and has not run since.
    suspended_unwinding: bool,
}

/// Whether a thread can run.
pub(crate) enum Status {
    Runnable,
    Blocked(Blocked),
}

/// What a blocked thread waits for.
pub(crate) struct Blocked {
    pub(super) op: Op,
    pub(super) since: VirtualTime,
    pub(super) deadline: Option<VirtualTime>,
    pub(super) objects: Vec<u64>,
}

impl ThreadRec {
    pub(super) fn new(
        name: String,
        node: Arc<str>,
        kind: ThreadKind,
        backing: Backing,
        site: &'static Location<'static>,
        priority: i64,
        rng_seed: u64,
    ) -> ThreadRec {
        ThreadRec {
            name,
            node,
            kind,
            serving: None,
            visiting: false,
            backing,
            open_scopes: Vec::new(),
            status: Status::Runnable,
            site,
            woken_by: Wake::Notified,
            epoch: 0,
            killed: false,
            priority,
            rng: Xoshiro256PlusPlus::seed_from_u64(rng_seed),
            unwinding: false,
            suspended_unwinding: false,
        }
    }
}

impl State {
    pub(super) fn new(seed: u64, limit: VirtualTime, policy: Policy) -> State {
        State {
            now: VirtualTime::START,
            limit,
            running: MAIN,
            threads: Vec::new(),
            runnable: BTreeSet::new(),
            live: 0,
            timers: Timers::default(),
            waiters: HashMap::new(),
            holders: HashMap::new(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            policy,
            pct_floor: 0,
            step: 0,
            switches: 0,
            spawned: 0,
            sites: None,
            check: ScheduleState::Off,
            death: None,
            suspended_unwinding: 0,
            scopes: Vec::new(),
        }
    }
}

impl World {
    /// The current virtual time.
    pub(crate) fn now(&self) -> VirtualTime {
        self.state.lock().now
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// The node of thread `tid`.
    pub(crate) fn node_of(&self, tid: Tid) -> Arc<str> {
        Arc::clone(&self.state.lock().thread(tid).node)
    }

    /// The name of thread `tid`.
    pub(crate) fn name_of(&self, tid: Tid) -> String {
        self.state.lock().thread(tid).name.clone()
    }

    /// Runs `f` with thread `tid`'s own random generator.
    pub(crate) fn with_thread_rng<R>(
        &self,
        tid: Tid,
        f: impl FnOnce(&mut Xoshiro256PlusPlus) -> R,
    ) -> R {
        f(&mut self.state.lock().thread_mut(tid).rng)
    }

    /// One step of thread `tid`, which stays runnable.
    pub(crate) fn step_at(&self, tid: Tid, site: &'static Location<'static>, op: Op) {
        self.switch(tid, site, op, None, None);
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
    pub(crate) fn stop_if_dead(&self, op: Op) {
        if !self.is_dead() {
            return;
        }
        let report = self.death_report();
        crate::record::stop_process(
            "simulation",
            &format!(
                "\n{report}\n(the failing test waits for its threads to finish ({op}), which \
                 this failure stopped for good)\nstopping the test process."
            ),
        );
    }

    /// Why the world died, with its replay command.
    pub(super) fn death_report(&self) -> String {
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
    /// `deadline` if given.
    pub(crate) fn wait(
        &self,
        tid: Tid,
        site: &'static Location<'static>,
        op: Op,
        objects: &[u64],
        deadline: Option<VirtualTime>,
    ) -> Wake {
        self.switch(tid, site, op, Some(objects), deadline)
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
        self.state.lock().notify(object, usize::MAX);
    }

    /// Wakes every thread waiting on `object`; returns how many.
    pub(crate) fn notify_all(&self, object: u64) -> usize {
        self.state.lock().notify(object, usize::MAX)
    }

    /// Wakes one thread waiting on `object`, if any.
    pub(crate) fn notify_one(&self, object: u64) -> bool {
        self.state.lock().notify(object, 1) > 0
    }

    /// Whether `tid` is waiting (on anything).
    pub(crate) fn is_waiting(&self, tid: Tid) -> bool {
        matches!(self.state.lock().thread(tid).status, Status::Blocked(_))
    }

    /// Makes a waiting thread runnable, as if an object it waits on changed.
    pub(crate) fn wake(&self, tid: Tid) {
        self.state.lock().make_runnable(tid, Wake::Notified);
    }

    /// Whether thread `tid` unwinds now (a panic, or its kill): the
    /// simulated `std::thread::panicking`.
    pub(crate) fn is_unwinding(&self, tid: Tid) -> bool {
        self.state.lock().unwinding(tid)
    }

    /// The core of every step: record what `tid` does, advance the clock,
    /// pick who runs next, and hand the world over if it is someone else.
    fn switch(
        &self,
        tid: Tid,
        site: &'static Location<'static>,
        op: Op,
        wait_on: Option<&[u64]>,
        deadline: Option<VirtualTime>,
    ) -> Wake {
        self.steps.fetch_add(1, Ordering::Relaxed);
        let handoff = {
            let mut state = self.state.lock();
            if state.death.is_some() {
                drop(state);
                return self.after_death(tid);
            }
            assert_eq!(
                state.running, tid,
                "simulation invariant broken: thread #{tid} took a step at {site} while #{} runs",
                state.running
            );
            if let Some(report) = state.check_step(tid, site) {
                drop(state);
                self.die(report);
                return self.after_death(tid);
            }
            if let Some(sites) = state.sites.as_mut() {
                *sites.entry((site.file(), site.line(), op)).or_insert(0) += 1;
            }
            let quantum = state.rng.random_range(QUANTUM_NS);
            state.now = state.now.plus_quantum(quantum);
            state.step += 1;
            state.begin_step(tid, site, op, wait_on, deadline);
            state.maybe_demote(tid);
            // A thread that unwinds keeps running until it is done or must
            // wait: another thread run meanwhile would see the unwinding in
            // `std::thread::panicking`, which counts per OS thread.
            let unwinding = state.unwinding(tid);
            let next = if wait_on.is_none() && unwinding {
                Ok(tid)
            } else {
                state.pick(Some(tid))
            };
            match next {
                Ok(next) if next == tid => None,
                Ok(next) => {
                    state.running = next;
                    state.switches += 1;
                    if unwinding {
                        state.thread_mut(tid).suspended_unwinding = true;
                        state.suspended_unwinding += 1;
                    }
                    Some(state.handoff(tid))
                }
                Err(report) => {
                    drop(state);
                    self.die(report);
                    return self.after_death(tid);
                }
            }
        };
        if let Some(handoff) = handoff {
            self.hand_off(handoff);
        }
        self.resumed(tid)
    }

    /// What a thread finds when it runs again.
    fn resumed(&self, tid: Tid) -> Wake {
        if self.is_dead() {
            return self.after_death(tid);
        }
        let (raise, woken_by) = {
            let mut state = self.state.lock();
            if std::mem::take(&mut state.thread_mut(tid).suspended_unwinding) {
                state.suspended_unwinding -= 1;
            }
            let raise = state.thread(tid).killed && !state.unwinding(tid);
            if raise {
                state.thread_mut(tid).unwinding = true;
            }
            (raise, state.thread(tid).woken_by)
        };
        if raise {
            panic::resume_unwind(Box::new(Killed));
        }
        woken_by
    }

    /// A thread of a dead world: the main thread fails with the report;
    /// any other thread stops here for good.
    fn after_death(&self, tid: Tid) -> Wake {
        if tid == MAIN {
            if std_thread::panicking() {
                // Unwinding already: let it finish without scheduling.
                return Wake::Timeout;
            }
            let report = self.death_report();
            panic!("{report}");
        }
        self.stop_for_good()
    }

    /// Ends the world with `report`, and wakes its main thread to fail.
    pub(super) fn die(&self, report: String) {
        {
            let mut state = self.state.lock();
            if state.death.is_some() {
                return;
            }
            let report = format!("{report}\n  replay: {}", self.replay);
            state.death = Some(report);
            state.running = MAIN;
        }
        self.dead.store(true, Ordering::Release);
    }

    /// Registers a new thread, spawned at `site`, runnable, and returns
    /// its number.
    pub(crate) fn add_thread(
        &self,
        name: String,
        node: Arc<str>,
        kind: ThreadKind,
        backing: Backing,
        site: &'static Location<'static>,
    ) -> Tid {
        let mut state = self.state.lock();
        let tid = state.threads.len();
        let priority = state.new_priority();
        let rng_seed = state.rng.random();
        state.threads.push(Some(ThreadRec::new(
            name, node, kind, backing, site, priority, rng_seed,
        )));
        state.runnable.insert(tid);
        state.live += 1;
        state.spawned += 1;
        tid
    }

    /// Thread `tid` has finished: wake those waiting on `completion`, and
    /// hand the world on for good (the thread's coroutine then returns to
    /// its driver, which resumes whoever is next).
    pub(crate) fn finish(&self, tid: Tid, completion: u64) {
        let mut state = self.state.lock();
        if state.death.is_some() {
            return;
        }
        state.notify(completion, usize::MAX);
        state.notify(self.any_finished, usize::MAX);
        state.runnable.remove(&tid);
        let rec = state.threads[tid].take().expect("a thread finishes once");
        if rec.suspended_unwinding {
            state.suspended_unwinding -= 1;
        }
        state.live -= 1;
        match state.pick(None) {
            Ok(next) => state.running = next,
            Err(report) => {
                drop(state);
                self.die(report);
            }
        }
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
}

impl State {
    pub(super) fn thread(&self, tid: Tid) -> &ThreadRec {
        self.threads[tid]
            .as_ref()
            .expect("a scheduled thread is alive")
    }

    pub(super) fn thread_mut(&mut self, tid: Tid) -> &mut ThreadRec {
        self.threads[tid]
            .as_mut()
            .expect("a scheduled thread is alive")
    }

    /// Records the step thread `tid` takes at `site`, and when it waits,
    /// what for.
    fn begin_step(
        &mut self,
        tid: Tid,
        site: &'static Location<'static>,
        op: Op,
        wait_on: Option<&[u64]>,
        deadline: Option<VirtualTime>,
    ) {
        let now = self.now;
        let rec = self.thread_mut(tid);
        rec.site = site;
        rec.woken_by = Wake::Notified;
        rec.epoch += 1;
        let epoch = rec.epoch;
        let Some(objects) = wait_on else {
            return;
        };
        rec.status = Status::Blocked(Blocked {
            op,
            since: now,
            deadline,
            objects: objects.to_vec(),
        });
        self.runnable.remove(&tid);
        for &object in objects {
            self.waiters.entry(object).or_default().push(tid);
        }
        if let Some(deadline) = deadline {
            self.timers.set(deadline, tid, epoch);
        }
    }

    /// Whether thread `tid`, now running, is unwinding. The standard
    /// library counts panics per OS thread, and a world's coroutines share
    /// one: while another thread is suspended in the middle of unwinding
    /// (it had to wait), `std::thread::panicking` says yes for every
    /// coroutine, so the thread's own state is the one last seen. A
    /// thread that unwinds never switches away but to wait, so that is
    /// rare: a destructor that waits for another thread during a crash.
    pub(super) fn unwinding(&mut self, tid: Tid) -> bool {
        let panicking = std_thread::panicking();
        let others = self.suspended_unwinding - usize::from(self.thread(tid).suspended_unwinding);
        let rec = self.thread_mut(tid);
        if !panicking || others == 0 {
            rec.unwinding = panicking;
        }
        rec.unwinding
    }

    /// Wakes up to `max` threads waiting on `object`; returns how many.
    pub(super) fn notify(&mut self, object: u64, max: usize) -> usize {
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
    pub(super) fn make_runnable(&mut self, tid: Tid, why: Wake) -> bool {
        let Some(rec) = self.threads.get_mut(tid).and_then(Option::as_mut) else {
            return false;
        };
        let Status::Blocked(blocked) = std::mem::replace(&mut rec.status, Status::Runnable) else {
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
        while let Some(timer) = self.timers.pop_due(self.now) {
            let current = self
                .threads
                .get(timer.tid)
                .and_then(Option::as_ref)
                .is_some_and(|r| r.epoch == timer.epoch && matches!(r.status, Status::Blocked(_)));
            if current {
                self.make_runnable(timer.tid, Wake::Timeout);
            }
        }
    }

    /// Picks the next thread to run, moving the clock to the next timer
    /// when nobody can run; a report when the world cannot go on.
    /// `current` is the thread that just took a step, if it still exists.
    pub(super) fn pick(&mut self, current: Option<Tid>) -> Result<Tid, String> {
        self.fire_timers();
        while self.runnable.is_empty() {
            let Some(deadline) = self.timers.next_deadline() else {
                return Err(self.deadlock_report());
            };
            self.now = self.now.max(deadline);
            self.fire_timers();
        }
        if self.now > self.limit {
            return Err(self.limit_report());
        }
        Ok(self.choose(current))
    }
}
