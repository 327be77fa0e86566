//! Part kvsrv: the server and its clerk (the course's `kvsrv_test.go`, but
//! for the memory test, in `tests/kvsrv_memory.rs`).

use kvsrv::{Error, KvClerk};
use labrpc::rt::time::Duration;
use tests::kvsrv::{
    ClientResult, Config, LoggedClient, check_put_concurrent, one_client_put,
    spawn_clients_and_wait,
};
use tests::support::{Net, run};

/// The course's `TestReliablePut`: each rule of a versioned put once, by
/// one clerk on a reliable network, through direct (unlogged) calls.
#[test]
fn reliable_put_kvsrv() {
    run(|| {
        const VALUE: &str = "6.5840";
        let cfg = Config::new(Net::Reliable);
        let client = cfg.make_client();
        let ck = client.clerk();
        cfg.begin("One client and reliable Put");

        if let Err(e) = ck.put("k", VALUE, 0) {
            cfg.fail(format!(
                "Put err {e}: a put at version 0 of an absent key must create it"
            ));
        }
        match ck.get("k") {
            Ok((value, 1)) if value == VALUE => {}
            Ok((value, version)) => cfg.fail(format!(
                "Get wrong value or version: got ({value:?}, {version}); expected ({VALUE:?}, 1)"
            )),
            Err(e) => cfg.fail(format!("Get err {e}; expected ({VALUE:?}, 1)")),
        }
        match ck.put("k", VALUE, 0) {
            Err(Error::Version) => {}
            other => cfg.fail(format!(
                "expected Put to fail with ErrVersion; got {other:?} (the key's version is 1, \
                 the put's 0; on a reliable network the first send is answered)"
            )),
        }
        match ck.put("y", VALUE, 1) {
            Err(Error::NoKey) => {}
            other => cfg.fail(format!(
                "expected Put to fail with ErrNoKey; got {other:?} (key \"y\" is absent and \
                 the put's version is 1)"
            )),
        }
        match ck.get("y") {
            Err(Error::NoKey) => {}
            other => cfg.fail(format!("expected Get to fail with ErrNoKey; got {other:?}")),
        }
        cfg.end();
    });
}

/// The course's `TestPutConcurrentReliable`: ten clients race to put to one
/// key for a second; on a reliable network the key's version must equal
/// the puts that returned OK, and the history must be linearizable.
#[test]
fn put_concurrent_reliable_kvsrv() {
    run(|| {
        const CLIENTS: usize = 10;
        const SECONDS: u64 = 1;
        let cfg = Config::new(Net::Reliable);
        let client = cfg.make_client();
        cfg.begin("Test: many clients racing to put values to the same key");
        let results = spawn_clients_and_wait(
            &cfg,
            CLIENTS,
            Duration::from_secs(SECONDS),
            |client, done| one_client_put(client, "k", done),
        );
        let mut total = ClientResult::default();
        check_put_concurrent(&cfg, &client, "k", &results, &mut total);
        cfg.check_linearizable();
        cfg.end();
    });
}

/// The course's `TestUnreliableNet`: one clerk on an unreliable network,
/// 100 rounds; round `n` puts at version `n` until a put does not return
/// ErrMaybe (with one client, an ErrMaybe means the put took effect, so
/// every later try must be refused with ErrVersion), then the key must read
/// the round's first value at version `n + 1`. Over the rounds the clerk
/// must have said ErrMaybe at least once.
#[test]
fn unreliable_net_kvsrv() {
    run(|| {
        const TRIES: u64 = 100;
        let cfg = Config::new(Net::Unreliable);
        let client = cfg.make_client();
        cfg.begin("One client");
        let mut maybes = 0;
        for round in 0..TRIES {
            for i in 0.. {
                let put = client.put("k", &i.to_string(), round);
                if put == Err(Error::Maybe) {
                    maybes += 1;
                    continue;
                }
                if i > 0 && put != Err(Error::Version) {
                    cfg.fail(format!(
                        "Put shouldn't have happen more than once: round {round}, try {i} \
                         returned {put:?} after ErrMaybe; with one client, an ErrMaybe put \
                         took effect, and a put at the same version must be refused"
                    ));
                }
                break;
            }
            match client.get("k") {
                Ok((value, version)) if value == "0" && version == round + 1 => {}
                got => cfg.fail(format!(
                    "round {round}: Get returned {got:?}; expected (\"0\", {}): the round's \
                     first put, once",
                    round + 1
                )),
            }
        }
        if maybes == 0 {
            cfg.fail(format!(
                "Clerk.Put never returned ErrMaybe in {TRIES} rounds on an unreliable network: \
                 a re-sent put refused for its version must return ErrMaybe"
            ));
        }
        cfg.check_linearizable();
        cfg.end();
    });
}
