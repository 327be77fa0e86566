//! Part 3A: a key/value service without snapshots.

use labrpc::rt::thread;
use labrpc::rt::time::Duration;

use labrpc::select;
use tests::kv::Config;
use tests::support::{Net, run};

use crate::generic::{
    ELECTION_TIMEOUT, Setup, check_client_appends, element, generic_test, generic_test_speed,
};

#[test]
fn basic_3a() {
    run(|| {
        generic_test(
            "3A",
            Setup {
                clients: 1,
                servers: 5,
                ..Setup::default()
            },
        );
    });
}

#[test]
fn speed_3a() {
    run(|| {
        generic_test_speed("3A", None);
    });
}

#[test]
fn concurrent_3a() {
    run(|| {
        generic_test(
            "3A",
            Setup {
                clients: 5,
                servers: 5,
                ..Setup::default()
            },
        );
    });
}

#[test]
fn unreliable_3a() {
    run(|| {
        generic_test(
            "3A",
            Setup {
                clients: 5,
                servers: 5,
                net: Net::Unreliable,
                ..Setup::default()
            },
        );
    });
}

#[test]
fn unreliable_one_key_3a() {
    run(|| {
        const SERVERS: usize = 3;
        const CLIENTS: usize = 5;
        const UPTO: usize = 10;
        let cfg = Config::new(SERVERS, Net::Unreliable, None);
        let mut ck = cfg.make_client(&cfg.all());
        cfg.begin("Test: concurrent append to same key, unreliable (3A)");

        ck.put("k", "");

        thread::scope(|s| {
            let clients: Vec<_> = (0..CLIENTS)
                .map(|me| {
                    let cfg = &cfg;
                    s.spawn(move || {
                        let mut clerk = cfg.make_client(&cfg.all());
                        for n in 0..UPTO {
                            clerk.append("k", &element(me, n));
                        }
                    })
                })
                .collect();
            for client in clients {
                if client.join().is_err() {
                    cfg.fail("a client failed (its panic is above)");
                }
            }
        });

        // Every client's appends present, each once, in that client's order.
        let value = ck.get("k");
        for me in 0..CLIENTS {
            check_client_appends(&cfg, me, &value, UPTO);
        }
        cfg.end();
    });
}

/// A request in the minority partition must not complete until the
/// partition heals; the original leader ends up in the minority.
#[test]
fn one_partition_3a() {
    run(|| {
        const SERVERS: usize = 5;
        let cfg = Config::new(SERVERS, Net::Reliable, None);
        let mut ck = cfg.make_client(&cfg.all());

        ck.put("1", "13");

        cfg.begin("Test: progress in majority (3A)");

        let (p1, p2) = cfg.make_partition();
        cfg.partition(&p1, &p2);

        let mut ckp1 = cfg.make_client(&p1); // connected to p1
        let mut ckp2a = cfg.make_client(&p2); // connected to p2
        let mut ckp2b = cfg.make_client(&p2); // connected to p2
        let (links_a, links_b) = (ckp2a.links(), ckp2b.links());

        ckp1.put("1", "14");
        check(&cfg, &mut ckp1, "1", "14");

        cfg.end();

        let (done0_tx, done0) = labrpc::rt::channel::bounded(1);
        let (done1_tx, done1) = labrpc::rt::channel::bounded(1);
        thread::scope(|s| {
            cfg.begin("Test: no progress in minority (3A)");
            let (a, b) = (&mut ckp2a, &mut ckp2b);
            s.spawn(move || {
                a.put("1", "15");
                let _ = done0_tx.send(());
            });
            s.spawn(move || {
                b.get("1"); // a different clerk in p2
                let _ = done1_tx.send(());
            });

            select! {
                recv(done0) -> _ => cfg.fail("Put in minority completed"),
                recv(done1) -> _ => cfg.fail("Get in minority completed"),
                default(Duration::from_secs(1)) => {}
            }

            check(&cfg, &mut ckp1, "1", "14");
            ckp1.put("1", "16");
            check(&cfg, &mut ckp1, "1", "16");

            cfg.end();

            cfg.begin("Test: completion after heal (3A)");

            cfg.connect_all();
            links_a.connect(&cfg.all());
            links_b.connect(&cfg.all());
            thread::sleep(ELECTION_TIMEOUT);

            if done0.recv_timeout(Duration::from_millis(30 * 100)).is_err() {
                cfg.fail("Put did not complete");
            }
            // The Get may or may not have completed by now: not checked.
            let _ = done1.try_recv();

            check(&cfg, &mut ck, "1", "15");

            cfg.end();
        });
    });
}

/// Reads `key` and fails unless it holds `value`.
pub fn check(cfg: &Config, clerk: &mut tests::kv::Client<'_>, key: &str, value: &str) {
    let got = clerk.get(key);
    if got != value {
        cfg.fail(format!(
            "Get({key}): expected:\n{value:?}\nreceived:\n{got:?}"
        ));
    }
}

#[test]
fn many_partitions_one_client_3a() {
    run(|| {
        generic_test(
            "3A",
            Setup {
                clients: 1,
                servers: 5,
                partitions: true,
                ..Setup::default()
            },
        );
    });
}

#[test]
fn many_partitions_many_clients_3a() {
    run(|| {
        generic_test(
            "3A",
            Setup {
                clients: 5,
                servers: 5,
                partitions: true,
                ..Setup::default()
            },
        );
    });
}

#[test]
fn persist_one_client_3a() {
    run(|| {
        generic_test(
            "3A",
            Setup {
                clients: 1,
                servers: 5,
                crash: true,
                ..Setup::default()
            },
        );
    });
}

#[test]
fn persist_concurrent_3a() {
    run(|| {
        generic_test(
            "3A",
            Setup {
                clients: 5,
                servers: 5,
                crash: true,
                ..Setup::default()
            },
        );
    });
}

#[test]
fn persist_concurrent_unreliable_3a() {
    run(|| {
        generic_test(
            "3A",
            Setup {
                clients: 5,
                servers: 5,
                net: Net::Unreliable,
                crash: true,
                ..Setup::default()
            },
        );
    });
}

#[test]
fn persist_partition_3a() {
    run(|| {
        generic_test(
            "3A",
            Setup {
                clients: 5,
                servers: 5,
                crash: true,
                partitions: true,
                ..Setup::default()
            },
        );
    });
}

#[test]
fn persist_partition_unreliable_3a() {
    run(|| {
        generic_test(
            "3A",
            Setup {
                clients: 5,
                servers: 5,
                net: Net::Unreliable,
                crash: true,
                partitions: true,
                ..Setup::default()
            },
        );
    });
}

#[test]
fn persist_partition_unreliable_linearizable_3a() {
    run(|| {
        generic_test(
            "3A",
            Setup {
                clients: 15,
                servers: 7,
                net: Net::Unreliable,
                crash: true,
                partitions: true,
                random_keys: true,
                ..Setup::default()
            },
        );
    });
}
