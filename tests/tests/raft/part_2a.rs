//! Part 2A: leader election.

use labrpc::rt::thread;
use labrpc::rt::time::Duration;

use tests::raft::{Applier, Config, ELECTION_TIMEOUT};
use tests::support::{Net, run};

#[test]
fn initial_election_2a() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2A): initial election");

        // Is a leader elected?
        cfg.check_one_leader();

        // Sleep a bit to avoid racing with followers learning of the election,
        // then check that all peers agree on the term.
        thread::sleep(Duration::from_millis(50));
        let term1 = cfg.check_terms().unwrap_or(0);
        if term1 < 1 {
            cfg.fail(format!("term is {term1}, but should be at least 1"));
        }

        // Does the leader and term stay the same with no network failure?
        thread::sleep(2 * ELECTION_TIMEOUT);
        let term2 = cfg.check_terms().unwrap_or(0);
        if term1 != term2 {
            println!("warning: term changed even though there were no failures");
        }

        // There should still be a leader.
        cfg.check_one_leader();
        cfg.end();
    });
}

#[test]
fn re_election_2a() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2A): election after network failure");
        let leader1 = cfg.check_one_leader();

        // If the leader disconnects, a new one should be elected.
        cfg.disconnect(leader1);
        cfg.check_one_leader();

        // If the old leader rejoins, that should not disturb the new leader, and
        // the old leader should become a follower.
        cfg.connect(leader1);
        let leader2 = cfg.check_one_leader();

        // Without a quorum, no new leader should be elected.
        cfg.disconnect(leader2);
        cfg.disconnect((leader2 + 1) % servers);
        thread::sleep(2 * ELECTION_TIMEOUT);

        // The one connected server must not think it is the leader.
        cfg.check_no_leader();

        // When a quorum arises, it should elect a leader.
        cfg.connect((leader2 + 1) % servers);
        cfg.check_one_leader();

        // The last node rejoining should not prevent a leader from existing.
        cfg.connect(leader2);
        cfg.check_one_leader();
        cfg.end();
    });
}

#[test]
fn many_elections_2a() {
    run(|| {
        let servers = 7;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2A): multiple elections");
        cfg.check_one_leader();

        let iters = 10;
        for _ in 1..iters {
            // Disconnect three nodes (perhaps fewer: the picks may repeat).
            let picks: Vec<usize> = (0..3)
                .map(|_| cfg.random(servers as u64) as usize)
                .collect();
            for &i in &picks {
                cfg.disconnect(i);
            }

            // Either the current leader is still alive, or the remaining four
            // elect a new one.
            cfg.check_one_leader();

            for &i in &picks {
                cfg.connect(i);
            }
        }
        cfg.check_one_leader();
        cfg.end();
    });
}
