//! The lab's tools behind `scripts/`: the stress runner (`stress`), the
//! grader (`grade`), the handout generator (`make-handout`), the Gradescope
//! bundle (`make-autograder`), the planted-bug runner (`mutants`) and the log
//! viewer (`logs`). Each is a binary of this crate; the shell scripts of the
//! same names build and run them. The README says how to use each.

pub mod cargo;
pub mod edit;
pub mod gate;
pub mod grading;
pub mod handout;
pub mod logview;
pub mod mutants;
pub mod output;
pub mod scan;
pub mod submission;
pub mod suite;
pub mod tree;
