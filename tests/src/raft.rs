//! The Raft tester: a group of peers on an emulated network, and the checks
//! the Raft suites make (the course's `config.go`, helper by helper).
//!
//! Each peer `i` is served as `server-i`; its outgoing ends get fresh random
//! names at every (re)start, so a crashed instance's ends can never reach
//! anyone again. Its committed commands go to an applier thread of the
//! tester, which checks them against every other peer's as they arrive.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use labraft::{ApplyMsg, Index, Raft, Term};
use labrpc::lab::Part;
use labrpc::rt::channel::{self, Receiver, Sender};
use labrpc::rt::sim;
use labrpc::rt::sync::atomic::{AtomicBool, Ordering};
use labrpc::rt::sync::{Arc, Mutex};
use labrpc::rt::thread::{self, JoinHandle};
use labrpc::rt::time::{Duration, Instant};
use labrpc::{Replied, select};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::linearizability::html::EventKind;
use crate::support::Net;

pub use crate::support::ELECTION_TIMEOUT;

/// The snapshot applier hands Raft a snapshot after every this many entries.
pub const SNAPSHOT_INTERVAL: Index = 10;

/// The 2D tests' bound on the saved Raft state, in bytes.
pub const MAX_LOG_SIZE: usize = 2000;

/// How often the harness asks every peer whether it leads (see
/// [`LeaderWatch`]): in a simulation often, since it costs no real time; in
/// real time no more than the course's own checks would notice.
fn leader_sample_interval() -> Duration {
    if sim::is_simulated() {
        Duration::from_millis(1)
    } else {
        Duration::from_millis(10)
    }
}

/// A command the tests submit: a number, or (for the byte-count test) text.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A number.
    Int(u64),
    /// A string.
    Text(String),
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Int(n) => write!(f, "{n}"),
            Command::Text(s) if s.len() > 16 => write!(f, "{:?}…({} bytes)", &s[..16], s.len()),
            Command::Text(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<u64> for Command {
    fn from(n: u64) -> Self {
        Command::Int(n)
    }
}

/// How many random bytes tag each entry the tester submits from part 2C on.
pub const TAG_LEN: usize = 8;

/// What the tester hands Raft as a command: the test's command and, from
/// part 2C on, a tag of [`TAG_LEN`] random bytes drawn at each `start`.
/// Nothing reads the tag but the harness's check that the peers' persisters
/// can hold what they committed (see [`Config::check_persisted`]): random
/// bytes cannot be saved in fewer bytes, so each committed entry adds
/// [`TAG_LEN`] bytes that a majority's persisters must find room for.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    command: Command,
    tag: Option<[u8; TAG_LEN]>,
}

impl fmt::Debug for Entry {
    /// The command alone: tags matter only where two entries differ in
    /// nothing else (see [`mismatch`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.command.fmt(f)
    }
}

impl Entry {
    fn encode(&self) -> Vec<u8> {
        labrpc::codec::encode(self).expect("entries always encode")
    }

    /// The tag in hexadecimal, or `untagged`.
    fn tag_text(&self) -> String {
        self.tag.map_or_else(
            || "untagged".to_owned(),
            |tag| tag.iter().map(|b| format!("{b:02x}")).collect(),
        )
    }
}

/// How two peers' entries at `index` differ, for an apply error: their
/// commands, or their tags when the commands are the same (two `start`s of
/// one command that landed at one index on different peers).
fn mismatch(index: Index, i: usize, entry: &Entry, j: usize, old: &Entry) -> String {
    if entry.command == old.command {
        format!(
            "commit index={index} server={i} {entry:?} (tag {}) != server={j} {old:?} (tag {}): \
             two submissions of one command",
            entry.tag_text(),
            old.tag_text()
        )
    } else {
        format!("commit index={index} server={i} {entry:?} != server={j} {old:?}")
    }
}

/// Which applier reads a peer's apply channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applier {
    /// Checks each command against the other peers'; ignores snapshots.
    Plain,
    /// Also hands Raft a snapshot every [`SNAPSHOT_INTERVAL`] entries, and
    /// installs the snapshots Raft delivers.
    Snapshot,
}

/// What [`Config::one`] does when a leader took the command but too few
/// peers applied it within 2 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Submit it again, to whichever peer leads now (the course's
    /// `retry = true`): the leader may have lost its leadership.
    Resubmit,
    /// Fail the test (the course's `retry = false`): the command must
    /// commit under the leader that took it.
    Never,
}

/// What the snapshot applier puts in a snapshot: the last index it covers
/// and every entry through it, tags and all (index 0 holds nothing).
#[derive(Serialize, Deserialize)]
struct SnapshotData {
    last_included_index: Index,
    entries: Vec<Option<Entry>>,
}

/// What every peer's applier has seen.
#[derive(Default)]
struct Applied {
    /// `logs[i][index]`: the entry peer `i` applied at `index`.
    logs: Vec<HashMap<Index, Entry>>,
    /// The indices known committed (applied by a peer, or covered by a
    /// snapshot a peer's service holds) whose entry carries a tag.
    tagged: HashSet<Index>,
    last_applied: Vec<Index>,
    max_index: Index,
    /// The first apply error of each peer.
    errors: Vec<Option<String>>,
    /// Peers whose applier reads nothing for now (see
    /// [`Config::hold_applier`]).
    held: Vec<bool>,
}

/// The harness's own watch on election safety, a check the course does
/// not make: "at most one leader can be elected in a given term" (§5.2,
/// Figure 3). A thread asks every running peer's [`Raft::state`] every
/// [`leader_sample_interval`] and remembers which peer claimed each term;
/// a second peer claiming a term fails the test at its next check. The
/// course looks at leaders only when a test calls `check_one_leader`, so a
/// second leader that steps down within a heartbeat goes unseen there.
struct LeaderWatch {
    /// The running instances, by peer.
    peers: Arc<Mutex<Vec<Option<Raft>>>>,
    seen: Arc<Mutex<Claims>>,
    /// Dropped to stop the thread.
    stop: Mutex<Option<Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What the leader watch has seen.
#[derive(Default)]
struct Claims {
    /// The peer that claimed to lead each term.
    leaders: HashMap<Term, usize>,
    /// The first second claim to a term.
    violation: Option<String>,
}

impl LeaderWatch {
    fn start(n: usize) -> LeaderWatch {
        let peers = Arc::new(Mutex::new(vec![None; n]));
        let seen = Arc::new(Mutex::new(Claims::default()));
        let (stop, stopped) = channel::bounded::<()>(0);
        let thread = {
            let (peers, seen) = (Arc::clone(&peers), Arc::clone(&seen));
            thread::Builder::new()
                .name("tester-leader-watch".into())
                .spawn(move || {
                    let interval = leader_sample_interval();
                    loop {
                        select! {
                            recv(stopped) -> _ => return,
                            default(interval) => {}
                        }
                        let running: Vec<(usize, Raft)> = peers
                            .lock()
                            .iter()
                            .enumerate()
                            .filter_map(|(i, raft)| Some((i, raft.clone()?)))
                            .collect();
                        for (i, raft) in running {
                            if let (term, true) = raft.state() {
                                Self::claim(&seen, term, i);
                            }
                        }
                    }
                })
                .expect("cannot spawn the leader watch")
        };
        LeaderWatch {
            peers,
            seen,
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        }
    }

    fn claim(seen: &Mutex<Claims>, term: Term, peer: usize) {
        let mut seen = seen.lock();
        let first = *seen.leaders.entry(term).or_insert(peer);
        if first != peer && seen.violation.is_none() {
            seen.violation = Some(format!(
                "two leaders in term {term}: peer {first} and peer {peer} each said so \
                 (state()); at most one can be elected in a term (§5.2, election safety)"
            ));
        }
    }

    /// Peer `i`'s running instance, or `None` while it is crashed.
    fn set(&self, i: usize, raft: Option<Raft>) {
        self.peers.lock()[i] = raft;
    }

    fn violation(&self) -> Option<String> {
        self.seen.lock().violation.clone()
    }

    fn stop(&self) {
        self.stop.lock().take();
        if let Some(thread) = self.thread.lock().take() {
            // A panic there (a `state()` that panics) is the panic
            // recorder's to report, at the test's end.
            let _ = thread.join();
        }
    }
}

/// One running instance of a peer.
struct Instance {
    raft: Raft,
    /// Dropped to stop the applier.
    stop_applier: Sender<()>,
    applier: JoinHandle<()>,
}

/// The tester's view of the group.
struct Group {
    instances: Vec<Option<Instance>>,
    connected: Vec<bool>,
}

/// A Raft group under test. Dropping it kills every peer, cleans up the
/// network, and checks that no thread is left behind.
pub struct Config {
    cluster: Cluster,
    applier: Applier,
    /// Whether the test's part asks for persistence (2C on): its entries
    /// are tagged, and the persisters checked at each crash and at the end.
    persistent: bool,
    group: Mutex<Group>,
    applied: Arc<Mutex<Applied>>,
    leaders: LeaderWatch,
    finished: Arc<AtomicBool>,
    /// The summary's starting point, set by [`begin`](Config::begin).
    mark: Mutex<Mark>,
}

#[derive(Clone, Copy)]
struct Mark {
    t0: Instant,
    rpcs: u64,
    bytes: u64,
    max_index: Index,
}

impl Config {
    /// A group of `n` peers, all started and connected, on a network with
    /// long delays (so a leader that waits for one RPC before sending the
    /// next falls behind), whose committed commands go to `applier`. The
    /// course's `make_config(t, n, unreliable, snapshot)`.
    pub fn new(n: usize, net: Net, applier: Applier) -> Config {
        let cluster = Cluster::new(n);
        net.apply_to(&cluster);
        cluster.net().set_long_delays(true);
        let part = cluster.session().part().map(Part::name);
        let persistent = matches!(part, Some("2c" | "2d"));
        let config = Config {
            cluster,
            applier,
            persistent,
            group: Mutex::new(Group {
                instances: (0..n).map(|_| None).collect(),
                connected: vec![false; n],
            }),
            applied: Arc::new(Mutex::new(Applied {
                logs: vec![HashMap::new(); n],
                tagged: HashSet::new(),
                last_applied: vec![0; n],
                max_index: 0,
                errors: vec![None; n],
                held: vec![false; n],
            })),
            leaders: LeaderWatch::start(n),
            finished: Arc::new(AtomicBool::new(false)),
            mark: Mutex::new(Mark {
                t0: Instant::now(),
                rpcs: 0,
                bytes: 0,
                max_index: 0,
            }),
        };
        for i in 0..n {
            config.start1(i);
        }
        for i in 0..n {
            config.connect(i);
        }
        config
    }

    /// A random number in `0..bound`, from the test's seeded generator.
    pub fn random(&self, bound: u64) -> u64 {
        self.cluster.random(bound)
    }

    /// A random non-negative 63-bit integer, like Go's `rand.Int()`.
    pub fn random_int(&self) -> u64 {
        self.random(1 << 63)
    }

    /// A random string of `len` characters, from the test's seeded generator.
    pub fn random_string(&self, len: usize) -> String {
        self.cluster.random_string(len)
    }

    /// Fails the test: `message`, then how to replay the network.
    #[track_caller]
    pub fn fail(&self, message: impl fmt::Display) -> ! {
        self.cluster.fail(message)
    }

    /// Prints the test's title and starts its summary counters.
    pub fn begin(&self, description: &str) {
        self.cluster.title(description);
        *self.mark.lock() = Mark {
            t0: Instant::now(),
            rpcs: self.rpc_total(),
            bytes: self.bytes_total(),
            max_index: self.applied.lock().max_index,
        };
    }

    /// Checks the time limit, then prints the course's summary line: seconds,
    /// peers, RPCs, bytes, agreements.
    pub fn end(&self) {
        self.check_safety();
        self.check_persisted();
        self.cluster.check_time();
        let mark = *self.mark.lock();
        println!(
            "  ... Passed --  {:4.1}  {} {:4} {:7} {:4}",
            mark.t0.elapsed().as_secs_f64(),
            self.cluster.n(),
            self.rpc_total() - mark.rpcs,
            self.bytes_total() - mark.bytes,
            self.applied.lock().max_index - mark.max_index
        );
    }

    /// Crashes peer `i`: cut it off, delete its server (so no reply it sends
    /// from now on is delivered) and its ends, keep a copy of what it
    /// persisted, and kill it. Anything the dead instance still writes goes
    /// to a persister nobody reads.
    pub fn crash1(&self, i: usize) {
        if self.group.lock().instances[i].is_some() {
            self.check_persisted();
        }
        self.cluster
            .event(EventKind::Servers, format!("crash S{i}"));
        self.disconnect(i);
        self.cluster.crash(i, || {
            let instance = self.group.lock().instances[i].take();
            self.leaders.set(i, None);
            let Some(instance) = instance else {
                return false;
            };
            instance.raft.kill();
            drop(instance.stop_applier);
            instance
                .applier
                .join()
                .expect("the tester's applier does not panic");
            true
        });
    }

    /// (Re)starts peer `i` from what it last persisted, with fresh ends to
    /// every peer. It starts disconnected; call [`connect`](Config::connect).
    pub fn start1(&self, i: usize) {
        self.crash1(i);
        self.cluster
            .event(EventKind::Servers, format!("start S{i}"));
        let (ends, persister) = self.cluster.restart_inputs(i);
        {
            let mut applied = self.applied.lock();
            applied.last_applied[i] = 0;
            // Like a key/value server, restore the snapshot before Raft
            // starts: Raft does not deliver it again.
            let snapshot = persister.snapshot();
            if !snapshot.is_empty()
                && let Err(e) = ingest_snapshot(&mut applied, i, &snapshot, None)
            {
                drop(applied);
                self.fail(e);
            }
        }

        let (apply_to, apply_from) = channel::bounded(0);
        let raft = self
            .cluster
            .on_server(i, || Raft::new(ends, i, persister, apply_to));
        let (stop_applier, stopped) = channel::bounded(0);
        let applier = {
            let applied = Arc::clone(&self.applied);
            let raft = raft.clone();
            let kind = self.applier;
            thread::Builder::new()
                .name(format!("tester-applier-{i}"))
                .spawn(move || apply_loop(i, kind, &raft, &apply_from, &stopped, &applied))
                .expect("cannot spawn an applier")
        };
        self.cluster.serve(i, [raft.service()]);
        self.leaders.set(i, Some(raft.clone()));
        self.group.lock().instances[i] = Some(Instance {
            raft,
            stop_applier,
            applier,
        });
    }

    /// Waits, looking every 10 ms, until `done` holds; fails the test,
    /// saying that `what` did not happen, if it does not within 5 s.
    pub fn wait_until(&self, what: &str, done: impl Fn() -> bool) {
        let t0 = Instant::now();
        while !done() {
            if t0.elapsed() > ELECTION_TIMEOUT * 5 {
                self.fail(format!("{what} did not happen within 5 s"));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Holds peer `i`'s applier (`true`): it reads nothing from the apply
    /// channel, like a service busy elsewhere, so Raft's sends on it block,
    /// until let go (`false`). A check beyond the course's, whose appliers
    /// read at once: Raft must stay correct however slowly its service
    /// reads. Holds across a restart of the peer.
    pub fn hold_applier(&self, i: usize, held: bool) {
        self.cluster.event(
            EventKind::Test,
            format!("{} S{i}'s applier", if held { "hold" } else { "let go" }),
        );
        self.applied.lock().held[i] = held;
    }

    /// Attaches peer `i` to the network: its ends to connected peers, and
    /// theirs to it.
    pub fn connect(&self, i: usize) {
        self.cluster
            .event(EventKind::Network, format!("connect S{i}"));
        let mut group = self.group.lock();
        group.connected[i] = true;
        for j in 0..self.cluster.n() {
            if group.connected[j] {
                self.cluster.set_link(i, j, true);
                self.cluster.set_link(j, i, true);
            }
        }
    }

    /// Detaches peer `i` from the network: every end to or from it.
    pub fn disconnect(&self, i: usize) {
        self.cluster
            .event(EventKind::Network, format!("disconnect S{i}"));
        let mut group = self.group.lock();
        group.connected[i] = false;
        for j in 0..self.cluster.n() {
            self.cluster.set_link(i, j, false);
            self.cluster.set_link(j, i, false);
        }
    }

    /// Enables or disables the one-way link from peer `from` to peer `to`:
    /// `from`'s requests to `to`, and `to`'s replies to them. (An
    /// asymmetric partition, which the course's tests never make; links
    /// change back with [`connect`](Config::connect) and
    /// [`disconnect`](Config::disconnect).)
    pub fn set_link(&self, from: usize, to: usize, enabled: bool) {
        self.cluster.event(
            EventKind::Network,
            format!(
                "link S{from} -> S{to} {}",
                if enabled { "up" } else { "down" }
            ),
        );
        self.cluster.set_link(from, to, enabled);
    }

    /// Holds back (`true`) the replies to peer `from`'s requests to peer
    /// `to`, those in flight and later ones, until let go (`false`): they
    /// arrive late, even after the term they were sent in (see
    /// [`Network::hold_replies`](labrpc::Network::hold_replies); the course's tests never do this). Applies
    /// to `from`'s current instance only.
    pub fn hold_replies(&self, from: usize, to: usize, held: bool) {
        self.cluster.event(
            EventKind::Network,
            format!(
                "{} replies S{to} -> S{from}",
                if held { "hold" } else { "let go" }
            ),
        );
        self.cluster.hold_replies(from, to, held);
    }

    /// Loses (`true`) peer `from`'s new requests to peer `to` until
    /// unblocked (`false`), while replies to requests already delivered
    /// still come back (see [`Network::block_requests`](labrpc::Network::block_requests); the course's tests
    /// never do this). Applies to `from`'s current instance only.
    pub fn block_requests(&self, from: usize, to: usize, blocked: bool) {
        self.cluster.event(
            EventKind::Network,
            format!(
                "{} requests S{from} -> S{to}",
                if blocked { "block" } else { "unblock" }
            ),
        );
        self.cluster.block_requests(from, to, blocked);
    }

    /// Announces, from now on, each reply a peer sends that the network is
    /// about to deliver (see [`Network::watch_replies`](labrpc::Network::watch_replies); a peer's server is
    /// named [`server_name`](crate::cluster::server_name)): the moment a peer has answered, for
    /// a test to act on. Only the latest watch hears them.
    pub fn watch_replies(&self) -> Receiver<Replied> {
        self.cluster.net().watch_replies()
    }

    /// Whether peer `i` is connected.
    pub fn is_connected(&self, i: usize) -> bool {
        self.group.lock().connected[i]
    }

    /// Peer `i`'s running instance, if it is not crashed.
    pub fn raft(&self, i: usize) -> Option<Raft> {
        self.group.lock().instances[i]
            .as_ref()
            .map(|inst| inst.raft.clone())
    }

    /// `start(cmd)` on peer `i`: its index and term if it leads, `None` if it
    /// does not or is crashed.
    pub fn start(&self, i: usize, cmd: impl Into<Command>) -> Option<(Index, Term)> {
        let raft = self.raft(i)?;
        let entry = Entry {
            command: cmd.into(),
            tag: self
                .persistent
                .then(|| self.cluster.checks_rng().lock().random()),
        };
        // Whatever start sets going runs on peer i's machine.
        self.cluster
            .on_server(i, || raft.start(entry.encode()).ok())
    }

    /// From part 2C on, fails the test unless the peers' persisters can
    /// hold the tags of the entries known committed: see
    /// [`Cluster::check_persisted`] for the bound and why every correct Raft
    /// meets it. The tester's snapshots hold every entry they cover, tags
    /// included, so the bound holds in 2D too. Made at each crash and at
    /// the test's end; the course makes no such check.
    pub fn check_persisted(&self) {
        if !self.persistent {
            return;
        }
        let committed = self.applied.lock().tagged.len();
        self.cluster.check_persisted(
            committed * TAG_LEN,
            &format!(
                "{committed} entries known committed, each tagged with {TAG_LEN} random bytes"
            ),
        );
    }

    /// Peer `i`'s term and whether it leads; `None` if it is crashed.
    pub fn state(&self, i: usize) -> Option<(Term, bool)> {
        self.raft(i).map(|r| r.state())
    }

    /// Requests delivered to peer `i`'s server.
    pub fn rpc_count(&self, i: usize) -> u64 {
        self.cluster.rpc_count(i)
    }

    /// All requests sent on the network.
    pub fn rpc_total(&self) -> u64 {
        self.cluster.rpc_total()
    }

    /// All bytes sent on the network.
    pub fn bytes_total(&self) -> u64 {
        self.cluster.bytes_total()
    }

    /// Makes the network reliable or not (the course's `setunreliable`).
    pub fn set_net(&self, net: Net) {
        net.apply_to(&self.cluster);
    }

    /// Turns long reordering of replies on or off.
    pub fn set_long_reordering(&self, on: bool) {
        self.cluster.event(
            EventKind::Network,
            format!("long reordering {}", if on { "on" } else { "off" }),
        );
        self.cluster.net().set_long_reordering(on);
    }

    /// Holds back a third of requests 200–2200 ms, or stops (see
    /// [`Network::set_late_requests`](labrpc::Network::set_late_requests); not a fault the course's tests make).
    pub fn set_late_requests(&self, on: bool) {
        self.cluster.event(
            EventKind::Network,
            format!("late requests {}", if on { "on" } else { "off" }),
        );
        self.cluster.net().set_late_requests(on);
    }

    /// The largest saved Raft state among the peers, in bytes.
    pub fn log_size(&self) -> usize {
        self.cluster.log_size()
    }

    /// Fails the test if the harness's own watch saw two leaders in one
    /// term: a thread asks every running peer's `state()` every millisecond
    /// in simulation (10 ms in real time), and at most one peer may ever
    /// claim a term (§5.2, election safety). The course makes no such check.
    pub fn check_safety(&self) {
        if let Some(violation) = self.leaders.violation() {
            self.fail(violation);
        }
    }

    /// Checks that exactly one connected peer leads in the newest term that
    /// has a leader, trying for about five seconds; returns it.
    pub fn check_one_leader(&self) -> usize {
        self.check_safety();
        for _ in 0..10 {
            thread::sleep(Duration::from_millis(450 + self.random(100)));
            let mut leaders: BTreeMap<Term, Vec<usize>> = BTreeMap::new();
            for i in 0..self.cluster.n() {
                if self.is_connected(i)
                    && let Some((term, true)) = self.state(i)
                {
                    leaders.entry(term).or_default().push(i);
                }
            }
            for (term, peers) in &leaders {
                if peers.len() > 1 {
                    self.fail(format!(
                        "term {term} has {} (>1) leaders: peers {peers:?}",
                        peers.len()
                    ));
                }
            }
            if let Some((_, peers)) = leaders.last_key_value() {
                return peers[0];
            }
        }
        self.fail("expected one leader, got none (waited about 5 s)");
    }

    /// Checks that every connected peer has the same term; returns it.
    pub fn check_terms(&self) -> Option<Term> {
        self.check_safety();
        let mut term = None;
        for i in 0..self.cluster.n() {
            if !self.is_connected(i) {
                continue;
            }
            let Some((t, _)) = self.state(i) else {
                continue;
            };
            match term {
                None => term = Some(t),
                Some(seen) if seen != t => self.fail(format!(
                    "servers disagree on term: {seen} and {t} (peer {i})"
                )),
                Some(_) => {}
            }
        }
        term
    }

    /// Checks that no connected peer thinks it leads.
    pub fn check_no_leader(&self) {
        self.check_safety();
        for i in 0..self.cluster.n() {
            if self.is_connected(i) && matches!(self.state(i), Some((_, true))) {
                self.fail(format!(
                    "expected no leader among connected servers, but {i} claims to be leader"
                ));
            }
        }
    }

    /// How many peers have applied `index`, and the command there; fails
    /// on any apply error, or if two peers applied different commands.
    pub fn n_committed(&self, index: Index) -> (usize, Option<Command>) {
        self.check_safety();
        let applied = self.applied.lock();
        if let Some(error) = applied.errors.iter().flatten().next() {
            let error = error.clone();
            drop(applied);
            self.fail(format!("apply error: {error}"));
        }
        let mut count = 0;
        let mut entry: Option<&Entry> = None;
        for log in &applied.logs {
            if let Some(this) = log.get(&index) {
                if let Some(seen) = entry
                    && seen != this
                {
                    let message = format!(
                        "committed values do not match: index {index}, {seen:?} (tag {}), \
                         {this:?} (tag {})",
                        seen.tag_text(),
                        this.tag_text()
                    );
                    drop(applied);
                    self.fail(message);
                }
                count += 1;
                entry = Some(this);
            }
        }
        (count, entry.map(|e| e.command.clone()))
    }

    /// Waits for at least `n` peers to apply `index`, backing off from 10 ms;
    /// gives up (returning `None`) if some peer moves past `start_term`.
    pub fn wait(&self, index: Index, n: usize, start_term: Option<Term>) -> Option<Command> {
        let mut pause = Duration::from_millis(10);
        for _ in 0..30 {
            if self.n_committed(index).0 >= n {
                break;
            }
            thread::sleep(pause);
            if pause < Duration::from_secs(1) {
                pause *= 2;
            }
            if let Some(start_term) = start_term {
                let moved_on = (0..self.cluster.n())
                    .any(|i| self.state(i).is_some_and(|(t, _)| t > start_term));
                if moved_on {
                    // Someone has moved on: this agreement can no longer be
                    // guaranteed.
                    return None;
                }
            }
        }
        let (count, command) = self.n_committed(index);
        if count < n {
            self.fail(format!(
                "only {count} decided for index {index}; wanted {n}"
            ));
        }
        command
    }

    /// Full agreement on `cmd`: submits it to whichever connected peer leads
    /// (trying them in turn, for up to 10 s), then waits up to 2 s for
    /// `expected` peers to apply it. What a failed round does is `retry`'s
    /// to say. Returns the index. The course's `one(cmd, expected, retry)`.
    pub fn one(&self, cmd: impl Into<Command>, expected: usize, retry: Retry) -> Index {
        let cmd = cmd.into();
        let t0 = Instant::now();
        let mut starts = 0;
        while t0.elapsed() < Duration::from_secs(10) && !self.finished.load(Ordering::SeqCst) {
            // Try all the servers; maybe one is the leader.
            let mut index = None;
            for _ in 0..self.cluster.n() {
                starts = (starts + 1) % self.cluster.n();
                if self.is_connected(starts)
                    && let Some((i, _)) = self.start(starts, cmd.clone())
                {
                    index = Some(i);
                    break;
                }
            }
            let Some(index) = index else {
                thread::sleep(Duration::from_millis(50));
                continue;
            };
            // Somebody claimed to lead and to have submitted the command;
            // wait a while for agreement.
            let t1 = Instant::now();
            while t1.elapsed() < Duration::from_secs(2) {
                let (count, committed) = self.n_committed(index);
                if count > 0 && count >= expected && committed.as_ref() == Some(&cmd) {
                    return index;
                }
                thread::sleep(Duration::from_millis(20));
            }
            if retry == Retry::Never {
                self.fail(format!(
                    "one({cmd:?}) failed to reach agreement: index {index} was not applied by \
                     {expected} peers with that command within 2 s"
                ));
            }
        }
        self.fail(format!(
            "one({cmd:?}) failed to reach agreement on {expected} peers within 10 s"
        ));
    }
}

impl Drop for Config {
    /// The course's cleanup: kill every peer and shut the network. Then, ours:
    /// every thread the test started must have exited.
    fn drop(&mut self) {
        if sim::is_dead() {
            // Nothing in this world runs again: leave it as it is.
            return;
        }
        self.finished.store(true, Ordering::SeqCst);
        self.leaders.stop();
        self.cluster.shut_down(|| {
            let instances: Vec<Instance> = self
                .group
                .lock()
                .instances
                .iter_mut()
                .filter_map(Option::take)
                .collect();
            for instance in instances {
                instance.raft.kill();
                drop(instance.stop_applier);
                let _ = instance.applier.join();
            }
        });
    }
}

/// How often a held applier looks whether it has been let go.
const HOLD_POLL: Duration = Duration::from_millis(1);

/// Reads peer `i`'s apply channel until told to stop, checking each message.
fn apply_loop(
    i: usize,
    kind: Applier,
    raft: &Raft,
    messages: &Receiver<ApplyMsg>,
    stop: &Receiver<()>,
    applied: &Mutex<Applied>,
) {
    loop {
        while applied.lock().held[i] {
            if !matches!(stop.try_recv(), Err(channel::TryRecvError::Empty)) {
                return;
            }
            thread::sleep(HOLD_POLL);
        }
        let message = select! {
            recv(messages) -> m => match m {
                Ok(m) => m,
                Err(_) => return,
            },
            recv(stop) -> _ => return,
        };
        let outcome = match (kind, message) {
            (Applier::Plain, ApplyMsg::Snapshot { .. }) => Ok(()),
            (Applier::Plain, ApplyMsg::Command { index, command }) => {
                check_command(&mut applied.lock(), i, index, &command)
            }
            (Applier::Snapshot, ApplyMsg::Snapshot { index, data, .. }) => {
                ingest_snapshot(&mut applied.lock(), i, &data, Some(index))
            }
            (Applier::Snapshot, ApplyMsg::Command { index, command }) => {
                apply_and_snapshot(applied, raft, i, index, &command)
            }
        };
        if let Err(error) = outcome {
            // Go's tester exits here; this one records the error, which
            // fails the test at its next check, and keeps reading so that
            // Raft is not left blocked. Only a peer's first error is
            // printed: the ones that follow it are mostly its echoes.
            let mut applied = applied.lock();
            if applied.errors[i].is_none() {
                eprintln!("apply error: {error}");
                applied.errors[i] = Some(error);
            }
        }
    }
}

/// The snapshot applier's handling of one command.
fn apply_and_snapshot(
    applied: &Mutex<Applied>,
    raft: &Raft,
    i: usize,
    index: Index,
    command: &[u8],
) -> Result<(), String> {
    let snapshot = {
        let mut applied = applied.lock();
        let expected = applied.last_applied[i] + 1;
        if index != expected {
            return Err(format!(
                "server {i} apply out of order, expected index {expected}, got {index}"
            ));
        }
        check_command(&mut applied, i, index, command)?;
        if !(index + 1).is_multiple_of(SNAPSHOT_INTERVAL) {
            return Ok(());
        }
        let entries = (0..=index)
            .map(|j| applied.logs[i].get(&j).cloned())
            .collect();
        labrpc::codec::encode(&SnapshotData {
            last_included_index: index,
            entries,
        })
        .expect("snapshots always encode")
    };
    // Outside the tester's lock: Raft may take its own.
    raft.snapshot(index, snapshot);
    Ok(())
}

/// Records that peer `i` applied `command` at `index`, checking it against
/// every peer's command there and that `index - 1` came first.
fn check_command(
    applied: &mut Applied,
    i: usize,
    index: Index,
    command: &[u8],
) -> Result<(), String> {
    let entry: Entry = labrpc::codec::decode(command).map_err(|e| {
        format!("server {i} applied something that is not a test command at index {index}: {e}")
    })?;
    let mut error = None;
    for (j, log) in applied.logs.iter().enumerate() {
        if let Some(old) = log.get(&index)
            && *old != entry
        {
            // Some server has already committed a different value here.
            error = Some(mismatch(index, i, &entry, j, old));
        }
    }
    let previous_ok = applied.logs[i].contains_key(&(index - 1));
    if entry.tag.is_some() {
        applied.tagged.insert(index);
    }
    applied.logs[i].insert(index, entry);
    applied.last_applied[i] = index;
    applied.max_index = applied.max_index.max(index);
    if let Some(error) = error {
        return Err(error);
    }
    if index > 1 && !previous_ok {
        return Err(format!("server {i} apply out of order {index}"));
    }
    Ok(())
}

/// Replaces peer `i`'s applied log with a snapshot's contents. With
/// `expected` (a snapshot Raft delivered), the snapshot must cover exactly
/// that index, and (a check beyond the course's) must not be older than what
/// the peer has applied already: a service switched to it would go back in
/// time. The labs' `CondInstallSnapshot` (2021) refused such snapshots;
/// since 2022 Raft itself must not deliver them.
fn ingest_snapshot(
    applied: &mut Applied,
    i: usize,
    data: &[u8],
    expected: Option<Index>,
) -> Result<(), String> {
    let snapshot: SnapshotData = labrpc::codec::decode(data)
        .map_err(|e| format!("server {i}: snapshot decode error: {e}"))?;
    if let Some(index) = expected
        && index != snapshot.last_included_index
    {
        return Err(format!(
            "server {i} snapshot doesn't match the snapshot index: it covers {}, Raft said {index}",
            snapshot.last_included_index
        ));
    }
    if expected.is_some() && snapshot.last_included_index < applied.last_applied[i] {
        return Err(format!(
            "server {i} was handed a snapshot through index {}, having applied through {}: the \
             service would go back in time (Raft must not deliver a snapshot older than what it \
             has applied)",
            snapshot.last_included_index, applied.last_applied[i]
        ));
    }
    applied.logs[i] = snapshot
        .entries
        .into_iter()
        .zip(0..)
        .filter_map(|(entry, j)| Some((j, entry?)))
        .collect();
    let tagged: Vec<Index> = applied.logs[i]
        .iter()
        .filter(|(_, entry)| entry.tag.is_some())
        .map(|(&j, _)| j)
        .collect();
    applied.tagged.extend(tagged);
    applied.last_applied[i] = snapshot.last_included_index;
    Ok(())
}
