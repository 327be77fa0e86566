//! Part 2C: persistence.

use labrpc::rt::thread;
use labrpc::rt::time::Duration;
use std::sync::atomic::{AtomicBool, Ordering};

use tests::raft::{Applier, Command, Config, ELECTION_TIMEOUT, Retry};
use tests::support::{Net, run};

#[test]
fn persist1_2c() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2C): basic persistence");

        cfg.one(11, servers, Retry::Resubmit);

        // Crash and restart all.
        for i in 0..servers {
            cfg.start1(i);
        }
        for i in 0..servers {
            cfg.disconnect(i);
            cfg.connect(i);
        }

        cfg.one(12, servers, Retry::Resubmit);

        let leader1 = cfg.check_one_leader();
        cfg.disconnect(leader1);
        cfg.start1(leader1);
        cfg.connect(leader1);

        cfg.one(13, servers, Retry::Resubmit);

        let leader2 = cfg.check_one_leader();
        cfg.disconnect(leader2);
        cfg.one(14, servers - 1, Retry::Resubmit);
        cfg.start1(leader2);
        cfg.connect(leader2);

        // Wait for leader2 to join before killing i3.
        cfg.wait(4, servers, None);

        let i3 = (cfg.check_one_leader() + 1) % servers;
        cfg.disconnect(i3);
        cfg.one(15, servers - 1, Retry::Resubmit);
        cfg.start1(i3);
        cfg.connect(i3);

        cfg.one(16, servers, Retry::Resubmit);
        cfg.end();
    });
}

#[test]
fn persist2_2c() {
    run(|| {
        let servers = 5;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2C): more persistence");

        let mut index = 1;
        for _ in 0..5 {
            cfg.one(10 + index, servers, Retry::Resubmit);
            index += 1;

            let leader1 = cfg.check_one_leader();

            cfg.disconnect((leader1 + 1) % servers);
            cfg.disconnect((leader1 + 2) % servers);

            cfg.one(10 + index, servers - 2, Retry::Resubmit);
            index += 1;

            cfg.disconnect(leader1);
            cfg.disconnect((leader1 + 3) % servers);
            cfg.disconnect((leader1 + 4) % servers);

            cfg.start1((leader1 + 1) % servers);
            cfg.start1((leader1 + 2) % servers);
            cfg.connect((leader1 + 1) % servers);
            cfg.connect((leader1 + 2) % servers);

            thread::sleep(ELECTION_TIMEOUT);

            cfg.start1((leader1 + 3) % servers);
            cfg.connect((leader1 + 3) % servers);

            cfg.one(10 + index, servers - 2, Retry::Resubmit);
            index += 1;

            cfg.connect((leader1 + 4) % servers);
            cfg.connect(leader1);
        }

        cfg.one(1000, servers, Retry::Resubmit);
        cfg.end();
    });
}

#[test]
fn persist3_2c() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2C): partitioned leader and one follower crash, leader restarts");

        cfg.one(101, 3, Retry::Resubmit);

        let leader = cfg.check_one_leader();
        cfg.disconnect((leader + 2) % servers);

        cfg.one(102, 2, Retry::Resubmit);

        cfg.crash1(leader);
        cfg.crash1((leader + 1) % servers);
        cfg.connect((leader + 2) % servers);
        cfg.start1(leader);
        cfg.connect(leader);

        cfg.one(103, 2, Retry::Resubmit);

        cfg.start1((leader + 1) % servers);
        cfg.connect((leader + 1) % servers);

        cfg.one(104, servers, Retry::Resubmit);
        cfg.end();
    });
}

/// Sleeps as the Figure 8 tests do: 10 % of the time up to half an election
/// timeout, otherwise up to 12 ms.
fn figure_8_pause(cfg: &Config) {
    let ms = if cfg.random(1000) < 100 {
        cfg.random(ELECTION_TIMEOUT.as_millis() as u64 / 2)
    } else {
        cfg.random(13)
    };
    thread::sleep(Duration::from_millis(ms));
}

/// The scenario of the paper's Figure 8: leaders crash with entries only
/// some peers have, and later leaders must not commit those by counting.
#[test]
fn figure_8_2c() {
    run(|| {
        let servers = 5;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2C): Figure 8");

        cfg.one(cfg.random_int(), 1, Retry::Resubmit);

        let mut nup = servers;
        for _ in 0..1000 {
            let mut leader = None;
            for i in 0..servers {
                if cfg.start(i, cfg.random_int()).is_some() {
                    leader = Some(i);
                }
            }

            figure_8_pause(&cfg);

            if let Some(leader) = leader {
                cfg.crash1(leader);
                nup -= 1;
            }

            if nup < 3 {
                let s = cfg.random(servers as u64) as usize;
                if cfg.raft(s).is_none() {
                    cfg.start1(s);
                    cfg.connect(s);
                    nup += 1;
                }
            }
        }

        for i in 0..servers {
            if cfg.raft(i).is_none() {
                cfg.start1(i);
                cfg.connect(i);
            }
        }

        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}

#[test]
fn unreliable_agree_2c() {
    run(|| {
        let servers = 5;
        let cfg = Config::new(servers, Net::Unreliable, Applier::Plain);
        cfg.begin("Test (2C): unreliable agreement");

        thread::scope(|s| {
            let mut clients = Vec::new();
            for iters in 1..50 {
                for j in 0..4 {
                    let cfg = &cfg;
                    clients.push(s.spawn(move || cfg.one(100 * iters + j, 1, Retry::Resubmit)));
                }
                cfg.one(iters, 1, Retry::Resubmit);
            }

            cfg.set_net(Net::Reliable);

            for client in clients {
                if client.join().is_err() {
                    cfg.fail("a concurrent one() failed (its panic is above)");
                }
            }
        });

        cfg.one(100, servers, Retry::Resubmit);
        cfg.end();
    });
}

#[test]
fn figure_8_unreliable_2c() {
    run(|| {
        let servers = 5;
        let cfg = Config::new(servers, Net::Unreliable, Applier::Plain);
        cfg.begin("Test (2C): Figure 8 (unreliable)");

        cfg.one(cfg.random(10_000), 1, Retry::Resubmit);

        let mut nup = servers;
        for iters in 0..1000 {
            if iters == 200 {
                cfg.set_long_reordering(true);
            }
            let mut leader = None;
            for i in 0..servers {
                if cfg.start(i, cfg.random(10_000)).is_some() && cfg.is_connected(i) {
                    leader = Some(i);
                }
            }

            figure_8_pause(&cfg);

            if let Some(leader) = leader
                && cfg.random(1000) < ELECTION_TIMEOUT.as_millis() as u64 / 2
            {
                cfg.disconnect(leader);
                nup -= 1;
            }

            if nup < 3 {
                let s = cfg.random(servers as u64) as usize;
                if !cfg.is_connected(s) {
                    cfg.connect(s);
                    nup += 1;
                }
            }
        }

        for i in 0..servers {
            if !cfg.is_connected(i) {
                cfg.connect(i);
            }
        }

        cfg.one(cfg.random(10_000), servers, Retry::Resubmit);
        cfg.end();
    });
}

/// Three clients keep submitting while peers are disconnected, crashed and
/// restarted; every value a client saw committed must be in the final log.
fn internal_churn(net: Net) {
    let servers = 5;
    let cfg = Config::new(servers, net, Applier::Plain);
    cfg.begin(if net == Net::Unreliable {
        "Test (2C): unreliable churn"
    } else {
        "Test (2C): churn"
    });

    let stop = AtomicBool::new(false);

    // One client: submits values to whichever peer leads, and records those
    // it sees committed.
    let client = |me: u64| {
        let mut values = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            let x = cfg.random_int();
            let mut index = None;
            for i in 0..servers {
                // Try them all; maybe one of them is a leader.
                if let Some((index1, _)) = cfg.start(i, x) {
                    index = Some(index1);
                }
            }
            let Some(index) = index else {
                thread::sleep(Duration::from_millis(79 + me * 17));
                continue;
            };
            // Maybe the leader will commit the value, maybe not; but do not
            // wait forever.
            for pause in [10, 20, 50, 100, 200] {
                let (committed, cmd) = cfg.n_committed(index);
                if committed > 0 {
                    match cmd {
                        Some(Command::Int(xx)) if xx == x => values.push(x),
                        Some(Command::Int(_)) => {}
                        other => cfg.fail(format!("wrong command type: {other:?}")),
                    }
                    break;
                }
                thread::sleep(Duration::from_millis(pause));
            }
        }
        values
    };

    let values: Vec<u64> = thread::scope(|s| {
        let clients: Vec<_> = (0..3).map(|me| s.spawn(move || client(me))).collect();

        for _ in 0..20 {
            if cfg.random(1000) < 200 {
                let i = cfg.random(servers as u64) as usize;
                cfg.disconnect(i);
            }

            if cfg.random(1000) < 500 {
                let i = cfg.random(servers as u64) as usize;
                if cfg.raft(i).is_none() {
                    cfg.start1(i);
                }
                cfg.connect(i);
            }

            if cfg.random(1000) < 200 {
                let i = cfg.random(servers as u64) as usize;
                if cfg.raft(i).is_some() {
                    cfg.crash1(i);
                }
            }

            // Often enough that peers cannot settle between changes, rarely
            // enough that they can often keep up: a bit under an election
            // timeout.
            thread::sleep(ELECTION_TIMEOUT * 7 / 10);
        }

        thread::sleep(ELECTION_TIMEOUT);
        cfg.set_net(Net::Reliable);
        for i in 0..servers {
            if cfg.raft(i).is_none() {
                cfg.start1(i);
            }
            cfg.connect(i);
        }

        stop.store(true, Ordering::SeqCst);

        let mut values = Vec::new();
        for client in clients {
            match client.join() {
                Ok(v) => values.extend(v),
                Err(_) => cfg.fail("client failed (its panic is above)"),
            }
        }
        values
    });

    thread::sleep(ELECTION_TIMEOUT);

    let last_index = cfg.one(cfg.random_int(), servers, Retry::Resubmit);

    let mut really = Vec::new();
    for index in 1..=last_index {
        match cfg.wait(index, servers, None) {
            Some(Command::Int(v)) => really.push(v),
            other => cfg.fail(format!("not an int: {other:?} at index {index}")),
        }
    }

    for v1 in values {
        if !really.contains(&v1) {
            cfg.fail(format!(
                "didn't find a value: {v1} was seen committed by a client but is not in the \
                 final log of {last_index} entries"
            ));
        }
    }
    cfg.end();
}

#[test]
fn reliable_churn_2c() {
    run(|| {
        internal_churn(Net::Reliable);
    });
}

#[test]
fn unreliable_churn_2c() {
    run(|| {
        internal_churn(Net::Unreliable);
    });
}
