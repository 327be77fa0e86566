//! The server's RPCs, and the error values every key/value service of the
//! labs returns (the course's `kvsrv1/rpc`).

use std::fmt;

use labrpc::Method;
use serde::{Deserialize, Serialize};

/// A key's version: how many puts have taken effect on it (0: absent).
pub type Version = u64;

/// `KVServer.Get`: a key's value and version.
pub const GET: Method<GetArgs, GetReply> = Method::new("KVServer.Get");
/// `KVServer.Put`: a conditional write.
pub const PUT: Method<PutArgs, PutReply> = Method::new("KVServer.Put");

/// Why a key/value operation did not (or may not have) taken effect.
///
/// | value | returned by | when |
/// |---|---|---|
/// | `NoKey` | server, clerk | a get of an absent key; a put with version > 0 on an absent key |
/// | `Version` | server; a clerk only for its first send | a put on a key whose version is another (version 0 on an existing key included) |
/// | `Maybe` | clerk only | a re-sent put came back `Version`: the first copy may have taken effect and its reply been lost, or another client's put came first |
/// | `WrongLeader` | the replicated services | this server does not lead (or lost leadership before the operation committed) |
/// | `WrongGroup` | the sharded service | this group does not serve the key's shard |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Error {
    /// The key is absent.
    NoKey,
    /// The key's version is not the one the put named.
    Version,
    /// The put may or may not have taken effect.
    Maybe,
    /// This server does not lead its group.
    WrongLeader,
    /// This group does not serve the key.
    WrongGroup,
}

impl fmt::Display for Error {
    /// As the course spells them: `ErrNoKey`, `ErrVersion`, …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Error::NoKey => "ErrNoKey",
            Error::Version => "ErrVersion",
            Error::Maybe => "ErrMaybe",
            Error::WrongLeader => "ErrWrongLeader",
            Error::WrongGroup => "ErrWrongGroup",
        })
    }
}

impl std::error::Error for Error {}

/// Get arguments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GetArgs {
    /// The key.
    pub key: String,
}

/// A get's answer: the value and its version, or [`Error::NoKey`].
pub type GetReply = Result<(String, Version), Error>;

/// Put arguments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PutArgs {
    /// The key.
    pub key: String,
    /// The new value.
    pub value: String,
    /// The version the key must have for the put to take effect.
    pub version: Version,
}

/// A put's answer: done, or [`Error::Version`] or [`Error::NoKey`].
pub type PutReply = Result<(), Error>;
