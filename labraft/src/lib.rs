//! Raft for the labs (parts 2A–2D): leader election, log replication,
//! persistence and snapshots, over the emulated network of [`labrpc`].
//!
//! This crate is still empty: the reference implementation arrives with the
//! Raft lab.
