//! Part rsm: the suite's own tests, for what the course's let a wrong
//! replica pass.

use std::collections::BTreeSet;

use labrpc::rt::sync::Mutex;
use labrpc::rt::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use labrpc::rt::thread;
use labrpc::rt::time::Duration;
use tests::rsm::{Config, NSRV, Op, Reply};
use tests::support::run;

/// Every reply answers its own submit, and nothing executes twice, while
/// leaders come and go: five clients submit tagged increments, each with a
/// tag of its own, to the servers in turn, as the leader is cut off alone
/// and let back every second for ten. A submit that returns `OK` must
/// carry its own tag (an rsm that hands a waiting submit the reply of
/// whatever entry took its index fails here, with any operation, not only
/// the course's `Dec`); the counter checks that no tag executes twice;
/// and, once healed, every server counts the same, at least one for each
/// `OK`.
#[test]
fn replies_answer_their_own_submit_rsm() {
    run(|| {
        const CLIENTS: u64 = 5;
        const ROUNDS: usize = 10;
        let cfg = Config::new(None);
        cfg.begin("Test: every reply answers its own submit, leaders partitioned");
        let done = AtomicBool::new(false);
        let next_tag = AtomicU64::new(0);
        let answered: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());
        thread::scope(|s| {
            for client in 0..CLIENTS {
                let (cfg, done, next_tag, answered) = (&cfg, &done, &next_tag, &answered);
                s.spawn(move || {
                    let mut server = client as usize % NSRV;
                    while !done.load(Ordering::SeqCst) {
                        let tag = next_tag.fetch_add(1, Ordering::SeqCst);
                        match cfg.submit(server, Op::Tagged(tag)) {
                            Some(Ok(Reply::Tagged { tag: got, count })) if got == tag => {
                                if !answered.lock().insert(count) {
                                    cfg.fail(format!(
                                        "two submits that returned OK were both answered count \
                                         {count}: each increment's reply is the count after it"
                                    ));
                                }
                            }
                            Some(Ok(reply)) => cfg.fail(format!(
                                "S{server}'s submit of the operation tagged {tag} returned OK \
                                 with {reply:?}: the reply of another operation (an entry \
                                 that took its index must make the submit return \
                                 WrongLeader)"
                            )),
                            Some(Err(_)) | None => {
                                server = (server + 1) % NSRV;
                                thread::sleep(Duration::from_millis(10));
                            }
                        }
                    }
                });
            }
            for _ in 0..ROUNDS {
                thread::sleep(Duration::from_millis(500));
                if let Some(l) = cfg.raft_leader() {
                    let (p1, p2) = cfg.make_partition(l);
                    cfg.partition(&p1, &p2);
                    thread::sleep(Duration::from_millis(500));
                    cfg.connect_one(l);
                }
            }
            done.store(true, Ordering::SeqCst);
        });
        let n = cfg.one_inc();
        cfg.check_counter(n, NSRV);
        let ok = answered.lock().len() as u64;
        if n < ok + 1 {
            cfg.fail(format!(
                "{ok} tagged submits returned OK and one Inc after them, yet the counters stand \
                 at {n}: a submit returned OK for an operation that never executed"
            ));
        }
        if ok == 0 {
            cfg.fail("no tagged submit returned OK in ten seconds");
        }
        cfg.end();
    });
}

/// A follower that falls behind a trimmed log catches up from the leader's
/// snapshot: with `max_raft_state` 1000, one server is cut off while the
/// others execute a hundred increments (and must snapshot, so its leader
/// no longer holds the entries it misses); once it is back, it must reach
/// the count (its replica restores the snapshot Raft delivers, an
/// `ApplyMsg::Snapshot`), and then go on executing what follows. The
/// course's snapshot test restarts every server from its own snapshot, and
/// never delivers one from a leader.
#[test]
fn lagging_follower_restores_snapshot_rsm() {
    run(|| {
        const N: u64 = 100;
        const MAX_RAFT_STATE: usize = 1000;
        let cfg = Config::new(Some(MAX_RAFT_STATE));
        cfg.begin("Test: a lagging follower catches up from a snapshot");
        let n = cfg.one_inc();
        cfg.check_counter(n, NSRV);
        let leader = cfg.raft_leader().unwrap_or(0);
        let follower = (leader + 1) % NSRV;
        cfg.disconnect_all(follower);
        for _ in 0..N {
            cfg.one_inc();
        }
        cfg.check_counter(N + 1, NSRV - 1);
        let size = cfg.log_size();
        if size > 2 * MAX_RAFT_STATE {
            cfg.fail(format!(
                "logs were not trimmed ({size} > 2 * {MAX_RAFT_STATE}) while a follower was \
                 cut off"
            ));
        }

        cfg.connect_one(follower);
        cfg.check_counter(N + 1, NSRV);
        let n = cfg.one_inc();
        cfg.check_counter(n, NSRV);
        cfg.end();
    });
}

/// Killing a replica makes every submit waiting on it return: the leader
/// is cut off alone (so nothing it starts can commit) and given a hundred
/// `Null`s, which must still be waiting a second later; then it is shut
/// down, and they must all return within a second, none `OK`. The course's
/// shutdown tests mean to check this, but find no submit waiting where
/// entries commit within their 20 ms (here, and in simulation above all, a
/// leader commits in a few milliseconds) or where no leader is elected yet.
#[test]
fn kill_releases_waiting_submits_rsm() {
    run(|| {
        const NSUBMIT: usize = 100;
        let cfg = Config::new(None);
        cfg.begin("Test: kill releases the submits waiting on a leader cut off alone");
        let n = cfg.one_inc();
        cfg.check_counter(n, NSRV);
        let l = cfg.raft_leader().unwrap_or(0);
        let (p1, p2) = cfg.make_partition(l);
        cfg.partition(&p1, &p2);
        let returned = AtomicU64::new(0);
        let (done_tx, done) = labrpc::rt::channel::bounded::<()>(1);
        thread::scope(|s| {
            let (cfg, returned) = (&cfg, &returned);
            s.spawn(move || {
                thread::scope(|s| {
                    for i in 0..NSUBMIT {
                        s.spawn(move || {
                            if let Some(Ok(reply)) = cfg.submit(l, Op::Null) {
                                cfg.fail(format!(
                                    "Submit {i} on S{l}, a leader cut off alone, returned OK \
                                     with {reply:?}: nothing it starts can commit"
                                ));
                            }
                            returned.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                });
                let _ = done_tx.send(());
            });
            thread::sleep(Duration::from_secs(1));
            if done.try_recv().is_ok() {
                cfg.fail(format!(
                    "every submit to S{l}, a leader cut off alone, returned within a second: \
                     they must wait, since their entries could still commit once the \
                     partition heals"
                ));
            }
            cfg.shutdown_server(l);
            if done.recv_timeout(Duration::from_secs(1)).is_err() {
                cfg.fail(format!(
                    "{} of {NSUBMIT} submits on S{l} still wait a second after its kill \
                     returned: kill must make every waiting submit return",
                    NSUBMIT as u64 - returned.load(Ordering::SeqCst)
                ));
            }
        });
        cfg.start_server(l);
        cfg.connect_one(l);
        let n = cfg.one_inc();
        cfg.check_counter(n, NSRV);
        cfg.end();
    });
}
