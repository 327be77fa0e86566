//! Which node (a server, a client, the tester) each thread belongs to, and
//! crashes: killing every thread of a node.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use super::report::describe;
use super::world::{ThreadKind, Wake, World};
use super::{Tid, here};

impl World {
    /// Puts handler thread `tid` in `node`, running the handler of
    /// `method` (`None`: none).
    fn serve(&self, tid: Tid, node: Arc<str>, method: Option<&'static str>) {
        let mut state = self.state.lock();
        let rec = state.thread_mut(tid);
        rec.node = node;
        rec.serving = method;
    }

    /// Moves thread `tid` to `node` as a visitor (or back, with the node and
    /// flag it had); returns the node and flag it had.
    fn visit(&self, tid: Tid, node: Arc<str>, visiting: bool) -> (Arc<str>, bool) {
        let mut state = self.state.lock();
        let rec = state.thread_mut(tid);
        let before = (std::mem::replace(&mut rec.node, node), rec.visiting);
        rec.visiting = visiting;
        before
    }

    /// Kills every thread of `node` but the caller and visitors: each
    /// unwinds at its next facade call. Returns the names and sites of those
    /// that were not the network's handler threads (threads the lab code
    /// should have stopped).
    fn kill_node(&self, node: &str, caller: Tid) -> Vec<String> {
        let mut state = self.state.lock();
        let now = state.now;
        let mut survivors = Vec::new();
        let tids: Vec<Tid> = state
            .threads
            .iter()
            .enumerate()
            .filter_map(|(tid, rec)| {
                let rec = rec.as_ref()?;
                (tid != caller && !rec.visiting && &*rec.node == node).then_some(tid)
            })
            .collect();
        for tid in tids {
            let rec = state.thread_mut(tid);
            rec.killed = true;
            if rec.kind == ThreadKind::Lab {
                survivors.push(describe(tid, rec, now));
            }
            state.make_runnable(tid, Wake::Notified);
        }
        survivors
    }

    /// Every live thread but the caller, described for a report.
    fn others(&self, caller: Tid) -> Vec<String> {
        let state = self.state.lock();
        state
            .threads
            .iter()
            .enumerate()
            .filter_map(|(tid, rec)| {
                let rec = rec.as_ref()?;
                (tid != caller).then(|| describe(tid, rec, state.now))
            })
            .collect()
    }
}

/// Runs `f` with the calling thread counted as part of `node` (a server, a
/// client) as a visitor: reports show it there, and the threads it spawns
/// belong to `node` for good, but a crash of `node` meanwhile ([`kill_node`])
/// leaves the calling thread alone (a tester calling a peer's API is not
/// the peer's thread). Outside a simulation it just runs `f`.
pub fn with_node<R>(node: &str, f: impl FnOnce() -> R) -> R {
    let Some(here) = here() else {
        return f();
    };
    let (node_before, visiting_before) = here.world.visit(here.tid, node.into(), true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    here.world.visit(here.tid, node_before, visiting_before);
    result.unwrap_or_else(|payload| panic::resume_unwind(payload))
}

/// Counts the calling thread (a network handler thread) as part of `node`
/// from now on, running the handler of `method` (`None`: none), so that a
/// crash of `node` kills it and reports say what it runs.
pub(crate) fn serve(node: Arc<str>, method: Option<&'static str>) {
    if let Some(here) = here() {
        here.world.serve(here.tid, node, method);
    }
}

/// The node of an idle network handler thread: no server's, so that the
/// crash of the last server it served does not kill it (the network's pool
/// counts it as ready for the next request).
const IDLE_HANDLER_NODE: &str = "network";

/// Counts the calling handler thread, done with its request, as the
/// network's own again: see [`IDLE_HANDLER_NODE`].
pub(crate) fn idle_handler() {
    serve(Arc::from(IDLE_HANDLER_NODE), None);
}

/// Kills every thread of `node` (but the caller): each unwinds at its next
/// facade call, as the threads of a crashed machine stop. Returns a
/// description of each that the lab code started (not the network's
/// handler threads), for a check that the lab code stopped its own threads
/// before. Outside a simulation it does nothing.
pub fn kill_node(node: &str) -> Vec<String> {
    match here() {
        Some(here) => here.world.kill_node(node, here.tid),
        None => Vec::new(),
    }
}

/// Every other thread of the caller's world that is still alive, described
/// with where it waits.
pub fn other_threads() -> Vec<String> {
    here().map_or_else(Vec::new, |h| h.world.others(h.tid))
}
