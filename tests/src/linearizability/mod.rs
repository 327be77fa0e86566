//! A linearizability checker for histories of concurrent operations.
//!
//! The search is Wing and Gong's, with Lowe's memoisation of (set of
//! operations linearized, model state) — the algorithm of the porcupine
//! checker the course uses — and one addition: after each step the model may
//! look ahead and refuse a state that a later observation rules out
//! ([`Model::may_continue`]). The key/value model does, which keeps a long
//! run of concurrent appends that no `get` sees until its end (a partition
//! healing, clerks retrying together) from costing one state per order of
//! the run. A history is split into independent partitions (for a key/value
//! store, one per key) which are checked concurrently; the first partition
//! found illegal cancels the rest.
//!
//! Every check runs under a [`Budget`] of time and of remembered states, and
//! has one of three outcomes ([`Verdict`]): linearizable, illegal, or unknown
//! because the budget ran out. Unknown is never reported as linearizable.
//!
//! For an illegal history the [`Report`] names, per failing partition, the
//! longest prefix the search could linearize and the operation it could not
//! place after it; [`html::render`] draws the history as a timeline with
//! that partial linearization marked.

pub mod html;
pub mod kv;
mod search;
pub mod versioned;

use std::collections::BTreeMap;
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Histories with at least this many operations are checked on several
/// threads; smaller ones on the caller's.
const PARALLEL_FROM: usize = 1000;

/// A sequential specification: what each operation may return in each state.
///
/// To write one, say how the state starts ([`init`](Model::init)), which
/// outputs an input may produce in a state and what state follows
/// ([`step`](Model::step)), and, to check faster, how a history splits into
/// parts that cannot affect each other ([`partition`](Model::partition)).
pub trait Model: Sync {
    /// The state of the object. Compared and hashed to remember states the
    /// search has seen.
    type State: Clone + Eq + Hash + Send;
    /// What a client asked for.
    type Input: Sync;
    /// What the client was told.
    type Output: Sync;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// The state after `input` was applied to `state` producing `output`,
    /// or `None` if that output is impossible there.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State>;

    /// Groups of indices into `history` that may be checked independently,
    /// each with a name for reports. By default the whole history is one
    /// group.
    fn partition(&self, history: &[Operation<Self>]) -> Vec<(String, Vec<usize>)> {
        vec![("history".to_owned(), (0..history.len()).collect())]
    }

    /// Whether a linearization can still go on from `state`, the state after
    /// the operations placed so far. `pending` walks the calls and returns of
    /// the operations not placed yet, in time order.
    ///
    /// The search asks after each step it takes, and backs up at once on an
    /// error, instead of placing operations in orders that something later in
    /// the history already rules out. So an error must mean that no order of
    /// the pending operations can work from `state`: a necessary condition,
    /// cheap to test (the key/value model compares the state with the next
    /// value a `get` returned). The error is the event that rules the state
    /// out, named in the report if the history is illegal. The default never
    /// cuts the search.
    fn may_continue<'a>(
        &self,
        state: &Self::State,
        pending: impl Iterator<Item = Pending<'a, Self>>,
    ) -> Result<(), Pending<'a, Self>>
    where
        Self: 'a,
    {
        let _ = (state, pending);
        Ok(())
    }

    /// A short description of an operation, e.g. `get("k") -> "v"`.
    fn describe_operation(&self, input: &Self::Input, output: &Self::Output) -> String;

    /// A short description of a state.
    fn describe_state(&self, state: &Self::State) -> String;
}

/// A partition of `history` per key, for a model whose operations each
/// touch one key (`key` names it): named `key "k"`, in key order. Operations
/// on different keys cannot affect each other, so each key is checked on its
/// own.
pub fn partition_by_key<M: Model + ?Sized>(
    history: &[Operation<M>],
    key: impl Fn(&M::Input) -> &str,
) -> Vec<(String, Vec<usize>)> {
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in history.iter().enumerate() {
        by_key.entry(key(&op.input)).or_default().push(i);
    }
    by_key
        .into_iter()
        .map(|(key, ops)| (format!("key {key:?}"), ops))
        .collect()
}

/// One operation of a history: who, what, and when it started and ended.
/// Times are comparable numbers (nanoseconds, or positions in a log); only
/// their order matters.
pub struct Operation<M: Model + ?Sized> {
    /// The client (process) that ran it.
    pub client: usize,
    /// What it asked.
    pub input: M::Input,
    /// When it was called.
    pub call: u64,
    /// What it was told.
    pub output: M::Output,
    /// When it returned; [`u64::MAX`] for an operation that never did.
    pub ret: u64,
}

impl<M: Model + ?Sized> fmt::Debug for Operation<M>
where
    M::Input: fmt::Debug,
    M::Output: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation")
            .field("client", &self.client)
            .field("input", &self.input)
            .field("call", &self.call)
            .field("output", &self.output)
            .field("ret", &self.ret)
            .finish()
    }
}

/// An event of an operation the search has not placed yet, as
/// [`Model::may_continue`] sees it: the operation was called, or it returned
/// (and so must be placed before anything that happened later).
pub struct Pending<'a, M: Model + ?Sized> {
    /// The operation.
    pub operation: &'a Operation<M>,
    /// Whether this is its return (at [`u64::MAX`], the last event of all,
    /// for one that never returned) rather than its call.
    pub returned: bool,
    /// The operation's position in its partition.
    position: usize,
}

impl<M: Model + ?Sized> Clone for Pending<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: Model + ?Sized> Copy for Pending<'_, M> {}

/// What a check may spend.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Wall-clock time for the whole check.
    pub time: Duration,
    /// Distinct (linearized set, state) pairs remembered per partition: the
    /// bound on memory.
    pub max_states: usize,
}

impl Default for Budget {
    /// Ten seconds and ten million states.
    fn default() -> Self {
        Budget {
            time: Duration::from_secs(10),
            max_states: 10_000_000,
        }
    }
}

/// The outcome of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some order of the operations, consistent with real time, satisfies the
    /// model.
    Linearizable,
    /// No such order exists.
    Illegal,
    /// The budget ran out before the search finished: nothing is known.
    Unknown,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Linearizable => "linearizable",
            Verdict::Illegal => "NOT linearizable",
            Verdict::Unknown => "unknown (the check ran out of budget)",
        })
    }
}

/// What the check found in one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionOutcome {
    /// Linearizable.
    Linearizable,
    /// Not linearizable: the longest linearizable prefix (indices into the
    /// history, in linearization order) and the operation that could not be
    /// placed after it.
    Illegal {
        /// The longest prefix the search linearized.
        prefix: Vec<usize>,
        /// An operation that had returned by then but fits nowhere after the
        /// prefix.
        unplaced: usize,
    },
    /// Out of time.
    OutOfTime,
    /// Out of remembered states.
    OutOfStates,
    /// Not finished: another partition was illegal first.
    Cancelled,
}

/// One partition's name, operations and outcome.
#[derive(Clone, Debug)]
pub struct PartitionReport {
    /// The partition's name, from [`Model::partition`].
    pub name: String,
    /// Indices into the history.
    pub operations: Vec<usize>,
    /// What the check found.
    pub outcome: PartitionOutcome,
}

/// The result of [`check`].
#[derive(Clone, Debug)]
pub struct Report {
    /// The overall outcome: illegal if any partition is; else unknown if any
    /// ran out of budget; else linearizable.
    pub verdict: Verdict,
    /// Every partition's outcome.
    pub partitions: Vec<PartitionReport>,
    /// How long the check took.
    pub elapsed: Duration,
}

/// Checks `history` against `model` within `budget`.
pub fn check<M: Model>(model: &M, history: &[Operation<M>], budget: Budget) -> Report {
    let started = Instant::now();
    let deadline = started + budget.time;
    let groups = model.partition(history);
    let stop = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    // Checks partitions until none is left; returns (partition, outcome).
    let work = || {
        let mut done = Vec::new();
        loop {
            let g = next.fetch_add(1, Ordering::SeqCst);
            let Some((_, indices)) = groups.get(g) else {
                return done;
            };
            let ops: Vec<&Operation<M>> = indices.iter().map(|&i| &history[i]).collect();
            let outcome = match search::search(model, &ops, &stop, deadline, budget.max_states) {
                PartitionOutcome::Illegal { prefix, unplaced } => {
                    stop.store(true, Ordering::SeqCst);
                    PartitionOutcome::Illegal {
                        prefix: prefix.into_iter().map(|k| indices[k]).collect(),
                        unplaced: indices[unplaced],
                    }
                }
                other => other,
            };
            done.push((g, outcome));
        }
    };
    // A small history is checked sooner than threads can be started.
    let workers = if history.len() < PARALLEL_FROM {
        1
    } else {
        thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(groups.len())
    };
    let finished: Vec<(usize, PartitionOutcome)> = if workers <= 1 {
        work()
    } else {
        thread::scope(|s| {
            let handles: Vec<_> = (0..workers).map(|_| s.spawn(work)).collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a checker thread panicked"))
                .collect()
        })
    };
    let mut outcomes: Vec<Option<PartitionOutcome>> = vec![None; groups.len()];
    for (g, outcome) in finished {
        outcomes[g] = Some(outcome);
    }

    let partitions: Vec<PartitionReport> = groups
        .into_iter()
        .zip(outcomes)
        .map(|((name, operations), outcome)| PartitionReport {
            name,
            operations,
            outcome: outcome.unwrap_or(PartitionOutcome::Cancelled),
        })
        .collect();
    let verdict = if partitions
        .iter()
        .any(|p| matches!(p.outcome, PartitionOutcome::Illegal { .. }))
    {
        Verdict::Illegal
    } else if partitions
        .iter()
        .all(|p| p.outcome == PartitionOutcome::Linearizable)
    {
        Verdict::Linearizable
    } else {
        Verdict::Unknown
    };
    Report {
        verdict,
        partitions,
        elapsed: started.elapsed(),
    }
}

impl Report {
    /// The report as text: the verdict, then for each illegal partition its
    /// longest linearizable prefix (each operation with the state after it)
    /// and the operation that could not be placed.
    pub fn describe<M: Model>(&self, model: &M, history: &[Operation<M>]) -> String {
        use std::fmt::Write;
        let mut text = format!(
            "history of {} operations: {} (checked in {:.1} ms)\n",
            history.len(),
            self.verdict,
            self.elapsed.as_secs_f64() * 1e3
        );
        for partition in &self.partitions {
            match &partition.outcome {
                PartitionOutcome::Illegal { prefix, unplaced } => {
                    let _ = writeln!(
                        text,
                        "{}: not linearizable; the longest linearizable prefix has {} of its {} \
                         operations:",
                        partition.name,
                        prefix.len(),
                        partition.operations.len()
                    );
                    let mut state = model.init();
                    for (step, &i) in prefix.iter().enumerate() {
                        let op = &history[i];
                        state = model
                            .step(&state, &op.input, &op.output)
                            .expect("the prefix was linearized by the search");
                        let _ = writeln!(
                            text,
                            "  {:>3}. client {:<3} {:<40} state: {}",
                            step + 1,
                            op.client,
                            model.describe_operation(&op.input, &op.output),
                            model.describe_state(&state)
                        );
                    }
                    let op = &history[*unplaced];
                    let _ = writeln!(
                        text,
                        "  then no order fits client {}'s {} (called at {}, returned at {}) \
                         in state {}",
                        op.client,
                        model.describe_operation(&op.input, &op.output),
                        op.call,
                        time(op.ret),
                        model.describe_state(&state)
                    );
                }
                PartitionOutcome::OutOfTime => {
                    let _ = writeln!(text, "{}: unknown: ran out of time", partition.name);
                }
                PartitionOutcome::OutOfStates => {
                    let _ = writeln!(
                        text,
                        "{}: unknown: ran out of memory (too many states to remember)",
                        partition.name
                    );
                }
                PartitionOutcome::Linearizable | PartitionOutcome::Cancelled => {}
            }
        }
        text
    }
}

fn time(t: u64) -> String {
    if t == u64::MAX {
        "never".to_owned()
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register that can be read and written, to test the search apart
    /// from the key/value model.
    struct Register;

    #[derive(Clone, Copy)]
    enum Op {
        Read,
        Write(u8),
    }

    impl Model for Register {
        type State = u8;
        type Input = Op;
        type Output = u8;
        fn init(&self) -> u8 {
            0
        }
        fn step(&self, state: &u8, input: &Op, output: &u8) -> Option<u8> {
            match input {
                Op::Read => (output == state).then_some(*state),
                Op::Write(v) => Some(*v),
            }
        }
        fn describe_operation(&self, input: &Op, output: &u8) -> String {
            match input {
                Op::Read => format!("read -> {output}"),
                Op::Write(v) => format!("write({v})"),
            }
        }
        fn describe_state(&self, state: &u8) -> String {
            state.to_string()
        }
    }

    fn op(client: usize, input: Op, output: u8, call: u64, ret: u64) -> Operation<Register> {
        Operation {
            client,
            input,
            call,
            output,
            ret,
        }
    }

    #[test]
    fn concurrent_operations_may_take_effect_in_either_order() {
        // The write overlaps both reads: the first read sees the old value,
        // the second the new one.
        let history = [
            op(0, Op::Write(1), 0, 0, 10),
            op(1, Op::Read, 0, 1, 2),
            op(1, Op::Read, 1, 3, 4),
        ];
        let report = check(&Register, &history, Budget::default());
        assert_eq!(report.verdict, Verdict::Linearizable);
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_illegal() {
        let history = [
            op(0, Op::Write(1), 0, 0, 1),
            op(1, Op::Read, 1, 2, 3),
            op(1, Op::Read, 0, 4, 5),
        ];
        let report = check(&Register, &history, Budget::default());
        assert_eq!(report.verdict, Verdict::Illegal);
        let PartitionOutcome::Illegal { prefix, unplaced } = &report.partitions[0].outcome else {
            panic!("{report:?}");
        };
        assert_eq!(prefix, &[0, 1]);
        assert_eq!(*unplaced, 2);
        let text = report.describe(&Register, &history);
        assert!(
            text.contains("no order fits client 1's read -> 0"),
            "{text}"
        );
    }

    #[test]
    fn an_operation_that_never_returned_may_take_effect_late() {
        let history = [
            op(0, Op::Write(1), 0, 0, u64::MAX),
            op(1, Op::Read, 0, 1, 2),
            op(1, Op::Read, 1, 3, 4),
        ];
        assert_eq!(
            check(&Register, &history, Budget::default()).verdict,
            Verdict::Linearizable
        );
    }

    #[test]
    fn running_out_of_states_is_unknown_not_linearizable() {
        let history: Vec<_> = (0..16)
            .map(|i| op(i, Op::Write(i as u8), 0, 0, 100))
            .collect();
        let budget = Budget {
            time: Duration::from_secs(10),
            max_states: 8,
        };
        let report = check(&Register, &history, budget);
        assert_eq!(report.verdict, Verdict::Unknown);
        assert_eq!(report.partitions[0].outcome, PartitionOutcome::OutOfStates);
    }
}
