//! The sharded key/value service's tester (the course's `shardkv1/test.go`
//! and the parts of `tester1` and `kvtest1` it uses): the controller's
//! key/value server as group 0 (one [`kvsrv::KvServer`], `server-0-0`),
//! shard groups of [`NSRV`] servers each (`server-gid-i`), started and
//! shut down during a test, all on one network, and clients that reach
//! every server by name ([`labrpc::Client`]), each with a controller
//! object of its own.
//!
//! Clients log what goes through their own methods ([`Client::get`],
//! [`Client::put`], and the workload of [`crate::kvsrv`] built on them)
//! for the linearizability check against the
//! [versioned model](crate::linearizability::versioned); what a test does
//! through [`Client::clerk`] is neither logged nor counted.

use std::collections::BTreeMap;
use std::fmt;

use kvsrv::{Error, KvClerk, Version};
use labrpc::rt::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use labrpc::rt::sync::{Arc, Mutex};
use labrpc::rt::thread;
use labrpc::rt::time::{Duration, Instant};
use labrpc::{Method, Network};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shardcfg::{GID1, Gid, ShardConfig};
use shardkv::shardgrp;
use shardkv::{Clerk, ShardCtrler};

use crate::cluster::Cluster;
use crate::kvsrv::{LoggedClient, VersionedLog, one_client_put_keys};
use crate::linearizability::html::EventKind;
use crate::support::Net;

/// Servers per shard group (the course's `NSRV`).
pub const NSRV: usize = 3;

/// Keys the tests spread over the shards (the course's `NKEYS`: five per
/// shard on average).
pub const NKEYS: usize = 5 * shardcfg::N_SHARDS;

/// How many groups the many-group tests join (the course's `NGRP`).
pub const NGRP: usize = 8;

/// The pause between two group changes (the course's `INTERGRPDELAY`).
pub const INTER_GROUP_DELAY: Duration = Duration::from_millis(200);

/// The wall time the linearizability check may take.
pub const CHECK_TIME: Duration = Duration::from_secs(60);

/// One key of each shard, for workloads that put to every shard: for each
/// shard in order, the first of `{prefix}0`, `{prefix}1`, … in it.
pub fn key_per_shard(prefix: &str) -> Vec<String> {
    let mut keys: Vec<Option<String>> = vec![None; shardcfg::N_SHARDS];
    let mut i = 0;
    while keys.iter().any(Option::is_none) {
        let key = format!("{prefix}{i}");
        let shard = shardcfg::key2shard(&key);
        keys[shard].get_or_insert(key);
        i += 1;
    }
    keys.into_iter().flatten().collect()
}

/// The controller's key/value server: group 0.
const CONTROLLER_GROUP: Gid = 0;

/// The sharded service under test. Dropping it kills every server, cleans
/// up the network, and checks that no thread is left behind.
pub struct Config {
    cluster: Cluster,
    net: Net,
    max_raft_state: Option<usize>,
    store: Mutex<Option<kvsrv::KvServer>>,
    groups: Mutex<BTreeMap<Gid, Vec<Option<shardgrp::KvServer>>>>,
    /// The controller the tests set up with (the course's `ts.sck`).
    setup: Mutex<Option<Arc<ShardCtrler>>>,
    next_gid: AtomicU64,
    next_client: AtomicU64,
    log: VersionedLog,
    /// The harness's own client, for the RPCs the suite's own tests send
    /// to groups directly.
    harness: labrpc::Client,
}

/// A clerk of the sharded service with a client and a controller object of
/// its own, which logs what it does through its own methods. Dropping it
/// deletes its client's ends (the course's `DeleteClerk`).
pub struct Client<'a> {
    config: &'a Config,
    clerk: Clerk,
    name: String,
    id: usize,
}

/// A controller object on a client of its own, for the tests that run
/// controllers beside the setup one. Dropping it deletes its client.
pub struct Controller<'a> {
    config: &'a Config,
    ctrler: ShardCtrler,
    name: String,
}

impl Config {
    /// The controller's key/value server, started, on a network that
    /// delivers as `net` says, shard groups snapshotting near
    /// `max_raft_state` bytes of Raft state if given; prints the test's
    /// title (the course's `MakeTestMaxRaft`).
    pub fn new(title: &str, net: Net, max_raft_state: Option<usize>) -> Config {
        let cluster = Cluster::new(0);
        let harness = cluster.net().make_client("harness");
        let config = Config {
            cluster,
            net,
            max_raft_state,
            store: Mutex::new(None),
            groups: Mutex::new(BTreeMap::new()),
            setup: Mutex::new(None),
            next_gid: AtomicU64::new(GID1 + 1),
            next_client: AtomicU64::new(0),
            log: VersionedLog::new(),
            harness,
        };
        config.cluster.add_group(CONTROLLER_GROUP, 1);
        let group = config.cluster.group(CONTROLLER_GROUP);
        let store = group.on_server(0, kvsrv::KvServer::new);
        group.serve(0, store.services());
        *config.store.lock() = Some(store);
        net.apply_to(&config.cluster);
        config.begin(title);
        config
    }

    /// Fails the test: `message`, then how to replay it.
    #[track_caller]
    pub fn fail(&self, message: impl fmt::Display) -> ! {
        self.cluster.fail(message)
    }

    fn begin(&self, description: &str) {
        self.cluster
            .begin(&format!("{description} ({} network)", self.net.name()));
        self.log.reset_ops();
    }

    /// Checks the time limit, then prints the course's summary line:
    /// seconds, the controller group's one server, RPCs, logged operations.
    pub fn end(&self) {
        self.cluster.passed(1, self.log.ops());
    }

    /// The network.
    pub fn net(&self) -> &Network {
        self.cluster.net()
    }

    /// A random number in `0..bound`, from the test's seeded generator.
    pub fn random(&self, bound: u64) -> u64 {
        self.cluster.random(bound)
    }

    /// A fresh client on the network, named `client-N`.
    fn make_labrpc_client(&self) -> (String, labrpc::Client) {
        self.numbered_client().1
    }

    /// A fresh client on the network, its number, and its name
    /// (`client-N`).
    fn numbered_client(&self) -> (usize, (String, labrpc::Client)) {
        let n = self.next_client.fetch_add(1, Ordering::Relaxed);
        let name = format!("client-{n}");
        let client = self.cluster.net().make_client(&name);
        (n as usize, (name, client))
    }

    /// A clerk with a client and a controller object of its own (the
    /// course's `MakeClerk`).
    pub fn make_client(&self) -> Client<'_> {
        let (name, id, clerk) = self.make_clerk();
        Client {
            config: self,
            clerk,
            name,
            id,
        }
    }

    /// A clerk on a fresh client, with a controller object on the same
    /// client: the client's name, its number, the clerk.
    fn make_clerk(&self) -> (String, usize, Clerk) {
        // One draw for the number and the name: clients are made from
        // several threads at once.
        let (id, (name, client)) = self.numbered_client();
        let ctrler = ShardCtrler::new(client.clone());
        (name, id, Clerk::new(client, ctrler))
    }

    /// A controller on a client of its own (the course's
    /// `makeShardCtrlerClnt`).
    pub fn make_controller(&self) -> Controller<'_> {
        let (name, client) = self.make_labrpc_client();
        Controller {
            config: self,
            ctrler: ShardCtrler::new(client),
            name,
        }
    }

    /// The controller the service was set up with.
    pub fn ctrler(&self) -> Arc<ShardCtrler> {
        match &*self.setup.lock() {
            Some(ctrler) => Arc::clone(ctrler),
            None => self.fail("the test uses the setup controller before setup_kv_service"),
        }
    }

    /// Sets up the service (the course's `setupKVService`): a controller
    /// on a client of its own, group 1 started, and the first
    /// configuration (number 1, every shard on group 1) stored with
    /// `init_config`. Returns group 1's id.
    pub fn setup_kv_service(&self) -> Gid {
        let (_, client) = self.make_labrpc_client();
        let ctrler = Arc::new(ShardCtrler::new(client));
        *self.setup.lock() = Some(Arc::clone(&ctrler));
        self.make_group_start(GID1);
        let mut config = ShardConfig::new();
        config.join_balance([(GID1, self.group_names(GID1))].into());
        ctrler.init_config(&config);
        GID1
    }

    /// A new group id, never used before in this test.
    pub fn new_gid(&self) -> Gid {
        self.next_gid.fetch_add(1, Ordering::Relaxed)
    }

    /// `n` new group ids.
    pub fn new_gids(&self, n: usize) -> Vec<Gid> {
        (0..n).map(|_| self.new_gid()).collect()
    }

    /// The network names of group `gid`'s servers.
    pub fn group_names(&self, gid: Gid) -> Vec<String> {
        self.cluster.group(gid).names()
    }

    /// The network names group `gid`'s servers have, or will have once
    /// it is made.
    pub fn group_names_of(&self, gid: Gid) -> Vec<String> {
        (0..NSRV).map(|i| shardcfg::server_name(gid, i)).collect()
    }

    /// Makes group `gid` and starts its servers (the course's
    /// `MakeGroupStart`).
    pub fn make_group_start(&self, gid: Gid) {
        self.cluster
            .event(EventKind::Servers, format!("make group {gid}"));
        self.cluster.add_group(gid, NSRV);
        self.groups
            .lock()
            .insert(gid, (0..NSRV).map(|_| None).collect());
        self.start_servers(gid);
    }

    /// Starts every server of group `gid`, each from what it persisted,
    /// and connects them (the course's `StartServers`).
    pub fn start_group(&self, gid: Gid) {
        self.cluster
            .event(EventKind::Servers, format!("restart group {gid}"));
        self.start_servers(gid);
    }

    fn start_servers(&self, gid: Gid) {
        for i in 0..NSRV {
            self.start_server(gid, i);
        }
        let group = self.cluster.group(gid);
        for i in 0..NSRV {
            for j in 0..NSRV {
                group.set_link(i, j, true);
            }
        }
    }

    fn start_server(&self, gid: Gid, i: usize) {
        let group = self.cluster.group(gid);
        let (ends, persister) = group.restart_inputs(i);
        let max_raft_state = self.max_raft_state;
        let server = group.on_server(i, || {
            shardgrp::KvServer::new(ends, gid, i, persister, max_raft_state)
        });
        group.serve(i, server.services());
        self.groups
            .lock()
            .get_mut(&gid)
            .expect("the group was made")[i] = Some(server);
    }

    /// Crashes server `i` of group `gid` (the course's `ShutdownServer`).
    pub fn shutdown_server(&self, gid: Gid, i: usize) {
        self.cluster.event(
            EventKind::Servers,
            format!("shut down server {i} of group {gid}"),
        );
        self.crash(gid, i);
    }

    fn crash(&self, gid: Gid, i: usize) {
        let group = self.cluster.group(gid);
        for j in 0..NSRV {
            group.set_link(i, j, false);
            group.set_link(j, i, false);
        }
        group.crash(i, || {
            let server = self.groups.lock().get_mut(&gid).and_then(|g| g[i].take());
            server.map(|s| s.kill()).is_some()
        });
    }

    /// Crashes every server of group `gid` (the course's `Shutdown`).
    pub fn shutdown_group(&self, gid: Gid) {
        self.cluster
            .event(EventKind::Servers, format!("shut down group {gid}"));
        self.crash_group(gid);
    }

    fn crash_group(&self, gid: Gid) {
        for i in 0..NSRV {
            self.crash(gid, i);
        }
    }

    /// Shuts group `gid` down and forgets it (the course's `ExitGroup`).
    pub fn exit_group(&self, gid: Gid) {
        self.cluster.event(
            EventKind::Servers,
            format!("shut down and forget group {gid}"),
        );
        self.crash_group(gid);
        self.groups.lock().remove(&gid);
        self.cluster.remove_group(gid);
    }

    /// The server of group `gid` whose Raft peer believes it leads, if any
    /// is up and does.
    pub fn leader(&self, gid: Gid) -> Option<usize> {
        let groups = self.groups.lock();
        groups.get(&gid)?.iter().position(|server| {
            server
                .as_ref()
                .is_some_and(|server| server.raft().state().1)
        })
    }

    /// Shuts down group `gid`'s Raft leader (the course's
    /// `disconnectClntFromLeader`, which shuts it down despite its name);
    /// waits up to the election timeout for one if there is none yet.
    pub fn shutdown_leader(&self, gid: Gid) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(leader) = self.leader(gid) {
                self.shutdown_server(gid, leader);
                return leader;
            }
            if Instant::now() > deadline {
                self.fail(format!("group {gid} has no leader for 5 s"));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The largest snapshot among group `gid`'s servers, in bytes.
    pub fn snapshot_size(&self, gid: Gid) -> usize {
        self.cluster.group(gid).snapshot_size()
    }

    /// Whether `ctrler`'s current configuration has group `gid` serving a
    /// shard (the course's `checkMember`).
    pub fn is_member(&self, ctrler: &ShardCtrler, gid: Gid) -> bool {
        ctrler.query().is_member(gid)
    }

    /// Joins group `gid` through `ctrler` (the course's `join`): the next
    /// configuration, balanced, then `change_config_to`.
    pub fn join(&self, ctrler: &ShardCtrler, gid: Gid) {
        let mut config = ctrler.query();
        if !config.join_balance([(gid, self.group_names(gid))].into()) {
            self.fail(format!("join: group {gid} is already present in {config}"));
        }
        self.change_config_to(ctrler, &config, &format!("join group {gid}"));
    }

    /// Group `gid` leaves through `ctrler` (the course's `leave`).
    pub fn leave(&self, ctrler: &ShardCtrler, gid: Gid) {
        let mut config = ctrler.query();
        if !config.leave_balance(&[gid]) {
            self.fail(format!(
                "leave: group {gid} is already not present in {config}"
            ));
        }
        self.change_config_to(ctrler, &config, &format!("group {gid} leaves"));
    }

    /// `ctrler.change_config_to(config)`, recorded as `what` as it begins
    /// and when it returns.
    fn change_config_to(&self, ctrler: &ShardCtrler, config: &ShardConfig, what: &str) {
        let num = config.num;
        self.cluster.event(
            EventKind::Configuration,
            format!("{what}: change to configuration {num}"),
        );
        ctrler.change_config_to(config);
        self.cluster.event(
            EventKind::Configuration,
            format!("{what}: change to configuration {num} returned"),
        );
    }

    /// Starts each group of `gids` and joins it, one after the other
    /// (the course's `joinGroups`); `false` as soon as one is not a member
    /// after its join.
    pub fn join_groups(&self, ctrler: &ShardCtrler, gids: &[Gid]) -> bool {
        for &gid in gids {
            self.make_group_start(gid);
            self.join(ctrler, gid);
            if !self.is_member(ctrler, gid) {
                return false;
            }
            thread::sleep(INTER_GROUP_DELAY);
        }
        true
    }

    /// Each group of `gids` leaves, and is shut down and forgotten (the
    /// course's `leaveGroups`); `false` as soon as one is still a member
    /// after its leave.
    pub fn leave_groups(&self, ctrler: &ShardCtrler, gids: &[Gid]) -> bool {
        for &gid in gids {
            self.leave(ctrler, gid);
            if self.is_member(ctrler, gid) {
                return false;
            }
            self.exit_group(gid);
            thread::sleep(INTER_GROUP_DELAY);
        }
        true
    }

    /// [`join_groups`](Config::join_groups), failing the test, naming the
    /// group, if one is not a member after its join.
    pub fn must_join_groups(&self, ctrler: &ShardCtrler, gids: &[Gid]) {
        for &gid in gids {
            if !self.join_groups(ctrler, &[gid]) {
                self.fail(format!(
                    "joinGroups: group {gid} is not a member after its join"
                ));
            }
        }
    }

    /// [`leave_groups`](Config::leave_groups), failing the test, naming
    /// the group, if one is still a member after its leave.
    pub fn must_leave_groups(&self, ctrler: &ShardCtrler, gids: &[Gid]) {
        for &gid in gids {
            if !self.leave_groups(ctrler, &[gid]) {
                self.fail(format!(
                    "leaveGroups: group {gid} is a member after its leave"
                ));
            }
        }
    }

    /// Puts a random 20-character value at version 0 under each of the
    /// keys `k0`..`k{n-1}`, unlogged, then checks each with a logged get
    /// (the course's `SpreadPuts`); the keys and their values.
    pub fn spread_puts(&self, client: &Client<'_>, n: usize) -> (Vec<String>, Vec<String>) {
        self.spread_puts_size(client, n, 20)
    }

    /// [`spread_puts`](Config::spread_puts) with values of `size`
    /// characters (the course's `SpreadPutsSize`).
    pub fn spread_puts_size(
        &self,
        client: &Client<'_>,
        n: usize,
        size: usize,
    ) -> (Vec<String>, Vec<String>) {
        self.spread(client, n, size, false)
    }

    /// [`spread_puts`](Config::spread_puts) with the puts logged too, for a
    /// test whose history is checked: a get of a value no logged put wrote
    /// is not linearizable.
    pub fn spread_puts_logged(&self, client: &Client<'_>, n: usize) -> (Vec<String>, Vec<String>) {
        self.spread(client, n, 20, true)
    }

    fn spread(
        &self,
        client: &Client<'_>,
        n: usize,
        size: usize,
        logged: bool,
    ) -> (Vec<String>, Vec<String>) {
        let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
        let values: Vec<String> = (0..n).map(|_| self.cluster.random_string(size)).collect();
        for (key, value) in keys.iter().zip(&values) {
            // `ErrMaybe` too may have put it: the gets below tell.
            let put = if logged {
                client.put(key, value, 0)
            } else {
                client.clerk.put(key, value, 0)
            };
            if let Err(e @ (Error::NoKey | Error::Version)) = put {
                self.fail(format!(
                    "put({key:?}) at version 0 of a fresh key returned {e}"
                ));
            }
        }
        for (key, value) in keys.iter().zip(&values) {
            client.check_get(key, value, 1);
        }
        (keys, values)
    }

    /// Shuts group `down` down and has a new clerk get each key at once;
    /// every get that completes within 2 s of the last must see its value,
    /// and some must not complete (their keys are on the group that is
    /// down). Restarts the group (the course's `checkShutdownSharding`).
    pub fn check_shutdown_sharding(&self, down: Gid, keys: &[String], values: &[String]) {
        const QUIET: Duration = Duration::from_secs(2);
        /// How long the gets that did not complete may take once the group
        /// is back (the course ignores them; here they must end, as no
        /// thread may outlive the test).
        const LATE: Duration = Duration::from_secs(30);
        self.shutdown_group(down);
        let (report, reports) = labrpc::rt::channel::unbounded::<Option<String>>();
        let mut clients = Vec::new();
        let mut getters = Vec::new();
        for (key, value) in keys.iter().zip(values) {
            let (name, _, clerk) = self.make_clerk();
            clients.push(name);
            let report = report.clone();
            let (key, value) = (key.clone(), value.clone());
            getters.push(thread::spawn(move || {
                let wrong = match clerk.get(&key) {
                    Ok((v, _)) if v == value => None,
                    Ok((v, _)) => Some(format!("Get({key:?}): expected:\n{value}\nreceived:\n{v}")),
                    Err(e) => Some(format!("Get({key:?}): expected:\n{value}\nreceived: {e}")),
                };
                let _ = report.send(wrong);
            }));
        }
        drop(report);
        let mut completed = 0;
        while let Ok(outcome) = reports.recv_timeout(QUIET) {
            if let Some(wrong) = outcome {
                self.fail(wrong);
            }
            completed += 1;
        }
        if completed >= keys.len() {
            self.fail(format!(
                "expected less than {} completions with group {down} down: every key was \
                 read, so another group serves the keys of the shards that the \
                 configuration gives group {down}",
                keys.len()
            ));
        }
        self.start_group(down);
        for _ in completed..keys.len() {
            if reports.recv_timeout(LATE).is_err() {
                self.fail(format!(
                    "{} gets started while group {down} was down did not complete within \
                     {LATE:?} of its restart",
                    keys.len() - completed
                ));
            }
        }
        for getter in getters {
            let _ = getter.join();
        }
        for name in clients {
            self.cluster.net().delete_client(&name);
        }
    }

    /// One controller moves groups in and out until the test cuts it off
    /// half-way; the next controller must finish what it started (the
    /// course's `partitionCtrler`). A controller on a client of its own
    /// joins a new group and has it leave, again and again; after 1 s and
    /// up to 400 ms more, group `gid` is shut down, so that the controller
    /// gets stuck in a change that moves a shard of it (every change does);
    /// 1 s later, and at least 1 s after the controller began the change it
    /// is in, its client is disconnected (with `partition`, 1 s passes
    /// before the group restarts). Then a new controller's `init_controller` must
    /// finish the change: a configuration numbered past the one before,
    /// and the new group a member if and only if the change was its join.
    /// With `partition`, the old controller is reconnected, and must do no
    /// harm. Every key of `keys` must still hold its value at version 1.
    /// Then a third controller finishes whatever change the old one, now
    /// abandoned, was in.
    pub fn partition_ctrler(
        &self,
        client: &Client<'_>,
        gid: Gid,
        keys: &[String],
        values: &[String],
        partition: bool,
    ) {
        const SPREAD_MS: u64 = 400;
        // How long the controller has been in its change, at least, when
        // it is cut off: time to claim the change's number (three calls to
        // the controller's server), so that the next controller has a
        // change to finish. The course cuts it off 1 s after the group's
        // shutdown only, and the change may have begun just before: then
        // nothing of it is posted, and the new group's membership is not
        // what the step says (measured: 92 ms into a leave, seed
        // 11343822653776223730 of `partition_recovery_unreliable_no_clerk_5c`).
        const STUCK: Duration = Duration::from_secs(1);
        let old = self.make_controller();
        old.init();
        let num = self.ctrler().query().num;
        let doing: Mutex<Option<Doing>> = Mutex::new(None);
        let begin = |gid, step| {
            *doing.lock() = Some(Doing {
                gid,
                step,
                since: Instant::now(),
            });
        };
        thread::scope(|s| {
            // Ends the old controller at its next call once this scope's
            // body is done (or fails): it may be stuck for good.
            let _abandon = old.abandon_on_drop();
            s.spawn(|| {
                unless_abandoned(|| {
                    loop {
                        let ngid = self.new_gid();
                        begin(ngid, Step::Join);
                        self.join_groups(old.ctrler(), &[ngid]);
                        if !self.is_member(old.ctrler(), ngid) {
                            // Superseded.
                            return;
                        }
                        begin(ngid, Step::Leave);
                        self.leave_groups(old.ctrler(), &[ngid]);
                    }
                });
            });
            thread::sleep(Duration::from_millis(1000 + self.random(SPREAD_MS)));
            self.shutdown_group(gid);
            thread::sleep(Duration::from_secs(1));
            // With `gid` down the controller cannot finish a change, so
            // the one it is in now is the one it is cut off in.
            let since = doing.lock().map(|d| d.since);
            if let Some(since) = since {
                thread::sleep(STUCK.saturating_sub(since.elapsed()));
            }
            old.connect(false);
            if partition {
                thread::sleep(Duration::from_secs(1));
            }
            self.start_group(gid);
            let new = self.make_controller();
            new.init();
            let recovered = new.ctrler().query();
            if recovered.num <= num {
                self.fail(format!(
                    "didn't recover; expected {} > {num}: a new controller's \
                     init_controller must finish the change the one before it started",
                    recovered.num
                ));
            }
            let Some(Doing {
                gid: ngid, step, ..
            }) = *doing.lock()
            else {
                self.fail("the controller under test never started a change");
            };
            let present = recovered.is_member(ngid);
            if (step == Step::Join) != present {
                self.fail(format!(
                    "didn't recover {ngid} correctly after {step}: the controller was cut off \
                     in the {step} of group {ngid}, and after recovery the group is {}a \
                     member of {recovered}",
                    if present { "" } else { "not " }
                ));
            }
            if step == Step::Join {
                self.leave_groups(new.ctrler(), &[ngid]);
            }
            if partition {
                // The old controller, reconnected, must find that it was
                // superseded, and change nothing.
                old.connect(true);
                thread::sleep(Duration::from_millis(100));
            }
            for (key, value) in keys.iter().zip(values) {
                client.check_get(key, value, 1);
            }
        });
        // The old controller is abandoned wherever it was. Reconnected, it
        // ran on (its change superseded, it starts others, as the
        // course's does), and it may have been cut short half-way through
        // one: a shard frozen at a group the current configuration still
        // gives it. A new controller finishes that change, as one that
        // takes over from a controller that died must; without it, clients
        // that put to that shard (the next round's, or those of
        // `partition_recovery_*_clerks_5c`, which put to every shard)
        // would wait for it for good.
        self.make_controller().init();
    }

    /// Four controllers at once, each on a client of its own, join a new
    /// group and have it leave, again and again, for 2 s; then every key
    /// must still hold its value at version 1 (the course's
    /// `concurCtrler`). A controller that loses a race for a
    /// configuration's number must change nothing; its group runs on,
    /// unused.
    pub fn concur_ctrler(&self, client: &Client<'_>, keys: &[String], values: &[String]) {
        const CONTROLLERS: usize = 4;
        const RUN_TIME: Duration = Duration::from_secs(2);
        let stop = AtomicBool::new(false);
        thread::scope(|s| {
            for _ in 0..CONTROLLERS {
                s.spawn(|| {
                    while !stop.load(Ordering::SeqCst) {
                        let ngid = self.new_gid();
                        let controller = self.make_controller();
                        controller.init();
                        if self.join_groups(controller.ctrler(), &[ngid]) {
                            self.leave_groups(controller.ctrler(), &[ngid]);
                        }
                    }
                });
            }
            thread::sleep(RUN_TIME);
            // Each finishes the round it is in.
            stop.store(true, Ordering::SeqCst);
        });
        for (key, value) in keys.iter().zip(values) {
            client.check_get(key, value, 1);
        }
    }

    /// Runs `clients` clients, each on a client of its own, putting to
    /// `keys` (each put to one picked at random, at the version last read
    /// of it: [`one_client_put_keys`]) while `work` runs, and then until
    /// `run_for` has passed since they started (the workload of the
    /// course's `concurrentClerk` and `partitionRecovery5C`); fails the
    /// test if a client failed.
    pub fn with_put_clients(
        &self,
        clients: usize,
        keys: &[String],
        run_for: Duration,
        work: impl FnOnce() + Send,
    ) {
        let done = AtomicBool::new(false);
        thread::scope(|s| {
            let running: Vec<_> = (0..clients)
                .map(|_| {
                    let done = &done;
                    s.spawn(move || {
                        let pick = |n: usize| self.random(n as u64) as usize;
                        one_client_put_keys(&self.make_client(), keys, pick, done)
                    })
                })
                .collect();
            let t0 = Instant::now();
            work();
            if let Some(rest) = run_for.checked_sub(t0.elapsed()) {
                thread::sleep(rest);
            }
            done.store(true, Ordering::SeqCst);
            for client in running {
                if client.join().is_err() {
                    self.fail("a client failed (its panic is above)");
                }
            }
        });
    }

    /// Sends `args` to group `gid`'s servers in turn, through the
    /// harness's own client, until one answers as a leader (`leads` says
    /// which replies do), and returns that reply; fails the test after
    /// 10 s without one. For the suite's own tests, which reach past the
    /// controller to a group.
    pub fn call_group<Req: Serialize, Rep: DeserializeOwned>(
        &self,
        gid: Gid,
        method: Method<Req, Rep>,
        args: &Req,
        leads: impl Fn(&Rep) -> bool,
    ) -> Rep {
        let deadline = Instant::now() + Duration::from_secs(10);
        let names = self.group_names(gid);
        loop {
            for name in &names {
                if let Ok(reply) = self.harness.end(name).call(method, args)
                    && leads(&reply)
                {
                    return reply;
                }
            }
            if Instant::now() > deadline {
                self.fail(format!(
                    "no server of group {gid} answered {} as a leader for 10 s",
                    method.name()
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Checks every logged operation for linearizability against the
    /// versioned model.
    pub fn check_linearizable(&self) {
        self.log.check(&self.cluster, CHECK_TIME);
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        self.cluster.shut_down(|| {
            let groups = std::mem::take(&mut *self.groups.lock());
            for server in groups.into_values().flatten().flatten() {
                server.kill();
            }
            if let Some(store) = self.store.lock().take() {
                store.kill();
            }
        });
    }
}

impl Client<'_> {
    /// A logged get of `key`, which must return `value` at `version` (the
    /// course's `CheckGet`).
    pub fn check_get(&self, key: &str, value: &str, version: Version) {
        match self.get(key) {
            Ok((v, ver)) if v == value && ver == version => {}
            Ok((v, ver)) => self.config.fail(format!(
                "Get({key:?}): expected:\n{value} (version {version})\nreceived:\n{v} \
                 (version {ver})"
            )),
            Err(e) => self.config.fail(format!(
                "Get({key:?}): expected:\n{value} (version {version})\nreceived: {e}"
            )),
        }
    }
}

impl LoggedClient for Client<'_> {
    type Clerk = Clerk;

    fn clerk(&self) -> &Clerk {
        &self.clerk
    }

    fn id(&self) -> usize {
        self.id
    }

    fn log(&self) -> (&Cluster, &VersionedLog) {
        (&self.config.cluster, &self.config.log)
    }
}

impl Drop for Client<'_> {
    fn drop(&mut self) {
        self.config.cluster.net().delete_client(&self.name);
    }
}

impl Controller<'_> {
    /// The controller.
    pub fn ctrler(&self) -> &ShardCtrler {
        &self.ctrler
    }

    /// Runs the controller's `init_controller` (which finishes a change a
    /// controller before it left half-done), recorded as it begins and
    /// when it returns.
    pub fn init(&self) {
        let cluster = &self.config.cluster;
        cluster.event(
            EventKind::Configuration,
            format!("controller {}: init_controller", self.name),
        );
        self.ctrler.init_controller();
        cluster.event(
            EventKind::Configuration,
            format!("controller {}: init_controller returned", self.name),
        );
    }

    /// A guard that abandons the controller's client when it is dropped
    /// (see [`Network::abandon_client`]): declared in a scope whose
    /// threads run the controller, it ends them before the scope waits for
    /// them, a failing test's included.
    pub fn abandon_on_drop(&self) -> Abandon<'_> {
        Abandon {
            net: self.config.cluster.net(),
            name: &self.name,
        }
    }

    /// Disconnects or reconnects the controller's client (the course's
    /// `DisconnectAll` and `ConnectAll` of a client).
    pub fn connect(&self, connected: bool) {
        let cluster = &self.config.cluster;
        cluster.event(
            EventKind::Network,
            format!(
                "controller {} {}",
                self.name,
                if connected { "reconnected" } else { "cut off" }
            ),
        );
        cluster.net().enable_client(&self.name, connected);
    }
}

impl Drop for Controller<'_> {
    /// Abandons the controller's client (see
    /// [`Network::abandon_client`]): a thread still in one of its calls, an
    /// old controller the test cut off, ends at its next call.
    fn drop(&mut self) {
        self.config.cluster.net().abandon_client(&self.name);
    }
}

/// Abandons a controller's client when dropped (see
/// [`Controller::abandon_on_drop`]).
pub struct Abandon<'a> {
    net: &'a Network,
    name: &'a str,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        self.net.abandon_client(self.name);
    }
}

/// The change the controller that [`Config::partition_ctrler`] interrupts
/// is in: what it does to which group, since when.
#[derive(Clone, Copy, Debug)]
struct Doing {
    gid: Gid,
    step: Step,
    since: Instant,
}

/// What the controller that [`Config::partition_ctrler`] interrupts was
/// doing to its newest group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Join,
    Leave,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Join => "join",
            Step::Leave => "leave",
        })
    }
}

/// Runs `body`, in which an abandoned client's call may end the thread
/// (see [`Network::abandon_client`]); `None` if it did.
fn unless_abandoned<T>(body: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(value) => Some(value),
        Err(payload) if labrpc::rt::sim::is_killed_payload(payload.as_ref()) => None,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}
