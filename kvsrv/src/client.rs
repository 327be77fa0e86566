//! The clerk: the server's client library.

// handout: begin
use labrpc::ClientEnd;
use labrpc::rt::thread;
use labrpc::rt::time::Duration;

use crate::KvClerk;
use crate::rpc::{Error, GET, GetArgs, PUT, PutArgs, Version};

/// How long to wait before re-sending a request that got no reply: the
/// network has already waited out its timeout, and the server is probably
/// unreachable for a while.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
// handout: else
// use labrpc::ClientEnd;
//
// use crate::rpc::{Error, Version};
// use crate::KvClerk;
// handout: end

/// A client of the key/value server: it re-sends each request until a
/// reply comes back.
pub struct Clerk {
    // handout: begin
    server: ClientEnd,
    // handout: else
    // // Your state here (KVSRV).
    // handout: end
}

impl Clerk {
    /// A clerk that reaches the server through `server`.
    pub fn new(server: ClientEnd) -> Clerk {
        // handout: stub KVSRV make a clerk that sends its requests through `server`.
        Clerk { server }
    }
}

impl KvClerk for Clerk {
    fn get(&self, key: &str) -> Result<(String, Version), Error> {
        // handout: stub KVSRV send `rpc::GET` until a reply comes back (`call` returns `Err` when none did), pausing about 100 ms between sends.
        let args = GetArgs {
            key: key.to_owned(),
        };
        loop {
            if let Ok(reply) = self.server.call(GET, &args) {
                return reply;
            }
            thread::sleep(RETRY_PAUSE);
        }
    }

    fn put(&self, key: &str, value: &str, version: Version) -> Result<(), Error> {
        // handout: stub KVSRV send `rpc::PUT` until a reply comes back; `Version` on the first send is `Version`, on a re-send `Maybe` (the first copy may have taken effect).
        let args = PutArgs {
            key: key.to_owned(),
            value: value.to_owned(),
            version,
        };
        let mut first = true;
        loop {
            match self.server.call(PUT, &args) {
                // A refused re-send: its first copy may be what moved the
                // version on, or another client's put was.
                Ok(Err(Error::Version)) if !first => return Err(Error::Maybe),
                Ok(reply) => return reply,
                Err(_) => first = false,
            }
            thread::sleep(RETRY_PAUSE);
        }
    }
}
