//! Scans of Rust sources for what clippy's lists cannot refuse, token by
//! token: identifiers only, outside comments, strings and character
//! literals, so a word in a comment or a string is no offence. Its
//! tokenizer ([`tokens`]) is also what the handout's stubs count braces
//! with.
//!
//! - [`build_time_reads`]: what reads files at build time (`include!`,
//!   `include_str!`, `include_bytes!`, `#[path = "..."]` on a module,
//!   `#[debugger_visualizer]`). A submission could otherwise compile any
//!   file the grader can read (the instructor's reference solution among
//!   them) into its own code. Clippy sees some of these and not others (an
//!   `include!` at item level passes it).
//! - [`process_wide_state`]: memory that outlives a peer's instance (a
//!   `static` that is not plain data, `thread_local!`). Everything runs in
//!   one process, so such memory survives a crash that only a separate
//!   process would wipe; clippy has no lint for a `static` item.

/// The identifiers that read a file wherever they appear. A macro can be
/// called through a `macro_rules!` fragment (`$m!(...)`), but its name is
/// still an identifier somewhere in the source.
const ALWAYS: [&str; 4] = [
    "include",
    "include_str",
    "include_bytes",
    "debugger_visualizer",
];

/// Each use of a build-time file read in `source`: its line (from 1) and
/// the construct.
pub fn build_time_reads(source: &str) -> Vec<(usize, String)> {
    let tokens = tokens(source);
    let mut found = Vec::new();
    // Depth of square brackets inside an attribute (`#[` or `#![`), 0
    // outside one.
    let mut attribute = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        let previous = |back: usize| i.checked_sub(back).map(|j| &tokens[j].text[..]);
        match &token.text[..] {
            "[" if attribute > 0 => attribute += 1,
            "[" if previous(1) == Some("#")
                || (previous(1) == Some("!") && previous(2) == Some("#")) =>
            {
                attribute = 1;
            }
            "]" if attribute > 0 => attribute -= 1,
            text if ALWAYS.contains(&text) => found.push((token.line, format!("`{text}`"))),
            "path" if attribute > 0 && tokens.get(i + 1).is_some_and(|next| next.text == "=") => {
                found.push((token.line, "`#[path = ...]`".to_owned()));
            }
            _ => {}
        }
    }
    found
}

/// The words a `static` item's type may be made of and still be plain
/// data: references to string slices, arrays, slices and tuples of
/// primitives (punctuation and array lengths aside). None of them can
/// change once the program runs, so such a static holds nothing an
/// instance could leave for the next one; any other type (an atomic, a
/// lock, a cell, a type alias that hides one) is refused without looking
/// further, which keeps the rule sound.
const PLAIN_DATA: [&str; 18] = [
    "str", "bool", "char", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f32", "f64", "&",
];

/// Punctuation a plain-data type may contain besides [`PLAIN_DATA`].
const PLAIN_PUNCTUATION: [&str; 6] = ["[", "]", ";", "(", ")", ","];

/// What to use instead of state that outlives an instance.
const INSTEAD: &str = "keep a peer's state in its instance, and what must survive a crash in \
                       the Persister (unique ids: labrpc::rt::rand::random)";

/// Each item in `source` that keeps memory beyond a peer's instance: its
/// line (from 1) and why it is refused. A `static` passes only as
/// `static NAME: TYPE = ...` with a plain-data type (`&str`, numbers, and
/// arrays, slices and tuples of them; a `const` says the same better);
/// `static mut` and `thread_local!` never do. A
/// `macro_rules!` body or call that spells `static` is refused too, as it
/// cannot be told apart from an item here.
pub fn process_wide_state(source: &str) -> Vec<(usize, String)> {
    let tokens = tokens(source);
    let mut found = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        match &token.text[..] {
            "thread_local" | "LocalKey" => found.push((
                token.line,
                format!(
                    "`{}` keeps state per thread, and a thread can outlive a crashed peer's \
                     instance; {INSTEAD}",
                    token.text
                ),
            )),
            "static" if !is_plain_static(&tokens[i + 1..]) => found.push((
                token.line,
                format!(
                    "a `static` item outlives every instance of a peer, so a crash does not wipe \
                     it (only a `static NAME: TYPE` of plain data, such as `&str`, numbers, or \
                     arrays and tuples of them, passes: a `const` is better still); {INSTEAD}"
                ),
            )),
            _ => {}
        }
    }
    found
}

/// Whether `after`, the tokens following `static`, read `NAME: TYPE =`
/// with a plain-data `TYPE`.
fn is_plain_static(after: &[Token]) -> bool {
    let [name, colon, rest @ ..] = after else {
        return false;
    };
    if name.text == "mut" || !name.text.starts_with(is_ident_start) || colon.text != ":" {
        return false;
    }
    let Some(end) = rest.iter().position(|t| t.text == "=") else {
        return false;
    };
    end > 0
        && rest[..end].iter().all(|t| {
            PLAIN_DATA.contains(&t.text.as_str()) || PLAIN_PUNCTUATION.contains(&t.text.as_str())
        })
}

/// A token that matters to the scans and to the handout's stubs: an
/// identifier (raw ones without their `r#`) or a punctuation character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Its text.
    pub text: String,
    /// Its line, from 1.
    pub line: usize,
}

/// The identifiers and punctuation of `source`; comments (nested block
/// comments included), string literals of every kind (raw, byte and C
/// strings too), character literals, numbers and lifetimes are skipped.
/// The one Rust tokenizer of the tools.
pub fn tokens(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            // Block comments nest.
            let mut depth = 0;
            loop {
                if i >= chars.len() {
                    break;
                } else if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
            }
        } else if let Some(end) = raw_string_end(&chars, i) {
            line += chars[i..end].iter().filter(|&&c| c == '\n').count();
            i = end;
        } else if c == '"' || ((c == 'b' || c == 'c') && at(i + 1) == '"') {
            i += if c == '"' { 1 } else { 2 };
            while i < chars.len() && chars[i] != '"' {
                line += usize::from(chars[i] == '\n');
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' || (c == 'b' && at(i + 1) == '\'') {
            let start = if c == '\'' { i + 1 } else { i + 2 };
            if at(start) == '\\' {
                // An escaped character: up to the closing quote.
                i = start + 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(start + 1) == '\'' {
                i = start + 2;
            } else {
                // A lifetime or a label: skip its name.
                i = start;
                while is_ident_char(at(i)) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() {
            while is_ident_char(at(i)) || (at(i) == '.' && at(i + 1).is_ascii_digit()) {
                i += 1;
            }
        } else if is_ident_start(c) {
            let mut start = i;
            if c == 'r' && at(i + 1) == '#' && is_ident_start(at(i + 2)) {
                start = i + 2;
            }
            i = start;
            while is_ident_char(at(i)) {
                i += 1;
            }
            tokens.push(Token {
                text: chars[start..i].iter().collect(),
                line,
            });
        } else {
            tokens.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}

/// Where the raw string literal starting at `i` (`r"…"`, `r#"…"#`,
/// `br#"…"#`, `cr"…"`) ends, if one starts there.
fn raw_string_end(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if matches!(chars.get(j), Some('b' | 'c')) {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|&&c| c == '#').count();
    j += hashes;
    if chars.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '"' && chars[j + 1..].iter().take(hashes).all(|&c| c == '#') {
            let end = j + 1 + hashes;
            if end <= chars.len() {
                return Some(end);
            }
        }
        j += 1;
    }
    Some(chars.len())
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(source: &str) -> Vec<(usize, String)> {
        build_time_reads(source)
    }

    #[test]
    fn finds_every_build_time_read() {
        let source = "include!(\"x.rs\");\n\
                      fn f() -> &'static str { include_str!(\"../../labraft/src/raft.rs\") }\n\
                      const B: &[u8] = core::include_bytes!(\"/etc/passwd\");\n\
                      #[path = \"/work/reference/raft.rs\"]\nmod stolen;\n\
                      #[cfg_attr(test, path = \"x.rs\")]\nmod other;\n\
                      macro_rules! m { ($i:ident) => { $i!(\"x\") } }\nconst C: &str = m!(r#include_str);\n\
                      #![debugger_visualizer(natvis_file = \"x\")]\n";
        let lines: Vec<usize> = found(source).iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 6, 9, 10]);
        assert_eq!(found(source)[3].1, "`#[path = ...]`");
    }

    #[test]
    fn words_in_comments_strings_and_names_are_no_offence() {
        let source = "// include!(\"x\") in a comment\n\
                      /* include_str! /* nested */ include_bytes! */\n\
                      /// Doc: #[path = \"x\"]\n\
                      fn include_all(path: &str) -> usize { path.len() }\n\
                      const S: &str = \"include!(\\\"x\\\")\";\n\
                      const R: &str = r#\"include_str!(\"x\") \"# ;\n\
                      const Q: char = '\"'; const E: char = '\\''; fn g<'a>(x: &'a str) -> &'a str { x }\n\
                      #[serde(rename = \"path\")]\nstruct P { path: u8 }\n\
                      fn h(x: Option<u8>) { let path = x; let _ = path; }\n";
        assert_eq!(found(source), Vec::<(usize, String)>::new());
    }

    #[test]
    fn process_wide_state_is_found_and_plain_data_passes() {
        let source = "static KEEP: OnceLock<Mutex<HashMap<u64, Vec<u8>>>> = OnceLock::new();\n\
                      static COUNT: AtomicU64 = AtomicU64::new(0);\n\
                      static mut RAW: u64 = 0;\n\
                      thread_local! { static T: RefCell<u8> = RefCell::new(0); }\n\
                      type Hidden = Mutex<u8>; static H: Hidden = Mutex::new(0);\n\
                      macro_rules! s { ($k:tt) => { $k X: Cell<u8> = Cell::new(0); } } s!(static);\n\
                      static NAMES: [&str; 3] = [\"a\", \"b\", \"c\"];\n\
                      static PAIRS: &[(u8, &str)] = &[(1, \"x\")];\n\
                      static EMPTY: &'static str = \"\";\n\
                      fn f(x: &'static str) -> Box<dyn Fn() + 'static> { todo!() }\n\
                      const C: &str = \"static thread_local\"; // static\n\
                      fn g(k: &'static std::thread::LocalKey<u8>) {}\n";
        let lines: Vec<usize> = process_wide_state(source)
            .iter()
            .map(|(line, _)| *line)
            .collect();
        // Line 4 twice: `thread_local` and the `static` inside it.
        assert_eq!(lines, [1, 2, 3, 4, 4, 5, 6, 12]);
        assert!(process_wide_state(source)[0].1.contains("Persister"));
    }

    /// Each `(file, line, why)` the scan finds in the student crates of
    /// the tree at `root`.
    fn scanned(root: &std::path::Path) -> Vec<String> {
        let mut found = Vec::new();
        for krate in crate::submission::STUDENT_CRATES {
            let src = root.join(krate).join("src");
            for file in crate::tree::files(&src, &[]).unwrap() {
                let text = std::fs::read_to_string(src.join(&file)).unwrap();
                for (line, why) in process_wide_state(&text) {
                    found.push(format!("{krate}/src/{}:{line}: {why}", file.display()));
                }
            }
        }
        found
    }

    #[test]
    fn the_reference_and_the_handout_keep_no_process_wide_state() {
        let root = crate::suite::this_checkout();
        assert_eq!(scanned(&root), Vec::<String>::new(), "the reference");
        let handout = root.join("target/scan-test-handout");
        let _ = std::fs::remove_dir_all(&handout);
        crate::handout::write(&root, &handout).unwrap();
        assert_eq!(scanned(&handout), Vec::<String>::new(), "the handout");
        let _ = std::fs::remove_dir_all(&handout);
    }

    #[test]
    fn lines_are_counted_across_strings_and_comments() {
        let source =
            "/* a\nb */ const S: &str = \"x\ny\";\nconst T: &str = r\"z\n\";\ninclude!(\"w\");\n";
        assert_eq!(found(source), [(6, "`include`".to_owned())]);
    }
}
