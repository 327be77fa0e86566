//! The checker against the six key/value histories of the porcupine
//! checker's own test data (tests/data/porcupine-kv), each with the verdict
//! porcupine gives.

use std::path::PathBuf;

use tests::linearizability::kv::{KvModel, parse_history};
use tests::linearizability::{Budget, PartitionOutcome, Verdict, check, html};

fn verdict_of(name: &str) -> Verdict {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/porcupine-kv")
        .join(format!("{name}.txt"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let history = parse_history(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let report = check(&KvModel, &history, Budget::default());
    if report.verdict == Verdict::Illegal {
        // An illegal verdict comes with its explanation.
        let failing = report
            .partitions
            .iter()
            .find_map(|p| match &p.outcome {
                PartitionOutcome::Illegal { prefix, unplaced } => Some((prefix, *unplaced)),
                _ => None,
            })
            .expect("an illegal verdict names an illegal partition");
        assert!(
            !failing.0.contains(&failing.1),
            "the unplaced operation is not in the prefix"
        );
        let text = report.describe(&KvModel, &history);
        assert!(text.contains("then no order fits"), "{text}");
        let page = html::render(&KvModel, &history, &report, name);
        assert!(page.contains("could not be placed after the prefix"));
    }
    report.verdict
}

#[test]
fn c01_ok_is_linearizable() {
    assert_eq!(verdict_of("c01-ok"), Verdict::Linearizable);
}

#[test]
fn c01_bad_is_not_linearizable() {
    assert_eq!(verdict_of("c01-bad"), Verdict::Illegal);
}

#[test]
fn c10_ok_is_linearizable() {
    assert_eq!(verdict_of("c10-ok"), Verdict::Linearizable);
}

#[test]
fn c10_bad_is_not_linearizable() {
    assert_eq!(verdict_of("c10-bad"), Verdict::Illegal);
}

#[test]
fn c50_ok_is_linearizable() {
    assert_eq!(verdict_of("c50-ok"), Verdict::Linearizable);
}

#[test]
fn c50_bad_is_not_linearizable() {
    assert_eq!(verdict_of("c50-bad"), Verdict::Illegal);
}
