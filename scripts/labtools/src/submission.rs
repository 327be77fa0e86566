//! What the grader takes from a submission, and what it refuses.
//!
//! A submission is untrusted code. The grader builds a copy made of the
//! instructor's tree (the root manifest and lockfile, `labrpc`, `tests`,
//! `scripts`, the student crates' manifests and lint rules) with only the
//! Rust sources of the student crates ([`STUDENT_CRATES`]: `kvsrv/src/`,
//! `labraft/src/`, `rsm/src/`, `kvraft/src/`, `shardkv/src/`) taken from the
//! submission. Everything else the submission carries is
//! either ignored (a changed test, script or framework file: the
//! instructor's is used, and the student is told) or, when it could only be
//! there to change the build or escape the copy, refused outright with a
//! message naming the file: a build script, a proc-macro crate, `[patch]` or
//! `[replace]`, a path, git or unlisted dependency, a `.cargo/` directory, a
//! toolchain file, a symbolic link or special file, a file in a student
//! crate outside `src/`, a source that reads files at build time
//! ([`crate::scan`]), or sources over [`MAX_SOURCE_BYTES`].
//!
//! The student crates' dependencies are the instructor's: a submission's
//! manifest may list only dependencies the instructor's manifest of that
//! crate lists, declared the same way (the allow-list is that manifest).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::{scan, tree};

/// The crates a student writes; only their `src/` is taken.
pub const STUDENT_CRATES: [&str; 5] = ["kvsrv", "labraft", "rsm", "kvraft", "shardkv"];

/// The most Rust source a submission may hold, in bytes (the reference is
/// about a tenth of it).
pub const MAX_SOURCE_BYTES: u64 = 2 << 20;

/// Top-level entries of a checkout that are never part of a graded copy.
const NEVER_COPIED: [&str; 2] = [".git", "target"];

/// A submission that passed inspection.
#[derive(Debug)]
pub struct Submission {
    /// The directory holding its student crates.
    pub root: PathBuf,
    /// The files taken from it, relative to `root`, all under a student
    /// crate's `src/`.
    pub sources: Vec<PathBuf>,
    /// Files it changed or added outside the student crates' sources; the
    /// graded copy has the instructor's (or none).
    pub replaced: Vec<PathBuf>,
}

impl Submission {
    /// One line for the student about the files the grader did not take,
    /// if any.
    pub fn replaced_notice(&self) -> Option<String> {
        if self.replaced.is_empty() {
            return None;
        }
        let shown: Vec<String> = self
            .replaced
            .iter()
            .take(8)
            .map(|p| p.display().to_string())
            .collect();
        let more = match self.replaced.len().saturating_sub(shown.len()) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        Some(format!(
            "not graded: only {} are taken from a submission; \
             the instructor's files were used instead of these changed or added ones: {}{more}",
            sources_named(),
            shown.join(", ")
        ))
    }
}

/// Inspects the submission at `path` against the instructor's checkout.
///
/// # Errors
/// Every reason to refuse it, each naming the file (a file that cannot be
/// read is a reason too).
pub fn inspect(path: &Path, instructor: &Path) -> Result<Submission, Vec<String>> {
    let root = find_root(path).map_err(|why| vec![why])?;
    let mut inspection = Inspection {
        root: root.clone(),
        instructor: instructor.to_owned(),
        refusals: Vec::new(),
        sources: Vec::new(),
        replaced: Vec::new(),
        source_bytes: 0,
    };
    inspection.walk(Path::new(""));
    for name in STUDENT_CRATES {
        if !root.join(name).join("src").is_dir() {
            inspection.refusals.push(format!(
                "{name}/src/: missing; a submission needs every student crate ({})",
                crates_named()
            ));
        }
    }
    if inspection.source_bytes > MAX_SOURCE_BYTES {
        inspection.refusals.push(format!(
            "{} hold {} bytes; the limit is {MAX_SOURCE_BYTES}",
            sources_named(),
            inspection.source_bytes
        ));
    }
    if inspection.refusals.is_empty() {
        Ok(Submission {
            root,
            sources: inspection.sources,
            replaced: inspection.replaced,
        })
    } else {
        Err(inspection.refusals)
    }
}

/// The student crates' directories, for messages: `kvsrv/, labraft/, …, kvraft/ and shardkv/`.
fn crates_named() -> String {
    listed(&STUDENT_CRATES.map(|c| format!("{c}/")))
}

/// Their sources, for messages: `kvsrv/src/, labraft/src/, …, kvraft/src/ and shardkv/src/`.
fn sources_named() -> String {
    listed(&STUDENT_CRATES.map(|c| format!("{c}/src/")))
}

/// `a, b and c`.
fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The directory of `path` holding the student crates: `path` itself, or
/// its one subdirectory (as an unpacked archive often has).
fn find_root(path: &Path) -> Result<PathBuf, String> {
    let has_crates = |dir: &Path| STUDENT_CRATES.iter().any(|c| dir.join(c).is_dir());
    if has_crates(path) {
        return Ok(path.to_owned());
    }
    let entries = fs::read_dir(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let candidates: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.is_symlink() && has_crates(p))
        .collect();
    match &candidates[..] {
        [one] => Ok(one.clone()),
        _ => Err(format!(
            "{}: no {} at its top (or in one directory below it); \
             submit your checkout (or those directories)",
            path.display(),
            crates_named()
        )),
    }
}

struct Inspection {
    root: PathBuf,
    instructor: PathBuf,
    refusals: Vec<String>,
    sources: Vec<PathBuf>,
    replaced: Vec<PathBuf>,
    source_bytes: u64,
}

impl Inspection {
    fn refuse(&mut self, path: &Path, why: impl std::fmt::Display) {
        self.refusals.push(format!("{}: {why}", path.display()));
    }

    fn walk(&mut self, dir: &Path) {
        let full = self.root.join(dir);
        let entries =
            match fs::read_dir(&full).and_then(|entries| entries.collect::<Result<Vec<_>, _>>()) {
                Ok(mut entries) => {
                    entries.sort_by_key(|e| e.file_name());
                    entries
                }
                Err(e) => return self.refuse(dir, format!("cannot read: {e}")),
            };
        for entry in entries {
            let name = entry.file_name();
            let relative = dir.join(&name);
            let top_level = dir.as_os_str().is_empty();
            if name == ".git" || (top_level && name == "target") {
                continue;
            }
            let kind = match fs::symlink_metadata(entry.path()) {
                Ok(meta) => meta.file_type(),
                Err(e) => {
                    self.refuse(&relative, format!("cannot read: {e}"));
                    continue;
                }
            };
            if kind.is_symlink() {
                self.refuse(
                    &relative,
                    "a symbolic link; a submission holds regular files only",
                );
            } else if kind.is_dir() {
                if name == ".cargo" {
                    self.refuse(
                        &relative,
                        "cargo configuration is not allowed: it could change how the suites \
                         are built and run",
                    );
                } else {
                    self.walk(&relative);
                }
            } else if kind.is_file() {
                self.file(&relative);
            } else {
                self.refuse(&relative, "not a regular file");
            }
        }
    }

    fn file(&mut self, relative: &Path) {
        let name = relative.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let crate_dir = STUDENT_CRATES.into_iter().find(|c| relative.starts_with(c));
        if name == "rust-toolchain" || name == "rust-toolchain.toml" {
            return self.refuse(
                relative,
                "a toolchain file is not allowed; the grader builds with the instructor's toolchain",
            );
        }
        if name == "build.rs" {
            return self.refuse(relative, "build scripts are not allowed");
        }
        if name == "Cargo.toml" {
            self.manifest(relative, crate_dir);
        }
        match crate_dir {
            Some(c) if relative.starts_with(Path::new(c).join("src")) => self.source(relative),
            Some(c)
                if relative == Path::new(c).join("Cargo.toml")
                    || relative == Path::new(c).join("clippy.toml") =>
            {
                self.compare_with_instructor(relative);
            }
            Some(c) => self.refuse(
                relative,
                format!("only {c}/src/ is graded; a file elsewhere in {c}/ is not allowed"),
            ),
            None => self.compare_with_instructor(relative),
        }
    }

    fn source(&mut self, relative: &Path) {
        let path = self.root.join(relative);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => return self.refuse(relative, format!("cannot read: {e}")),
        };
        self.source_bytes += bytes.len() as u64;
        if relative.extension().is_some_and(|e| e == "rs") {
            let text = String::from_utf8_lossy(&bytes);
            for (line, what) in scan::build_time_reads(&text) {
                self.refusals.push(format!(
                    "{}:{line}: {what} reads a file at build time; graded code may not",
                    relative.display()
                ));
            }
        }
        self.sources.push(relative.to_owned());
    }

    fn compare_with_instructor(&mut self, relative: &Path) {
        let same = match (
            fs::read(self.root.join(relative)),
            fs::read(self.instructor.join(relative)),
        ) {
            (Ok(ours), Ok(theirs)) => ours == theirs,
            _ => false,
        };
        // Documentation cannot matter to a build (and a handout's README
        // differs from the instructor's): not worth a notice.
        let documentation = relative.extension().is_some_and(|e| e == "md");
        if !same && !documentation {
            self.replaced.push(relative.to_owned());
        }
    }

    fn manifest(&mut self, relative: &Path, crate_dir: Option<&str>) {
        let text = match fs::read_to_string(self.root.join(relative)) {
            Ok(text) => text,
            Err(e) => return self.refuse(relative, format!("cannot read: {e}")),
        };
        let manifest: toml::Table = match text.parse() {
            Ok(manifest) => manifest,
            Err(e) => return self.refuse(relative, format!("not a valid manifest: {e}")),
        };
        for key in ["patch", "replace"] {
            if manifest.contains_key(key) {
                self.refuse(
                    relative,
                    format!(
                        "[{key}] is not allowed: the graded build uses the instructor's dependencies"
                    ),
                );
            }
        }
        let Some(crate_dir) = crate_dir else {
            return;
        };
        if relative != Path::new(crate_dir).join("Cargo.toml") {
            return;
        }
        let package = manifest.get("package").and_then(|p| p.as_table());
        if package
            .and_then(|p| p.get("build"))
            .is_some_and(|b| b.as_bool() != Some(false))
        {
            self.refuse(relative, "a build script (package.build) is not allowed");
        }
        if manifest
            .get("lib")
            .and_then(|l| l.get("proc-macro"))
            .is_some_and(|p| p.as_bool() == Some(true))
        {
            self.refuse(relative, "a proc-macro crate is not allowed");
        }
        let allowed = self.allowed_dependencies(crate_dir);
        for (table, name, spec) in dependencies(&manifest) {
            let declared_in = |key: &str| spec.get(key).is_some();
            if table.contains("build-dependencies") {
                self.refuse(
                    relative,
                    format!("[{table}] `{name}`: build dependencies are not allowed"),
                );
            } else if declared_in("path") || declared_in("git") {
                self.refuse(
                    relative,
                    format!(
                        "dependency `{name}` comes from a path or git; only the registry's, \
                         as the instructor's manifest lists them, are allowed"
                    ),
                );
            } else {
                match allowed.iter().find(|(allowed, _)| *allowed == name) {
                    None => {
                        let names: BTreeSet<&str> =
                            allowed.iter().map(|(n, _)| n.as_str()).collect();
                        self.refuse(
                            relative,
                            format!(
                                "dependency `{name}` is not on the allow-list ({}); the graded \
                                 build uses the instructor's manifest",
                                names.into_iter().collect::<Vec<_>>().join(", ")
                            ),
                        );
                    }
                    Some((_, allowed_spec)) if *allowed_spec != spec => self.refuse(
                        relative,
                        format!(
                            "dependency `{name}` must be declared as in the instructor's \
                             manifest (`{name} = {allowed_spec}`), not as `{name} = {spec}`"
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
    }

    /// The dependencies the instructor's manifest of `crate_dir` lists (all
    /// kinds), with their declarations.
    fn allowed_dependencies(&self, crate_dir: &str) -> Vec<(String, toml::Value)> {
        let path = self.instructor.join(crate_dir).join("Cargo.toml");
        let manifest: toml::Table = fs::read_to_string(&path)
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or_default();
        dependencies(&manifest)
            .into_iter()
            .map(|(_, name, spec)| (name, spec))
            .collect()
    }
}

/// Every dependency a manifest declares: its table (`dependencies`,
/// `target.'cfg(unix)'.dev-dependencies`, …), its name and declaration.
fn dependencies(manifest: &toml::Table) -> Vec<(String, String, toml::Value)> {
    const KINDS: [&str; 4] = [
        "dependencies",
        "dev-dependencies",
        "build-dependencies",
        "build_dependencies",
    ];
    let mut found = Vec::new();
    let mut tables: Vec<(String, &toml::Table)> = Vec::new();
    for kind in KINDS {
        if let Some(table) = manifest.get(kind).and_then(|t| t.as_table()) {
            tables.push((kind.to_owned(), table));
        }
    }
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        for (cfg, target) in targets {
            for kind in KINDS {
                if let Some(table) = target.get(kind).and_then(|t| t.as_table()) {
                    tables.push((format!("target.{cfg}.{kind}"), table));
                }
            }
        }
    }
    for (name, table) in tables {
        for (dep, spec) in table {
            found.push((name.clone(), dep.clone(), spec.clone()));
        }
    }
    found
}

/// Makes `dest` the graded copy: the instructor's checkout with the
/// submission's sources in place of the student crates' `src/`. Files
/// already there with the right contents are left alone (so a build
/// directory `dest/target` kept between gradings rebuilds only what
/// changed); any other file is removed.
///
/// # Errors
/// When a file cannot be read, written or removed; the message names it.
pub fn write_graded_copy(
    submission: &Submission,
    instructor: &Path,
    dest: &Path,
) -> Result<(), String> {
    let student_src: Vec<PathBuf> = STUDENT_CRATES
        .iter()
        .map(|c| Path::new(c).join("src"))
        .collect();
    let mut planned: Vec<(PathBuf, PathBuf)> = tree::files(instructor, &NEVER_COPIED)?
        .into_iter()
        .filter(|f| !student_src.iter().any(|src| f.starts_with(src)))
        .map(|f| (instructor.join(&f), f))
        .collect();
    planned.extend(
        submission
            .sources
            .iter()
            .map(|f| (submission.root.join(f), f.clone())),
    );
    let keep: BTreeSet<&Path> = planned.iter().map(|(_, f)| f.as_path()).collect();
    if dest.exists() {
        for existing in tree::files(dest, &NEVER_COPIED)? {
            if !keep.contains(existing.as_path()) {
                let path = dest.join(&existing);
                fs::remove_file(&path)
                    .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            }
        }
    }
    for (source, relative) in &planned {
        let bytes =
            fs::read(source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        let target = dest.join(relative);
        if fs::read(&target).is_ok_and(|existing| existing == bytes) {
            continue;
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        fs::write(&target, bytes).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory with `files` (path, contents) written in it.
    fn tree_of(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("labtools-submission-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for (file, text) in files {
            let path = root.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        root
    }

    const MANIFEST: &str = "[package]\nname = \"labraft\"\n\n[dependencies]\n\
                            labrpc.workspace = true\nlog = \"0.4\"\n";

    /// The instructor's tree, for the test `name`.
    fn instructor(name: &str) -> PathBuf {
        tree_of(
            &format!("instructor-{name}"),
            &[
                ("Cargo.toml", "[workspace]\n"),
                ("kvsrv/Cargo.toml", "[package]\nname = \"kvsrv\"\n"),
                ("kvsrv/src/lib.rs", "// reference\n"),
                ("labraft/Cargo.toml", MANIFEST),
                ("labraft/src/lib.rs", "// reference\n"),
                ("rsm/Cargo.toml", "[package]\nname = \"rsm\"\n"),
                ("rsm/src/lib.rs", "// reference\n"),
                ("kvraft/Cargo.toml", "[package]\nname = \"kvraft\"\n"),
                ("kvraft/src/lib.rs", "// reference\n"),
                ("shardkv/Cargo.toml", "[package]\nname = \"shardkv\"\n"),
                ("shardkv/src/lib.rs", "// reference\n"),
                ("tests/src/lib.rs", "// the suites\n"),
            ],
        )
    }

    #[test]
    fn an_honest_submission_gives_its_sources_and_is_told_what_was_not_taken() {
        let theirs = instructor("honest");
        let ours = tree_of(
            "honest",
            &[
                ("lab/Cargo.toml", "[workspace]\n"),
                ("lab/labraft/Cargo.toml", MANIFEST),
                ("lab/labraft/src/lib.rs", "// mine\n"),
                ("lab/labraft/src/core/log.rs", "// mine too\n"),
                ("lab/kvraft/src/lib.rs", "// mine\n"),
                ("lab/kvsrv/src/lib.rs", "// mine\n"),
                ("lab/rsm/src/lib.rs", "// mine\n"),
                ("lab/shardkv/src/lib.rs", "// mine\n"),
                ("lab/tests/src/lib.rs", "// tests that pass anything\n"),
                ("lab/README.md", "notes\n"),
                ("lab/target/debug/junk", "ignored\n"),
            ],
        );
        let submission = inspect(&ours, &theirs).expect("accepted");
        assert_eq!(submission.root, ours.join("lab"), "found one level down");
        assert_eq!(
            submission.sources,
            [
                "kvraft/src/lib.rs",
                "kvsrv/src/lib.rs",
                "labraft/src/core/log.rs",
                "labraft/src/lib.rs",
                "rsm/src/lib.rs",
                "shardkv/src/lib.rs",
            ]
            .map(PathBuf::from)
        );
        assert_eq!(submission.replaced, [PathBuf::from("tests/src/lib.rs")]);
        assert!(
            submission
                .replaced_notice()
                .unwrap()
                .contains("tests/src/lib.rs")
        );

        let copy = ours.join("graded");
        fs::create_dir_all(copy.join("stale")).unwrap();
        fs::write(copy.join("stale/file"), "from an earlier grading").unwrap();
        write_graded_copy(&submission, &theirs, &copy).unwrap();
        let read = |f: &str| fs::read_to_string(copy.join(f)).unwrap();
        assert_eq!(read("labraft/src/lib.rs"), "// mine\n");
        assert_eq!(read("labraft/src/core/log.rs"), "// mine too\n");
        assert_eq!(read("tests/src/lib.rs"), "// the suites\n");
        assert_eq!(read("labraft/Cargo.toml"), MANIFEST);
        assert!(!copy.join("stale/file").exists(), "stale files are removed");
        fs::remove_dir_all(&ours).unwrap();
        fs::remove_dir_all(&theirs).unwrap();
    }

    #[test]
    fn every_way_to_change_the_build_is_refused_by_name() {
        let theirs = instructor("cheat");
        let ours = tree_of(
            "cheat",
            &[
                ("Cargo.toml", "[workspace]\n[replace]\n\"log:0.4.0\" = { path = \"x\" }\n"),
                ("rust-toolchain.toml", "[toolchain]\n"),
                ("tests/.cargo/config.toml", "[build]\n"),
                ("labraft/Cargo.toml", &format!(
                    "{MANIFEST}libc = \"0.2\"\nevil = {{ path = \"../evil\" }}\nlog = \"0.4.1\"\n\
                     [build-dependencies]\ncc = \"1\"\n[package.metadata]\n"
                ).replace("log = \"0.4\"\n", "")),
                ("labraft/build.rs", "fn main() {}\n"),
                ("labraft/tests/extra.rs", "\n"),
                ("labraft/src/lib.rs", "// fine\n#[path = \"/etc/x.rs\"]\nmod x;\n"),
                ("kvraft/src/lib.rs", "const A: &str = include_str!(\"/etc/passwd\");\n"),
                ("kvsrv/src/lib.rs", "// fine\n"),
                ("rsm/src/lib.rs", "// fine\n"),
                ("shardkv/src/lib.rs", "// fine\n"),
            ],
        );
        std::os::unix::fs::symlink("/etc/passwd", ours.join("kvraft/src/link.rs")).unwrap();
        let refusals = inspect(&ours, &theirs).expect_err("refused");
        let expected = [
            "Cargo.toml: [replace] is not allowed",
            "rust-toolchain.toml: a toolchain file is not allowed",
            "tests/.cargo: cargo configuration is not allowed",
            "labraft/Cargo.toml: dependency `libc` is not on the allow-list (labrpc, log)",
            "labraft/Cargo.toml: dependency `evil` comes from a path or git",
            "labraft/Cargo.toml: dependency `log` must be declared as in the instructor's manifest",
            "labraft/Cargo.toml: [build-dependencies] `cc`: build dependencies are not allowed",
            "labraft/build.rs: build scripts are not allowed",
            "labraft/tests/extra.rs: only labraft/src/ is graded",
            "labraft/src/lib.rs:2: `#[path = ...]` reads a file at build time",
            "kvraft/src/lib.rs:1: `include_str` reads a file at build time",
            "kvraft/src/link.rs: a symbolic link",
        ];
        for want in expected {
            assert!(
                refusals.iter().any(|r| r.starts_with(want)),
                "no refusal {want:?} in:\n{}",
                refusals.join("\n")
            );
        }
        assert_eq!(refusals.len(), expected.len(), "{}", refusals.join("\n"));
        fs::remove_dir_all(&ours).unwrap();
        fs::remove_dir_all(&theirs).unwrap();
    }

    #[test]
    fn a_submission_needs_every_crate_and_a_bounded_size() {
        let theirs = instructor("partial");
        let ours = tree_of(
            "partial",
            &[(
                "labraft/src/lib.rs",
                &"x".repeat(MAX_SOURCE_BYTES as usize + 1),
            )],
        );
        let refusals = inspect(&ours, &theirs).expect_err("refused");
        assert!(
            refusals[0].starts_with("kvsrv/src/: missing"),
            "{refusals:?}"
        );
        assert!(refusals[1].starts_with("rsm/src/: missing"), "{refusals:?}");
        assert!(
            refusals[2].starts_with("kvraft/src/: missing"),
            "{refusals:?}"
        );
        assert!(
            refusals[3].starts_with("shardkv/src/: missing"),
            "{refusals:?}"
        );
        assert!(refusals[4].contains("the limit is"), "{refusals:?}");
        let nothing = tree_of("nothing", &[("notes.txt", "")]);
        let refusals = inspect(&nothing, &theirs).expect_err("refused");
        assert!(
            refusals[0].contains("no kvsrv/, labraft/, rsm/, kvraft/ and shardkv/"),
            "{refusals:?}"
        );
        for dir in [ours, nothing, theirs] {
            fs::remove_dir_all(dir).unwrap();
        }
    }
}
