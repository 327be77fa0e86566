//! [`Shutdown`]: a signal raised once, for good, that wakes every thread
//! waiting on it.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::channel::{self, Receiver, RecvTimeoutError, Sender};
use super::sync::Mutex;
use super::time::Duration;

/// A signal raised once, for good: the way to tell a peer's threads (or a
/// network's) to stop, which wakes at once every one of them that waits on
/// it, in a [`select!`](crate::select) or in
/// [`wait_timeout`](Shutdown::wait_timeout). Clones share one signal.
///
/// ```
/// use labrpc::rt::sync::Shutdown;
/// use labrpc::rt::thread;
/// use labrpc::rt::time::Duration;
/// use labrpc::select;
///
/// let shutdown = Shutdown::new();
/// let ticker = {
///     let shutdown = shutdown.clone();
///     thread::spawn(move || {
///         let mut ticks = 0;
///         loop {
///             select! {
///                 recv(shutdown.raised()) -> _ => return ticks,
///                 default(Duration::from_millis(10)) => ticks += 1,
///             }
///         }
///     })
/// };
/// thread::sleep(Duration::from_millis(35));
/// assert!(shutdown.raise(), "the first raise is the one that counts");
/// assert!(!shutdown.raise(), "raised already");
/// assert!(ticker.join().unwrap() >= 3);
/// assert!(shutdown.is_raised());
/// ```
///
/// Like a channel, a `Shutdown` belongs to the simulated world (or the
/// real time) it was made in.
#[derive(Clone)]
pub struct Shutdown(Arc<Inner>);

struct Inner {
    /// Dropped when raised, which disconnects `raised` and wakes its
    /// waiters.
    raise: Mutex<Option<Sender<Infallible>>>,
    raised: Receiver<Infallible>,
    /// Set when raised, before the waiters wake: what
    /// [`is_raised`](Shutdown::is_raised) reads (a flag, so that asking is
    /// no scheduling point in a simulation).
    flag: AtomicBool,
}

impl Shutdown {
    /// A signal not yet raised.
    pub fn new() -> Shutdown {
        let (raise, raised) = channel::bounded(0);
        Shutdown(Arc::new(Inner {
            raise: Mutex::new(Some(raise)),
            raised,
            flag: AtomicBool::new(false),
        }))
    }

    /// Raises the signal and wakes every thread waiting on it. Returns
    /// whether this call raised it (`false`: it was raised already), so
    /// that what must happen once happens once.
    #[track_caller]
    pub fn raise(&self) -> bool {
        let sender = self.0.raise.lock().take();
        self.0.flag.store(true, Ordering::Release);
        sender.is_some()
    }

    /// Whether the signal has been raised.
    pub fn is_raised(&self) -> bool {
        self.0.flag.load(Ordering::Acquire)
    }

    /// For a `select!` arm, `recv(shutdown.raised()) -> _ => ...`, which
    /// completes once the signal is raised (its receive fails: nothing is
    /// ever sent).
    pub fn raised(&self) -> &Receiver<Infallible> {
        &self.0.raised
    }

    /// Waits until the signal is raised or `timeout` has passed; whether it
    /// was raised.
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        match self.0.raised.recv_timeout(timeout) {
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
            Ok(never) => match never {},
        }
    }
}

impl Default for Shutdown {
    fn default() -> Shutdown {
        Shutdown::new()
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("raised", &self.is_raised())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::sim::{self, Policy, ScheduleCheck, Settings};
    use crate::rt::thread;

    fn in_a_world(body: impl Fn()) {
        sim::run(
            Settings {
                seed: 1,
                policy: Policy::Random,
                limit: Duration::from_secs(60),
                replay: "a unit test".into(),
                node: "test".into(),
                schedule: ScheduleCheck::Off,
            },
            body,
        );
    }

    #[test]
    fn raising_wakes_every_waiter_at_once_in_a_simulation() {
        in_a_world(|| {
            let shutdown = Shutdown::new();
            let waiters: Vec<_> = (0..3)
                .map(|_| {
                    let shutdown = shutdown.clone();
                    thread::spawn(move || shutdown.wait_timeout(Duration::from_secs(30)))
                })
                .collect();
            thread::sleep(Duration::from_millis(5));
            let before = crate::rt::time::Instant::now();
            assert!(shutdown.raise());
            for waiter in waiters {
                assert!(
                    waiter.join().unwrap(),
                    "woken by the raise, not the timeout"
                );
            }
            assert!(before.elapsed() < Duration::from_secs(1));
            assert!(!shutdown.raise());
        });
    }

    #[test]
    fn a_wait_without_a_raise_times_out_in_real_time() {
        let shutdown = Shutdown::new();
        assert!(!shutdown.wait_timeout(Duration::from_millis(1)));
        assert!(!shutdown.is_raised());
        shutdown.raise();
        assert!(shutdown.wait_timeout(Duration::from_secs(5)));
    }
}
