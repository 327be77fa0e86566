//! A fault-tolerant key/value service on Raft (parts 3A–3B).
//!
//! [`KvServer`]s replicate a map from strings to strings with
//! [`labraft::Raft`]; a [`Clerk`] offers `get`, `put` and `append` and
//! retries each until some server carries it out. Every operation is
//! linearizable and executes exactly once, however often the network makes
//! the clerk retry. With a `max_raft_state`, servers snapshot their state
//! (the duplicate table included) so that Raft can discard its log.
//!
//! Modules: `client` ([`Clerk`]), `server` ([`KvServer`]), [`rpc`] (the
//! service's methods and the commands in the Raft log).

mod client;
pub mod rpc;
mod server;

pub use crate::client::Clerk;
pub use crate::server::KvServer;
