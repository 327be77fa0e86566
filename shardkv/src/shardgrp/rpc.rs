//! The controller's RPCs to a shard group (the course's `shardrpc`), given.
//!
//! Each carries the number of the configuration the controller is moving
//! to. A group remembers, for each shard, the largest number any of these
//! RPCs carried, and refuses one that carries a smaller number with
//! [`ShardError::Superseded`]: a delayed or duplicated RPC, or one from a
//! controller that another has replaced, must not change the shard. An
//! RPC that carries the same number as the largest seen is a repeat
//! (a controller retrying, or one finishing another's change) and must be
//! answered as the first was, without undoing what came after it.

use std::fmt;

use labrpc::Method;
use serde::{Deserialize, Serialize};
use shardcfg::{Num, Shard};

/// `KVServer.FreezeShard`: stop serving a shard, and hand back its keys.
pub const FREEZE_SHARD: Method<FreezeShardArgs, FreezeShardReply> =
    Method::new("KVServer.FreezeShard");
/// `KVServer.InstallShard`: start serving a shard, with the keys given.
pub const INSTALL_SHARD: Method<InstallShardArgs, InstallShardReply> =
    Method::new("KVServer.InstallShard");
/// `KVServer.DeleteShard`: forget a shard that has moved away.
pub const DELETE_SHARD: Method<DeleteShardArgs, DeleteShardReply> =
    Method::new("KVServer.DeleteShard");

/// Why a shard RPC did not (or may not have) taken effect.
///
/// | value | returned by | when |
/// |---|---|---|
/// | `WrongLeader` | server | this server does not lead its group |
/// | `Superseded` | server, clerk | the group has seen an RPC for the shard with a later configuration number |
/// | `Unreachable` | clerk only | no server of the group answered for a while: it may be down for good (a group that left is shut down) |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardError {
    /// This server does not lead its group: try another.
    WrongLeader,
    /// The group has seen an RPC for this shard with a later configuration
    /// number (given): the controller that sent this one was superseded.
    Superseded(Num),
    /// No server of the group answered for a while (a clerk's verdict,
    /// never a server's): the RPC may or may not have taken effect.
    Unreachable,
}

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardError::WrongLeader => f.write_str("ErrWrongLeader"),
            ShardError::Superseded(num) => {
                write!(f, "superseded by configuration {num}")
            }
            ShardError::Unreachable => f.write_str("no server of the group answered"),
        }
    }
}

impl std::error::Error for ShardError {}

/// Freeze arguments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FreezeShardArgs {
    /// The shard.
    pub shard: Shard,
    /// The number of the configuration that moves it away.
    pub num: Num,
}

/// A freeze's answer: the shard's state (its keys, values and versions,
/// encoded as the group chooses), which the controller passes on to the
/// shard's new group unread.
pub type FreezeShardReply = Result<ShardState, ShardError>;

/// A shard's keys, values and versions, as bytes its groups agree on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardState(#[serde(with = "serde_bytes")] pub Vec<u8>);

/// Install arguments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InstallShardArgs {
    /// The shard.
    pub shard: Shard,
    /// What its old group's freeze returned.
    pub state: ShardState,
    /// The number of the configuration that moves it here.
    pub num: Num,
}

/// An install's answer.
pub type InstallShardReply = Result<(), ShardError>;

/// Delete arguments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeleteShardArgs {
    /// The shard.
    pub shard: Shard,
    /// The number of the configuration that moved it away.
    pub num: Num,
}

/// A delete's answer.
pub type DeleteShardReply = Result<(), ShardError>;
