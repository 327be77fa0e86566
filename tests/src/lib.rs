//! The graded lab suites and the harness they share.
//!
//! * [`cluster`]: what every tester stands on: a group of servers on one
//!   network (or several groups, each a [`cluster::Group`]), their
//!   persisters, crash and restart, links, sizes and counts,
//!   the test's session and its seeded randomness, and the check that the
//!   persisters can hold what the servers committed.
//! * [`raft`]: the Raft tester (the course's `config.go`): peers with the
//!   tester's appliers, connectivity and partitions, and the checks the
//!   suites make (`check_one_leader`, `one`, the appliers' checks of every
//!   applied command, RPC and byte counts), with three of its own: a watch
//!   for two leaders in one term, for snapshots older than what their peer
//!   applied, and (from 2C on) for persisters too small for the random tags
//!   of the committed entries.
//! * [`kvsrv`]: the versioned key/value server's tester (the course's
//!   `kvsrv1/test.go`): one server, clients with ends of their own, every
//!   logged operation checked against the versioned model, and the client
//!   workload of the course's `kvtest1` (concurrent versioned puts).
//! * [`rsm`]: the replicated state machine's tester (the course's
//!   `kvraft1/rsm/test.go`): three servers, each an `rsm::Rsm` of the
//!   test's counter, submits made in-process, partitions, shutdown and
//!   restart, and the course's checks (`one_partition`, `check_counter`).
//! * [`shardkv`]: the sharded service's tester (the course's
//!   `shardkv1/test.go`): the controller's kvsrv as group 0, shard groups
//!   made, shut down and forgotten during a test, clients that reach
//!   servers by name with a controller object each, controllers cut off,
//!   reconnected and abandoned, and the course's helpers (`join_groups`,
//!   `check_shutdown_sharding`, `partition_ctrler`, `concur_ctrler`).
//! * [`kv`]: the key/value tester (the course's kvraft `config.go`): servers,
//!   clerks with their own ends, partitions, every clerk operation recorded
//!   for the linearizability check, and a probe of what the servers persist.
//! * [`linearizability`]: a checker of histories against a sequential model
//!   (porcupine's algorithm), with the key/value model and its history text
//!   format, the versioned key/value model (a conditional `put` and the
//!   `ErrMaybe` of a clerk that cannot tell), and an HTML timeline of a
//!   failing history. `check-history` re-checks a saved history from the
//!   command line.
//! * [`support`]: what every test shares: real-time tests one at a time
//!   (simulated ones side by side), the 120 s limit,
//!   panics in any thread counted as failures, no thread left running after
//!   cleanup, and randomness replayed from `LAB_SEED`.
//!
//! The suites themselves are integration tests, one module per part, with
//! the course's test names in snake case and the part as suffix:
//! `tests/raft/` holds parts 2A–2D (`cargo test 2b` runs part 2B), with the
//! suite's own tests beyond the course's in `tests/raft/beyond.rs`,
//! `tests/kvsrv/` parts kvsrv and kvlock, `tests/rsm/` part rsm
//! (`cargo test rsm`), `tests/kv/` parts 3A–3B (`cargo test 3a`), and
//! `tests/shardkv/` parts 5A–5C (`cargo test 5a`).

pub mod cluster;
pub mod kv;
pub mod kvsrv;
pub mod linearizability;
pub mod raft;
pub mod rsm;
pub mod shardkv;
pub mod support;
