// handout: omit-file
// (It reads the instructors' README and counts, which the handout trims.)
//! The test counts the README and the part pages state are the suites' own:
//! every count is checked against the tests the suites' binaries list
//! (`--list`, as `cargo test -- --list` prints them), so adding a test
//! without saying so fails here, naming the file, the line and both counts;
//! and `cargo test <part>` selects that part's tests and no other.

use std::collections::BTreeMap;
use std::fs;

use labtools::grading::POINTS_PER_TEST;
use labtools::suite::{self, Part};

/// Every test of the suites, as their binaries list them.
fn all_tests() -> Vec<suite::Test> {
    let root = suite::this_checkout();
    suite::build_and_list(&root, None, suite::Linking::Reuse, &[]).expect("the suites build")
}

/// The suites' tests per part: (the course's, the suites' own beyond them).
fn listed() -> BTreeMap<Part, (usize, usize)> {
    let tests = all_tests();
    let mut counts: BTreeMap<Part, (usize, usize)> =
        Part::ALL.iter().map(|&part| (part, (0, 0))).collect();
    for test in &tests {
        let Some(part) = test.part() else { continue };
        let count = counts.get_mut(&part).expect("every part is counted");
        if test.path.starts_with("beyond::") {
            count.1 += 1;
        } else {
            count.0 += 1;
        }
    }
    counts
}

/// A number as the docs write it: a word up to twenty, digits past.
fn parse_number(text: &str) -> Option<usize> {
    const WORDS: [&str; 21] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    let lower = text.to_ascii_lowercase();
    WORDS
        .iter()
        .position(|&w| w == lower)
        .or_else(|| text.parse().ok())
}

/// Every line of `file` (relative to the checkout) with its number.
fn lines(file: &str) -> Vec<(usize, String)> {
    let path = suite::this_checkout().join(file);
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.to_owned()))
        .collect()
}

/// The word just before `marker` on a line that has it, with the line's
/// number, for each such line.
fn numbers_before(file: &str, marker: &str) -> Vec<(usize, Option<usize>)> {
    lines(file)
        .into_iter()
        .filter_map(|(n, line)| {
            let before = &line[..line.find(marker)?];
            let word = before
                .trim_end()
                .rsplit(|c: char| c.is_whitespace() || c == '(' || c == '-')
                .next()
                .unwrap_or("");
            Some((n, parse_number(word)))
        })
        .collect()
}

struct Mismatches(Vec<String>);

impl Mismatches {
    fn expect(&mut self, file: &str, line: usize, what: &str, says: Option<usize>, is: usize) {
        if says != Some(is) {
            let says = says.map_or("no number".to_owned(), |n| n.to_string());
            self.0.push(format!(
                "{file}:{line}: {what}: it says {says}, the suites have {is}"
            ));
        }
    }

    /// Fails when `found` is empty: the sentence the check reads is gone.
    fn require_found<T>(&mut self, file: &str, what: &str, found: &[T]) {
        if found.is_empty() {
            self.0.push(format!(
                "{file}: no sentence states {what} (this check reads it; update the check with \
                 the docs)"
            ));
        }
    }
}

fn total(counts: &BTreeMap<Part, (usize, usize)>) -> (usize, usize) {
    counts
        .values()
        .fold((0, 0), |(c, b), &(course, beyond)| (c + course, b + beyond))
}

#[test]
fn the_readme_and_the_part_pages_count_the_tests_there_are() {
    let counts = listed();
    let (course, beyond) = total(&counts);
    let all = course + beyond;
    assert!(all > 0, "the suites list no test");
    let mut wrong = Mismatches(Vec::new());

    // README: "(66 tests: the course's 51 and 15 of their own)".
    let summary: Vec<_> = lines("README.md")
        .into_iter()
        .filter_map(|(n, line)| {
            let at = line.find(" tests: the course's ")?;
            let before = line[..at].rsplit('(').next()?.to_owned();
            let after = &line[at + " tests: the course's ".len()..];
            let mut words = after.split_whitespace();
            let course = words.next().and_then(parse_number);
            let _and = words.next();
            let beyond = words.next().and_then(parse_number);
            Some((n, parse_number(&before), course, beyond))
        })
        .collect();
    wrong.require_found("README.md", "the number of tests", &summary);
    for (n, says_all, says_course, says_beyond) in summary {
        wrong.expect("README.md", n, "tests in all", says_all, all);
        wrong.expect("README.md", n, "the course's tests", says_course, course);
        wrong.expect("README.md", n, "the suites' own tests", says_beyond, beyond);
    }

    // README: "points (330 in all)".
    let points = numbers_before("README.md", " in all)");
    wrong.require_found("README.md", "the points in all", &points);
    for (n, says) in points {
        let is = (all as f64 * POINTS_PER_TEST) as usize;
        wrong.expect("README.md", n, "points in all", says, is);
    }

    // README: "Fifteen tests of the suites' own"; docs/labs.md: "Fifteen
    // tests of their own".
    for (file, marker) in [
        ("README.md", " tests of the suites' own"),
        ("docs/labs.md", " tests of their own"),
    ] {
        let found = numbers_before(file, marker);
        wrong.require_found(file, "the number of the suites' own tests", &found);
        for (n, says) in found {
            wrong.expect(file, n, "the suites' own tests", says, beyond);
        }
    }

    // docs/labs.md: each part's row, "| 3 + 5 |" or "| 14 |".
    for (&part, &(course, beyond)) in &counts {
        // README: "cargo test 2b   # part 2B: 12 tests (10 + 2)", or with
        // "(3 of the course's, 5 beyond it)", or no split for a part with
        // none of its own.
        let marker = format!("# part {part}: ");
        let found: Vec<_> = lines("README.md")
            .into_iter()
            .filter_map(|(n, line)| {
                let rest = &line[line.find(&marker)? + marker.len()..];
                let (all, split) = rest.split_once(" tests")?;
                let numbers: Vec<usize> = split
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|w| w.parse().ok())
                    .collect();
                Some((n, parse_number(all), numbers))
            })
            .collect();
        wrong.require_found(
            "README.md",
            &format!("part {part}'s number of tests"),
            &found,
        );
        for (n, says, split) in found {
            wrong.expect(
                "README.md",
                n,
                &format!("{part}'s tests"),
                says,
                course + beyond,
            );
            let (says_course, says_beyond) = match split.as_slice() {
                [c, b] => (Some(*c), Some(*b)),
                _ => (Some(course), Some(0)),
            };
            wrong.expect(
                "README.md",
                n,
                &format!("{part}'s course tests"),
                says_course,
                course,
            );
            wrong.expect(
                "README.md",
                n,
                &format!("{part}'s own tests"),
                says_beyond,
                beyond,
            );
        }

        let link = format!("| [{part}]({}.md) |", part.name());
        let rows: Vec<_> = lines("docs/labs.md")
            .into_iter()
            .filter(|(_, line)| line.starts_with(&link))
            .collect();
        wrong.require_found("docs/labs.md", &format!("part {part}'s row"), &rows);
        for (n, row) in rows {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            // "", part, what it asks, tests, run, "".
            let tests = cells.get(3).copied().unwrap_or("");
            let (says_course, says_beyond) = match tests.split_once(" + ") {
                Some((c, b)) => (parse_number(c), parse_number(b)),
                None => (parse_number(tests), Some(0)),
            };
            wrong.expect(
                "docs/labs.md",
                n,
                &format!("{part}'s course tests"),
                says_course,
                course,
            );
            wrong.expect(
                "docs/labs.md",
                n,
                &format!("{part}'s own tests"),
                says_beyond,
                beyond,
            );
        }

        // docs/2b.md: "`cargo test 2b`: twelve tests." (or "runs twelve
        // tests").
        let page = format!("docs/{}.md", part.name());
        let command = format!("`cargo test {}`", part.name());
        let found: Vec<_> = numbers_before(&page, " tests")
            .into_iter()
            .filter(|&(n, _)| lines(&page)[n - 1].1.starts_with(&command))
            .collect();
        wrong.require_found(&page, "the part's number of tests", &found);
        for (n, says) in found {
            wrong.expect(&page, n, &format!("{part}'s tests"), says, course + beyond);
        }
    }

    assert!(
        wrong.0.is_empty(),
        "test counts in the docs differ from the suites' (`cargo test -p tests -- --list`):\n{}",
        wrong.0.join("\n")
    );
}

#[test]
fn numbers_read_as_the_docs_write_them() {
    assert_eq!(parse_number("Fifteen"), Some(15));
    assert_eq!(parse_number("twelve"), Some(12));
    assert_eq!(parse_number("66"), Some(66));
    assert_eq!(parse_number("many"), None);
}

/// `cargo test 2a` picks the tests whose path contains `2a`: that must be
/// exactly part 2A's, or a student running one part runs bits of another.
#[test]
fn each_parts_filter_selects_that_part_alone() {
    let wrong = filter_mismatches(&all_tests());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_test_another_parts_filter_picks_is_found() {
    let test = |path: &str| suite::Test {
        path: path.to_owned(),
        binary: "raft".into(),
        target: "raft".into(),
        package_dir: ".".into(),
        integration: true,
    };
    assert!(filter_mismatches(&[test("part_2b::basic_agree_2b")]).is_empty());
    assert_eq!(
        filter_mismatches(&[test("part_2b::after_2a_comes_2b")]),
        ["`cargo test 2a` selects part_2b::after_2a_comes_2b (part 2B)"]
    );
}

/// Each (part, test) where the part's filter and the test's part disagree.
fn filter_mismatches(tests: &[suite::Test]) -> Vec<String> {
    let mut wrong = Vec::new();
    for part in Part::ALL {
        for test in tests {
            let selected = test.path.contains(part.name());
            if selected != (test.part() == Some(part)) {
                wrong.push(format!(
                    "`cargo test {}` {} {} (part {})",
                    part.name(),
                    if selected { "selects" } else { "misses" },
                    test.path,
                    test.part().map_or("none".to_owned(), |p| p.to_string())
                ));
            }
        }
    }
    wrong
}
