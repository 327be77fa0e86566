// handout: begin
//! The server: one map from keys to (value, version) behind one lock.
//!
//! It keeps nothing about its clients: a put is judged by its version
//! alone, which is what makes a retried put safe (the retry finds the
//! version already moved on and is refused) and what leaves the clerk
//! unable to tell a refused retry from a lost race (`ErrMaybe`).
// handout: else
// //! The server: your map from keys to (value, version).
// //!
// //! It must keep nothing about its clients (the memory test checks): a
// //! put is judged by its version alone.
// handout: end

// handout: begin
use std::collections::HashMap;

use labrpc::Service;
use labrpc::rt::sync::{Arc, Mutex};

use crate::rpc::{Error, GET, GetReply, PUT, PutArgs, PutReply, Version};
// handout: else
// use labrpc::Service;
// handout: end

/// The key/value server. Cheap to clone; clones are the same server.
#[derive(Clone)]
pub struct KvServer {
    // handout: begin
    store: Arc<Mutex<HashMap<String, (String, Version)>>>,
    // handout: else
    // // Your state here (KVSRV). Clones must be the same server: keep it
    // // behind an `Arc` (from `labrpc::rt::sync`, with its `Mutex`).
    // handout: end
}

impl Default for KvServer {
    fn default() -> KvServer {
        KvServer::new()
    }
}

impl KvServer {
    /// A server with no keys.
    pub fn new() -> KvServer {
        // handout: stub KVSRV make a server with an empty map from keys to (value, version).
        KvServer {
            store: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The service to register on this server's [`labrpc::Server`]:
    /// `KVServer.Get` and `KVServer.Put` ([`crate::rpc`]).
    pub fn services(&self) -> Vec<Service> {
        // handout: stub KVSRV return a `KVServer` service with handlers for `rpc::GET` and `rpc::PUT`.
        let mut service = Service::new("KVServer");
        let server = self.clone();
        service.handle(GET, move |args| server.get(&args.key));
        let server = self.clone();
        service.handle(PUT, move |args| server.put(args));
        vec![service]
    }

    /// Stops the server. It has no threads of its own, so there is nothing
    /// to stop; the tests call it as they call every server's.
    pub fn kill(&self) {}

    // handout: begin
    fn get(&self, key: &str) -> GetReply {
        self.store.lock().get(key).cloned().ok_or(Error::NoKey)
    }

    /// The course's rules: a matching version (0 for an absent key) takes
    /// effect, and the version goes one up.
    fn put(&self, args: PutArgs) -> PutReply {
        let PutArgs {
            key,
            value,
            version,
        } = args;
        let mut store = self.store.lock();
        match store.get_mut(&key) {
            Some(stored) if stored.1 == version => {
                *stored = (value, version + 1);
                Ok(())
            }
            Some(_) => Err(Error::Version),
            None if version == 0 => {
                store.insert(key, (value, 1));
                Ok(())
            }
            None => Err(Error::NoKey),
        }
    }
    // handout: end
}

// handout: begin
#[cfg(test)]
mod tests {
    use super::*;

    fn put(server: &KvServer, key: &str, value: &str, version: Version) -> PutReply {
        server.put(PutArgs {
            key: key.into(),
            value: value.into(),
            version,
        })
    }

    #[test]
    fn versions_decide_every_put() {
        let server = KvServer::new();
        assert_eq!(server.get("k"), Err(Error::NoKey));
        assert_eq!(put(&server, "k", "a", 1), Err(Error::NoKey));
        assert_eq!(put(&server, "k", "a", 0), Ok(()));
        assert_eq!(server.get("k"), Ok(("a".into(), 1)));
        assert_eq!(put(&server, "k", "b", 0), Err(Error::Version));
        assert_eq!(put(&server, "k", "b", 2), Err(Error::Version));
        assert_eq!(put(&server, "k", "b", 1), Ok(()));
        assert_eq!(server.get("k"), Ok(("b".into(), 2)));
        // A retry of the put that just took effect is refused.
        assert_eq!(put(&server, "k", "b", 1), Err(Error::Version));
    }
}
// handout: end
