// handout: omit-file
// (It grades the reference solution, which the handout does not have.)
//! The Gradescope bundle end to end, in a directory laid out like
//! Gradescope's `/autograder` (`source/`, `submission/`, `results/`): the
//! bundle is made and unpacked, `setup.sh` runs, then `run_autograder`
//! grades three submissions on part 2A (one seed, one real-time run): the
//! reference (full marks), the handout (zero) and a cheat from the red-team
//! catalogue (zero, refused by name).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use labtools::grading::Results;
use labtools::submission::STUDENT_CRATES;
use labtools::{suite, tree};

/// A directory laid out like Gradescope's `/autograder`.
struct Autograder {
    root: PathBuf,
}

impl Autograder {
    /// Runs one of the bundle's scripts as Gradescope would, with the
    /// grading options of this test.
    fn run(&self, script: &str) -> (bool, String) {
        let output = Command::new(self.root.join("source").join(script))
            .env("AUTOGRADER_ROOT", &self.root)
            .env("GRADE_ARGS", "--parts 2a --seeds 1 --real-runs 1")
            // Gradescope has no build directory of ours: the bundle builds
            // in its own.
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("the script runs");
        (output.status.success(), common::printed(&output))
    }

    /// Makes `crates` (a checkout holding the student crates) the
    /// submission, grades it and returns the results file.
    fn grade(&self, crates: &Path, edit: impl FnOnce(&Path)) -> Results {
        let submission = self.root.join("submission");
        let _ = fs::remove_dir_all(&submission);
        for name in STUDENT_CRATES {
            for file in tree::files(&crates.join(name), &[]).unwrap() {
                tree::copy(&crates.join(name), &submission.join(name), &file).unwrap();
            }
        }
        edit(&submission);
        let (ok, printed) = self.run("run_autograder");
        assert!(ok, "run_autograder failed:\n{printed}");
        eprintln!("{printed}");
        if common::is_root() {
            assert!(
                !printed.contains("running them as root"),
                "as root, the tests run as an unprivileged user:\n{printed}"
            );
        }
        let text = fs::read_to_string(self.root.join("results/results.json")).unwrap_or_else(|e| {
            panic!("no results.json ({e}); run_autograder printed:\n{printed}")
        });
        serde_json::from_str(&text).expect("a results file")
    }
}

#[test]
fn the_gradescope_bundle_grades_the_reference_the_handout_and_a_cheat() {
    let this = suite::this_checkout();
    let root = this.join("target/autograder-test");
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root).unwrap();
    let zip = root.join("autograder.zip");
    let made = Command::new(env!("CARGO_BIN_EXE_make-autograder"))
        .arg(&zip)
        .output()
        .expect("make-autograder runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    // Gradescope unpacks the bundle into source/.
    let source = root.join("source");
    zip::ZipArchive::new(fs::File::open(&zip).unwrap())
        .unwrap()
        .extract(&source)
        .unwrap();
    for script in ["setup.sh", "run_autograder"] {
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(source.join(script))
                .unwrap()
                .permissions()
                .mode()
        };
        assert_ne!(mode & 0o111, 0, "{script} is executable in the bundle");
    }
    assert!(
        source.join("lab/labraft/src/raft.rs").is_file()
            && !fs::read_to_string(source.join("lab/labraft/src/raft.rs"))
                .unwrap()
                .contains("handout:"),
        "the bundle holds the handout, not the reference"
    );
    let autograder = Autograder { root };
    let (ok, printed) = autograder.run("setup.sh");
    assert!(ok, "setup.sh failed:\n{printed}");

    let reference = autograder.grade(&this, |_| {});
    // Part 2A: the course's 3 tests and the suites' own 5.
    assert_eq!(
        (reference.score, reference.tests.len()),
        (40.0, 8),
        "the reference scores 40 of 40 on 2A:\n{}",
        reference.output
    );

    let handout = autograder.grade(&source.join("lab"), |_| {});
    assert_eq!(
        handout.score, 0.0,
        "the handout scores 0:\n{}",
        handout.output
    );
    assert_eq!(handout.tests.len(), 8);

    let cheat = autograder.grade(&source.join("lab"), |submission| {
        fs::write(submission.join("labraft/build.rs"), "fn main() {}\n").unwrap();
    });
    assert_eq!(cheat.score, 0.0);
    assert!(
        cheat
            .output
            .contains("labraft/build.rs: build scripts are not allowed"),
        "the cheat is refused by name:\n{}",
        cheat.output
    );
}
