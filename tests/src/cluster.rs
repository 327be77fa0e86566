//! What the Raft and key/value testers share: a group of `n` servers on one
//! emulated network (or, for the sharded service, several groups on it).
//!
//! Server `i` is served as `server-i` (server `i` of group `gid`, as
//! `server-gid-i`). Each instance of it gets fresh ends
//! to every server, with random names, when it starts, and loses them when
//! it crashes, so a crashed instance can never reach anyone again. Each
//! server has the persister its next instance starts from: a crash copies
//! it, as a disk survives a machine, so whatever the dead instance still
//! writes goes to a persister nobody reads.
//!
//! A tester keeps its own instances (Raft peers or key/value servers) and
//! decides who is connected to whom; this holds what lies under both: the
//! network and its links, the persisters, crash and restart, sizes and
//! counts, the test's session (its turn, its seed, its time limit, its
//! cleanup checks), its seeded randomness, its clock and what the harness
//! did on it ([`event`](Cluster::event), drawn in a history's timeline),
//! and the check that what the servers persisted can hold what they
//! committed ([`check_persisted`](Cluster::check_persisted)).

use std::collections::BTreeMap;

use labrpc::rt::sim;
use labrpc::rt::sync::{Arc, Mutex, PlainMutex};
use labrpc::rt::time::Instant;
use labrpc::{ClientEnd, Network, Persister, Server, Service};
use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;

use crate::linearizability::html::{EventKind, HarnessEvent};
use crate::linearizability::{Budget, Model, Operation, Verdict, check, html};
use crate::support::Session;

/// Writes a history as text, for a failure to save it.
pub type HistoryText<M> = fn(&[Operation<M>]) -> String;

/// A group of servers on one network, for one test.
pub struct Cluster {
    n: usize,
    net: Network,
    /// Every group's servers: the one group of the one-group testers under
    /// `None`, group `gid` of the sharded service's under `Some(gid)`.
    groups: Mutex<BTreeMap<Option<Gid>, Servers>>,
    rng: Mutex<Xoshiro256PlusPlus>,
    /// The harness's own draws (see [`Session::checks_rng`]).
    checks_rng: Mutex<Xoshiro256PlusPlus>,
    session: Session,
    /// The test's clock starts here: see [`now`](Cluster::now).
    origin: Instant,
    /// When the test's summary started counting (see
    /// [`begin`](Cluster::begin)), and the RPCs sent by then.
    mark: Mutex<(Instant, u64)>,
    /// What the harness did, in order. A plain lock, never held across a
    /// wait: recording an event is no step of a simulation, so it changes
    /// no schedule.
    events: PlainMutex<Vec<HarnessEvent>>,
}

/// How many bytes one server's persister may hold short of the random
/// bytes it keeps, for a solution that compresses what it saves: random
/// bytes fit in fewer only by luck, with a chance of 2^-64 for 8 bytes.
pub const COMPRESSION_SLACK: usize = 8;

/// A group's id, as the sharded service numbers its groups.
pub type Gid = u64;

struct Servers {
    /// Each server's network name.
    names: Vec<String>,
    /// The persister each server's next instance starts from.
    saved: Vec<Arc<Persister>>,
    /// `end_names[i][j]`: the current instance of server i's end to server
    /// j; empty while server i is down.
    end_names: Vec<Vec<String>>,
}

impl Cluster {
    /// `n` servers, none started, on a reliable network (each tester sets
    /// its [`Net`](crate::support::Net) where the course's does). Waits for
    /// this test's turn first (so that what it prints, the seed first, is
    /// not mixed with another test's).
    pub fn new(n: usize) -> Cluster {
        let seed = Session::seed();
        let session = Session::begin(seed);
        Cluster {
            n,
            net: Network::with_seed(seed),
            groups: Mutex::new(BTreeMap::from([(
                None,
                Servers::new((0..n).map(server_name).collect()),
            )])),
            rng: Mutex::new(session.rng()),
            checks_rng: Mutex::new(session.checks_rng()),
            session,
            origin: Instant::now(),
            mark: Mutex::new((Instant::now(), 0)),
            events: PlainMutex::new(Vec::new()),
        }
    }

    /// The number of servers.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Every server's index.
    pub fn all(&self) -> Vec<usize> {
        (0..self.n).collect()
    }

    /// The network.
    pub fn net(&self) -> &Network {
        &self.net
    }

    /// The test's session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The test's seeded generator.
    pub fn rng(&self) -> &Mutex<Xoshiro256PlusPlus> {
        &self.rng
    }

    /// A random number in `0..bound`, from the test's seeded generator.
    pub fn random(&self, bound: u64) -> u64 {
        random(&self.rng, bound)
    }

    /// A random string of `len` characters, from the test's seeded generator.
    pub fn random_string(&self, len: usize) -> String {
        random_string(&self.rng, len)
    }

    /// The harness's own generator, apart from the test's (see
    /// [`Session::checks_rng`]).
    pub fn checks_rng(&self) -> &Mutex<Xoshiro256PlusPlus> {
        &self.checks_rng
    }

    /// Fails the test: `message`, then how to replay it.
    #[track_caller]
    pub fn fail(&self, message: impl std::fmt::Display) -> ! {
        self.session.fail(message)
    }

    /// Prints a test's title, and logs it among the peers' lines.
    pub fn title(&self, description: &str) {
        println!("{description} ...");
        self.event(EventKind::Test, description.to_owned());
    }

    /// Prints the test's title and starts counting for its summary line
    /// (the course's `Begin`): the time and the RPCs from now on.
    pub fn begin(&self, title: &str) {
        self.title(title);
        *self.mark.lock() = (Instant::now(), self.rpc_total());
    }

    /// Checks the time limit, then prints the course's summary line of a
    /// service's test: the seconds and RPCs since [`begin`](Cluster::begin),
    /// `peers` and `ops`.
    pub fn passed(&self, peers: usize, ops: u64) {
        self.check_time();
        let (t0, rpcs) = *self.mark.lock();
        println!(
            "  ... Passed --  {:4.1}  {peers} {:5} {ops:4}",
            t0.elapsed().as_secs_f64(),
            self.rpc_total() - rpcs,
        );
    }

    /// The test's clock: nanoseconds since the cluster was made, virtual
    /// in a simulation. Histories time their calls and returns on it, so
    /// that they line up with the harness's [events](Cluster::event).
    pub fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Records what the harness did (a partition, a crash, a configuration
    /// change), now, for a history's timeline, and logs it among the
    /// peers' lines (see [`labrpc::harness_event!`]).
    pub fn event(&self, kind: EventKind, text: String) {
        labrpc::harness_event!("{text}");
        let at = self.now();
        self.events.lock().push(HarnessEvent { at, kind, text });
    }

    /// Fails the test if another thread panicked or it is over its time.
    pub fn check_time(&self) {
        if let Err(e) = self.session.check_end() {
            self.fail(e);
        }
    }

    /// Group `gid` of a sharded test (see [`add_group`](Cluster::add_group)).
    pub fn group(&self, gid: Gid) -> Group<'_> {
        Group {
            cluster: self,
            key: Some(gid),
        }
    }

    /// The one group of a one-group test.
    fn only(&self) -> Group<'_> {
        Group {
            cluster: self,
            key: None,
        }
    }

    /// Adds group `gid`: `n` servers, none started, served as
    /// `server-gid-i`, with empty persisters.
    ///
    /// # Panics
    /// When the group exists already.
    pub fn add_group(&self, gid: Gid, n: usize) {
        let names = (0..n).map(|i| shardcfg::server_name(gid, i)).collect();
        let fresh = self.groups.lock().insert(Some(gid), Servers::new(names));
        assert!(fresh.is_none(), "group {gid} exists already");
    }

    /// Forgets group `gid` (whose servers the caller has crashed) and its
    /// persisters.
    pub fn remove_group(&self, gid: Gid) {
        self.groups.lock().remove(&Some(gid));
    }

    /// What a new instance of server `i` starts from: see
    /// [`Group::restart_inputs`].
    pub fn restart_inputs(&self, i: usize) -> (Vec<ClientEnd>, Arc<Persister>) {
        self.only().restart_inputs(i)
    }

    /// Runs `make` as server `i`'s machine: see [`Group::on_server`].
    pub fn on_server<T>(&self, i: usize, make: impl FnOnce() -> T) -> T {
        self.only().on_server(i, make)
    }

    /// Serves `services` as server `i`: see [`Group::serve`].
    pub fn serve(&self, i: usize, services: impl IntoIterator<Item = Service>) {
        self.only().serve(i, services);
    }

    /// Crashes server `i`: see [`Group::crash`].
    pub fn crash(&self, i: usize, kill: impl FnOnce() -> bool) {
        self.only().crash(i, kill);
    }

    /// Enables or disables server `from`'s end to server `to` (one way).
    pub fn set_link(&self, from: usize, to: usize, enabled: bool) {
        self.only().set_link(from, to, enabled);
    }

    /// Holds back the replies to server `from`'s calls to server `to`: see
    /// [`Group::hold_replies`].
    pub fn hold_replies(&self, from: usize, to: usize, held: bool) {
        self.only().hold_replies(from, to, held);
    }

    /// Loses server `from`'s new calls to server `to`: see
    /// [`Group::block_requests`].
    pub fn block_requests(&self, from: usize, to: usize, blocked: bool) {
        self.only().block_requests(from, to, blocked);
    }

    /// Fresh ends to every server, for a client: their names and the ends,
    /// connected, none enabled.
    pub fn client_ends(&self) -> (Vec<String>, Vec<ClientEnd>) {
        fresh_ends(&self.net, &self.rng, &self.only().names())
    }

    /// [`client_ends`](Cluster::client_ends) for the harness's own client,
    /// named from the harness's generator so that the test's draws stay
    /// as they were.
    pub fn harness_client_ends(&self) -> (Vec<String>, Vec<ClientEnd>) {
        fresh_ends(&self.net, &self.checks_rng, &self.only().names())
    }

    /// Fails the test unless the servers' persisters, together, are large
    /// enough to hold `random_bytes` bytes of random data that the servers
    /// have committed (`what` says what carried them) on a majority of
    /// them: at least `majority × random_bytes` bytes, less
    /// [`COMPRESSION_SLACK`] per server.
    ///
    /// Why every correct solution passes: an entry is committed only once a
    /// majority has it on stable storage (Figure 2: persist before
    /// replying; the leader counts its own copy only once it is saved), and
    /// from then on each of those servers keeps it in its Raft state or in a
    /// snapshot that covers it; a restarted server recovers from its
    /// persister alone, so what a persister holds must determine the random
    /// bytes it keeps, and random bytes cannot be written in fewer bytes
    /// (but by the slack's luck). Why it matters: in one process, memory
    /// that a crash does not wipe (a `static`, a thread-local, a thread left
    /// running) lets a server pass every crash and size check while its
    /// persister holds almost nothing; this check sees that from outside,
    /// without trusting the grader's scan of the sources.
    pub fn check_persisted(&self, random_bytes: usize, what: &str) {
        let sizes: Vec<(usize, usize)> = self.groups.lock()[&None]
            .saved
            .iter()
            .map(|p| (p.raft_state_size(), p.snapshot_size()))
            .collect();
        let held: usize = sizes.iter().map(|(state, snapshot)| state + snapshot).sum();
        let majority = self.n / 2 + 1;
        let needed = (majority * random_bytes).saturating_sub(COMPRESSION_SLACK * self.n);
        if held >= needed {
            return;
        }
        let each: Vec<String> = sizes
            .iter()
            .enumerate()
            .map(|(i, (state, snapshot))| format!("S{i} {state}+{snapshot}"))
            .collect();
        self.fail(format!(
            "the servers' persisters hold {held} bytes in all (Raft state + snapshot: {}), \
             too few for what they committed ({what}): {random_bytes} random bytes, which a \
             majority ({majority} of {}) must keep on stable storage, so at least {needed} \
             bytes (less {COMPRESSION_SLACK} per server for compression). A crash wipes \
             everything but the Persister: keep no state in a static, a thread-local or a \
             thread that outlives kill()",
            each.join(", "),
            self.n
        ));
    }

    /// Checks `history` for linearizability against `model`, within
    /// `budget`, and prints how many operations passed. On
    /// failure (an illegal history, or one the budget could not decide:
    /// unlike the course's checker, an undecided history fails), writes
    /// the HTML timeline (with what the harness did, the check included),
    /// and the history itself if `saved` can write it as text, to the
    /// system's temporary directory, and fails with their paths and the
    /// command that re-checks the text. With `LAB_TIMELINE=always`, writes
    /// the timeline after a check that passes too, and says where.
    pub fn check_linearizable<M: Model>(
        &self,
        model: &M,
        history: &[Operation<M>],
        budget: Budget,
        saved: Option<HistoryText<M>>,
    ) {
        // Computation, not waiting: in a simulation it takes no virtual time.
        let report = sim::outside(|| check(model, history, budget));
        self.event(
            EventKind::Checker,
            format!("check of {} operations: {}", history.len(), report.verdict),
        );
        let stem = std::env::temp_dir().join(format!(
            "{}-{}",
            self.session.name().replace("::", "-"),
            self.net.seed()
        ));
        let page = stem.with_extension("html");
        let title = format!("{}: {}", self.session.name(), report.verdict);
        // Writes the page; where it went, or why it did not.
        let write_page = || {
            let events = self.events.lock().clone();
            let html = html::render(model, history, &events, &report, &title);
            match std::fs::write(&page, html) {
                Ok(()) => format!("timeline written to {}", page.display()),
                Err(e) => format!(
                    "the timeline could not be written to {}: {e}",
                    page.display()
                ),
            }
        };
        if report.verdict == Verdict::Linearizable {
            // The check's wall time is printed in real time only: a simulated
            // run's output must not vary from run to run.
            let took = if sim::is_simulated() {
                String::new()
            } else {
                format!(" (checked in {:.0} ms)", report.elapsed.as_secs_f64() * 1e3)
            };
            println!("  ... {} operations linearizable{took}", history.len());
            if std::env::var(labrpc::lab::TIMELINE_VAR).is_ok_and(|v| v == "always") {
                println!("  ... {}", write_page());
            }
            return;
        }
        let timeline = write_page();
        let saved = match saved {
            Some(text) => {
                let path = stem.with_extension("history");
                match std::fs::write(&path, text(history)) {
                    Ok(()) => format!(
                        "history saved to {}\n{timeline}\n\
                         re-check with: cargo run -p tests --bin check-history -- {}",
                        path.display(),
                        path.display()
                    ),
                    Err(e) => format!(
                        "the history could not be saved to {}: {e}\n{timeline}",
                        path.display()
                    ),
                }
            }
            None => timeline,
        };
        self.fail(format!(
            "history is {}\n{}{saved}",
            report.verdict,
            report.describe(model, history)
        ));
    }

    /// The largest saved Raft state among the servers, in bytes.
    pub fn log_size(&self) -> usize {
        self.only().log_size()
    }

    /// The largest saved snapshot among the servers, in bytes.
    pub fn snapshot_size(&self) -> usize {
        self.only().snapshot_size()
    }

    /// RPCs server `i` has received.
    pub fn rpc_count(&self, i: usize) -> u64 {
        self.only().rpc_count(i)
    }

    /// All RPCs sent on the network.
    pub fn rpc_total(&self) -> u64 {
        self.net.total_count()
    }

    /// All bytes sent on the network.
    pub fn bytes_total(&self) -> u64 {
        self.net.total_bytes()
    }

    /// The course's cleanup, then ours: shuts the network down (so calls in
    /// flight return at once), has `kill_all` kill every instance, and checks
    /// that nothing panicked, the test kept to its time, and every thread it
    /// started has exited. Does nothing in a simulated world that has ended:
    /// nothing in it runs again.
    pub fn shut_down(&self, kill_all: impl FnOnce()) {
        if sim::is_dead() {
            return;
        }
        self.net.cleanup();
        kill_all();
        self.session.finish();
    }
}

/// One group of a [`Cluster`]'s servers: server `i` of it is served under
/// [`server_name(i)`](Group::server_name).
pub struct Group<'a> {
    cluster: &'a Cluster,
    key: Option<Gid>,
}

impl Group<'_> {
    /// Runs `f` on this group's servers.
    ///
    /// # Panics
    /// When the group was never added, or was removed.
    fn with<R>(&self, f: impl FnOnce(&mut Servers) -> R) -> R {
        let mut groups = self.cluster.groups.lock();
        let servers = groups
            .get_mut(&self.key)
            .unwrap_or_else(|| panic!("no group {:?} in this cluster", self.key));
        f(servers)
    }

    /// The number of servers in the group.
    pub fn n(&self) -> usize {
        self.with(|servers| servers.names.len())
    }

    /// Every server's network name.
    pub fn names(&self) -> Vec<String> {
        self.with(|servers| servers.names.clone())
    }

    /// The network name of server `i`.
    pub fn server_name(&self, i: usize) -> String {
        self.with(|servers| servers.names[i].clone())
    }

    /// What a new instance of server `i` starts from: fresh ends to every
    /// server (connected, none enabled), which become the server's, and a
    /// copy of what its last instance persisted.
    pub fn restart_inputs(&self, i: usize) -> (Vec<ClientEnd>, Arc<Persister>) {
        let peers = self.names();
        let (names, ends) = fresh_ends(&self.cluster.net, &self.cluster.rng, &peers);
        self.with(|servers| {
            servers.saved[i] = Arc::new(servers.saved[i].copy());
            servers.end_names[i] = names;
            (ends, Arc::clone(&servers.saved[i]))
        })
    }

    /// Runs `make` as server `i`'s machine: the threads it starts belong to
    /// that server, and die with it at a crash.
    pub fn on_server<T>(&self, i: usize, make: impl FnOnce() -> T) -> T {
        sim::with_node(&self.server_name(i), make)
    }

    /// Serves `services` as server `i`, replacing what served it before.
    pub fn serve(&self, i: usize, services: impl IntoIterator<Item = Service>) {
        let server = Server::new();
        for service in services {
            server.add_service(service);
        }
        self.cluster.net.add_server(&self.server_name(i), server);
    }

    /// Crashes server `i`, which the caller has cut off: deletes its server
    /// (so no reply it sends from now on is delivered) and its ends, keeps a
    /// copy of what it persisted, then has `kill` kill the instance. `kill`
    /// says whether there was one; if so, every thread of its machine must
    /// have ended with it.
    pub fn crash(&self, i: usize, kill: impl FnOnce() -> bool) {
        let name = self.server_name(i);
        self.cluster.net.delete_server(&name);
        let ends = self.with(|servers| {
            // Before the kill: a copy that the dead instance cannot touch.
            servers.saved[i] = Arc::new(servers.saved[i].copy());
            std::mem::take(&mut servers.end_names[i])
        });
        for end in &ends {
            self.cluster.net.delete_end(end);
        }
        if kill() {
            self.cluster.session.crash_node(&name);
        }
    }

    /// Runs `f` on the name of server `from`'s end to server `to`, if server
    /// `from` is up.
    fn with_end(&self, from: usize, to: usize, f: impl FnOnce(&str)) {
        let name = self.with(|servers| servers.end_names[from].get(to).cloned());
        if let Some(name) = name {
            f(&name);
        }
    }

    /// Enables or disables server `from`'s end to server `to` (one way).
    pub fn set_link(&self, from: usize, to: usize, enabled: bool) {
        self.with_end(from, to, |name| self.cluster.net.enable(name, enabled));
    }

    /// Holds back the replies to server `from`'s calls to server `to` until
    /// let go (see [`Network::hold_replies`]).
    pub fn hold_replies(&self, from: usize, to: usize, held: bool) {
        self.with_end(from, to, |name| self.cluster.net.hold_replies(name, held));
    }

    /// Loses server `from`'s new calls to server `to`, while replies to
    /// those already delivered come back (see [`Network::block_requests`]).
    pub fn block_requests(&self, from: usize, to: usize, blocked: bool) {
        self.with_end(from, to, |name| {
            self.cluster.net.block_requests(name, blocked)
        });
    }

    /// The largest saved Raft state among the servers, in bytes.
    pub fn log_size(&self) -> usize {
        self.with(|servers| {
            servers
                .saved
                .iter()
                .map(|p| p.raft_state_size())
                .max()
                .unwrap_or(0)
        })
    }

    /// The largest saved snapshot among the servers, in bytes.
    pub fn snapshot_size(&self) -> usize {
        self.with(|servers| {
            servers
                .saved
                .iter()
                .map(|p| p.snapshot_size())
                .max()
                .unwrap_or(0)
        })
    }

    /// RPCs server `i` has received.
    pub fn rpc_count(&self, i: usize) -> u64 {
        self.cluster.net.count(&self.server_name(i))
    }
}

impl Servers {
    fn new(names: Vec<String>) -> Servers {
        let n = names.len();
        Servers {
            names,
            saved: (0..n).map(|_| Arc::new(Persister::new())).collect(),
            end_names: vec![Vec::new(); n],
        }
    }
}

/// A random integer in `0..bound` from `rng`.
fn random(rng: &Mutex<Xoshiro256PlusPlus>, bound: u64) -> u64 {
    rng.lock().random_range(0..bound)
}

/// A random string of `len` letters and digits from `rng`.
pub(crate) fn random_string(rng: &Mutex<Xoshiro256PlusPlus>, len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rng.lock();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// The network name of server `i`.
pub fn server_name(i: usize) -> String {
    format!("server-{i}")
}

/// Fresh ends with random names, one to each of the servers named
/// `servers`, connected but not enabled; their names and the ends.
fn fresh_ends(
    net: &Network,
    rng: &Mutex<Xoshiro256PlusPlus>,
    servers: &[String],
) -> (Vec<String>, Vec<ClientEnd>) {
    let names: Vec<String> = servers.iter().map(|_| random_string(rng, 20)).collect();
    let ends = names
        .iter()
        .zip(servers)
        .map(|(name, server)| {
            let end = net.make_end(name);
            net.connect(name, server);
            end
        })
        .collect();
    (names, ends)
}
