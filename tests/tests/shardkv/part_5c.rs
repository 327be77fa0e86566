//! Part 5C: the course's seven tests of 5C: controllers that run at once,
//! and controllers cut off and reconnected, while clerks work on.

use labrpc::rt::channel;
use labrpc::rt::thread;
use labrpc::rt::time::Duration;
use tests::shardkv::{Config, NKEYS, key_per_shard};
use tests::support::{Net, run};

use crate::check_all;

/// The course's `TestConcurrentReliable5C`: four controllers race to join
/// and remove groups for 2 s.
#[test]
fn concurrent_reliable_5c() {
    run(|| concurrent(Net::Reliable));
}

/// The course's `TestAcquireLockConcurrentUnreliable5C` (a name left from
/// the course's controllers with leases, which it removed): the same on an
/// unreliable network.
#[test]
fn concurrent_unreliable_5c() {
    run(|| concurrent(Net::Unreliable));
}

fn concurrent(net: Net) {
    let cfg = Config::new("Test (5C): Concurrent ctrlers ...", net, None);
    cfg.setup_kv_service();
    let client = cfg.make_client();
    let (keys, values) = cfg.spread_puts(&client, NKEYS);
    cfg.concur_ctrler(&client, &keys, &values);
    cfg.end();
}

/// The course's `TestPartitionControllerJoin5C`: a controller is cut off
/// in a join whose new group is down; a new controller finishes the join
/// once the group is back; the old one, reconnected, must return from its
/// join and change nothing.
#[test]
fn partition_controller_join_5c() {
    run(|| {
        let cfg = Config::new(
            "Test (5C): partition controller in join...",
            Net::Reliable,
            None,
        );
        cfg.setup_kv_service();
        let client = cfg.make_client();
        let (keys, values) = cfg.spread_puts(&client, NKEYS);
        let old = cfg.make_controller();
        old.init();
        let gid = cfg.new_gid();
        let (started, down) = channel::bounded(1);
        thread::scope(|s| {
            // A failing test must not wait for a join stuck for good.
            let _abandon = old.abandon_on_drop();
            let join = s.spawn(|| {
                cfg.make_group_start(gid);
                cfg.shutdown_group(gid);
                let _ = started.send(());
                // Stuck: the new group is down.
                cfg.join(old.ctrler(), gid);
            });
            let _ = down.recv();
            thread::sleep(Duration::from_secs(1));
            old.connect(false);
            thread::sleep(Duration::from_secs(1));
            cfg.start_group(gid);
            let new = cfg.make_controller();
            new.init();
            let recovered = new.ctrler().query();
            if !recovered.is_member(gid) {
                cfg.fail(format!(
                    "Didn't recover gid {gid}: the controller was cut off in its join, and a \
                     new controller's init_controller must finish it ({recovered})"
                ));
            }
            old.connect(true);
            // The old join must return: it was superseded.
            if join.join().is_err() {
                cfg.fail("the old controller's join failed (its panic is above)");
            }
        });
        thread::sleep(Duration::from_secs(1));
        check_all(&client, &keys, &values);
        cfg.end();
    });
}

/// The course's `partitionRecovery5C` without clerks
/// (`TestPartitionRecoveryReliableNoClerk5C`, titled "controllers with
/// leased leadership", a name left from the leases the course removed):
/// `rounds` times, a controller is cut off in the middle of a change, a
/// new one finishes it, and the old one is reconnected.
fn partition_recovery(net: Net, rounds: usize) {
    let cfg = Config::new("Test (5C): partition controller recovery ...", net, None);
    let gid1 = cfg.setup_kv_service();
    let client = cfg.make_client();
    let (keys, values) = cfg.spread_puts(&client, NKEYS);
    for _ in 0..rounds {
        cfg.partition_ctrler(&client, gid1, &keys, &values, true);
    }
    cfg.end();
}

/// The course's `TestPartitionRecoveryReliableNoClerk5C`.
#[test]
fn partition_recovery_reliable_no_clerk_5c() {
    run(|| partition_recovery(Net::Reliable, 5));
}

/// The course's `TestPartitionRecoveryUnreliableNoClerk5C`.
#[test]
fn partition_recovery_unreliable_no_clerk_5c() {
    run(|| partition_recovery(Net::Unreliable, 3));
}

/// The course's `partitionRecovery5C` with clerks: five clients put for
/// 60 s while, `rounds` times, a controller is cut off half-way and
/// recovered; the history must be linearizable. The course's clients all
/// put to one key (`k0`), and its recovery rounds, meant to read every
/// key, read none (a shadowed key list); here the clients put to one key
/// of each shard, picked at random, and every round reads the keys spread
/// before the clients started (theirs are others: `c0`, `c1`, …).
fn partition_recovery_clerks(net: Net, rounds: usize) {
    const CLIENTS: usize = 5;
    const CLIENT_TIME: Duration = Duration::from_secs(60);
    let cfg = Config::new("Test (5C): partition controller recovery ...", net, None);
    let gid1 = cfg.setup_kv_service();
    let client = cfg.make_client();
    let (keys, values) = cfg.spread_puts_logged(&client, NKEYS);
    let client_keys = key_per_shard("c");
    cfg.with_put_clients(CLIENTS, &client_keys, CLIENT_TIME, || {
        for _ in 0..rounds {
            cfg.partition_ctrler(&client, gid1, &keys, &values, true);
        }
    });
    cfg.check_linearizable();
    cfg.end();
}

/// The course's `TestPartitionRecoveryReliableClerks5C`.
#[test]
fn partition_recovery_reliable_clerks_5c() {
    run(|| partition_recovery_clerks(Net::Reliable, 5));
}

/// The course's `TestPartitionRecoveryUnreliableClerks5C`.
#[test]
fn partition_recovery_unreliable_clerks_5c() {
    run(|| partition_recovery_clerks(Net::Unreliable, 3));
}
