//! `scripts/make-handout OUTDIR`: writes the student tree. See
//! [`labtools::handout`] for the markers it reads.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use labtools::{handout, suite};

/// Writes the students' tree to OUTDIR: the framework, the suites, the
/// scripts and the docs as they are, and labraft and kvraft reduced to their
/// public API, each function a stub that names the part asking for it.
#[derive(Parser)]
#[command(name = "scripts/make-handout")]
struct Args {
    /// Where to write the handout; must not exist, or be empty.
    outdir: PathBuf,
}

/// Top-level entries that stay with the instructors.
const INSTRUCTORS_ONLY: [&str; 3] = [".git", ".ci", "target"];
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
    copy_dir(root, root, out, &mut written)?;
    Ok(written)
}

fn copy_dir(root: &Path, dir: &Path, out: &Path, written: &mut usize) -> Result<(), String> {
    fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        let path = entry.path();
        if name_text == "target" || (dir == root && INSTRUCTORS_ONLY.contains(&&*name_text)) {
            continue;
        }
        let target = out.join(&name);
        if path.is_dir() {
            copy_dir(root, &path, &target, written)?;
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let shown = relative.display().to_string();
        let reduced = relative
            .components()
            .next()
            .is_some_and(|c| REDUCED.iter().any(|r| c.as_os_str() == *r));
        let extension = path.extension().and_then(|e| e.to_str());
        let transformed = match extension {
            Some("rs") if reduced => {
                let source = read(&path)?;
                if handout::omitted(&source) {
                    continue;
                }
                Some(handout::rust(&source).map_err(|e| format!("{shown}: {e}"))?)
            }
            Some("md") if relative == Path::new("README.md") => {
                Some(handout::markdown(&read(&path)?).map_err(|e| format!("{shown}: {e}"))?)
            }
            _ => None,
        };
        match transformed {
            Some(text) => {
                if text.contains("// handout:") || text.contains("<!-- handout:") {
                    return Err(format!("{shown}: a handout marker was left in the output"));
                }
                fs::write(&target, text)
            }
            None => fs::copy(&path, &target).map(|_| ()),
        }
        .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        *written += 1;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}
