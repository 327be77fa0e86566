// handout: begin
//! The [`Raft`] handle and the threads that drive the protocol core.
//!
//! Threads of one peer:
//!
//! * **ticker** — sleeps until the core's next deadline (election timeout,
//!   or the next heartbeat), then ticks it;
//! * **applier** — delivers [`ApplyMsg`]s in index order, never holding the
//!   lock while it waits for the service;
//! * **senders** — one short-lived thread per outgoing RPC: it makes the call,
//!   which may take seconds on a bad network, then hands the reply to the
//!   core. RPCs never wait for one another, so one slow peer delays nobody.
//!
//! Incoming RPCs run on the network's threads. Every event takes the core's
//! one lock through [`Peer::event`], which saves the state before releasing
//! the lock whenever the event changed it, so nothing leaves this peer before
//! the state it reflects is stable. [`Raft::kill`] stops every thread and
//! joins it.

use std::fmt;
use std::panic;

use labrpc::rt::channel::{self, Receiver, Sender, TrySendError};
use labrpc::rt::sync::{Arc, Mutex, MutexGuard, Shutdown};
use labrpc::rt::thread::{self, JoinHandle};
use labrpc::rt::time::Instant;
use labrpc::{ClientEnd, Persister, Service, select};

use crate::core::{Core, Effects, Message};
use crate::rpc::{APPEND_ENTRIES, INSTALL_SNAPSHOT, REQUEST_VOTE};
use crate::{ApplyMsg, Index, PeerId, Term};
// handout: else
// //! The [`Raft`] handle: your implementation of the protocol.
// //!
// //! Suggested shape: the state of Figure 2 behind one lock, shared (through
// //! an `Arc`) by the handle, the RPC handlers, a ticker thread that starts
// //! elections and sends heartbeats, and an applier thread that delivers
// //! committed commands in order. Persist before anything leaves the peer.
//
// use std::fmt;
//
// use labrpc::rt::channel::Sender;
// use labrpc::rt::sync::Arc;
// use labrpc::{ClientEnd, Persister, Service};
//
// use crate::{ApplyMsg, Index, PeerId, Term};
// handout: end

/// A Raft peer. Cheap to clone; clones are the same peer.
#[derive(Clone)]
pub struct Raft {
    // handout: begin
    peer: Arc<Peer>,
    // handout: else
    // // Your state here (2A, 2B, 2C, 2D). Clones must be the same peer: keep
    // // the state behind an `Arc`. The sketches in this file use one shape
    // // (yours may differ: the tests see only the API):
    // //
    // //     peer: Arc<Peer>,
    // //
    // // with, beside `Raft`,
    // //
    // //     struct Peer {
    // //         me: PeerId,
    // //         peers: Vec<ClientEnd>,                // peers[me] is this peer's own
    // //         persister: Arc<Persister>,
    // //         apply_to: Sender<ApplyMsg>,
    // //         state: Mutex<State>,                  // Figure 2's state, behind one lock
    // //         killed: Shutdown,                     // raised by `kill`: every wait ends
    // //         threads: Mutex<Vec<JoinHandle<()>>>,  // every thread, for `kill` to join
    // //     }
    // //
    // // (`Mutex`, `Shutdown` and `Arc` from `labrpc::rt::sync`, `JoinHandle`
    // // from `labrpc::rt::thread`.)
    // handout: end
}

/// [`Raft::start`] was called on a peer that is not the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotLeader;

impl fmt::Display for NotLeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not the leader")
    }
}

impl std::error::Error for NotLeader {}

// handout: begin
struct Peer {
    me: PeerId,
    ends: Vec<ClientEnd>,
    persister: Arc<Persister>,
    /// The peer's one lock; take it through [`Peer::lock`].
    core: Mutex<Core>,
    apply_to: Sender<ApplyMsg>,
    /// Level-triggered wake-ups: a full channel already holds one.
    wake_applier: (Sender<()>, Receiver<()>),
    wake_ticker: (Sender<()>, Receiver<()>),
    /// Raised by `kill`, which wakes every waiting thread.
    killed: Shutdown,
    /// Threads not yet joined. Kept apart from the core: spawning and joining
    /// are not protocol state, and `kill` must join without the core's lock.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

// handout: end

impl Raft {
    /// Creates the Raft peer `me` of the group whose ends are `peers`
    /// (`peers[me]` is this peer's own and goes unused), restoring whatever
    /// `persister` holds from an earlier instance. Committed commands, and
    /// snapshots from the leader, go to `apply_to` in index order.
    ///
    /// Returns at once; the peer's threads do the work. Register it with
    /// [`Raft::service`] so that its peers can reach it.
    ///
    /// **The apply channel may have no buffer** (the testers' has none): a
    /// send on `apply_to` waits until the service takes the message, and the
    /// service may call [`Raft::snapshot`], [`Raft::start`] or
    /// [`Raft::state`] before it takes the next one. Never send on `apply_to`
    /// while holding a lock those methods take, or the service and Raft wait
    /// for each other forever (the tests report it as a deadlock).
    ///
    /// # Panics
    /// When `me` is not an index into `peers`, or the persisted state is
    /// corrupt.
    // handout: begin
    // handout: else
    // //
    // // Threads (2A). Name each thread and keep its handle, so that `kill`
    // // can join it; a thread that sleeps should wake at once when the peer
    // // is killed, which `killed` (a `Shutdown`, raised by `kill`) does:
    // //
    // //     let ticker = Arc::clone(&peer);
    // //     let handle = thread::Builder::new()
    // //         .name(format!("raft-{me}-ticker"))
    // //         .spawn(move || ticker.tick_loop())
    // //         .expect("a thread starts");
    // //     peer.threads.lock().push(handle);
    // //
    // //     fn tick_loop(&self) {
    // //         loop {
    // //             // Lock, start an election if the (randomised) election
    // //             // timeout has passed, or send heartbeats if leading;
    // //             // unlock. Then wait a little, or until killed:
    // //             select! {
    // //                 recv(self.killed.raised()) -> _ => return, // `kill` raised it
    // //                 default(Duration::from_millis(10)) => {}
    // //             }
    // //         }
    // //     }
    // //
    // // Use `labrpc::rt` for threads, sleeps, time, locks, channels and random
    // // numbers (clippy.toml says why): in simulation, time is virtual.
    // //
    // // Persistence (2C). Encode Figure 2's persistent state with
    // // `labrpc::codec` and save it before anything that depends on it leaves
    // // this peer (a vote granted, an append acknowledged):
    // //
    // //     #[derive(Serialize, Deserialize)]
    // //     struct Saved { current_term: Term, voted_for: Option<PeerId>, log: Vec<Entry> }
    // //
    // //     let state = labrpc::codec::encode(&saved).expect("plain data encodes");
    // //     self.persister.save(&state, &snapshot); // the snapshot too, from 2D
    // //
    // // and read it back here; an empty persister is a first start:
    // //
    // //     let bytes = persister.raft_state();
    // //     if !bytes.is_empty() {
    // //         let saved: Saved = labrpc::codec::decode(&bytes).expect("what we saved");
    // //     }
    // handout: end
    pub fn new(
        peers: Vec<ClientEnd>,
        me: PeerId,
        persister: Arc<Persister>,
        apply_to: Sender<ApplyMsg>,
    ) -> Raft {
        // handout: stub 2A create the peer, restore what `persister` holds (2C), start its threads (an election ticker; from 2B an applier that sends committed commands to `apply_to`) and return at once.
        let now = Instant::now();
        labrpc::trace::epoch();
        let mut core = Core::new(me, peers.len(), labrpc::rt::rand::random(), now);
        core.restore(&persister.raft_state(), persister.snapshot());
        let peer = Arc::new(Peer {
            me,
            ends: peers,
            persister,
            core: Mutex::new(core),
            apply_to,
            wake_applier: channel::bounded(1),
            wake_ticker: channel::bounded(1),
            killed: Shutdown::new(),
            threads: Mutex::new(Vec::new()),
        });
        let ticker = Arc::clone(&peer);
        peer.spawn("ticker", move || ticker.tick_loop());
        let applier = Arc::clone(&peer);
        peer.spawn("applier", move || applier.apply_loop());
        Raft { peer }
    }

    /// The RPC service through which the other peers reach this one; add it
    /// to this peer's [`labrpc::Server`].
    // handout: begin
    // handout: else
    // //
    // // A handler takes the arguments and returns the reply; it runs on a
    // // thread of the network:
    // //
    // //     let peer = Arc::clone(&self.peer);
    // //     service.handle(REQUEST_VOTE, move |args: RequestVoteArgs| peer.request_vote(args));
    // //
    // // Sending (2A): `self.peers[server].call(REQUEST_VOTE, &args)` waits for
    // // the reply and returns `Ok(reply)`, or `Err(NoReply)` when none came (the
    // // server may or may not have handled the request). It always returns,
    // // but may take seconds on a bad network, so call from a thread of its own
    // // and never while holding your lock:
    // //
    // //     impl Peer {
    // //         fn send_request_vote(self: &Arc<Self>, server: PeerId, args: RequestVoteArgs) {
    // //             let mut threads = self.threads.lock();
    // //             if self.killed.is_raised() {
    // //                 return; // `kill` has taken the threads to join: start none
    // //             }
    // //             let peer = Arc::clone(self);
    // //             threads.push(thread::spawn(move || {
    // //                 let Ok(reply) = peer.peers[server].call(REQUEST_VOTE, &args) else {
    // //                     return; // no reply: another election will ask again
    // //                 };
    // //                 let mut state = peer.state.lock();
    // //                 // The world moved on while the call was out: count the
    // //                 // vote only if this peer is still a candidate in `args.term`.
    // //             }));
    // //         }
    // //     }
    // handout: end
    pub fn service(&self) -> Service {
        // handout: stub 2A make `Service::new("Raft")` and register a handler for each RPC with `service.handle(METHOD, ...)`; declare the methods in rpc.rs.
        let mut service = Service::new("Raft");
        let peer = Arc::clone(&self.peer);
        service.handle(REQUEST_VOTE, move |args| {
            peer.event(|core, now| core.handle_request_vote(&args, now))
        });
        let peer = Arc::clone(&self.peer);
        service.handle(APPEND_ENTRIES, move |args| {
            peer.event(|core, now| core.handle_append_entries(&args, now))
        });
        let peer = Arc::clone(&self.peer);
        service.handle(INSTALL_SNAPSHOT, move |args| {
            peer.event(|core, now| core.handle_install_snapshot(&args, now))
        });
        service
    }

    /// Proposes `command` for the log. If this peer is the leader, returns the
    /// index the command will have if it is ever committed, and the current
    /// term; replication starts at once. There is no guarantee the command
    /// will be committed: leadership may be lost first.
    ///
    /// # Errors
    /// [`NotLeader`] when this peer is not the leader.
    pub fn start(&self, command: Vec<u8>) -> Result<(Index, Term), NotLeader> {
        // handout: stub 2B if leader, append the command to the log and start replicating it.
        self.peer
            .event(|core, now| core.start(command, now))
            .ok_or(NotLeader)
    }

    /// The current term, and whether this peer believes it is the leader.
    pub fn state(&self) -> (Term, bool) {
        // handout: stub 2A return the current term and whether this peer believes it is the leader.
        let core = self.peer.lock();
        (core.term(), core.is_leader())
    }

    /// The service has a snapshot that includes every command through
    /// `index`: Raft may discard those entries and keeps `data` in their
    /// place, saved with its state.
    ///
    /// The service may call this from the thread that reads the apply
    /// channel, between two messages: Raft must not hold a lock this method
    /// takes while it sends on that channel (see [`Raft::new`]).
    ///
    /// # Panics
    /// When `index` has not been delivered on the apply channel yet.
    pub fn snapshot(&self, index: Index, data: Vec<u8>) {
        // handout: stub 2D discard the entries through `index` and save `data` as the snapshot with the state.
        self.peer.event(|core, now| core.snapshot(index, data, now));
    }

    /// The size in bytes of the saved Raft state (not counting the snapshot).
    pub fn persisted_size(&self) -> usize {
        // handout: stub 2C return the size of the Raft state in the persister.
        self.peer.persister.raft_state_size()
    }

    /// Stops this peer: once `kill` returns, none of its threads runs. Its
    /// handlers still answer RPCs already in flight, but it starts nothing
    /// new. Idempotent.
    ///
    /// # Panics
    /// When one of the peer's threads panicked: the panic is raised again
    /// here, after every thread has been joined.
    // handout: begin
    // handout: else
    // //
    // // The tests fail if any thread of a killed peer is still running, so
    // // `kill` must stop every thread and join it. A sketch:
    // //
    // //     let threads = {
    // //         let mut threads = self.peer.threads.lock();
    // //         if !self.peer.killed.raise() {
    // //             return; // killed already
    // //         }
    // //         std::mem::take(&mut *threads) // raising woke every wait on `killed`
    // //     };
    // //     for handle in threads {
    // //         handle.join().expect("a thread of this peer panicked");
    // //     }
    // //
    // // Join without holding your state's lock: a thread you wait for may need
    // // it to finish. A thread that starts threads (a sender per RPC) must not
    // // start one once the peer is killed, or `kill` could miss it: check
    // // `killed.is_raised()` under the lock of `threads` before pushing, as
    // // `kill` raises it under that lock.
    // handout: end
    pub fn kill(&self) {
        // handout: stub 2A stop every thread of this peer and wait for them to exit.
        let handles = {
            // Under the lock `spawn` checks `killed` in: no thread starts
            // after this, unseen.
            let mut threads = self.peer.threads.lock();
            if !self.peer.killed.raise() {
                return; // killed already
            }
            std::mem::take(&mut *threads)
        };
        let mut first_panic = None;
        for handle in handles {
            if let Err(payload) = handle.join() {
                first_panic.get_or_insert(payload);
            }
        }
        if let Some(payload) = first_panic {
            panic::resume_unwind(payload);
        }
    }
}

// handout: begin
impl fmt::Debug for Raft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (term, is_leader) = self.state();
        f.debug_struct("Raft")
            .field("me", &self.peer.me)
            .field("term", &term)
            .field("is_leader", &is_leader)
            .finish()
    }
}

impl Peer {
    /// The peer's one lock. `#[track_caller]`: a simulation's report of who
    /// waits for it, and who holds it, names the caller's line, not this one.
    #[track_caller]
    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock()
    }

    /// Runs one event on the core, saves the state if the event changed it
    /// (still under the lock), then sends what the event produced.
    #[track_caller]
    fn event<R>(self: &Arc<Self>, handle: impl FnOnce(&mut Core, Instant) -> R) -> R {
        let mut core = self.lock();
        let result = handle(&mut core, Instant::now());
        let effects = core.take_effects();
        if effects.persist {
            core.save(&self.persister);
        }
        drop(core);
        self.carry_out(effects);
        result
    }

    fn carry_out(self: &Arc<Self>, effects: Effects) {
        for (to, message) in effects.send {
            let peer = Arc::clone(self);
            self.spawn("sender", move || peer.deliver(to, message));
        }
        if effects.apply {
            wake(&self.wake_applier.0);
        }
        if effects.reschedule {
            wake(&self.wake_ticker.0);
        }
    }

    /// Starts a thread of this peer, unless it has been killed.
    fn spawn(&self, role: &str, body: impl FnOnce() + Send + 'static) {
        let mut threads = self.threads.lock();
        if self.killed.is_raised() {
            return;
        }
        threads.retain(|handle| !handle.is_finished());
        let handle = thread::Builder::new()
            .name(format!("raft-{}-{role}", self.me))
            .spawn(body)
            .expect("cannot spawn a Raft thread");
        threads.push(handle);
    }

    fn is_killed(&self) -> bool {
        self.killed.is_raised()
    }

    /// Sends one message and hands the outcome to the core.
    fn deliver(self: &Arc<Self>, to: PeerId, message: Message) {
        let end = &self.ends[to];
        match message {
            Message::RequestVote(args) => {
                let reply = end.call(REQUEST_VOTE, &args).ok();
                if !self.is_killed() {
                    self.event(|core, now| {
                        core.handle_request_vote_reply(to, &args, reply.as_ref(), now);
                    });
                }
            }
            Message::AppendEntries { args, seq } => {
                let reply = end.call(APPEND_ENTRIES, &args).ok();
                if !self.is_killed() {
                    self.event(|core, now| {
                        core.handle_append_entries_reply(to, &args, seq, reply.as_ref(), now);
                    });
                }
            }
            Message::InstallSnapshot { args, seq } => {
                let reply = end.call(INSTALL_SNAPSHOT, &args).ok();
                if !self.is_killed() {
                    self.event(|core, now| {
                        core.handle_install_snapshot_reply(to, &args, seq, reply.as_ref(), now);
                    });
                }
            }
        }
    }

    fn tick_loop(self: Arc<Self>) {
        loop {
            let deadline = self.lock().next_wakeup();
            let wait = deadline.saturating_duration_since(Instant::now());
            select! {
                recv(self.killed.raised()) -> _ => return,
                recv(self.wake_ticker.1) -> _ => continue,
                default(wait) => {}
            }
            self.event(|core, now| core.tick(now));
        }
    }

    /// Delivers whatever is committed and not yet applied, then waits to
    /// be woken for more; from the start, so that whatever a restarted
    /// peer holds committed goes out without waiting for an event.
    fn apply_loop(self: Arc<Self>) {
        loop {
            loop {
                let batch = self.lock().take_apply_batch();
                if batch.is_empty() {
                    break;
                }
                for message in batch {
                    select! {
                        send(self.apply_to, message) -> sent => {
                            if sent.is_err() {
                                return; // the service is gone
                            }
                        }
                        recv(self.killed.raised()) -> _ => return,
                    }
                }
            }
            select! {
                recv(self.killed.raised()) -> _ => return,
                recv(self.wake_applier.1) -> _ => {}
            }
        }
    }
}

fn wake(signal: &Sender<()>) {
    match signal.try_send(()) {
        Ok(()) | Err(TrySendError::Full(())) => {}
        Err(TrySendError::Disconnected(())) => unreachable!("the peer holds both ends"),
    }
}
// handout: end
