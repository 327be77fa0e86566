//! The sharded service's clerk: it finds each key's group in the current
//! configuration.

// handout: begin
use std::collections::HashMap;

use kvsrv::{Error, KvClerk, Version};
use labrpc::Client;
use labrpc::rt::sync::{Arc, Mutex};
use labrpc::rt::thread;
use labrpc::rt::time::Duration;
use shardcfg::{Gid, ShardConfig, key2shard};

use crate::shardctrler::ShardCtrler;
use crate::shardgrp;

/// How long to wait before reading the configuration again, after a
/// group said it does not serve a key: the controller may be half-way
/// through moving its shard.
const MOVE_PAUSE: Duration = Duration::from_millis(100);
// handout: else
// use kvsrv::{Error, KvClerk, Version};
// use labrpc::Client;
//
// use crate::shardctrler::ShardCtrler;
// handout: end

/// A client of the sharded service. It reads configurations with its own
/// controller object, and reaches the groups through its [`Client`].
pub struct Clerk {
    // handout: begin
    client: Client,
    ctrler: ShardCtrler,
    cache: Mutex<Cache>,
    // handout: else
    // // Your state here (5A).
    // handout: end
}

// handout: begin
/// The configuration last read, and a clerk for each group met so far.
struct Cache {
    config: Option<ShardConfig>,
    groups: HashMap<Gid, Arc<shardgrp::Clerk>>,
}
// handout: end

impl Clerk {
    /// A clerk that reads configurations with `ctrler` (its
    /// [`query`](ShardCtrler::query)) and sends its requests through
    /// `client`.
    pub fn new(client: Client, ctrler: ShardCtrler) -> Clerk {
        // handout: stub 5A make a clerk that keeps `client` and `ctrler`.
        Clerk {
            client,
            ctrler,
            cache: Mutex::new(Cache {
                config: None,
                groups: HashMap::new(),
            }),
        }
    }

    // handout: begin
    /// A clerk of the group that serves `key` in the configuration last
    /// read (read now if there is none yet); `None` if no group serves it.
    fn group_of(&self, key: &str) -> Option<Arc<shardgrp::Clerk>> {
        let config = {
            let cached = self.cache.lock().config.clone();
            match cached {
                Some(config) => config,
                None => self.refresh(),
            }
        };
        let (gid, servers) = config.gid_servers(key2shard(key))?;
        let mut cache = self.cache.lock();
        let clerk = cache.groups.entry(gid).or_insert_with(|| {
            Arc::new(shardgrp::Clerk::new(self.client.clone(), servers.to_vec()))
        });
        Some(Arc::clone(clerk))
    }

    /// Reads the current configuration, and forgets the one before.
    fn refresh(&self) -> ShardConfig {
        let config = self.ctrler.query();
        let mut cache = self.cache.lock();
        // A group's servers never change, but a gid that left may come back
        // with other servers.
        cache
            .groups
            .retain(|gid, _| config.groups.contains_key(gid));
        cache.config = Some(config.clone());
        config
    }

    /// The configuration is stale, or the key's group is moving it: wait,
    /// and read it again.
    fn moved(&self) {
        thread::sleep(MOVE_PAUSE);
        self.refresh();
    }
    // handout: end
}

impl KvClerk for Clerk {
    fn get(&self, key: &str) -> Result<(String, Version), Error> {
        // handout: stub 5A find the group that serves `key`'s shard (`shardcfg::key2shard`) in the configuration `query` returns, and get from it with a `shardgrp::Clerk`; when it answers `WrongGroup`, read the configuration again and retry.
        loop {
            let Some(group) = self.group_of(key) else {
                self.moved();
                continue;
            };
            match group.get(key) {
                Err(Error::WrongGroup) => self.moved(),
                reply => return reply,
            }
        }
    }

    fn put(&self, key: &str, value: &str, version: Version) -> Result<(), Error> {
        // handout: stub 5A put through the group that serves `key`, as `get` does; once an attempt may have taken effect (the group said `WrongGroup`, or `Maybe`), a later `Version` is `Maybe`.
        // Whether an attempt at a group that then said `WrongGroup` may have
        // taken effect before the shard moved.
        let mut unsure = false;
        loop {
            let Some(group) = self.group_of(key) else {
                self.moved();
                continue;
            };
            match group.put(key, value, version) {
                Err(Error::WrongGroup) => {
                    unsure = true;
                    self.moved();
                }
                Err(Error::Version) if unsure => return Err(Error::Maybe),
                reply => return reply,
            }
        }
    }
}
