// handout: begin
//! The key/value server: a state machine replicated by Raft.
//!
//! A request becomes a command in the Raft log ([`Raft::start`]); the server
//! answers once that command is applied at the index `start` returned. If a
//! different command turns up at that index, leadership was lost and the
//! clerk must try elsewhere; if nothing turns up for a while, the same.
//! Puts and appends carry the clerk's (client, sequence) id, and a duplicate
//! table remembers each client's last applied sequence, so every operation
//! executes once however often it is retried. The store and the table go
//! into the snapshot.
//!
//! Threads: the applier (reads Raft's apply channel, applies, answers the
//! waiting handler, snapshots); handlers run on the network's threads.
// handout: else
// //! The key/value server: your state machine replicated by Raft.
// //!
// //! Suggested shape: a handler puts the operation in the Raft log with
// //! [`Raft::start`] and waits until the command applied at the index
// //! `start` returned is its own (another command there: leadership was
// //! lost, and the clerk must try elsewhere; nothing for a while: the
// //! same). One applier thread reads Raft's apply channel, applies each
// //! command to the store and answers the handler waiting for it. An
// //! operation executes once however often its clerk retries, so the
// //! server remembers what each clerk did last (3B: in the snapshot, with
// //! the store).
// handout: end

// handout: begin
use std::collections::HashMap;

use labraft::{ApplyMsg, Index, Raft};
use labrpc::rt::channel::{self, Receiver, Sender};
use labrpc::rt::sync::{Arc, Mutex, Shutdown};
use labrpc::rt::thread::{self, JoinHandle};
use labrpc::rt::time::Duration;
use labrpc::{ClientEnd, Persister, Service, select};
use serde::{Deserialize, Serialize};

use crate::rpc::{Command, GET, Op, OpId, PUT_APPEND, PutOrAppend, Reply};

/// How long a handler waits for its command to be applied before telling
/// the clerk to try another server: long enough for a healthy leader, short
/// enough that a clerk stuck with a partitioned leader moves on.
const COMMIT_TIMEOUT: Duration = Duration::from_millis(800);
// handout: else
// use labraft::Raft;
// use labrpc::rt::sync::Arc;
// use labrpc::{ClientEnd, Persister, Service};
// handout: end

/// A key/value server. Cheap to clone; clones are the same server.
#[derive(Clone)]
pub struct KvServer {
    // handout: begin
    inner: Arc<Inner>,
    // handout: else
    // // Your state here (3A, 3B). Clones must be the same server: keep the
    // // state behind an `Arc`. A shape that works (yours may differ: the
    // // tests see only the API):
    // //
    // //     inner: Arc<Inner>,
    // //
    // // with, beside `KvServer`,
    // //
    // //     struct Inner {
    // //         me: usize,
    // //         raft: Raft,
    // //         max_raft_state: Option<usize>,
    // //         state: Mutex<State>,    // the store, what each clerk did last,
    // //                                 // and the handlers waiting, by index
    // //         killed: Shutdown,       // raised by `kill`: the applier stops
    // //         applier: Mutex<Option<JoinHandle<()>>>, // for `kill` to join
    // //     }
    // //
    // // (`Mutex`, `Shutdown` and `Arc` from `labrpc::rt::sync`, `JoinHandle`
    // // from `labrpc::rt::thread`; see `labraft`'s `Raft::kill` for the
    // // pattern.)
    // handout: end
}

// handout: begin
struct Inner {
    me: usize,
    raft: Raft,
    /// Snapshot when the saved Raft state reaches nine tenths of this.
    max_raft_state: Option<usize>,
    state: Mutex<State>,
    /// Raised by `kill` (under the lock of `state`), which stops the
    /// applier; no handler waits once it is raised.
    killed: Shutdown,
    applier: Mutex<Option<JoinHandle<()>>>,
}

struct State {
    store: Store,
    /// Invariant: every command through this index is reflected in `store`.
    last_applied: Index,
    /// Handlers waiting for the command they started at an index.
    waiting: HashMap<Index, Waiter>,
}

struct Waiter {
    id: OpId,
    reply_to: Sender<Reply>,
}

/// The replicated state: the data, and the duplicate table.
#[derive(Default, Serialize, Deserialize)]
struct Store {
    data: HashMap<String, String>,
    /// Each client's last applied sequence number.
    last_seq: HashMap<u64, u64>,
}

/// What a snapshot holds.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    last_applied: Index,
    store: Store,
}

impl Store {
    /// Applies `command` unless it is a duplicate; returns a get's value.
    fn apply(&mut self, command: &Command) -> String {
        let Command { id, op } = command;
        let duplicate = self.last_seq.get(&id.client).is_some_and(|&s| s >= id.seq);
        let result = match op {
            Op::Get { key } => self.data.get(key).cloned().unwrap_or_default(),
            _ if duplicate => String::new(),
            Op::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                String::new()
            }
            Op::Append { key, value } => {
                self.data.entry(key.clone()).or_default().push_str(value);
                String::new()
            }
        };
        if !duplicate {
            self.last_seq.insert(id.client, id.seq);
        }
        result
    }
}

// handout: end

impl KvServer {
    /// Starts server `me` of the group whose ends are `servers`, restoring
    /// what `persister` holds. With `max_raft_state`, the server snapshots
    /// whenever Raft's saved state nears that many bytes.
    ///
    /// # Panics
    /// When the persisted snapshot is corrupt.
    pub fn new(
        servers: Vec<ClientEnd>,
        me: usize,
        persister: Arc<Persister>,
        max_raft_state: Option<usize>,
    ) -> KvServer {
        // handout: stub 3A make a Raft peer with `Raft::new` and an apply channel, start a thread that applies committed operations to the store, and (3B) restore from the persisted snapshot and snapshot when Raft's state nears `max_raft_state`.
        let (last_applied, store) = restore(&persister.snapshot(), me);
        let (apply_to, applied) = channel::unbounded();
        let raft = Raft::new(servers, me, persister, apply_to);
        let server = KvServer {
            inner: Arc::new(Inner {
                me,
                raft,
                max_raft_state,
                state: Mutex::new(State {
                    store,
                    last_applied,
                    waiting: HashMap::new(),
                }),
                killed: Shutdown::new(),
                applier: Mutex::new(None),
            }),
        };
        let inner = Arc::clone(&server.inner);
        let applier = thread::Builder::new()
            .name(format!("kv-{me}-applier"))
            .spawn(move || inner.apply_loop(&applied))
            .expect("cannot spawn the key/value applier");
        *server.inner.applier.lock() = Some(applier);
        server
    }

    /// The services to register on this server's [`labrpc::Server`]: the
    /// key/value service, and its Raft peer's.
    pub fn services(&self) -> Vec<Service> {
        // handout: stub 3A return the key/value service (handlers that put each operation in the Raft log and answer once it is applied) and the Raft peer's service.
        let mut kv = Service::new("KvServer");
        let inner = Arc::clone(&self.inner);
        kv.handle(GET, move |args| {
            inner.submit(args.id, Op::Get { key: args.key })
        });
        let inner = Arc::clone(&self.inner);
        kv.handle(PUT_APPEND, move |args| {
            let op = match args.kind {
                PutOrAppend::Put => Op::Put {
                    key: args.key,
                    value: args.value,
                },
                PutOrAppend::Append => Op::Append {
                    key: args.key,
                    value: args.value,
                },
            };
            inner.submit(args.id, op)
        });
        vec![kv, self.inner.raft.service()]
    }

    /// This server's Raft peer.
    pub fn raft(&self) -> &Raft {
        // handout: stub 3A return this server's Raft peer.
        &self.inner.raft
    }

    /// Stops the server and its Raft peer; once `kill` returns, none of
    /// their threads runs. Handlers still waiting give up, and tell their
    /// clerks to try another server.
    pub fn kill(&self) {
        // handout: stub 3A kill the Raft peer and stop this server's threads, waiting for them to exit.
        self.inner.raft.kill();
        {
            let mut state = self.inner.state.lock();
            self.inner.killed.raise();
            // Dropping the waiters' senders answers their handlers.
            state.waiting.clear();
        }
        if let Some(applier) = self.inner.applier.lock().take() {
            applier
                .join()
                .expect("the key/value applier does not panic");
        }
    }
}

// handout: begin
impl Inner {
    /// Puts an operation in the log and waits for it to be applied.
    fn submit(&self, id: OpId, op: Op) -> Reply {
        let command = labrpc::codec::encode(&Command { id, op }).expect("commands encode");
        let (reply_to, reply) = channel::bounded(1);
        let index = {
            // Registered under the lock that the applier takes, so that the
            // command cannot be applied before its waiter exists.
            let mut state = self.state.lock();
            if self.killed.is_raised() {
                return Reply::WrongLeader;
            }
            let Ok((index, _term)) = self.raft.start(command) else {
                return Reply::WrongLeader;
            };
            // A waiter left at this index by an earlier term loses: its
            // sender is dropped and its handler answers "wrong leader".
            state.waiting.insert(index, Waiter { id, reply_to });
            index
        };
        match reply.recv_timeout(COMMIT_TIMEOUT) {
            Ok(reply) => reply,
            Err(_) => {
                let mut state = self.state.lock();
                if state.waiting.get(&index).is_some_and(|w| w.id == id) {
                    state.waiting.remove(&index);
                }
                Reply::WrongLeader
            }
        }
    }

    fn apply_loop(&self, applied: &Receiver<ApplyMsg>) {
        loop {
            let message = select! {
                recv(applied) -> message => match message {
                    Ok(message) => message,
                    Err(_) => return,
                },
                recv(self.killed.raised()) -> _ => return,
            };
            let mut state = self.state.lock();
            match message {
                ApplyMsg::Command { index, command } => {
                    if index <= state.last_applied {
                        continue; // already in the state, from a snapshot
                    }
                    // The reference's check of itself; off while planted
                    // bugs are measured (scripts/mutants builds with
                    // `--cfg lab_mutant`): a student's code has none.
                    if cfg!(not(lab_mutant)) {
                        assert_eq!(
                            index,
                            state.last_applied + 1,
                            "S{}: Raft applied index {index} after {}",
                            self.me,
                            state.last_applied
                        );
                    }
                    state.last_applied = index;
                    let command: Command = labrpc::codec::decode(&command).unwrap_or_else(|e| {
                        panic!(
                            "S{}: the log holds something that is not a command at {index}: {e}",
                            self.me
                        )
                    });
                    let result = state.store.apply(&command);
                    if let Some(waiter) = state.waiting.remove(&index) {
                        let reply = if waiter.id == command.id {
                            Reply::Ok(result)
                        } else {
                            // Another leader's command took the index.
                            Reply::WrongLeader
                        };
                        let _ = waiter.reply_to.send(reply);
                    }
                    self.maybe_snapshot(&state);
                }
                ApplyMsg::Snapshot { index, data, .. } => {
                    if index <= state.last_applied {
                        continue;
                    }
                    let (last_applied, store) = restore(&data, self.me);
                    if cfg!(not(lab_mutant)) {
                        assert_eq!(
                            last_applied, index,
                            "S{}: a snapshot for index {index} holds state through {last_applied}",
                            self.me
                        );
                    }
                    state.store = store;
                    state.last_applied = index;
                    // Whatever waited at or before the snapshot is unknown
                    // here: let those clerks retry (the duplicate table keeps
                    // it exactly once).
                    state.waiting.retain(|&i, _| i > index);
                }
            }
        }
    }

    /// Snapshots when Raft's saved state nears the limit.
    fn maybe_snapshot(&self, state: &State) {
        let Some(limit) = self.max_raft_state else {
            return;
        };
        if self.raft.persisted_size() < limit * 9 / 10 {
            return;
        }
        let data = labrpc::codec::encode(&Snapshot {
            last_applied: state.last_applied,
            store: Store {
                data: state.store.data.clone(),
                last_seq: state.store.last_seq.clone(),
            },
        })
        .expect("the store encodes");
        self.raft.snapshot(state.last_applied, data);
    }
}

/// The state a snapshot holds; empty for no snapshot.
///
/// # Panics
/// When the snapshot is corrupt.
fn restore(snapshot: &[u8], me: usize) -> (Index, Store) {
    if snapshot.is_empty() {
        return (0, Store::default());
    }
    let snapshot: Snapshot = labrpc::codec::decode(snapshot)
        .unwrap_or_else(|e| panic!("S{me}: the key/value snapshot is corrupt: {e}"));
    (snapshot.last_applied, snapshot.store)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(client: u64, seq: u64, op: Op) -> Command {
        Command {
            id: OpId { client, seq },
            op,
        }
    }

    fn append(key: &str, value: &str) -> Op {
        Op::Append {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_retried_append_executes_once() {
        let mut store = Store::default();
        store.apply(&command(1, 1, append("k", "a")));
        store.apply(&command(1, 1, append("k", "a")));
        store.apply(&command(1, 2, append("k", "b")));
        store.apply(&command(1, 1, append("k", "a")));
        assert_eq!(
            store.apply(&command(1, 3, Op::Get { key: "k".into() })),
            "ab"
        );
    }

    #[test]
    fn clients_are_deduplicated_separately() {
        let mut store = Store::default();
        store.apply(&command(1, 5, append("k", "a")));
        store.apply(&command(2, 1, append("k", "b")));
        assert_eq!(
            store.apply(&command(3, 1, Op::Get { key: "k".into() })),
            "ab"
        );
    }

    #[test]
    fn a_missing_key_reads_as_empty() {
        let mut store = Store::default();
        assert_eq!(store.apply(&command(1, 1, Op::Get { key: "x".into() })), "");
    }
}
// handout: end
