//! The replicated state machine's tester (the course's `kvraft1/rsm`
//! `test.go` and `server.go`): three servers on a reliable network, each an
//! [`Rsm`] replicating the test's state machine, a [`Counter`].
//!
//! As the course's, the tests call [`Rsm::submit`] in-process, on a
//! server's replica, rather than through an RPC; only the Raft peers are
//! served on the network. Shutting a server down crashes it as every
//! tester here does (cut off, its server deleted, its persister copied,
//! killed); [`Rsm::kill`] must make the submits still waiting on it return.

use std::collections::BTreeSet;
use std::fmt;

use labrpc::rt::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use labrpc::rt::sync::{Arc, Mutex};
use labrpc::rt::thread;
use labrpc::rt::time::{Duration, Instant};
use rsm::{Rsm, StateMachine, WrongLeader};
use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::linearizability::html::EventKind;

/// The number of servers (the course's `NSRV`).
pub const NSRV: usize = 3;

/// How long [`Config::one_partition`] keeps trying (the course's `NSEC`).
pub const RETRY_WINDOW: Duration = Duration::from_secs(10);

/// An operation of the test's state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Adds one to the counter; replies with the new count.
    Inc,
    /// Changes nothing; replies [`Reply::Null`].
    Null,
    /// Never to be executed: the tests submit it only where it cannot
    /// commit, and executing it fails the test.
    Dec,
    /// Adds one to the counter, as [`Op::Inc`], and replies with its tag:
    /// the suite's own tests give each submit a tag of its own, to see that
    /// every reply answers its own submit and that no operation executes
    /// twice.
    Tagged(u64),
}

/// What an [`Op`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The counter after an [`Op::Inc`].
    Inc(u64),
    /// The reply to an [`Op::Null`].
    Null,
    /// The tag of an [`Op::Tagged`], and the counter after it.
    Tagged {
        /// The operation's tag.
        tag: u64,
        /// The counter after it.
        count: u64,
    },
}

/// The test's state machine (the course's `rsmSrv`): a counter, which the
/// tester reads beside the replica, and the tags of the tagged operations
/// it executed.
pub struct Counter {
    me: usize,
    state: CounterState,
    /// The count, for the tester to read while the replica runs.
    shown: Arc<AtomicU64>,
}

#[derive(Default, Serialize, Deserialize)]
struct CounterState {
    count: u64,
    tags: BTreeSet<u64>,
}

impl Counter {
    /// Server `me`'s counter, at 0, and the tester's view of its count.
    pub fn new(me: usize) -> (Counter, Arc<AtomicU64>) {
        let shown = Arc::new(AtomicU64::new(0));
        let counter = Counter {
            me,
            state: CounterState::default(),
            shown: Arc::clone(&shown),
        };
        (counter, shown)
    }

    fn add_one(&mut self) -> u64 {
        self.state.count += 1;
        self.shown.store(self.state.count, Ordering::SeqCst);
        self.state.count
    }
}

impl StateMachine for Counter {
    type Op = Op;
    type Reply = Reply;

    fn do_op(&mut self, op: Op) -> Reply {
        match op {
            Op::Inc => Reply::Inc(self.add_one()),
            Op::Null => Reply::Null,
            Op::Dec => panic!(
                "S{}: do_op should execute only Inc and not Dec: a Dec is submitted only to a \
                 leader cut off alone, and no entry of its can commit before the partition \
                 heals, when a new leader's entries replace them (the rsm executed an entry \
                 that Raft did not commit, or Raft committed one without a majority)",
                self.me
            ),
            Op::Tagged(tag) => {
                if !self.state.tags.insert(tag) {
                    panic!(
                        "S{}: the operation tagged {tag} executed twice; the tester submitted \
                         it once: an rsm must start each submitted operation in the log once",
                        self.me
                    );
                }
                Reply::Tagged {
                    tag,
                    count: self.add_one(),
                }
            }
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        labrpc::codec::encode(&self.state).expect("a counter encodes")
    }

    fn restore(&mut self, snapshot: &[u8]) {
        self.state = labrpc::codec::decode(snapshot).unwrap_or_else(|e| {
            panic!(
                "S{}: restore was given {} bytes that are not a counter's snapshot: {e}",
                self.me,
                snapshot.len()
            )
        });
        self.shown.store(self.state.count, Ordering::SeqCst);
    }
}

/// A running server: its replica, and its counter's count.
struct Replica {
    rsm: Rsm<Counter>,
    count: Arc<AtomicU64>,
}

/// Three rsm servers under test. Dropping it kills every server, cleans up
/// the network, and checks that no thread is left behind.
pub struct Config {
    cluster: Cluster,
    max_raft_state: Option<usize>,
    replicas: Mutex<Vec<Option<Replica>>>,
    /// Whether each server is connected (the course's `connected`): cleared
    /// by [`disconnect_all`](Config::disconnect_all) and shutdown, set by
    /// every connect.
    connected: Mutex<Vec<bool>>,
    /// The server whose submit last returned `OK`, where
    /// [`one_partition`](Config::one_partition) starts.
    leader: AtomicUsize,
    /// Submits that returned `OK` since `begin`.
    ops: AtomicU64,
}

impl Config {
    /// [`NSRV`] servers, started and connected, on a reliable network, each
    /// snapshotting near `max_raft_state` bytes of Raft state if given (the
    /// course's `makeTest(t, maxraftstate)`).
    pub fn new(max_raft_state: Option<usize>) -> Config {
        let config = Config {
            cluster: Cluster::new(NSRV),
            max_raft_state,
            replicas: Mutex::new((0..NSRV).map(|_| None).collect()),
            connected: Mutex::new(vec![false; NSRV]),
            leader: AtomicUsize::new(0),
            ops: AtomicU64::new(0),
        };
        config.start_servers();
        config
    }

    /// Fails the test: `message`, then how to replay it.
    #[track_caller]
    pub fn fail(&self, message: impl fmt::Display) -> ! {
        self.cluster.fail(message)
    }

    /// Prints the test's title (the course's `Begin`: `Test RSM basic
    /// (reliable network)...`) and starts its summary counters.
    pub fn begin(&self, description: &str) {
        self.cluster
            .begin(&format!("{description} (reliable network)"));
        self.ops.store(0, Ordering::SeqCst);
    }

    /// Checks the time limit, then prints the course's summary line:
    /// seconds, servers, RPCs, submits that returned `OK`.
    pub fn end(&self) {
        self.cluster.passed(NSRV, self.ops.load(Ordering::SeqCst));
    }

    /// A random number in `0..bound`, from the test's seeded generator.
    pub fn random(&self, bound: u64) -> u64 {
        self.cluster.random(bound)
    }

    /// Server `i`'s replica, if it is up.
    pub fn rsm(&self, i: usize) -> Option<Rsm<Counter>> {
        self.replicas.lock()[i].as_ref().map(|r| r.rsm.clone())
    }

    /// Submits `op` on server `i`'s replica, if it is up; a submit that
    /// returns `OK` counts in the summary.
    pub fn submit(&self, i: usize, op: Op) -> Option<Result<Reply, WrongLeader>> {
        let rsm = self.rsm(i)?;
        let result = rsm.submit(op);
        if result.is_ok() {
            self.ops.fetch_add(1, Ordering::SeqCst);
        }
        Some(result)
    }

    /// Whether server `i` is connected (the course's `IsConnected`).
    pub fn is_connected(&self, i: usize) -> bool {
        self.connected.lock()[i]
    }

    /// Connects server `i` to each server in `to`, and each of those that
    /// is connected to it (the course's `connect`).
    fn connect(&self, i: usize, to: &[usize]) {
        let mut connected = self.connected.lock();
        connected[i] = true;
        for &j in to {
            self.cluster.set_link(i, j, true);
            if connected[j] {
                self.cluster.set_link(j, i, true);
            }
        }
    }

    /// Cuts server `i` off from each server in `from`, both ways (the
    /// course's `disconnect`).
    fn disconnect(&self, i: usize, from: &[usize]) {
        let mut connected = self.connected.lock();
        connected[i] = false;
        for &j in from {
            self.cluster.set_link(i, j, false);
            self.cluster.set_link(j, i, false);
        }
    }

    /// Connects server `i` to every server (the course's `ConnectOne`).
    pub fn connect_one(&self, i: usize) {
        self.connect(i, &self.cluster.all());
    }

    /// Cuts server `i` off from every server (the course's `DisconnectAll`).
    pub fn disconnect_all(&self, i: usize) {
        self.disconnect(i, &self.cluster.all());
    }

    /// Cuts off the server whose submit last returned `OK` (the course's
    /// `disconnectLeader`); its index.
    pub fn disconnect_leader(&self) -> usize {
        let leader = self.leader.load(Ordering::SeqCst);
        self.disconnect_all(leader);
        leader
    }

    /// A server whose Raft peer believes it leads (the course's `Leader`).
    pub fn raft_leader(&self) -> Option<usize> {
        let replicas = self.replicas.lock();
        (0..NSRV).find(|&i| replicas[i].as_ref().is_some_and(|r| r.rsm.raft().state().1))
    }

    /// A majority of the servers other than `l`, and the rest with `l`
    /// last (the course's `MakePartition`).
    pub fn make_partition(&self, l: usize) -> (Vec<usize>, Vec<usize>) {
        let mut p1: Vec<usize> = (0..NSRV).filter(|&i| i != l).collect();
        let mut p2 = p1.split_off(NSRV / 2 + 1);
        p2.push(l);
        (p1, p2)
    }

    /// Two partitions, each connected within and cut off from the other
    /// (the course's `Partition`).
    pub fn partition(&self, p1: &[usize], p2: &[usize]) {
        self.cluster
            .event(EventKind::Network, format!("partition {p1:?} | {p2:?}"));
        for &i in p1 {
            self.disconnect(i, p2);
            self.connect(i, p1);
        }
        for &i in p2 {
            self.disconnect(i, p1);
            self.connect(i, p2);
        }
    }

    /// Starts server `i` from what it last persisted, with fresh ends and a
    /// counter at 0 (which its replica restores); not connected yet (the
    /// course's `StartServer`).
    pub fn start_server(&self, i: usize) {
        let (ends, persister) = self.cluster.restart_inputs(i);
        let (counter, count) = Counter::new(i);
        let rsm = self.cluster.on_server(i, || {
            Rsm::new(ends, i, persister, self.max_raft_state, counter)
        });
        self.cluster.serve(i, [rsm.raft().service()]);
        self.replicas.lock()[i] = Some(Replica { rsm, count });
    }

    /// Starts every server and connects them all (the course's
    /// `StartServers`).
    pub fn start_servers(&self) {
        for i in 0..NSRV {
            self.start_server(i);
        }
        for i in 0..NSRV {
            self.connect_one(i);
        }
    }

    /// Shuts server `i` down: cut off, its server deleted (so no reply it
    /// sends later is delivered), a copy of what it persisted kept, its
    /// replica killed (the course's `ShutdownServer`).
    pub fn shutdown_server(&self, i: usize) {
        self.disconnect_all(i);
        self.cluster.crash(i, || {
            let replica = self.replicas.lock()[i].take();
            let Some(replica) = replica else {
                return false;
            };
            replica.rsm.kill();
            true
        });
    }

    /// Shuts every server down (the course's `Shutdown`).
    pub fn shutdown(&self) {
        self.cluster
            .event(EventKind::Servers, "shut down every server".into());
        for i in 0..NSRV {
            self.shutdown_server(i);
        }
    }

    /// The largest saved Raft state among the servers, in bytes (the
    /// course's `LogSize`).
    pub fn log_size(&self) -> usize {
        self.cluster.log_size()
    }

    /// The course's `onePartition`: for up to [`RETRY_WINDOW`], submits `op`
    /// to each connected server in `p` (every server for `None`) in turn,
    /// starting at the last one that answered, pausing 50 ms after each
    /// round; the first reply, or `None` if no server gave one.
    pub fn one_partition(&self, p: Option<&[usize]>, op: Op) -> Option<Reply> {
        let t0 = Instant::now();
        while t0.elapsed() < RETRY_WINDOW {
            let mut index = self.leader.load(Ordering::SeqCst);
            for _ in 0..NSRV {
                if self.is_connected(index)
                    && p.is_none_or(|p| p.contains(&index))
                    && let Some(Ok(reply)) = self.submit(index, op)
                {
                    self.leader.store(index, Ordering::SeqCst);
                    return Some(reply);
                }
                index = (index + 1) % NSRV;
            }
            thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// One increment through [`one_partition`](Config::one_partition); the
    /// count it returned. Fails the test when no server
    /// executed it within the retry window, or it got another reply.
    pub fn one_inc(&self) -> u64 {
        match self.one_partition(None, Op::Inc) {
            Some(Reply::Inc(n)) => n,
            Some(other) => self.fail(format!("submit(Inc) was answered {other:?}")),
            None => self.fail(format!(
                "no server's submit(Inc) returned OK within {} s",
                RETRY_WINDOW.as_secs()
            )),
        }
    }

    /// The course's `oneNull`: one [`Op::Null`] through
    /// [`one_partition`](Config::one_partition), which may find no server.
    /// Fails the test on a reply other than [`Reply::Null`].
    pub fn one_null(&self) {
        match self.one_partition(None, Op::Null) {
            None | Some(Reply::Null) => {}
            Some(other) => self.fail(format!("submit(Null) was answered {other:?}")),
        }
    }

    /// How many running servers' counters are at `value`.
    fn count_value(&self, value: u64) -> usize {
        let replicas = self.replicas.lock();
        replicas
            .iter()
            .flatten()
            .filter(|r| r.count.load(Ordering::SeqCst) == value)
            .count()
    }

    /// The course's `checkCounter`: waits until at least `servers` servers'
    /// counters are at `value`, polling 30 times (10 ms apart, the pause
    /// doubling up to 1.28 s: about 30 s in all); fails the test if they
    /// never are.
    pub fn check_counter(&self, value: u64, servers: usize) {
        let mut pause = Duration::from_millis(10);
        let mut n = 0;
        for _ in 0..30 {
            n = self.count_value(value);
            if n >= servers {
                self.cluster.event(
                    EventKind::Test,
                    format!("{servers} servers have counter {value}"),
                );
                return;
            }
            thread::sleep(pause);
            if pause < Duration::from_secs(1) {
                pause *= 2;
            }
        }
        let counts: Vec<String> = self
            .replicas
            .lock()
            .iter()
            .enumerate()
            .map(|(i, r)| match r {
                Some(r) => format!("S{i} {}", r.count.load(Ordering::SeqCst)),
                None => format!("S{i} down"),
            })
            .collect();
        self.fail(format!(
            "checkCounter: only {n} srvs have {value} instead of {servers} (counters: {})",
            counts.join(", ")
        ))
    }
}

impl Drop for Config {
    /// The course's cleanup: kill every server and shut the network. Then,
    /// ours: every thread the test started must have exited.
    fn drop(&mut self) {
        self.cluster.shut_down(|| {
            let replicas: Vec<Replica> = self
                .replicas
                .lock()
                .iter_mut()
                .filter_map(Option::take)
                .collect();
            for replica in replicas {
                replica.rsm.kill();
            }
        });
    }
}
