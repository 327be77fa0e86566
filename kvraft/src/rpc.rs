//! The key/value service's RPCs and the commands it puts in the Raft log.

// handout: begin
use labrpc::Method;
use serde::{Deserialize, Serialize};

/// `KvServer.Get`: read a key.
pub const GET: Method<GetArgs, Reply> = Method::new("KvServer.Get");
/// `KvServer.PutAppend`: replace or extend a key's value.
pub const PUT_APPEND: Method<PutAppendArgs, Reply> = Method::new("KvServer.PutAppend");

/// Who sent an operation, and which of that client's operations it is: the
/// server executes each (client, sequence) once, however often it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpId {
    /// A random id the clerk chose.
    pub client: u64,
    /// The clerk's count of its operations, from 1.
    pub seq: u64,
}

/// Get arguments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GetArgs {
    /// The key.
    pub key: String,
    /// The operation's id.
    pub id: OpId,
}

/// Whether a PutAppend replaces or appends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PutOrAppend {
    /// Replace the value.
    Put,
    /// Append to the value.
    Append,
}

/// PutAppend arguments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PutAppendArgs {
    /// The key.
    pub key: String,
    /// The value to store or append.
    pub value: String,
    /// Put or append.
    pub kind: PutOrAppend,
    /// The operation's id.
    pub id: OpId,
}

/// A server's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Done; for a get, the value ("" for a missing key).
    Ok(String),
    /// This server cannot do it (it does not lead, or lost leadership before
    /// the operation committed): try another.
    WrongLeader,
}

/// What the service writes into the Raft log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Command {
    pub(crate) id: OpId,
    pub(crate) op: Op,
}

/// One operation on the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Op {
    Get { key: String },
    Put { key: String, value: String },
    Append { key: String, value: String },
}
// handout: else
// use labrpc::Method;
// use serde::{Deserialize, Serialize};
//
// /// `KvServer.Get`: read a key.
// pub const GET: Method<GetArgs, GetReply> = Method::new("KvServer.Get");
// /// `KvServer.PutAppend`: replace or extend a key's value.
// pub const PUT_APPEND: Method<PutAppendArgs, PutAppendReply> = Method::new("KvServer.PutAppend");
//
// /// Get arguments.
// #[derive(Clone, Debug, Serialize, Deserialize)]
// pub struct GetArgs {
//     /// The key.
//     pub key: String,
//     // Your fields here (3A).
// }
//
// /// Get results.
// #[derive(Clone, Debug, Serialize, Deserialize)]
// pub struct GetReply {
//     /// The value ("" for a missing key).
//     pub value: String,
//     // Your fields here (3A).
// }
//
// /// PutAppend arguments.
// #[derive(Clone, Debug, Serialize, Deserialize)]
// pub struct PutAppendArgs {
//     /// The key.
//     pub key: String,
//     /// The value to store or append.
//     pub value: String,
//     // Your fields here (3A).
// }
//
// /// PutAppend results.
// #[derive(Clone, Debug, Serialize, Deserialize)]
// pub struct PutAppendReply {
//     // Your fields here (3A).
// }
// handout: end
