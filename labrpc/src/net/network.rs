//! The emulated network: ends, servers, the wiring between them, and the
//! faults it injects.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::Client;
use super::method::Method;
use super::pool::Pool;
use super::server::{Outcome, Server};
use crate::codec;
use crate::rt::channel::{self, Receiver, Sender};
use crate::rt::sim;
use crate::rt::sync::{PlainMutex as Mutex, Shutdown};
use crate::rt::time::Duration;
use crate::{seed, select};

/// Before delivery on an unreliable network, a request waits up to this long.
const SHORT_DELAY_MS: u64 = 27;
/// With long delays on, an unreachable server answers "no reply" within this.
const LONG_DELAY_MS: u64 = 7000;
/// With long delays off, an unreachable server answers "no reply" within this.
const SHORT_TIMEOUT_MS: u64 = 100;
/// Per mille of requests, and of replies, lost on an unreliable network.
const DROP_PER_MILLE: u64 = 100;
/// In a simulation, each request and each reply spends this long on the
/// wire, in microseconds. Computation is free in virtual time; this stands
/// for what a message costs in real time (two thread hand-offs and the
/// encoding), so that clients that send as fast as they can complete about
/// as many operations as they do in real time.
const SIM_LATENCY_US: std::ops::Range<u64> = 50..150;
/// With long reordering on, this many replies in [`HELD_BACK_OUT_OF`] are
/// held back (the course's two in three).
const REORDERED_REPLIES: u64 = 600;
/// With late requests on, this many requests in [`HELD_BACK_OUT_OF`] are
/// held back before their handler runs (one in three).
const LATE_REQUESTS: u64 = 300;
/// The draws [`REORDERED_REPLIES`] and [`LATE_REQUESTS`] are out of (the
/// course's `rand.Int() % 900`).
const HELD_BACK_OUT_OF: u64 = 900;
/// A message held back waits at least this long, in milliseconds…
const HELD_BACK_MIN_MS: u64 = 200;
/// …plus a draw below one more than a draw below this (the course's
/// `200 + rand.Intn(1 + rand.Intn(2000))`: short waits are the likelier).
const HELD_BACK_SPREAD_MS: u64 = 2000;

/// Between a client's name and a server's in the name of the client's end
/// to that server; the tester's own end names never hold it.
const CLIENT_END_SEPARATOR: &str = "->";

/// The reason an RPC got no reply: the server was dead or unreachable, or the
/// request or the reply was lost. The handler may or may not have run.
///
/// A real network cannot tell these apart, so neither does this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoReply;

impl fmt::Display for NoReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no reply")
    }
}

impl std::error::Error for NoReply {}

/// An emulated network joining [`ClientEnd`]s to [`Server`]s. Cheap to clone;
/// clones are the same network.
///
/// Reliable when made; see [`set_reliable`](Network::set_reliable),
/// [`set_long_delays`](Network::set_long_delays) and
/// [`set_long_reordering`](Network::set_long_reordering) for the faults it can
/// inject. Every random choice it makes comes from one generator seeded with
/// [`seed`](Network::seed).
#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    rng: Mutex<Xoshiro256PlusPlus>,
    seed: u64,
    total_count: AtomicU64,
    total_bytes: AtomicU64,
    /// Raised by [`Network::cleanup`], which wakes every pause and wait; a
    /// new call checks it first.
    closed: Shutdown,
    handlers: Pool,
    /// Where replies are announced, once someone watches them.
    replies: Mutex<Option<Sender<Replied>>>,
}

/// A reply on its way to its caller, as [`Network::watch_replies`]
/// announces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replied {
    /// The server that sent it.
    pub server: String,
    /// The method it answers (`Raft.RequestVote`).
    pub method: &'static str,
}

struct State {
    reliable: bool,
    long_delays: bool,
    long_reordering: bool,
    late_requests: bool,
    ends: HashMap<String, EndState>,
    servers: HashMap<String, Hosted>,
    clients: HashMap<String, ClientState>,
    next_lifeline: u64,
}

/// A [`Client`]'s wiring: whether its ends are enabled, and which it has.
struct ClientState {
    enabled: bool,
    deleted: bool,
    /// Abandoned by the tester: its calls end the thread that makes them.
    abandoned: bool,
    /// The names of its ends, one per server it has called.
    ends: Vec<String>,
}

struct EndState {
    server: Option<String>,
    /// `Some` while the end is enabled.
    enabled: Option<Lifeline>,
    /// Lives as long as the end: wakes calls waiting to time out when the
    /// end is deleted.
    exists: Lifeline,
    /// `Some` while replies to this end's calls are held back (see
    /// [`Network::hold_replies`]); letting them go drops it, which wakes
    /// every reply waiting.
    replies_held: Option<Lifeline>,
    /// Whether this end's new calls are lost (see
    /// [`Network::block_requests`]).
    requests_blocked: bool,
}

struct Hosted {
    server: Server,
    /// Lives exactly as long as `server` is the one registered under its name.
    life: Lifeline,
}

/// Something a call in flight depends on. Dropping it wakes every call that
/// watches it, so a call whose end is disabled or whose server is deleted
/// returns at once instead of at its next poll.
struct Lifeline {
    id: u64,
    _alive: Sender<Infallible>,
    watch: Receiver<Infallible>,
}

/// What a call found when it entered the network.
struct Route {
    end_life: u64,
    end_watch: Receiver<Infallible>,
    server_name: String,
    server: Server,
    server_life: u64,
    server_watch: Receiver<Infallible>,
}

/// The faults the network was set to make at the moment a call entered it.
#[derive(Clone, Copy)]
struct Faults {
    reliable: bool,
    long_delays: bool,
    long_reordering: bool,
    late_requests: bool,
}

impl State {
    fn lifeline(&mut self) -> Lifeline {
        self.next_lifeline += 1;
        let (alive, watch) = channel::bounded(0);
        Lifeline {
            id: self.next_lifeline,
            _alive: alive,
            watch,
        }
    }

    fn end(&mut self, name: &str) -> &mut EndState {
        self.ends
            .get_mut(name)
            .unwrap_or_else(|| panic!("labrpc: no end named {name:?}; make it with make_end"))
    }

    /// Ends the calling thread if `end` is an abandoned client's (see
    /// [`Network::abandon_client`]). The unwinding releases the lock the
    /// caller holds on this state.
    fn end_the_abandoned(&self, end: &str) {
        let abandoned = end
            .split_once(CLIENT_END_SEPARATOR)
            .and_then(|(client, _)| self.clients.get(client))
            .is_some_and(|client| client.abandoned);
        if abandoned {
            panic::resume_unwind(Box::new(sim::Killed));
        }
    }

    fn client(&mut self, name: &str) -> &mut ClientState {
        self.clients
            .get_mut(name)
            .unwrap_or_else(|| panic!("labrpc: no client named {name:?}; make it with make_client"))
    }

    fn faults(&self) -> Faults {
        Faults {
            reliable: self.reliable,
            long_delays: self.long_delays,
            long_reordering: self.long_reordering,
            late_requests: self.late_requests,
        }
    }

    /// The server `end` reaches now, if it is enabled, connected, and its
    /// server exists.
    fn route(&self, end: &str) -> Option<Route> {
        let end = self.ends.get(end)?;
        if end.requests_blocked {
            return None;
        }
        let end_life = end.enabled.as_ref()?;
        let server_name = end.server.as_ref()?;
        let hosted = self.servers.get(server_name)?;
        Some(Route {
            end_life: end_life.id,
            end_watch: end_life.watch.clone(),
            server_name: server_name.clone(),
            server: hosted.server.clone(),
            server_life: hosted.life.id,
            server_watch: hosted.life.watch.clone(),
        })
    }

    /// Whether `route` still stands: the same enabling of the end, the same
    /// server under the same name.
    fn still_stands(&self, end: &str, route: &Route) -> bool {
        let end_ok = self
            .ends
            .get(end)
            .and_then(|e| e.enabled.as_ref())
            .is_some_and(|life| life.id == route.end_life);
        let server_ok = self
            .servers
            .get(&route.server_name)
            .is_some_and(|h| h.life.id == route.server_life);
        end_ok && server_ok
    }
}

impl Default for Network {
    fn default() -> Self {
        Network::new()
    }
}

impl Network {
    /// A reliable network seeded from the `LAB_SEED` environment variable, or
    /// with a fresh seed when it is unset. The seed is printed either way, so
    /// that a failing run's coin flips can be replayed.
    ///
    /// # Panics
    /// When `LAB_SEED` is set but is not an unsigned integer.
    pub fn new() -> Self {
        Network::with_seed(seed::announce(seed::from_env()))
    }

    /// A reliable network whose random choices are drawn from `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Network {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    reliable: true,
                    long_delays: false,
                    long_reordering: false,
                    late_requests: false,
                    ends: HashMap::new(),
                    servers: HashMap::new(),
                    clients: HashMap::new(),
                    next_lifeline: 0,
                }),
                rng: Mutex::new(Xoshiro256PlusPlus::seed_from_u64(seed)),
                seed,
                total_count: AtomicU64::new(0),
                total_bytes: AtomicU64::new(0),
                closed: Shutdown::new(),
                handlers: Pool::new(),
                replies: Mutex::new(None),
            }),
        }
    }

    /// The seed of this network's random choices.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Makes a new client end called `name`, not connected to any server and
    /// disabled.
    ///
    /// # Panics
    /// When an end of that name exists already.
    pub fn make_end(&self, name: &str) -> ClientEnd {
        let mut state = self.inner.state.lock();
        assert!(
            !state.ends.contains_key(name),
            "labrpc: make_end: an end named {name:?} exists already"
        );
        let exists = state.lifeline();
        state.ends.insert(
            name.to_owned(),
            EndState {
                server: None,
                enabled: None,
                exists,
                replies_held: None,
                requests_blocked: false,
            },
        );
        ClientEnd {
            name: name.into(),
            net: Arc::clone(&self.inner),
        }
    }

    /// Deletes the end `name`: its calls in flight, and any made through it
    /// later, return "no reply" at once. The tester deletes a crashed peer's
    /// ends, so that none of its calls lingers in a long timeout.
    pub fn delete_end(&self, name: &str) {
        self.inner.state.lock().ends.remove(name);
    }

    /// Makes a client called `name`, which reaches any server by its name
    /// (the course's `Clnt`): its end to a server is made, connected and
    /// enabled on its first [`Client::end`] to that server. Disconnect it
    /// with [`enable_client`](Network::enable_client), cut it off for good
    /// with [`delete_client`](Network::delete_client).
    ///
    /// # Panics
    /// When a client of that name exists already.
    pub fn make_client(&self, name: &str) -> Client {
        let mut state = self.inner.state.lock();
        let fresh = ClientState {
            enabled: true,
            deleted: false,
            abandoned: false,
            ends: Vec::new(),
        };
        assert!(
            state.clients.insert(name.to_owned(), fresh).is_none(),
            "labrpc: make_client: a client named {name:?} exists already"
        );
        Client::new(name, self.clone())
    }

    /// Enables or disables every end of the client `name`, those it has and
    /// those it makes later (the course's `ConnectAll` and `DisconnectAll`
    /// of a client).
    ///
    /// # Panics
    /// When there is no client called `name`.
    pub fn enable_client(&self, name: &str, enabled: bool) {
        let ends = {
            let mut state = self.inner.state.lock();
            let client = state.client(name);
            client.enabled = enabled;
            client.ends.clone()
        };
        for end in ends {
            self.enable(&end, enabled);
        }
    }

    /// Deletes the client `name`'s ends (see [`delete_end`]): its calls in
    /// flight, and every call it makes later, to any server, return "no
    /// reply" at once. The tester deletes a controller it abandoned.
    ///
    /// # Panics
    /// When there is no client called `name`.
    ///
    /// [`delete_end`]: Network::delete_end
    pub fn delete_client(&self, name: &str) {
        let mut state = self.inner.state.lock();
        let client = state.client(name);
        client.deleted = true;
        for end in std::mem::take(&mut client.ends) {
            state.ends.remove(&end);
        }
    }

    /// Abandons the client `name`: deletes it (see
    /// [`delete_client`](Network::delete_client)), and from then on each
    /// call through one of its ends, in flight or new, ends the thread that
    /// makes it instead of returning, as if the client's machine had
    /// stopped. (A call in flight returns "no reply" at once, as for any
    /// deleted end; the next one ends the thread.) The tester abandons a
    /// controller it cut off and no longer waits for, so that no thread of
    /// it outlives the test; the thread unwinds (its locks are released,
    /// its values dropped) without a panic, and a thread that waits for it
    /// sees it ended.
    ///
    /// # Panics
    /// When there is no client called `name`.
    pub fn abandon_client(&self, name: &str) {
        self.inner.state.lock().client(name).abandoned = true;
        self.delete_client(name);
    }

    /// The client `client`'s end to the server `server`, made on its first
    /// use (see [`Client::end`]).
    pub(crate) fn client_end(&self, client: &str, server: &str) -> ClientEnd {
        let name = format!("{client}{CLIENT_END_SEPARATOR}{server}");
        let end = ClientEnd {
            name: name.as_str().into(),
            net: Arc::clone(&self.inner),
        };
        let mut state = self.inner.state.lock();
        let record = state.client(client);
        if record.deleted || record.ends.contains(&name) {
            // A deleted client's end is a name the network does not know:
            // its calls fail at once.
            return end;
        }
        record.ends.push(name.clone());
        let enabled = record.enabled.then(|| state.lifeline());
        let exists = state.lifeline();
        state.ends.insert(
            name,
            EndState {
                server: Some(server.to_owned()),
                enabled,
                exists,
                replies_held: None,
                requests_blocked: false,
            },
        );
        end
    }

    /// Registers `server` under `name`, replacing (as [`delete_server`] does)
    /// any server already there.
    ///
    /// [`delete_server`]: Network::delete_server
    pub fn add_server(&self, name: &str, server: Server) {
        let mut state = self.inner.state.lock();
        let life = state.lifeline();
        state
            .servers
            .insert(name.to_owned(), Hosted { server, life });
    }

    /// Removes the server registered under `name`, if any.
    ///
    /// Calls it is handling return "no reply" at once, though their handlers
    /// run on; a reply it sends later is never delivered. That is what makes a
    /// crash safe to emulate: no client gets a positive reply for work the
    /// server wrote into a persister that has since been replaced.
    pub fn delete_server(&self, name: &str) {
        self.inner.state.lock().servers.remove(name);
    }

    /// Connects the end `end` to the server named `server`, which need not
    /// exist yet.
    ///
    /// # Panics
    /// When there is no end called `end`.
    pub fn connect(&self, end: &str, server: &str) {
        self.inner.state.lock().end(end).server = Some(server.to_owned());
    }

    /// Enables or disables the end `end`. A disabled end's calls are never
    /// delivered, and the replies to calls in flight when it is disabled are
    /// discarded.
    ///
    /// # Panics
    /// When there is no end called `end`.
    pub fn enable(&self, end: &str, enabled: bool) {
        let mut state = self.inner.state.lock();
        let is_enabled = state.end(end).enabled.is_some();
        if enabled && !is_enabled {
            let life = state.lifeline();
            state.end(end).enabled = Some(life);
        } else if !enabled {
            state.end(end).enabled = None;
        }
    }

    /// Holds back the replies to `end`'s calls (`true`), from calls in flight
    /// and later ones alike, until let go (`false`): they wait, neither lost
    /// nor delivered, while the end stays enabled (disabled, it discards
    /// them, as always). So a reply can arrive after its caller's term has
    /// long passed. The course's network never does; the suite's own tests
    /// do.
    ///
    /// # Panics
    /// When there is no end called `end`.
    pub fn hold_replies(&self, end: &str, held: bool) {
        let mut state = self.inner.state.lock();
        let hold = held.then(|| state.lifeline());
        let released = std::mem::replace(&mut state.end(end).replies_held, hold);
        // Woken outside the lock: the drop is a scheduling point in a
        // simulation, where no thread may wait holding a plain lock.
        drop(state);
        drop(released);
    }

    /// Loses `end`'s new calls (`true`), as if it were disabled, until
    /// unblocked (`false`), while the replies to its calls already on their
    /// way still come back (or stay held, see
    /// [`hold_replies`](Network::hold_replies)): a link that failed in one
    /// direction after the requests went through. Not in the course's
    /// network; the suite's own tests use it.
    ///
    /// # Panics
    /// When there is no end called `end`.
    pub fn block_requests(&self, end: &str, blocked: bool) {
        self.inner.state.lock().end(end).requests_blocked = blocked;
    }

    /// Makes the network reliable, or not. Unreliable: each request waits
    /// 0–26 ms before delivery, 10 % of requests are lost before their handler
    /// runs, and 10 % of replies are lost after it ran.
    pub fn set_reliable(&self, reliable: bool) {
        self.inner.state.lock().reliable = reliable;
    }

    /// Whether the network is reliable.
    pub fn is_reliable(&self) -> bool {
        self.inner.state.lock().reliable
    }

    /// With long delays, a call to an unreachable server answers "no reply"
    /// after 0–7 s instead of 0–100 ms: a Raft leader that sends its RPCs one
    /// after another, waiting for each, then falls behind.
    pub fn set_long_delays(&self, long_delays: bool) {
        self.inner.state.lock().long_delays = long_delays;
    }

    /// Whether long delays are on.
    pub fn is_long_delays(&self) -> bool {
        self.inner.state.lock().long_delays
    }

    /// With long reordering, two thirds of replies are held back 200–2200 ms
    /// (most of them near the short end) before delivery.
    pub fn set_long_reordering(&self, long_reordering: bool) {
        self.inner.state.lock().long_reordering = long_reordering;
    }

    /// With late requests, a third of requests are held back 200–2200 ms
    /// before their handler runs, as replies are with long reordering: an
    /// old request (an InstallSnapshot, an AppendEntries) can then arrive
    /// after newer ones from the same sender. The course's network holds a
    /// request back 27 ms at most, so its tests never deliver one that late;
    /// the suite's own tests do.
    pub fn set_late_requests(&self, late_requests: bool) {
        self.inner.state.lock().late_requests = late_requests;
    }

    /// How many requests have been delivered to the server registered under
    /// `name` (0 when there is none).
    pub fn count(&self, name: &str) -> u64 {
        let state = self.inner.state.lock();
        state.servers.get(name).map_or(0, |h| h.server.count())
    }

    /// How many calls have been made, delivered or not.
    pub fn total_count(&self) -> u64 {
        self.inner.total_count.load(Ordering::Relaxed)
    }

    /// Bytes sent: every request's when it is sent, every reply's when it is
    /// delivered.
    pub fn total_bytes(&self) -> u64 {
        self.inner.total_bytes.load(Ordering::Relaxed)
    }

    /// Announces every reply the network is about to deliver, from now on,
    /// on the returned channel: the moment its server has answered, which a
    /// tester can use to crash the server right after it replied. Only the
    /// latest watcher hears them.
    pub fn watch_replies(&self) -> Receiver<Replied> {
        let (announce, replies) = channel::unbounded();
        *self.inner.replies.lock() = Some(announce);
        replies
    }

    /// Shuts the network down: calls in flight and every later call return
    /// "no reply" at once, and handler threads exit once their handlers
    /// return.
    pub fn cleanup(&self) {
        self.inner.closed.raise();
        self.inner.handlers.close();
        self.inner.state.lock().servers.clear();
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.lock();
        f.debug_struct("Network")
            .field("seed", &self.inner.seed)
            .field("reliable", &state.reliable)
            .field("long_delays", &state.long_delays)
            .field("long_reordering", &state.long_reordering)
            .field("late_requests", &state.late_requests)
            .field("ends", &state.ends.len())
            .field("servers", &state.servers.len())
            .finish()
    }
}

impl Inner {
    fn is_closed(&self) -> bool {
        self.closed.is_raised()
    }

    /// A number in `0..bound` from the network's generator.
    fn random(&self, bound: u64) -> u64 {
        self.rng.lock().random_range(0..bound)
    }

    /// While replies to `end`'s calls are held back (see
    /// [`Network::hold_replies`]), what wakes a reply waiting: the hold's
    /// end and the end's deletion. `None` once they are let go, or the end
    /// no longer exists.
    fn reply_hold(&self, end: &str) -> Option<(Receiver<Infallible>, Receiver<Infallible>)> {
        let state = self.state.lock();
        let end = state.ends.get(end)?;
        let hold = end.replies_held.as_ref()?;
        Some((hold.watch.clone(), end.exists.watch.clone()))
    }

    /// Sleeps `ms` milliseconds; false when the network was cleaned up
    /// meanwhile (the sleep then ends at once).
    fn pause(&self, ms: u64) -> bool {
        self.wait(Duration::from_millis(ms))
    }

    /// In a simulation, the time a message spends on the wire; false when
    /// the network was cleaned up meanwhile.
    fn wire(&self) -> bool {
        if !sim::is_simulated() {
            return true;
        }
        let us = SIM_LATENCY_US.start + self.random(SIM_LATENCY_US.end - SIM_LATENCY_US.start);
        self.wait(Duration::from_micros(us))
    }

    fn wait(&self, time: Duration) -> bool {
        !self.closed.wait_timeout(time)
    }

    /// Like [`pause`](Inner::pause), but also ends at once when `watch`'s
    /// lifeline is dropped.
    fn pause_watching(&self, ms: u64, watch: &Receiver<Infallible>) {
        select! {
            recv(self.closed.raised()) -> _ => {}
            recv(watch) -> _ => {}
            default(Duration::from_millis(ms)) => {}
        }
    }

    /// One call's journey through the network; see [`ClientEnd::call`]:
    /// the request's way to the server, its handler, and the reply's way
    /// back, each of which may lose it.
    fn deliver<Req, Rep>(
        &self,
        end: &str,
        method: Method<Req, Rep>,
        request: Vec<u8>,
    ) -> Option<Vec<u8>> {
        let (route, faults, exists) = {
            let state = self.state.lock();
            let exists = state.ends.get(end).map(|e| e.exists.watch.clone());
            (state.route(end), state.faults(), exists)
        };
        let Some(route) = route else {
            // A deleted end is gone: its calls fail at once (an abandoned
            // client's end their thread, below).
            let Some(exists) = exists else {
                self.state.lock().end_the_abandoned(end);
                return None;
            };
            // Emulate a request that vanished: the caller hears nothing for a
            // while, then gives up.
            let bound = if faults.long_delays {
                LONG_DELAY_MS
            } else {
                SHORT_TIMEOUT_MS
            };
            self.pause_watching(self.random(bound), &exists);
            return None;
        };
        if !self.request_arrives(faults) {
            return None;
        }
        let reply = self.handle(&route, method, request)?;
        if !self.reply_arrives(end, &route, faults, method.name()) {
            return None;
        }
        self.total_bytes
            .fetch_add(reply.len() as u64, Ordering::Relaxed);
        Some(reply)
    }

    /// The request's way to its server: the wire, and on an unreliable
    /// network a delay and perhaps its loss; with late requests, perhaps a
    /// long wait. Whether it arrives.
    fn request_arrives(&self, faults: Faults) -> bool {
        if !self.wire() {
            return false;
        }
        if !faults.reliable {
            if !self.pause(self.random(SHORT_DELAY_MS)) {
                return false;
            }
            if self.random(1000) < DROP_PER_MILLE {
                return false;
            }
        }
        if faults.late_requests && self.random(HELD_BACK_OUT_OF) < LATE_REQUESTS {
            return self.pause(self.held_back_ms());
        }
        true
    }

    /// How long a held-back message waits.
    fn held_back_ms(&self) -> u64 {
        HELD_BACK_MIN_MS + self.random(1 + self.random(HELD_BACK_SPREAD_MS))
    }

    /// Runs the handler on a thread of the server's and waits for its
    /// reply; `None` when the end is disabled or deleted, the server
    /// deleted, or the network cleaned up meanwhile (the call stops waiting
    /// at once).
    ///
    /// # Panics
    /// When the request does not decode as the handler's, or the handler
    /// panicked: a bug, not a network fault.
    fn handle<Req, Rep>(
        &self,
        route: &Route,
        method: Method<Req, Rep>,
        request: Vec<u8>,
    ) -> Option<Vec<u8>> {
        // The handler runs on a thread of its own, so that this call can stop
        // waiting when its server is deleted or its end disabled.
        let handler = route.server.dispatch(method);
        let (reply_to, replied) = channel::bounded::<Result<Outcome, String>>(1);
        let node: Arc<str> = route.server_name.as_str().into();
        let method_name = method.name();
        let job = move || {
            // The handler runs on the server's machine: if it crashes, so
            // does this thread.
            sim::serve(Arc::clone(&node), Some(method_name));
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| handler.run(&request))).map_err(
                |payload| {
                    if sim::is_killed_payload(payload.as_ref()) {
                        panic::resume_unwind(payload);
                    }
                    panic_message(payload.as_ref())
                },
            );
            sim::serve(node, None);
            // The caller may have stopped waiting; then nobody hears it.
            let _ = reply_to.send(outcome);
        };
        if !self.handlers.execute(Box::new(job)) {
            return None;
        }
        let outcome = select! {
            // Disconnected: the handler's thread died with its server.
            recv(replied) -> outcome => match outcome {
                Ok(outcome) => outcome,
                Err(_) => return None,
            },
            recv(route.end_watch) -> _ => return None,
            recv(route.server_watch) -> _ => return None,
            recv(self.closed.raised()) -> _ => return None,
        };
        match outcome {
            Ok(Ok(reply)) => Some(reply),
            Ok(Err(codec_error)) => {
                panic!("labrpc: call to {}: request {codec_error}", method.name())
            }
            Err(message) => panic!(
                "labrpc: call to {}: the handler panicked: {message}",
                method.name()
            ),
        }
    }

    /// The reply's way back to `end`: dropped if the route fell meanwhile,
    /// held while the tester holds it, perhaps lost on an unreliable
    /// network, announced to whoever watches replies, then the wire, and
    /// with long reordering perhaps a long wait. Whether it arrives (and
    /// counts its bytes).
    fn reply_arrives(
        &self,
        end: &str,
        route: &Route,
        faults: Faults,
        method: &'static str,
    ) -> bool {
        // Checked again now that the handler has returned: a reply from a
        // server that was deleted or replaced meanwhile, or to an end that was
        // disabled meanwhile, must not be delivered. Otherwise a client could
        // get a positive reply for an update its server persisted into a
        // persister the tester has since superseded.
        if !self.state.lock().still_stands(end, route) {
            return false;
        }
        if self.reply_hold(end).is_some() {
            while let Some((released, deleted)) = self.reply_hold(end) {
                select! {
                    recv(released) -> _ => {}
                    recv(deleted) -> _ => {}
                    recv(self.closed.raised()) -> _ => return false,
                }
            }
            if !self.state.lock().still_stands(end, route) {
                return false;
            }
        }
        if !faults.reliable && self.random(1000) < DROP_PER_MILLE {
            return false;
        }
        // Sent outside the lock: a send is a scheduling point in a
        // simulation, where no thread may wait holding a plain lock.
        let announce = self.replies.lock().clone();
        if let Some(announce) = announce {
            // Nobody listening any more is as good as nobody asking.
            let _ = announce.send(Replied {
                server: route.server_name.clone(),
                method,
            });
        }
        if !self.wire() {
            return false;
        }
        if faults.long_reordering
            && self.random(HELD_BACK_OUT_OF) < REORDERED_REPLIES
            && !self.pause(self.held_back_ms())
        {
            return false;
        }
        true
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}

/// One client's end of a connection to a server. Cheap to clone; clones are
/// the same end.
///
/// Made by [`Network::make_end`], then wired with [`Network::connect`] and
/// [`Network::enable`]: all of that is the tester's business. The owner of an
/// end only calls through it.
#[derive(Clone)]
pub struct ClientEnd {
    name: Arc<str>,
    net: Arc<Inner>,
}

impl ClientEnd {
    /// The end's name, as given to [`Network::make_end`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends an RPC and waits for its reply.
    ///
    /// `args` is encoded and the server's handler gets a decoded copy; the
    /// reply comes back the same way, so caller and server share no memory.
    ///
    /// Returns `Ok(reply)` if the reply arrived, and `Err(NoReply)` if it did
    /// not: the server is dead, or cannot be reached, or the request was lost,
    /// or the reply was. After `Err`, the handler may or may not have run.
    ///
    /// `call` always returns, unless the handler on the server never does.
    /// It returns on its own when a reply is not coming (after a delay that
    /// emulates a timeout), so the caller needs no timeout of its own. Many
    /// calls may be in flight on one end at once, and their replies may
    /// arrive in any order.
    ///
    /// # Panics
    /// When the server has no handler for `method`, when the handler's types
    /// differ from `method`'s, when a message fails to encode or decode, or
    /// when the handler panics. Each is a bug in the program, not a network
    /// fault, and the message says which.
    pub fn call<Req, Rep>(&self, method: Method<Req, Rep>, args: &Req) -> Result<Rep, NoReply>
    where
        Req: Serialize,
        Rep: DeserializeOwned,
    {
        let net = &self.net;
        if net.is_closed() {
            return Err(NoReply);
        }
        let request = codec::encode(args)
            .unwrap_or_else(|e| panic!("labrpc: call to {}: request {e}", method.name()));
        net.total_count.fetch_add(1, Ordering::Relaxed);
        net.total_bytes
            .fetch_add(request.len() as u64, Ordering::Relaxed);
        let reply = net.deliver(&self.name, method, request).ok_or(NoReply)?;
        Ok(codec::decode(&reply)
            .unwrap_or_else(|e| panic!("labrpc: call to {}: reply {e}", method.name())))
    }
}

impl fmt::Debug for ClientEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientEnd").field(&self.name).finish()
    }
}
