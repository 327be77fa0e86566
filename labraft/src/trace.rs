//! The clock of log lines: milliseconds since the origin of log time, so
//! lines from every peer in a run share one time axis. In a simulation the
//! origin is the world's beginning and the milliseconds are virtual, so the
//! same seed stamps the same lines with the same times.

pub use labrpc::rt::time::{epoch, millis};
