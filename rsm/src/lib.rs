//! A replicated state machine on Raft (part RSM): the course's `rsm`
//! layer, 2025 on, on which the services after it are built.
//!
//! A service describes its state as a [`StateMachine`]: the operations it
//! executes, the replies they give, and how its state is written to and
//! read from a snapshot. Each of its servers makes an [`Rsm`] over a
//! [`labraft::Raft`] peer of its own. A server that receives a request
//! [`submit`](Rsm::submit)s it: the operation goes into the Raft log, and
//! once it is committed **every** server executes it, in log order, with
//! [`StateMachine::do_op`]; the server that submitted it gets its reply.
//! A submit that cannot know its operation will be executed (this peer
//! does not lead, or lost its leadership after `start`) returns
//! [`WrongLeader`], and the service's client tries another server.
//!
//! With a `max_raft_state`, the rsm hands Raft a snapshot of the state
//! machine whenever Raft's saved state nears that size, so that Raft can
//! discard the log the snapshot covers; a restarted server restores the
//! state machine from the persisted snapshot, and a lagging one from the
//! snapshots its leader sends ([`labraft::ApplyMsg::Snapshot`]).
//!
//! The [`StateMachine`] trait and [`WrongLeader`] are given; [`Rsm`] is
//! yours to write.
//!
//! Modules: `rsm` ([`Rsm`]).

mod rsm;

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::rsm::Rsm;

/// A service's state, as an [`Rsm`] replicates it: the service implements
/// it, and hands it to [`Rsm::new`], which owns it from then on.
///
/// Every server executes the same operations in the same order, so
/// `do_op` must be deterministic: its reply and the state it leaves may
/// depend on the state and the operation alone (no clock, no randomness,
/// nothing about the server that runs it).
pub trait StateMachine: Send + 'static {
    /// An operation, as [`Rsm::submit`] takes it. It travels through the
    /// Raft log, encoded with `labrpc::codec`.
    type Op: Serialize + DeserializeOwned + Send + 'static;
    /// What an operation returns to the submit that proposed it.
    type Reply: Send + 'static;

    /// Executes one committed operation and returns its reply. Called on
    /// every server, once for each committed operation, in log order.
    fn do_op(&mut self, op: Self::Op) -> Self::Reply;

    /// The whole state, as bytes that [`restore`](StateMachine::restore)
    /// reads back.
    fn snapshot(&self) -> Vec<u8>;

    /// Replaces the whole state by the one `snapshot` holds (what
    /// [`snapshot`](StateMachine::snapshot) wrote, maybe on another
    /// server).
    ///
    /// # Panics
    /// When `snapshot` is not one `snapshot` wrote.
    fn restore(&mut self, snapshot: &[u8]);
}

/// [`Rsm::submit`] cannot promise that its operation executes: this peer
/// does not lead, it lost its leadership before the operation committed,
/// or the rsm was killed. The operation may still execute (a later leader
/// may commit it); the service's client must try another server, and must
/// be ready for that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongLeader;

impl fmt::Display for WrongLeader {
    /// The course's name for it, `ErrWrongLeader`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrWrongLeader")
    }
}

impl std::error::Error for WrongLeader {}
