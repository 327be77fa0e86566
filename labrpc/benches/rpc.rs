//! Round-trip time and throughput of the emulated network, reliable mode.
//!
//! Run with `cargo bench -p labrpc`. Prints, for one client calling
//! sequentially and for several clients calling concurrently, the mean time per
//! RPC and RPCs per second. The request is a small struct like a Raft
//! heartbeat; the handler does nothing but answer.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use labrpc::{ClientEnd, Method, Network, Server, Service};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    term: u64,
    leader: u32,
    commit: u64,
}

const PING: Method<Ping, u64> = Method::new("Bench.Ping");

fn network(clients: usize) -> (Network, Vec<ClientEnd>) {
    let net = Network::with_seed(0);
    let mut service = Service::new("Bench");
    service.handle(PING, |ping: Ping| ping.term + ping.commit);
    let server = Server::new();
    server.add_service(service);
    net.add_server("server", server);
    let ends = (0..clients)
        .map(|i| {
            let name = format!("client-{i}");
            let end = net.make_end(&name);
            net.connect(&name, "server");
            net.enable(&name, true);
            end
        })
        .collect();
    (net, ends)
}

fn calls(end: &ClientEnd, n: u64) {
    for i in 0..n {
        let reply = end.call(
            PING,
            &Ping {
                term: i,
                leader: 1,
                commit: 7,
            },
        );
        assert_eq!(reply, Ok(i + 7));
    }
}

/// Runs `per_client` calls on each of `clients` threads; returns the elapsed
/// time.
fn run(clients: usize, per_client: u64) -> Duration {
    let (net, ends) = network(clients);
    // Warm up: grow the handler pool and fault in the code.
    thread::scope(|s| {
        for end in &ends {
            s.spawn(|| calls(end, 200));
        }
    });
    let start = Instant::now();
    thread::scope(|s| {
        for end in &ends {
            s.spawn(|| calls(end, per_client));
        }
    });
    let elapsed = start.elapsed();
    black_box(net.total_bytes());
    net.cleanup();
    elapsed
}

fn main() {
    // `cargo bench` passes flags such as `--bench`; there is nothing to choose.
    println!("labrpc benchmark: reliable network, {} cores", num_cpus());
    println!(
        "{:>8} {:>12} {:>14} {:>12}",
        "clients", "rpcs", "µs per rpc", "rpcs/s"
    );
    for (clients, per_client) in [(1, 100_000), (4, 25_000), (16, 10_000), (64, 2_500)] {
        let total = clients as u64 * per_client;
        let best = (0..3)
            .map(|_| run(clients, per_client))
            .min()
            .expect("three runs");
        let per_rpc = best.as_secs_f64() * 1e6 / total as f64;
        // For one client this is the round-trip time; for several, the
        // wall-clock time per RPC with all of them in flight.
        println!(
            "{clients:>8} {total:>12} {per_rpc:>14.2} {:>12.0}",
            total as f64 / best.as_secs_f64()
        );
    }
}

fn num_cpus() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}
