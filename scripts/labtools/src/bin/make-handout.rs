//! `scripts/make-handout OUTDIR`: writes the student tree. See
//! [`labtools::handout`] for the markers it reads.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use labtools::submission::STUDENT_CRATES;
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

fn main() -> ExitCode {
    let args = Args::parse();
    match handout::write(&suite::this_checkout(), &args.outdir) {
        Ok(count) => {
            eprintln!(
                "make-handout: wrote {count} files to {}; {} are stubs.\n\
                 Try it: cd {} && cargo test 2a",
                args.outdir.display(),
                STUDENT_CRATES.join(", "),
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
