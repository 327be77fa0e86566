//! The key/value tester: a group of [`KvServer`]s on an emulated network,
//! clerks with their own ends, partitions, crash and restart with persister
//! copies (the course's kvraft `config.go`), and a recorder of every clerk
//! operation for the linearizability check.

use std::fmt;

use kvraft::{Clerk, KvServer};
use labrpc::lab::Part;
use labrpc::rt::sync::Mutex;
use labrpc::rt::sync::atomic::{AtomicU64, Ordering};
use rand::seq::SliceRandom;

use crate::cluster::Cluster;
use crate::linearizability::html::EventKind;
use crate::linearizability::kv::{KvInput, KvOperation, KvOutput, SeenValues, format_history};
use crate::support::Net;

/// The key of the harness's persistence probe, which [`Config::new`] runs
/// before each 3A and 3B test; no test uses it.
pub const PROBE_KEY: &str = "~";

/// The length of the probe's value: letters and digits drawn at random, 62
/// to choose from, so each carries log2(62) ≈ 5.95 random bits.
pub const PROBE_LEN: usize = 64;

/// The random bytes the probe's value carries: [`PROBE_LEN`] × log2(62)
/// bits, rounded down.
const PROBE_RANDOM_BYTES: usize = PROBE_LEN * 5954 / 8000;

/// A group of key/value servers under test. Dropping it kills every server,
/// cleans up the network, and checks that no thread is left behind.
pub struct Config {
    cluster: Cluster,
    max_raft_state: Option<usize>,
    servers: Mutex<Vec<Option<KvServer>>>,
    /// Clerk operations since `begin`.
    ops: AtomicU64,
    /// Every operation recorded through [`Client`]s.
    history: Mutex<Vec<KvOperation>>,
    /// The next client's id.
    next_client: AtomicU64,
}

/// A clerk with the ends the tester made for it, which it can connect and
/// disconnect, and which records each operation for the linearizability
/// check.
pub struct Client<'a> {
    config: &'a Config,
    clerk: Clerk,
    links: Links<'a>,
    id: usize,
    /// The last value this client's `get` returned for each key, as text
    /// and as recorded: a value that only grew since is recorded as that
    /// one extended, which keeps the history's memory linear in what was
    /// appended rather than in what was read.
    last_gets: SeenValues,
}

/// A clerk's ends, to connect and disconnect while the clerk is busy.
#[derive(Clone)]
pub struct Links<'a> {
    config: &'a Config,
    /// `end_names[j]`: the end to server j.
    end_names: Vec<String>,
}

impl Config {
    /// `n` servers, all started and connected, on a network that delivers
    /// as `net` says, each snapshotting near `max_raft_state` bytes of Raft
    /// state if given. The course's `make_config(t, n, unreliable,
    /// maxraftstate)`; in parts 3A and 3B, then the harness's persistence
    /// probe (see [`PROBE_KEY`]), before the network turns unreliable.
    pub fn new(n: usize, net: Net, max_raft_state: Option<usize>) -> Config {
        let config = Config {
            cluster: Cluster::new(n),
            max_raft_state,
            servers: Mutex::new((0..n).map(|_| None).collect()),
            ops: AtomicU64::new(0),
            history: Mutex::new(Vec::new()),
            next_client: AtomicU64::new(0),
        };
        for i in 0..n {
            config.start_server(i);
        }
        config.connect_all();
        let part = config.cluster.session().part().map(Part::name);
        if matches!(part, Some("3a" | "3b")) {
            config.probe_persistence();
        }
        // As the course's: the servers start on a reliable network.
        net.apply_to(&config.cluster);
        config
    }

    /// The harness's check, beyond the course's, that the servers persist
    /// what they commit: a clerk of the harness's own puts [`PROBE_LEN`]
    /// random letters and digits under [`PROBE_KEY`], and once the put has
    /// returned (so it is committed), the servers' persisters together must
    /// be able to hold its random bytes on a majority (see
    /// [`Cluster::check_persisted`] for the bound and why every correct
    /// solution meets it: the put is in a majority's Raft logs, or in
    /// snapshots of the state that holds the value). Then the clerk puts
    /// the empty string there, so that the value weighs on no later size
    /// check; what stays is one key and one more client for the duplicate
    /// table, a few tens of bytes of a snapshot. Runs once, as the test's
    /// group starts, on a reliable network, and counts in no summary.
    fn probe_persistence(&self) {
        let (names, ends) = self.cluster.harness_client_ends();
        for name in &names {
            self.cluster.net().enable(name, true);
        }
        let value = crate::cluster::random_string(self.cluster.checks_rng(), PROBE_LEN);
        // A student whose put never returns sees the time limit's report;
        // the log says where the test was.
        self.cluster.event(
            EventKind::Test,
            format!("persistence probe: put {PROBE_LEN} random characters to {PROBE_KEY:?}"),
        );
        let mut clerk = Clerk::new(ends);
        clerk.put(PROBE_KEY, &value);
        self.cluster.check_persisted(
            PROBE_RANDOM_BYTES,
            &format!(
                "the harness's put of {PROBE_LEN} random letters and digits to key {PROBE_KEY:?}"
            ),
        );
        clerk.put(PROBE_KEY, "");
        self.cluster
            .event(EventKind::Test, "persistence probe: done".into());
        drop(clerk);
        for name in &names {
            self.cluster.net().delete_end(name);
        }
    }

    /// The number of servers.
    pub fn n(&self) -> usize {
        self.cluster.n()
    }

    /// A random number in `0..bound`, from the test's seeded generator.
    pub fn random(&self, bound: u64) -> u64 {
        self.cluster.random(bound)
    }

    /// Fails the test: `message`, then how to replay the network.
    #[track_caller]
    pub fn fail(&self, message: impl fmt::Display) -> ! {
        self.cluster.fail(message)
    }

    /// Prints the test's title and starts its summary counters.
    pub fn begin(&self, description: &str) {
        self.cluster.begin(description);
        self.ops.store(0, Ordering::SeqCst);
    }

    /// Checks the time limit, then prints the course's summary line:
    /// seconds, servers, RPCs, clerk operations.
    pub fn end(&self) {
        self.cluster
            .passed(self.cluster.n(), self.ops.load(Ordering::SeqCst));
    }

    /// Links server `i` with each server in `to`, both ways.
    pub fn connect(&self, i: usize, to: &[usize]) {
        for &j in to {
            self.cluster.set_link(i, j, true);
            self.cluster.set_link(j, i, true);
        }
    }

    /// Cuts server `i` off from each server in `from`, both ways.
    pub fn disconnect(&self, i: usize, from: &[usize]) {
        for &j in from {
            self.cluster.set_link(i, j, false);
            self.cluster.set_link(j, i, false);
        }
    }

    /// Every server's index.
    pub fn all(&self) -> Vec<usize> {
        self.cluster.all()
    }

    /// Links every server with every other.
    pub fn connect_all(&self) {
        self.cluster.event(EventKind::Network, "connect all".into());
        for i in 0..self.cluster.n() {
            self.connect(i, &self.all());
        }
    }

    /// Two partitions, each connected within and cut off from the other.
    pub fn partition(&self, p1: &[usize], p2: &[usize]) {
        self.cluster
            .event(EventKind::Network, format!("partition {p1:?} | {p2:?}"));
        for &i in p1 {
            self.disconnect(i, p2);
            self.connect(i, p1);
        }
        for &i in p2 {
            self.disconnect(i, p1);
            self.connect(i, p2);
        }
    }

    /// Splits the servers into a majority and a minority, with the current
    /// leader (if any) last in the minority.
    pub fn make_partition(&self) -> (Vec<usize>, Vec<usize>) {
        let leader = self.leader().unwrap_or(0);
        let mut others: Vec<usize> = (0..self.cluster.n()).filter(|&i| i != leader).collect();
        let p2_rest = others.split_off(self.cluster.n() / 2 + 1);
        let mut p2 = p2_rest;
        p2.push(leader);
        (others, p2)
    }

    /// A server that believes it leads.
    pub fn leader(&self) -> Option<usize> {
        let servers = self.servers.lock();
        (0..self.cluster.n()).find(|&i| servers[i].as_ref().is_some_and(|s| s.raft().state().1))
    }

    /// Shuts server `i` down: cut off, its server deleted (so no reply it
    /// sends later is delivered), a copy of what it persisted kept, killed.
    pub fn shutdown_server(&self, i: usize) {
        self.cluster
            .event(EventKind::Servers, format!("shut down S{i}"));
        self.disconnect(i, &self.all());
        self.cluster.crash(i, || {
            let server = self.servers.lock()[i].take();
            let Some(server) = server else {
                return false;
            };
            server.kill();
            true
        });
    }

    /// Starts server `i` from what it last persisted, with fresh ends; it is
    /// not connected to anyone yet.
    pub fn start_server(&self, i: usize) {
        self.cluster
            .event(EventKind::Servers, format!("start S{i}"));
        let (ends, persister) = self.cluster.restart_inputs(i);
        let kv = self
            .cluster
            .on_server(i, || KvServer::new(ends, i, persister, self.max_raft_state));
        self.cluster.serve(i, kv.services());
        self.servers.lock()[i] = Some(kv);
    }

    /// The largest saved Raft state among the servers, in bytes.
    pub fn log_size(&self) -> usize {
        self.cluster.log_size()
    }

    /// The largest saved snapshot among the servers, in bytes.
    pub fn snapshot_size(&self) -> usize {
        self.cluster.snapshot_size()
    }

    /// A clerk with ends to every server, in shuffled order, of which only
    /// those to the servers in `to` are enabled.
    pub fn make_client(&self, to: &[usize]) -> Client<'_> {
        let (end_names, mut ends) = self.cluster.client_ends();
        ends.shuffle(&mut *self.cluster.rng().lock());
        let client = Client {
            config: self,
            clerk: Clerk::new(ends),
            links: Links {
                config: self,
                end_names,
            },
            id: self.next_client.fetch_add(1, Ordering::Relaxed) as usize,
            last_gets: SeenValues::default(),
        };
        client.links.connect(to);
        client
    }

    /// Checks every recorded operation for linearizability (see
    /// [`Cluster::check_linearizable`]); the history is saved on failure
    /// in the text `check-history` reads.
    pub fn check_linearizable(&self) {
        let history = std::mem::take(&mut *self.history.lock());
        self.cluster.check_linearizable(
            &crate::linearizability::kv::KvModel,
            &history,
            crate::linearizability::Budget::default(),
            Some(format_history),
        );
    }

    fn record(&self, op: KvOperation) {
        self.history.lock().push(op);
    }

    fn now(&self) -> u64 {
        self.cluster.now()
    }
}

impl Drop for Config {
    /// The course's cleanup: kill every server and shut the network. Then,
    /// ours: every thread the test started must have exited.
    fn drop(&mut self) {
        self.cluster.shut_down(|| {
            let servers: Vec<KvServer> = self
                .servers
                .lock()
                .iter_mut()
                .filter_map(Option::take)
                .collect();
            for server in servers {
                server.kill();
            }
        });
    }
}

impl Links<'_> {
    /// Enables the clerk's ends to the servers in `to`.
    pub fn connect(&self, to: &[usize]) {
        for &j in to {
            self.config.cluster.net().enable(&self.end_names[j], true);
        }
    }

    /// Disables the clerk's ends to the servers in `from`.
    pub fn disconnect(&self, from: &[usize]) {
        for &j in from {
            self.config.cluster.net().enable(&self.end_names[j], false);
        }
    }
}

impl<'a> Client<'a> {
    /// The clerk's ends, to connect or disconnect even while it is busy.
    pub fn links(&self) -> Links<'a> {
        self.links.clone()
    }

    /// The clerk itself, for operations that are neither counted nor
    /// recorded (the speed tests').
    pub fn clerk_mut(&mut self) -> &mut Clerk {
        &mut self.clerk
    }

    /// `get`, counted and recorded.
    pub fn get(&mut self, key: &str) -> String {
        let call = self.config.now();
        let value = self.clerk.get(key);
        let recorded = self.last_gets.record(key, value.clone());
        self.finish(
            call,
            KvInput::Get { key: key.into() },
            KvOutput::Value(recorded),
        );
        value
    }

    /// `put`, counted and recorded.
    pub fn put(&mut self, key: &str, value: &str) {
        let call = self.config.now();
        self.clerk.put(key, value);
        let input = KvInput::Put {
            key: key.into(),
            value: value.into(),
        };
        self.finish(call, input, KvOutput::Done);
    }

    /// `append`, counted and recorded.
    pub fn append(&mut self, key: &str, value: &str) {
        let call = self.config.now();
        self.clerk.append(key, value);
        let input = KvInput::Append {
            key: key.into(),
            value: value.into(),
        };
        self.finish(call, input, KvOutput::Done);
    }

    fn finish(&self, call: u64, input: KvInput, output: KvOutput) {
        self.config.ops.fetch_add(1, Ordering::SeqCst);
        self.config.record(KvOperation {
            client: self.id,
            input,
            call,
            output,
            ret: self.config.now(),
        });
    }
}

/// The value client `client` appends as its `j`th element in the generic
/// tests.
pub fn element(client: usize, j: usize) -> String {
    format!("x {client} {j} y")
}

/// Whether `value` holds client `client`'s first `count` elements, each
/// once, in order (the course's check); if not, what is wrong. One pass
/// over `value`: an element can only match where one begins, since `x`
/// starts every element and occurs nowhere else in one.
pub fn appends_in_order(client: usize, value: &str, count: usize) -> Result<(), String> {
    let mut offsets: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (off, _) in value.match_indices('x') {
        if let Some((c, j)) = parse_element(&value[off..])
            && c == client
            && j < count
        {
            offsets[j].push(off);
        }
    }
    let mut last = None;
    for (j, found) in offsets.iter().enumerate() {
        let wanted = element(client, j);
        match found.as_slice() {
            [] => {
                return Err(format!(
                    "{client} missing element {wanted:?} in Append result {}",
                    shown(value)
                ));
            }
            [off] if last.is_some_and(|last| *off <= last) => {
                return Err(format!(
                    "wrong order for element {wanted:?} in Append result {}",
                    shown(value)
                ));
            }
            [off] => last = Some(*off),
            _ => {
                return Err(format!(
                    "duplicate element {wanted:?} in Append result {}",
                    shown(value)
                ));
            }
        }
    }
    Ok(())
}

/// How `got` differs from `wanted`, for a failure message: both lengths,
/// how far they agree, and a few characters of each around the first
/// difference (a value the tests build by appending is long, and two
/// copies of it side by side hide where they part).
pub fn difference(wanted: &str, got: &str) -> String {
    const AROUND: usize = 24;
    let wanted: Vec<char> = wanted.chars().collect();
    let got: Vec<char> = got.chars().collect();
    let same = wanted.iter().zip(&got).take_while(|(w, g)| w == g).count();
    let from = same.saturating_sub(AROUND);
    let excerpt = |text: &[char]| {
        let to = text.len().min(same + AROUND);
        let middle: String = text[from..to].iter().collect();
        format!(
            "{}{middle:?}{}",
            if from > 0 { "…" } else { "" },
            if to < text.len() { "…" } else { " (the end)" }
        )
    };
    format!(
        "wanted {} characters, got {}, the same for the first {same}; \
         from character {from}, wanted {}, got {}",
        wanted.len(),
        got.len(),
        excerpt(&wanted),
        excerpt(&got)
    )
}

/// `value` for a failure message: whole if short, else its two ends and
/// its length.
fn shown(value: &str) -> String {
    const ENDS: usize = 40;
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 3 * ENDS {
        return format!("{value:?}");
    }
    let head: String = chars[..ENDS].iter().collect();
    let tail: String = chars[chars.len() - ENDS..].iter().collect();
    format!("{head:?}…{tail:?} ({} characters)", chars.len())
}

/// The client and number of the element `text` starts with, if it starts
/// with one as [`element`] writes them (digits, no leading zero).
fn parse_element(text: &str) -> Option<(usize, usize)> {
    let rest = text.strip_prefix("x ")?;
    let (client, rest) = rest.split_once(' ')?;
    let (j, _) = rest.split_once(" y")?;
    let is_number = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    if !is_number(client) || !is_number(j) {
        return None;
    }
    Some((client.parse().ok()?, j.parse().ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_difference_says_where_two_values_part() {
        let wanted: String = (0..100).map(|j| super::element(0, j)).collect();
        let mut got = wanted.clone();
        got.push_str(&super::element(0, 99));
        let said = super::difference(&wanted, &got);
        assert!(
            said.starts_with(&format!(
                "wanted {} characters, got {}, the same for the first {}; ",
                wanted.len(),
                got.len(),
                wanted.len()
            )),
            "{said}"
        );
        assert!(said.contains("0 99 y\" (the end), got …"), "{said}");
        assert!(
            said.len() < 200,
            "short whatever the values' length: {said}"
        );
        assert_eq!(
            super::difference("ab", "ax"),
            "wanted 2 characters, got 2, the same for the first 1; from character 0, \
             wanted \"ab\" (the end), got \"ax\" (the end)"
        );
    }

    use super::*;

    fn elements(client: usize, js: &[usize]) -> String {
        js.iter().map(|&j| element(client, j)).collect()
    }

    #[test]
    fn complete_ordered_appends_pass() {
        assert_eq!(appends_in_order(3, &elements(3, &[0, 1, 2]), 3), Ok(()));
        // Elements past `count` and other clients' elements do not matter.
        let mixed = elements(3, &[0]) + &elements(13, &[1]) + &elements(3, &[1, 2]);
        assert_eq!(appends_in_order(3, &mixed, 2), Ok(()));
        assert_eq!(appends_in_order(0, "", 0), Ok(()));
    }

    #[test]
    fn missing_duplicate_and_misordered_appends_fail() {
        let missing = appends_in_order(1, &elements(1, &[0, 2]), 3).unwrap_err();
        assert!(missing.contains("missing element \"x 1 1 y\""), "{missing}");
        let twice = appends_in_order(1, &elements(1, &[0, 1, 1, 2]), 3).unwrap_err();
        assert!(twice.contains("duplicate element \"x 1 1 y\""), "{twice}");
        let swapped = appends_in_order(1, &elements(1, &[1, 0]), 2).unwrap_err();
        assert!(
            swapped.contains("wrong order for element \"x 1 1 y\""),
            "{swapped}"
        );
    }

    #[test]
    fn only_whole_elements_count() {
        // "x 1 1 y" appears inside neither "x 11 1 y" nor "x 1 01 y".
        let lookalikes = elements(1, &[0]) + "x 11 1 yx 1 01 y";
        let error = appends_in_order(1, &lookalikes, 2).unwrap_err();
        assert!(error.contains("missing element \"x 1 1 y\""), "{error}");
    }
}
