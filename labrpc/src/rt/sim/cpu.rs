//! Pinning a world to one CPU.
//!
//! A world runs on one OS thread, its main thread's, which drives every
//! coroutine of it; pinning keeps that thread on one CPU, so that worlds
//! run side by side (tests in parallel) do not share a CPU.

use parking_lot::Mutex;

pub(super) use core_affinity::CoreId;

/// Pins the calling OS thread to `core`, if there is one.
pub(super) fn pin(core: Option<CoreId>) {
    if let Some(core) = core {
        core_affinity::set_for_current(core);
    }
}

/// A CPU for a new world, counted as in use until [`release`]: one that
/// fewest live worlds of this process use (so that tests running side by
/// side in one process do not share a CPU), preferring the one the calling
/// thread runs on now, where the OS has placed it beside whatever else runs
/// (so that test processes side by side tend not to share one).
pub(super) fn choose() -> Option<CoreId> {
    let cores = all_cores();
    let mut load = CORE_LOAD.lock();
    load.resize(cores.len(), 0);
    let fewest = *load.iter().min()?;
    let here = current_cpu().and_then(|cpu| cores.iter().position(|core| core.id == cpu));
    let chosen = match here {
        Some(i) if load[i] == fewest => i,
        _ => load.iter().position(|&n| n == fewest)?,
    };
    load[chosen] += 1;
    Some(cores[chosen])
}

/// A world that ran on `core` has ended.
pub(super) fn release(core: CoreId) {
    let Some(i) = all_cores().iter().position(|c| c.id == core.id) else {
        return;
    };
    if let Some(n) = CORE_LOAD.lock().get_mut(i) {
        *n = n.saturating_sub(1);
    }
}

/// How many live worlds of this process use each CPU of [`all_cores`].
static CORE_LOAD: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// The CPUs this process may use, read before any world pinned a thread (a
/// pinned thread sees its own CPU only).
fn all_cores() -> &'static [CoreId] {
    static CORES: std::sync::OnceLock<Vec<CoreId>> = std::sync::OnceLock::new();
    CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default())
}

/// The CPU the calling thread last ran on (Linux: field 39 of
/// `/proc/thread-self/stat`).
fn current_cpu() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it do not.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(39 - 3)?.parse().ok()
}
