//! Re-checks a saved key/value history for linearizability, with a larger
//! budget than the tests allow, and rewrites its HTML timeline.
//!
//! ```text
//! cargo run -p tests --bin check-history -- HISTORY [--seconds N] [--html OUT]
//! ```
//!
//! Prints the verdict and, for a history that is not linearizable, the
//! longest linearizable prefix of each failing key and the operation that
//! could not be placed; writes the timeline to OUT (default: HISTORY with
//! the extension `.html`). Exit status: 0 linearizable, 1 not linearizable,
//! 2 unknown (out of budget), 3 bad arguments or input.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tests::linearizability::kv::{KvModel, parse_history};
use tests::linearizability::{Budget, Verdict, check, html};

const USAGE: &str = "usage: check-history HISTORY [--seconds N] [--html OUT]";

struct Args {
    history: PathBuf,
    seconds: u64,
    html: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args_os().skip(1);
    let mut history = None;
    let mut seconds = 60;
    let mut html = None;
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--seconds") => {
                let value = args.next().ok_or("--seconds needs a number")?;
                seconds = value
                    .to_str()
                    .and_then(|s| s.parse().ok())
                    .filter(|&s| s > 0)
                    .ok_or_else(|| format!("--seconds needs a positive number, got {value:?}"))?;
            }
            Some("--html") => html = Some(PathBuf::from(args.next().ok_or("--html needs a path")?)),
            Some("-h" | "--help") => return Err(String::new()),
            Some(flag) if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            _ if history.is_none() => history = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(Args {
        history: history.ok_or("no history file given")?,
        seconds,
        html,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("check-history: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(3);
        }
    };
    let text = match std::fs::read_to_string(&args.history) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("check-history: cannot read {}: {e}", args.history.display());
            return ExitCode::from(3);
        }
    };
    let history = match parse_history(&text) {
        Ok(history) => history,
        Err(e) => {
            eprintln!("check-history: {}: {e}", args.history.display());
            return ExitCode::from(3);
        }
    };
    let budget = Budget {
        time: Duration::from_secs(args.seconds),
        ..Budget::default()
    };
    let report = check(&KvModel, &history, budget);
    print!("{}", report.describe(&KvModel, &history));
    if report.verdict == Verdict::Illegal {
        let out = args
            .html
            .unwrap_or_else(|| args.history.with_extension("html"));
        let title = format!("{} is not linearizable", args.history.display());
        match std::fs::write(&out, html::render(&KvModel, &history, &[], &report, &title)) {
            Ok(()) => println!("timeline written to {}", out.display()),
            Err(e) => {
                eprintln!("check-history: cannot write {}: {e}", out.display());
                return ExitCode::from(3);
            }
        }
    }
    match report.verdict {
        Verdict::Linearizable => ExitCode::SUCCESS,
        Verdict::Illegal => ExitCode::from(1),
        Verdict::Unknown => ExitCode::from(2),
    }
}
