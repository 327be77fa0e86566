//! `scripts/make-handout OUTDIR`: writes the student tree. See
//! [`labtools::handout`] for the markers it reads.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use labtools::{handout, suite, tree};

/// Writes the students' tree to OUTDIR: the framework, the suites, the
/// scripts and the docs as they are, and labraft and kvraft reduced to their
/// public API, each function a stub that names the part asking for it.
#[derive(Parser)]
#[command(name = "scripts/make-handout")]
struct Args {
    /// Where to write the handout; must not exist, or be empty.
    outdir: PathBuf,
}

/// Top-level entries that stay with the instructors (build directories are
/// never copied).
const INSTRUCTORS_ONLY: [&str; 2] = [".git", ".ci"];
/// The crates whose Rust sources carry handout markers; everything else is
/// copied as it is, except the top-level README.md.
const REDUCED: [&str; 2] = ["labraft", "kvraft"];

fn main() -> ExitCode {
    let args = Args::parse();
    match make(&suite::this_checkout(), &args.outdir) {
        Ok(count) => {
            eprintln!(
                "make-handout: wrote {count} files to {}; labraft and kvraft are stubs.\n\
                 Try it: cd {} && cargo test 2a",
                args.outdir.display(),
                args.outdir.display()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("make-handout: {message}");
            ExitCode::from(2)
        }
    }
}

fn make(root: &Path, out: &Path) -> Result<usize, String> {
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
        let path = root.join(relative);
        let shown = relative.display().to_string();
        let reduced = relative
            .components()
            .next()
            .is_some_and(|c| REDUCED.iter().any(|r| c.as_os_str() == *r));
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("rs") if reduced => {
                let source = read(&path)?;
                if handout::omitted(&source) {
                    continue;
                }
                handout::rust(&source).map_err(|e| format!("{shown}: {e}"))?
            }
            Some("md") if relative == Path::new("README.md") => {
                handout::markdown(&read(&path)?).map_err(|e| format!("{shown}: {e}"))?
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
