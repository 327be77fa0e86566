// handout: begin
//! A shard group's server: the group's shards as an [`rsm`] state
//! machine.
//!
//! Every request, gets included, is an operation in the group's log, so
//! that each server of the group sees the same requests in the same
//! order and a reply reflects every request before it. For each shard
//! the machine keeps its keys, whether the group serves it (`Serving`),
//! stopped serving it for a move (`Frozen`), or does not hold it
//! (`Absent`), and the largest configuration number a shard RPC for it
//! carried: an RPC with a smaller one is refused, one with the same is a
//! repeat, answered as the first was.
// handout: else
// //! A shard group's server: your shards, replicated with an `rsm::Rsm`.
// //!
// //! Suggested shape: a state machine (`rsm::StateMachine`) whose
// //! operations are the five requests, holding for each shard its keys,
// //! whether the group serves it, and the largest configuration number a
// //! shard RPC for it carried (see `rpc`). Each handler submits its
// //! request and answers with what `do_op` returned.
// handout: end

// handout: begin
use std::collections::BTreeMap;

use kvsrv::rpc::{Error, GET, GetReply, PUT, PutArgs, PutReply, Version};
use labraft::Raft;
use labrpc::rt::sync::Arc;
use labrpc::{ClientEnd, Persister, Service};
use rsm::{Rsm, StateMachine};
use serde::{Deserialize, Serialize};
use shardcfg::{GID1, Gid, N_SHARDS, Num, Shard, key2shard};

use crate::shardgrp::rpc::{
    DELETE_SHARD, DeleteShardArgs, DeleteShardReply, FREEZE_SHARD, FreezeShardArgs,
    FreezeShardReply, INSTALL_SHARD, InstallShardArgs, InstallShardReply, ShardError, ShardState,
};
// handout: else
// use labraft::Raft;
// use labrpc::rt::sync::Arc;
// use labrpc::{ClientEnd, Persister, Service};
// use shardcfg::Gid;
// handout: end

/// One server of a shard group. Cheap to clone; clones are the same
/// server.
#[derive(Clone)]
pub struct KvServer {
    // handout: begin
    rsm: Rsm<Shards>,
    // handout: else
    // // Your state here (5A): an `rsm::Rsm` of your state machine.
    // handout: end
}

// handout: begin
/// A request, as the group's log holds it.
#[derive(Debug, Serialize, Deserialize)]
enum Op {
    Get(String),
    Put(PutArgs),
    Freeze(FreezeShardArgs),
    Install(InstallShardArgs),
    Delete(DeleteShardArgs),
}

/// What a request returns.
enum Reply {
    Get(GetReply),
    Put(PutReply),
    Freeze(FreezeShardReply),
    Install(InstallShardReply),
    Delete(DeleteShardReply),
}

/// The group's state machine: every shard, served or not.
struct Shards {
    me: usize,
    gid: Gid,
    shards: Vec<ShardSlot>,
}

/// What a group knows of one shard.
#[derive(Default, Serialize, Deserialize)]
struct ShardSlot {
    status: Status,
    /// The largest configuration number a shard RPC for this shard carried.
    seen: Num,
    /// Empty unless `status` is `Serving` or `Frozen`.
    store: Store,
}

type Store = BTreeMap<String, (String, Version)>;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
enum Status {
    /// The group serves the shard's keys.
    Serving,
    /// The group keeps the shard's keys for a move, and serves none.
    Frozen,
    /// The group does not hold the shard.
    #[default]
    Absent,
}
// handout: end

impl KvServer {
    /// Starts server `me` of group `gid`, whose servers' ends are
    /// `servers`, restoring what `persister` holds. The first group,
    /// [`GID1`](shardcfg::GID1), starts out serving every shard; the
    /// others serve none until a shard is installed. With
    /// `max_raft_state`, snapshots whenever Raft's saved state nears that
    /// many bytes. Returns at once.
    pub fn new(
        servers: Vec<ClientEnd>,
        gid: Gid,
        me: usize,
        persister: Arc<Persister>,
        max_raft_state: Option<usize>,
    ) -> KvServer {
        // handout: stub 5A make an `rsm::Rsm` of a state machine holding every shard (all served by group 1 at first, none by the others) over `servers` and `persister`.
        let initial = if gid == GID1 {
            Status::Serving
        } else {
            Status::Absent
        };
        let shards = (0..N_SHARDS)
            .map(|_| ShardSlot {
                status: initial,
                ..ShardSlot::default()
            })
            .collect();
        let machine = Shards { me, gid, shards };
        KvServer {
            rsm: Rsm::new(servers, me, persister, max_raft_state, machine),
        }
    }

    /// The services to register on this server's [`labrpc::Server`]: the
    /// group's `KVServer` (`Get`, `Put` and the three shard RPCs), and its
    /// Raft peer's.
    pub fn services(&self) -> Vec<Service> {
        // handout: stub 5A return a `KVServer` service with handlers for `kvsrv::rpc::GET` and `PUT` and the three shard RPCs of `rpc`, each submitting its request, and the Raft peer's service.
        let mut kv = Service::new("KVServer");
        let server = self.clone();
        kv.handle(GET, move |args| match server.submit(Op::Get(args.key)) {
            Some(Reply::Get(reply)) => reply,
            Some(_) => unreachable!("a get's reply"),
            None => Err(Error::WrongLeader),
        });
        let server = self.clone();
        kv.handle(PUT, move |args| match server.submit(Op::Put(args)) {
            Some(Reply::Put(reply)) => reply,
            Some(_) => unreachable!("a put's reply"),
            None => Err(Error::WrongLeader),
        });
        let server = self.clone();
        kv.handle(FREEZE_SHARD, move |args| {
            match server.submit(Op::Freeze(args)) {
                Some(Reply::Freeze(reply)) => reply,
                Some(_) => unreachable!("a freeze's reply"),
                None => Err(ShardError::WrongLeader),
            }
        });
        let server = self.clone();
        kv.handle(INSTALL_SHARD, move |args| {
            match server.submit(Op::Install(args)) {
                Some(Reply::Install(reply)) => reply,
                Some(_) => unreachable!("an install's reply"),
                None => Err(ShardError::WrongLeader),
            }
        });
        let server = self.clone();
        kv.handle(DELETE_SHARD, move |args| {
            match server.submit(Op::Delete(args)) {
                Some(Reply::Delete(reply)) => reply,
                Some(_) => unreachable!("a delete's reply"),
                None => Err(ShardError::WrongLeader),
            }
        });
        vec![kv, self.raft().service()]
    }

    /// This server's Raft peer.
    pub fn raft(&self) -> &Raft {
        // handout: stub 5A return this server's Raft peer.
        self.rsm.raft()
    }

    /// Stops the server and its Raft peer; once `kill` returns, none of
    /// their threads runs.
    pub fn kill(&self) {
        // handout: stub 5A kill the rsm.
        self.rsm.kill();
    }

    // handout: begin
    /// Submits `op`; its reply, or `None` if this server does not lead.
    fn submit(&self, op: Op) -> Option<Reply> {
        self.rsm.submit(op).ok()
    }
    // handout: end
}

// handout: begin
impl Shards {
    fn get(&self, key: &str) -> GetReply {
        let slot = &self.shards[key2shard(key)];
        if slot.status != Status::Serving {
            return Err(Error::WrongGroup);
        }
        slot.store.get(key).cloned().ok_or(Error::NoKey)
    }

    /// The single server's rules (`kvsrv`), for a shard this group serves.
    fn put(&mut self, args: PutArgs) -> PutReply {
        let PutArgs {
            key,
            value,
            version,
        } = args;
        let slot = &mut self.shards[key2shard(&key)];
        if slot.status != Status::Serving {
            return Err(Error::WrongGroup);
        }
        match slot.store.get_mut(&key) {
            Some(stored) if stored.1 == version => {
                *stored = (value, version + 1);
                Ok(())
            }
            Some(_) => Err(Error::Version),
            None if version == 0 => {
                slot.store.insert(key, (value, 1));
                Ok(())
            }
            None => Err(Error::NoKey),
        }
    }

    /// The slot of `shard`, if an RPC numbered `num` may act on it: not
    /// when the slot has seen a later number.
    fn fenced(&mut self, shard: Shard, num: Num) -> Result<&mut ShardSlot, ShardError> {
        let slot = &mut self.shards[shard];
        if num < slot.seen {
            log::debug!(
                "G{} S{}: shard {shard}: refused an RPC of configuration {num}, seen {}",
                self.gid,
                self.me,
                slot.seen
            );
            return Err(ShardError::Superseded(slot.seen));
        }
        slot.seen = num;
        Ok(slot)
    }

    /// Stops serving the shard and hands back its keys; a repeat hands back
    /// the same keys (none, once the shard is deleted).
    fn freeze(&mut self, args: &FreezeShardArgs) -> FreezeShardReply {
        let slot = self.fenced(args.shard, args.num)?;
        if slot.status == Status::Serving {
            slot.status = Status::Frozen;
        }
        Ok(ShardState(encode(&slot.store)))
    }

    /// Starts serving the shard with the keys given; a repeat of the
    /// install that started it changes nothing (the shard may have taken
    /// puts since).
    fn install(&mut self, args: InstallShardArgs) -> InstallShardReply {
        let (me, gid) = (self.me, self.gid);
        let before = self.shards[args.shard].seen;
        let slot = self.fenced(args.shard, args.num)?;
        let repeat = args.num == before && slot.status == Status::Serving;
        if !repeat {
            slot.store = decode(&args.state.0, me, gid);
            slot.status = Status::Serving;
        }
        Ok(())
    }

    /// Forgets the shard's keys.
    fn delete(&mut self, args: &DeleteShardArgs) -> DeleteShardReply {
        let slot = self.fenced(args.shard, args.num)?;
        slot.status = Status::Absent;
        slot.store.clear();
        Ok(())
    }
}

impl StateMachine for Shards {
    type Op = Op;
    type Reply = Reply;

    fn do_op(&mut self, op: Op) -> Reply {
        match op {
            Op::Get(key) => Reply::Get(self.get(&key)),
            Op::Put(args) => Reply::Put(self.put(args)),
            Op::Freeze(args) => Reply::Freeze(self.freeze(&args)),
            Op::Install(args) => Reply::Install(self.install(args)),
            Op::Delete(args) => Reply::Delete(self.delete(&args)),
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        labrpc::codec::encode(&self.shards).expect("shards encode")
    }

    fn restore(&mut self, snapshot: &[u8]) {
        self.shards = labrpc::codec::decode(snapshot).unwrap_or_else(|e| {
            panic!(
                "G{} S{}: a snapshot that is not this group's shards: {e}",
                self.gid, self.me
            )
        });
    }
}

/// A shard's keys, as a freeze hands them over.
fn encode(store: &Store) -> Vec<u8> {
    labrpc::codec::encode(store).expect("a shard's keys encode")
}

/// The keys a freeze handed over; none for an empty state (a shard no
/// group held).
fn decode(state: &[u8], me: usize, gid: Gid) -> Store {
    if state.is_empty() {
        return Store::new();
    }
    labrpc::codec::decode(state).unwrap_or_else(|e| {
        panic!("G{gid} S{me}: an install of a state that is not a shard's keys: {e}")
    })
}
// handout: end

// handout: begin
#[cfg(test)]
mod tests {
    use super::*;

    fn shards(gid: Gid) -> Shards {
        let status = if gid == GID1 {
            Status::Serving
        } else {
            Status::Absent
        };
        Shards {
            me: 0,
            gid,
            shards: (0..N_SHARDS)
                .map(|_| ShardSlot {
                    status,
                    ..ShardSlot::default()
                })
                .collect(),
        }
    }

    fn put(group: &mut Shards, key: &str, value: &str, version: Version) -> PutReply {
        group.put(PutArgs {
            key: key.into(),
            value: value.into(),
            version,
        })
    }

    #[test]
    fn a_move_hands_the_keys_over_and_repeats_change_nothing() {
        let (mut old, mut new) = (shards(GID1), shards(2));
        let shard = key2shard("k0");
        assert_eq!(put(&mut old, "k0", "a", 0), Ok(()));
        assert_eq!(new.get("k0"), Err(Error::WrongGroup));

        let state = old
            .freeze(&FreezeShardArgs { shard, num: 2 })
            .expect("fresh");
        assert_eq!(old.get("k0"), Err(Error::WrongGroup), "frozen");
        assert_eq!(
            put(&mut old, "k0", "b", 1),
            Err(Error::WrongGroup),
            "frozen"
        );
        let install = InstallShardArgs {
            shard,
            state: state.clone(),
            num: 2,
        };
        assert_eq!(new.install(install.clone()), Ok(()));
        assert_eq!(new.get("k0"), Ok(("a".into(), 1)));
        assert_eq!(put(&mut new, "k0", "b", 1), Ok(()));
        // A repeated install (a controller finishing another's change) keeps
        // the put that came after the first.
        assert_eq!(new.install(install), Ok(()));
        assert_eq!(new.get("k0"), Ok(("b".into(), 2)));

        assert_eq!(old.delete(&DeleteShardArgs { shard, num: 2 }), Ok(()));
        assert!(old.shards[shard].store.is_empty(), "deleted");
        // A repeated freeze once deleted hands over nothing.
        let again = old
            .freeze(&FreezeShardArgs { shard, num: 2 })
            .expect("a repeat");
        assert_eq!(decode(&again.0, 0, GID1), Store::new());
    }

    #[test]
    fn older_numbers_are_refused() {
        let mut group = shards(2);
        let shard = 3;
        let install = InstallShardArgs {
            shard,
            state: ShardState::default(),
            num: 5,
        };
        assert_eq!(group.install(install), Ok(()));
        let stale = InstallShardArgs {
            shard,
            state: ShardState::default(),
            num: 4,
        };
        assert_eq!(group.install(stale), Err(ShardError::Superseded(5)));
        assert_eq!(
            group.freeze(&FreezeShardArgs { shard, num: 4 }),
            Err(ShardError::Superseded(5))
        );
        assert_eq!(
            group.delete(&DeleteShardArgs { shard, num: 1 }),
            Err(ShardError::Superseded(5))
        );
        assert_eq!(group.shards[shard].status, Status::Serving);
    }
}
// handout: end
