//! The checker against the six key/value histories of the porcupine
//! checker's own test data (tests/data/porcupine-kv), each with the verdict
//! porcupine gives.

use std::path::PathBuf;

use tests::linearizability::html::{EventKind, HarnessEvent};
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
        let page = html::render(&KvModel, &history, &[], &report, name);
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
    let page = html::render(&KvModel, &history, &[], &report, "example");
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

/// What the harness did is drawn beside the operations: a row per kind of
/// event, in order, each event where it falls among the calls and returns,
/// with its text in its tooltip and in the list below the timeline.
#[test]
fn the_timeline_shows_what_the_harness_did() {
    // Event times: each call and return is one more than the line before.
    let text = r#"{:process 0, :type :invoke, :f :put, :key "k", :value "a"}
{:process 0, :type :ok, :f :put, :key "k", :value "a"}
{:process 1, :type :invoke, :f :get, :key "k", :value nil}
{:process 1, :type :ok, :f :get, :key "k", :value ""}
"#;
    let history = parse_history(text).expect("a well-formed history");
    let report = check(&KvModel, &history, Budget::default());
    assert_eq!(report.verdict, Verdict::Illegal);
    let (put_returned, get_called) = (history[0].ret, history[1].call);
    assert!(put_returned < get_called);
    let events = [
        HarnessEvent {
            at: 0,
            kind: EventKind::Network,
            text: "network unreliable".into(),
        },
        HarnessEvent {
            at: put_returned,
            kind: EventKind::Servers,
            text: "shut down server 2".into(),
        },
        HarnessEvent {
            at: get_called + 1,
            kind: EventKind::Checker,
            text: "check of 2 operations: NOT linearizable".into(),
        },
    ];
    let page = html::render(&KvModel, &history, &events, &report, "events");
    let rows: Vec<usize> = ["network", "servers", "checker", "client 0", "client 1"]
        .iter()
        .map(|name| {
            page.find(&format!(">{name}</text>"))
                .unwrap_or_else(|| panic!("no row named {name}:\n{page}"))
        })
        .collect();
    assert!(
        rows.windows(2).all(|w| w[0] < w[1]),
        "the events' rows come first, in the kinds' order, then the clients':\n{page}"
    );
    assert!(
        page.contains(&format!("servers, at {put_returned}: shut down server 2")),
        "an event's tooltip says its kind, its time and what happened:\n{page}"
    );
    assert!(page.contains("What the harness did (3 events;"), "{page}");
    assert!(page.contains("<td>checker</td><td>check of 2 operations: NOT linearizable</td>"));
    // Both timelines (the failing key's and the whole history's) draw
    // every event, each with its line down through the clients.
    assert_eq!(page.matches("<line ").count(), 6, "{page}");
}
