//! The clerk of one shard group.

// handout: begin
use kvsrv::rpc::{Error, GET, GetArgs, PUT, PutArgs, Version};
use labrpc::rt::sync::atomic::{AtomicUsize, Ordering};
use labrpc::rt::thread;
use labrpc::rt::time::Duration;
use labrpc::{Client, Method, NoReply};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shardcfg::{Num, Shard};

use crate::shardgrp::rpc::{
    DELETE_SHARD, DeleteShardArgs, FREEZE_SHARD, FreezeShardArgs, INSTALL_SHARD, InstallShardArgs,
    ShardError, ShardState,
};

/// How long to wait after every server of the group has been tried once
/// without an answer: an election takes a few hundred milliseconds.
const ROUND_PAUSE: Duration = Duration::from_millis(100);

/// How many rounds over the group's servers a get or a put tries, when
/// no server answers at all, before giving up with `WrongGroup`: a group
/// that stays silent that long has likely left the configuration and
/// been shut down, and the configuration should be read again.
const SILENT_ROUNDS: usize = 5;
// handout: else
// use kvsrv::rpc::{Error, Version};
// use labrpc::Client;
// use shardcfg::{Num, Shard};
//
// use crate::shardgrp::rpc::{ShardError, ShardState};
// handout: end

/// A client of one shard group, reaching its servers by name through a
/// [`Client`].
pub struct Clerk {
    // handout: begin
    client: Client,
    servers: Vec<String>,
    /// The server that answered last, where the next request starts.
    leader: AtomicUsize,
    // handout: else
    // // Your state here (5A).
    // handout: end
}

// handout: begin
/// How a request to the group ended.
enum Answer<R> {
    /// A server that leads answered.
    Reply(R),
    /// No server answered at all for [`SILENT_ROUNDS`] rounds.
    Silent,
}
// handout: end

impl Clerk {
    /// A clerk of the group whose servers are named `servers`.
    pub fn new(client: Client, servers: Vec<String>) -> Clerk {
        // handout: stub 5A make a clerk that reaches each of `servers` with `client.end(name)`.
        Clerk {
            client,
            servers,
            leader: AtomicUsize::new(0),
        }
    }

    /// `key`'s value and version, from the group.
    ///
    /// # Errors
    /// [`Error::NoKey`]; [`Error::WrongGroup`] when the group does not
    /// serve the key's shard, or no server of it answers for a while.
    pub fn get(&self, key: &str) -> Result<(String, Version), Error> {
        // handout: stub 5A send `kvsrv::rpc::GET` to the group's servers until the leader answers; return `WrongGroup` when the group says so, or when no server answers for a while (the group may have left and been shut down).
        let args = GetArgs {
            key: key.to_owned(),
        };
        let answer = self.request(GET, &args, Some(SILENT_ROUNDS), |outcome| {
            outcome.is_ok_and(|reply| reply != &Err(Error::WrongLeader))
        });
        match answer {
            Answer::Reply(reply) => reply,
            Answer::Silent => Err(Error::WrongGroup),
        }
    }

    /// A versioned put to the group, as the single server's clerk makes it.
    ///
    /// # Errors
    /// [`Error::Version`], [`Error::NoKey`], [`Error::Maybe`] as the single
    /// server's clerk; [`Error::WrongGroup`] when the group does not serve
    /// the key's shard, or no server of it answers for a while: the put may
    /// then have taken effect before the shard moved.
    pub fn put(&self, key: &str, value: &str, version: Version) -> Result<(), Error> {
        // handout: stub 5A send `kvsrv::rpc::PUT` to the group's servers until the leader answers; after a send that got no answer (or `WrongLeader`: the put may still commit), a `Version` means `Maybe`.
        let args = PutArgs {
            key: key.to_owned(),
            value: value.to_owned(),
            version,
        };
        // Whether an earlier send may have taken effect: one that got no
        // answer, or `WrongLeader` (a put that reached a leader may still
        // commit after that leader answered so, under a later leader).
        let mut unsure = false;
        let answer = self.request(PUT, &args, Some(SILENT_ROUNDS), |outcome| match outcome {
            Ok(Err(Error::WrongLeader)) | Err(NoReply) => {
                unsure = true;
                false
            }
            Ok(_) => true,
        });
        match answer {
            Answer::Reply(Err(Error::Version)) if unsure => Err(Error::Maybe),
            Answer::Reply(reply) => reply,
            Answer::Silent => Err(Error::WrongGroup),
        }
    }

    /// Freezes `shard` for configuration `num` and returns its state.
    /// Retries until the group answers, or no server of it has for a while.
    ///
    /// # Errors
    /// [`ShardError::Superseded`]; [`ShardError::Unreachable`].
    pub fn freeze_shard(&self, shard: Shard, num: Num) -> Result<ShardState, ShardError> {
        // handout: stub 5A send `rpc::FREEZE_SHARD` to the group's servers until the leader answers; return `Unreachable` when none has for a while.
        self.shard_request(FREEZE_SHARD, &FreezeShardArgs { shard, num })
    }

    /// Installs `state` as `shard` for configuration `num`. Retries until
    /// the group answers, or no server of it has for a while.
    ///
    /// # Errors
    /// [`ShardError::Superseded`]; [`ShardError::Unreachable`].
    pub fn install_shard(
        &self,
        shard: Shard,
        state: ShardState,
        num: Num,
    ) -> Result<(), ShardError> {
        // handout: stub 5A send `rpc::INSTALL_SHARD` to the group's servers until the leader answers; return `Unreachable` when none has for a while.
        self.shard_request(INSTALL_SHARD, &InstallShardArgs { shard, state, num })
    }

    /// Deletes `shard` for configuration `num`. Retries until the group
    /// answers, or no server of it has for a while.
    ///
    /// # Errors
    /// [`ShardError::Superseded`]; [`ShardError::Unreachable`].
    pub fn delete_shard(&self, shard: Shard, num: Num) -> Result<(), ShardError> {
        // handout: stub 5A send `rpc::DELETE_SHARD` to the group's servers until the leader answers; return `Unreachable` when none has for a while.
        self.shard_request(DELETE_SHARD, &DeleteShardArgs { shard, num })
    }

    // handout: begin
    /// A shard RPC, until a leader answers, or no server has for
    /// [`SILENT_ROUNDS`] rounds: the controller decides whether to try
    /// again (its change still waits for the group) or to stop (another
    /// controller finished the change, and the group may have left).
    fn shard_request<Req: Serialize, Rep: DeserializeOwned>(
        &self,
        method: Method<Req, Result<Rep, ShardError>>,
        args: &Req,
    ) -> Result<Rep, ShardError> {
        let answer = self.request(method, args, Some(SILENT_ROUNDS), |outcome| {
            outcome.is_ok_and(|reply| !matches!(reply, Err(ShardError::WrongLeader)))
        });
        match answer {
            Answer::Reply(reply) => reply,
            Answer::Silent => Err(ShardError::Unreachable),
        }
    }

    /// Sends `args` to the group's servers in turn, starting at the last
    /// leader, until `done` accepts what a send got (`done` sees every
    /// send's outcome, lost ones included); gives up after `silent_rounds`
    /// rounds in a row in which no server answered at all.
    fn request<Req: Serialize, Rep: DeserializeOwned>(
        &self,
        method: Method<Req, Rep>,
        args: &Req,
        silent_rounds: Option<usize>,
        mut done: impl FnMut(Result<&Rep, NoReply>) -> bool,
    ) -> Answer<Rep> {
        let n = self.servers.len();
        let mut silent = 0;
        loop {
            let start = self.leader.load(Ordering::Relaxed);
            let mut answered = false;
            for i in (0..n).map(|k| (start + k) % n) {
                let end = self.client.end(&self.servers[i]);
                let outcome = end.call(method, args);
                answered |= outcome.is_ok();
                if done(outcome.as_ref().map_err(|&e| e)) {
                    self.leader.store(i, Ordering::Relaxed);
                    return Answer::Reply(outcome.expect("done accepts replies alone"));
                }
            }
            silent = if answered { 0 } else { silent + 1 };
            if silent_rounds.is_some_and(|limit| silent >= limit) {
                return Answer::Silent;
            }
            thread::sleep(ROUND_PAUSE);
        }
    }
    // handout: end
}
