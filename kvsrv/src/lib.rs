//! A key/value server with versioned puts (part KVSRV), and a lock built on
//! its clerk (part KVLOCK): the course's `kvsrv1` lab, 2025 on.
//!
//! One [`KvServer`] keeps, for each key, a value and a version: how many
//! puts have taken effect on it. A `put` names the version it expects and
//! takes effect only if the key has it, so a client can tell whether its
//! write won a race. A [`Clerk`] reaches the server over an unreliable
//! network and retries until it hears back; because the server keeps no
//! table of clients, a retried put can only be judged by its version, and
//! the clerk reports [`Error::Maybe`] when it cannot know whether its first
//! copy took effect. A [`Lock`] is mutual exclusion built from nothing but
//! a clerk's `get` and `put`.
//!
//! The RPCs and the error values ([`rpc`]) and the [`KvClerk`] interface
//! are given; the later services (the replicated state machine, the sharded
//! store) return the same [`Error`].
//!
//! Modules: `server` ([`KvServer`]), `client` ([`Clerk`]), `lock`
//! ([`Lock`]), [`rpc`] (the methods, their arguments and replies).

mod client;
mod lock;
pub mod rpc;
mod server;

pub use crate::client::Clerk;
pub use crate::lock::Lock;
pub use crate::rpc::{Error, Version};
pub use crate::server::KvServer;

/// What a key/value service offers its applications: the interface a
/// [`Lock`] is built on, and that the tests drive. [`Clerk`] implements
/// it; so do the clerks of the services that come later.
pub trait KvClerk {
    /// `key`'s value and version; [`Error::NoKey`] if the key was never
    /// put. Retries until the service answers.
    ///
    /// # Errors
    /// [`Error::NoKey`] alone.
    fn get(&self, key: &str) -> Result<(String, Version), Error>;

    /// Sets `key` to `value` if its version is `version` (0 creates an
    /// absent key), and the version becomes one higher. Retries until the
    /// service answers.
    ///
    /// # Errors
    /// [`Error::Version`]: certainly not done, the key has another version;
    /// [`Error::NoKey`]: not done, the key is absent and `version` is not 0;
    /// [`Error::Maybe`]: a retry was refused for its version, so the first
    /// copy may or may not have taken effect.
    fn put(&self, key: &str, value: &str, version: Version) -> Result<(), Error>;
}

impl<C: KvClerk + ?Sized> KvClerk for &C {
    fn get(&self, key: &str) -> Result<(String, Version), Error> {
        (**self).get(key)
    }

    fn put(&self, key: &str, value: &str, version: Version) -> Result<(), Error> {
        (**self).put(key, value, version)
    }
}

impl<C: KvClerk + ?Sized> KvClerk for labrpc::rt::sync::Arc<C> {
    fn get(&self, key: &str) -> Result<(String, Version), Error> {
        (**self).get(key)
    }

    fn put(&self, key: &str, value: &str, version: Version) -> Result<(), Error> {
        (**self).put(key, value, version)
    }
}
