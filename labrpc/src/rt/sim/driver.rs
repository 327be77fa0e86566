//! How the world passes from one thread to the next.
//!
//! Every thread but the main one is a *coroutine*: it runs on a stack of
//! its own, on the OS thread of the world's main thread, and suspends
//! itself at its next switch to whoever *drives* it, which resumes the
//! coroutine whose turn it is. A switch between coroutines costs two stack
//! switches (out to the driver and in again), tens of nanoseconds.
//!
//! Drivers form a tree. At its root, the main thread drives the threads
//! spawned with [`spawn`](crate::rt::thread::spawn), whose coroutines it
//! keeps in a pool (a finished thread's stack serves the next). A thread
//! scope ([`scope`](crate::rt::thread::scope)) drives the threads spawned
//! in it, which borrow from its owner's stack and so cannot outlive it:
//! their coroutines live in the scope's frame on that stack, and so does
//! the owner's own code while the scope is open (the scope's *body*,
//! a coroutine too). A driver resumes what leads to the thread whose turn
//! it is — a coroutine of its own, or one inside which a scope drives
//! further — and passes the turn up to its own driver when that thread is
//! not below it.

use std::collections::HashMap;
use std::mem;
use std::panic::{self, AssertUnwindSafe};

use generator::{Generator, Gn};

use super::world::{State, World};
use super::{MAIN, Tid};

/// A thread scope's number in its world (scopes are never renumbered).
pub(crate) type ScopeId = usize;

/// What a thread runs on.
pub(crate) enum Backing {
    /// The main thread: the world's OS thread, at the root of the drivers.
    Main,
    /// A coroutine of the root's pool.
    Coroutine,
    /// A coroutine kept by the scope it was spawned in.
    Scoped(ScopeId),
}

/// An open thread scope: whose it is, and how deep among its owner's open
/// scopes (0: the outermost).
pub(crate) struct ScopeRec {
    owner: Tid,
    depth: usize,
}

/// Whose turn it is to resume a coroutine.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// The main thread, with its pool.
    Root,
    Scope(ScopeId),
}

/// A stack that code of a thread runs on.
#[derive(Clone, Copy)]
enum Place {
    /// The thread's own: the main OS thread's, or its coroutine's.
    Base(Tid),
    /// An open scope's body: its owner's code while the scope is open.
    Body(ScopeId),
}

/// What a driver does to let a thread run.
enum Route {
    /// Resume the scope's body.
    Body,
    /// Resume this coroutine of the driver's own.
    Child(Tid),
    /// The thread is not below the driver: pass the turn up.
    Up,
}

/// What a thread that just gave the world away does until it comes back.
pub(crate) enum Handoff {
    /// A coroutine (or a scope's body) suspends, back to its driver.
    Suspend,
    /// The main thread, on its own stack, drives the others until its turn
    /// comes again.
    Drive,
}

impl State {
    /// How the world passes from thread `from` (which stays alive) to
    /// another.
    pub(super) fn handoff(&self, from: Tid) -> Handoff {
        let rec = self.thread(from);
        match rec.backing {
            Backing::Main if rec.open_scopes.is_empty() => Handoff::Drive,
            _ => Handoff::Suspend,
        }
    }

    /// Opens a scope of thread `owner` (its code runs in the scope's body
    /// until [`State::close_scope`]).
    pub(super) fn open_scope(&mut self, owner: Tid) -> ScopeId {
        let id = self.scopes.len();
        let depth = self.thread(owner).open_scopes.len();
        self.scopes.push(ScopeRec { owner, depth });
        self.thread_mut(owner).open_scopes.push(id);
        id
    }

    pub(super) fn close_scope(&mut self, owner: Tid, scope: ScopeId) {
        let closed = self.thread_mut(owner).open_scopes.pop();
        debug_assert_eq!(closed, Some(scope), "scopes close innermost first");
    }

    /// Where thread `tid`'s code runs now.
    fn place_of(&self, tid: Tid) -> Place {
        match self.thread(tid).open_scopes.last() {
            Some(&scope) => Place::Body(scope),
            None => Place::Base(tid),
        }
    }

    /// Where scope `scope`'s driver runs: on its owner's stack just
    /// outside it.
    fn place_of_scope(&self, scope: ScopeId) -> Place {
        let ScopeRec { owner, depth } = self.scopes[scope];
        match depth {
            0 => Place::Base(owner),
            _ => Place::Body(self.thread(owner).open_scopes[depth - 1]),
        }
    }

    /// What `driver` resumes so that thread `target` runs.
    fn route(&self, driver: Driver, target: Tid) -> Route {
        let mut place = self.place_of(target);
        loop {
            let (resumer, found) = match place {
                Place::Body(scope) => (Driver::Scope(scope), Route::Body),
                Place::Base(tid) => match self.thread(tid).backing {
                    // The root's own stack: nothing resumes it.
                    Backing::Main => return Route::Up,
                    Backing::Coroutine => (Driver::Root, Route::Child(tid)),
                    Backing::Scoped(scope) => (Driver::Scope(scope), Route::Child(tid)),
                },
            };
            if resumer == driver {
                return found;
            }
            match resumer {
                Driver::Root => return Route::Up,
                Driver::Scope(scope) => place = self.place_of_scope(scope),
            }
        }
    }

    /// Whether scope `scope`'s driver runs on the main OS thread's own
    /// stack (the outermost scope of the main thread): passing the turn up
    /// then means driving the root's pool itself.
    fn is_at_root(&self, scope: ScopeId) -> bool {
        let ScopeRec { owner, depth } = self.scopes[scope];
        owner == MAIN && depth == 0
    }
}

impl World {
    /// Gives the world away as `handoff` says, and returns when it is the
    /// calling thread's turn again.
    pub(super) fn hand_off(&self, handoff: Handoff) {
        match handoff {
            Handoff::Suspend => suspend(),
            Handoff::Drive => self.drive(),
        }
    }

    /// Opens a thread scope of thread `owner`; [`World::run_scope`] runs it.
    pub(crate) fn open_scope(&self, owner: Tid) -> ScopeId {
        self.state.lock().open_scope(owner)
    }

    /// Thread `tid`, a coroutine of the root's pool, will run `body` (on a
    /// stack of `stack_bytes` if it asks for one) when its turn first
    /// comes.
    pub(crate) fn set_body(&self, tid: Tid, body: Body, stack_bytes: Option<usize>) {
        self.coroutines.lock().add(tid, body, stack_bytes);
    }

    /// On the main thread, on its own stack: runs the other threads, each
    /// in its turn, until the main thread's or the world's death.
    fn drive(&self) {
        while !self.is_dead() {
            if !self.drive_root_once() {
                return;
            }
        }
    }

    /// At the root: resumes the pool's coroutine that leads to the thread
    /// whose turn it is; false when that is the main thread's own code.
    fn drive_root_once(&self) -> bool {
        let route = {
            let state = self.state.lock();
            state.route(Driver::Root, state.running)
        };
        match route {
            Route::Child(tid) => {
                self.resume(tid);
                true
            }
            Route::Body | Route::Up => false,
        }
    }

    /// At the root: runs coroutine `tid` of the pool until it suspends or
    /// finishes.
    fn resume(&self, tid: Tid) {
        let mut worker = self.coroutines.lock().take(tid);
        if !resume_as(tid, || worker.resume()) {
            let stack_bytes = worker.stack_bytes;
            mem::forget(worker);
            self.overflowed(tid, stack_bytes);
            return;
        }
        if self.is_dead() {
            // Frozen where it stands, for good.
            mem::forget(worker);
            return;
        }
        if self.is_finished(tid) {
            if let Some(worker) = self.coroutines.lock().finished(worker) {
                worker.retire();
            }
        } else {
            self.coroutines.lock().suspended.insert(tid, worker);
        }
    }

    /// Thread `tid`'s coroutine ran off its stack of `stack_bytes`: the
    /// world dies with the report.
    fn overflowed(&self, tid: Tid, stack_bytes: usize) {
        let report = self.state.lock().overflow_report(tid, stack_bytes);
        self.die(report);
    }

    /// Runs a thread scope of thread `owner`: `body` (the owner's code in
    /// the scope, which ends by waiting for the scope's threads) on a
    /// coroutine of its own, and the threads spawned in the scope (each
    /// spawned thread's body, taken from `spawned` as they come) on theirs,
    /// each in its turn, passing the turn up for the rest of the world.
    /// Returns when `body` has returned.
    pub(crate) fn run_scope<'s, R: Send + 's>(
        &self,
        owner: Tid,
        scope: ScopeId,
        body: impl FnOnce() -> R + Send + 's,
        spawned: &dyn Fn() -> Vec<(Tid, ScopedBody<'s>)>,
    ) -> R {
        let mut result = None;
        {
            let result = &mut result;
            let mut own = Gn::<()>::new_opt(STACK_WORDS, move || {
                *result = Some(body());
            });
            let mut threads: Vec<(Tid, Generator<'s, (), ()>)> = Vec::new();
            while !own.is_done() {
                for (tid, run) in spawned() {
                    threads.push((tid, Gn::<()>::new_opt(STACK_WORDS, run)));
                }
                let route = {
                    let state = self.state.lock();
                    // A dead world's main thread must run to fail; nothing
                    // else runs again.
                    let target = if self.is_dead() { MAIN } else { state.running };
                    state.route(Driver::Scope(scope), target)
                };
                match route {
                    Route::Body => {
                        if !resume_as(owner, || own.resume()) {
                            mem::forget(own);
                            self.overflowed(owner, STACK_BYTES);
                            self.body_lost(owner);
                        }
                    }
                    Route::Child(tid) => {
                        let i = threads
                            .iter()
                            .position(|&(t, _)| t == tid)
                            .expect("a scope resumes only its own threads");
                        if !resume_as(tid, || threads[i].1.resume()) {
                            let (_, thread) = threads.swap_remove(i);
                            mem::forget(thread);
                            self.overflowed(tid, STACK_BYTES);
                        } else if threads[i].1.is_done() {
                            threads.swap_remove(i);
                        }
                    }
                    Route::Up if self.state.lock().is_at_root(scope) => {
                        self.drive_root_once();
                    }
                    Route::Up => suspend(),
                }
            }
            // Every thread of the scope has finished (the body waited for
            // them); any left would be frozen in a dead world, for good.
            mem::forget(threads);
        }
        self.state.lock().close_scope(owner, scope);
        result.expect("a scope's body that is done has returned")
    }

    /// A scope's body ran off its stack: the owner's code is gone. The
    /// main thread's cannot fail its test, so the process ends with the
    /// report; another thread stops for good, as every thread of a dead
    /// world does.
    fn body_lost(&self, owner: Tid) -> ! {
        if owner == MAIN {
            crate::record::stop_process("simulation", &format!("\n{}", self.death_report()));
        }
        self.stop_for_good()
    }

    /// A thread of a dead world stops where it stands, for good.
    pub(super) fn stop_for_good(&self) -> ! {
        loop {
            suspend();
        }
    }
}

/// Resumes a coroutine as thread `tid`: `resume` runs it until it
/// suspends or finishes. `false` if it ran off its stack, the only panic
/// that leaves a coroutine (its thread's own panics end in the thread's
/// body).
fn resume_as<T>(tid: Tid, resume: impl FnOnce() -> T) -> bool {
    let driver = super::set_current_tid(tid);
    let outcome = panic::catch_unwind(AssertUnwindSafe(resume));
    super::set_current_tid(driver);
    outcome.is_ok()
}

/// Suspends the running coroutine (or scope body): back to its driver,
/// which resumes it in its next turn.
#[allow(deprecated)] // the free function is the one a deep facade call can reach
fn suspend() {
    generator::yield_with(());
}

/// A thread's body, run by a coroutine of the root's pool.
pub(crate) type Body = Box<dyn FnOnce() + Send>;

/// A scoped thread's body, run by a coroutine of its scope.
pub(crate) type ScopedBody<'s> = Box<dyn FnOnce() + Send + 's>;

/// The stack a coroutine gets unless its thread asks for more, as
/// `std::thread::spawn` gives a thread.
const STACK_BYTES: usize = 2 << 20;

/// [`STACK_BYTES`] in words, and even: the crate fills an odd-sized stack
/// to measure it.
const STACK_WORDS: usize = stack_words(STACK_BYTES);

const fn stack_words(bytes: usize) -> usize {
    bytes.div_ceil(2 * size_of::<usize>()) * 2
}

/// A coroutine that runs threads' bodies one after another.
pub(super) struct Worker {
    coroutine: Generator<'static, Body, ()>,
    /// The body to start at the next resume.
    load: Option<Body>,
    stack_bytes: usize,
    /// Whether it has the default stack, and so goes back to the pool.
    pooled: bool,
}

impl Worker {
    #[allow(deprecated)] // see `suspend`
    fn new(stack_bytes: usize, pooled: bool) -> Worker {
        let words = stack_words(stack_bytes);
        let coroutine = Gn::<Body>::new_opt(words, || {
            let mut body = generator::get_yield::<Body>();
            while let Some(run) = body.take() {
                run();
                // Finished: the next resume brings the next body, or
                // nothing to retire.
                body = generator::yield_::<Body, ()>(());
            }
        });
        Worker {
            coroutine,
            load: None,
            stack_bytes: words * size_of::<usize>(),
            pooled,
        }
    }

    fn resume(&mut self) {
        self.coroutine.raw_send(self.load.take());
    }

    /// Ends the coroutine between bodies, so that dropping it unwinds
    /// nothing.
    fn retire(mut self) {
        self.coroutine.raw_send(None);
        debug_assert!(self.coroutine.is_done());
    }
}

/// The coroutines of a world's threads that are not running.
#[derive(Default)]
pub(crate) struct Coroutines {
    /// Threads spawned and not started yet: their bodies, and the stack
    /// they asked for.
    bodies: HashMap<Tid, (Body, Option<usize>)>,
    /// Started threads waiting for their turn.
    suspended: HashMap<Tid, Worker>,
    /// Coroutines between bodies, with the default stack.
    idle: Vec<Worker>,
}

impl Coroutines {
    /// Thread `tid` will run `body`, on a stack of `stack_bytes` if it asks
    /// for one.
    fn add(&mut self, tid: Tid, body: Body, stack_bytes: Option<usize>) {
        self.bodies.insert(tid, (body, stack_bytes));
    }

    /// The coroutine to resume for thread `tid`.
    fn take(&mut self, tid: Tid) -> Worker {
        if let Some(worker) = self.suspended.remove(&tid) {
            return worker;
        }
        let (body, stack) = self
            .bodies
            .remove(&tid)
            .expect("a coroutine thread has started or has a body");
        let mut worker = match stack {
            Some(bytes) if bytes > STACK_BYTES => Worker::new(bytes, false),
            _ => self
                .idle
                .pop()
                .unwrap_or_else(|| Worker::new(STACK_BYTES, true)),
        };
        worker.load = Some(body);
        worker
    }

    /// Keeps a worker whose thread has finished for the next thread, or
    /// returns it to retire when its stack is not the default.
    fn finished(&mut self, worker: Worker) -> Option<Worker> {
        if worker.pooled {
            self.idle.push(worker);
            None
        } else {
            Some(worker)
        }
    }

    /// At the world's end: ends every coroutine between bodies; those of a
    /// dead world (frozen in the middle of their bodies) are left alone
    /// for good, since unwinding them would run their threads' code.
    pub(crate) fn dispose(&mut self, dead: bool) {
        let idle = mem::take(&mut self.idle);
        let suspended = mem::take(&mut self.suspended);
        let bodies = mem::take(&mut self.bodies);
        if dead || !suspended.is_empty() || !bodies.is_empty() {
            mem::forget((suspended, idle, bodies));
        } else {
            for worker in idle {
                worker.retire();
            }
        }
    }
}
