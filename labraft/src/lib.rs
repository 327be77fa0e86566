//! Raft for the labs (parts 2A–2D): leader election, log replication,
//! persistence and snapshots, over the emulated network of [`labrpc`].
//!
//! A service creates one [`Raft`] per server with [`Raft::new`], registers
//! [`Raft::service`] on that server, and then:
//!
//! * proposes commands with [`Raft::start`] (commands are bytes);
//! * reads committed commands, in index order, from its apply channel as
//!   [`ApplyMsg::Command`], and snapshots installed from the leader as
//!   [`ApplyMsg::Snapshot`];
//! * hands Raft a snapshot with [`Raft::snapshot`] when its state grows, so
//!   that Raft can discard the log entries the snapshot covers;
//! * asks [`Raft::state`] for the term and whether this peer leads;
//! * stops the peer with [`Raft::kill`].
//!
//! # Design
//!
// handout: begin
//! The protocol lives in a core with no I/O: it never sleeps, reads the clock
//! or touches the network; it takes events and returns what to persist, send
//! and apply. A thin set of threads drives it (see the `raft` module). The
//! code follows Figure 2 of the extended Raft paper (Ongaro and Ousterhout,
//! 2014) and cites it rule by rule.
//!
//! Modules: `raft` (the [`Raft`] handle and its threads: ticker, applier,
//! a sender per RPC), `core` (the protocol: `election`, `replication`,
//! `snapshot`, the log with its snapshot offset in `log`, the saved state
//! in `persist`, and unit tests rule by rule), [`rpc`] (the messages and
//! their methods), `apply` ([`ApplyMsg`]).
// handout: else
// //! Say here how your implementation is organised: its threads, its lock,
// //! and where each rule of Figure 2 of the extended Raft paper lives.
// handout: end
//!
//! Logging: each protocol event is one line, written with `labrpc::event!`
//! in the shape `<ms> <TOPIC> S<id> T<term> <message>` (see `labrpc::trace`);
//! `RUST_LOG=raft=debug` prints them, and `scripts/logs` lays them out one
//! column per peer.

mod apply;
// handout: begin
mod core;
// handout: end
mod raft;
pub mod rpc;

pub use crate::apply::ApplyMsg;
pub use crate::raft::{NotLeader, Raft};

/// A log index; the first entry has index 1.
pub type Index = u64;
/// A term; peers start in term 0.
pub type Term = u64;
/// A peer's position in the group, `0..n`.
pub type PeerId = usize;
