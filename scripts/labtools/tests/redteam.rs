// handout: omit-file
// (It grades the reference solution, which the handout does not have.)
//! The red team: every cheating submission of `scripts/redteam/` scores 0
//! on the tests it attacks, with a message that says why, and the reference
//! solution graded as a submission still scores full marks. See
//! `scripts/redteam/README.md`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use labtools::grading::{Results, Status};
use labtools::{edit, handout, suite, tree};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cheat {
    description: String,
    base: Base,
    /// The part it is graded on (2A unless it says).
    #[serde(default = "part_2a")]
    parts: String,
    message: String,
    without_gate: Option<String>,
    /// What the grader must never say of it, graded either way.
    never_says: Option<String>,
    #[serde(default)]
    edit: Vec<edit::Edit>,
    #[serde(default)]
    write: Vec<Write>,
    #[serde(default)]
    symlink: Vec<Symlink>,
}

fn part_2a() -> String {
    "2a".to_owned()
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Base {
    Handout,
    Reference,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Write {
    file: PathBuf,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Symlink {
    file: PathBuf,
    target: String,
}

/// Gradings share one build directory, so they take turns.
static GRADING: Mutex<()> = Mutex::new(());

fn checkout() -> PathBuf {
    suite::this_checkout()
}

fn scratch() -> PathBuf {
    checkout().join("target/redteam")
}

/// A fresh copy of `base` at `dir`.
fn lay_out(base: Base, dir: &Path) {
    let _ = fs::remove_dir_all(dir);
    match base {
        Base::Handout => {
            handout::write(&checkout(), dir).expect("the handout is generated");
        }
        Base::Reference => {
            for file in tree::files(&checkout(), &[".git"]).unwrap() {
                tree::copy(&checkout(), dir, &file).unwrap();
            }
        }
    }
}

/// Lays out the cheat `name` as a submission; the path to it.
fn build_submission(name: &str, cheat: &Cheat) -> PathBuf {
    let dir = scratch().join("submissions").join(name);
    lay_out(cheat.base, &dir);
    edit::apply(&dir, &cheat.edit).unwrap_or_else(|e| panic!("{name}: {e}"));
    for write in &cheat.write {
        let path = dir.join(&write.file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &write.text).unwrap();
    }
    for link in &cheat.symlink {
        let path = dir.join(&link.file);
        let _ = fs::remove_file(&path);
        let target = link
            .target
            .replace("{checkout}", &checkout().display().to_string());
        std::os::unix::fs::symlink(target, &path).unwrap();
    }
    dir
}

/// A refused submission's results list every test it would have been
/// graded on, so it reads "0 of N points" with the real N, and a
/// submission that does not compile is reported as not building, with
/// the compiler's message, not as refused.
#[test]
fn nothing_run_is_zero_of_every_point_and_a_compile_error_is_no_refusal() {
    let (_, cheat) = cheats()
        .into_iter()
        .find(|(name, _)| name == "static-persister")
        .expect("the catalogue has it");
    let refused = grade(
        &build_submission("static-persister-count", &cheat),
        "static-persister-count",
        "2c",
        &[],
    );
    assert_eq!(refused.results.extra_data.status, Status::Refused);
    assert_eq!(refused.results.tests.len(), 13, "2C has 13 tests");
    assert!(
        refused.results.output.contains("0 of 65 points"),
        "{}",
        refused.results.output
    );

    let broken = scratch().join("submissions/does-not-compile");
    lay_out(Base::Reference, &broken);
    let raft = broken.join("labraft/src/raft.rs");
    let text = fs::read_to_string(&raft).unwrap();
    fs::write(
        &raft,
        format!("{text}\nfn broken() -> u8 {{ \"not a number\" }}\n"),
    )
    .unwrap();
    let graded = grade(&broken, "does-not-compile", "2a", &[]);
    assert_eq!(graded.results.extra_data.status, Status::DidNotBuild);
    assert!(
        graded.results.output.contains("does not build")
            && graded.results.output.contains("mismatched types")
            && !graded.results.output.contains("REFUSED"),
        "{}",
        graded.results.output
    );
    assert!(graded.results.output.contains("0 of 40 points"));
}

/// A submission that prints 2 GB in one test is graded on its merits: the
/// reference with a flood of output in one 2A test still scores full marks,
/// and the grader says it cut that test's output. (What the cut keeps,
/// `labtools::output`'s unit tests check; the verdict is in the run record,
/// not in the output.) See `scripts/redteam/output-flood/cheat.toml`.
#[test]
fn a_submission_printing_gigabytes_is_graded_on_its_merits() {
    let dir = checkout().join("scripts/redteam/output-flood");
    let text = fs::read_to_string(dir.join("cheat.toml")).unwrap();
    let flood: Cheat = toml::from_str(&text).expect("output-flood/cheat.toml");
    let submission = build_submission("output-flood", &flood);
    let graded = grade(&submission, "output-flood", &flood.parts, &[]);
    assert_eq!(
        (graded.code, graded.results.score),
        (Some(0), 40.0),
        "the flooding reference must still score 40 of 40 on 2A; the grader printed:\n{}",
        graded.printed
    );
    assert!(
        graded.printed.contains(&flood.message),
        "the grader never said {:?}:\n{}",
        flood.message,
        graded.printed
    );
}

/// What grading a submission gave: the exit code, everything the grader
/// printed and its results file.
struct Graded {
    code: Option<i32>,
    printed: String,
    results: Results,
}

impl Graded {
    /// Everything a student or instructor reads: the printed output and the
    /// results file's messages.
    fn text(&self) -> String {
        let mut text = self.printed.clone();
        text.push_str(&self.results.output);
        for test in &self.results.tests {
            text.push_str(&test.output);
        }
        text
    }
}

/// Grades `submission` on `parts` with one seed and no real time.
fn grade(submission: &Path, name: &str, parts: &str, extra: &[&str]) -> Graded {
    let _turn = GRADING.lock().unwrap_or_else(|e| e.into_inner());
    let json = scratch().join("results").join(format!("{name}.json"));
    let _ = fs::remove_file(&json);
    let output = Command::new(env!("CARGO_BIN_EXE_grade"))
        .args(["--parts", parts, "--seeds", "1", "--real-runs", "0"])
        .arg("--work-dir")
        .arg(scratch().join("work"))
        .arg("--json")
        .arg(&json)
        .args(extra)
        .arg(submission)
        .output()
        .expect("the grader runs");
    let printed = common::printed(&output);
    let text = fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!(
            "{name}: no results file {} ({e}); the grader printed:\n{printed}",
            json.display()
        )
    });
    Graded {
        code: output.status.code(),
        printed,
        results: serde_json::from_str(&text).expect("a results file"),
    }
}

/// Why `graded` is not a zero with `message`, if it is not.
fn not_a_zero(graded: &Graded, message: &str) -> Option<String> {
    if graded.code != Some(1) {
        return Some(format!("the grader exited with {:?}, not 1", graded.code));
    }
    if graded.results.score != 0.0 || graded.results.tests.iter().any(|t| t.score != 0.0) {
        return Some(format!("it scored {} points", graded.results.score));
    }
    if !graded.text().contains(message) {
        return Some(format!("the grader never said {message:?}"));
    }
    None
}

fn cheats() -> Vec<(String, Cheat)> {
    let dir = checkout().join("scripts/redteam");
    let mut cheats: Vec<(String, Cheat)> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("cheat.toml").is_file() && !p.ends_with("output-flood"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = fs::read_to_string(p.join("cheat.toml")).unwrap();
            let cheat = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}/cheat.toml: {e}"));
            (name, cheat)
        })
        .collect();
    cheats.sort_by(|a, b| a.0.cmp(&b.0));
    cheats
}

#[test]
fn the_catalogue_covers_the_attacks_it_must() {
    let names: Vec<String> = cheats().into_iter().map(|(n, _)| n).collect();
    for required in [
        "exit-zero",
        "fake-summary",
        "build-script",
        "patch-section",
        "cargo-runner",
        "symlink-out",
        "overwrite-binary",
        "unlisted-dependency",
        "static-persister",
        "static-persister-3b",
        "thread-local-persister",
        "leaked-thread-persister",
    ] {
        assert!(names.iter().any(|n| n == required), "no {required} cheat");
    }
}

#[test]
fn every_cheat_scores_zero_with_a_message_that_says_why() {
    let mut failures = Vec::new();
    for (name, cheat) in cheats() {
        let submission = build_submission(&name, &cheat);
        let mut gradings = vec![("", cheat.message.as_str())];
        if let Some(message) = &cheat.without_gate {
            gradings.push(("--no-static-gate", message.as_str()));
        }
        for (flag, message) in gradings {
            let extra: Vec<&str> = [flag].into_iter().filter(|f| !f.is_empty()).collect();
            let graded = grade(&submission, &format!("{name}{flag}"), &cheat.parts, &extra);
            let how = if flag.is_empty() {
                "graded"
            } else {
                "graded without the static gate"
            };
            let said = cheat
                .never_says
                .as_ref()
                .filter(|never| graded.text().contains(never.as_str()))
                .map(|never| format!("the grader said {never:?}"));
            match said.or_else(|| not_a_zero(&graded, message)) {
                None => eprintln!(
                    "{name} ({}), {how}: 0 points, {message:?}",
                    cheat.description
                ),
                Some(why) => failures.push(format!(
                    "{name} ({}), {how}: {why}; the grader printed:\n{}",
                    cheat.description, graded.printed
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_reference_as_a_submission_scores_full_marks() {
    let submission = scratch().join("submissions/reference");
    lay_out(Base::Reference, &submission);
    let graded = grade(&submission, "reference", "2a", &[]);
    assert_eq!(
        (
            graded.code,
            graded.results.score,
            graded.results.tests.len()
        ),
        // Part 2A: the course's 3 tests and the suites' own 5.
        (Some(0), 40.0, 8),
        "the reference must score 40 of 40 on 2A; the grader printed:\n{}",
        graded.printed
    );
}

/// As root, `--run-as nobody` makes the graded copy read-only to the code
/// under test: the binary-replacing cheat, let past the static gate, cannot
/// even remove the binary. (Not root: nothing to check, and it says so.)
#[test]
fn run_as_another_user_makes_the_build_read_only_to_the_tests() {
    if !common::is_root() {
        eprintln!("not root: --run-as cannot be tried here");
        return;
    }
    let (name, cheat) = cheats()
        .into_iter()
        .find(|(name, _)| name == "overwrite-binary")
        .expect("the catalogue has it");
    let submission = build_submission(&format!("{name}-as-nobody"), &cheat);
    let graded = grade(
        &submission,
        "overwrite-binary-as-nobody",
        "2a",
        &["--no-static-gate", "--run-as", "nobody"],
    );
    if let Some(why) = not_a_zero(&graded, "Permission denied") {
        panic!("{why}; the grader printed:\n{}", graded.printed);
    }
    assert!(
        !graded.text().contains("changed after the grader built it"),
        "the binary must be out of the tests' reach:\n{}",
        graded.printed
    );
}
