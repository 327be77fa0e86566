//! The Raft lab's graded suite: the course's 28 tests, one module per part,
//! and the suite's own tests beyond the course's (`beyond`).
//!
//! Run one part with `cargo test 2a` (or `2b`, `2c`, `2d`), one test with
//! `cargo test initial_election_2a`. Tests take turns even when the test
//! runner starts several at once. Add `-- --nocapture` to see each test's
//! title and summary line (`... Passed --  time  peers  rpcs  bytes  cmds`).

mod beyond;
mod part_2a;
mod part_2b;
mod part_2c;
mod part_2d;
