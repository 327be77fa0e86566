//! The clock of log lines: milliseconds since the first Raft peer (or the
//! tester) started, so lines from every peer in a run share one time axis.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// The origin of log time; fixed by the first call.
pub fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds from the origin of log time to `now`.
pub fn millis(now: Instant) -> u128 {
    now.saturating_duration_since(epoch()).as_millis()
}
