//! How the world passes from one thread to the next.
//!
//! A thread spawned through the facade is a *coroutine*: it runs on a stack
//! of its own, on the OS thread of the world's main thread, which *drives*
//! them: whenever the world is not the main thread's turn, the main thread
//! resumes the coroutine whose turn it is, and that coroutine suspends
//! itself at its next switch. A switch between coroutines costs two stack
//! switches (into the driver and out again), tens of nanoseconds, and a
//! finished coroutine's stack is kept for the next thread.
//!
//! The main thread and scoped threads (which borrow from their parent's
//! stack, so they cannot outlive it on a stack of their own) are OS
//! threads; one such thread hands the world to another by setting the
//! other's *baton* and unparking it, then parks until its own is set.
//! Coroutines are always reached through the main thread.

use std::collections::HashMap;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self as std_thread, Thread};

use generator::{Generator, Gn};

use super::world::{State, World};
use super::{MAIN, Tid};

/// What a thread runs on.
pub(crate) enum Backing {
    /// A coroutine, driven by the main thread.
    Coroutine,
    /// An OS thread of its own, woken through its baton.
    Os(Wakeup),
}

impl Backing {
    /// The calling OS thread, with a new baton.
    pub(crate) fn this_os_thread() -> Backing {
        Backing::Os(Wakeup {
            baton: Arc::new(AtomicBool::new(false)),
            os: Some(std_thread::current()),
        })
    }

    /// An OS thread not started yet: [`World::set_os_thread`] names it.
    pub(crate) fn os_thread_to_come() -> Backing {
        Backing::Os(Wakeup {
            baton: Arc::new(AtomicBool::new(false)),
            os: None,
        })
    }
}

/// How to give an OS-backed thread the world.
#[derive(Clone)]
pub(crate) struct Wakeup {
    pub(crate) baton: Arc<AtomicBool>,
    os: Option<Thread>,
}

impl Wakeup {
    /// Gives the thread the world.
    fn wake(&self) {
        self.baton.store(true, Ordering::Release);
        if let Some(os) = &self.os {
            os.unpark();
        }
    }
}

/// Waits, on an OS-backed thread, for the world to be handed to it.
pub(crate) fn take_baton(baton: &AtomicBool) {
    while !baton.swap(false, Ordering::AcqRel) {
        std_thread::park();
    }
}

/// What a thread that just gave the world away does until it comes back.
pub(crate) enum Handoff {
    /// A coroutine suspends; the main thread runs whoever is next.
    Suspend,
    /// The main thread drives the others until its turn comes again.
    Drive,
    /// An OS thread wakes the next OS thread (the main thread, when the
    /// next is a coroutine) and waits for its own baton (`None`: it has
    /// finished).
    Baton { next: Wakeup, mine: Option<Wakeup> },
}

impl State {
    /// How the world passes from thread `from` (which stays alive) to
    /// thread `next`.
    pub(super) fn handoff(&self, from: Tid, next: Tid) -> Handoff {
        match &self.thread(from).backing {
            Backing::Coroutine => Handoff::Suspend,
            Backing::Os(_) if from == MAIN => Handoff::Drive,
            Backing::Os(mine) => Handoff::Baton {
                next: self.os_thread_for(next),
                mine: Some(mine.clone()),
            },
        }
    }

    /// The OS thread that runs `next`: its own, or for a coroutine the
    /// main thread, which drives it.
    fn os_thread_for(&self, next: Tid) -> Wakeup {
        match &self.thread(next).backing {
            Backing::Os(wakeup) => wakeup.clone(),
            Backing::Coroutine => self.main_wakeup(),
        }
    }

    fn main_wakeup(&self) -> Wakeup {
        match &self.thread(MAIN).backing {
            Backing::Os(wakeup) => wakeup.clone(),
            Backing::Coroutine => unreachable!("the main thread is an OS thread"),
        }
    }
}

impl Handoff {
    /// How the world passes on from a thread that has finished, run on
    /// `backing`, to `next`: a coroutine just returns to the main thread.
    pub(super) fn finished(backing: Backing, state: &State, next: Tid) -> Option<Handoff> {
        match backing {
            Backing::Coroutine => None,
            Backing::Os(_) => Some(Handoff::Baton {
                next: state.os_thread_for(next),
                mine: None,
            }),
        }
    }
}

impl World {
    /// Gives the world away as `handoff` says, and returns when it is the
    /// calling thread's turn again.
    pub(super) fn hand_off(&self, handoff: Handoff) {
        match handoff {
            Handoff::Suspend => suspend(),
            Handoff::Drive => self.drive(),
            Handoff::Baton { next, mine } => {
                next.wake();
                if let Some(mine) = mine {
                    take_baton(&mine.baton);
                }
            }
        }
    }

    /// Thread `tid`, a coroutine, will run `body` (on a stack of
    /// `stack_bytes` if it asks for one) when its turn first comes.
    pub(crate) fn set_body(&self, tid: Tid, body: Body, stack_bytes: Option<usize>) {
        self.coroutines.lock().add(tid, body, stack_bytes);
    }

    /// Records the OS thread behind `tid`, to wake it.
    pub(crate) fn set_os_thread(&self, tid: Tid, os: Thread) {
        if let Backing::Os(wakeup) = &mut self.state.lock().thread_mut(tid).backing {
            wakeup.os = Some(os);
        }
    }

    /// On the main thread: runs the other threads, each in its turn,
    /// until the main thread's or the world's death.
    fn drive(&self) {
        let mine = self.state.lock().main_wakeup();
        loop {
            if self.is_dead() {
                return;
            }
            let next = {
                let state = self.state.lock();
                match state.running {
                    MAIN => return,
                    next => match &state.thread(next).backing {
                        Backing::Coroutine => Ok(next),
                        Backing::Os(wakeup) => Err(wakeup.clone()),
                    },
                }
            };
            match next {
                Ok(tid) => self.resume(tid),
                Err(wakeup) => {
                    wakeup.wake();
                    take_baton(&mine.baton);
                }
            }
        }
    }

    /// On the main thread: runs coroutine `tid` until it suspends or
    /// finishes.
    fn resume(&self, tid: Tid) {
        let mut worker = self.coroutines.lock().take(tid);
        let driver = super::set_current_tid(tid);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| worker.resume()));
        super::set_current_tid(driver);
        if outcome.is_err() {
            // The only panic that leaves a coroutine: it ran off its stack
            // (its thread's own panics end in the thread's body).
            let report = self.state.lock().overflow_report(tid, worker.stack_bytes);
            mem::forget(worker);
            self.die(report);
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

    /// A thread of a dead world stops where it stands, for good.
    pub(super) fn stop_for_good(&self, tid: Tid) -> ! {
        let coroutine = matches!(
            self.state.lock().threads[tid].as_ref().map(|t| &t.backing),
            Some(Backing::Coroutine)
        );
        loop {
            if coroutine {
                suspend();
            } else {
                std_thread::park();
            }
        }
    }

    /// The world has died: its main thread must run to fail. On the main
    /// OS thread (the main thread, or a coroutine it drives) it soon does;
    /// another OS thread wakes it.
    pub(super) fn wake_for_death(&self) {
        if std_thread::current().id() != self.main_os {
            self.state.lock().main_wakeup().wake();
        }
    }
}

/// Suspends the running coroutine: back to the main thread, which resumes
/// it in its next turn.
#[allow(deprecated)] // the free function is the one a deep facade call can reach
fn suspend() {
    generator::yield_with(());
}

/// A thread's body, run by a coroutine.
pub(crate) type Body = Box<dyn FnOnce() + Send>;

/// The stack a coroutine gets unless its thread asks for more, as
/// `std::thread::spawn` gives a thread.
const STACK_BYTES: usize = 2 << 20;

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
        // In words, and even: the crate fills an odd-sized stack to
        // measure it.
        let words = stack_bytes.div_ceil(2 * size_of::<usize>()) * 2;
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
