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

/// The timeline labels each bar with its operation (clipped to the bar),
/// numbers the prefix's bars with their steps, marks the operation that
/// could not be placed, and draws a call that never returned dashed to the
/// end, saying so.
#[test]
fn the_timeline_labels_bars_and_marks_calls_that_never_returned() {
    let text = r#"{:process 0, :type :invoke, :f :put, :key "k", :value "a"}
{:process 0, :type :ok, :f :put, :key "k", :value "a"}
{:process 1, :type :invoke, :f :append, :key "k", :value "b"}
{:process 2, :type :invoke, :f :get, :key "k", :value nil}
{:process 2, :type :ok, :f :get, :key "k", :value "ab"}
{:process 3, :type :invoke, :f :get, :key "k", :value nil}
{:process 3, :type :ok, :f :get, :key "k", :value "a"}
"#;
    let history = parse_history(text).expect("a well-formed history");
    let report = check(&KvModel, &history, Budget::default());
    assert_eq!(report.verdict, Verdict::Illegal);
    let page = html::render(&KvModel, &history, &report, "example");
    assert!(
        page.contains(r#"<tspan class="step">1</tspan> put(&quot;k&quot;, &quot;a&quot;)"#),
        "the first step is numbered and labelled in its bar:\n{page}"
    );
    assert!(
        page.contains(r#"<tspan class="step">✗</tspan> get(&quot;k&quot;) -&gt;"#),
        "the unplaced operation is marked, and labelled as far as its bar allows:\n{page}"
    );
    assert!(
        page.contains(r#"<g class="prefix pending">"#),
        "the append that never returned is drawn as pending:\n{page}"
    );
    assert!(page.contains("append(&quot;k&quot;, &quot;b&quot;) · never returned →"));
    assert_eq!(
        page.matches("never returned").count(),
        // Its tooltip and its label, in the failing key's timeline and in
        // the whole history's; and the legend.
        5,
        "{page}"
    );
}
