//! The course's `GenericTest` and `GenericTestSpeed`, and the checks on the
//! values clients appended.

use labrpc::rt::sync::atomic::{AtomicBool, Ordering};
use labrpc::rt::thread;
use labrpc::rt::time::{Duration, Instant};

pub use tests::kv::element;
use tests::kv::{Config, appends_in_order, difference};
pub use tests::support::ELECTION_TIMEOUT;
use tests::support::Net;

/// What a generic test does besides clients running operations.
#[derive(Clone, Copy, Default)]
pub struct Setup {
    /// Clients running at once.
    pub clients: usize,
    /// Servers.
    pub servers: usize,
    /// Whether the network loses and delays messages.
    pub net: Net,
    /// Every server crashes and restarts after each round.
    pub crash: bool,
    /// The servers are repartitioned every 1–1.2 s during each round.
    pub partitions: bool,
    /// Servers snapshot near this many bytes of Raft state.
    pub max_raft_state: Option<usize>,
    /// Clients pick random keys (and the history is only checked for
    /// linearizability).
    pub random_keys: bool,
}

/// Checks that `value` holds client `client`'s first `count` elements, each
/// once, in order; fails the test if not.
pub fn check_client_appends(cfg: &Config, client: usize, value: &str, count: usize) {
    if let Err(error) = appends_in_order(client, value, count) {
        cfg.fail(error);
    }
}

/// The course's `GenericTest`: three rounds of five seconds in which clients
/// append and get (checking what they read), with the faults `setup` asks
/// for; after each round every client's appends must be present, once, in
/// order; the logs must stay trimmed (or, without snapshots, no snapshot
/// exist); at the end every operation must be linearizable.
pub fn generic_test(part: &str, setup: Setup) {
    let mut title = String::from("Test: ");
    if setup.net == Net::Unreliable {
        title += "unreliable net, ";
    }
    if setup.crash {
        title += "restarts, ";
    }
    if setup.partitions {
        title += "partitions, ";
    }
    if setup.max_raft_state.is_some() {
        title += "snapshots, ";
    }
    if setup.random_keys {
        title += "random keys, ";
    }
    title += if setup.clients > 1 {
        "many clients"
    } else {
        "one client"
    };
    title += &format!(" ({part})");

    let cfg = Config::new(setup.servers, setup.net, setup.max_raft_state);
    cfg.begin(&title);
    let mut ck = cfg.make_client(&cfg.all());

    for _ in 0..3 {
        let clients_done = AtomicBool::new(false);
        let partitioner_done = AtomicBool::new(false);
        let counts: Vec<usize> = thread::scope(|s| {
            let clients: Vec<_> = (0..setup.clients)
                .map(|cli| {
                    let (cfg, done) = (&cfg, &clients_done);
                    s.spawn(move || run_client(cfg, cli, setup, done))
                })
                .collect();

            let partitioner = setup.partitions.then(|| {
                // Let the clients work undisturbed for a while first.
                thread::sleep(Duration::from_secs(1));
                let (cfg, done) = (&cfg, &partitioner_done);
                s.spawn(move || partitioner(cfg, done))
            });
            thread::sleep(Duration::from_secs(5));

            clients_done.store(true, Ordering::SeqCst);
            partitioner_done.store(true, Ordering::SeqCst);

            if let Some(partitioner) = partitioner {
                if partitioner.join().is_err() {
                    cfg.fail("the partitioner failed (its panic is above)");
                }
                // Reconnect, and wait for a new term: a client may have sent
                // a request to a minority, which will not return until its
                // server learns that a new term has started.
                cfg.connect_all();
                thread::sleep(ELECTION_TIMEOUT);
            }

            if setup.crash {
                for i in 0..setup.servers {
                    cfg.shutdown_server(i);
                }
                // Shutdown is not a real crash and is not instantaneous.
                thread::sleep(ELECTION_TIMEOUT);
                for i in 0..setup.servers {
                    cfg.start_server(i);
                }
                cfg.connect_all();
            }

            clients
                .into_iter()
                .map(|client| match client.join() {
                    Ok(count) => count,
                    Err(_) => cfg.fail("a client failed (its panic is above)"),
                })
                .collect()
        });

        for (cli, &count) in counts.iter().enumerate() {
            let value = ck.get(&cli.to_string());
            if !setup.random_keys {
                check_client_appends(&cfg, cli, &value, count);
            }
        }

        match setup.max_raft_state {
            // Check after the servers processed every request and had time
            // to snapshot.
            Some(max) => {
                let size = cfg.log_size();
                if size > 8 * max {
                    cfg.fail(format!("logs were not trimmed ({size} > 8*{max})"));
                }
            }
            None => {
                let size = cfg.snapshot_size();
                if size > 0 {
                    cfg.fail(format!(
                        "snapshot too large ({size}), should not be used when maxraftstate is unset"
                    ));
                }
            }
        }
    }

    cfg.check_linearizable();
    cfg.end();
}

/// One client of the generic test: appends (and with random keys, puts) or
/// gets until told to stop; returns how many elements it wrote.
fn run_client(cfg: &Config, cli: usize, setup: Setup, done: &AtomicBool) -> usize {
    let mut clerk = cfg.make_client(&cfg.all());
    let mut j = 0;
    let mut last = String::new();
    if !setup.random_keys {
        clerk.put(&cli.to_string(), &last);
    }
    while !done.load(Ordering::SeqCst) {
        let key = if setup.random_keys {
            cfg.random(setup.clients as u64).to_string()
        } else {
            cli.to_string()
        };
        let value = element(cli, j);
        if cfg.random(1000) < 500 {
            clerk.append(&key, &value);
            if !setup.random_keys {
                last += &value;
            }
            j += 1;
        } else if setup.random_keys && cfg.random(1000) < 100 {
            // Only with random keys: it would break the check of gets below.
            clerk.put(&key, &value);
            j += 1;
        } else {
            let got = clerk.get(&key);
            if !setup.random_keys && got != last {
                cfg.fail(format!(
                    "get wrong value, key {key}: {}",
                    difference(&last, &got)
                ));
            }
        }
    }
    j
}

/// Repartitions the servers at random every 1–1.2 s until told to stop.
fn partitioner(cfg: &Config, done: &AtomicBool) {
    while !done.load(Ordering::SeqCst) {
        let sides: Vec<u64> = (0..cfg.n()).map(|_| cfg.random(2)).collect();
        let side = |s| -> Vec<usize> { (0..cfg.n()).filter(|&i| sides[i] == s).collect() };
        cfg.partition(&side(0), &side(1));
        thread::sleep(ELECTION_TIMEOUT + Duration::from_millis(cfg.random(200)));
    }
}

/// The course's `GenericTestSpeed`: 1000 appends one after another, each
/// within a third of a heartbeat interval on average.
pub fn generic_test_speed(part: &str, max_raft_state: Option<usize>) {
    const SERVERS: usize = 3;
    const OPS: usize = 1000;
    // Heartbeats come every 100 ms or so; at least three operations must
    // complete per interval.
    const TIME_PER_OP: Duration = Duration::from_nanos(100_000_000 / 3);

    let cfg = Config::new(SERVERS, Net::Reliable, max_raft_state);
    let mut ck = cfg.make_client(&cfg.all());
    cfg.begin(&format!("Test: ops complete fast enough ({part})"));

    // Wait for the first operation, so that a leader is elected and the
    // servers are ready.
    ck.clerk_mut().get("x");

    let start = Instant::now();
    for i in 0..OPS {
        ck.clerk_mut().append("x", &element(0, i));
    }
    let took = start.elapsed();

    let value = ck.clerk_mut().get("x");
    check_client_appends(&cfg, 0, &value, OPS);

    let per_op = took / OPS as u32;
    println!("  {:.3} ms per operation", per_op.as_secs_f64() * 1e3);
    if per_op > TIME_PER_OP {
        cfg.fail(format!(
            "Operations completed too slowly {per_op:?}/op > {TIME_PER_OP:?}/op"
        ));
    }
    cfg.end();
}
