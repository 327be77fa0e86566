//! The suite's own tests of the sharded service, beyond the course's: what
//! its tests leave unchecked. Each reaches past the controller to send a
//! group the RPCs a delayed or superseded controller would, or races two
//! controllers on purpose.

use kvsrv::rpc::{Error, GET, GetArgs, PUT, PutArgs};
use labrpc::rt::thread;
use shardcfg::key2shard;
use shardkv::shardgrp::rpc::{
    DELETE_SHARD, DeleteShardArgs, FREEZE_SHARD, FreezeShardArgs, INSTALL_SHARD, InstallShardArgs,
    ShardError, ShardState,
};
use tests::kvsrv::LoggedClient;
use tests::shardkv::{Config, NKEYS};
use tests::support::{Net, run};

use crate::check_all;

/// Whether a group's reply to a get or a put came from a leader.
fn kv_leads<T>(reply: &Result<T, Error>) -> bool {
    !matches!(reply, Err(Error::WrongLeader))
}

/// Whether a group's reply to a shard RPC came from a leader.
fn shard_leads<T>(reply: &Result<T, ShardError>) -> bool {
    !matches!(reply, Err(ShardError::WrongLeader))
}

/// A group that froze a shard serves none of its keys: the shard's keys
/// are on their way to another group, which may already take puts. The
/// course's tests never look at a group between a freeze and its delete.
#[test]
fn a_frozen_shard_is_not_served_5a() {
    run(|| {
        let cfg = Config::new("Test: a frozen shard is not served", Net::Reliable, None);
        let gid1 = cfg.setup_kv_service();
        let client = cfg.make_client();
        let (keys, values) = cfg.spread_puts(&client, NKEYS);
        let num = cfg.ctrler().query().num + 1;
        let frozen = key2shard(&keys[0]);
        let freeze = FreezeShardArgs { shard: frozen, num };
        if let Err(e) = cfg.call_group(gid1, FREEZE_SHARD, &freeze, shard_leads) {
            cfg.fail(format!(
                "a freeze of shard {frozen} for configuration {num} returned {e}"
            ));
        }
        let get = GetArgs {
            key: keys[0].clone(),
        };
        let got = cfg.call_group(gid1, GET, &get, kv_leads);
        if got != Err(Error::WrongGroup) {
            cfg.fail(format!(
                "get({:?}) of frozen shard {frozen} returned {got:?}; a group must answer \
                 ErrWrongGroup for a shard it froze",
                keys[0]
            ));
        }
        let put = PutArgs {
            key: keys[0].clone(),
            value: "lost".into(),
            version: 1,
        };
        let put_reply = cfg.call_group(gid1, PUT, &put, kv_leads);
        if put_reply != Err(Error::WrongGroup) {
            cfg.fail(format!(
                "put({:?}) to frozen shard {frozen} returned {put_reply:?}; a group must answer \
                 ErrWrongGroup for a shard it froze (a put it took would be lost with the move)",
                keys[0]
            ));
        }
        // The other shards are served as before.
        for (key, value) in keys.iter().zip(&values) {
            if key2shard(key) != frozen {
                client.check_get(key, value, 1);
            }
        }
        cfg.end();
    });
}

/// A group refuses the shard RPCs of an older configuration than the
/// latest it saw for the shard: an install, a delete or a freeze that a
/// delayed or superseded controller sends must leave the shard as it is.
#[test]
fn older_shard_rpcs_change_nothing_5a() {
    run(|| {
        let cfg = Config::new(
            "Test: shard RPCs of an older configuration change nothing",
            Net::Reliable,
            None,
        );
        cfg.setup_kv_service();
        let client = cfg.make_client();
        let (keys, values) = cfg.spread_puts(&client, NKEYS);
        let ctrler = cfg.ctrler();
        let gid2 = cfg.new_gid();
        cfg.must_join_groups(&ctrler, &[gid2]);
        let config = ctrler.query();
        let moved = (0..shardcfg::N_SHARDS)
            .find(|&s| config.shards[s] == gid2)
            .unwrap_or_else(|| cfg.fail(format!("group {gid2} serves no shard in {config}")));
        // Configuration 1 is the one before the join moved the shard here.
        let old = config.num - 1;
        let install = InstallShardArgs {
            shard: moved,
            state: ShardState::default(),
            num: old,
        };
        let _ = cfg.call_group(gid2, INSTALL_SHARD, &install, shard_leads);
        let delete = DeleteShardArgs {
            shard: moved,
            num: old,
        };
        let _ = cfg.call_group(gid2, DELETE_SHARD, &delete, shard_leads);
        let freeze = FreezeShardArgs {
            shard: moved,
            num: old,
        };
        let _ = cfg.call_group(gid2, FREEZE_SHARD, &freeze, shard_leads);
        // The moved shard as it was, asked of its group directly (a clerk
        // would wait for good on a group that stopped serving it), still
        // taking puts; then every key through a clerk.
        let Some(i) = keys.iter().position(|k| key2shard(k) == moved) else {
            cfg.fail(format!("no key of shard {moved} among the spread keys"));
        };
        let why = format!(
            "after an install, a delete and a freeze of configuration {old} reached group \
             {gid2}, which serves shard {moved} in configuration {}: a group must refuse shard \
             RPCs older than one it saw for the shard",
            config.num
        );
        let get = GetArgs {
            key: keys[i].clone(),
        };
        let got = cfg.call_group(gid2, GET, &get, kv_leads);
        if got != Ok((values[i].clone(), 1)) {
            cfg.fail(format!(
                "get({:?}) returned {got:?}, expected {:?} at version 1, {why}",
                keys[i], values[i]
            ));
        }
        let put = PutArgs {
            key: keys[i].clone(),
            value: "after".into(),
            version: 1,
        };
        let put_reply = cfg.call_group(gid2, PUT, &put, kv_leads);
        if put_reply != Ok(()) {
            cfg.fail(format!(
                "put({:?}) at version 1 returned {put_reply:?}, {why}",
                keys[i]
            ));
        }
        for (j, (key, value)) in keys.iter().zip(&values).enumerate() {
            if j == i {
                client.check_get(key, "after", 2);
            } else {
                client.check_get(key, value, 1);
            }
        }
        cfg.end();
    });
}

/// A put that its clerk first sent to a group that no longer serves its
/// shard, and that the group serving it now refuses for its version,
/// cannot have taken effect here: another client's put at that version
/// returned `OK` before it began. The clerk may answer `ErrMaybe` (it
/// cannot tell a group that gave up on a put from one that refused it) or
/// `ErrVersion`, never `OK`. The key moves to group 2 and back, so that the
/// stale clerk has met both groups' leaders: the refusal then comes from a
/// leader at the first send, and no caution of the group's clerk (which
/// takes a refusal after a follower's `ErrWrongLeader` for `ErrMaybe`)
/// hides what the sharded clerk makes of it. The course's tests meet this
/// only when a put happens to race a move.
#[test]
fn a_put_refused_after_its_shard_moved_is_not_ok_5a() {
    run(|| {
        let cfg = Config::new(
            "Test: a put refused after its shard moved",
            Net::Reliable,
            None,
        );
        cfg.setup_kv_service();
        let stale = cfg.make_client();
        let (keys, values) = cfg.spread_puts_logged(&stale, NKEYS);
        let ctrler = cfg.ctrler();
        let gid2 = cfg.new_gid();
        cfg.must_join_groups(&ctrler, &[gid2]);
        let joined = ctrler.query();
        let Some(i) = (0..keys.len()).find(|&i| joined.shards[key2shard(&keys[i])] == gid2) else {
            cfg.fail(format!(
                "group {gid2} joined, but serves none of the keys: {joined}"
            ));
        };
        let key = &keys[i];
        // The stale clerk follows the key to group 2, and keeps that
        // configuration while group 2 leaves (and stays up).
        stale.check_get(key, &values[i], 1);
        cfg.leave(&ctrler, gid2);
        let fresh = cfg.make_client();
        if let Err(e) = fresh.put(key, "fresh", 1) {
            cfg.fail(format!(
                "put({key:?}, \"fresh\", 1) returned {e}; expected OK (the key is at version 1)"
            ));
        }
        match stale.put(key, "stale", 1) {
            Err(Error::Maybe | Error::Version) => {}
            Ok(()) => cfg.fail(format!(
                "a put of {key:?} at version 1 returned OK, but another client's put at \
                 version 1 had returned OK before it began, so the key was at version 2. \
                 Its clerk sent it to group {gid2} first, which no longer serves the key's \
                 shard, and then to group 1, which refused it for its version: a refusal \
                 after a move is ErrMaybe (or ErrVersion), never OK"
            )),
            Err(e) => cfg.fail(format!(
                "a put of {key:?} at version 1, the key at version 2, returned {e}; expected \
                 ErrMaybe or ErrVersion"
            )),
        }
        fresh.check_get(key, "fresh", 2);
        cfg.check_linearizable();
        cfg.end();
    });
}

/// Two controllers propose different configurations of one number at
/// once, each joining a group of its own: exactly one must be posted, and
/// the other group must serve nothing. The course's racing controllers
/// meet this only by chance.
#[test]
fn one_configuration_per_number_5c() {
    run(|| {
        const ROUNDS: usize = 3;
        let cfg = Config::new(
            "Test: two controllers, one number, one configuration",
            Net::Reliable,
            None,
        );
        cfg.setup_kv_service();
        let client = cfg.make_client();
        let (keys, values) = cfg.spread_puts(&client, NKEYS);
        for _ in 0..ROUNDS {
            let base = cfg.ctrler().query();
            let (a, b) = (cfg.make_controller(), cfg.make_controller());
            a.init();
            b.init();
            let gids = cfg.new_gids(2);
            let proposals: Vec<_> = gids
                .iter()
                .map(|&gid| {
                    cfg.make_group_start(gid);
                    let mut next = base.clone();
                    next.join_balance([(gid, cfg.group_names(gid))].into());
                    next
                })
                .collect();
            thread::scope(|s| {
                s.spawn(|| a.ctrler().change_config_to(&proposals[0]));
                s.spawn(|| b.ctrler().change_config_to(&proposals[1]));
            });
            let posted = cfg.ctrler().query();
            if !proposals.contains(&posted) {
                cfg.fail(format!(
                    "two controllers proposed configuration {} at once, joining group {} and \
                     group {}; exactly one proposal must be posted, but the current \
                     configuration is {posted} (proposals: {} and {})",
                    base.num + 1,
                    gids[0],
                    gids[1],
                    proposals[0],
                    proposals[1]
                ));
            }
            let lost = usize::from(posted == proposals[0]);
            let loser = gids[lost];
            check_all(&client, &keys, &values);
            // The losing controller's group must serve nothing, the shards
            // its proposal gave it included.
            let probe = keys
                .iter()
                .find(|k| proposals[lost].shards[key2shard(k)] == loser);
            if let Some(key) = probe {
                let got = cfg.call_group(loser, GET, &GetArgs { key: key.clone() }, kv_leads);
                if got != Err(Error::WrongGroup) {
                    cfg.fail(format!(
                        "group {loser}, whose controller lost the race, answered get({key:?}) \
                         with {got:?}; it serves no shard, and must answer ErrWrongGroup"
                    ));
                }
            }
            cfg.exit_group(loser);
        }
        cfg.end();
    });
}
