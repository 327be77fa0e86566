//! A fault-tolerant key/value service on Raft (parts 3A–3B).
//!
//! This crate is still empty: the reference implementation arrives with the
//! key/value lab.
