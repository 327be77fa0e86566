//! Planted bugs: the catalogue in `mutants/`, and the working copy of the
//! checkout that `scripts/mutants` plants them in, one at a time.
//!
//! A mutant is a TOML file, `mutants/NAME.toml`:
//!
//! ```toml
//! description = "a follower grants its vote twice in one term"
//! part = "2a"
//!
//! [[edit]]
//! file = "labraft/src/core/election.rs"
//! find = "let free = self.voted_for.is_none_or(|v| v == args.candidate_id);"
//! replace = "let free = true;"
//! ```
//!
//! `part` is the lab part whose tests must catch it; each `[[edit]]` is an
//! [`Edit`] of the reference solution. The working copy is built with
//! `--cfg lab_mutant` ([`CFG`]), which turns off the reference's checks of
//! its own invariants: a mutant counts as caught only by the suites.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::edit::{self, Edit};
use crate::suite::Part;
use crate::tree;

/// The catalogue's directory, under the checkout's root.
pub const CATALOGUE: &str = "mutants";

/// The `--cfg` name a mutant's build sets.
pub const CFG: &str = "lab_mutant";

/// One planted bug.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutant {
    /// Its file's name without `.toml`.
    #[serde(skip)]
    pub name: String,
    /// The bug, in one line.
    pub description: String,
    /// The lab part whose tests must catch it (`part = "2a"`).
    pub part: Part,
    /// The changes to the reference solution that plant it.
    pub edit: Vec<Edit>,
}

/// Every mutant of the catalogue at `dir`, by part in the labs' order, then
/// by name.
///
/// # Errors
/// When the directory or a file cannot be read, or a file is not a mutant
/// (bad TOML, an unknown part, no edit); the message names the file.
pub fn catalogue(dir: &Path) -> Result<Vec<Mutant>, String> {
    let entries = fs::read_dir(dir)
        .map_err(|e| format!("cannot read the catalogue {}: {e}", dir.display()))?;
    let mut mutants = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read the catalogue {}: {e}", dir.display()))?
            .path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".toml"))
        else {
            continue;
        };
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut mutant: Mutant =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        mutant.name = name.to_owned();
        if mutant.edit.is_empty() {
            return Err(format!(
                "{}: a mutant needs at least one [[edit]]",
                path.display()
            ));
        }
        mutants.push(mutant);
    }
    mutants.sort_by_key(|m| (m.part, m.name.clone()));
    Ok(mutants)
}

/// The mutants named by `patterns`: a part (`2b`) selects that part's, any
/// other pattern the mutants whose name contains it; all for none.
pub fn select<'a>(mutants: &'a [Mutant], patterns: &[String]) -> Vec<&'a Mutant> {
    mutants
        .iter()
        .filter(|m| {
            patterns.is_empty()
                || patterns
                    .iter()
                    .any(|p| p.parse() == Ok(m.part) || m.name.contains(p.as_str()))
        })
        .collect()
}

/// A copy of the checkout to plant mutants in, kept between runs so that
/// each mutant rebuilds only what it changes.
pub struct WorkCopy {
    checkout: PathBuf,
    dir: PathBuf,
    /// The files the planted mutant changed.
    planted: Vec<PathBuf>,
}

impl WorkCopy {
    /// Brings the copy at `dir` in line with `checkout`: every file whose
    /// contents differ is copied (the others keep their times, so cargo
    /// sees them unchanged), and files the checkout no longer has go.
    ///
    /// # Errors
    /// When a file cannot be read, copied or removed; the message names it.
    pub fn sync(checkout: &Path, dir: &Path) -> Result<WorkCopy, String> {
        let skip = [".git", CATALOGUE];
        let wanted = tree::files(checkout, &skip)?;
        for relative in &wanted {
            let same = fs::read(dir.join(relative))
                .ok()
                .is_some_and(|copy| fs::read(checkout.join(relative)).ok() == Some(copy));
            if !same {
                tree::copy(checkout, dir, relative)?;
            }
        }
        if dir.exists() {
            for relative in tree::files(dir, &skip)? {
                if !wanted.contains(&relative) {
                    let path = dir.join(&relative);
                    fs::remove_file(&path)
                        .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
                }
            }
        }
        Ok(WorkCopy {
            checkout: checkout.to_owned(),
            dir: dir.to_owned(),
            planted: Vec::new(),
        })
    }

    /// The copy's root.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Plants `mutant`, after undoing the one planted before.
    ///
    /// # Errors
    /// When an edit does not apply (the reference changed since the mutant
    /// was written), or a file cannot be read or written. The copy is then
    /// the reference again.
    pub fn plant(&mut self, mutant: &Mutant) -> Result<(), String> {
        self.restore()?;
        self.planted = mutant.edit.iter().map(|e| e.file.clone()).collect();
        let planted = edit::apply(&self.dir, &mutant.edit);
        if let Err(message) = planted {
            self.restore()?;
            return Err(message);
        }
        Ok(())
    }

    /// Undoes the planted mutant: the copy is the reference again.
    ///
    /// # Errors
    /// When a file cannot be copied back; the message names it.
    pub fn restore(&mut self) -> Result<(), String> {
        for relative in std::mem::take(&mut self.planted) {
            tree::copy(&self.checkout, &self.dir, &relative)?;
        }
        Ok(())
    }
}

/// The first panic in a test's log: where it was raised and what it said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panic {
    /// `FILE:LINE:COLUMN`, as the panic message gives it.
    pub at: String,
    /// The line after `panicked at …:`.
    pub message: String,
}

impl Panic {
    /// The workspace member whose source raised the panic (`tests`,
    /// `labraft`, `kvraft`, `labrpc`), or `other` (the standard library,
    /// a dependency). A panic raised in `tests` is one of the suites'
    /// checks; one raised in `labraft` or `kvraft` is the reference
    /// solution's own (a bounds check, an `expect`), which a student's
    /// code may or may not have.
    pub fn raised_in(&self) -> &'static str {
        let file = self.at.split(':').next().unwrap_or_default();
        let parts: Vec<&str> = file.split(['/', '\\']).collect();
        parts
            .windows(2)
            .rev()
            .find_map(|pair| match pair {
                [member, "src" | "tests"] => MEMBERS.iter().find(|m| *m == member).copied(),
                _ => None,
            })
            .unwrap_or("other")
    }
}

/// Whether `line`, after a panic's message, is past its end: the replay
/// command the harness adds, a backtrace or its note, another thread's
/// panic, or a blank line.
fn ends_a_message(line: &str) -> bool {
    line.trim().is_empty()
        || line.starts_with("  (replay this run")
        || line.starts_with("stack backtrace:")
        || line.starts_with("note: ")
        || line.starts_with("thread '")
}

/// The workspace members a panic can be raised in.
const MEMBERS: [&str; 4] = ["tests", "labraft", "kvraft", "labrpc"];

/// The first panic in a test's log, if there is one: the location after
/// `panicked at ` and the message on the lines after it, joined.
pub fn first_panic(log: &Path) -> Option<Panic> {
    let text = fs::read_to_string(log).ok()?;
    parse_first_panic(&text)
}

fn parse_first_panic(text: &str) -> Option<Panic> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((_, at)) = line.split_once(" panicked at ") {
            let at = at.trim_end().trim_end_matches(':').to_owned();
            let message: Vec<&str> = lines
                .take_while(|line| !ends_a_message(line))
                .map(str::trim)
                .collect();
            return Some(Panic {
                at,
                message: message.join(" "),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_select_by_part_or_name() {
        let mutant = |name: &str, part: &str| Mutant {
            name: name.into(),
            description: String::new(),
            part: part.parse().unwrap(),
            edit: Vec::new(),
        };
        let all = [mutant("vote-twice", "2a"), mutant("figure-8", "2c")];
        let names = |patterns: &[&str]| -> Vec<String> {
            let patterns: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
            select(&all, &patterns)
                .iter()
                .map(|m| m.name.clone())
                .collect()
        };
        assert_eq!(names(&[]), ["vote-twice", "figure-8"]);
        assert_eq!(names(&["2c"]), ["figure-8"]);
        assert_eq!(names(&["vote"]), ["vote-twice"]);
        assert!(names(&["2b"]).is_empty());
    }

    #[test]
    fn a_panic_is_placed_in_the_member_that_raised_it() {
        let log = "running 1 test\n\
            thread 'raft-0-ticker' panicked at labraft/src/core/log.rs:88:9:\n\
            entries 5.. requested,\n\
            but the log stores 7..9\n\
            \x20 (replay this run exactly with: LAB_SEED=1 cargo test x)\n\
            thread 'main' panicked at tests/src/raft.rs:1:1:\n\
            later\n";
        let first = parse_first_panic(log).expect("a panic");
        assert_eq!(first.at, "labraft/src/core/log.rs:88:9");
        assert_eq!(
            first.message,
            "entries 5.. requested, but the log stores 7..9"
        );
        let last = parse_first_panic("thread 'x' panicked at a/src/b.rs:1:2:\nmessage\n")
            .expect("a panic");
        assert_eq!(last.message, "message");
        assert_eq!(first.raised_in(), "labraft");
        let at = |at: &str| {
            Panic {
                at: at.into(),
                message: String::new(),
            }
            .raised_in()
        };
        assert_eq!(at("tests/tests/raft/beyond.rs:10:5"), "tests");
        assert_eq!(at("tests/src/linearizability/kv.rs:10:5"), "tests");
        assert_eq!(
            at("/w/target/mutants/src/kvraft/src/server.rs:3:1"),
            "kvraft"
        );
        assert_eq!(at("labraft/src/tests/x.rs:3:1"), "labraft");
        assert_eq!(at("/rustc/abc/library/core/src/option.rs:2:3"), "other");
        assert_eq!(
            at("/home/u/.cargo/registry/src/x/serde-1/src/de.rs:2:3"),
            "other"
        );
    }
}
