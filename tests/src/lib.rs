//! The graded lab suites and the harness they share.
//!
//! This crate is still empty: the Raft harness and suites arrive with the
//! Raft lab, the key/value ones with the key/value lab.
