//! Turning a reference source file into its handout form
//! (`scripts/make-handout`).
//!
//! The reference sources carry markers, all in comments, so the reference
//! builds as it is:
//!
//! * `// handout: omit-file` in a Rust file's first lines (anywhere in the
//!   tree): the handout has no such file.
//! * `// handout: begin` … `// handout: end`: the handout drops the lines
//!   between. With `// handout: else` between them, the handout drops the
//!   lines from `begin` to `else` and keeps those from `else` to `end`
//!   uncommented (one `// ` removed from each): what students start from.
//! * `// handout: stub PART TEXT`, the first line of a function's body: the
//!   handout keeps the signature and replaces the body by a comment saying
//!   TEXT and a `todo!` naming PART and the function, so that a test that
//!   needs it fails at once saying what to write. The end of the body is
//!   found by counting the braces among the source's tokens
//!   ([`scan::tokens`]: outside comments, strings of every kind, raw ones
//!   included, and character literals).
//! * In Markdown, `<!-- handout: begin -->` … `<!-- handout: end -->` drops
//!   the lines between, and a line `<!-- handout: say TEXT -->` becomes
//!   TEXT.

use std::fmt;
use std::fs;
use std::path::Path;

use crate::{scan, tree};

/// A marker out of place: the file and the reference need fixing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerError {
    /// The line, from 1.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for MarkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for MarkerError {}

const MARKER: &str = "// handout:";

/// Whether a Rust file is left out of the handout (anywhere in the tree:
/// the grader's tests that need the reference carry the marker too).
pub fn omitted(source: &str) -> bool {
    source
        .lines()
        .take(5)
        .any(|line| line.trim() == "// handout: omit-file")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Region {
    Kept,
    Dropped,
    Else,
}

/// The handout form of a Rust source file.
///
/// # Errors
/// On a marker out of place: `else` or `end` without `begin`, a region not
/// closed, a stub outside a function, or an unknown marker.
pub fn rust(source: &str) -> Result<String, MarkerError> {
    let tokens = scan::tokens(source);
    let mut out = String::new();
    let mut region = Region::Kept;
    let mut region_start = 0;
    let mut signature = String::new();
    let mut in_signature = false;
    let mut impl_name = String::new();
    let mut lines = source.lines().enumerate().map(|(i, line)| (i + 1, line));
    while let Some((number, line)) = lines.next() {
        let error = |message: &str| MarkerError {
            line: number,
            message: message.to_owned(),
        };
        let trimmed = line.trim_start();
        if let Some(marker) = trimmed.strip_prefix(MARKER) {
            let marker = marker.trim();
            let (word, rest) = marker.split_once(' ').unwrap_or((marker, ""));
            match (word, region) {
                ("omit-file", _) => {}
                ("begin", Region::Kept) => {
                    region = Region::Dropped;
                    region_start = number;
                }
                ("else", Region::Dropped) => region = Region::Else,
                ("end", Region::Dropped | Region::Else) => region = Region::Kept,
                ("begin" | "else" | "end", _) => {
                    return Err(error(&format!("`{word}` out of place")));
                }
                ("stub", Region::Kept) => {
                    let (part, text) = rest.split_once(' ').unwrap_or((rest, ""));
                    if part.is_empty() {
                        return Err(error("a stub needs a part, e.g. `stub 2A what to do`"));
                    }
                    let (name, params) = parse_signature(&signature)
                        .ok_or_else(|| error("a stub must be the first line of a function body"))?;
                    let indent = &line[..line.len() - trimmed.len()];
                    if !text.is_empty() {
                        let comment = format!("Your code here ({part}): {text}");
                        for row in wrap(&comment, 96usize.saturating_sub(indent.len())) {
                            out.push_str(&format!("{indent}// {row}\n"));
                        }
                    }
                    match params.as_slice() {
                        [] => {}
                        [one] => out.push_str(&format!("{indent}let _ = {one};\n")),
                        many => {
                            out.push_str(&format!("{indent}let _ = ({});\n", many.join(", ")));
                        }
                    }
                    let owner = if impl_name.is_empty() {
                        name
                    } else {
                        format!("{impl_name}::{name}")
                    };
                    out.push_str(&format!("{indent}todo!(\"{part}: {owner}\")\n"));
                    let end = body_end(&tokens, number)
                        .ok_or_else(|| error("the function body never closes"))?;
                    lines.by_ref().take_while(|&(n, _)| n < end).for_each(drop);
                    let closing = indent.strip_suffix("    ").unwrap_or("");
                    out.push_str(&format!("{closing}}}\n"));
                    signature.clear();
                }
                _ => return Err(error(&format!("unknown or misplaced marker `{marker}`"))),
            }
            continue;
        }
        match region {
            Region::Dropped => continue,
            Region::Else => {
                out.push_str(&uncomment(line));
                out.push('\n');
                continue;
            }
            Region::Kept => {}
        }
        if let Some(rest) = trimmed.strip_prefix("impl") {
            impl_name = impl_target(rest);
        }
        if is_fn_line(trimmed) {
            in_signature = true;
            signature.clear();
        }
        if in_signature {
            signature.push_str(line);
            signature.push(' ');
            if trimmed.ends_with('{') || trimmed.ends_with(';') {
                in_signature = false;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    if region != Region::Kept {
        return Err(MarkerError {
            line: region_start,
            message: "`begin` without `end`".into(),
        });
    }
    Ok(collapse_blank_lines(&out))
}

/// Where dropped regions leave two blank lines in a row, one; and none
/// just before a closing brace.
fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines().peekable();
    let mut blank = false;
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            let closing = lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with('}'));
            if blank || closing {
                continue;
            }
            blank = true;
        } else {
            blank = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `text` in rows of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match rows.last_mut() {
            Some(row) if row.len() + 1 + word.len() <= width => {
                row.push(' ');
                row.push_str(word);
            }
            _ => rows.push(word.to_owned()),
        }
    }
    rows
}

/// The handout form of a Markdown file.
///
/// # Errors
/// On `begin` without `end` or the reverse.
pub fn markdown(source: &str) -> Result<String, MarkerError> {
    let mut out = String::new();
    let mut dropping: Option<usize> = None;
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        match trimmed {
            "<!-- handout: begin -->" if dropping.is_none() => dropping = Some(i + 1),
            "<!-- handout: end -->" if dropping.is_some() => dropping = None,
            "<!-- handout: begin -->" | "<!-- handout: end -->" => {
                return Err(MarkerError {
                    line: i + 1,
                    message: format!("`{trimmed}` out of place"),
                });
            }
            _ if dropping.is_some() => {}
            _ => {
                if let Some(text) = trimmed
                    .strip_prefix("<!-- handout: say ")
                    .and_then(|t| t.strip_suffix("-->"))
                {
                    out.push_str(text.trim_end());
                } else {
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
    }
    if let Some(line) = dropping {
        return Err(MarkerError {
            line,
            message: "`begin` without `end`".into(),
        });
    }
    Ok(out)
}

fn is_fn_line(trimmed: &str) -> bool {
    let mut rest = trimmed;
    for prefix in ["pub(crate) ", "pub ", "const ", "unsafe ", "extern "] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    rest.starts_with("fn ")
}

/// `Raft` from the rest of `impl Raft {` or `impl fmt::Display for Raft {`.
fn impl_target(rest: &str) -> String {
    let head = rest.trim().trim_end_matches('{').trim();
    let head = skip_generics(head);
    let head = head.rsplit(" for ").next().unwrap_or(head);
    head.split(['<', ' ']).next().unwrap_or("").to_owned()
}

/// `text` after the generic parameters it starts with (`<S: Trait<T>> Rsm<S>`
/// → `Rsm<S>`), or all of it if it starts with none.
fn skip_generics(text: &str) -> &str {
    if !text.starts_with('<') {
        return text;
    }
    let mut depth = 0;
    for (at, c) in text.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return text[at + 1..].trim_start();
                }
            }
            _ => {}
        }
    }
    text
}

/// The function's name and its parameters' names (not `self`), from its
/// signature.
fn parse_signature(signature: &str) -> Option<(String, Vec<String>)> {
    let after_fn = &signature[signature.find("fn ")? + 3..];
    let open = after_fn.find('(')?;
    let name = after_fn[..open].split('<').next()?.trim().to_owned();
    let mut depth = 0;
    let mut params = Vec::new();
    let mut current = String::new();
    for c in after_fn[open + 1..].chars() {
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' if depth == 0 => break,
            ')' | '>' | ']' => depth -= 1,
            ',' if depth == 0 => {
                params.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    params.push(current);
    let names = params
        .iter()
        .filter_map(|p| {
            let (pattern, _) = p.split_once(':')?;
            let pattern = pattern.trim().trim_start_matches("mut ").trim();
            (!pattern.starts_with('_') && !pattern.is_empty()).then(|| pattern.to_owned())
        })
        .collect();
    Some((name, names))
}

/// The line of the brace that closes a function body whose opening brace
/// came before line `after`: the first closing brace beyond `after` that
/// no opening brace beyond `after` pairs with.
fn body_end(tokens: &[scan::Token], after: usize) -> Option<usize> {
    let mut depth = 1usize;
    for token in tokens.iter().filter(|t| t.line > after) {
        match token.text.as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    return Some(token.line);
                }
            }
            _ => {}
        }
    }
    None
}

/// A line of an `else` region without its comment mark.
fn uncomment(line: &str) -> String {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    let text = trimmed
        .strip_prefix("// ")
        .or_else(|| trimmed.strip_prefix("//"))
        .unwrap_or(trimmed);
    if text.is_empty() {
        String::new()
    } else {
        format!("{indent}{text}")
    }
}

/// Top-level entries that stay with the instructors (build directories are
/// never copied): the catalogue of planted bugs among them, which patches
/// the reference solution.
const INSTRUCTORS_ONLY: [&str; 3] = [".git", ".ci", "mutants"];
/// Paths below the top that stay with the instructors: the red team's
/// cheating submissions (their test grades the reference) and the runner of
/// planted bugs (it plants them in the reference).
const INSTRUCTORS_ONLY_DIRS: [&str; 2] = ["scripts/redteam", "scripts/mutants"];
/// The crates whose Rust sources carry handout markers (the student crates);
/// everything else is copied as it is, except the top-level README.md.
const REDUCED: [&str; 5] = crate::submission::STUDENT_CRATES;

/// Writes the handout of the checkout at `root` into `out` (new or empty):
/// every file but the instructors' (`.git`, `.ci`), the student crates'
/// Rust files and the README reduced by their markers. Returns how many
/// files it wrote.
///
/// # Errors
/// When `out` is not empty, a file cannot be read or written, or a marker
/// is out of place; the message names the file.
pub fn write(root: &Path, out: &Path) -> Result<usize, String> {
    if out.exists() {
        let mut entries =
            fs::read_dir(out).map_err(|e| format!("cannot read {}: {e}", out.display()))?;
        if entries.next().is_some() {
            return Err(format!(
                "{} exists and is not empty; give a new directory",
                out.display()
            ));
        }
    }
    let mut written = 0;
    for relative in &tree::files(root, &INSTRUCTORS_ONLY)? {
        if INSTRUCTORS_ONLY_DIRS
            .iter()
            .any(|d| relative.starts_with(d))
        {
            continue;
        }
        let path = root.join(relative);
        let shown = relative.display().to_string();
        let reduced = relative
            .components()
            .next()
            .is_some_and(|c| REDUCED.iter().any(|r| c.as_os_str() == *r));
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("rs") => {
                let source = read(&path)?;
                if omitted(&source) {
                    continue;
                }
                if !reduced {
                    tree::copy(root, out, relative)?;
                    written += 1;
                    continue;
                }
                rust(&source).map_err(|e| format!("{shown}: {e}"))?
            }
            Some("md") if relative == Path::new("README.md") => {
                markdown(&read(&path)?).map_err(|e| format!("{shown}: {e}"))?
            }
            _ => {
                tree::copy(root, out, relative)?;
                written += 1;
                continue;
            }
        };
        if text.contains("// handout:") || text.contains("<!-- handout:") {
            return Err(format!("{shown}: a handout marker was left in the output"));
        }
        let target = out.join(relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        fs::write(&target, text).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        written += 1;
    }
    Ok(written)
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_dropped_or_replaced() {
        let source = "use a;\n// handout: begin\nuse b;\n// handout: end\nstruct S {\n    // handout: begin\n    x: u8,\n    // handout: else\n    // // Your state here.\n    //\n    // y: u8,\n    // handout: end\n}\n";
        assert_eq!(
            rust(source).unwrap(),
            "use a;\nstruct S {\n    // Your state here.\n\n    y: u8,\n}\n"
        );
    }

    #[test]
    fn stubs_replace_bodies_and_name_the_part() {
        let source = r#"impl Raft {
    /// Docs stay.
    pub fn start(
        &self,
        command: Vec<u8>,
        _unused: u8,
    ) -> Result<(Index, Term), NotLeader> {
        // handout: stub 2B propose the command.
        let x = "}";
        if true { let c = '}'; }
        x.len()
    }

    pub fn kill(&self) {
        // handout: stub 2A stop every thread.
        self.stop()
    }
}
"#;
        assert_eq!(
            rust(source).unwrap(),
            r#"impl Raft {
    /// Docs stay.
    pub fn start(
        &self,
        command: Vec<u8>,
        _unused: u8,
    ) -> Result<(Index, Term), NotLeader> {
        // Your code here (2B): propose the command.
        let _ = command;
        todo!("2B: Raft::start")
    }

    pub fn kill(&self) {
        // Your code here (2A): stop every thread.
        todo!("2A: Raft::kill")
    }
}
"#
        );
    }

    #[test]
    fn stubs_name_the_type_of_a_generic_impl() {
        for (head, owner) in [
            ("impl<S: StateMachine> Rsm<S> {", "Rsm::f"),
            ("impl<S: Trait<u8>> Clone for Rsm<S> {", "Rsm::f"),
            ("impl Lock<C> {", "Lock::f"),
        ] {
            let source =
                format!("{head}\n    fn f() {{\n        // handout: stub RSM x.\n    }}\n}}\n");
            let out = rust(&source).unwrap();
            assert!(out.contains(&format!("todo!(\"RSM: {owner}\")")), "{out}");
        }
    }

    #[test]
    fn long_stub_comments_wrap_and_blank_runs_collapse() {
        let text = "word ".repeat(40);
        let source = format!("fn f() {{\n    // handout: stub 2A {text}\n}}\n\n\n\nfn g() {{}}\n");
        let out = rust(&source).unwrap();
        assert!(out.lines().all(|l| l.len() <= 100), "{out}");
        assert!(
            out.lines().filter(|l| l.contains("// ")).count() > 1,
            "{out}"
        );
        assert!(out.contains("}\n\nfn g"), "{out}");
        assert!(!out.contains("\n\n\n"), "{out}");
        assert_eq!(
            rust("impl A {\n    fn a() {}\n\n}\n").unwrap(),
            "impl A {\n    fn a() {}\n}\n"
        );
    }

    #[test]
    fn misplaced_markers_are_errors_with_their_line() {
        for (source, line) in [
            ("a\n// handout: end\n", 2),
            ("// handout: begin\nx\n", 1),
            ("// handout: stub 2A x\n", 1),
            ("fn f() {\n    // handout: frobnicate\n}\n", 2),
            ("fn f() {\n    // handout: stub 2A x\n", 2),
        ] {
            assert_eq!(rust(source).unwrap_err().line, line, "{source:?}");
        }
    }

    #[test]
    fn omitted_files_say_so_at_the_top() {
        assert!(omitted("//! Core.\n\n// handout: omit-file\n"));
        assert!(!omitted("//! Core.\n"));
    }

    #[test]
    fn markdown_regions_and_notes() {
        let source = "# Title\n<!-- handout: begin -->\nInstructors only.\n<!-- handout: end -->\n<!-- handout: say Implement `labraft`. -->\nEnd.\n";
        assert_eq!(
            markdown(source).unwrap(),
            "# Title\nImplement `labraft`.\nEnd.\n"
        );
        assert!(markdown("<!-- handout: begin -->\n").is_err());
    }

    #[test]
    fn braces_in_literals_and_comments_do_not_count() {
        let source = r##"fn f<'a>(x: &'a str) {
    // handout: stub 2A write f
    let s = "{{"; // }
    let c = '{';
    let r = r#"}" }"#;
    /* } { */
    let q = '\'';
    if x.is_empty() { }
}

fn g() {}
"##;
        let out = rust(source).unwrap();
        assert!(out.contains("todo!(\"2A: f\")\n}\n\nfn g() {}"), "{out}");
        assert!(!out.contains("let s"), "{out}");
    }
}
