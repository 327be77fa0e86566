//! The versioned key/value server's tester (the course's `kvsrv1/test.go`)
//! and the client workload its tests share (the parts of `kvtest1` they
//! use): one [`KvServer`] on an emulated network, clients with ends of
//! their own, every logged operation recorded for the linearizability
//! check against the [versioned model](crate::linearizability::versioned).
//!
//! As the course's, a [`Client`] logs only what goes through its own
//! methods ([`Client::get`], [`Client::put`] and the workload built on
//! them); what a test does through [`Client::clerk`] (the course's direct
//! `ck.Get`/`ck.Put`, and every lock operation) is neither logged nor
//! counted.

use std::fmt;

use kvsrv::{Clerk, Error, KvClerk, KvServer, Version};
use labrpc::rt::sync::Mutex;
use labrpc::rt::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use labrpc::rt::thread;
use labrpc::rt::time::Duration;

use crate::cluster::Cluster;
use crate::linearizability::Budget;
use crate::linearizability::versioned::{
    GetOutcome, PutOutcome, VersionedInput, VersionedKvModel, VersionedOperation, VersionedOutput,
};
use crate::support::Net;

/// The wall time the linearizability check may take. The course gives its
/// racing test 10 s and passes a history it could not decide; here an
/// undecided history fails, and in real time ten clients racing for a
/// second on one key log 130,000 to 190,000 operations (the course's Go,
/// about 22,000), which took the checker 6 s and more than 10 s in two
/// runs of the reference: a minute leaves room on a slower machine.
pub const CHECK_TIME: Duration = Duration::from_secs(60);

/// The one server's index.
const SERVER: usize = 0;

/// `Tester.Ping`: the harness's own method, served beside the student's
/// service, which [`Config::make_warm_client`] calls once on each new end.
const PING: labrpc::Method<(), ()> = labrpc::Method::new("Tester.Ping");

/// One key/value server under test, and its clients. Dropping it kills the
/// server, cleans up the network, and checks that no thread is left behind.
pub struct Config {
    cluster: Cluster,
    server: Mutex<Option<KvServer>>,
    net: Net,
    log: VersionedLog,
    next_client: AtomicU64,
}

/// Every logged operation of a test on a versioned key/value service, for
/// the linearizability check, and how many were logged since the summary
/// counters were last reset, timed on the test's clock
/// ([`Cluster::now`]). Shared by the testers of every service with
/// versioned puts.
pub struct VersionedLog {
    ops: AtomicU64,
    history: Mutex<Vec<VersionedOperation>>,
}

/// A client whose gets and puts are logged: what the workload
/// ([`one_put`], [`one_client_put`]) drives. A tester's client gives its
/// clerk, its number and where it logs; the logged operations follow.
pub trait LoggedClient {
    /// The clerk under test.
    type Clerk: KvClerk;

    /// The clerk, for operations neither logged nor counted.
    fn clerk(&self) -> &Self::Clerk;

    /// The client's number, unique in its test.
    fn id(&self) -> usize;

    /// The test's cluster (its clock, its failure) and the log this
    /// client's operations go to.
    fn log(&self) -> (&Cluster, &VersionedLog);

    /// `get`, logged and counted; a result no service may give (an error
    /// but `ErrNoKey`) fails the test.
    ///
    /// # Errors
    /// [`Error::NoKey`] alone.
    fn get(&self, key: &str) -> Result<(String, Version), Error> {
        let (cluster, log) = self.log();
        log.get(cluster, self.id(), key, || self.clerk().get(key))
    }

    /// `put`, logged and counted; a result no clerk may give fails the
    /// test.
    ///
    /// # Errors
    /// As [`KvClerk::put`].
    fn put(&self, key: &str, value: &str, version: Version) -> Result<(), Error> {
        let (cluster, log) = self.log();
        log.put(cluster, self.id(), (key, value, version), || {
            self.clerk().put(key, value, version)
        })
    }

    /// Fails the test.
    fn fail(&self, message: String) -> ! {
        self.log().0.fail(message)
    }
}

/// A clerk with its own end to the server, which logs what it does through
/// its own methods. Dropping it deletes its end (the course's
/// `DeleteClerk`).
pub struct Client<'a> {
    config: &'a Config,
    clerk: Clerk,
    end: String,
    id: usize,
}

/// What one client of [`spawn_clients_and_wait`] did (the course's
/// `ClntRes`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientResult {
    /// Puts that returned `OK`.
    pub ok: u64,
    /// Puts that returned `ErrMaybe`.
    pub maybe: u64,
}

impl std::ops::AddAssign for ClientResult {
    fn add_assign(&mut self, other: ClientResult) {
        self.ok += other.ok;
        self.maybe += other.maybe;
    }
}

impl Config {
    /// One server, started and connected, on a network that delivers as
    /// `net` says (the course's `MakeTestKV(t, reliable)`).
    pub fn new(net: Net) -> Config {
        let config = Config {
            cluster: Cluster::new(1),
            server: Mutex::new(None),
            net,
            log: VersionedLog::new(),
            next_client: AtomicU64::new(0),
        };
        let server = config.cluster.on_server(SERVER, KvServer::new);
        let mut ping = labrpc::Service::new("Tester");
        ping.handle(PING, |()| ());
        config
            .cluster
            .serve(SERVER, server.services().into_iter().chain([ping]));
        *config.server.lock() = Some(server);
        net.apply_to(&config.cluster);
        config
    }

    /// Fails the test: `message`, then how to replay it.
    #[track_caller]
    pub fn fail(&self, message: impl fmt::Display) -> ! {
        self.cluster.fail(message)
    }

    /// Prints the test's title with its network (the course's `Begin`:
    /// `Test: ... (reliable network)...`) and starts its summary counters.
    pub fn begin(&self, description: &str) {
        self.cluster
            .begin(&format!("{description} ({} network)", self.net.name()));
        self.log.reset_ops();
    }

    /// Checks the time limit, then prints the course's summary line:
    /// seconds, servers, RPCs, logged operations.
    pub fn end(&self) {
        self.cluster.passed(1, self.log.ops());
    }

    /// A random string of `len` letters and digits, from the test's seeded
    /// generator (the course's `RandValue`).
    pub fn random_string(&self, len: usize) -> String {
        self.cluster.random_string(len)
    }

    /// A new client, its end enabled and connected to the server.
    pub fn make_client(&self) -> Client<'_> {
        self.client(false)
    }

    /// [`make_client`](Config::make_client), with one call made on the
    /// client's end (to the harness's own `Tester.Ping`, which the server
    /// does not see) before the clerk gets it: whatever the network and its
    /// channels allocate for an end on its first call then exists already,
    /// and what the process allocates later is the server's or the
    /// clerk's. On a reliable network.
    pub fn make_warm_client(&self) -> Client<'_> {
        self.client(true)
    }

    fn client(&self, warm: bool) -> Client<'_> {
        let (mut names, mut ends) = self.cluster.client_ends();
        let (end, clerk_end) = (names.remove(SERVER), ends.remove(SERVER));
        self.cluster.net().enable(&end, true);
        if warm && clerk_end.call(PING, &()).is_err() {
            self.fail(format!(
                "the harness's call on a new client's end {end} got no reply on a reliable \
                 network"
            ));
        }
        Client {
            config: self,
            clerk: Clerk::new(clerk_end),
            end,
            id: self.next_client.fetch_add(1, Ordering::Relaxed) as usize,
        }
    }

    /// Checks every logged operation for linearizability against the
    /// versioned model (see [`Cluster::check_linearizable`]), within
    /// [`CHECK_TIME`].
    pub fn check_linearizable(&self) {
        self.log.check(&self.cluster, CHECK_TIME);
    }
}

impl Default for VersionedLog {
    fn default() -> VersionedLog {
        VersionedLog::new()
    }
}

impl VersionedLog {
    /// An empty log.
    pub fn new() -> VersionedLog {
        VersionedLog {
            ops: AtomicU64::new(0),
            history: Mutex::new(Vec::new()),
        }
    }

    /// Operations logged since the last [`reset_ops`](VersionedLog::reset_ops).
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }

    /// Starts counting operations from 0 (the history is kept).
    pub fn reset_ops(&self) {
        self.ops.store(0, Ordering::SeqCst);
    }

    /// Checks every operation logged so far (the whole history, as the
    /// course's: it is never cleared) against the versioned model within
    /// `time` of wall time (see [`Cluster::check_linearizable`]).
    pub fn check(&self, cluster: &Cluster, time: Duration) {
        let history = self.history.lock();
        let budget = Budget {
            time,
            ..Budget::default()
        };
        cluster.check_linearizable(&VersionedKvModel, &history, budget, None);
    }

    /// Runs `get` as client `client`'s get of `key`, and logs it; a result
    /// no service may give (an error but `ErrNoKey`) fails the test.
    pub fn get(
        &self,
        cluster: &Cluster,
        client: usize,
        key: &str,
        get: impl FnOnce() -> Result<(String, Version), Error>,
    ) -> Result<(String, Version), Error> {
        let call = cluster.now();
        let result = get();
        let output = match &result {
            Ok((value, version)) => VersionedOutput::Get {
                value: value.clone(),
                version: *version,
                outcome: GetOutcome::Ok,
            },
            Err(Error::NoKey) => VersionedOutput::Get {
                value: String::new(),
                version: 0,
                outcome: GetOutcome::NoKey,
            },
            Err(e) => cluster.fail(format!(
                "get({key:?}) returned {e}; a get may only return ErrNoKey"
            )),
        };
        self.log(
            cluster,
            client,
            call,
            VersionedInput::Get { key: key.into() },
            output,
        );
        result
    }

    /// Runs `put` as client `client`'s put of `value` at `version` to
    /// `key`, and logs it; a result no clerk may give fails the test.
    pub fn put(
        &self,
        cluster: &Cluster,
        client: usize,
        (key, value, version): (&str, &str, Version),
        put: impl FnOnce() -> Result<(), Error>,
    ) -> Result<(), Error> {
        let call = cluster.now();
        let result = put();
        let outcome = match result {
            Ok(()) => PutOutcome::Ok,
            Err(Error::Version) => PutOutcome::Version,
            Err(Error::Maybe) => PutOutcome::Maybe,
            Err(Error::NoKey) => PutOutcome::NoKey,
            Err(e) => cluster.fail(format!(
                "put({key:?}, {version}) returned {e}, which a clerk must not return: it \
                 retries until the service answers"
            )),
        };
        let input = VersionedInput::Put {
            key: key.into(),
            value: value.into(),
            version,
        };
        self.log(cluster, client, call, input, VersionedOutput::Put(outcome));
        result
    }

    fn log(
        &self,
        cluster: &Cluster,
        client: usize,
        call: u64,
        input: VersionedInput,
        output: VersionedOutput,
    ) {
        self.ops.fetch_add(1, Ordering::SeqCst);
        let ret = cluster.now();
        self.history.lock().push(VersionedOperation {
            client,
            input,
            call,
            output,
            ret,
        });
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        self.cluster.shut_down(|| {
            if let Some(server) = self.server.lock().take() {
                server.kill();
            }
        });
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
        self.config.cluster.net().delete_end(&self.end);
    }
}

/// The value client `client` puts at `version` in the workload (the
/// course's JSON `EntryV{Id, V}`, as text).
pub fn entry(client: usize, version: Version) -> String {
    format!("{client} {version}")
}

/// The client and version of a value [`entry`] wrote.
pub fn parse_entry(value: &str) -> Option<(usize, Version)> {
    let (client, version) = value.split_once(' ')?;
    Some((client.parse().ok()?, version.parse().ok()?))
}

/// Runs `clients` clients at once for `duration`, each with a client of its
/// own running `body(client, done)` until `done` is raised, which `body`
/// must check between operations; returns what each returned, in order (the
/// course's `SpawnClientsAndWait`). The clients' ends are deleted after.
pub fn spawn_clients_and_wait<T: Send>(
    cfg: &Config,
    clients: usize,
    duration: Duration,
    body: impl Fn(&Client<'_>, &AtomicBool) -> T + Sync,
) -> Vec<T> {
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let running: Vec<_> = (0..clients)
            .map(|_| {
                let (done, body) = (&done, &body);
                s.spawn(move || body(&cfg.make_client(), done))
            })
            .collect();
        thread::sleep(duration);
        done.store(true, Ordering::SeqCst);
        running
            .into_iter()
            .map(|client| match client.join() {
                Ok(result) => result,
                Err(_) => cfg.fail("a client failed (its panic is above)"),
            })
            .collect()
    })
}

/// One put of the workload, as the course's `OnePut`: puts
/// [`entry`]`(me, version)` at `version` and reads the key back, until a
/// put returns `OK` or `ErrMaybe`; returns that result and the version the
/// last read saw. Fails the test on a result no clerk may give, and when
/// a read after an `OK` put sees the put's version with another client's
/// value.
pub fn one_put(
    client: &impl LoggedClient,
    key: &str,
    mut version: Version,
) -> (Result<(), Error>, Version) {
    let me = client.id();
    loop {
        let put = client.put(key, &entry(me, version), version);
        if !matches!(put, Ok(()) | Err(Error::Version | Error::Maybe)) {
            client.fail(format!(
                "Wrong error {put:?}: a put at version {version} of key {key:?}"
            ));
        }
        let (value, read) = match client.get(key) {
            Ok(got) => got,
            Err(e) => client.fail(format!("get({key:?}) after a put returned {e}")),
        };
        let Some((writer, written)) = parse_entry(&value) else {
            client.fail(format!(
                "get({key:?}) returned {value:?}, which no client put"
            ));
        };
        // Stricter than the course's, whose check is an AND of the two.
        if put.is_ok() && read == version + 1 && (writer, written) != (me, version) {
            client.fail(format!(
                "Wrong value {value:?}: client {me}'s put at version {version} returned OK, \
                 and version {read} holds another put's value"
            ));
        }
        version = read;
        if matches!(put, Ok(()) | Err(Error::Maybe)) {
            return (put, version);
        }
    }
}

/// One client of the concurrent put workload (the course's
/// `OneClientPut`): [`one_put`]s on `key` until `done`, counting those
/// that returned `OK` and those that returned `ErrMaybe`.
pub fn one_client_put(client: &impl LoggedClient, key: &str, done: &AtomicBool) -> ClientResult {
    let mut result = ClientResult::default();
    let mut version = 0;
    while !done.load(Ordering::SeqCst) {
        let (put, read) = one_put(client, key, version);
        version = read;
        match put {
            Ok(()) => result.ok += 1,
            _ => result.maybe += 1,
        }
    }
    result
}

/// [`one_client_put`] over several keys (the course's `OneClientPut` of a
/// test with random keys): each [`one_put`] goes to `keys[pick(n)]`, with
/// `n` the number of keys, at the version last read of that key.
pub fn one_client_put_keys(
    client: &impl LoggedClient,
    keys: &[String],
    pick: impl Fn(usize) -> usize,
    done: &AtomicBool,
) -> ClientResult {
    let mut result = ClientResult::default();
    let mut versions = vec![0; keys.len()];
    while !done.load(Ordering::SeqCst) {
        let i = pick(keys.len());
        let (put, read) = one_put(client, &keys[i], versions[i]);
        versions[i] = read;
        match put {
            Ok(()) => result.ok += 1,
            _ => result.maybe += 1,
        }
    }
    result
}

/// Adds the clients' `results` into `total` and checks the key's version
/// against them (the course's `CheckPutConcurrent`): on a reliable network
/// every put that took effect returned `OK`, so the version is their
/// number; otherwise it is at most the `OK`s and `ErrMaybe`s together.
pub fn check_put_concurrent(
    cfg: &Config,
    client: &Client<'_>,
    key: &str,
    results: &[ClientResult],
    total: &mut ClientResult,
) {
    for &result in results {
        *total += result;
    }
    let version = match client.get(key) {
        Ok((_, version)) => version,
        Err(e) => cfg.fail(format!("get({key:?}) after the clients' puts returned {e}")),
    };
    let counts: Vec<String> = results
        .iter()
        .map(|r| format!("{}+{}", r.ok, r.maybe))
        .collect();
    match cfg.net {
        Net::Reliable if version != total.ok => cfg.fail(format!(
            "Reliable: Wrong number of puts: server {version} clnts {} (OK+ErrMaybe per \
             client: {}): on a reliable network every put that took effect returns OK",
            total.ok,
            counts.join(" ")
        )),
        Net::Unreliable if version > total.ok + total.maybe => cfg.fail(format!(
            "Unreliable: Wrong number of puts: server {version} clnts {}+{} (OK+ErrMaybe \
             per client: {}): more puts took effect than returned OK or ErrMaybe",
            total.ok,
            total.maybe,
            counts.join(" ")
        )),
        _ => {}
    }
}
