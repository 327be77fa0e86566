//! The sharded key/value service's configurations (the course's
//! `shardkv1/shardcfg`, given code): the keys are split into
//! [`N_SHARDS`] shards by [`key2shard`], and a [`ShardConfig`] says which
//! replica group serves each shard and which servers make up each group.
//!
//! The controller stores configurations (as the text of [`ShardConfig`]'s
//! `Display`, read back with `str::parse`), the clerks look keys up in them,
//! and the tester builds each next configuration with
//! [`join_balance`](ShardConfig::join_balance) and
//! [`leave_balance`](ShardConfig::leave_balance), whose rebalancing is the
//! course's, decision for decision: the tests predict from it which shards
//! stay where they are while a group joins.
//!
//! Do not change this crate: the tester uses its own copy.
//!
//! ```
//! use shardcfg::{GID1, ShardConfig, key2shard};
//!
//! let mut config = ShardConfig::new();
//! assert!(config.join_balance([(GID1, vec!["server-1-0".to_owned()])].into()));
//! assert_eq!(config.num, 1);
//! assert_eq!(config.shards[key2shard("k0")], GID1);
//! let text = config.to_string();
//! assert_eq!(text.parse::<ShardConfig>().unwrap(), config);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The number of shards.
pub const N_SHARDS: usize = 12;

/// A shard: `0..N_SHARDS`.
pub type Shard = usize;

/// A configuration's number. Each configuration's is one more than the
/// one it replaces; the first the controller stores is [`NUM_FIRST`].
pub type Num = u64;

/// A replica group's id. 0 is no group: a shard assigned to 0 is served by
/// nobody (and the tester's group 0 is the controller's own key/value
/// server, never a shard group).
pub type Gid = u64;

/// The number of the first configuration.
pub const NUM_FIRST: Num = 1;

/// The first shard group, which serves every shard in the first
/// configuration.
pub const GID1: Gid = 1;

/// The network name of server `i` of group `gid` (the course's
/// `ServerName`): `server-1-2`. The controller's key/value server is
/// `server_name(0, 0)`.
pub fn server_name(gid: Gid, i: usize) -> String {
    format!("server-{gid}-{i}")
}

/// The shard `key` belongs to: the 32-bit FNV-1a hash of its bytes, mod
/// [`N_SHARDS`].
pub fn key2shard(key: &str) -> Shard {
    const OFFSET_BASIS: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let hash = key.bytes().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(PRIME)
    });
    hash as usize % N_SHARDS
}

/// An assignment of shards to groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardConfig {
    /// The configuration's number.
    pub num: Num,
    /// `shards[s]`: the group that serves shard `s` (0: none).
    pub shards: [Gid; N_SHARDS],
    /// Each group's servers, by their network names.
    pub groups: BTreeMap<Gid, Vec<String>>,
}

/// Text that is not a [`ShardConfig`].
#[derive(Debug)]
pub struct ParseConfigError(serde_json::Error);

impl fmt::Display for ParseConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a shard configuration: {}", self.0)
    }
}

impl std::error::Error for ParseConfigError {}

impl fmt::Display for ShardConfig {
    /// The configuration as JSON (the course's `String()`); the same
    /// configuration always gives the same text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl FromStr for ShardConfig {
    type Err = ParseConfigError;

    /// Reads back the text of `Display` (the course's `FromString`).
    fn from_str(text: &str) -> Result<ShardConfig, ParseConfigError> {
        serde_json::from_str(text).map_err(ParseConfigError)
    }
}

impl ShardConfig {
    /// Configuration 0: no groups, every shard unassigned.
    pub fn new() -> ShardConfig {
        ShardConfig::default()
    }

    /// Adds `groups` (each gid with its servers) and moves to the next
    /// number. Returns `false`, changing nothing, if one of the gids is
    /// already in the configuration (the course logs `re-Join`).
    ///
    /// # Panics
    /// When `groups` is empty, or names a server that another group has.
    pub fn join(&mut self, groups: BTreeMap<Gid, Vec<String>>) -> bool {
        assert!(!groups.is_empty(), "shardcfg: join of no group");
        if let Some(gid) = groups.keys().find(|gid| self.groups.contains_key(gid)) {
            log::warn!("shardcfg: re-join of group {gid}");
            return false;
        }
        for (gid, servers) in &groups {
            for (other, theirs) in &self.groups {
                if let Some(server) = servers.iter().find(|s| theirs.contains(s)) {
                    panic!(
                        "shardcfg: join({gid}) puts server {server} in groups {other} and {gid}"
                    );
                }
            }
        }
        self.groups.extend(groups);
        self.num += 1;
        true
    }

    /// Removes the groups `gids` and moves to the next number. Returns
    /// `false`, changing nothing, if one of them is not in the
    /// configuration. Their shards stay assigned to them until
    /// [`rebalance`](ShardConfig::rebalance).
    ///
    /// # Panics
    /// When `gids` is empty.
    pub fn leave(&mut self, gids: &[Gid]) -> bool {
        assert!(!gids.is_empty(), "shardcfg: leave of no group");
        if let Some(gid) = gids.iter().find(|gid| !self.groups.contains_key(gid)) {
            log::warn!("shardcfg: leave({gid}) of a group not in the configuration");
            return false;
        }
        for gid in gids {
            self.groups.remove(gid);
        }
        self.num += 1;
        true
    }

    /// [`join`](ShardConfig::join), then [`rebalance`](ShardConfig::rebalance)
    /// if it joined.
    pub fn join_balance(&mut self, groups: BTreeMap<Gid, Vec<String>>) -> bool {
        let joined = self.join(groups);
        if joined {
            self.rebalance();
        }
        joined
    }

    /// [`leave`](ShardConfig::leave), then [`rebalance`](ShardConfig::rebalance)
    /// if they left.
    pub fn leave_balance(&mut self, gids: &[Gid]) -> bool {
        let left = self.leave(gids);
        if left {
            self.rebalance();
        }
        left
    }

    /// Balances the shards over the groups, the course's way: with no
    /// groups, every shard is unassigned; otherwise each shard of a group
    /// that is not in the configuration goes, in shard order, to the group
    /// with the fewest shards; then, while the group with the most has two
    /// more than the group with the fewest, its lowest-numbered shard moves
    /// to that group. Ties between groups go to the lowest gid.
    pub fn rebalance(&mut self) {
        if self.groups.is_empty() {
            self.shards = [0; N_SHARDS];
            return;
        }
        for shard in 0..N_SHARDS {
            if !self.groups.contains_key(&self.shards[shard]) {
                self.shards[shard] = self.load().least.0;
            }
        }
        loop {
            let Load { most, least } = self.load();
            if most.1 < least.1 + 2 {
                return;
            }
            let shard = self
                .shards
                .iter()
                .position(|&gid| gid == most.0)
                .expect("the most loaded group has a shard");
            self.shards[shard] = least.0;
        }
    }

    /// The most and the least loaded groups, the first in gid order on a
    /// tie.
    fn load(&self) -> Load {
        let counts = self.counts();
        let mut most: Option<(Gid, usize)> = None;
        let mut least: Option<(Gid, usize)> = None;
        for (&gid, &count) in &counts {
            if most.is_none_or(|(_, n)| count > n) {
                most = Some((gid, count));
            }
            if least.is_none_or(|(_, n)| count < n) {
                least = Some((gid, count));
            }
        }
        let (Some(most), Some(least)) = (most, least) else {
            unreachable!("load() is asked only of a configuration with groups")
        };
        Load { most, least }
    }

    /// How many shards each group of the configuration serves.
    fn counts(&self) -> BTreeMap<Gid, usize> {
        let mut counts: BTreeMap<Gid, usize> = self.groups.keys().map(|&gid| (gid, 0)).collect();
        for gid in self.shards {
            if let Some(count) = counts.get_mut(&gid) {
                *count += 1;
            }
        }
        counts
    }

    /// The group that serves `shard`, and its servers; `None` when the
    /// shard is unassigned (or assigned to a group the configuration does
    /// not list).
    pub fn gid_servers(&self, shard: Shard) -> Option<(Gid, &[String])> {
        let gid = self.shards[shard];
        self.groups
            .get(&gid)
            .map(|servers| (gid, servers.as_slice()))
    }

    /// Whether group `gid` serves at least one shard (being listed is not
    /// enough).
    pub fn is_member(&self, gid: Gid) -> bool {
        self.shards.contains(&gid)
    }

    /// The course's `CheckConfig`: the configuration lists exactly the
    /// groups `gids`, every shard is served by one of them (when there are
    /// any), and no group serves more than one shard more than another.
    ///
    /// # Errors
    /// What is wrong, as a sentence.
    pub fn check(&self, gids: &[Gid]) -> Result<(), String> {
        if self.groups.len() != gids.len() {
            return Err(format!(
                "wanted {} groups, got {} ({})",
                gids.len(),
                self.groups.len(),
                self
            ));
        }
        if let Some(gid) = gids.iter().find(|gid| !self.groups.contains_key(gid)) {
            return Err(format!("missing group {gid} in {self}"));
        }
        if !gids.is_empty() {
            for (shard, gid) in self.shards.iter().enumerate() {
                if !self.groups.contains_key(gid) {
                    return Err(format!("shard {shard} -> invalid group {gid} in {self}"));
                }
            }
        }
        let counts = self.counts();
        let (min, max) = (counts.values().min(), counts.values().max());
        if let (Some(&min), Some(&max)) = (min, max)
            && max > min + 1
        {
            return Err(format!(
                "max {max} too much larger than min {min} in {self}"
            ));
        }
        Ok(())
    }
}

/// A configuration's most and least loaded groups, each with its count.
struct Load {
    most: (Gid, usize),
    least: (Gid, usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(names: &[&str]) -> Vec<String> {
        names.iter().map(|&s| s.to_owned()).collect()
    }

    fn join(config: &mut ShardConfig, gid: Gid) {
        let names = [format!("server-{gid}-0")];
        assert!(config.join_balance([(gid, names.to_vec())].into()));
    }

    #[test]
    fn keys_hash_to_the_courses_shards() {
        for (key, shard) in [
            ("k0", 10),
            ("k1", 9),
            ("k2", 0),
            ("k3", 11),
            ("k", 6),
            ("x", 3),
            ("", 1),
        ] {
            assert_eq!(key2shard(key), shard, "key2shard({key:?})");
        }
        let mut counts = [0; N_SHARDS];
        for i in 0..60 {
            counts[key2shard(&format!("k{i}"))] += 1;
        }
        assert_eq!(counts, [7, 3, 3, 3, 3, 8, 8, 5, 5, 4, 4, 7]);
    }

    #[test]
    fn rebalancing_moves_the_courses_shards() {
        let mut config = ShardConfig::new();
        let steps: [(&str, [Gid; N_SHARDS]); 5] = [
            ("join 1", [1; N_SHARDS]),
            ("join 2", [2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]),
            ("join 3", [3, 3, 2, 2, 2, 2, 3, 3, 1, 1, 1, 1]),
            ("join 4", [4, 3, 4, 2, 2, 2, 3, 3, 4, 1, 1, 1]),
            ("join 5", [4, 3, 4, 5, 2, 2, 3, 3, 4, 5, 1, 1]),
        ];
        for (gid, (step, shards)) in (1..).zip(steps) {
            join(&mut config, gid);
            assert_eq!(config.shards, shards, "after {step}");
            assert_eq!(config.num, gid, "after {step}");
        }
        assert!(config.leave_balance(&[1]));
        assert_eq!(
            config.shards,
            [4, 3, 4, 5, 2, 2, 3, 3, 4, 5, 2, 5],
            "after leave 1"
        );
        assert_eq!(config.num, 6);
        config.check(&[2, 3, 4, 5]).expect("balanced");
    }

    /// The course's `TestBasic`.
    #[test]
    fn joins_and_leaves_keep_the_configuration_checked() {
        let mut config = ShardConfig::new();
        config.check(&[]).expect("empty");
        assert!(config.join_balance([(1, servers(&["x", "y", "z"]))].into()));
        config.check(&[1]).expect("one group");
        assert!(config.join_balance([(2, servers(&["a", "b", "c"]))].into()));
        config.check(&[1, 2]).expect("two groups");
        assert_eq!(config.groups[&1], servers(&["x", "y", "z"]));
        assert_eq!(config.groups[&2], servers(&["a", "b", "c"]));
        assert!(config.leave_balance(&[1]));
        config.check(&[2]).expect("group 2 alone");
        assert!(config.leave_balance(&[2]));
        config.check(&[]).expect("empty again");
        assert_eq!(config.shards, [0; N_SHARDS]);
        assert_eq!(config.num, 4);
    }

    #[test]
    fn a_rejoin_or_an_unknown_leave_changes_nothing() {
        let mut config = ShardConfig::new();
        join(&mut config, 1);
        let before = config.clone();
        assert!(!config.join_balance([(1, servers(&["other"]))].into()));
        assert!(!config.leave_balance(&[1, 7]));
        assert_eq!(config, before);
    }

    #[test]
    #[should_panic(expected = "puts server s in groups 1 and 2")]
    fn a_server_in_two_groups_is_a_bug() {
        let mut config = ShardConfig::new();
        config.join([(1, servers(&["s"]))].into());
        config.join([(2, servers(&["s"]))].into());
    }

    #[test]
    fn checks_say_what_is_wrong() {
        let mut config = ShardConfig::new();
        join(&mut config, 1);
        join(&mut config, 2);
        assert!(
            config
                .check(&[1])
                .unwrap_err()
                .starts_with("wanted 1 groups, got 2")
        );
        assert!(
            config
                .check(&[1, 3])
                .unwrap_err()
                .starts_with("missing group 3")
        );
        config.shards = [1; N_SHARDS];
        assert!(
            config
                .check(&[1, 2])
                .unwrap_err()
                .starts_with("max 12 too much larger than min 0")
        );
        config.shards[0] = 9;
        assert!(
            config
                .check(&[1, 2])
                .unwrap_err()
                .starts_with("shard 0 -> invalid group 9")
        );
    }

    #[test]
    fn text_round_trips_and_is_stable() {
        let mut config = ShardConfig::new();
        join(&mut config, 2);
        join(&mut config, 1);
        let text = config.to_string();
        assert_eq!(
            text,
            r#"{"num":2,"shards":[1,1,1,1,1,1,2,2,2,2,2,2],"groups":{"1":["server-1-0"],"2":["server-2-0"]}}"#
        );
        assert_eq!(text.parse::<ShardConfig>().expect("parses"), config);
        assert!("{}".parse::<ShardConfig>().is_err());
        assert_eq!(
            config.gid_servers(0),
            Some((1, &servers(&["server-1-0"])[..]))
        );
        assert!(config.is_member(2));
        assert!(!config.is_member(3));
        assert_eq!(ShardConfig::new().gid_servers(0), None);
    }
}
