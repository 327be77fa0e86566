// handout: begin
//! A lock kept in the key/value service, built on a clerk alone.
//!
//! The lock's key holds the holder's id, or "" when it is free. Acquiring
//! is a put of our id at the version that read "" (or 0, on a key never
//! put), so of two clients racing for a free lock exactly one put takes
//! effect. A put that comes back `ErrMaybe` may have taken effect: reading
//! the key again tells, since only our put writes our id. Releasing is a
//! put of "" at the version that reads our id; `ErrMaybe` there means done,
//! because nobody else writes a held lock.
// handout: else
// //! A lock kept in the key/value service, built on a clerk alone.
// //!
// //! Keep the lock's state under its name's key. Think about what a put
// //! that comes back `ErrMaybe` tells you, and what a read after it does.
// handout: end

// handout: begin
use labrpc::rt::thread;
use labrpc::rt::time::Duration;

use crate::rpc::Error;
// handout: end
use crate::KvClerk;

// handout: begin
/// How long to wait before looking at a lock another client holds again.
const HELD_PAUSE: Duration = Duration::from_millis(10);

/// The length of a holder's id: letters drawn at random, so that two
/// clients' ids differ but with a chance of 52^-8.
const ID_LEN: usize = 8;
// handout: end

/// A lock named `name`, kept in the key/value service that `clerk`
/// reaches. Locks with different names are independent; at most one
/// client holds a lock at a time.
pub struct Lock<C: KvClerk> {
    // handout: begin
    clerk: C,
    /// The key the lock's state is under.
    name: String,
    /// What the key holds while this client holds the lock.
    id: String,
    // handout: else
    // clerk: C,
    // // Your state here (KVLOCK).
    // handout: end
}

impl<C: KvClerk> Lock<C> {
    /// The lock `name`, through `clerk`. Does not acquire it.
    pub fn new(clerk: C, name: &str) -> Lock<C> {
        // handout: stub KVLOCK make a lock client; it needs an id of its own (`labrpc::rt::rand` draws one that replays in a simulation).
        Lock {
            clerk,
            name: name.to_owned(),
            id: random_id(),
        }
    }

    /// The clerk the lock uses.
    pub fn clerk(&self) -> &C {
        &self.clerk
    }

    /// Waits until this client holds the lock.
    pub fn acquire(&self) {
        // handout: stub KVLOCK wait until the lock's key says nobody holds it, then put your id at the version you read; a put that may not have happened (`ErrMaybe`) needs a second look.
        loop {
            let put = match self.clerk.get(&self.name) {
                // After an `ErrMaybe`: our put did take effect.
                Ok((holder, _)) if holder == self.id => return,
                Ok((holder, version)) if holder.is_empty() => {
                    self.clerk.put(&self.name, &self.id, version)
                }
                Ok(_) => Err(Error::Version),
                Err(Error::NoKey) => self.clerk.put(&self.name, &self.id, 0),
                Err(e) => panic!("lock {:?}: get returned {e}", self.name),
            };
            match put {
                Ok(()) => return,
                // Look again: whether it took effect, the key says.
                Err(Error::Maybe) => {}
                // Another client holds it, or got there first.
                Err(_) => thread::sleep(HELD_PAUSE),
            }
        }
    }

    /// Releases the lock, which this client holds.
    ///
    /// # Panics
    /// When this client does not hold it.
    pub fn release(&self) {
        // handout: stub KVLOCK put "" (or whatever means free) at the version that holds your id.
        let (holder, version) = match self.clerk.get(&self.name) {
            Ok(held) => held,
            Err(e) => panic!("lock {:?}: get returned {e}", self.name),
        };
        assert!(
            holder == self.id,
            "lock {:?} released by a client that does not hold it",
            self.name
        );
        match self.clerk.put(&self.name, "", version) {
            // `ErrMaybe`: done, since only the holder writes a held lock,
            // and a refused re-send can only mean its first copy did.
            Ok(()) | Err(Error::Maybe) => {}
            Err(e) => panic!(
                "lock {:?}: the holder's release put returned {e}",
                self.name
            ),
        }
    }
}

// handout: begin
/// A holder id: [`ID_LEN`] random letters.
fn random_id() -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    (0..ID_LEN)
        .map(|_| LETTERS[labrpc::rt::rand::random_range(0..LETTERS.len())] as char)
        .collect()
}
// handout: end
