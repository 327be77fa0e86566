//! The key/value lab's graded suite: the course's 23 tests, one module per
//! part, and the generic test most of them share.
//!
//! Run one part with `cargo test 3a` (or `3b`). Add `-- --nocapture` to see
//! each test's title and summary line (`... Passed --  time  peers  rpcs
//! ops`).

mod generic;
mod part_3a;
mod part_3b;
