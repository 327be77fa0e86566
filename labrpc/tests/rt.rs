//! The runtime facade, real and simulated: channels behave as crossbeam's,
//! virtual time jumps, a deadlock is reported with every thread's call
//! site, one seed gives one schedule, and killed threads unwind quietly.

use std::panic::{self, AssertUnwindSafe};

use labrpc::rt::channel::{self, RecvError, RecvTimeoutError, TryRecvError, TrySendError};
use labrpc::rt::sim::{self, Policy, ScheduleCheck, Settings};
use labrpc::rt::sync::{Arc, Condvar, Mutex};
use labrpc::rt::thread;
use labrpc::rt::time::{Duration, Instant};
use labrpc::select;

fn settings(seed: u64) -> Settings {
    Settings {
        seed,
        policy: Policy::Random,
        limit: Duration::from_secs(3600 * 24),
        replay: format!("(test seed {seed})"),
        node: "main".to_owned(),
        schedule: ScheduleCheck::Off,
    }
}

/// Runs `body` in a fresh world with `seed`.
fn simulate<R>(seed: u64, body: impl FnOnce() -> R) -> R {
    sim::run(settings(seed), body).0
}

/// The message a world's failure panics with.
fn failure_of(seed: u64, body: impl FnOnce()) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(|| simulate(seed, body)))
        .expect_err("the world should have failed");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// The channel checks, run both outside and inside a simulation: the two
/// must agree with crossbeam's behaviour.
fn channel_semantics() {
    // FIFO, and a disconnected channel is drained before it reports so.
    let (tx, rx) = channel::unbounded();
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    drop(tx);
    let got: Vec<i32> = std::iter::from_fn(|| rx.recv().ok()).collect();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));

    // A bounded channel refuses a message past its capacity.
    let (tx, rx) = channel::bounded(1);
    assert_eq!(tx.try_send(1), Ok(()));
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    drop(rx);
    assert_eq!(tx.try_send(3), Err(TrySendError::Disconnected(3)));

    // Zero capacity: no receiver waiting, no room; a send waits for one.
    let (tx, rx) = channel::bounded::<u32>(0);
    assert_eq!(tx.try_send(7), Err(TrySendError::Full(7)));
    let receiver = thread::spawn(move || rx.recv());
    tx.send(8).unwrap();
    assert_eq!(receiver.join().unwrap(), Ok(8));

    // Timeouts.
    let (_tx, rx) = channel::bounded::<u32>(1);
    let start = Instant::now();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(30)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(start.elapsed() >= Duration::from_millis(30));

    // select!: a ready arm is taken, default when none is, a send arm, and
    // disconnection counts as ready.
    let (tx, rx) = channel::bounded::<u32>(1);
    let (stop_tx, stop) = channel::bounded::<()>(0);
    let got = select! {
        recv(rx) -> m => m.ok(),
        default => None,
    };
    assert_eq!(got, None);
    let sent = select! {
        send(tx, 5) -> r => r.is_ok(),
        recv(stop) -> _ => false,
    };
    assert!(sent);
    assert_eq!(rx.recv(), Ok(5));
    drop(stop_tx);
    let stopped = select! {
        recv(rx) -> _ => false,
        recv(stop) -> m => m.is_err(),
        default(Duration::from_millis(10)) => false,
    };
    assert!(stopped, "a disconnected channel makes its arm ready");

    // A zero-capacity send in a select meets a receiver in a select.
    let (tx, rx) = channel::bounded::<u32>(0);
    let (_quiet_tx, quiet) = channel::bounded::<u32>(0);
    let receiver = thread::spawn(move || {
        select! {
            recv(rx) -> m => m.ok(),
            recv(quiet) -> _ => None,
        }
    });
    let sent = select! {
        send(tx, 9) -> r => r.is_ok(),
        default(Duration::from_secs(5)) => false,
    };
    assert!(sent);
    assert_eq!(receiver.join().unwrap(), Some(9));
}

#[test]
fn channels_behave_the_same_in_real_time() {
    channel_semantics();
}

#[test]
fn channels_behave_the_same_in_a_simulation() {
    simulate(1, channel_semantics);
    simulate(2, channel_semantics);
}

#[test]
fn locks_and_condition_variables_work_in_both_modes() {
    let body = || {
        let state = Arc::new((Mutex::new(0_u32), Condvar::new()));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let state = Arc::clone(&state);
                thread::spawn(move || {
                    for _ in 0..100 {
                        *state.0.lock() += 1;
                    }
                    state.1.notify_all();
                })
            })
            .collect();
        let mut count = state.0.lock();
        while *count < 400 {
            state.1.wait_for(&mut count, Duration::from_millis(50));
        }
        drop(count);
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(*state.0.lock(), 400);
    };
    body();
    simulate(3, body);
}

#[test]
fn virtual_time_jumps_when_everyone_waits() {
    let wall = std::time::Instant::now();
    let slept = simulate(4, || {
        let start = Instant::now();
        let sleeper = thread::spawn(|| thread::sleep(Duration::from_secs(3600)));
        thread::sleep(Duration::from_secs(7200));
        sleeper.join().unwrap();
        start.elapsed()
    });
    assert!(slept >= Duration::from_secs(7200), "slept {slept:?}");
    assert!(slept < Duration::from_secs(7201), "slept {slept:?}");
    assert!(wall.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_deadlock_names_every_thread_and_where_it_waits() {
    let message = failure_of(5, || {
        let a = Arc::new(Mutex::new(()));
        let b = Arc::new(Mutex::new(()));
        let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
        let other = thread::Builder::new()
            .name("lock-b-then-a".into())
            .spawn(move || {
                let _b = b2.lock();
                thread::sleep(Duration::from_millis(10));
                let _a = a2.lock();
            })
            .unwrap();
        let _a = a.lock();
        thread::sleep(Duration::from_millis(10));
        let _b = b.lock();
        drop(other);
    });
    assert!(message.contains("deadlock"), "{message}");
    assert!(message.contains("lock-b-then-a"), "{message}");
    assert!(
        message.contains("blocked in lock at labrpc/tests/rt.rs:"),
        "{message}"
    );
    assert!(message.contains("(test seed 5)"), "{message}");
}

#[test]
fn the_time_limit_reports_the_blocked_threads() {
    let message = failure_of(6, || {
        let (_tx, rx) = channel::bounded::<()>(0);
        let _stuck = thread::Builder::new()
            .name("waits-forever".into())
            .spawn(move || rx.recv())
            .unwrap();
        loop {
            thread::sleep(Duration::from_secs(1));
        }
    });
    assert!(message.contains("virtual time"), "{message}");
    assert!(message.contains("waits-forever"), "{message}");
    assert!(message.contains("blocked in recv"), "{message}");
}

#[test]
fn threads_alike_are_reported_once_with_a_count() {
    let message = failure_of(7, || {
        let lock = Arc::new(Mutex::new(()));
        let _held = lock.lock();
        let _waiters: Vec<_> = (0..5)
            .map(|_| {
                let lock = Arc::clone(&lock);
                thread::Builder::new()
                    .name("handler".into())
                    .spawn(move || drop(lock.lock()))
                    .unwrap()
            })
            .collect();
        let (_tx, rx) = channel::bounded::<()>(0);
        let _ = rx.recv();
    });
    assert!(message.contains("deadlock"), "{message}");
    assert_eq!(message.matches("thread 'handler'").count(), 1, "{message}");
    assert!(
        message.contains("(and 4 more threads like it, for less long)"),
        "{message}"
    );
}

#[test]
fn a_report_names_the_handler_a_thread_runs() {
    const STUCK: labrpc::Method<u32, u32> = labrpc::Method::new("Stuck.Call");
    let message = failure_of(8, || {
        let lock = Arc::new(Mutex::new(()));
        let _held = lock.lock();
        let net = labrpc::Network::with_seed(8);
        let mut service = labrpc::Service::new("Stuck");
        let in_handler = Arc::clone(&lock);
        service.handle(STUCK, move |x: u32| {
            drop(in_handler.lock());
            x
        });
        let server = labrpc::Server::new();
        server.add_service(service);
        net.add_server("server-0", server);
        let end = net.make_end("client");
        net.connect("client", "server-0");
        net.enable("client", true);
        let _ = end.call(STUCK, &1);
    });
    assert!(message.contains("deadlock"), "{message}");
    assert!(
        message.contains("(#")
            && message.contains(", server-0, in the handler of Stuck.Call): blocked in lock"),
        "{message}"
    );
}

/// A little world with several threads racing for a lock and a channel,
/// each decision seeded.
fn busy_world() -> Vec<u32> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = channel::unbounded();
    let workers: Vec<_> = (0..5)
        .map(|i| {
            let (log, tx) = (Arc::clone(&log), tx.clone());
            thread::spawn(move || {
                for j in 0..20 {
                    thread::sleep(Duration::from_micros(labrpc::rt::rand::random_range(
                        0..500,
                    )));
                    log.lock().push(i * 100 + j);
                    tx.send(i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    while rx.recv().is_ok() {}
    for worker in workers {
        worker.join().unwrap();
    }
    log.lock().clone()
}

#[test]
fn one_seed_gives_one_schedule() {
    let first = simulate(7, busy_world);
    let again = simulate(7, busy_world);
    assert_eq!(first, again);
    let other = simulate(8, busy_world);
    assert_ne!(first, other, "another seed should interleave differently");

    let (_, schedule) = sim::run(
        Settings {
            schedule: ScheduleCheck::Record,
            ..settings(7)
        },
        busy_world,
    );
    let schedule = Arc::new(schedule.expect("a recorded schedule"));
    assert!(schedule.len() > 100);
    sim::run(
        Settings {
            schedule: ScheduleCheck::Compare(Arc::clone(&schedule)),
            ..settings(7)
        },
        busy_world,
    );
}

#[test]
fn a_run_that_differs_from_its_recording_is_reported() {
    let (_, schedule) = sim::run(
        Settings {
            schedule: ScheduleCheck::Record,
            ..settings(9)
        },
        busy_world,
    );
    let recorded = Arc::new(schedule.expect("a recorded schedule"));
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        sim::run(
            Settings {
                schedule: ScheduleCheck::Compare(recorded),
                ..settings(9)
            },
            || {
                // Steps the recorded run did not take, as when something
                // the seed does not decide (the real clock, a HashMap's
                // order) changes what a thread does.
                thread::yield_now();
                busy_world()
            },
        )
    }))
    .expect_err("the second run takes other steps");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("nondeterminism"), "{message}");
    assert!(message.contains("differ at step"), "{message}");
}

#[test]
fn a_crash_leaves_a_visiting_thread_alone() {
    simulate(11, || {
        let (tx, rx) = channel::bounded::<()>(0);
        let visitor = thread::Builder::new()
            .name("tester-client".into())
            .spawn(move || {
                // Calls into server-9's API, as a tester does, and waits
                // there while server-9 crashes.
                sim::with_node("server-9", || rx.recv())
            })
            .unwrap();
        thread::sleep(Duration::from_millis(5));
        let left = sim::kill_node("server-9");
        assert!(
            left.is_empty(),
            "a visitor is not the node's thread: {left:?}"
        );
        tx.send(()).unwrap();
        assert_eq!(
            visitor.join().unwrap(),
            Ok(()),
            "the visitor was not killed"
        );
    });
}

#[test]
fn killed_threads_unwind_without_a_panic() {
    simulate(10, || {
        let (_tx, rx) = channel::bounded::<()>(0);
        let stuck = sim::with_node("server-9", || {
            thread::Builder::new()
                .name("stuck".into())
                .spawn(move || {
                    let _ = rx.recv();
                    unreachable!("nobody sends");
                })
                .unwrap()
        });
        thread::sleep(Duration::from_millis(5));
        let left = sim::kill_node("server-9");
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].contains("'stuck'"), "{left:?}");
        assert!(left[0].contains("blocked in recv"), "{left:?}");
        // It unwound with the private payload (raised without the panic
        // hook), not with a panic of its own.
        let payload = stuck
            .join()
            .expect_err("a killed thread does not finish its work");
        assert!(sim::is_killed_payload(payload.as_ref()));
        assert!(sim::other_threads().is_empty());
    });
}

/// A failing scope kills its threads, and a killed thread that waits at
/// the end of a scope of its own kills that scope's threads in turn: none
/// is left for std's real join to wait on (which would stall the world).
#[test]
fn a_failing_scope_ends_the_scopes_nested_in_it() {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        simulate(11, || {
            let (_tx, rx) = channel::bounded::<()>(0);
            thread::scope(|s| {
                s.spawn(|| {
                    thread::scope(|s| {
                        for _ in 0..3 {
                            s.spawn(|| {
                                let _ = rx.recv();
                                unreachable!("nobody sends");
                            });
                        }
                    });
                });
                thread::sleep(Duration::from_millis(5));
                panic!("the test fails here");
            });
        })
    }));
    let payload = outcome.expect_err("the scope's panic reaches the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the test fails here"));
}

#[test]
fn real_and_simulated_channels_do_not_mix() {
    let (real_tx, _real_rx) = channel::bounded::<u32>(1);
    let message = failure_of(11, move || {
        let _ = real_tx.send(1);
    });
    assert!(message.contains("outside the simulated world"), "{message}");
}

/// Replies are announced to a watcher while many calls are in flight at
/// once in a simulation: announcing is a scheduling point, so it must not
/// happen while the network holds one of its plain locks (it did, and a
/// second caller then blocked on that lock where the simulation could not
/// see it, which stalled the world).
#[test]
fn replies_are_announced_while_many_calls_are_in_flight() {
    const ECHO: labrpc::Method<u32, u32> = labrpc::Method::new("Echo.Call");
    for seed in 0..20 {
        let heard = simulate(seed, || {
            let net = labrpc::Network::with_seed(seed);
            let mut service = labrpc::Service::new("Echo");
            service.handle(ECHO, |x: u32| x);
            let server = labrpc::Server::new();
            server.add_service(service);
            net.add_server("server-0", server);
            let replies = net.watch_replies();
            let callers: Vec<_> = (0..8)
                .map(|c| {
                    let name = format!("end-{c}");
                    let end = net.make_end(&name);
                    net.connect(&name, "server-0");
                    net.enable(&name, true);
                    thread::spawn(move || {
                        for i in 0..5 {
                            assert_eq!(end.call(ECHO, &i), Ok(i));
                        }
                    })
                })
                .collect();
            for caller in callers {
                caller.join().expect("a caller panicked");
            }
            let heard = std::iter::from_fn(|| replies.try_recv().ok()).count();
            net.cleanup();
            heard
        });
        assert_eq!(heard, 40, "seed {seed}");
    }
}

/// An idle handler thread survives the crash of the last server it served:
/// the network's pool still counts it as ready, so killing it would leave
/// the next request waiting for a thread that is gone (every request after
/// a crash stalled this way, and whole clusters stopped hearing each other).
#[test]
fn a_server_crash_spares_the_idle_handler_threads() {
    const ECHO: labrpc::Method<u32, u32> = labrpc::Method::new("Echo.Call");
    for seed in 0..10 {
        simulate(seed, || {
            let net = labrpc::Network::with_seed(seed);
            for name in ["server-a", "server-b"] {
                let mut service = labrpc::Service::new("Echo");
                service.handle(ECHO, |x: u32| x);
                let server = labrpc::Server::new();
                server.add_service(service);
                net.add_server(name, server);
            }
            let end = |name: &str, server: &str| {
                let end = net.make_end(name);
                net.connect(name, server);
                net.enable(name, true);
                end
            };
            let to_a = end("to-a", "server-a");
            let to_b = end("to-b", "server-b");
            assert_eq!(to_a.call(ECHO, &1), Ok(1));
            // server-a crashes while its handler thread is idle.
            sim::kill_node("server-a");
            net.delete_server("server-a");
            assert_eq!(to_b.call(ECHO, &2), Ok(2), "seed {seed}");
            net.cleanup();
        });
    }
}

/// Recurses `frames` deep; the address of its deepest frame's array, to
/// measure the stack it takes.
fn recurse(frames: u64) -> usize {
    let frame = std::hint::black_box([frames; 64]);
    if frames == 0 {
        std::ptr::from_ref(&frame).addr()
    } else {
        std::hint::black_box(recurse(frames - 1)) + usize::from(frame[2] == u64::MAX)
    }
}

/// The stack `recurse` takes per frame, measured on an OS thread.
fn bytes_per_frame() -> usize {
    std::thread::spawn(|| {
        let top = [0u8; 1];
        let bottom = recurse(1_000);
        (std::ptr::from_ref(&top).addr() - bottom) / 1_000
    })
    .join()
    .unwrap()
}

/// A simulated thread has the stack an OS thread of `std::thread::spawn`
/// has (2 MiB), and more when it asks.
#[test]
fn a_simulated_thread_recurses_as_deep_as_an_os_thread() {
    let mib = (1 << 20) / bytes_per_frame() as u64;
    simulate(12, move || {
        let deep = thread::spawn(move || recurse(3 * mib / 2) > 0);
        assert!(deep.join().unwrap());
        let deeper = thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(move || recurse(12 * mib) > 0)
            .unwrap();
        assert!(deeper.join().unwrap());
    });
}

/// A thread that runs off its stack fails the world with a report naming
/// it, where an OS thread would abort the process.
#[test]
fn a_stack_overflow_is_reported_naming_the_thread() {
    let report = failure_of(13, || {
        let endless = thread::Builder::new()
            .name("endless".into())
            .spawn(|| recurse(1_000_000))
            .unwrap();
        let _ = endless.join();
    });
    assert!(
        report.contains("thread 'endless' (#1, main) has overflowed its stack (2048 KiB)"),
        "{report}"
    );
    assert!(report.contains("replay: (test seed 13)"), "{report}");
}

/// `thread::current` names the simulated thread, not the OS thread that
/// runs it, and tells threads apart.
#[test]
fn the_current_thread_is_the_simulated_one() {
    let outside = thread::current();
    simulate(14, move || {
        let main = thread::current();
        assert_eq!(main.name(), outside.name());
        let worker = thread::Builder::new()
            .name("worker".into())
            .spawn(|| {
                let me = thread::current();
                (me.name().map(str::to_owned), me.id())
            })
            .unwrap();
        let handle_id = worker.thread().id();
        let (name, id) = worker.join().unwrap();
        assert_eq!(name.as_deref(), Some("worker"));
        assert_eq!(id, handle_id);
        assert_ne!(id, main.id());
        assert_ne!(id, outside.id());
    });
}

/// While a thread unwinds (here, a destructor that waits for another
/// thread), `thread::panicking` says so in that thread alone, though the
/// standard library counts panics per OS thread and the two share one.
#[test]
fn panicking_is_per_simulated_thread() {
    struct JoinsOnDrop {
        other: Option<thread::JoinHandle<bool>>,
        seen: Arc<Mutex<Vec<(&'static str, bool)>>>,
    }
    impl Drop for JoinsOnDrop {
        fn drop(&mut self) {
            self.seen.lock().push(("unwinding", thread::panicking()));
            let other = self.other.take().unwrap().join().unwrap();
            self.seen.lock().push(("the other", other));
        }
    }
    simulate(15, || {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let failing = thread::spawn(move || {
            let other = thread::spawn(|| {
                thread::sleep(Duration::from_millis(10));
                thread::panicking()
            });
            let _guard = JoinsOnDrop {
                other: Some(other),
                seen: record,
            };
            // Raised without the panic hook: nothing to print.
            panic::resume_unwind(Box::new("deliberate"));
        });
        assert!(failing.join().is_err());
        assert!(!thread::panicking());
        assert_eq!(*seen.lock(), [("unwinding", true), ("the other", false)]);
    });
}

/// Run by [`a_thread_blocked_outside_the_facade_stalls_the_world`], in a
/// process of its own (the stall ends it).
#[test]
#[ignore = "run by a_thread_blocked_outside_the_facade_stalls_the_world"]
fn sleeps_in_a_handler_outside_the_facade() {
    const SLOW: labrpc::Method<u32, u32> = labrpc::Method::new("Slow.Call");
    simulate(16, || {
        let net = labrpc::Network::with_seed(16);
        let mut service = labrpc::Service::new("Slow");
        service.handle(SLOW, |x: u32| {
            #[allow(clippy::disallowed_methods)] // the mistake under test
            std::thread::sleep(std::time::Duration::from_secs(60));
            x
        });
        let server = labrpc::Server::new();
        server.add_service(service);
        net.add_server("server-0", server);
        let end = net.make_end("client");
        net.connect("client", "server-0");
        net.enable("client", true);
        let _ = end.call(SLOW, &1);
    });
}

/// A handler blocked in `std::thread::sleep` holds up its whole world: the
/// watchdog ends the process with a report naming the thread, its node and
/// handler, and its last facade call.
#[test]
fn a_thread_blocked_outside_the_facade_stalls_the_world() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "sleeps_in_a_handler_outside_the_facade",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains(
            "simulation stalled: thread 'labrpc-handler' (server-0, in the handler of \
             Slow.Call) has run for more than 5 s of wall time without a facade call"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("replay: (test seed 16)"), "{stderr}");
}
