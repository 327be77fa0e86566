//! Part 2D: log compaction (snapshots).

use tests::raft::{Applier, Config, MAX_LOG_SIZE, Retry, SNAPSHOT_INTERVAL};
use tests::support::{Net, run};

/// What happens to each round's victim in [`snapshot_common`] (the course's
/// `disconnect` and `crash` flags, never both set).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Victim {
    /// Nothing: every peer sees every command.
    Stays,
    /// It is cut off while the others commit, then reconnected.
    Disconnected,
    /// It crashes while the others commit, then restarts.
    Crashed,
}

/// The course's `snapcommon(t, name, disconnect, reliable, crash)`: 30
/// rounds in which a victim is disconnected or crashed (or neither) while
/// enough commands for a snapshot are committed without it; it must then
/// catch up, by InstallSnapshot where needed, while the saved Raft state
/// stays under [`MAX_LOG_SIZE`].
fn snapshot_common(name: &str, victim_fate: Victim, net: Net) {
    let iters = 30;
    let servers = 3;
    let disconnect = victim_fate == Victim::Disconnected;
    let crash = victim_fate == Victim::Crashed;
    let cfg = Config::new(servers, net, Applier::Snapshot);
    cfg.begin(name);

    cfg.one(cfg.random_int(), servers, Retry::Resubmit);
    let mut leader1 = cfg.check_one_leader();

    for i in 0..iters {
        let (mut victim, mut sender) = ((leader1 + 1) % servers, leader1);
        if i % 3 == 1 {
            (victim, sender) = (leader1, (leader1 + 1) % servers);
        }

        if disconnect {
            cfg.disconnect(victim);
            cfg.one(cfg.random_int(), servers - 1, Retry::Resubmit);
        }
        if crash {
            cfg.crash1(victim);
            cfg.one(cfg.random_int(), servers - 1, Retry::Resubmit);
        }

        // Perhaps send enough to get a snapshot.
        let nn = SNAPSHOT_INTERVAL / 2 + cfg.random(SNAPSHOT_INTERVAL);
        for _ in 0..nn {
            cfg.start(sender, cfg.random_int());
        }

        // Let the appliers catch up with the start()s.
        if !disconnect && !crash {
            // Make sure all followers have caught up, so that the basic test
            // needs no InstallSnapshot.
            cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        } else {
            cfg.one(cfg.random_int(), servers - 1, Retry::Resubmit);
        }

        let size = cfg.log_size();
        if size >= MAX_LOG_SIZE {
            cfg.fail(format!(
                "Log size too large: {size} bytes of saved Raft state (limit {MAX_LOG_SIZE})"
            ));
        }

        if disconnect {
            // Reconnect a follower, which may be behind and need a snapshot
            // to catch up.
            cfg.connect(victim);
            cfg.one(cfg.random_int(), servers, Retry::Resubmit);
            leader1 = cfg.check_one_leader();
        }
        if crash {
            cfg.start1(victim);
            cfg.connect(victim);
            cfg.one(cfg.random_int(), servers, Retry::Resubmit);
            leader1 = cfg.check_one_leader();
        }
    }
    cfg.end();
}

/// Crashes every peer, then restarts and reconnects each from what it
/// persisted.
fn crash_and_restart_all(cfg: &Config, servers: usize) {
    for i in 0..servers {
        cfg.crash1(i);
    }
    for i in 0..servers {
        cfg.start1(i);
        cfg.connect(i);
    }
}

#[test]
fn snapshot_basic_2d() {
    run(|| {
        snapshot_common("Test (2D): snapshots basic", Victim::Stays, Net::Reliable);
    });
}

#[test]
fn snapshot_install_2d() {
    run(|| {
        snapshot_common(
            "Test (2D): install snapshots (disconnect)",
            Victim::Disconnected,
            Net::Reliable,
        );
    });
}

#[test]
fn snapshot_install_unreliable_2d() {
    run(|| {
        snapshot_common(
            "Test (2D): install snapshots (disconnect+unreliable)",
            Victim::Disconnected,
            Net::Unreliable,
        );
    });
}

#[test]
fn snapshot_install_crash_2d() {
    run(|| {
        snapshot_common(
            "Test (2D): install snapshots (crash)",
            Victim::Crashed,
            Net::Reliable,
        );
    });
}

#[test]
fn snapshot_install_uncrash_2d() {
    run(|| {
        snapshot_common(
            "Test (2D): install snapshots (unreliable+crash)",
            Victim::Crashed,
            Net::Unreliable,
        );
    });
}

/// Crashes and restarts every peer: each must restart from its snapshot and
/// the tail of its log.
#[test]
fn snapshot_all_crash_2d() {
    run(|| {
        let servers = 3;
        let iters = 5;
        let cfg = Config::new(servers, Net::Reliable, Applier::Snapshot);
        cfg.begin("Test (2D): crash and restart all servers");

        cfg.one(cfg.random_int(), servers, Retry::Resubmit);

        for _ in 0..iters {
            // Perhaps enough to get a snapshot.
            let nn = SNAPSHOT_INTERVAL / 2 + cfg.random(SNAPSHOT_INTERVAL);
            for _ in 0..nn {
                cfg.one(cfg.random_int(), servers, Retry::Resubmit);
            }

            let index1 = cfg.one(cfg.random_int(), servers, Retry::Resubmit);

            crash_and_restart_all(&cfg, servers);

            let index2 = cfg.one(cfg.random_int(), servers, Retry::Resubmit);
            if index2 < index1 + 1 {
                cfg.fail(format!("index decreased from {index1} to {index2}"));
            }
        }
        cfg.end();
    });
}

/// Peers must initialise their in-memory copy of the snapshot on restart,
/// or the next save of their state loses it.
#[test]
fn snapshot_init_2d() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Snapshot);
        cfg.begin("Test (2D): snapshot initialization after crash");

        cfg.one(cfg.random_int(), servers, Retry::Resubmit);

        // Enough operations to make a snapshot.
        for _ in 0..=SNAPSHOT_INTERVAL {
            cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        }

        crash_and_restart_all(&cfg, servers);

        // A single operation, to get something written back to the persister.
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);

        crash_and_restart_all(&cfg, servers);

        // Another operation, to trigger the potential bug.
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}
