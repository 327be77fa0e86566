//! Tests of ours beyond the course's, for what its tests let pass.

use kvsrv::{Error, KvClerk, Lock};
use labrpc::rt::sync::atomic::Ordering;
use labrpc::rt::thread;
use labrpc::rt::time::Duration;
use tests::kvsrv::{
    ClientResult, Config, LoggedClient, check_put_concurrent, one_client_put,
    spawn_clients_and_wait,
};
use tests::support::{Net, run};

/// The course races clients on a reliable network only, where no clerk
/// ever says ErrMaybe. Here ten clients race on an unreliable one for two
/// seconds: no more puts may take effect than returned OK or ErrMaybe, and
/// every logged operation (each read's version included) must be
/// linearizable; a clerk that calls a refused re-send OK, or a server
/// that lets a re-sent put take effect twice, fails here.
#[test]
fn put_concurrent_unreliable_kvsrv() {
    run(|| {
        let cfg = Config::new(Net::Unreliable);
        let client = cfg.make_client();
        cfg.begin("Test: many clients racing to put values to the same key");
        let results = spawn_clients_and_wait(&cfg, 10, Duration::from_secs(2), |client, done| {
            one_client_put(client, "k", done)
        });
        let mut total = ClientResult::default();
        check_put_concurrent(&cfg, &client, "k", &results, &mut total);
        if total.maybe == 0 {
            cfg.fail(format!(
                "no put returned ErrMaybe in {} puts on an unreliable network",
                total.ok
            ));
        }
        cfg.check_linearizable();
        cfg.end();
    });
}

/// The course's lock tests catch two holders only when the second reads
/// the guarded key during the first one's 10 ms. Here ten clients on an
/// unreliable network, for five seconds, each add one to a counter while
/// they hold the lock (read, then put the count + 1 at the version read):
/// with mutual exclusion every put takes effect and the counter ends at
/// the number of acquisitions; two holders at once make a put fail or an
/// increment vanish.
#[test]
fn holders_count_every_acquisition_unreliable_kvlock() {
    run(|| {
        const COUNTER: &str = "count";
        let cfg = Config::new(Net::Unreliable);
        let client = cfg.make_client();
        cfg.begin("Test: 10 lock clients counting");
        let name = cfg.random_string(12);
        let results = spawn_clients_and_wait(&cfg, 10, Duration::from_secs(5), |client, done| {
            let ck = client.clerk();
            let lock = Lock::new(ck, &name);
            let mut acquired = 0;
            while !done.load(Ordering::SeqCst) {
                lock.acquire();
                acquired += 1;
                let (count, version) = match ck.get(COUNTER) {
                    Ok((text, version)) => (text.parse::<u64>().unwrap_or(u64::MAX), version),
                    Err(_) => (0, 0),
                };
                match ck.put(COUNTER, &(count + 1).to_string(), version) {
                    Ok(()) | Err(Error::Maybe) => {}
                    Err(e) => cfg.fail(format!(
                        "client {} holds lock {name:?}, put count {} at version {version} and \
                         got {e}: another client wrote the counter while this one held the lock",
                        client.id(),
                        count + 1
                    )),
                }
                thread::sleep(Duration::from_millis(1));
                lock.release();
            }
            acquired
        });
        let acquisitions: u64 = results.iter().sum();
        let (count, _) = client
            .clerk()
            .get(COUNTER)
            .unwrap_or_else(|e| cfg.fail(format!("get({COUNTER:?}) returned {e}")));
        if count != acquisitions.to_string() {
            cfg.fail(format!(
                "the counter reads {count:?} after {acquisitions} acquisitions of lock {name:?}, \
                 each of which added one under the lock: two clients held it at once"
            ));
        }
        cfg.end();
    });
}
