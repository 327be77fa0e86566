//! Part 2D: log compaction (snapshots).

use tests::raft::{Config, MAX_LOG_SIZE, SNAPSHOT_INTERVAL};
use tests::support::run;

/// The course's `snapcommon`: 30 rounds in which a victim is disconnected or
/// crashed (or neither) while enough commands for a snapshot are committed
/// without it; it must then catch up, by InstallSnapshot where needed, while
/// the saved Raft state stays under [`MAX_LOG_SIZE`].
fn snapshot_common(name: &str, disconnect: bool, reliable: bool, crash: bool) {
    let iters = 30;
    let servers = 3;
    let cfg = Config::new(servers, !reliable, true);
    cfg.begin(name);

    cfg.one(cfg.random_int(), servers, true);
    let mut leader1 = cfg.check_one_leader();

    for i in 0..iters {
        let (mut victim, mut sender) = ((leader1 + 1) % servers, leader1);
        if i % 3 == 1 {
            (victim, sender) = (leader1, (leader1 + 1) % servers);
        }

        if disconnect {
            cfg.disconnect(victim);
            cfg.one(cfg.random_int(), servers - 1, true);
        }
        if crash {
            cfg.crash1(victim);
            cfg.one(cfg.random_int(), servers - 1, true);
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
            cfg.one(cfg.random_int(), servers, true);
        } else {
            cfg.one(cfg.random_int(), servers - 1, true);
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
            cfg.one(cfg.random_int(), servers, true);
            leader1 = cfg.check_one_leader();
        }
        if crash {
            cfg.start1(victim);
            cfg.connect(victim);
            cfg.one(cfg.random_int(), servers, true);
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
        snapshot_common("Test (2D): snapshots basic", false, true, false);
    });
}

#[test]
fn snapshot_install_2d() {
    run(|| {
        snapshot_common(
            "Test (2D): install snapshots (disconnect)",
            true,
            true,
            false,
        );
    });
}

#[test]
fn snapshot_install_unreliable_2d() {
    run(|| {
        snapshot_common(
            "Test (2D): install snapshots (disconnect+unreliable)",
            true,
            false,
            false,
        );
    });
}

#[test]
fn snapshot_install_crash_2d() {
    run(|| {
        snapshot_common("Test (2D): install snapshots (crash)", false, true, true);
    });
}

#[test]
fn snapshot_install_uncrash_2d() {
    run(|| {
        snapshot_common(
            "Test (2D): install snapshots (unreliable+crash)",
            false,
            false,
            true,
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
        let cfg = Config::new(servers, false, true);
        cfg.begin("Test (2D): crash and restart all servers");

        cfg.one(cfg.random_int(), servers, true);

        for _ in 0..iters {
            // Perhaps enough to get a snapshot.
            let nn = SNAPSHOT_INTERVAL / 2 + cfg.random(SNAPSHOT_INTERVAL);
            for _ in 0..nn {
                cfg.one(cfg.random_int(), servers, true);
            }

            let index1 = cfg.one(cfg.random_int(), servers, true);

            crash_and_restart_all(&cfg, servers);

            let index2 = cfg.one(cfg.random_int(), servers, true);
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
        let cfg = Config::new(servers, false, true);
        cfg.begin("Test (2D): snapshot initialization after crash");

        cfg.one(cfg.random_int(), servers, true);

        // Enough operations to make a snapshot.
        for _ in 0..=SNAPSHOT_INTERVAL {
            cfg.one(cfg.random_int(), servers, true);
        }

        crash_and_restart_all(&cfg, servers);

        // A single operation, to get something written back to the persister.
        cfg.one(cfg.random_int(), servers, true);

        crash_and_restart_all(&cfg, servers);

        // Another operation, to trigger the potential bug.
        cfg.one(cfg.random_int(), servers, true);
        cfg.end();
    });
}
