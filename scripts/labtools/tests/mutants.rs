// handout: omit-file
// (The catalogue patches the reference solution, which the handout does not
// have.)
//! The catalogue of planted bugs (`mutants/`) reads, and every mutant in it
//! applies to the reference as it is now: a change to the reference that
//! breaks one fails here, in seconds, not in the middle of a long run of
//! `scripts/mutants`.

use std::fs;

use labtools::mutants::{self, CATALOGUE};
use labtools::{edit, suite, tree};

#[test]
fn every_mutant_applies_to_the_reference() {
    let root = suite::this_checkout();
    let catalogue = mutants::catalogue(&root.join(CATALOGUE)).unwrap();
    assert!(
        catalogue.len() >= 30,
        "the catalogue has {} mutants",
        catalogue.len()
    );
    let dir = root.join("target/mutants-apply");
    let _ = fs::remove_dir_all(&dir);
    let mut failures = Vec::new();
    for mutant in &catalogue {
        for file in mutant.edit.iter().map(|e| &e.file) {
            tree::copy(&root, &dir, file).unwrap();
        }
        if let Err(e) = edit::apply(&dir, &mutant.edit) {
            failures.push(format!("{}: {e}", mutant.name));
        }
    }
    let _ = fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_part_has_mutants() {
    let catalogue = mutants::catalogue(&suite::this_checkout().join(CATALOGUE)).unwrap();
    for part in suite::Part::ALL {
        assert!(
            catalogue.iter().any(|m| m.part == part),
            "no mutant of part {part}"
        );
    }
}
