//! The versioned key/value server's graded suite: the course's kvsrv and
//! lock tests (part kvsrv, part kvlock), and ours beyond them. The
//! server's memory test is in `tests/kvsrv_memory.rs`, a binary of its own:
//! it counts the whole process's allocations.
//!
//! Run a part with `cargo test kvsrv` (or `kvlock`). Add `-- --nocapture`
//! to see each test's title and summary line (`... Passed --  time  peers
//! rpcs  ops`).

mod beyond;
mod part_kvlock;
mod part_kvsrv;
