//! Part 2B: log replication.

use labrpc::rt::thread;
use labrpc::rt::time::Duration;

use tests::raft::{Applier, Command, Config, ELECTION_TIMEOUT, Retry};
use tests::support::{Net, run};

#[test]
fn basic_agree_2b() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2B): basic agreement");

        for index in 1..=3 {
            let (committed, _) = cfg.n_committed(index);
            if committed > 0 {
                cfg.fail("some have committed before start()");
            }
            let xindex = cfg.one(index * 100, servers, Retry::Never);
            if xindex != index {
                cfg.fail(format!("got index {xindex} but expected {index}"));
            }
        }
        cfg.end();
    });
}

/// Checks, by counting the bytes of RPCs, that each command is sent to each
/// peer just once.
#[test]
fn rpc_bytes_2b() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2B): RPC byte count");

        cfg.one(99, servers, Retry::Never);
        let bytes0 = cfg.bytes_total();

        let mut sent = 0;
        for index in 2..12 {
            let cmd = cfg.random_string(5000);
            sent += cmd.len() as u64;
            let xindex = cfg.one(Command::Text(cmd), servers, Retry::Never);
            if xindex != index {
                cfg.fail(format!("got index {xindex} but expected {index}"));
            }
        }

        let got = cfg.bytes_total() - bytes0;
        let expected = servers as u64 * sent;
        if got > expected + 50_000 {
            cfg.fail(format!(
                "too many RPC bytes; got {got}, expected {expected}"
            ));
        }
        cfg.end();
    });
}

/// Failure of followers only.
#[test]
fn follower_failure_2b() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2B): test progressive failure of followers");

        cfg.one(101, servers, Retry::Never);

        // Disconnect one follower from the network.
        let leader1 = cfg.check_one_leader();
        cfg.disconnect((leader1 + 1) % servers);

        // The leader and the remaining follower should agree despite the
        // disconnected follower.
        cfg.one(102, servers - 1, Retry::Never);
        thread::sleep(ELECTION_TIMEOUT);
        cfg.one(103, servers - 1, Retry::Never);

        // Disconnect the remaining follower.
        let leader2 = cfg.check_one_leader();
        cfg.disconnect((leader2 + 1) % servers);
        cfg.disconnect((leader2 + 2) % servers);

        // Submit a command.
        let Some((index, _)) = cfg.start(leader2, 104) else {
            cfg.fail("leader rejected start()");
        };
        if index != 4 {
            cfg.fail(format!("expected index 4, got {index}"));
        }

        thread::sleep(2 * ELECTION_TIMEOUT);

        // Command 104 must not have committed.
        let (committed, _) = cfg.n_committed(index);
        if committed > 0 {
            cfg.fail(format!("{committed} committed but no majority"));
        }
        cfg.end();
    });
}

/// Failure of leaders only.
#[test]
fn leader_failure_2b() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2B): test failure of leaders");

        cfg.one(101, servers, Retry::Never);

        // Disconnect the first leader.
        let leader1 = cfg.check_one_leader();
        cfg.disconnect(leader1);

        // The remaining followers should elect a new leader.
        cfg.one(102, servers - 1, Retry::Never);
        thread::sleep(ELECTION_TIMEOUT);
        cfg.one(103, servers - 1, Retry::Never);

        // Disconnect the new leader.
        let leader2 = cfg.check_one_leader();
        cfg.disconnect(leader2);

        // Submit a command to each server.
        for i in 0..servers {
            cfg.start(i, 104);
        }

        thread::sleep(2 * ELECTION_TIMEOUT);

        // Command 104 must not have committed.
        let (committed, _) = cfg.n_committed(4);
        if committed > 0 {
            cfg.fail(format!("{committed} committed but no majority"));
        }
        cfg.end();
    });
}

/// A follower participates after disconnect and reconnect.
#[test]
fn fail_agree_2b() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2B): agreement after follower reconnects");

        cfg.one(101, servers, Retry::Never);

        // Disconnect one follower from the network.
        let leader = cfg.check_one_leader();
        cfg.disconnect((leader + 1) % servers);

        // The leader and the remaining follower should agree despite the
        // disconnected follower.
        cfg.one(102, servers - 1, Retry::Never);
        cfg.one(103, servers - 1, Retry::Never);
        thread::sleep(ELECTION_TIMEOUT);
        cfg.one(104, servers - 1, Retry::Never);
        cfg.one(105, servers - 1, Retry::Never);

        // Reconnect.
        cfg.connect((leader + 1) % servers);

        // The full set of servers should keep earlier agreements, and agree on
        // new commands.
        cfg.one(106, servers, Retry::Resubmit);
        thread::sleep(ELECTION_TIMEOUT);
        cfg.one(107, servers, Retry::Resubmit);
        cfg.end();
    });
}

#[test]
fn fail_no_agree_2b() {
    run(|| {
        let servers = 5;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2B): no agreement if too many followers disconnect");

        cfg.one(10, servers, Retry::Never);

        // 3 of 5 followers disconnect.
        let leader = cfg.check_one_leader();
        for k in 1..=3 {
            cfg.disconnect((leader + k) % servers);
        }

        let Some((index, _)) = cfg.start(leader, 20) else {
            cfg.fail("leader rejected start()");
        };
        if index != 2 {
            cfg.fail(format!("expected index 2, got {index}"));
        }

        thread::sleep(2 * ELECTION_TIMEOUT);

        let (committed, _) = cfg.n_committed(index);
        if committed > 0 {
            cfg.fail(format!("{committed} committed but no majority"));
        }

        // Repair.
        for k in 1..=3 {
            cfg.connect((leader + k) % servers);
        }

        // The disconnected majority may have chosen a leader from among their
        // own ranks, forgetting index 2.
        let leader2 = cfg.check_one_leader();
        let Some((index2, _)) = cfg.start(leader2, 30) else {
            cfg.fail("leader2 rejected start()");
        };
        if !(2..=3).contains(&index2) {
            cfg.fail(format!("unexpected index {index2}"));
        }

        cfg.one(1000, servers, Retry::Resubmit);
        cfg.end();
    });
}

#[test]
fn concurrent_starts_2b() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2B): concurrent Start()s");

        let mut success = false;
        'attempts: for attempt in 0..5 {
            if attempt > 0 {
                // Give the solution some time to settle.
                thread::sleep(Duration::from_secs(3));
            }

            let leader = cfg.check_one_leader();
            let Some((_, term)) = cfg.start(leader, 1) else {
                // The leader moved on really quickly.
                continue;
            };

            let iters = 5;
            let indices: Vec<u64> = thread::scope(|s| {
                let starts: Vec<_> = (0..iters)
                    .map(|i| {
                        let cfg = &cfg;
                        s.spawn(move || match cfg.start(leader, 100 + i) {
                            Some((index, term1)) if term1 == term => Some(index),
                            _ => None,
                        })
                    })
                    .collect();
                starts
                    .into_iter()
                    .filter_map(|h| h.join().expect("a start() thread panicked"))
                    .collect()
            });

            for j in 0..servers {
                if cfg.state(j).is_some_and(|(t, _)| t != term) {
                    // The term changed: cannot expect low RPC counts.
                    continue 'attempts;
                }
            }

            let mut cmds = Vec::new();
            for index in indices {
                match cfg.wait(index, servers, Some(term)) {
                    Some(Command::Int(x)) => cmds.push(x),
                    // Peers have moved on to later terms, so not every start()
                    // can be expected to have succeeded.
                    None => continue 'attempts,
                    Some(other) => cfg.fail(format!("value {other:?} is not an int")),
                }
            }

            for i in 0..iters {
                let x = 100 + i;
                if !cmds.contains(&x) {
                    cfg.fail(format!("cmd {x} missing in {cmds:?}"));
                }
            }
            success = true;
            break;
        }

        if !success {
            cfg.fail("term changed too often");
        }
        cfg.end();
    });
}

#[test]
fn rejoin_2b() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2B): rejoin of partitioned leader");

        cfg.one(101, servers, Retry::Resubmit);

        // Leader network failure.
        let leader1 = cfg.check_one_leader();
        cfg.disconnect(leader1);

        // Make the old leader try to agree on some entries.
        cfg.start(leader1, 102);
        cfg.start(leader1, 103);
        cfg.start(leader1, 104);

        // The new leader commits, also for index 2.
        cfg.one(103, 2, Retry::Resubmit);

        // New leader network failure.
        let leader2 = cfg.check_one_leader();
        cfg.disconnect(leader2);

        // Old leader connected again.
        cfg.connect(leader1);

        cfg.one(104, 2, Retry::Resubmit);

        // All together now.
        cfg.connect(leader2);

        cfg.one(105, servers, Retry::Resubmit);
        cfg.end();
    });
}

#[test]
fn backup_2b() {
    run(|| {
        let servers = 5;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2B): leader backs up quickly over incorrect follower logs");

        cfg.one(cfg.random_int(), servers, Retry::Resubmit);

        // Put the leader and one follower in a partition.
        let leader1 = cfg.check_one_leader();
        for k in 2..=4 {
            cfg.disconnect((leader1 + k) % servers);
        }

        // Submit lots of commands that will not commit.
        for _ in 0..50 {
            cfg.start(leader1, cfg.random_int());
        }

        thread::sleep(ELECTION_TIMEOUT / 2);

        cfg.disconnect(leader1);
        cfg.disconnect((leader1 + 1) % servers);

        // Allow the other partition to recover.
        for k in 2..=4 {
            cfg.connect((leader1 + k) % servers);
        }

        // Lots of successful commands to the new group.
        for _ in 0..50 {
            cfg.one(cfg.random_int(), 3, Retry::Resubmit);
        }

        // Now another partitioned leader and one follower.
        let leader2 = cfg.check_one_leader();
        let mut other = (leader1 + 2) % servers;
        if leader2 == other {
            other = (leader2 + 1) % servers;
        }
        cfg.disconnect(other);

        // Lots more commands that will not commit.
        for _ in 0..50 {
            cfg.start(leader2, cfg.random_int());
        }

        thread::sleep(ELECTION_TIMEOUT / 2);

        // Bring the original leader back to life.
        for i in 0..servers {
            cfg.disconnect(i);
        }
        cfg.connect(leader1);
        cfg.connect((leader1 + 1) % servers);
        cfg.connect(other);

        // Lots of successful commands to the new group.
        for _ in 0..50 {
            cfg.one(cfg.random_int(), 3, Retry::Resubmit);
        }

        // Now everyone.
        for i in 0..servers {
            cfg.connect(i);
        }
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}

#[test]
fn count_2b() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2B): RPC counts aren't too high");

        let rpcs = || (0..servers).map(|j| cfg.rpc_count(j)).sum::<u64>();

        cfg.check_one_leader();
        let mut total1 = rpcs();
        if !(1..=30).contains(&total1) {
            cfg.fail(format!(
                "too many or few RPCs ({total1}) to elect initial leader"
            ));
        }

        let iters = 10;
        let mut total2 = 0;
        let mut success = false;
        'attempts: for attempt in 0..5 {
            if attempt > 0 {
                // Give the solution some time to settle.
                thread::sleep(Duration::from_secs(3));
            }

            let leader = cfg.check_one_leader();
            total1 = rpcs();

            let Some((start_index, term)) = cfg.start(leader, 1) else {
                // The leader moved on really quickly.
                continue;
            };
            let mut cmds = Vec::new();
            for i in 1..iters + 2 {
                let x = cfg.random(1 << 31);
                cmds.push(x);
                match cfg.start(leader, x) {
                    // No longer the leader, or the term changed while starting.
                    None => continue 'attempts,
                    Some((_, term1)) if term1 != term => continue 'attempts,
                    Some((index1, _)) if index1 != start_index + i => cfg.fail(format!(
                        "start() failed: index {index1}, expected {}",
                        start_index + i
                    )),
                    Some(_) => {}
                }
            }

            for i in 1..iters + 1 {
                let index = start_index + i;
                let expected = cmds[(i - 1) as usize];
                match cfg.wait(index, servers, Some(term)) {
                    Some(Command::Int(x)) if x == expected => {}
                    // The term changed: try again.
                    None => continue 'attempts,
                    Some(other) => cfg.fail(format!(
                        "wrong value {other:?} committed for index {index}; expected {cmds:?}"
                    )),
                }
            }

            let mut failed = false;
            total2 = 0;
            for j in 0..servers {
                if cfg.state(j).is_some_and(|(t, _)| t != term) {
                    // The term changed: cannot expect low RPC counts. Keep
                    // going to update total2.
                    failed = true;
                }
                total2 += cfg.rpc_count(j);
            }
            if failed {
                continue 'attempts;
            }

            if total2 - total1 > (iters + 1 + 3) * 3 {
                cfg.fail(format!(
                    "too many RPCs ({}) for {iters} entries",
                    total2 - total1
                ));
            }
            success = true;
            break;
        }

        if !success {
            cfg.fail("term changed too often");
        }

        thread::sleep(ELECTION_TIMEOUT);

        let total3 = rpcs();
        if total3 - total2 > 3 * 20 {
            cfg.fail(format!(
                "too many RPCs ({}) for 1 second of idleness",
                total3 - total2
            ));
        }
        cfg.end();
    });
}
