// handout: begin
//! The controller: configurations kept in the controller's key/value
//! server, and the moves between them.
//!
//! Two keys hold configurations: `config-current`, the configuration the
//! clerks use, and `config-next`, the one a controller is moving to. A
//! change (5C) first claims its number by a versioned put of `next`:
//! controllers that race for one number each read `next` at one version,
//! and only one put at that version takes effect, so only one
//! configuration of each number is ever posted; the others find `next` at
//! their number with another configuration, and return. The winner then
//! moves every shard whose group changes (freeze at the old group, install
//! at the new one, delete at the old), and promotes `next` to `current`
//! with a versioned put. A controller that crashed or was cut off half-way
//! leaves `next` ahead of `current`; the next controller's
//! `init_controller` (5B) does the moves again (the groups answer repeats
//! as they answered the first) and promotes it. A controller that comes
//! back after being superseded is refused by the groups (its number is
//! older than theirs) or by the versioned puts, and returns.
// handout: else
// //! The controller: your configurations, kept in the controller's
// //! key/value server, and the moves between them.
// handout: end

// handout: begin
use kvsrv::{Error, KvClerk, Version};
use labrpc::Client;
use shardcfg::{Gid, N_SHARDS, Num, ShardConfig, server_name};

use crate::shardgrp;
use crate::shardgrp::rpc::{ShardError, ShardState};

/// The key of the configuration the clerks use.
const CURRENT: &str = "config-current";
/// The key of the configuration a controller is moving to.
const NEXT: &str = "config-next";
// handout: else
// use labrpc::Client;
// use shardcfg::ShardConfig;
// handout: end

/// A shard controller. It keeps its configurations in the controller's
/// key/value server ([`kvsrv`], served as `server-0-0`), through a
/// [`kvsrv::Clerk`] of its own.
pub struct ShardCtrler {
    // handout: begin
    client: Client,
    store: kvsrv::Clerk,
    // handout: else
    // // Your state here (5A): at least a `kvsrv::Clerk` to
    // // `shardcfg::server_name(0, 0)`.
    // handout: end
}

impl ShardCtrler {
    /// A controller whose requests go through `client`.
    pub fn new(client: Client) -> ShardCtrler {
        // handout: stub 5A make a controller with a `kvsrv::Clerk` whose end is `client.end(&shardcfg::server_name(0, 0))`.
        let store = kvsrv::Clerk::new(client.end(&server_name(0, 0)));
        ShardCtrler { client, store }
    }

    /// Called by the tester before it uses a new controller: in 5A,
    /// nothing to do; in 5B and 5C, recovery: finish the change a
    /// controller before this one started and did not finish.
    pub fn init_controller(&self) {
        // handout: stub 5B finish a change that a controller started and did not finish (a stored next configuration newer than the current one).
        let (current, version) = self.read(CURRENT).expect("init_config stored one");
        if let Some((next, _)) = self.read(NEXT)
            && next.num > current.num
        {
            self.move_to(&current, version, &next);
        }
    }

    /// Called once by the tester, before any other controller runs, to
    /// store the first configuration (number 1, every shard on group 1).
    pub fn init_config(&self, config: &ShardConfig) {
        // handout: stub 5A store `config` (its `to_string()`) in the key/value server with a put at version 0, under a key of your choice.
        match self.store.put(CURRENT, &config.to_string(), 0) {
            // `Maybe`: a re-sent put refused because the first took effect.
            Ok(()) | Err(Error::Maybe) => {}
            Err(e) => panic!("the first configuration is stored once, at version 0: {e}"),
        }
    }

    /// Moves the service from the current configuration to `new`, whose
    /// number is one more than the current one's: each shard whose group
    /// changes moves, and then clerks find it in `new`. Another controller
    /// may be changing the configuration too (5C): if it posts another
    /// configuration of this number first, this one does nothing.
    pub fn change_config_to(&self, new: &ShardConfig) {
        // handout: stub 5A move each shard whose group changes from the current configuration to `new` (freeze at the old group, install at the new, delete at the old), then store `new` as the current configuration.
        loop {
            let (current, version) = self.read(CURRENT).expect("init_config stored one");
            if new.num <= current.num {
                return;
            }
            let next = self.read(NEXT);
            let next_version = next.as_ref().map_or(0, |(_, v)| *v);
            if let Some((next, _)) = next
                && next.num > current.num
            {
                if next.num >= new.num {
                    // Posted already: by this controller (a put that came
                    // back `Maybe`), or by another one, which leads.
                    if next == *new {
                        self.move_to(&current, version, &next);
                    }
                    return;
                }
                // An older change left unfinished: finish it first.
                self.move_to(&current, version, &next);
                continue;
            }
            match self.store.put(NEXT, &new.to_string(), next_version) {
                Ok(()) => {
                    self.move_to(&current, version, new);
                    return;
                }
                // Read again: another controller's put came first, or this
                // one's did (`Maybe`).
                Err(Error::Version | Error::Maybe) => {}
                Err(e) => unreachable!("a put of {NEXT} at its version: {e}"),
            }
        }
    }

    /// The current configuration.
    pub fn query(&self) -> ShardConfig {
        // handout: stub 5A read back the configuration `init_config` and `change_config_to` stored, with `str::parse`.
        self.read(CURRENT).expect("init_config stored one").0
    }

    // handout: begin
    /// The configuration stored under `key`, and its version.
    fn read(&self, key: &str) -> Option<(ShardConfig, Version)> {
        match self.store.get(key) {
            Ok((text, version)) => {
                let config = text.parse().unwrap_or_else(|e| {
                    panic!("the controller's {key} holds no configuration: {e}: {text}")
                });
                Some((config, version))
            }
            Err(Error::NoKey) => None,
            Err(e) => unreachable!("a get of {key}: {e}"),
        }
    }

    /// Moves every shard whose group differs between `current` (stored at
    /// `version`) and `next`, then makes `next` current. Stops at the first
    /// refusal: a later configuration has taken over.
    fn move_to(&self, current: &ShardConfig, version: Version, next: &ShardConfig) {
        for shard in 0..N_SHARDS {
            let (from, to) = (current.shards[shard], next.shards[shard]);
            if from == to {
                continue;
            }
            if let Err(e) = self.move_shard(shard, current, next) {
                log::debug!(
                    "controller: moving shard {shard} from G{from} to G{to} for {}: {e}",
                    next.num
                );
                return;
            }
        }
        match self.store.put(CURRENT, &next.to_string(), version) {
            // Promoted by another controller finishing the same change.
            Ok(()) | Err(Error::Version | Error::Maybe) => {}
            Err(e) => unreachable!("a put of {CURRENT} at its version: {e}"),
        }
    }

    /// Freeze at the old group, install at the new, delete at the old.
    fn move_shard(
        &self,
        shard: usize,
        current: &ShardConfig,
        next: &ShardConfig,
    ) -> Result<(), ShardError> {
        let old = self.group(current, current.shards[shard]);
        let new = self.group(next, next.shards[shard]);
        let num = next.num;
        let state = match &old {
            Some(old) => self.until_done(num, || old.freeze_shard(shard, num))?,
            // Nobody held it: it has no keys.
            None => ShardState::default(),
        };
        if let Some(new) = &new {
            self.until_done(num, || new.install_shard(shard, state.clone(), num))?;
        }
        // A shard that no group takes stays frozen where it was.
        if let (Some(old), Some(_)) = (&old, &new) {
            self.until_done(num, || old.delete_shard(shard, num))?;
        }
        Ok(())
    }

    /// Runs the shard RPC `send` until its group answers, or until the
    /// change to configuration `num` is posted: a controller that finishes
    /// another's change, or was cut off during its own, may find the
    /// change done, and a group it still waits for gone (left, and shut
    /// down).
    fn until_done<T>(
        &self,
        num: Num,
        send: impl Fn() -> Result<T, ShardError>,
    ) -> Result<T, ShardError> {
        loop {
            match send() {
                Err(ShardError::Unreachable) => {
                    let (current, _) = self.read(CURRENT).expect("init_config stored one");
                    if current.num >= num {
                        return Err(ShardError::Superseded(current.num));
                    }
                }
                outcome => return outcome,
            }
        }
    }

    /// A clerk of group `gid` of `config`, if it lists one.
    fn group(&self, config: &ShardConfig, gid: Gid) -> Option<shardgrp::Clerk> {
        let servers = config.groups.get(&gid)?;
        Some(shardgrp::Clerk::new(self.client.clone(), servers.clone()))
    }
    // handout: end
}
