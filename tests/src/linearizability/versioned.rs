//! The versioned key/value model: `get` and a conditional `put` on a store
//! that keeps a version beside each key's value, with the errors a clerk of
//! such a store reports (the course's `kvsrv`, 2025 on, and the services
//! built after it).
//!
//! A key starts absent: value `""`, version 0. A `put(key, value, version)`
//! takes effect only when `version` is the key's current version (0 creates
//! an absent key), and then stores `value` with the version one higher.
//! What a clerk may report, and what each report allows:
//!
//! | operation | report | legal when, at its point in the order | state after |
//! |---|---|---|---|
//! | `get` | value, version, `Ok` | they are the key's, and the key exists | unchanged |
//! | `get` | `""`, 0, `NoKey` | the key is absent | unchanged |
//! | `put` | `Ok` | `version` is the key's | value, version + 1 |
//! | `put` | `Version` | `version` is not the key's | unchanged |
//! | `put` | `NoKey` | the key is absent and `version` > 0 | unchanged |
//! | `put` | `Maybe` | always: it took effect exactly when `version` was the key's | as `Ok` or `Version` |
//!
//! `Maybe` needs no choice of its own: a put that did take effect did so
//! when its version matched, and one that did not can be placed where the
//! version differed (the moment its re-sent request was refused), so the
//! order decides. An operation that never returned is a `Maybe` that may
//! also be placed last, where it constrains nothing.
//!
//! The course's model (`models1/kv.go`) checks less: it ignores the version
//! and error of a `get` and finds every `NoKey` put illegal (no test logs
//! one). This model holds a `get` to the version as well, and a `NoKey` put
//! to the server's rule; a correct server meets both, so every history the
//! course's model accepts from a correct server, this one accepts too.

use std::fmt;
use std::sync::Arc;

use super::{Model, Operation, Pending, partition_by_key};

/// A key's version: how many puts have taken effect on it.
pub type Version = u64;

/// The versioned key/value store's sequential specification.
pub struct VersionedKvModel;

/// A versioned key/value operation's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionedInput {
    /// Read a key.
    Get {
        /// The key.
        key: String,
    },
    /// Replace a key's value if its version is `version`.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: String,
        /// The version the key must have.
        version: Version,
    },
}

impl VersionedInput {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            VersionedInput::Get { key } | VersionedInput::Put { key, .. } => key,
        }
    }
}

/// What a versioned `get` reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetOutcome {
    /// The key exists.
    Ok,
    /// The key is absent (its value is `""` and its version 0).
    NoKey,
}

/// What a versioned `put` reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// It took effect.
    Ok,
    /// It did not: the key's version was another.
    Version,
    /// It did not: the key is absent and the version was above 0.
    NoKey,
    /// It may or may not have taken effect (a re-sent request was refused
    /// for its version: the first may have done it).
    Maybe,
}

/// A versioned key/value operation's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionedOutput {
    /// What a `get` returned.
    Get {
        /// The value.
        value: String,
        /// Its version.
        version: Version,
        /// Whether the key existed.
        outcome: GetOutcome,
    },
    /// What a `put` reported.
    Put(PutOutcome),
    /// The operation never returned.
    Unknown,
}

/// One key's value and version in the model. The value is shared, so that
/// the search copies a state in constant time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VersionedState {
    value: Arc<str>,
    version: Version,
}

impl VersionedState {
    /// The key's value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The key's version (0: absent).
    pub fn version(&self) -> Version {
        self.version
    }
}

/// An operation of a versioned key/value history.
pub type VersionedOperation = Operation<VersionedKvModel>;

impl Model for VersionedKvModel {
    type State = VersionedState;
    type Input = VersionedInput;
    type Output = VersionedOutput;

    fn init(&self) -> VersionedState {
        VersionedState::default()
    }

    fn step(
        &self,
        state: &VersionedState,
        input: &VersionedInput,
        output: &VersionedOutput,
    ) -> Option<VersionedState> {
        let matches = |version: Version| version == state.version;
        let applied = |value: &str| VersionedState {
            value: value.into(),
            version: state.version + 1,
        };
        match (input, output) {
            (
                VersionedInput::Get { .. },
                VersionedOutput::Get {
                    value,
                    version,
                    outcome,
                },
            ) => {
                let exists = state.version > 0;
                let legal = **value == *state.value
                    && matches(*version)
                    && (*outcome == GetOutcome::Ok) == exists;
                legal.then(|| state.clone())
            }
            (VersionedInput::Get { .. }, VersionedOutput::Unknown) => Some(state.clone()),
            (VersionedInput::Put { value, version, .. }, output) => match output {
                VersionedOutput::Put(PutOutcome::Ok) => matches(*version).then(|| applied(value)),
                VersionedOutput::Put(PutOutcome::Version) => {
                    (!matches(*version)).then(|| state.clone())
                }
                VersionedOutput::Put(PutOutcome::NoKey) => {
                    (state.version == 0 && *version > 0).then(|| state.clone())
                }
                VersionedOutput::Put(PutOutcome::Maybe) | VersionedOutput::Unknown => {
                    Some(if matches(*version) {
                        applied(value)
                    } else {
                        state.clone()
                    })
                }
                VersionedOutput::Get { .. } => None,
            },
            (VersionedInput::Get { .. }, VersionedOutput::Put(_)) => None,
        }
    }

    /// Looks ahead to the next `get` to return: versions only grow, one with
    /// each put that takes effect, so that `get` must report a version at
    /// least the state's, and at the state's version, the state's value.
    /// This cuts an order that has placed a put too early the moment a
    /// later read rules it out, instead of when that read is reached.
    fn may_continue<'a>(
        &self,
        state: &VersionedState,
        mut pending: impl Iterator<Item = Pending<'a, Self>>,
    ) -> Result<(), Pending<'a, Self>> {
        let next = pending.find(|event| {
            event.returned && matches!(event.operation.output, VersionedOutput::Get { .. })
        });
        match next {
            Some(event) => match &event.operation.output {
                VersionedOutput::Get { value, version, .. }
                    if *version < state.version
                        || (*version == state.version && **value != *state.value) =>
                {
                    Err(event)
                }
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// One partition per key: operations on different keys cannot affect
    /// each other.
    fn partition(&self, history: &[VersionedOperation]) -> Vec<(String, Vec<usize>)> {
        partition_by_key(history, VersionedInput::key)
    }

    fn describe_operation(&self, input: &VersionedInput, output: &VersionedOutput) -> String {
        let told = match output {
            VersionedOutput::Get {
                value,
                version,
                outcome,
            } => format!("({}, {version}, {outcome:?})", Short(value)),
            VersionedOutput::Put(outcome) => format!("{outcome:?}"),
            VersionedOutput::Unknown => "?".to_owned(),
        };
        match input {
            VersionedInput::Get { key } => format!("get({key:?}) -> {told}"),
            VersionedInput::Put {
                key,
                value,
                version,
            } => format!("put({key:?}, {}, {version}) -> {told}", Short(value)),
        }
    }

    fn describe_state(&self, state: &VersionedState) -> String {
        format!("({}, {})", Short(&state.value), state.version)
    }
}

/// A value as reports show it: quoted, and cut in the middle past 40
/// characters.
struct Short<'a>(&'a str);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KEEP: usize = 18;
        let chars = self.0.chars().count();
        if chars <= 2 * KEEP + 4 {
            return write!(f, "{:?}", self.0);
        }
        let head: String = self.0.chars().take(KEEP).collect();
        let tail: String = self.0.chars().skip(chars - KEEP).collect();
        write!(f, "{head:?}…({} chars)…{tail:?}", chars - 2 * KEEP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::{Budget, Verdict, check, html};

    /// A history built one operation at a time, with times in steps of 10.
    #[derive(Default)]
    struct History(Vec<VersionedOperation>);

    impl History {
        fn op(
            mut self,
            client: usize,
            (call, ret): (u64, u64),
            input: VersionedInput,
            output: VersionedOutput,
        ) -> History {
            self.0.push(Operation {
                client,
                input,
                call,
                output,
                ret,
            });
            self
        }

        fn get(self, client: usize, at: (u64, u64), told: (&str, Version, GetOutcome)) -> History {
            let (value, version, outcome) = told;
            self.op(
                client,
                at,
                VersionedInput::Get { key: "k".into() },
                VersionedOutput::Get {
                    value: value.into(),
                    version,
                    outcome,
                },
            )
        }

        fn put(
            self,
            client: usize,
            at: (u64, u64),
            (value, version): (&str, Version),
            told: PutOutcome,
        ) -> History {
            self.op(
                client,
                at,
                VersionedInput::Put {
                    key: "k".into(),
                    value: value.into(),
                    version,
                },
                VersionedOutput::Put(told),
            )
        }

        fn verdict(&self) -> Verdict {
            check(&VersionedKvModel, &self.0, Budget::default()).verdict
        }
    }

    use GetOutcome::{NoKey as Absent, Ok as Found};
    use PutOutcome::{Maybe, NoKey, Ok, Version as Stale};

    #[test]
    fn the_servers_rules_one_after_another() {
        let history = History::default()
            .get(0, (0, 1), ("", 0, Absent))
            .put(0, (2, 3), ("a", 1), NoKey)
            .put(0, (4, 5), ("a", 0), Ok)
            .get(0, (6, 7), ("a", 1, Found))
            .put(0, (8, 9), ("b", 0), Stale)
            .put(0, (10, 11), ("b", 1), Ok)
            .get(0, (12, 13), ("b", 2, Found));
        assert_eq!(history.verdict(), Verdict::Linearizable);
    }

    #[test]
    fn each_rule_broken_alone_is_illegal() {
        let created = || History::default().put(0, (0, 1), ("a", 0), Ok);
        let cases = [
            (
                "a get of the wrong value",
                created().get(0, (2, 3), ("b", 1, Found)),
            ),
            (
                "a get of the wrong version",
                created().get(0, (2, 3), ("a", 2, Found)),
            ),
            (
                "a present key reported absent",
                created().get(0, (2, 3), ("", 0, Absent)),
            ),
            (
                "an absent key reported present",
                History::default().get(0, (0, 1), ("", 0, Found)),
            ),
            (
                "a put at a stale version that took effect",
                created().put(0, (2, 3), ("b", 0), Ok),
            ),
            (
                "a put at the current version refused",
                created().put(0, (2, 3), ("b", 1), Stale),
            ),
            (
                "NoKey for a present key",
                created().put(0, (2, 3), ("b", 2), NoKey),
            ),
            (
                "NoKey for a creating put",
                History::default().put(0, (0, 1), ("a", 0), NoKey),
            ),
            (
                "a stale read after a put returned",
                created().get(1, (2, 3), ("", 0, Absent)),
            ),
        ];
        for (what, history) in cases {
            assert_eq!(history.verdict(), Verdict::Illegal, "{what}");
        }
    }

    /// Two clients both told their put at version 0 took effect: only one
    /// can have, whatever the order.
    #[test]
    fn two_puts_of_one_version_cannot_both_take_effect() {
        let history =
            History::default()
                .put(0, (0, 10), ("a", 0), Ok)
                .put(1, (1, 11), ("b", 0), Ok);
        let report = check(&VersionedKvModel, &history.0, Budget::default());
        assert_eq!(report.verdict, Verdict::Illegal);
        let text = report.describe(&VersionedKvModel, &history.0);
        assert!(text.contains("put(\"k\", \"b\", 0) -> Ok"), "{text}");
        // The timeline shows both, the one that could not be placed marked.
        let page = html::render(&VersionedKvModel, &history.0, &[], &report, "two puts");
        assert!(
            page.contains("put(&quot;k&quot;, &quot;a&quot;, 0) -&gt; Ok"),
            "{page}"
        );
        assert!(page.contains("unplaced"), "{page}");
    }

    /// Maybe is legal both ways, and the reads decide which it was.
    #[test]
    fn maybe_is_whatever_the_reads_say() {
        let took_effect =
            History::default()
                .put(0, (0, 1), ("a", 0), Maybe)
                .get(0, (2, 3), ("a", 1, Found));
        let did_not = History::default()
            .put(1, (0, 5), ("b", 0), Ok)
            .put(0, (1, 6), ("a", 0), Maybe)
            .get(0, (7, 8), ("b", 1, Found));
        assert_eq!(took_effect.verdict(), Verdict::Linearizable);
        assert_eq!(did_not.verdict(), Verdict::Linearizable);
        // But a Maybe is no licence to have happened twice, or after the
        // version moved on.
        let twice = History::default()
            .put(0, (0, 1), ("a", 0), Maybe)
            .get(0, (2, 3), ("a", 1, Found))
            .put(1, (4, 5), ("b", 1), Ok)
            .get(0, (6, 7), ("a", 3, Found));
        assert_eq!(twice.verdict(), Verdict::Illegal);
    }

    /// A put that never returned may take effect at any time after its
    /// call, or never.
    #[test]
    fn a_put_that_never_returned_may_or_may_not_have_happened() {
        let lost = |then: (&str, Version, GetOutcome)| {
            History::default()
                .op(
                    0,
                    (0, u64::MAX),
                    VersionedInput::Put {
                        key: "k".into(),
                        value: "a".into(),
                        version: 0,
                    },
                    VersionedOutput::Unknown,
                )
                .get(1, (1, 2), ("", 0, Absent))
                .get(1, (3, 4), then)
        };
        assert_eq!(lost(("a", 1, Found)).verdict(), Verdict::Linearizable);
        assert_eq!(lost(("", 0, Absent)).verdict(), Verdict::Linearizable);
        assert_eq!(lost(("b", 1, Found)).verdict(), Verdict::Illegal);
    }

    /// Concurrent operations may take effect in either order; reads that
    /// saw both orders cannot both be right.
    #[test]
    fn concurrent_puts_in_either_order_but_one() {
        let race = || {
            History::default()
                .put(0, (0, 10), ("a", 0), Maybe)
                .put(1, (0, 10), ("b", 0), Maybe)
        };
        let a_first = race().get(2, (11, 12), ("a", 1, Found));
        let b_first = race().get(2, (11, 12), ("b", 1, Found));
        let both = race()
            .get(2, (11, 12), ("a", 1, Found))
            .get(3, (13, 14), ("b", 1, Found));
        assert_eq!(a_first.verdict(), Verdict::Linearizable);
        assert_eq!(b_first.verdict(), Verdict::Linearizable);
        assert_eq!(both.verdict(), Verdict::Illegal);
    }

    /// Keys are independent: each is checked on its own, and the report
    /// names the key that failed.
    #[test]
    fn keys_are_checked_apart() {
        let mut history = History::default().put(0, (0, 1), ("a", 0), Ok);
        history.0.push(Operation {
            client: 1,
            input: VersionedInput::Get { key: "j".into() },
            call: 2,
            output: VersionedOutput::Get {
                value: "a".into(),
                version: 1,
                outcome: GetOutcome::Ok,
            },
            ret: 3,
        });
        let report = check(&VersionedKvModel, &history.0, Budget::default());
        assert_eq!(report.verdict, Verdict::Illegal);
        assert_eq!(report.partitions.len(), 2);
        assert!(
            report.partitions.iter().any(|p| p.name == "key \"j\""
                && matches!(
                    p.outcome,
                    crate::linearizability::PartitionOutcome::Illegal { .. }
                )),
            "{:?}",
            report.partitions
        );
    }

    /// Histories of a correct store under ten clients racing on one key (as
    /// the course's concurrent put test does): each operation takes effect
    /// at a random moment between its call and its return, and a clerk
    /// whose put took effect but whose reply was lost reports Maybe. Every
    /// such history is linearizable, and one read changed to a value no put
    /// wrote is not.
    #[test]
    fn a_correct_store_under_racing_clients_is_linearizable() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        for _ in 0..20 {
            // (client, call, effect, return) per operation, then the effects
            // applied in time order.
            let mut planned = Vec::new();
            for client in 0..10 {
                let mut now = random(5);
                for _ in 0..40 {
                    let effect = now + 1 + random(20);
                    let ret = effect + 1 + random(20);
                    planned.push((effect, client, now, ret, random(3) == 0));
                    now = ret + random(5);
                }
            }
            planned.sort_unstable();
            let mut store = VersionedState::default();
            let mut history = History::default();
            let mut believed = [0; 10];
            for (n, &(_, client, call, ret, is_get)) in planned.iter().enumerate() {
                if is_get {
                    let outcome = if store.version > 0 { Found } else { Absent };
                    history =
                        history.get(client, (call, ret), (&store.value, store.version, outcome));
                    believed[client] = store.version;
                    continue;
                }
                let version = believed[client];
                let value = format!("{client}.{n}");
                let told = if version == store.version {
                    store = VersionedState {
                        value: value.as_str().into(),
                        version: version + 1,
                    };
                    believed[client] = version + 1;
                    if random(4) == 0 { Maybe } else { Ok }
                } else if random(4) == 0 {
                    Maybe
                } else {
                    Stale
                };
                history = history.put(client, (call, ret), (&value, version), told);
            }
            assert_eq!(history.verdict(), Verdict::Linearizable);
            let read = history
                .0
                .iter()
                .rposition(|op| matches!(op.input, VersionedInput::Get { .. }))
                .expect("some reads");
            if let VersionedOutput::Get { value, .. } = &mut history.0[read].output {
                value.push('!');
            }
            assert_eq!(history.verdict(), Verdict::Illegal);
        }
    }

    #[test]
    fn long_values_are_cut_in_descriptions() {
        let long = "x".repeat(100);
        let text = VersionedKvModel.describe_operation(
            &VersionedInput::Put {
                key: "k".into(),
                value: long,
                version: 3,
            },
            &VersionedOutput::Put(PutOutcome::Maybe),
        );
        assert!(
            text.starts_with("put(\"k\", \"xxxxxxxxxxxxxxxxxx\"…(64 chars)…"),
            "{text}"
        );
        assert!(text.ends_with(", 3) -> Maybe"), "{text}");
    }
}
