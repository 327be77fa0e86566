//! The runtime facade: threads, time, locks, channels and random numbers
//! for lab code, real or simulated.
//!
//! Lab code (Raft, the key/value service, the tests) uses these instead of
//! `std::thread`, `std::time::Instant`, `parking_lot` and
//! `crossbeam-channel`. Each has the same signatures as the original
//! (`parking_lot`'s for locks, crossbeam's for channels and `select!`), so
//! code reads as it would with the originals; only the `use` lines differ:
//!
//! ```
//! use labrpc::rt::channel::{self, Receiver, Sender};
//! use labrpc::rt::sync::{Arc, Mutex};
//! use labrpc::rt::thread;
//! use labrpc::rt::time::{Duration, Instant};
//! use labrpc::select;
//!
//! let counter = Arc::new(Mutex::new(0));
//! let (done, finished): (Sender<()>, Receiver<()>) = channel::bounded(0);
//! let worker = {
//!     let counter = Arc::clone(&counter);
//!     thread::Builder::new()
//!         .name("worker".into())
//!         .spawn(move || {
//!             *counter.lock() += 1;
//!             drop(done);
//!         })
//!         .unwrap()
//! };
//! select! {
//!     recv(finished) -> _ => {}
//!     default(Duration::from_secs(5)) => panic!("the worker is late"),
//! }
//! worker.join().unwrap();
//! assert_eq!(*counter.lock(), 1);
//! ```
//!
//! # Two ways to run
//!
//! **Real time** (`LAB_TIME=real`): each item is the real thing (a
//! `std::thread`, a `parking_lot::Mutex`, a crossbeam channel), behind one
//! check of a process-wide counter; the OS schedules the threads and the
//! wall clock runs.
//!
//! **Simulation** (the default for the lab tests): a test runs in a
//! simulated *world* ([`sim::run`]). Its threads are coroutines on one OS
//! thread (scoped threads are OS threads of their own), and only one runs
//! at a time; every call into this facade (lock, unlock,
//! wait, send, receive, select, sleep, spawn, join, yield) is a point where
//! a scheduler seeded from `LAB_SEED` picks the next thread. Time is
//! virtual: it advances a few microseconds per step and jumps ahead when
//! every thread waits, so a test that sleeps for minutes runs in seconds,
//! and one seed replays the same run exactly. A deadlock is reported at
//! once, naming each thread and the line where it waits.
//!
//! # What lab code must not use
//!
//! Anything that waits or reads the clock behind the facade's back:
//! `std::thread`, `std::sync::{Mutex, RwLock, Condvar, mpsc}`,
//! `std::time::Instant::now`, `parking_lot`, `crossbeam`, `rand::random`
//! and `rand::rng`, and `HashMap` iteration where its order decides
//! anything. In a simulation such a call is invisible to the scheduler: a
//! thread blocked in it holds up the whole world (the run stops after a few
//! seconds with a report naming it), and a decision made from it is not
//! replayed by the seed. Each student crate's `clippy.toml` forbids these
//! calls, with the reason; iterating a `HashMap` is the one no lint can
//! see (its order changes from process to process): where the order
//! decides anything, use a `BTreeMap` or sort.
//!
//! The OS thread is not the simulated thread: a world's threads share one,
//! so `std::thread::current` and `std::thread::panicking` would answer for
//! all of them, and a `thread_local!` would be shared by all of them. Use
//! this facade's [`thread::current`] and [`thread::panicking`]; student code
//! keeps no thread-locals (the grader refuses them).
//!
//! In a simulation, computation is free: only waiting takes time. A handler
//! that burns 50 ms of CPU, or a persist that copies the whole log, costs
//! nothing in virtual time. The real-time mode is there to see that.

pub mod channel;
pub mod rand;
mod shutdown;
pub mod sim;
pub mod sync;
pub mod thread;
pub mod time;
