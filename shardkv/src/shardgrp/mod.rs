//! A shard group: a few servers that replicate, with an [`rsm::Rsm`], the
//! shards the configuration assigns to their group, and the clerk that
//! reaches them.
//!
//! Each server ([`KvServer`]) serves `KVServer.Get` and `KVServer.Put`
//! ([`kvsrv::rpc`]: the same requests and replies as the single server's)
//! for the keys of the shards its group holds, and the controller's three
//! shard RPCs ([`rpc`]). Every request goes through the group's log, so
//! that all its servers execute the same requests in the same order.
//!
//! The [`Clerk`] is used by the controller (for the shard RPCs) and by the
//! sharded service's clerk (for gets and puts).

mod client;
pub mod rpc;
mod server;

pub use crate::shardgrp::client::Clerk;
pub use crate::shardgrp::server::KvServer;
