//! A sharded key/value service (parts 5A–5C): the course's `shardkv1`
//! lab, 2025 on.
//!
//! The keys are split into [`shardcfg::N_SHARDS`] shards; each shard is
//! served by one replica group (a [`shardgrp::KvServer`] on each of its
//! servers, replicated with an [`rsm::Rsm`]). Which group serves which
//! shard is a [`shardcfg::ShardConfig`], numbered; the controller
//! ([`ShardCtrler`]) keeps the current one in the tester's single
//! [`kvsrv`] server, and moves to a new one by moving each shard whose
//! group changes, one RPC at a time: **freeze** it at its old group (which
//! stops serving it and hands back its keys), **install** it at its new
//! group, **delete** it at the old one, then posts the new configuration.
//! Every one of those RPCs carries the new configuration's number, and a
//! group refuses any RPC for a shard whose number is older than one it has
//! seen for that shard: a delayed RPC, or one from a controller that was
//! superseded, changes nothing.
//!
//! A [`Clerk`] finds a key's group in the current configuration and asks
//! it; a group that does not serve the key answers
//! [`kvsrv::Error::WrongGroup`], and the clerk reads the configuration
//! again.
//!
//! The parts: 5A, the groups, the clerks and a controller that moves
//! shards; 5B, a controller that crashed half-way through a change is
//! finished by the next one ([`ShardCtrler::init_controller`]); 5C,
//! controllers that run at once agree on each next configuration through
//! one versioned put, and a controller cut off and reconnected does no
//! harm.
//!
//! Given: [`shardgrp::rpc`] (the group's RPCs) and the crate's layout;
//! yours: `shardgrp::server`, `shardgrp::client`, `shardctrler` and
//! `client`.

mod client;
mod shardctrler;
pub mod shardgrp;

pub use crate::client::Clerk;
pub use crate::shardctrler::ShardCtrler;
