//! Part kvlock: a lock built on the clerk (the course's `lock_test.go`,
//! 2026: six tests).

use kvsrv::{Error, KvClerk, Lock};
use labrpc::rt::sync::atomic::{AtomicBool, Ordering};
use labrpc::rt::thread;
use labrpc::rt::time::Duration;
use tests::kvsrv::{Client, Config, LoggedClient, spawn_clients_and_wait};
use tests::support::{Net, run};

/// How long the course's client tests run.
const SECONDS: u64 = 2;

/// The key the clients of the lock tests write while they hold the lock:
/// "" while nobody does, the holder's number while one does.
const GUARDED: &str = "l0";

/// The course's `TestReliableBasic`: one Acquire and one Release of a lock
/// with a random name.
#[test]
fn reliable_basic_kvlock() {
    run(|| {
        let cfg = Config::new(Net::Reliable);
        let client = cfg.make_client();
        cfg.begin("Test: a single Acquire and Release");
        let lock = Lock::new(client.clerk(), &cfg.random_string(12));
        lock.acquire();
        lock.release();
        cfg.end();
    });
}

/// The course's `TestReliableNested`: one client, two locks with random
/// names, acquired and released nested and interleaved; a lock that is
/// not independent of the other never returns from an acquire.
#[test]
fn reliable_nested_kvlock() {
    run(|| {
        let cfg = Config::new(Net::Reliable);
        let client = cfg.make_client();
        cfg.begin("Test: one client, two locks");
        let a = Lock::new(client.clerk(), &cfg.random_string(12));
        let b = Lock::new(client.clerk(), &cfg.random_string(12));
        a.acquire();
        b.acquire();
        b.release();
        a.release();

        b.acquire();
        a.acquire();
        a.release();
        a.acquire();
        b.release();
        a.release();
        cfg.end();
    });
}

/// The course's `TestOneClientReliable`.
#[test]
fn one_client_reliable_kvlock() {
    run(|| run_clients(1, Net::Reliable));
}

/// The course's `TestManyClientsReliable`.
#[test]
fn many_clients_reliable_kvlock() {
    run(|| run_clients(10, Net::Reliable));
}

/// The course's `TestOneClientUnreliable`.
#[test]
fn one_client_unreliable_kvlock() {
    run(|| run_clients(1, Net::Unreliable));
}

/// The course's `TestManyClientsUnreliable`.
#[test]
fn many_clients_unreliable_kvlock() {
    run(|| run_clients(10, Net::Unreliable));
}

/// The course's client tests (2026): `clients` clients for two seconds,
/// each acquiring two locks with random names (shared by all), releasing
/// them, then acquiring and releasing the first again and again. While it
/// holds the lock a client checks that [`GUARDED`] reads "", writes its
/// number there, sleeps 10 ms and writes "" back: a second holder reads
/// the first one's number.
pub fn run_clients(clients: usize, net: Net) {
    let cfg = Config::new(net);
    cfg.begin(&format!("Test: {clients} lock clients"));
    let names = [cfg.random_string(12), cfg.random_string(12)];
    spawn_clients_and_wait(
        &cfg,
        clients,
        Duration::from_secs(SECONDS),
        |client, done| one_client(&cfg, client, &names, done),
    );
    cfg.end();
}

/// One client of [`run_clients`]; returns how often it acquired the lock.
fn one_client(cfg: &Config, client: &Client<'_>, names: &[String; 2], done: &AtomicBool) -> u64 {
    let ck = client.clerk();
    let me = client.id();
    let first = Lock::new(ck, &names[0]);
    let second = Lock::new(ck, &names[1]);
    first.acquire();
    second.acquire();
    first.release();
    second.release();
    // Whoever comes first creates the key; the others' puts are refused.
    let _ = ck.put(GUARDED, "", 0);
    let mut acquired = 0;
    while !done.load(Ordering::SeqCst) {
        first.acquire();
        acquired += 1;
        let version = match ck.get(GUARDED) {
            Ok((holder, version)) if holder.is_empty() => version,
            Ok((holder, _)) => cfg.fail(format!(
                "{me}: two clients acquired lock {:?}: client {me} holds it, and {GUARDED:?} \
                 says client {holder} does",
                names[0]
            )),
            Err(e) => cfg.fail(format!("{me}: get failed: get({GUARDED:?}) returned {e}")),
        };
        put_holding(cfg, ck, &me.to_string(), version);
        thread::sleep(Duration::from_millis(10));
        put_holding(cfg, ck, "", version + 1);
        first.release();
    }
    acquired
}

/// A put to [`GUARDED`] by the lock's holder, which must take effect: OK,
/// or ErrMaybe (a lost reply), never ErrVersion (nobody else writes it).
fn put_holding(cfg: &Config, ck: &impl KvClerk, value: &str, version: u64) {
    match ck.put(GUARDED, value, version) {
        Ok(()) | Err(Error::Maybe) => {}
        Err(e) => cfg.fail(format!(
            "put failed: the lock's holder put {value:?} at version {version} of {GUARDED:?} \
             and got {e}: someone else wrote it while the lock was held"
        )),
    }
}
