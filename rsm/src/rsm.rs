// handout: begin
//! The [`Rsm`]: a state machine, a Raft peer, and the reader between them.
//!
//! A submit wraps its operation in an entry with an id of its own, starts
//! it in the Raft log, and waits at the index `start` returned. The reader
//! takes each committed entry from Raft's apply channel, executes it on the
//! state machine, and hands the reply to the submit waiting at that index
//! if the entry is that submit's own; another entry there means leadership
//! was lost, and the submit learns it by its reply channel closing. A
//! submit also watches Raft's term: a leader that moved on to another term
//! (or stopped leading) may never see its entry committed, though a leader
//! cut off alone keeps its term and keeps waiting, as it must: the entry
//! may still commit once the partition heals.
//!
//! Ids are drawn at random for each instance (and numbered within it), so
//! that an entry proposed by an earlier instance of this server, before a
//! crash, is never taken for a new one's.
//!
//! Snapshots hold the state machine's bytes and the index they reflect;
//! the reader takes one whenever Raft's saved state reaches nine tenths of
//! `max_raft_state`.
// handout: else
// //! The [`Rsm`]: your replicated state machine.
// //!
// //! Suggested shape: `submit` wraps the operation in an entry with an id
// //! of its own (unique across restarts), starts it with [`Raft::start`]
// //! and waits at the index `start` returned. One reader thread takes
// //! every committed entry from Raft's apply channel, executes it with
// //! `do_op`, and hands the reply to the submit waiting at that index, if
// //! the entry there is that submit's own. A submit gives up
// //! ([`WrongLeader`]) when another entry turns up at its index or Raft's
// //! term moves on, but not merely because it waits long: a leader cut off
// //! alone keeps waiting until the partition heals.
// handout: end

// handout: begin
use std::collections::HashMap;

use labraft::{ApplyMsg, Index, Raft, Term};
use labrpc::rt::channel::{self, Receiver, RecvTimeoutError, Sender};
use labrpc::rt::sync::{Arc, Mutex, Shutdown};
use labrpc::rt::thread::{self, JoinHandle};
use labrpc::rt::time::Duration;
use labrpc::{ClientEnd, Persister, select};
use serde::{Deserialize, Serialize};

use crate::{StateMachine, WrongLeader};

/// How often a waiting submit asks Raft whether its term moved on: often
/// enough that a deposed leader's submits return well within a second of
/// learning it, rarely enough to cost nothing.
const TERM_POLL: Duration = Duration::from_millis(50);
// handout: else
// use labraft::Raft;
// use labrpc::rt::sync::Arc;
// use labrpc::{ClientEnd, Persister};
//
// use crate::{StateMachine, WrongLeader};
// handout: end

/// A replicated state machine: one server's [`StateMachine`], kept in step
/// with the other servers' through its Raft peer. Cheap to clone; clones
/// are the same replica.
pub struct Rsm<S: StateMachine> {
    // handout: begin
    inner: Arc<Inner<S>>,
    // handout: else
    // // Your state here (RSM). Clones must be the same replica: keep the
    // // state behind an `Arc`. A shape that works (yours may differ: the
    // // tests see only the API):
    // //
    // //     inner: Arc<Inner<S>>,
    // //
    // // with, beside `Rsm`,
    // //
    // //     struct Inner<S: StateMachine> {
    // //         me: usize,
    // //         raft: Raft,
    // //         max_raft_state: Option<usize>,
    // //         state: Mutex<State<S>>, // the state machine, the last index
    // //                                 // it reflects, and the submits
    // //                                 // waiting, by index
    // //         killed: Shutdown,       // raised by `kill`: the reader stops
    // //         reader: Mutex<Option<JoinHandle<()>>>, // for `kill` to join
    // //     }
    // //
    // // (`Mutex`, `Shutdown` and `Arc` from `labrpc::rt::sync`, `JoinHandle`
    // // from `labrpc::rt::thread`; see `labraft`'s `Raft::kill` for the
    // // pattern.) Until your state holds an `S`, this marks where it goes:
    // _machine: std::marker::PhantomData<S>,
    // handout: end
}

impl<S: StateMachine> Clone for Rsm<S> {
    fn clone(&self) -> Rsm<S> {
        // handout: stub RSM return the same replica (clone the `Arc` of its state).
        Rsm {
            inner: Arc::clone(&self.inner),
        }
    }
}

// handout: begin
struct Inner<S: StateMachine> {
    me: usize,
    raft: Raft,
    /// Snapshot when the saved Raft state reaches nine tenths of this.
    max_raft_state: Option<usize>,
    /// This instance's share of every entry id.
    instance: u64,
    state: Mutex<State<S>>,
    /// Raised by `kill` (under the lock of `state`), which stops the
    /// reader; no submit waits once it is raised.
    killed: Shutdown,
    reader: Mutex<Option<JoinHandle<()>>>,
}

struct State<S: StateMachine> {
    machine: S,
    /// Invariant: every entry through this index is reflected in `machine`.
    last_applied: Index,
    /// The submits waiting for the entry they started at an index.
    waiting: HashMap<Index, Waiter<S::Reply>>,
    /// The number of this instance's next entry.
    next_seq: u64,
}

struct Waiter<R> {
    id: EntryId,
    reply_to: Sender<R>,
}

/// Who proposed an entry: an instance of a server, and its count there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct EntryId {
    instance: u64,
    seq: u64,
}

/// What the Raft log holds: an operation, and who proposed it.
#[derive(Serialize, Deserialize)]
struct Entry<Op> {
    id: EntryId,
    op: Op,
}

/// What a snapshot holds.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    /// The last index the machine's state reflects.
    last_applied: Index,
    #[serde(with = "serde_bytes")]
    machine: Vec<u8>,
}
// handout: end

impl<S: StateMachine> Rsm<S> {
    /// Makes server `me`'s replica of `machine`: a Raft peer over `servers`
    /// (`servers[me]` is this server's own end) and `persister`, restoring
    /// `machine` from the snapshot `persister` holds, if any. With
    /// `max_raft_state`, snapshots `machine` whenever Raft's saved state
    /// nears that many bytes. Returns at once.
    ///
    /// Register the Raft peer's service ([`Rsm::raft`],
    /// [`Raft::service`](labraft::Raft::service)) on this server.
    ///
    /// # Panics
    /// When the persisted snapshot is corrupt.
    pub fn new(
        servers: Vec<ClientEnd>,
        me: usize,
        persister: Arc<Persister>,
        max_raft_state: Option<usize>,
        machine: S,
    ) -> Rsm<S> {
        // handout: stub RSM make a Raft peer with `Raft::new` and an apply channel, restore `machine` from the persisted snapshot, and start a thread that executes committed operations with `do_op` and answers the submits waiting for them.
        let mut machine = machine;
        let last_applied = restore(&mut machine, &persister.snapshot(), me);
        let (apply_to, applied) = channel::unbounded();
        let raft = Raft::new(servers, me, persister, apply_to);
        let rsm = Rsm {
            inner: Arc::new(Inner {
                me,
                raft,
                max_raft_state,
                instance: labrpc::rt::rand::random(),
                state: Mutex::new(State {
                    machine,
                    last_applied,
                    waiting: HashMap::new(),
                    next_seq: 0,
                }),
                killed: Shutdown::new(),
                reader: Mutex::new(None),
            }),
        };
        let inner = Arc::clone(&rsm.inner);
        let reader = thread::Builder::new()
            .name(format!("rsm-{me}-reader"))
            .spawn(move || inner.read_loop(&applied))
            .expect("cannot spawn the rsm's reader");
        *rsm.inner.reader.lock() = Some(reader);
        rsm
    }

    /// This replica's Raft peer.
    pub fn raft(&self) -> &Raft {
        // handout: stub RSM return this replica's Raft peer.
        &self.inner.raft
    }

    /// Proposes `op`; once it is committed and executed, its reply.
    ///
    /// Waits as long as the operation may still commit at the index Raft
    /// gave it: a leader cut off from the others keeps waiting until the
    /// partition heals.
    ///
    /// # Errors
    /// [`WrongLeader`] when this peer does not lead, when it learns that
    /// the operation will not commit where it was proposed (another
    /// operation committed at its index, or Raft moved to another term),
    /// or when the rsm is killed.
    pub fn submit(&self, op: S::Op) -> Result<S::Reply, WrongLeader> {
        // handout: stub RSM put `op` in the Raft log with `Raft::start` and wait until the reader executes it at the index `start` returned; give up when another operation turns up there or Raft's term moves on.
        self.inner.submit(op)
    }

    /// Stops the replica and its Raft peer; once `kill` returns, none of
    /// their threads runs. Submits still waiting return [`WrongLeader`].
    pub fn kill(&self) {
        // handout: stub RSM kill the Raft peer, stop the reader and wait for it to exit, and make waiting submits return.
        self.inner.raft.kill();
        {
            let mut state = self.inner.state.lock();
            self.inner.killed.raise();
            // Dropping the waiters' senders answers their submits.
            state.waiting.clear();
        }
        if let Some(reader) = self.inner.reader.lock().take() {
            reader.join().expect("the rsm's reader does not panic");
        }
    }
}

// handout: begin
impl<S: StateMachine> Inner<S> {
    fn submit(&self, op: S::Op) -> Result<S::Reply, WrongLeader> {
        let (reply_to, reply) = channel::bounded(1);
        let (id, index, term) = {
            // Registered under the lock that the reader takes, so that the
            // entry cannot be executed before its waiter exists.
            let mut state = self.state.lock();
            if self.killed.is_raised() {
                return Err(WrongLeader);
            }
            let id = EntryId {
                instance: self.instance,
                seq: state.next_seq,
            };
            state.next_seq += 1;
            let entry = labrpc::codec::encode(&Entry { id, op })
                .unwrap_or_else(|e| panic!("S{}: an operation does not encode: {e}", self.me));
            let (index, term) = self.raft.start(entry).map_err(|_| WrongLeader)?;
            // A waiter left at this index by an earlier term loses: its
            // sender is dropped and its submit returns `WrongLeader`.
            state.waiting.insert(index, Waiter { id, reply_to });
            (id, index, term)
        };
        loop {
            match reply.recv_timeout(TERM_POLL) {
                Ok(reply) => return Ok(reply),
                // Another entry took the index, a snapshot covered it, or
                // the rsm was killed.
                Err(RecvTimeoutError::Disconnected) => return Err(WrongLeader),
                Err(RecvTimeoutError::Timeout) => {
                    if !self.still_leads(term) {
                        let mut state = self.state.lock();
                        if state.waiting.get(&index).is_some_and(|w| w.id == id) {
                            state.waiting.remove(&index);
                        }
                        drop(state);
                        // The reply may have come in the meantime.
                        return reply.try_recv().map_err(|_| WrongLeader);
                    }
                }
            }
        }
    }

    /// Whether Raft still leads in `term`.
    fn still_leads(&self, term: Term) -> bool {
        self.raft.state() == (term, true)
    }

    fn read_loop(&self, applied: &Receiver<ApplyMsg>) {
        loop {
            let message = select! {
                recv(applied) -> message => match message {
                    Ok(message) => message,
                    Err(_) => return,
                },
                recv(self.killed.raised()) -> _ => return,
            };
            let mut state = self.state.lock();
            match message {
                ApplyMsg::Command { index, command } => {
                    if index <= state.last_applied {
                        continue; // already in the state, from a snapshot
                    }
                    // The reference's check of itself; off while planted
                    // bugs are measured (scripts/mutants builds with
                    // `--cfg lab_mutant`): a student's code has none.
                    if cfg!(not(lab_mutant)) {
                        assert_eq!(
                            index,
                            state.last_applied + 1,
                            "S{}: Raft applied index {index} after {}",
                            self.me,
                            state.last_applied
                        );
                    }
                    state.last_applied = index;
                    let entry: Entry<S::Op> = labrpc::codec::decode(&command).unwrap_or_else(|e| {
                        panic!(
                            "S{}: the log holds something that is not an rsm entry at \
                                 {index}: {e}",
                            self.me
                        )
                    });
                    let reply = state.machine.do_op(entry.op);
                    if let Some(waiter) = state.waiting.remove(&index)
                        && waiter.id == entry.id
                    {
                        // A waiter whose id differs is dropped, which tells
                        // its submit that another entry took its index.
                        let _ = waiter.reply_to.send(reply);
                    }
                    self.maybe_snapshot(&state);
                }
                ApplyMsg::Snapshot { index, data, .. } => {
                    if index <= state.last_applied {
                        continue;
                    }
                    let last_applied = restore(&mut state.machine, &data, self.me);
                    if cfg!(not(lab_mutant)) {
                        assert_eq!(
                            last_applied, index,
                            "S{}: a snapshot for index {index} holds state through {last_applied}",
                            self.me
                        );
                    }
                    state.last_applied = index;
                    // Whatever waited at or before the snapshot is unknown
                    // here: those submits return, and their clients retry.
                    state.waiting.retain(|&i, _| i > index);
                }
            }
        }
    }

    /// Snapshots when Raft's saved state nears the limit.
    fn maybe_snapshot(&self, state: &State<S>) {
        let Some(limit) = self.max_raft_state else {
            return;
        };
        if self.raft.persisted_size() < limit * 9 / 10 {
            return;
        }
        let data = labrpc::codec::encode(&Snapshot {
            last_applied: state.last_applied,
            machine: state.machine.snapshot(),
        })
        .expect("a snapshot encodes");
        self.raft.snapshot(state.last_applied, data);
    }
}

/// Restores `machine` from `snapshot` (nothing for an empty one); the last
/// index it reflects.
///
/// # Panics
/// When the snapshot is corrupt.
fn restore<S: StateMachine>(machine: &mut S, snapshot: &[u8], me: usize) -> Index {
    if snapshot.is_empty() {
        return 0;
    }
    let snapshot: Snapshot = labrpc::codec::decode(snapshot)
        .unwrap_or_else(|e| panic!("S{me}: the rsm's snapshot is corrupt: {e}"));
    machine.restore(&snapshot.machine);
    snapshot.last_applied
}
// handout: end
