//! What the simulator costs in wall time: a hand-off between two simulated
//! threads, a spawn (and join) of a simulated thread, and an RPC on a
//! simulated reliable network.
//!
//! Run with `cargo bench -p labrpc --bench sim` (CI prints it). Each figure
//! is the best of three runs, in wall-clock microseconds per operation; the
//! virtual time a run took is beside it, to show the wall time is the
//! simulator's, not the simulated world's. `LAB_SIM_STATS=1` in the
//! environment adds each world's steps, switches and busiest call sites.
//! The cost of a whole key/value test is `cargo bench -p tests --bench sim`.

use std::time::{Duration as WallDuration, Instant as WallInstant};

use labrpc::rt::channel;
use labrpc::rt::sim::{self, Policy, ScheduleCheck, Settings};
use labrpc::rt::thread;
use labrpc::rt::time::{Duration, Instant};
use labrpc::{Method, Network, Server, Service};

const ECHO: Method<u64, u64> = Method::new("Bench.Echo");

/// Runs `body` in a fresh world; its wall time and its virtual time.
fn in_a_world(body: impl FnOnce()) -> (WallDuration, Duration) {
    let settings = Settings {
        seed: 1,
        policy: Policy::Random,
        limit: Duration::from_secs(100_000),
        replay: "cargo bench -p labrpc --bench sim".into(),
        node: "bench".into(),
        schedule: ScheduleCheck::Off,
    };
    let wall = WallInstant::now();
    let (virtual_time, _) = sim::run(settings, || {
        let start = Instant::now();
        body();
        start.elapsed()
    });
    (wall.elapsed(), virtual_time)
}

/// `n` round trips between two threads over zero-capacity channels: 2n
/// hand-offs.
fn hand_offs(n: u64) {
    let (ping, pinged) = channel::bounded::<u64>(0);
    let (pong, ponged) = channel::bounded::<u64>(0);
    let echo = thread::spawn(move || {
        while let Ok(x) = pinged.recv() {
            pong.send(x).expect("the bench waits for the reply");
        }
    });
    for i in 0..n {
        ping.send(i).expect("the echo thread runs");
        assert_eq!(ponged.recv(), Ok(i));
    }
    drop(ping);
    echo.join().expect("the echo thread does not panic");
}

/// `n` threads spawned and joined one after another.
fn spawns(n: u64) {
    for i in 0..n {
        let handle = thread::spawn(move || i + 1);
        assert_eq!(handle.join().ok(), Some(i + 1));
    }
}

/// `n` sequential RPCs on a reliable network.
fn rpcs(n: u64) {
    let net = Network::with_seed(1);
    let mut service = Service::new("Bench");
    service.handle(ECHO, |x: u64| x);
    let server = Server::new();
    server.add_service(service);
    net.add_server("server", server);
    let end = net.make_end("client");
    net.connect("client", "server");
    net.enable("client", true);
    for i in 0..n {
        assert_eq!(end.call(ECHO, &i), Ok(i));
    }
    net.cleanup();
}

/// One thing measured: `run(n)` does `n * per_call` of it.
struct Case {
    name: &'static str,
    n: u64,
    per_call: u64,
    run: fn(u64),
}

const CASES: [Case; 3] = [
    Case {
        name: "hand-off between threads",
        n: 20_000,
        per_call: 2,
        run: hand_offs,
    },
    Case {
        name: "spawn and join a thread",
        n: 5_000,
        per_call: 1,
        run: spawns,
    },
    Case {
        name: "rpc, reliable network",
        n: 5_000,
        per_call: 1,
        run: rpcs,
    },
];

fn main() {
    // `cargo bench` passes flags such as `--bench`; there is nothing to choose.
    println!("simulator benchmark: wall time per operation in a simulated world (best of 3)");
    println!(
        "{:<28} {:>8} {:>14} {:>16}",
        "operation", "count", "µs (wall) each", "virtual ms in all"
    );
    for case in CASES {
        let Case {
            name,
            n,
            per_call,
            run,
        } = case;
        let (wall, virtual_time) = (0..3)
            .map(|_| in_a_world(|| run(n)))
            .min_by_key(|(wall, _)| *wall)
            .expect("three runs");
        let each = wall.as_secs_f64() * 1e6 / (n * per_call) as f64;
        println!(
            "{name:<28} {:>8} {each:>14.2} {:>16.1}",
            n * per_call,
            virtual_time.as_secs_f64() * 1e3
        );
    }
}
