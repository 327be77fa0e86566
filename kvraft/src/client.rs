//! The clerk: the client library of the key/value service.

// handout: begin
use labrpc::rt::thread;
use labrpc::rt::time::Duration;
use labrpc::{ClientEnd, Method};
use serde::Serialize;

use crate::rpc::{GET, GetArgs, OpId, PUT_APPEND, PutAppendArgs, PutOrAppend, Reply};

/// After asking every server in turn without success, wait this long before
/// the next round: an election is probably under way, and asking again at
/// once would only burn CPU.
const ROUND_PAUSE: Duration = Duration::from_millis(50);
// handout: else
// use labrpc::ClientEnd;
// handout: end

/// A client of the key/value service. Each operation retries, server after
/// server, until one executes it, and executes exactly once.
pub struct Clerk {
    // handout: begin
    servers: Vec<ClientEnd>,
    /// The server that answered last: probably the leader.
    leader: usize,
    client: u64,
    seq: u64,
    // handout: else
    // // Your state here (3A).
    // handout: end
}

impl Clerk {
    /// A clerk that reaches the servers through `servers`.
    pub fn new(servers: Vec<ClientEnd>) -> Clerk {
        // handout: stub 3A make a clerk; it may remember which server led last time, and needs an id for exactly-once execution.
        assert!(!servers.is_empty(), "a clerk needs at least one server");
        Clerk {
            servers,
            leader: 0,
            client: labrpc::rt::rand::random(),
            seq: 0,
        }
    }

    /// The value of `key`, or "" if it has none.
    pub fn get(&mut self, key: &str) -> String {
        // handout: stub 3A ask the servers until one (the leader) returns the value; keep trying forever.
        let id = self.next_id();
        self.until_done(
            GET,
            &GetArgs {
                key: key.to_owned(),
                id,
            },
        )
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: &str, value: &str) {
        // handout: stub 3A as get, with a PutAppend that must execute exactly once however often it is retried.
        self.put_append(key, value, PutOrAppend::Put);
    }

    /// Appends `value` to `key`'s value (an absent key counts as "").
    pub fn append(&mut self, key: &str, value: &str) {
        // handout: stub 3A as put, appending.
        self.put_append(key, value, PutOrAppend::Append);
    }

    // handout: begin
    fn put_append(&mut self, key: &str, value: &str, kind: PutOrAppend) {
        let id = self.next_id();
        self.until_done(
            PUT_APPEND,
            &PutAppendArgs {
                key: key.to_owned(),
                value: value.to_owned(),
                kind,
                id,
            },
        );
    }

    fn next_id(&mut self) -> OpId {
        self.seq += 1;
        OpId {
            client: self.client,
            seq: self.seq,
        }
    }

    /// Sends the request to the likely leader, then to each server in turn,
    /// until one carries it out; the same id every time, so it executes once.
    fn until_done<Req: Serialize>(&mut self, method: Method<Req, Reply>, args: &Req) -> String {
        loop {
            for offset in 0..self.servers.len() {
                let server = (self.leader + offset) % self.servers.len();
                if let Ok(Reply::Ok(value)) = self.servers[server].call(method, args) {
                    self.leader = server;
                    return value;
                }
            }
            thread::sleep(ROUND_PAUSE);
        }
    }
    // handout: end
}
