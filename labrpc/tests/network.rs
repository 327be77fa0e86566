//! The course's labrpc tests, with their bounds, and tests of what this
//! network adds: handlers that block, seeded replay, loud codec and dispatch
//! errors, immediate wake-ups, cleanup.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use labrpc::{ClientEnd, Method, Network, NoReply, Server, Service};
use parking_lot::Mutex;
use serde::{Deserialize, Deserializer, Serialize};

// The course's "JunkServer", one method per handler it has.
const HANDLER1: Method<String, i64> = Method::new("JunkServer.Handler1");
const HANDLER2: Method<i64, String> = Method::new("JunkServer.Handler2");
const HANDLER3: Method<i64, i64> = Method::new("JunkServer.Handler3");
const HANDLER4: Method<JunkArgs, JunkReply> = Method::new("JunkServer.Handler4");
const HANDLER5: Method<JunkArgs, JunkReply> = Method::new("JunkServer.Handler5");
const HANDLER6: Method<String, usize> = Method::new("JunkServer.Handler6");
const HANDLER7: Method<usize, String> = Method::new("JunkServer.Handler7");

#[derive(Debug, Serialize, Deserialize)]
struct JunkArgs {
    x: i64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct JunkReply {
    x: String,
}

/// What the junk server's handlers have seen.
#[derive(Default)]
struct JunkLog {
    log1: Vec<String>,
    log2: Vec<i64>,
}

fn junk_service(log: &Arc<Mutex<JunkLog>>) -> Service {
    let mut service = Service::new("JunkServer");
    let l = Arc::clone(log);
    service.handle(HANDLER1, move |args: String| {
        l.lock().log1.push(args.clone());
        args.parse().expect("Handler1 takes a number")
    });
    let l = Arc::clone(log);
    service.handle(HANDLER2, move |args: i64| {
        l.lock().log2.push(args);
        format!("handler2-{args}")
    });
    service.handle(HANDLER3, |args: i64| {
        thread::sleep(Duration::from_secs(20));
        -args
    });
    service.handle(HANDLER4, |_: JunkArgs| JunkReply {
        x: "pointer".into(),
    });
    service.handle(HANDLER5, |_: JunkArgs| JunkReply {
        x: "no pointer".into(),
    });
    service.handle(HANDLER6, |args: String| args.len());
    service.handle(HANDLER7, |n: usize| "y".repeat(n));
    service
}

/// A network with the junk server registered as "server99".
fn junk_network(seed: u64) -> (Network, Arc<Mutex<JunkLog>>) {
    let net = Network::with_seed(seed);
    let log = Arc::new(Mutex::new(JunkLog::default()));
    let server = Server::new();
    server.add_service(junk_service(&log));
    net.add_server("server99", server);
    (net, log)
}

/// An end called `name`, connected to "server99" and enabled.
fn wired_end(net: &Network, name: &str) -> ClientEnd {
    let end = net.make_end(name);
    net.connect(name, "server99");
    net.enable(name, true);
    end
}

/// Runs `f` and returns its panic message, failing if it does not panic.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn basic() {
    let (net, _) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    assert_eq!(end.call(HANDLER2, &111).as_deref(), Ok("handler2-111"));
    assert_eq!(end.call(HANDLER1, &"9099".to_owned()), Ok(9099));
    net.cleanup();
}

#[test]
fn types() {
    let (net, _) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    let reply = end.call(HANDLER4, &JunkArgs { x: 0 }).unwrap();
    assert_eq!(reply.x, "pointer");
    let reply = end.call(HANDLER5, &JunkArgs { x: 0 }).unwrap();
    assert_eq!(reply.x, "no pointer");
    net.cleanup();
}

/// Does net.enable(end, false) really disconnect a client?
#[test]
fn disconnect() {
    let (net, log) = junk_network(1);
    let end = net.make_end("end1-99");
    net.connect("end1-99", "server99");
    assert_eq!(
        end.call(HANDLER2, &111),
        Err(NoReply),
        "a disabled end got a reply"
    );
    assert!(
        log.lock().log2.is_empty(),
        "a disabled end's request was delivered"
    );
    net.enable("end1-99", true);
    assert_eq!(end.call(HANDLER1, &"9099".to_owned()), Ok(9099));
    net.cleanup();
}

/// Counts RPCs to a server.
#[test]
fn counts() {
    let (net, _) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    for i in 0..17 {
        assert_eq!(end.call(HANDLER2, &i), Ok(format!("handler2-{i}")));
    }
    assert_eq!(net.count("server99"), 17, "wrong count()");
    assert_eq!(net.total_count(), 17, "wrong total_count()");
    net.cleanup();
}

/// Counts bytes sent: the course's windows for 17 requests of 288 characters,
/// then 17 replies of 107.
#[test]
fn bytes() {
    let (net, _) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    for _ in 0..17 {
        let args = "x".repeat(72).repeat(4);
        let wanted = args.len();
        assert_eq!(end.call(HANDLER6, &args), Ok(wanted));
    }
    let n = net.total_bytes();
    assert!(
        (4828..=6000).contains(&n),
        "wrong total_bytes() {n}, expected about 5000"
    );
    for _ in 0..17 {
        assert_eq!(end.call(HANDLER7, &107).map(|r| r.len()), Ok(107));
    }
    let nn = net.total_bytes() - n;
    assert!(
        (1800..=2500).contains(&nn),
        "wrong total_bytes() {nn}, expected about 2000"
    );
    net.cleanup();
}

/// Many RPCs from concurrent clients, each on its own end.
#[test]
fn concurrent_many() {
    let (net, _) = junk_network(1);
    let (nclients, nrpcs) = (20, 10);
    let total: usize = thread::scope(|s| {
        let handles: Vec<_> = (0..nclients)
            .map(|i| {
                let end = wired_end(&net, &format!("end{i}"));
                s.spawn(move || {
                    (0..nrpcs)
                        .filter(|j| {
                            let arg = 100 * i + j;
                            end.call(HANDLER2, &arg) == Ok(format!("handler2-{arg}"))
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(total, 200, "wrong number of RPCs completed");
    assert_eq!(net.count("server99"), 200, "wrong count()");
    net.cleanup();
}

/// On an unreliable network, neither all nor none of 300 RPCs succeed.
#[test]
fn unreliable() {
    let (net, _) = junk_network(1);
    net.set_reliable(false);
    let nclients = 300;
    let ok: usize = thread::scope(|s| {
        let handles: Vec<_> = (0..nclients)
            .map(|i| {
                let end = wired_end(&net, &format!("end{i}"));
                s.spawn(move || end.call(HANDLER2, &i) == Ok(format!("handler2-{i}")))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| usize::from(h.join().unwrap()))
            .sum()
    });
    assert!(
        ok != nclients as usize,
        "all {nclients} RPCs succeeded despite an unreliable network"
    );
    assert!(ok != 0, "no RPC succeeded");
    net.cleanup();
}

/// Concurrent RPCs on a single end.
#[test]
fn concurrent_one() {
    let (net, log) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    let ok = thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let end = &end;
                s.spawn(move || {
                    end.call(HANDLER2, &(100 + i)) == Ok(format!("handler2-{}", 100 + i))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| usize::from(h.join().unwrap()))
            .sum::<usize>()
    });
    assert_eq!(ok, 20, "wrong number of RPCs completed");
    assert_eq!(log.lock().log2.len(), 20, "wrong number of RPCs delivered");
    assert_eq!(net.count("server99"), 20, "wrong count()");
    net.cleanup();
}

/// Regression: RPCs made while an end is disabled, and so delayed, must not
/// delay an RPC made after it is enabled again; and they are not delivered.
#[test]
fn regression_1() {
    let (net, log) = junk_network(1);
    let end = net.make_end("end1-99");
    net.connect("end1-99", "server99");
    thread::scope(|s| {
        // Some RPCs while the end is disabled; they will be delayed.
        net.enable("end1-99", false);
        let delayed: Vec<_> = (0..20)
            .map(|i| {
                let end = &end;
                s.spawn(move || end.call(HANDLER2, &(100 + i)))
            })
            .collect();
        thread::sleep(Duration::from_millis(100));

        // Enable the end: an RPC now completes quickly.
        let t0 = Instant::now();
        net.enable("end1-99", true);
        assert_eq!(end.call(HANDLER2, &99).as_deref(), Ok("handler2-99"));
        let took = t0.elapsed();
        assert!(
            took < Duration::from_millis(30),
            "RPC took too long ({took:?}) after enable"
        );

        for handle in delayed {
            assert_eq!(
                handle.join().unwrap(),
                Err(NoReply),
                "a delayed RPC got a reply"
            );
        }
    });
    assert_eq!(log.lock().log2.len(), 1, "wrong number of RPCs delivered");
    assert_eq!(net.count("server99"), 1, "wrong count(), expected 1");
    net.cleanup();
}

/// If a server is deleted while its handler runs, the call returns "no reply"
/// within about 100 ms, though the handler (sleeping 20 s) has not returned.
#[test]
fn killed() {
    let (net, _) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    let (done_tx, done) = crossbeam_channel::bounded(1);
    thread::spawn(move || done_tx.send(end.call(HANDLER3, &99)));
    thread::sleep(Duration::from_millis(1000));
    assert!(
        done.recv_timeout(Duration::from_millis(100)).is_err(),
        "Handler3 should not have returned yet"
    );
    net.delete_server("server99");
    match done.recv_timeout(Duration::from_millis(100)) {
        Ok(reply) => assert_eq!(
            reply,
            Err(NoReply),
            "Handler3 returned successfully despite delete_server"
        ),
        Err(_) => panic!("Handler3's call should return within 100 ms of delete_server"),
    }
    net.cleanup();
}

/// A reply to an end disabled while the handler ran is never delivered, and
/// the call returns at once.
#[test]
fn disabling_an_end_drops_the_reply_in_flight() {
    let net = Network::with_seed(1);
    let (release, gate) = crossbeam_channel::bounded::<()>(0);
    const WAIT: Method<(), u32> = Method::new("Gate.Wait");
    let mut service = Service::new("Gate");
    service.handle(WAIT, move |()| {
        let _ = gate.recv();
        7
    });
    let server = Server::new();
    server.add_service(service);
    net.add_server("server99", server);
    let end = wired_end(&net, "end");
    thread::scope(|s| {
        let call = s.spawn(|| end.call(WAIT, &()));
        thread::sleep(Duration::from_millis(50));
        let t0 = Instant::now();
        net.enable("end", false);
        // Re-enabling does not revive the call: it belonged to the old link.
        net.enable("end", true);
        assert_eq!(call.join().unwrap(), Err(NoReply));
        assert!(
            t0.elapsed() < Duration::from_millis(50),
            "the call did not notice at once"
        );
    });
    drop(release);
    assert_eq!(
        end.call(WAIT, &()),
        Ok(7),
        "the re-enabled end should work for new calls"
    );
    net.cleanup();
}

/// A handler that blocks stalls only its own call, however many block.
#[test]
fn blocking_handlers_do_not_stall_other_rpcs() {
    let (net, _) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    let blocked: Vec<_> = (0..64)
        .map(|i| {
            let end = end.clone();
            thread::spawn(move || end.call(HANDLER3, &i))
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    for i in 0..10 {
        assert_eq!(end.call(HANDLER2, &i), Ok(format!("handler2-{i}")));
    }
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(100),
        "10 RPCs took {took:?} with 64 blocked handlers"
    );
    // Cleanup releases the blocked callers at once.
    net.cleanup();
    for handle in blocked {
        assert_eq!(handle.join().unwrap(), Err(NoReply));
    }
}

/// After cleanup every call fails at once, including calls to unreachable
/// servers that would otherwise wait out a long delay.
#[test]
fn cleanup_fails_every_call_at_once() {
    let (net, _) = junk_network(1);
    net.set_long_delays(true);
    let end = wired_end(&net, "end1-99");
    let lost = net.make_end("lost");
    let waiting = thread::spawn(move || {
        let t0 = Instant::now();
        (lost.call(HANDLER2, &1), t0.elapsed())
    });
    thread::sleep(Duration::from_millis(20));
    net.cleanup();
    let (reply, waited) = waiting.join().unwrap();
    assert_eq!(reply, Err(NoReply));
    assert!(
        waited < Duration::from_millis(500),
        "a pending call waited {waited:?} past cleanup"
    );
    let t0 = Instant::now();
    assert_eq!(end.call(HANDLER2, &1), Err(NoReply));
    assert!(t0.elapsed() < Duration::from_millis(5));
}

/// Calls to an unreachable server give up within 100 ms, or within 7 s with
/// long delays on — and with long delays, many take well over a second.
#[test]
fn unreachable_servers_time_out_within_the_course_bounds() {
    let (net, _) = junk_network(7);
    let end = net.make_end("nowhere");
    let timed = |end: &ClientEnd| {
        let t0 = Instant::now();
        assert_eq!(end.call(HANDLER2, &1), Err(NoReply));
        t0.elapsed()
    };
    for _ in 0..10 {
        let waited = timed(&end);
        assert!(
            waited < Duration::from_millis(150),
            "short timeout took {waited:?}"
        );
    }
    net.set_long_delays(true);
    let waits: Vec<Duration> = thread::scope(|s| {
        let handles: Vec<_> = (0..20).map(|_| s.spawn(|| timed(&end))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let longest = waits.iter().max().unwrap();
    assert!(
        *longest < Duration::from_millis(7100),
        "long delay took {longest:?}"
    );
    let over_a_second = waits
        .iter()
        .filter(|w| **w > Duration::from_secs(1))
        .count();
    assert!(
        over_a_second >= 10,
        "only {over_a_second} of 20 long delays exceeded 1 s: {waits:?}"
    );
    net.cleanup();
}

/// An unreliable network delays each request by at most 26 ms, and loses
/// replies after their handler ran as well as requests before.
#[test]
fn unreliable_loses_requests_and_replies() {
    let (net, log) = junk_network(3);
    net.set_reliable(false);
    let end = wired_end(&net, "end1-99");
    let mut ok = 0;
    for i in 0..400 {
        let t0 = Instant::now();
        if end.call(HANDLER2, &i).is_ok() {
            ok += 1;
            let took = t0.elapsed();
            assert!(
                took < Duration::from_millis(40),
                "a delivered RPC took {took:?}"
            );
        }
    }
    let delivered = log.lock().log2.len();
    // About 10 % of requests lost, then 10 % of the replies to the rest.
    assert!(
        (300..=390).contains(&delivered),
        "{delivered} of 400 requests delivered"
    );
    assert!(ok < delivered, "no reply was lost after its handler ran");
    assert!((250..=360).contains(&ok), "{ok} of 400 calls got a reply");
    net.cleanup();
}

/// With long reordering, about two thirds of replies are held 200–2200 ms.
#[test]
fn long_reordering_holds_back_two_thirds_of_replies() {
    let (net, _) = junk_network(5);
    net.set_long_reordering(true);
    let end = wired_end(&net, "end1-99");
    let waits: Vec<Duration> = thread::scope(|s| {
        let handles: Vec<_> = (0..60)
            .map(|i| {
                let end = &end;
                s.spawn(move || {
                    let t0 = Instant::now();
                    assert_eq!(end.call(HANDLER2, &i), Ok(format!("handler2-{i}")));
                    t0.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let held = waits
        .iter()
        .filter(|w| **w >= Duration::from_millis(200))
        .count();
    assert!(
        (25..=55).contains(&held),
        "{held} of 60 replies held back: {waits:?}"
    );
    let longest = waits.iter().max().unwrap();
    assert!(
        *longest < Duration::from_millis(2300),
        "a reply was held {longest:?}"
    );
    net.cleanup();
}

/// The same seed replays the same drop and delay decisions.
#[test]
fn the_same_seed_replays_the_same_coin_flips() {
    let outcomes = |seed: u64| {
        let (net, log) = junk_network(seed);
        net.set_reliable(false);
        let end = wired_end(&net, "end1-99");
        let replies: Vec<bool> = (0..200).map(|i| end.call(HANDLER2, &i).is_ok()).collect();
        let delivered = log.lock().log2.clone();
        net.cleanup();
        (replies, delivered)
    };
    let first = outcomes(42);
    assert_eq!(
        first,
        outcomes(42),
        "seed 42 gave different decisions twice"
    );
    assert_ne!(
        first,
        outcomes(43),
        "seeds 42 and 43 gave the same 200 decisions"
    );
}

#[test]
fn an_unknown_method_panics_with_its_name() {
    let (net, _) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    const MISSING: Method<i64, String> = Method::new("JunkServer.Missing");
    let message = panic_message(|| {
        let _ = end.call(MISSING, &1);
    });
    assert!(message.contains("JunkServer.Missing"), "{message}");
    assert!(
        message.contains("Handler2"),
        "should list the methods it has: {message}"
    );
    const ELSEWHERE: Method<i64, String> = Method::new("Nobody.Handler2");
    let message = panic_message(|| {
        let _ = end.call(ELSEWHERE, &1);
    });
    assert!(message.contains("no service \"Nobody\""), "{message}");
    net.cleanup();
}

#[test]
fn mismatched_types_panic_naming_both() {
    let (net, _) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    const WRONG: Method<u8, String> = Method::new("JunkServer.Handler2");
    let message = panic_message(|| {
        let _ = end.call(WRONG, &1);
    });
    assert!(message.contains("JunkServer.Handler2"), "{message}");
    assert!(message.contains("request u8"), "{message}");
    assert!(message.contains("request i64"), "{message}");
}

/// A request that fails to decode on the server is reported, not treated as a
/// lost message.
#[test]
fn a_decode_failure_is_reported() {
    #[derive(Serialize)]
    struct Picky;
    impl<'de> Deserialize<'de> for Picky {
        fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            Err(serde::de::Error::custom("Picky refuses every input"))
        }
    }
    const PICKY: Method<Picky, u8> = Method::new("Picky.Take");
    let net = Network::with_seed(1);
    let mut service = Service::new("Picky");
    service.handle(PICKY, |_: Picky| 1);
    let server = Server::new();
    server.add_service(service);
    net.add_server("server99", server);
    let end = wired_end(&net, "end");
    let message = panic_message(|| {
        let _ = end.call(PICKY, &Picky);
    });
    assert!(message.contains("Picky.Take"), "{message}");
    assert!(message.contains("do not decode as"), "{message}");
    assert!(message.contains("Picky refuses every input"), "{message}");
    net.cleanup();
}

#[test]
fn a_panicking_handler_is_reported_to_the_caller() {
    const BOOM: Method<(), ()> = Method::new("Boom.Go");
    let net = Network::with_seed(1);
    let mut service = Service::new("Boom");
    service.handle(BOOM, |()| panic!("kaboom"));
    let server = Server::new();
    server.add_service(service);
    net.add_server("server99", server);
    let end = wired_end(&net, "end");
    let message = panic_message(|| {
        let _ = end.call(BOOM, &());
    });
    assert!(
        message.contains("Boom.Go") && message.contains("kaboom"),
        "{message}"
    );
    net.cleanup();
}

/// One server may host several services.
#[test]
fn a_server_hosts_several_services() {
    const GET: Method<(), String> = Method::new("Kv.Get");
    let (net, _) = junk_network(1);
    let mut kv = Service::new("Kv");
    kv.handle(GET, |()| "value".to_owned());
    let log = Arc::new(Mutex::new(JunkLog::default()));
    let server = Server::new();
    server.add_service(junk_service(&log));
    server.add_service(kv);
    net.add_server("both", server);
    let end = net.make_end("end");
    net.connect("end", "both");
    net.enable("end", true);
    assert_eq!(end.call(GET, &()), Ok("value".into()));
    assert_eq!(end.call(HANDLER2, &5).as_deref(), Ok("handler2-5"));
    assert_eq!(net.count("both"), 2);
    net.cleanup();
}

/// Replacing a server is deleting the old one: its late replies are dropped.
#[test]
fn a_replaced_server_never_replies() {
    let (net, _) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    let call = {
        let end = end.clone();
        thread::spawn(move || end.call(HANDLER3, &1))
    };
    thread::sleep(Duration::from_millis(50));
    let log = Arc::new(Mutex::new(JunkLog::default()));
    let fresh = Server::new();
    fresh.add_service(junk_service(&log));
    net.add_server("server99", fresh);
    assert_eq!(call.join().unwrap(), Err(NoReply));
    assert_eq!(end.call(HANDLER2, &3).as_deref(), Ok("handler2-3"));
    assert_eq!(net.count("server99"), 1, "the count is the new server's");
    net.cleanup();
}

#[test]
fn make_end_refuses_a_duplicate_name() {
    let net = Network::with_seed(1);
    let _end = net.make_end("twice");
    let message = panic_message(|| {
        let _ = net.make_end("twice");
    });
    assert!(message.contains("\"twice\" exists already"), "{message}");
}

/// Deleting an end ends its calls at once: those in flight, those waiting
/// out a long delay, and later ones.
#[test]
fn deleting_an_end_ends_its_calls_at_once() {
    let (net, _) = junk_network(1);
    net.set_long_delays(true);
    let end = wired_end(&net, "end1-99");
    let lost = net.make_end("lost");
    thread::scope(|s| {
        let handler = s.spawn(|| end.call(HANDLER3, &1));
        let waiting = s.spawn(|| lost.call(HANDLER2, &1));
        thread::sleep(Duration::from_millis(50));
        let t0 = Instant::now();
        net.delete_end("end1-99");
        net.delete_end("lost");
        assert_eq!(handler.join().unwrap(), Err(NoReply));
        assert_eq!(waiting.join().unwrap(), Err(NoReply));
        assert!(
            t0.elapsed() < Duration::from_millis(50),
            "took {:?}",
            t0.elapsed()
        );
    });
    let t0 = Instant::now();
    assert_eq!(end.call(HANDLER2, &1), Err(NoReply));
    assert!(t0.elapsed() < Duration::from_millis(5));
    net.cleanup();
}

/// Each reply the network delivers is announced once, with its server and
/// method; replies that are not delivered (the server gone) are not.
#[test]
fn delivered_replies_are_announced() {
    let (net, _) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    assert_eq!(end.call(HANDLER2, &1).as_deref(), Ok("handler2-1"));
    let replies = net.watch_replies();
    assert_eq!(end.call(HANDLER2, &2).as_deref(), Ok("handler2-2"));
    assert_eq!(end.call(HANDLER6, &"abc".to_owned()), Ok(3));
    net.delete_server("server99");
    assert_eq!(end.call(HANDLER2, &3), Err(NoReply));
    let heard: Vec<labrpc::Replied> = std::iter::from_fn(|| replies.try_recv().ok()).collect();
    let expected = |method| labrpc::Replied {
        server: "server99".into(),
        method,
    };
    assert_eq!(
        heard,
        [
            expected("JunkServer.Handler2"),
            expected("JunkServer.Handler6")
        ]
    );
    net.cleanup();
}

/// Replies to a held end wait until it is let go, then arrive, even when
/// the end's new requests are blocked meanwhile; those of a held end that is
/// disabled meanwhile are discarded.
#[test]
fn held_replies_wait_until_let_go() {
    let (net, log) = junk_network(1);
    let end = wired_end(&net, "end1-99");
    net.hold_replies("end1-99", true);
    let caller = {
        let end = end.clone();
        thread::spawn(move || end.call(HANDLER2, &7))
    };
    // The handler ran, but its reply is held.
    let t0 = Instant::now();
    while log.lock().log2.is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the handler never ran"
        );
        thread::sleep(Duration::from_millis(1));
    }
    thread::sleep(Duration::from_millis(100));
    assert!(!caller.is_finished(), "a held reply was delivered");
    net.hold_replies("end1-99", false);
    assert_eq!(caller.join().unwrap().as_deref(), Ok("handler2-7"));

    // Blocked requests: a held reply still arrives, a new call is lost.
    net.hold_replies("end1-99", true);
    let caller = {
        let end = end.clone();
        thread::spawn(move || end.call(HANDLER2, &9))
    };
    while !log.lock().log2.contains(&9) {
        thread::sleep(Duration::from_millis(1));
    }
    net.block_requests("end1-99", true);
    net.hold_replies("end1-99", false);
    assert_eq!(caller.join().unwrap().as_deref(), Ok("handler2-9"));
    assert_eq!(end.call(HANDLER2, &10), Err(NoReply));
    assert!(
        !log.lock().log2.contains(&10),
        "a blocked request was delivered"
    );
    net.block_requests("end1-99", false);
    assert_eq!(end.call(HANDLER2, &11).as_deref(), Ok("handler2-11"));

    net.hold_replies("end1-99", true);
    let caller = thread::spawn(move || end.call(HANDLER2, &8));
    thread::sleep(Duration::from_millis(100));
    net.enable("end1-99", false);
    net.hold_replies("end1-99", false);
    assert_eq!(caller.join().unwrap(), Err(NoReply));
    net.cleanup();
}

/// A client reaches servers by name: its end to a server is made on first
/// use, and reaches whatever server is registered under that name, a
/// replacement included.
#[test]
fn a_client_reaches_servers_by_name() {
    let (net, log) = junk_network(1);
    let client = net.make_client("clerk-1");
    let end = client.end("server99");
    assert_eq!(end.call(HANDLER2, &7).as_deref(), Ok("handler2-7"));
    assert_eq!(
        client.end("server99").name(),
        end.name(),
        "one end per server"
    );
    // Restarted under the same name: the same end reaches the new server.
    net.delete_server("server99");
    assert_eq!(end.call(HANDLER2, &8), Err(NoReply));
    let server = Server::new();
    server.add_service(junk_service(&log));
    net.add_server("server99", server);
    assert_eq!(end.call(HANDLER2, &9).as_deref(), Ok("handler2-9"));
    // A name nobody serves: no reply.
    assert_eq!(client.end("server-5-0").call(HANDLER2, &1), Err(NoReply));
    net.cleanup();
}

/// Disconnecting a client disables its ends, those it makes later too;
/// reconnecting enables them all. Deleting it fails its calls at once, for
/// good.
#[test]
fn a_client_is_disconnected_and_deleted_whole() {
    let (net, log) = junk_network(1);
    let client = net.make_client("controller-1");
    let end = client.end("server99");
    net.enable_client("controller-1", false);
    assert_eq!(end.call(HANDLER2, &1), Err(NoReply));
    let server = Server::new();
    server.add_service(junk_service(&log));
    net.add_server("server98", server);
    let later = client.end("server98");
    assert_eq!(
        later.call(HANDLER2, &2),
        Err(NoReply),
        "an end made while disconnected"
    );
    assert!(
        log.lock().log2.is_empty(),
        "a disconnected client's request was delivered"
    );
    net.enable_client("controller-1", true);
    assert_eq!(end.call(HANDLER2, &3).as_deref(), Ok("handler2-3"));
    assert_eq!(later.call(HANDLER2, &4).as_deref(), Ok("handler2-4"));

    net.delete_client("controller-1");
    let t0 = Instant::now();
    assert_eq!(end.call(HANDLER2, &5), Err(NoReply));
    assert_eq!(client.end("server-1-0").call(HANDLER2, &6), Err(NoReply));
    assert!(
        t0.elapsed() < Duration::from_millis(50),
        "a deleted client's calls took {:?}; they fail at once",
        t0.elapsed()
    );
    // Another client is not touched.
    let other = net.make_client("clerk-2");
    assert_eq!(
        other.end("server99").call(HANDLER2, &7).as_deref(),
        Ok("handler2-7")
    );
    net.cleanup();
}

#[test]
fn a_client_name_is_made_once() {
    let net = Network::with_seed(1);
    net.make_client("c");
    let message = panic_message(|| {
        net.make_client("c");
    });
    assert!(
        message.contains("a client named \"c\" exists already"),
        "{message}"
    );
}

/// An abandoned client's next call ends its thread, without a panic; the
/// thread's join says so, and a thread that never calls runs on.
#[test]
fn an_abandoned_clients_call_ends_its_thread() {
    let (net, _) = junk_network(1);
    let client = net.make_client("old-controller");
    assert_eq!(
        client.end("server99").call(HANDLER2, &1).as_deref(),
        Ok("handler2-1")
    );
    net.abandon_client("old-controller");
    let reached = Arc::new(Mutex::new(false));
    let after = Arc::clone(&reached);
    let caller = thread::spawn(move || {
        let _ = client.end("server99").call(HANDLER2, &2);
        *after.lock() = true;
    });
    let payload = caller.join().expect_err("the call ended the thread");
    assert!(
        labrpc::rt::sim::is_killed_payload(payload.as_ref()),
        "not a panic"
    );
    assert!(!*reached.lock(), "the thread went on after its call");
    net.cleanup();
}
