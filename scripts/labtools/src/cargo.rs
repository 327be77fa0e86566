//! Running cargo for its JSON messages (`--message-format=json…`): the one
//! runner and the one message type behind the builds of the suites
//! ([`suite::build_and_list`](crate::suite::build_and_list)) and the
//! grader's clippy ([`gate`](crate::gate)).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use serde::Deserialize;

/// A cargo command run in `root` (the `cargo` that runs these tools, if
/// any: `CARGO`).
pub fn command(root: &Path) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root);
    command
}

/// What becomes of cargo's standard error (the compiler's rendered
/// messages, cargo's progress).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stderr {
    /// Shown on the tools' standard error as it comes, and kept.
    Relay,
    /// Only kept.
    Keep,
}

/// How a cargo command ended.
#[derive(Debug)]
pub struct Ended {
    /// Its exit status.
    pub status: ExitStatus,
    /// The lines it wrote to standard error.
    pub stderr: Vec<String>,
}

/// Runs `command` (cargo with a JSON message format; `shown` names it in
/// errors), handing `each` every message on its standard output in order,
/// and returns how it ended. Standard error is read beside it, so neither
/// pipe can fill and stall cargo.
///
/// # Errors
/// When cargo cannot be started, or its output cannot be read.
pub fn run(
    mut command: Command,
    shown: &str,
    stderr: Stderr,
    mut each: impl FnMut(Message),
) -> Result<Ended, String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let stdout = child.stdout.take().expect("piped above");
    let errors = child.stderr.take().expect("piped above");
    let relay = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for line in BufReader::new(errors).lines().map_while(Result::ok) {
            if stderr == Stderr::Relay {
                eprintln!("{line}");
            }
            kept.push(line);
        }
        kept
    });
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading the output of {shown}: {e}"))?;
        // Lines that are not cargo's messages (a build script's) pass.
        if let Ok(message) = serde_json::from_str::<Message>(&line) {
            each(message);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {shown}: {e}"))?;
    Ok(Ended {
        status,
        stderr: relay.join().unwrap_or_default(),
    })
}

/// One of cargo's JSON messages: the fields of a `compiler-artifact` and
/// of a `compiler-message` that the tools read (each absent from the
/// other kind).
#[derive(Debug, Deserialize)]
pub struct Message {
    /// `compiler-artifact`, `compiler-message`, `build-finished`, ...
    pub reason: String,
    /// An artifact's executable, if it is one.
    #[serde(default)]
    pub executable: Option<PathBuf>,
    /// The target an artifact was built for.
    #[serde(default)]
    pub target: Option<Target>,
    /// The manifest of the artifact's package.
    #[serde(default)]
    pub manifest_path: Option<PathBuf>,
    /// The profile an artifact was built with.
    #[serde(default)]
    pub profile: Option<Profile>,
    /// Whether cargo reused the artifact from an earlier build.
    #[serde(default)]
    pub fresh: bool,
    /// A compiler message's diagnostic.
    #[serde(default)]
    pub message: Option<Diagnostic>,
}

/// A build target: its name and kinds (`lib`, `bin`, `test`, ...).
#[derive(Debug, Deserialize)]
pub struct Target {
    /// Its name (`raft` for `tests/tests/raft/main.rs`).
    pub name: String,
    /// Its kinds.
    pub kind: Vec<String>,
}

/// The profile of an artifact.
#[derive(Debug, Deserialize)]
pub struct Profile {
    /// Whether it was built as a test.
    pub test: bool,
}

/// A compiler diagnostic.
#[derive(Debug, Deserialize)]
pub struct Diagnostic {
    /// Its message.
    pub message: String,
    /// Its code (a lint's name, or `E0453`).
    #[serde(default)]
    pub code: Option<Code>,
    /// As the compiler renders it for a terminal.
    #[serde(default)]
    pub rendered: Option<String>,
    /// `error`, `warning`, `note`, ...
    pub level: String,
    /// Where it points.
    #[serde(default)]
    pub spans: Vec<Span>,
    /// Its notes and helps.
    #[serde(default)]
    pub children: Vec<Diagnostic>,
}

/// A diagnostic's code.
#[derive(Debug, Deserialize)]
pub struct Code {
    /// The code itself.
    pub code: String,
}

/// A place in a source a diagnostic points at.
#[derive(Debug, Deserialize)]
pub struct Span {
    /// The file, relative to the workspace.
    pub file_name: String,
    /// Its first line.
    pub line_start: usize,
    /// Whether it is the diagnostic's main place.
    pub is_primary: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_both_kinds_read() {
        let artifact: Message = serde_json::from_str(
            r#"{"reason":"compiler-artifact","executable":"/t/raft-1","fresh":true,
                "target":{"name":"raft","kind":["test"]},"manifest_path":"/w/tests/Cargo.toml",
                "profile":{"test":true},"package_id":"x"}"#,
        )
        .unwrap();
        assert_eq!(artifact.target.map(|t| t.name), Some("raft".to_owned()));
        assert!(artifact.fresh && artifact.profile.is_some_and(|p| p.test));
        let message: Message = serde_json::from_str(
            r#"{"reason":"compiler-message","message":{"message":"use of a disallowed method",
                "code":{"code":"clippy::disallowed_methods","explanation":null},"level":"error",
                "spans":[{"file_name":"labraft/src/raft.rs","line_start":3,"is_primary":true}],
                "children":[],"rendered":"error: ..."}}"#,
        )
        .unwrap();
        let diagnostic = message.message.expect("a diagnostic");
        assert_eq!(diagnostic.spans[0].line_start, 3);
        assert_eq!(
            diagnostic.code.map(|c| c.code),
            Some("clippy::disallowed_methods".to_owned())
        );
    }
}
