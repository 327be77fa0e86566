//! The replicated state machine's graded suite: the course's rsm tests
//! (part rsm: seven of 4A and 4C's snapshot test), and ours beyond them.
//!
//! Run it with `cargo test rsm`. Add `-- --nocapture` to see each test's
//! title and summary line (`... Passed --  time  peers  rpcs  submits that returned OK`).

mod beyond;
mod part_rsm;
