//! Part 3B: the key/value service with snapshots.

use labrpc::rt::thread;

use tests::kv::Config;
use tests::support::{Net, run};

use crate::generic::{ELECTION_TIMEOUT, Setup, generic_test, generic_test_speed};
use crate::part_3a::check;

/// The course's bound on Raft state for the snapshot tests.
const MAX_RAFT_STATE: usize = 1000;

/// A server that falls behind and rejoins must catch up by InstallSnapshot;
/// the majority must discard committed entries even while the minority does
/// not answer.
#[test]
fn snapshot_rpc_3b() {
    run(|| {
        const SERVERS: usize = 3;
        let cfg = Config::new(SERVERS, Net::Reliable, Some(MAX_RAFT_STATE));
        let mut ck = cfg.make_client(&cfg.all());

        cfg.begin("Test: InstallSnapshot RPC (3B)");

        ck.put("a", "A");
        check(&cfg, &mut ck, "a", "A");

        // A bunch of puts into the majority partition.
        cfg.partition(&[0, 1], &[2]);
        {
            let mut ck1 = cfg.make_client(&[0, 1]);
            for i in 0..50 {
                ck1.put(&i.to_string(), &i.to_string());
            }
            thread::sleep(ELECTION_TIMEOUT);
            ck1.put("b", "B");
        }

        // The majority must have thrown away most of its log.
        let size = cfg.log_size();
        if size > 8 * MAX_RAFT_STATE {
            cfg.fail(format!(
                "logs were not trimmed ({size} > 8*{MAX_RAFT_STATE})"
            ));
        }

        // Now a group that needs the lagging server, which must catch up.
        cfg.partition(&[0, 2], &[1]);
        {
            let mut ck1 = cfg.make_client(&[0, 2]);
            ck1.put("c", "C");
            ck1.put("d", "D");
            check(&cfg, &mut ck1, "a", "A");
            check(&cfg, &mut ck1, "b", "B");
            check(&cfg, &mut ck1, "1", "1");
            check(&cfg, &mut ck1, "49", "49");
        }

        // Now everybody.
        cfg.partition(&[0, 1, 2], &[]);

        ck.put("e", "E");
        check(&cfg, &mut ck, "c", "C");
        check(&cfg, &mut ck, "e", "E");
        check(&cfg, &mut ck, "1", "1");

        cfg.end();
    });
}

/// Snapshots of this workload must stay small: 500 bytes is generous.
#[test]
fn snapshot_size_3b() {
    run(|| {
        const SERVERS: usize = 3;
        const MAX_SNAPSHOT_STATE: usize = 500;
        let cfg = Config::new(SERVERS, Net::Reliable, Some(MAX_RAFT_STATE));
        let mut ck = cfg.make_client(&cfg.all());

        cfg.begin("Test: snapshot size is reasonable (3B)");

        for _ in 0..200 {
            ck.put("x", "0");
            check(&cfg, &mut ck, "x", "0");
            ck.put("x", "1");
            check(&cfg, &mut ck, "x", "1");
        }

        // The servers must have thrown away most of their logs.
        let size = cfg.log_size();
        if size > 8 * MAX_RAFT_STATE {
            cfg.fail(format!(
                "logs were not trimmed ({size} > 8*{MAX_RAFT_STATE})"
            ));
        }

        // And the snapshots must not be unreasonably large.
        let snapshot = cfg.snapshot_size();
        if snapshot > MAX_SNAPSHOT_STATE {
            cfg.fail(format!(
                "snapshot too large ({snapshot} > {MAX_SNAPSHOT_STATE})"
            ));
        }

        cfg.end();
    });
}

#[test]
fn speed_3b() {
    run(|| {
        generic_test_speed("3B", Some(MAX_RAFT_STATE));
    });
}

fn snapshots(setup: Setup) -> Setup {
    Setup {
        max_raft_state: Some(MAX_RAFT_STATE),
        ..setup
    }
}

#[test]
fn snapshot_recover_3b() {
    run(|| {
        generic_test(
            "3B",
            snapshots(Setup {
                clients: 1,
                servers: 5,
                crash: true,
                ..Setup::default()
            }),
        );
    });
}

#[test]
fn snapshot_recover_many_clients_3b() {
    run(|| {
        generic_test(
            "3B",
            snapshots(Setup {
                clients: 20,
                servers: 5,
                crash: true,
                ..Setup::default()
            }),
        );
    });
}

#[test]
fn snapshot_unreliable_3b() {
    run(|| {
        generic_test(
            "3B",
            snapshots(Setup {
                clients: 5,
                servers: 5,
                net: Net::Unreliable,
                ..Setup::default()
            }),
        );
    });
}

#[test]
fn snapshot_unreliable_recover_3b() {
    run(|| {
        generic_test(
            "3B",
            snapshots(Setup {
                clients: 5,
                servers: 5,
                net: Net::Unreliable,
                crash: true,
                ..Setup::default()
            }),
        );
    });
}

#[test]
fn snapshot_unreliable_recover_concurrent_partition_3b() {
    run(|| {
        generic_test(
            "3B",
            snapshots(Setup {
                clients: 5,
                servers: 5,
                net: Net::Unreliable,
                crash: true,
                partitions: true,
                ..Setup::default()
            }),
        );
    });
}

#[test]
fn snapshot_unreliable_recover_concurrent_partition_linearizable_3b() {
    run(|| {
        generic_test(
            "3B",
            snapshots(Setup {
                clients: 15,
                servers: 7,
                net: Net::Unreliable,
                crash: true,
                partitions: true,
                random_keys: true,
                ..Setup::default()
            }),
        );
    });
}
