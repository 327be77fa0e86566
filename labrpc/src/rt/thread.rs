//! Threads: `std::thread`'s API, simulated when the caller is.
//!
//! In a simulated world a spawned thread, scoped or not, is a coroutine
//! that runs only in its turn; `sleep` waits in virtual time and
//! `yield_now` lets the scheduler choose again. Elsewhere each function is
//! `std::thread`'s own.
//!
//! [`current`] and [`Thread`] are the facade's own: in a simulation they
//! name the simulated thread, where `std::thread::current` would name the
//! OS thread that runs every coroutine of the world.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread as std_thread;
use std::time::Duration;

use parking_lot::Mutex;

use super::sim::{self, Backing, Here, Op, ScopeId, ScopedBody, ThreadKind, Tid};

pub use std::thread::Result;

/// A handle to a thread, as [`std::thread::Thread`]: its name and id.
#[derive(Clone, Debug)]
pub struct Thread(Who);

#[derive(Clone, Debug)]
enum Who {
    Real(std_thread::Thread),
    Simulated { name: Arc<str>, id: ThreadId },
}

impl Thread {
    /// The thread's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        match &self.0 {
            Who::Real(thread) => thread.name(),
            Who::Simulated { name, .. } => Some(name),
        }
    }

    /// The thread's id, unique in the process.
    pub fn id(&self) -> ThreadId {
        match &self.0 {
            Who::Real(thread) => ThreadId(IdOf::Real(thread.id())),
            Who::Simulated { id, .. } => *id,
        }
    }

    fn simulated(world: u64, tid: Tid, name: &str) -> Thread {
        Thread(Who::Simulated {
            name: name.into(),
            id: ThreadId(IdOf::Simulated { world, tid }),
        })
    }
}

/// A thread's id, as [`std::thread::ThreadId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThreadId(IdOf);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum IdOf {
    Real(std_thread::ThreadId),
    Simulated { world: u64, tid: Tid },
}

/// The calling thread, as [`std::thread::current`]; in a simulation, the
/// simulated thread.
pub fn current() -> Thread {
    match sim::here() {
        Some(here) => Thread::simulated(here.world.id, here.tid, &here.world.name_of(here.tid)),
        None => Thread(Who::Real(std_thread::current())),
    }
}

/// Whether the calling thread is unwinding, as [`std::thread::panicking`];
/// in a simulation, the simulated thread.
pub fn panicking() -> bool {
    match sim::here() {
        Some(here) => here.world.is_unwinding(here.tid),
        None => std_thread::panicking(),
    }
}

/// Spawns a thread; see [`std::thread::spawn`].
///
/// # Panics
/// When the OS cannot create a thread.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("failed to spawn a thread")
}

/// Puts the calling thread to sleep for `duration` (virtual time in a
/// simulation).
#[track_caller]
pub fn sleep(duration: Duration) {
    match sim::here() {
        Some(here) => {
            let deadline = here.world.now().after(duration);
            here.world
                .wait(here.tid, Location::caller(), Op::Sleep, &[], Some(deadline));
        }
        None => std_thread::sleep(duration),
    }
}

/// Lets another thread run; in a simulation, the scheduler picks again.
#[track_caller]
pub fn yield_now() {
    match sim::here() {
        Some(here) => here.world.step_at(here.tid, Location::caller(), Op::Yield),
        None => std_thread::yield_now(),
    }
}

/// A thread factory, as [`std::thread::Builder`].
#[derive(Debug, Default)]
#[must_use = "a Builder does nothing until `spawn` is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the default stack size.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread (shown in panics, reports and logs).
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Sets the thread's stack size in bytes.
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    fn std_builder(&self) -> std_thread::Builder {
        let mut builder = std_thread::Builder::new();
        if let Some(name) = &self.name {
            builder = builder.name(name.clone());
        }
        if let Some(size) = self.stack_size {
            builder = builder.stack_size(size);
        }
        builder
    }

    /// Spawns the thread.
    ///
    /// # Errors
    /// When the OS cannot create a thread.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_as(f, ThreadKind::Lab)
    }

    /// Spawns a thread that runs RPC handlers for the network (a report
    /// tells such threads apart from the lab code's own).
    #[track_caller]
    pub(crate) fn spawn_handler<F>(self, f: F) -> io::Result<JoinHandle<()>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.spawn_as(f, ThreadKind::Handlers)
    }

    #[track_caller]
    fn spawn_as<F, T>(self, f: F, kind: ThreadKind) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let Some(here) = sim::here() else {
            return Ok(JoinHandle(Flavor::Real(self.std_builder().spawn(f)?)));
        };
        let site = Location::caller();
        let (start, finished) = SimStart::new(&here, &self, kind, Backing::Coroutine, site);
        let packet = Arc::new(Packet::default());
        let slot = Arc::clone(&packet);
        let thread = start.thread();
        let body: sim::Body = Box::new(move || start.run_coroutine(f, &slot));
        here.world.set_body(finished.tid, body, self.stack_size);
        here.world.step_at(here.tid, site, Op::Spawn);
        Ok(JoinHandle(Flavor::Sim(SimHandle {
            thread,
            packet,
            finished,
        })))
    }
}

/// What a simulated thread needs to start: its world and its number.
struct SimStart {
    here: Here,
    completion: u64,
}

/// How a simulated thread's end is observed.
struct Finished {
    tid: Tid,
    completion: u64,
}

impl Finished {
    /// Waits in virtual time, from a thread of the same world, until the
    /// thread has finished (its slot in the world is gone: threads' ids are
    /// never reused). The one way a simulated thread waits for another.
    fn wait(&self, site: &'static Location<'static>, op: Op) {
        let here = sim::here().expect("a simulated thread is joined from its own world");
        while !here.world.is_finished(self.tid) {
            here.world.stop_if_dead(op);
            here.world
                .wait(here.tid, site, op, &[self.completion], None);
        }
    }
}

impl SimStart {
    fn new(
        spawner: &Here,
        builder: &Builder,
        kind: ThreadKind,
        backing: Backing,
        site: &'static Location<'static>,
    ) -> (SimStart, Finished) {
        let world = &spawner.world;
        let node = world.node_of(spawner.tid);
        let name = builder.name.clone().unwrap_or_else(|| "unnamed".to_owned());
        let tid = world.add_thread(name, node, kind, backing, site);
        let completion = sim::new_object_id();
        (
            SimStart {
                here: Here {
                    world: Arc::clone(world),
                    tid,
                },
                completion,
            },
            Finished { tid, completion },
        )
    }

    /// The thread's handle.
    fn thread(&self) -> Thread {
        let world = &self.here.world;
        Thread::simulated(world.id, self.here.tid, &world.name_of(self.here.tid))
    }

    /// The body of a coroutine (the world's driver makes it the current
    /// thread whenever it runs): run `f`, keep its result, finish.
    fn run_coroutine<T>(self, f: impl FnOnce() -> T, packet: &Packet<T>) {
        let result = panic::catch_unwind(AssertUnwindSafe(f));
        packet.keep(result);
        self.here.world.finish(self.here.tid, self.completion);
    }
}

struct Packet<T> {
    result: Mutex<Option<Result<T>>>,
    done: AtomicBool,
}

impl<T> Packet<T> {
    fn keep(&self, result: Result<T>) {
        *self.result.lock() = Some(result);
        self.done.store(true, Ordering::Release);
    }

    /// The simulated side of a join: waits in virtual time until the thread
    /// of `finished` has finished, and takes its result.
    #[track_caller]
    fn join(&self, finished: &Finished) -> Result<T> {
        step(Op::Join);
        finished.wait(Location::caller(), Op::Join);
        self.result
            .lock()
            .take()
            .expect("a finished thread left its result")
    }
}

impl<T> Default for Packet<T> {
    fn default() -> Self {
        Packet {
            result: Mutex::new(None),
            done: AtomicBool::new(false),
        }
    }
}

struct SimHandle<T> {
    thread: Thread,
    packet: Arc<Packet<T>>,
    finished: Finished,
}

enum Flavor<T> {
    Real(std_thread::JoinHandle<T>),
    Sim(SimHandle<T>),
}

/// An owned permission to join a thread; see [`std::thread::JoinHandle`].
pub struct JoinHandle<T>(Flavor<T>);

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish; `Err` carries its panic.
    ///
    /// # Panics
    /// When called in a simulation on a thread of another world.
    #[track_caller]
    pub fn join(self) -> Result<T> {
        match self.0 {
            Flavor::Real(handle) => handle.join(),
            Flavor::Sim(handle) => handle.packet.join(&handle.finished),
        }
    }

    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        match &self.0 {
            Flavor::Real(handle) => handle.is_finished(),
            Flavor::Sim(handle) => handle.packet.done.load(Ordering::Acquire),
        }
    }

    /// The thread's handle.
    pub fn thread(&self) -> Thread {
        match &self.0 {
            Flavor::Real(handle) => Thread(Who::Real(handle.thread().clone())),
            Flavor::Sim(handle) => handle.thread.clone(),
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.thread().name())
            .finish()
    }
}

/// One step of the calling simulated thread, at the caller's caller.
#[track_caller]
fn step(op: Op) {
    let here = sim::here().expect("a simulated thread is joined from its own world");
    here.world.step_at(here.tid, Location::caller(), op);
}

/// Runs `f` with a scope whose threads may borrow from the caller's stack;
/// every thread spawned in it is joined before `scope` returns. See
/// [`std::thread::scope`]; unlike std's, `f` and its result must be
/// [`Send`], since in a simulation `f` runs on a coroutine of its own (the
/// scope's threads borrow from the caller's stack, so the scope drives
/// them from there).
///
/// # Panics
/// When a spawned thread panicked and was not joined, as std's.
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&Scope<'scope, 'env>) -> T + Send,
    T: Send,
{
    let site = Location::caller();
    std_thread::scope(|inner| {
        let here = sim::here();
        let scope = Scope {
            inner,
            sim: here.as_ref().map(|here| SimScope {
                id: here.world.open_scope(here.tid),
                pending: Mutex::new(Vec::new()),
                spawned: Mutex::new(Vec::new()),
            }),
            _env: PhantomData,
        };
        // Nothing may unwind out of the body (in a simulation, a coroutine):
        // a panic of the closure, or the kill of the thread that waits for
        // the scope's threads, is handed to the caller as a result.
        let body = || {
            let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
            let failing = result.is_err();
            match panic::catch_unwind(AssertUnwindSafe(|| scope.settle(failing, site))) {
                Ok(()) => result,
                Err(killed) => Err(killed),
            }
        };
        let result = match (&here, &scope.sim) {
            (Some(here), Some(sim)) => {
                let spawned = || std::mem::take(&mut *sim.spawned.lock());
                here.world.run_scope(here.tid, sim.id, body, &spawned)
            }
            _ => body(),
        };
        result.unwrap_or_else(|payload| panic::resume_unwind(payload))
    })
}

/// A scope to spawn threads in; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    inner: &'scope std_thread::Scope<'scope, 'env>,
    /// In a simulation, the scope's part in the world.
    sim: Option<SimScope<'scope>>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// A simulated scope: its number in the world, which drives its threads.
struct SimScope<'scope> {
    id: ScopeId,
    /// The threads spawned here, to wait for before the scope ends.
    pending: Mutex<Vec<Finished>>,
    /// The bodies of threads spawned and not yet given a coroutine.
    spawned: Mutex<Vec<(Tid, ScopedBody<'scope>)>>,
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a thread that may borrow from outside the scope.
    ///
    /// # Panics
    /// When the OS cannot create a thread.
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let (Some(here), Some(sim)) = (sim::here(), &self.sim) else {
            return ScopedJoinHandle(ScopedFlavor::Real(self.inner.spawn(f)));
        };
        let site = Location::caller();
        let builder =
            Builder::new().name(format!("{}-scoped", current().name().unwrap_or("unnamed")));
        let backing = Backing::Scoped(sim.id);
        let (start, finished) = SimStart::new(&here, &builder, ThreadKind::Lab, backing, site);
        let packet = Arc::new(Packet::default());
        let slot = Arc::clone(&packet);
        let thread = start.thread();
        sim.pending.lock().push(Finished {
            tid: finished.tid,
            completion: finished.completion,
        });
        let body: ScopedBody<'scope> = Box::new(move || start.run_coroutine(f, &slot));
        sim.spawned.lock().push((finished.tid, body));
        here.world.step_at(here.tid, site, Op::Spawn);
        ScopedJoinHandle(ScopedFlavor::Sim {
            thread,
            packet,
            finished,
        })
    }

    /// Waits, in virtual time, for every thread spawned here. When the
    /// scope's closure panicked, they are killed first: the test is failing,
    /// and they may be waiting for a signal that will never come. So are
    /// they when the thread waiting here is killed (a scope nested in a
    /// thread of a failing scope).
    fn settle(&self, failing: bool, site: &'static Location<'static>) {
        let (Some(here), Some(sim)) = (sim::here(), &self.sim) else {
            return;
        };
        let pending = std::mem::take(&mut *sim.pending.lock());
        let kill_all = || {
            let tids: Vec<Tid> = pending.iter().map(|f| f.tid).collect();
            here.world.kill_threads(&tids);
        };
        if failing {
            kill_all();
        }
        let mut killed = None;
        for finished in &pending {
            let waited = panic::catch_unwind(AssertUnwindSafe(|| {
                finished.wait(site, Op::ScopeEnd);
            }));
            if let Err(payload) = waited {
                // This thread was killed while it waited (its own scope's
                // closure failed, or its node crashed): its threads go too,
                // or the scope would wait for them for good.
                kill_all();
                finished.wait(site, Op::ScopeEnd);
                killed.get_or_insert(payload);
            }
        }
        if let Some(payload) = killed {
            panic::resume_unwind(payload);
        }
    }
}

enum ScopedFlavor<'scope, T> {
    Real(std_thread::ScopedJoinHandle<'scope, T>),
    Sim {
        thread: Thread,
        packet: Arc<Packet<T>>,
        finished: Finished,
    },
}

/// A handle to join a scoped thread; see [`std::thread::ScopedJoinHandle`].
pub struct ScopedJoinHandle<'scope, T>(ScopedFlavor<'scope, T>);

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread to finish; `Err` carries its panic.
    #[track_caller]
    pub fn join(self) -> Result<T> {
        match self.0 {
            ScopedFlavor::Real(handle) => handle.join(),
            ScopedFlavor::Sim {
                packet, finished, ..
            } => packet.join(&finished),
        }
    }

    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        match &self.0 {
            ScopedFlavor::Real(handle) => handle.is_finished(),
            ScopedFlavor::Sim { packet, .. } => packet.done.load(Ordering::Acquire),
        }
    }

    /// The thread's handle.
    pub fn thread(&self) -> Thread {
        match &self.0 {
            ScopedFlavor::Real(handle) => Thread(Who::Real(handle.thread().clone())),
            ScopedFlavor::Sim { thread, .. } => thread.clone(),
        }
    }
}
