//! The linearizability checker's time on the six porcupine histories.
//!
//! Run with `cargo bench -p tests --bench checker`. Prints, per history, the
//! verdict and the mean time of one check (parsing excluded) beside the Go
//! porcupine checker's time on a 2-core machine of the kind the project is
//! tested on (tests/data/porcupine-kv/README.md).

use std::time::{Duration, Instant};

use tests::linearizability::kv::{KvModel, parse_history};
use tests::linearizability::{Budget, check};

fn main() {
    let porcupine_ms = [
        ("c01-ok", 0.14),
        ("c01-bad", 0.07),
        ("c10-ok", 0.80),
        ("c10-bad", 0.55),
        ("c50-ok", 161.0),
        ("c50-bad", 15.0),
    ];
    println!(
        "{:<8} {:>6} {:<18} {:>10} {:>14}",
        "history", "ops", "verdict", "ms", "porcupine ms"
    );
    for (name, porcupine) in porcupine_ms {
        let path = format!(
            "{}/data/porcupine-kv/{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let text =
            std::fs::read_to_string(&path).expect("the shared histories are in the repository");
        let history = parse_history(&text).expect("the shared histories parse");
        let mut runs = 0u32;
        let mut total = Duration::ZERO;
        let mut verdict = None;
        while runs < 5 || (total < Duration::from_secs(1) && runs < 1000) {
            let start = Instant::now();
            let report = check(&KvModel, &history, Budget::default());
            total += start.elapsed();
            verdict = Some(report.verdict);
            runs += 1;
        }
        let mean_ms = total.as_secs_f64() * 1e3 / f64::from(runs);
        let verdict = verdict.expect("at least one run").to_string();
        println!(
            "{name:<8} {:>6} {verdict:<18} {mean_ms:>10.3} {porcupine:>14.2}",
            history.len()
        );
    }
}
