//! Threads that run RPC handlers.
//!
//! A handler may block for as long as it likes (a key/value server waits for
//! Raft to commit), so a fixed pool could be exhausted and stall every other
//! RPC on the network — the failure that made earlier ports' whole clusters
//! start elections. This pool never queues a job behind a busy thread: a job
//! goes to a worker that is idle and unclaimed, or to a newly spawned one.
//! Idle workers leave after a while, and all of them when the pool is closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::rt::channel::{self, Receiver, RecvTimeoutError, Sender};
use crate::rt::sim;
use crate::rt::sync::PlainMutex as Mutex;
use crate::rt::thread;
use crate::rt::time::Duration;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long an idle worker waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(5);

/// A growable set of threads; see the module documentation.
pub(crate) struct Pool {
    /// `None` once closed.
    jobs: Mutex<Option<Sender<Job>>>,
    receiver: Receiver<Job>,
    /// Invariant: the number of workers waiting in `recv` that no submitted job
    /// has claimed yet. Every job in the channel was sent after claiming one.
    idle: Arc<AtomicUsize>,
}

impl Pool {
    pub(crate) fn new() -> Self {
        let (sender, receiver) = channel::unbounded();
        Pool {
            jobs: Mutex::new(Some(sender)),
            receiver,
            idle: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs `job` on a thread that is free now. Returns `false` (and drops the
    /// job) when the pool is closed.
    pub(crate) fn execute(&self, job: Job) -> bool {
        let Some(sender) = self.jobs.lock().clone() else {
            return false;
        };
        if claim(&self.idle) {
            sender
                .send(job)
                .expect("the pool holds a receiver while it has a sender");
        } else {
            let receiver = self.receiver.clone();
            let idle = Arc::clone(&self.idle);
            thread::Builder::new()
                .name("labrpc-handler".into())
                .spawn_handler(move || work(job, &receiver, &idle))
                .expect("cannot spawn an RPC handler thread");
        }
        true
    }

    /// Lets every worker exit once its current job (if any) returns.
    pub(crate) fn close(&self) {
        self.jobs.lock().take();
    }
}

/// Takes one idle worker for a job; false when none is free.
fn claim(idle: &AtomicUsize) -> bool {
    idle.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

fn work(first: Job, receiver: &Receiver<Job>, idle: &AtomicUsize) {
    first();
    loop {
        // A job runs on its server's machine (`sim::serve`); an idle worker
        // must not, or that server's crash would kill a worker the count
        // below still offers to the next job, which would then wait forever.
        sim::idle_handler();
        idle.fetch_add(1, Ordering::AcqRel);
        let job = loop {
            match receiver.recv_timeout(IDLE_EXIT) {
                Ok(job) => break job,
                // Leave only if no job has claimed this worker meanwhile;
                // otherwise that job is on its way and must find a receiver.
                Err(RecvTimeoutError::Timeout) if claim(idle) => return,
                Err(RecvTimeoutError::Timeout) => {}
                // Pool closed: no job can be on its way.
                Err(RecvTimeoutError::Disconnected) => return,
            }
        };
        job();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::time::Instant;

    #[test]
    fn blocked_jobs_never_delay_a_new_one() {
        let pool = Pool::new();
        let (release, blocked) = channel::bounded::<()>(0);
        for _ in 0..32 {
            let blocked = blocked.clone();
            assert!(pool.execute(Box::new(move || {
                let _ = blocked.recv();
            })));
        }
        let (done, finished) = channel::bounded(1);
        let start = Instant::now();
        pool.execute(Box::new(move || done.send(()).unwrap()));
        finished
            .recv_timeout(Duration::from_secs(1))
            .expect("a job waited behind blocked ones");
        assert!(start.elapsed() < Duration::from_millis(200));
        drop(release);
    }

    #[test]
    fn closed_pool_refuses_jobs() {
        let pool = Pool::new();
        pool.close();
        assert!(!pool.execute(Box::new(|| {})));
    }
}
