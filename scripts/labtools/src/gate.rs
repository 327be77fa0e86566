//! The grader's static gate: a scan of the student crates' sources for
//! memory that outlives a peer's instance ([`scan::process_wide_state`]:
//! statics that are not plain data, thread-locals), then clippy over the
//! student crates of a graded copy, with the instructor's rules
//! (`labraft/clippy.toml`) and every rule that keeps graded code away from
//! processes, files, the network, the environment and the panic machinery
//! made `forbid`, so that an `#[allow]` in the submission cannot switch it
//! off (the compiler rejects the attribute). `unsafe_code` is forbidden by
//! the workspace's lints, which the instructor's manifests apply to the
//! student crates.
//!
//! The suites do not take the gate on trust: what the gate refuses to let
//! a peer keep across a crash, the harness's persistence check
//! (`tests::cluster::Cluster::check_persisted`) catches from outside.

use std::path::Path;

use crate::submission::STUDENT_CRATES;
use crate::{cargo, scan, tree};

/// The lints the gate forbids.
pub const FORBIDDEN: [&str; 4] = [
    "clippy::disallowed_methods",
    "clippy::disallowed_types",
    "clippy::disallowed_macros",
    "unsafe_code",
];

/// What the gate found in a graded copy.
#[derive(Debug, Default)]
pub struct Findings {
    /// What the gate refuses, each as `file:line: message (why)`:
    /// process-wide state, a forbidden use, an `#[allow]` of a forbidden
    /// lint.
    pub refusals: Vec<String>,
    /// The compiler's own errors, as it renders them: the submission does
    /// not build, which is no refusal.
    pub compile_errors: Vec<String>,
}

/// The compiler's code for an `#[allow]` of a lint forbidden on the
/// command line.
const ALLOW_OF_FORBIDDEN: &str = "E0453";

/// Runs the gate over the graded copy at `root`, building in `target_dir`:
/// what it refuses, and the compile errors it met on the way.
///
/// # Errors
/// When a source cannot be read, or clippy cannot be run at all; the
/// message says what to install.
pub fn check(root: &Path, target_dir: &Path) -> Result<Findings, String> {
    let mut findings = clippy(root, target_dir)?;
    let mut refusals = process_wide_state(root)?;
    refusals.append(&mut findings.refusals);
    findings.refusals = refusals;
    Ok(findings)
}

/// Each `file:line: why` of [`scan::process_wide_state`] in the student
/// crates' sources under `root`.
fn process_wide_state(root: &Path) -> Result<Vec<String>, String> {
    let mut errors = Vec::new();
    for name in STUDENT_CRATES {
        let src = root.join(name).join("src");
        if !src.is_dir() {
            continue;
        }
        for file in tree::files(&src, &[])? {
            if file.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let path = src.join(&file);
            let bytes =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            for (line, why) in scan::process_wide_state(&String::from_utf8_lossy(&bytes)) {
                errors.push(format!("{name}/src/{}:{line}: {why}", file.display()));
            }
        }
    }
    Ok(errors)
}

/// Clippy's errors over the student crates, with [`FORBIDDEN`] forbidden:
/// the lints' (and `#[allow]`s of them) as refusals, the rest as compile
/// errors.
fn clippy(root: &Path, target_dir: &Path) -> Result<Findings, String> {
    let mut command = cargo::command(root);
    command.env("CARGO_TARGET_DIR", target_dir).args([
        "clippy",
        "--locked",
        "--message-format=json",
    ]);
    for name in STUDENT_CRATES {
        command.args(["-p", name]);
    }
    command.arg("--");
    for lint in FORBIDDEN {
        command.args(["-F", lint]);
    }
    let mut findings = Findings::default();
    let ended = cargo::run(command, "cargo clippy", cargo::Stderr::Keep, |message| {
        let Some(diagnostic) = message
            .message
            .filter(|_| message.reason == "compiler-message")
        else {
            return;
        };
        if diagnostic.level != "error" {
            return;
        }
        let Some(span) = diagnostic.spans.iter().find(|s| s.is_primary) else {
            // "could not compile ... due to N previous errors" and the like.
            return;
        };
        let code = diagnostic.code.as_ref().map_or("", |c| c.code.as_str());
        if !FORBIDDEN.contains(&code) && code != ALLOW_OF_FORBIDDEN {
            let rendered = diagnostic.rendered.clone().unwrap_or_else(|| {
                format!(
                    "error: {}\n --> {}:{}",
                    diagnostic.message, span.file_name, span.line_start
                )
            });
            findings.compile_errors.push(rendered);
            return;
        }
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
        findings.refusals.push(format!(
            "{}:{}: {}{why}",
            span.file_name, span.line_start, diagnostic.message
        ));
    })?;
    if !ended.status.success() && findings.refusals.is_empty() && findings.compile_errors.is_empty()
    {
        let tail = &ended.stderr[ended.stderr.len().saturating_sub(15)..];
        return Err(format!(
            "cargo clippy failed ({}) without a diagnostic (is clippy installed? \
             `rustup component add clippy`):\n{}",
            ended.status,
            tail.join("\n")
        ));
    }
    findings.refusals.dedup();
    findings.compile_errors.dedup();
    Ok(findings)
}
