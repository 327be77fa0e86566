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
use labrpc::record::Failure;

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

/// The workspace member whose source raised `failure` (`tests`,
/// `labraft`, `kvraft`, `labrpc`), or `other` (the standard library, a
/// dependency). A panic raised in `tests` is one of the suites' checks;
/// one raised in `labrpc` is the simulator's report (a deadlock, a world
/// out of time); one raised in `labraft` or `kvraft` is the reference
/// solution's own (a bounds check, an `expect`), which a student's code
/// may or may not have.
pub fn raised_in(failure: &Failure) -> &'static str {
    let parts: Vec<&str> = failure.file().split(['/', '\\']).collect();
    parts
        .windows(2)
        .rev()
        .find_map(|pair| match pair {
            [member, "src" | "tests"] => MEMBERS.iter().find(|m| *m == member).copied(),
            _ => None,
        })
        .unwrap_or("other")
}

/// The workspace members a panic can be raised in.
const MEMBERS: [&str; 8] = [
    "tests", "kvsrv", "labraft", "rsm", "kvraft", "shardkv", "shardcfg", "labrpc",
];

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
    fn a_failure_is_placed_in_the_member_that_raised_it() {
        let at = |at: &str| {
            raised_in(&Failure {
                thread: "main".into(),
                at: at.into(),
                message: String::new(),
            })
        };
        assert_eq!(at("labraft/src/core/log.rs:88:9"), "labraft");
        assert_eq!(at("tests/tests/raft/beyond.rs:10:5"), "tests");
        assert_eq!(at("tests/src/linearizability/kv.rs:10:5"), "tests");
        assert_eq!(
            at("/w/target/mutants/src/kvraft/src/server.rs:3:1"),
            "kvraft"
        );
        assert_eq!(at("labraft/src/tests/x.rs:3:1"), "labraft");
        assert_eq!(at("labrpc/src/rt/sim/world.rs:300:17"), "labrpc");
        assert_eq!(at("/rustc/abc/library/core/src/option.rs:2:3"), "other");
        assert_eq!(
            at("/home/u/.cargo/registry/src/x/serde-1/src/de.rs:2:3"),
            "other"
        );
        assert_eq!(at(""), "other");
    }
}
