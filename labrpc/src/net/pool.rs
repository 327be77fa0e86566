//! Threads that run RPC handlers.
//!
//! A handler may block for as long as it likes (a key/value server waits for
//! Raft to commit), so a fixed pool could be exhausted and stall every other
//! RPC on the network — the failure that made earlier ports' whole clusters
//! start elections. This pool never queues a job behind a busy thread: a job
//! goes to a worker that is idle, or to a newly spawned one. Each idle
//! worker waits on a channel of its own, so a job wakes the one worker it
//! goes to (in a simulation, one shared channel would wake every idle
//! worker for each job, to find it taken and wait again). Idle workers
//! leave after a while, and all of them when the pool is closed.

use std::sync::Arc;

use crate::rt::channel::{self, RecvTimeoutError, Sender};
use crate::rt::sim;
use crate::rt::sync::PlainMutex as Mutex;
use crate::rt::thread;
use crate::rt::time::Duration;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long an idle worker waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(5);

/// A growable set of threads; see the module documentation.
pub(crate) struct Pool {
    idle: Arc<Mutex<Idle>>,
}

/// The workers waiting for a job.
#[derive(Default)]
struct Idle {
    closed: bool,
    /// Each idle worker's channel, by the worker's number; the last to
    /// become idle is the first to get a job.
    waiting: Vec<(u64, Sender<Job>)>,
    /// The next worker's number.
    next: u64,
}

impl Pool {
    pub(crate) fn new() -> Self {
        Pool {
            idle: Arc::default(),
        }
    }

    /// Runs `job` on a thread that is free now. Returns `false` (and drops the
    /// job) when the pool is closed.
    pub(crate) fn execute(&self, job: Job) -> bool {
        let claimed = {
            let mut idle = self.idle.lock();
            if idle.closed {
                return false;
            }
            match idle.waiting.pop() {
                Some((_, worker)) => Ok(worker),
                None => {
                    idle.next += 1;
                    Err(idle.next)
                }
            }
        };
        match claimed {
            Ok(worker) => worker
                .send(job)
                .expect("a claimed worker waits for its job"),
            Err(number) => {
                let idle = Arc::clone(&self.idle);
                thread::Builder::new()
                    .name("labrpc-handler".into())
                    .spawn_handler(move || work(number, job, &idle))
                    .expect("cannot spawn an RPC handler thread");
            }
        }
        true
    }

    /// Lets every worker exit once its current job (if any) returns.
    pub(crate) fn close(&self) {
        let mut idle = self.idle.lock();
        idle.closed = true;
        // Their channels disconnect: the idle workers leave.
        idle.waiting.clear();
    }
}

fn work(number: u64, first: Job, idle: &Mutex<Idle>) {
    first();
    loop {
        // A job runs on its server's machine (`sim::serve`); an idle worker
        // must not, or that server's crash would kill a worker the list
        // below still offers to the next job, which would then be lost.
        sim::idle_handler();
        let (offer, jobs) = channel::bounded::<Job>(1);
        {
            let mut idle = idle.lock();
            if idle.closed {
                return;
            }
            idle.waiting.push((number, offer));
        }
        let job = loop {
            match jobs.recv_timeout(IDLE_EXIT) {
                Ok(job) => break job,
                Err(RecvTimeoutError::Timeout) => {
                    let mut idle = idle.lock();
                    if let Some(i) = idle.waiting.iter().position(|&(n, _)| n == number) {
                        idle.waiting.remove(i);
                        return;
                    }
                    // A job claimed this worker meanwhile and is on its way.
                }
                // The pool closed.
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
