//! What the lab's suites and its tools agree on, each said once, with its
//! writer and its reader side by side: the parts, limits and environment
//! variables ([`lab`]), where a run's seed comes from ([`seed`]), the run
//! record the harness writes for the tools and the grader's verdict
//! ([`record`]), and the grammar of log lines ([`trace`]). Re-exported at
//! the crate's root (`labrpc::lab`, `labrpc::seed`, ...).

pub mod lab;
pub mod record;
pub mod seed;
pub mod trace;
