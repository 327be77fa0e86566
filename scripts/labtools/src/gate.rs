//! The grader's static gate: clippy over the student crates of a graded
//! copy, with the instructor's rules (`labraft/clippy.toml`) and every rule
//! that keeps graded code away from processes, files, the network, the
//! environment and the panic machinery made `forbid`, so that an `#[allow]`
//! in the submission cannot switch it off (the compiler rejects the
//! attribute). `unsafe_code` is forbidden by the workspace's lints, which
//! the instructor's manifests apply to the student crates.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::submission::STUDENT_CRATES;

/// The lints the gate forbids.
pub const FORBIDDEN: [&str; 4] = [
    "clippy::disallowed_methods",
    "clippy::disallowed_types",
    "clippy::disallowed_macros",
    "unsafe_code",
];

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    message: Option<Diagnostic>,
}

#[derive(Deserialize)]
struct Diagnostic {
    message: String,
    level: String,
    #[serde(default)]
    spans: Vec<Span>,
    #[serde(default)]
    children: Vec<Diagnostic>,
}

#[derive(Deserialize)]
struct Span {
    file_name: String,
    line_start: usize,
    is_primary: bool,
}

/// Runs the gate over the graded copy at `root`, building in `target_dir`.
/// `Ok` with nothing when the student crates pass; otherwise each error,
/// as `file:line: message (why)`: a forbidden use, or a compile error.
///
/// # Errors
/// When clippy cannot be run at all; the message says what to install.
pub fn check(root: &Path, target_dir: &Path) -> Result<Vec<String>, String> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target_dir)
        .args(["clippy", "--locked", "--message-format=json"]);
    for name in STUDENT_CRATES {
        command.args(["-p", name]);
    }
    command.arg("--");
    for lint in FORBIDDEN {
        command.args(["-F", lint]);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo clippy: {e}"))?;
    let stdout = child.stdout.take().expect("piped above");
    let mut errors = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading cargo clippy's output: {e}"))?;
        let Ok(message) = serde_json::from_str::<Message>(&line) else {
            continue;
        };
        let Some(diagnostic) = message
            .message
            .filter(|_| message.reason == "compiler-message")
        else {
            continue;
        };
        if diagnostic.level != "error" {
            continue;
        }
        let Some(span) = diagnostic.spans.iter().find(|s| s.is_primary) else {
            // "could not compile ... due to N previous errors" and the like.
            continue;
        };
        let why: Vec<&str> = diagnostic
            .children
            .iter()
            .filter(|c| c.level == "note" && !c.message.starts_with('`'))
            .filter(|c| !c.message.contains("for further information"))
            .filter(|c| !c.message.starts_with("requested on the command line"))
            .map(|c| c.message.as_str())
            .collect();
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join("; "))
        };
        errors.push(format!(
            "{}:{}: {}{why}",
            span.file_name, span.line_start, diagnostic.message
        ));
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("waiting for cargo clippy: {e}"))?;
    if !output.status.success() && errors.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        return Err(format!(
            "cargo clippy failed ({}) without a diagnostic (is clippy installed? \
             `rustup component add clippy`):\n{}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    errors.dedup();
    Ok(errors)
}
