//! The search for a linearization of one partition.
//!
//! Calls and returns are laid out in time order in a doubly linked list.
//! The search walks it: at a call, it tries to linearize that operation now
//! (the model must accept its output in the current state, and the pair
//! (operations linearized, new state) must be new); if so it removes the
//! operation's call and return from the list and starts again from the
//! front. Reaching a return means that operation should have been
//! linearized already: undo the last choice and try the next call instead.
//! The history is linearizable when the list empties, and illegal when there
//! is nothing left to undo.
//!
//! After each step the model may look ahead ([`Model::may_continue`]) and
//! refuse a state that something later in the history rules out: without
//! that, a run of concurrent appends that no `get` observes until the run
//! ends is placed in every order the real-time constraints allow before the
//! `get` refutes them (the number of orders grows exponentially with the
//! run's length, however few appends overlap at any one time).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{Model, Operation, PartitionOutcome, Pending};

/// How many steps the search takes between looks at the clock and at the
/// cancellation flag.
const CHECK_EVERY: u64 = 1 << 10;

/// A set of operations, by index.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bitset(Vec<u64>);

impl Bitset {
    fn new(len: usize) -> Self {
        Bitset(vec![0; len.div_ceil(64)])
    }

    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

/// The list of calls and returns. Node 0 is the head, node `2n + 1` the
/// tail; the nodes between are the events in time order. A removed node
/// keeps its own links, so it can be put back where it was.
struct Events {
    next: Vec<usize>,
    prev: Vec<usize>,
    /// The operation each event belongs to.
    op: Vec<usize>,
    /// For a call, its return's node; `None` for a return.
    matching: Vec<Option<usize>>,
}

impl Events {
    fn new<M: Model>(ops: &[&Operation<M>]) -> Events {
        // (time, is return, op): calls sort before returns at equal times.
        let mut events: Vec<(u64, bool, usize)> = ops
            .iter()
            .enumerate()
            .flat_map(|(i, op)| [(op.call, false, i), (op.ret, true, i)])
            .collect();
        events.sort_unstable();
        let n = events.len();
        let mut list = Events {
            next: (1..=n + 1).chain([n + 1]).collect(),
            prev: [0].into_iter().chain(0..=n).collect(),
            op: [usize::MAX]
                .into_iter()
                .chain(events.iter().map(|e| e.2))
                .chain([usize::MAX])
                .collect(),
            matching: vec![None; n + 2],
        };
        let mut return_node = vec![0; ops.len()];
        for (k, &(_, is_return, op)) in events.iter().enumerate() {
            if is_return {
                return_node[op] = k + 1;
            }
        }
        for (k, &(_, is_return, op)) in events.iter().enumerate() {
            if !is_return {
                list.matching[k + 1] = Some(return_node[op]);
            }
        }
        list
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        self.prev[n] = node;
    }

    /// Removes a call and its return.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.matching[call].expect("lift takes a call"));
    }

    /// Puts back what [`lift`](Events::lift) removed, in reverse order.
    fn unlift(&mut self, call: usize) {
        self.relink(self.matching[call].expect("unlift takes a call"));
        self.relink(call);
    }

    /// The events still in the list, in time order.
    fn pending<'a, M: Model>(
        &'a self,
        ops: &'a [&'a Operation<M>],
    ) -> impl Iterator<Item = Pending<'a, M>> + 'a {
        let tail = self.next.len() - 1;
        std::iter::successors(Some(self.next[0]), |&node| Some(self.next[node]))
            .take_while(move |&node| node != tail)
            .map(|node| Pending {
                operation: ops[self.op[node]],
                returned: self.matching[node].is_none(),
                position: self.op[node],
            })
    }
}

/// Searches for a linearization of `ops`; see the module documentation.
pub(super) fn search<M: Model>(
    model: &M,
    ops: &[&Operation<M>],
    stop: &AtomicBool,
    deadline: Instant,
    max_states: usize,
) -> PartitionOutcome {
    let mut events = Events::new(ops);
    let head = 0;
    let tail = events.next.len() - 1;
    let mut node = events.next[head];
    let mut state = model.init();
    let mut linearized = Bitset::new(ops.len());
    let mut seen: HashSet<(Bitset, M::State)> = HashSet::new();
    // The choices made: each call linearized, with the state before it.
    let mut calls: Vec<(usize, M::State)> = Vec::new();
    // The deepest failure: the prefix then, and the operation that blocked.
    let mut deepest: Option<(Vec<usize>, usize)> = None;
    let mut steps: u64 = 0;

    while events.next[head] != tail {
        steps += 1;
        if steps.is_multiple_of(CHECK_EVERY) {
            if stop.load(Ordering::Relaxed) {
                return PartitionOutcome::Cancelled;
            }
            if Instant::now() >= deadline {
                return PartitionOutcome::OutOfTime;
            }
        }
        if events.matching[node].is_some() {
            let op = ops[events.op[node]];
            if let Some(next_state) = model.step(&state, &op.input, &op.output) {
                let mut next_linearized = linearized.clone();
                next_linearized.set(events.op[node]);
                // A state refused by the look-ahead stays remembered, so it
                // is refused without looking again.
                if seen.insert((next_linearized.clone(), next_state.clone())) {
                    if seen.len() > max_states {
                        return PartitionOutcome::OutOfStates;
                    }
                    events.lift(node);
                    match model.may_continue(&next_state, events.pending(ops)) {
                        Ok(()) => {
                            calls.push((node, std::mem::replace(&mut state, next_state)));
                            linearized = next_linearized;
                            node = events.next[head];
                            continue;
                        }
                        // The deepest failure may be this one: the prefix
                        // with this operation, then what ruled it out.
                        Err(blocker) => {
                            if deepest
                                .as_ref()
                                .is_none_or(|(prefix, _)| calls.len() + 1 > prefix.len())
                            {
                                let prefix = calls
                                    .iter()
                                    .map(|&(call, _)| events.op[call])
                                    .chain([events.op[node]])
                                    .collect();
                                deepest = Some((prefix, blocker.position));
                            }
                        }
                    }
                    events.unlift(node);
                }
            }
            node = events.next[node];
        } else {
            // A return whose operation is not linearized yet: back up.
            if deepest
                .as_ref()
                .is_none_or(|(prefix, _)| calls.len() > prefix.len())
            {
                let prefix = calls.iter().map(|&(call, _)| events.op[call]).collect();
                deepest = Some((prefix, events.op[node]));
            }
            let Some((call, previous)) = calls.pop() else {
                let (prefix, unplaced) = deepest.expect("recorded just above");
                return PartitionOutcome::Illegal { prefix, unplaced };
            };
            state = previous;
            linearized.clear(events.op[call]);
            events.unlift(call);
            node = events.next[call];
        }
    }
    PartitionOutcome::Linearizable
}
