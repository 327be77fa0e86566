//! Locks: [`Mutex`] and [`Condvar`] with `parking_lot`'s API, simulated
//! when the caller is; [`Shutdown`], a signal to stop raised once; `Arc`
//! and atomics re-exported from `std`.
//!
//! In a simulated world, taking a lock, releasing it and waiting on a
//! condition variable are scheduling points, and a thread that waits for a
//! lock waits in the scheduler, where a deadlock can be seen and reported.
//! The data itself always lives in a real `parking_lot` lock, which in a
//! simulation is never contended: only one thread runs at a time, and it
//! takes the real lock only once the simulated one is free.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicU64, Ordering};

use super::sim::{self, Here, Op, Wake};
use super::time::{Duration, Instant};

pub use super::shutdown::Shutdown;
pub use std::sync::atomic;
pub use std::sync::{Arc, LazyLock, OnceLock, Weak};

/// A lock outside every simulation: not a scheduling point, and the same
/// lock for every world of the process. For the framework's own short
/// critical sections that never wait for anything while holding it (so in
/// a simulation it is never contended, and invisible to the schedule), and
/// for state that every world of a process shares (the harness's record of
/// panics). Never for lab code: its waits would be invisible.
pub type PlainMutex<T> = parking_lot::Mutex<T>;

/// A read-write lock that is not a scheduling point; see [`PlainMutex`].
pub(crate) type PlainRwLock<T> = parking_lot::RwLock<T>;

/// An object id assigned on first use, so that `new` can be `const`.
struct LazyId(AtomicU64);

impl LazyId {
    const fn new() -> LazyId {
        LazyId(AtomicU64::new(0))
    }

    fn get(&self) -> u64 {
        let id = self.0.load(Ordering::Relaxed);
        if id != 0 {
            return id;
        }
        let fresh = sim::new_object_id();
        match self
            .0
            .compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => fresh,
            Err(existing) => existing,
        }
    }
}

/// A mutual-exclusion lock, as [`parking_lot::Mutex`]: no poisoning, and
/// `lock` returns the guard directly.
pub struct Mutex<T: ?Sized> {
    id: LazyId,
    inner: parking_lot::Mutex<T>,
}

/// The guard of a locked [`Mutex`]; the lock is released when it drops.
#[must_use = "the lock is released at once if the guard is not kept"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// `None` only inside `drop`, after the real lock is released.
    inner: Option<parking_lot::MutexGuard<'a, T>>,
    /// The simulated thread holding it, and where it took it.
    sim: Option<(Here, &'static Location<'static>)>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            id: LazyId::new(),
            inner: parking_lot::Mutex::new(value),
        }
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Takes the lock, waiting as long as another thread holds it.
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        let Some(here) = sim::here() else {
            return MutexGuard {
                mutex: self,
                inner: Some(self.inner.lock()),
                sim: None,
            };
        };
        let site = Location::caller();
        // One scheduling point: the wait when the lock is taken, else a
        // step before taking it.
        if !self.inner.is_locked() {
            here.world.step_at(here.tid, site, Op::Lock);
        }
        loop {
            if let Some(guard) = self.inner.try_lock() {
                here.world.set_holder(self.id.get(), Some((here.tid, site)));
                return MutexGuard {
                    mutex: self,
                    inner: Some(guard),
                    sim: Some((here, site)),
                };
            }
            here.world
                .wait(here.tid, site, Op::Lock, &[self.id.get()], None);
        }
    }

    /// Takes the lock if it is free.
    #[track_caller]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let here = sim::here();
        let site = Location::caller();
        if let Some(here) = &here {
            here.world.step_at(here.tid, site, Op::TryLock);
        }
        let guard = self.inner.try_lock()?;
        if let Some(here) = &here {
            here.world.set_holder(self.id.get(), Some((here.tid, site)));
        }
        Some(MutexGuard {
            mutex: self,
            inner: Some(guard),
            sim: here.map(|h| (h, site)),
        })
    }

    /// Whether some thread holds the lock now.
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// The value, through an exclusive borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.try_lock() {
            Some(value) => f.debug_struct("Mutex").field("data", &&*value).finish(),
            None => f.write_str("Mutex { <locked> }"),
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.inner.as_deref().expect("a live guard holds the lock")
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.inner
            .as_deref_mut()
            .expect("a live guard holds the lock")
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // Release the real lock before anyone else can run.
        self.inner.take();
        if let Some((here, site)) = &self.sim {
            here.world.set_holder(self.mutex.id.get(), None);
            here.world.notify(self.mutex.id.get());
            here.world.step_at(here.tid, site, Op::Unlock);
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Whether a timed wait on a [`Condvar`] ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait ended because its time was up.
    pub fn timed_out(self) -> bool {
        self.0
    }
}

/// A condition variable, as [`parking_lot::Condvar`].
#[derive(Default)]
pub struct Condvar {
    id: LazyId,
    inner: parking_lot::Condvar,
}

impl Default for LazyId {
    fn default() -> LazyId {
        LazyId::new()
    }
}

impl Condvar {
    /// A new condition variable.
    pub const fn new() -> Condvar {
        Condvar {
            id: LazyId::new(),
            inner: parking_lot::Condvar::new(),
        }
    }

    /// Releases the guard's lock, waits to be notified, and takes the lock
    /// again. May wake spuriously, as any condition variable.
    #[track_caller]
    pub fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        self.wait_inner(guard, None, Location::caller());
    }

    /// As [`wait`](Condvar::wait), for at most `timeout`.
    #[track_caller]
    pub fn wait_for<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        self.wait_inner(guard, Some(timeout), Location::caller())
    }

    /// As [`wait`](Condvar::wait), until `deadline`.
    #[track_caller]
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        let timeout = deadline.saturating_duration_since(Instant::now());
        self.wait_inner(guard, Some(timeout), Location::caller())
    }

    /// Waits while `condition` holds.
    #[track_caller]
    pub fn wait_while<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) {
        let site = Location::caller();
        while condition(&mut **guard) {
            self.wait_inner(guard, None, site);
        }
    }

    fn wait_inner<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Option<Duration>,
        site: &'static Location<'static>,
    ) -> WaitTimeoutResult {
        let inner = guard.inner.as_mut().expect("a live guard holds the lock");
        let Some((here, _)) = &guard.sim else {
            return WaitTimeoutResult(match timeout {
                None => {
                    self.inner.wait(inner);
                    false
                }
                Some(timeout) => self.inner.wait_for(inner, timeout).timed_out(),
            });
        };
        let mutex = guard.mutex;
        let world = &here.world;
        let deadline = timeout.map(|t| world.now().after(t));
        parking_lot::MutexGuard::unlocked(inner, || {
            world.set_holder(mutex.id.get(), None);
            world.notify(mutex.id.get());
            let waited = panic::catch_unwind(AssertUnwindSafe(|| {
                world.wait(here.tid, site, Op::CondvarWait, &[self.id.get()], deadline)
            }));
            // Take the lock back in the simulation before the real lock is
            // taken again on return, even for a killed thread (whose every
            // wait unwinds once woken): the real lock must never be
            // contended.
            while mutex.inner.is_locked() {
                let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                    world.wait(here.tid, site, Op::Lock, &[mutex.id.get()], None)
                }));
            }
            world.set_holder(mutex.id.get(), Some((here.tid, site)));
            match waited {
                Ok(wake) => WaitTimeoutResult(wake == Wake::Timeout),
                Err(payload) => panic::resume_unwind(payload),
            }
        })
    }

    /// Wakes one waiting thread; whether there was one.
    pub fn notify_one(&self) -> bool {
        match sim::here() {
            Some(here) => here.world.notify_one(self.id.get()),
            None => self.inner.notify_one(),
        }
    }

    /// Wakes every waiting thread; how many there were.
    pub fn notify_all(&self) -> usize {
        match sim::here() {
            Some(here) => here.world.notify_all(self.id.get()),
            None => self.inner.notify_all(),
        }
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Condvar { .. }")
    }
}
