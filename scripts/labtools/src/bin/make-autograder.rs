//! `scripts/make-autograder OUT.zip`: writes a Gradescope autograder bundle.
//! See the README's "Grading on Gradescope".

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Parser;
use labtools::suite::Part;
use labtools::{handout, suite, tree};
use zip::write::SimpleFileOptions;

/// Writes the zip Gradescope's autograder expects: `setup.sh` (installs the
/// pinned Rust toolchain and builds the framework once), `run_autograder`
/// (grades /autograder/submission into /autograder/results/results.json),
/// `autograder.conf` (the toolchain and the grader's options) and `lab/`,
/// the students' handout with the grader. The reference solution is not in
/// it: submissions are graded against the handout's framework and suites.
#[derive(Parser)]
#[command(name = "scripts/make-autograder")]
struct Args {
    /// The zip to write.
    out: PathBuf,
    /// Simulation seeds per test.
    #[arg(long, default_value_t = 10)]
    seeds: u32,
    /// Real-time runs per test.
    #[arg(long = "real-runs", default_value_t = 1)]
    real_runs: u32,
    /// Grade only these parts (comma-separated, e.g. 2a,2b; default: all).
    #[arg(long, value_delimiter = ',')]
    parts: Vec<Part>,
    /// The user the tests run as (must exist in the image; empty: root).
    #[arg(long, default_value = "nobody")]
    run_as: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match make(&args) {
        Ok(files) => {
            eprintln!(
                "make-autograder: wrote {} ({files} files). Upload it as the assignment's \
                 autograder; the README's \"Grading on Gradescope\" says which machine to pick.",
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("make-autograder: {message}");
            ExitCode::from(2)
        }
    }
}

fn make(args: &Args) -> Result<usize, String> {
    if args
        .run_as
        .contains(|c: char| !(c.is_ascii_alphanumeric() || "-_".contains(c)))
    {
        return Err(format!("--run-as {:?} is not a user name", args.run_as));
    }
    let this = suite::this_checkout();
    let staging = std::env::temp_dir().join(format!("make-autograder-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    let result = stage(args, &this, &staging).and_then(|()| zip_dir(&staging, &args.out));
    let _ = fs::remove_dir_all(&staging);
    result
}

/// Lays the bundle out in `staging`.
fn stage(args: &Args, this: &Path, staging: &Path) -> Result<(), String> {
    eprintln!("make-autograder: writing the handout");
    handout::write(this, &staging.join("lab"))?;
    for script in ["setup.sh", "run_autograder"] {
        tree::copy(&this.join("scripts/autograder"), staging, Path::new(script))?;
    }
    let mut grade_args = format!("--seeds {} --real-runs {}", args.seeds, args.real_runs);
    if !args.parts.is_empty() {
        let names: Vec<&str> = args.parts.iter().map(|p| p.name()).collect();
        grade_args.push_str(&format!(" --parts {}", names.join(",")));
    }
    let conf = format!(
        "# Written by scripts/make-autograder; read by setup.sh and run_autograder.\n\
         # The Rust toolchain setup.sh installs (the one the bundle was made with).\n\
         TOOLCHAIN={toolchain}\n\
         # The grader's options (scripts/grade --help); the environment may override them.\n\
         : \"${{GRADE_ARGS:={grade_args}}}\"\n\
         # The user the tests run as (the graded copy is read-only to it); empty: root.\n\
         : \"${{RUN_AS={run_as}}}\"\n",
        toolchain = toolchain()?,
        run_as = args.run_as,
    );
    fs::write(staging.join("autograder.conf"), conf)
        .map_err(|e| format!("cannot write autograder.conf: {e}"))
}

/// The version of the Rust toolchain in use (`1.95.0`).
fn toolchain() -> Result<String, String> {
    let output = Command::new("rustc")
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run rustc --version: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .nth(1)
        .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .ok_or_else(|| format!("cannot read a version in rustc's {text:?}"))
}

/// Zips every file under `dir` into `out`, keeping executables executable.
fn zip_dir(dir: &Path, out: &Path) -> Result<usize, String> {
    let files = tree::files(dir, &[])?;
    let file =
        fs::File::create(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    for relative in &files {
        let path = dir.join(relative);
        let bytes = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                .permissions()
                .mode()
        };
        let options = SimpleFileOptions::default().unix_permissions(if mode & 0o111 != 0 {
            0o755
        } else {
            0o644
        });
        let name = relative
            .to_str()
            .ok_or_else(|| format!("{} is not a UTF-8 path", relative.display()))?;
        zip.start_file(name, options)
            .and_then(|()| zip.write_all(&bytes).map_err(Into::into))
            .map_err(|e| format!("cannot add {name} to {}: {e}", out.display()))?;
    }
    zip.finish()
        .map_err(|e| format!("cannot finish {}: {e}", out.display()))?;
    Ok(files.len())
}
